"""What this machine and kernel offer, answered once: where tracefs is, whether kprobes can attach, which probe
`--probe auto` picks, whether the kernel headers are this kernel's, and struct layouts from BTF.

Standard library only (no bcc), so that lesson 000 can ask before bcc works, and so can set-up, the benchmark,
the notes' demos and the tests. plumbing.py imports it for the lessons.

    python3 lessons/facts.py                    prints every answer, one per line
    python3 lessons/facts.py --headers-release  the release the kernel headers were made for ("unknown": none)
"""
import os
import platform
import pwd
import struct
import sys

# bcc reads tracefs where it is mounted: /sys/kernel/tracing (Linux 4.1+), or under debugfs (older set-ups, and
# bcc before 0.26, which only looks there). A fresh machine may have neither mounted (set-up mounts them).
TRACEFS = next((d for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing") if os.path.exists(d + "/trace_pipe")),
               None)
BTF = "/sys/kernel/btf/vmlinux"


def cache_dir():
    """Where the lessons keep what they build once (their C programs; the tests' notebooks): $XDG_CACHE_HOME/
    ebpf-lessons, else ~/.cache/ebpf-lessons of the user running (root's under sudo). Read at each call: a test
    may set XDG_CACHE_HOME."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(pwd.getpwuid(os.geteuid()).pw_dir, ".cache")
    return os.path.join(cache, "ebpf-lessons")


def kprobes_available():
    """bcc attaches a kprobe through the kprobe PMU or tracefs's kprobe_events; a kernel built without
    CONFIG_KPROBE_EVENTS (which needs CONFIG_KPROBES) has neither."""
    return os.path.exists("/sys/bus/event_source/devices/kprobe") or bool(TRACEFS) and os.path.exists(
        TRACEFS + "/kprobe_events")


def auto_probe():
    """What `--probe auto` attaches: the kprobe the lesson teaches where the kernel can attach one, else the
    tracepoint that sees the same events."""
    return "kprobe" if kprobes_available() else "tracepoint"


def headers_release(kernel=None):
    """(the kernel release the headers bcc compiles against were made for, or None; their folder). UTS_RELEASE in
    include/generated/utsrelease.h names it; Debian's include/config/kernel.release holds the upstream version
    instead (6.1.192 in the headers of 6.1.0-56-amd64), so it is only the second choice."""
    build = "/lib/modules/%s/build" % (kernel or platform.release())
    for name, read in (("include/generated/utsrelease.h", lambda text: text.split('"')[1]),
                       ("include/config/kernel.release", str.strip)):
        try:
            with open(os.path.join(build, name)) as f:
                return read(f.read()), build
        except (OSError, IndexError):
            pass
    return None, build


def headers_match(kernel=None):
    """Whether the headers are this very kernel's: struct layouts compiled from them are then right."""
    return headers_release(kernel)[0] == (kernel or platform.release())


# BTF kind -> (bytes of data after the 12-byte record, bytes per member); kinds not listed have none
BTF_DATA = {1: (4, 0), 3: (12, 0), 4: (0, 12), 5: (0, 12), 6: (0, 8), 13: (0, 8), 14: (4, 0), 15: (0, 12),
            17: (4, 0), 19: (0, 12)}


def btf_offsets(struct_name, *members, path=BTF):
    """{member: byte offset} in `struct_name` of the running kernel, read from its BTF (members of anonymous
    structs and unions included); None where the kernel has no BTF. LookupError when the struct or a member is
    not there (or the file has a BTF kind newer than this parser)."""
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:     # closed here: a file the garbage collector closes can swallow a Ctrl-C
        data = f.read()
    end = "<" if data[:2] == b"\x9f\xeb" else ">"                  # the magic 0xeB9F tells the byte order
    hdr_len, type_off, type_len, str_off = struct.unpack_from(end + "4I", data, 4)
    at, pos = [None], hdr_len + type_off                           # at[type id]: where its record starts
    while pos < hdr_len + type_off + type_len:
        at.append(pos)
        info = struct.unpack_from(end + "I", data, pos + 4)[0]
        if info >> 24 & 0x1F > 19:
            raise LookupError("%s: BTF kind %d is newer than this parser" % (path, info >> 24 & 0x1F))
        fixed, each = BTF_DATA.get(info >> 24 & 0x1F, (0, 0))
        pos += 12 + fixed + each * (info & 0xFFFF)

    def name(off):
        start = hdr_len + str_off + off
        return data[start:data.index(b"\0", start)].decode()

    def record(tid):   # -> kind, name, [(member name, type id, byte offset)]
        name_off, info = struct.unpack_from(end + "2I", data, at[tid])
        kind, vlen, bitfields = info >> 24 & 0x1F, info & 0xFFFF, info >> 31
        triples = struct.iter_unpack(end + "3I", data[at[tid] + 12:at[tid] + 12 + 12 * vlen]) if kind in (4, 5) else []
        return kind, name(name_off), [(name(n), t, (o & 0xFFFFFF if bitfields else o) // 8) for n, t, o in triples]

    def find(tid, want):   # an anonymous member ("") is a struct or union to look inside
        for m_name, m_type, offset in record(tid)[2]:
            inner = find(m_type, want) if m_name == "" and record(m_type)[0] in (4, 5) else None
            if m_name == want or inner is not None:
                return offset + (inner or 0)
        return None
    for tid in range(1, len(at)):
        if struct.unpack_from(end + "I", data, at[tid] + 4)[0] >> 24 & 0x1F == 4 and record(tid)[1] == struct_name:
            offsets = {m: find(tid, m) for m in members}
            if None in offsets.values():
                raise LookupError("struct %s in %s lacks %s" % (struct_name, path,
                                                                [m for m, o in offsets.items() if o is None]))
            return offsets
    raise LookupError("no struct %s in %s" % (struct_name, path))


if __name__ == "__main__":
    release, build = headers_release()
    if sys.argv[1:] == ["--headers-release"]:
        sys.exit(print(release or "unknown"))
    print("tracefs: %s" % (TRACEFS or "not mounted"))
    print("kprobes: %s (--probe auto attaches a %s)" % ("yes" if kprobes_available() else "no", auto_probe()))
    print("headers: %s, made for %s (%s)" % ("matching" if headers_match() else "NOT this kernel's", release, build))
    print("btf: %s" % ("yes" if os.path.exists(BTF) else "no"))
