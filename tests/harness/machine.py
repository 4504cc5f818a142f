"""What this machine and kernel offer, and what the tests read of the kernel's state: asked here and nowhere
else in the tests (capabilities, the shared trace buffer, BPF programs and probe events a process holds).
Every wait in the harness has a deadline that scales with LESSONS_TIME_SCALE (the kernel matrix sets it:
software emulation compiles BPF programs ten times slower than this host)."""
import ast
import contextlib
import ctypes
import errno
import functools
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]   # the repository: tests/harness/machine.py
LESSONS = ROOT / "lessons"
sys.path.insert(0, str(LESSONS))
import facts  # noqa: E402  (lessons/facts.py: where tracefs is, kprobes, headers, BTF; no bcc)
TIME_SCALE = float(os.environ.get("LESSONS_TIME_SCALE", "1"))
READY_TIMEOUT = 30 * TIME_SCALE     # compile + load + attach (0.5-2 s on the host)
EVENT_TIMEOUT = 10 * TIME_SCALE     # from the workload to the lesson's line
STOP_TIMEOUT = 5 * TIME_SCALE       # from the signal to the exit
NO_SKIP = os.environ.get("LESSONS_NO_SKIP") == "1"   # `make test`: a missing prerequisite fails, never skips


def let_ctrl_c_reach_children():
    """A process started with SIGINT ignored (a background job of a script: `nohup make test &`) passes the
    ignore on through exec, and Python then installs no KeyboardInterrupt handler: every lesson it started would
    shrug off Ctrl-C (and bpftrace, in the benchmark, SIGINT). Undo it in this process, so what it starts gets
    SIGINT's default, as from a terminal."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


MAKE_TEST_ONLY = ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "LESSONS_TIME_SCALE", "LESSONS_NO_SKIP")


def learner_env():
    """The environment of a learner's shell: without what make and `make test` set for the tests themselves, so
    that what a test starts as a learner would (make check, make report) waits as it does for them, unscaled."""
    return {k: v for k, v in os.environ.items() if k not in MAKE_TEST_ONLY}


# Every lesson prints these two kinds of line (lessons/plumbing.py run(): CONTRIBUTING.md, "A lesson script").
READY = re.compile(r"^Tracing .*Ctrl-C to end")
ATTACHED = re.compile(r"^attached: (?P<kind>kprobe|kretprobe|tracepoint|raw_tracepoint|fentry|uprobe) (?P<target>.+)$")
# and a lesson with a perf buffer this one at its end: the events the kernel dropped, any process's.
PERF_LOST = re.compile(r"^lost (\d+) events in total$")


# ---------------------------------------------------------------- capability detection
class Caps:
    """What this machine offers, by the cheapest reliable signal for each (CONTRIBUTING.md, "Platform facts")."""

    def __init__(self):
        self.kernel = os.uname().release
        self.root = os.geteuid() == 0
        try:
            import bcc
            self.bcc_version, self.bcc_error = getattr(bcc, "__version__", "?"), None
            if not hasattr(bcc, "BPF"):
                self.bcc_version, self.bcc_error = None, "the 'bcc' that imports is not BCC (PyPI's unrelated 'bcc'?)"
        except ImportError as e:
            self.bcc_version, self.bcc_error = None, "bcc does not import in %s: %s" % (sys.executable, e)
        self.tracefs = facts.TRACEFS            # the lessons' own answers (lessons/facts.py), asked once here
        self.kprobes = facts.kprobes_available()
        self.machine = os.uname().machine
        self.btf = os.path.exists(facts.BTF)
        self.headers_match = facts.headers_match()   # headers of this very kernel (lesson 008's fallback is right)

    def missing(self):
        """The first reason lessons cannot run here, or None."""
        if not self.root:
            return "lessons load BPF programs and need root: run `sudo make test`"
        if self.bcc_error:
            return self.bcc_error + " (install python3-bpfcc; `sudo make test` sets up .venv)"
        if not self.tracefs:
            return "tracefs is not mounted (no trace_pipe): `sudo make setup` mounts it"
        return None


CAPS = Caps()


def expected_auto_probe():
    """What `--probe auto` must choose here: the kprobe the seed teaches when the kernel has kprobes.
    The kernel-matrix lane states it (LESSONS_EXPECT_AUTO=kprobe) instead of trusting detection."""
    return os.environ.get("LESSONS_EXPECT_AUTO") or facts.auto_probe()


def has_syscalls(*names):
    """Which of these system calls this kernel and architecture have, from its syscalls tracepoints (arm64 has no
    chmod() and no open(): only fchmodat() and openat()). Written apart from the lessons' plumbing on purpose."""
    return [n for n in names if os.path.isdir("%s/events/syscalls/sys_enter_%s" % (CAPS.tracefs, n))]


# ---------------------------------------------------------------- the trace buffer
def clear_trace_buffer():
    """Empty the kernel's shared trace buffer, so lines left by earlier runs cannot be mistaken for ours."""
    with open(CAPS.tracefs + "/trace", "w"):
        pass


TRACE_LINE = re.compile(r"^\s*(?P<task>.+?)-(?P<pid>\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(?P<cpu>\d+)\]\s+(?P<flags>\S+)\s+"
                        r"(?P<ts>\d+\.\d+): (?P<sym>[^:]+): (?P<msg>.*)$")


def parse_trace_line(line):
    """A trace_pipe line as printed by trace_print() (which prints bytes as b'...') -> dict, or None."""
    if line.startswith(("b'", 'b"')):
        line = ast.literal_eval(line).decode("utf-8", "surrogateescape")
    m = TRACE_LINE.match(line)
    if not m:
        return None
    d = m.groupdict()
    d["pid"], d["cpu"], d["ts"] = int(d["pid"]), int(d["cpu"]), float(d["ts"])
    return d


def trace_buffer_lines():
    """The lines the shared trace buffer holds now, parsed (parse_trace_line), from tracefs `trace`: unlike
    trace_pipe it consumes nothing, and it opens while another program holds trace_pipe."""
    with open(CAPS.tracefs + "/trace", errors="surrogateescape") as f:
        return [d for d in map(parse_trace_line, f.read().splitlines()) if d]


def saved_cmdlines():
    """{pid: name} as the trace buffer remembers them (tracefs saved_cmdlines). A trace_pipe line's COMM is
    looked up here when the line is read: "<...>" for a pid with no entry yet, and, for a pid the kernel has
    just reused, the name of the process that had it before, until a context switch saves the new one."""
    with open(CAPS.tracefs + "/saved_cmdlines", errors="surrogateescape") as f:   # a name may be any bytes
        return {int(pid): name for pid, _, name in (line.rstrip("\n").partition(" ") for line in f) if pid.isdigit()}


def trace_comm_of(pid):
    """The name the trace buffer shows for pid (from saved_cmdlines), or None while it has not saved one:
    trace_pipe lines then show "<...>". The kernel saves a name at a context switch after the task's event."""
    return saved_cmdlines().get(pid)


def trace_comms_allowed(pid, comm, before):
    """What a trace_pipe line may show as COMM for an event of pid whose name is comm: comm, "<...>", or the
    name saved_cmdlines held for that pid in `before` (a saved_cmdlines() taken before the event)."""
    return {comm, "<...>"} | ({before[pid]} if pid in before else set())


@contextlib.contextmanager
def hold_trace_pipe():
    """Hold trace_pipe open, as another tool reading it would. Yields whether the kernel lets only one
    reader open it at a time (a second open gets EBUSY since Linux 6.5, and in the 5.10 and 6.1 stable
    series)."""
    path = CAPS.tracefs + "/trace_pipe"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        if e.errno != errno.EBUSY:
            raise
        fd = None             # someone else holds it already: it is busy all the same
    try:
        try:
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
            exclusive = False
        except OSError as e:
            if e.errno != errno.EBUSY:
                raise
            exclusive = True
        yield exclusive
    finally:
        if fd is not None:
            os.close(fd)


def write_trace_marker(text):
    """One line into the shared trace buffer, as any other program may write one (tracefs trace_marker)."""
    with open(CAPS.tracefs + "/trace_marker", "w") as f:
        f.write(text + "\n")


def trace_fence():
    """Write a unique line into the shared trace buffer and return it. Once a lesson has printed it, every line it
    prints with a later timestamp was written after this moment: stale lines from earlier runs have earlier ones."""
    tag = "fence-%d-%s" % (os.getpid(), os.urandom(4).hex())
    write_trace_marker(tag)
    return tag


def trace_buffer_kb():
    """The size of each CPU's part of the trace buffer, in KiB (tracefs buffer_size_kb; 7 on the test host)."""
    with open(CAPS.tracefs + "/buffer_size_kb") as f:
        return int(f.read().split()[0])


@functools.lru_cache(maxsize=None)
def syscall_entry(name):
    """The kernel symbol of a syscall's entry point, as bcc's get_syscall_fnname finds it: __x64_sys_<name> on
    x86-64 since Linux 4.17 (the names a lesson prints after "attached: kprobe")."""
    with open("/proc/kallsyms") as f:
        symbols = {fields[2] for fields in map(str.split, f) if len(fields) >= 3}
    return next((p + name for p in ("__x64_sys_", "__arm64_sys_", "sys_") if p + name in symbols), None)


def own_comm():
    """This process's comm, as the kernel knows it (TASK_COMM_LEN: at most 15 bytes)."""
    with open("/proc/self/comm") as f:
        return f.read().rstrip("\n")


def btf_offsets_by_bpftool(struct_name, members):
    """{member: byte offset} of a struct in the running kernel, as `bpftool btf dump` reports it: a reading
    independent of any lesson's own BTF parser. None when bpftool or BTF is absent. Members of anonymous
    structs/unions are searched too."""
    tool = bpftool()
    if not (tool and CAPS.btf):
        return None
    raw = subprocess.run([tool, "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "raw"],
                         stdout=subprocess.PIPE, check=True, timeout=30).stdout.decode()
    types, current = {}, None     # id -> (kind, name, [(member, type id, bit offset)])
    for line in raw.splitlines():
        m = re.match(r"^\[(\d+)\] (\w+) '([^']*)'", line)
        if m:
            current = types[int(m.group(1))] = (m.group(2), m.group(3), [])
        elif current and line.startswith("\t'"):
            m = re.match(r"^\t'([^']*)' type_id=(\d+) bits_offset=(\d+)", line)
            if m:
                current[2].append((m.group(1), int(m.group(2)), int(m.group(3))))

    def find(tid, want, base):
        for name, mtype, bits in types[tid][2]:
            if name == want:
                return base + bits // 8
            if name == "(anon)" and types[mtype][0] in ("STRUCT", "UNION"):   # how bpftool shows no name
                found = find(mtype, want, base + bits // 8)
                if found is not None:
                    return found
        return None
    tid = next(t for t, (kind, name, ms) in types.items() if kind == "STRUCT" and name == struct_name and ms)
    return {m: find(tid, m, 0) for m in members}


def bcc_probe_events(pid):
    """The kprobe/uprobe events bcc created in tracefs for process pid (named ..._bcc_<pid>): the one kind of
    attachment that outlives a process (bcc uses them where the kernel has no kprobe/uprobe perf PMU)."""
    found = []
    for events in ("kprobe_events", "uprobe_events"):
        if CAPS.tracefs and os.path.exists(CAPS.tracefs + "/" + events):
            with open(CAPS.tracefs + "/" + events) as f:
                found += [line.strip() for line in f if "_bcc_%d " % pid in line]
    return found


SYSCALL_NR = {"x86_64": {"read": 0, "clone": 56, "bpf": 321},
              "aarch64": {"read": 63, "clone": 220, "bpf": 280}}.get(os.uname().machine, {})


def bpftool():
    """bpftool's path, or None: sbin may not be on a test's PATH, and some QEMU guests have no bpftool."""
    return shutil.which("bpftool") or next((p for p in ("/usr/sbin/bpftool", "/sbin/bpftool") if os.path.exists(p)), None)


def bpf_program_ids():
    """(the ids of every BPF program loaded in the kernel, how they were listed): `bpftool prog show`, or, where
    bpftool is absent (some QEMU guests), the bpf() command it uses, BPF_PROG_GET_NEXT_ID, called here."""
    tool = bpftool()
    if tool:
        out = subprocess.run([tool, "-j", "prog", "show"], stdout=subprocess.PIPE, check=True, timeout=30).stdout
        return {p["id"] for p in json.loads(out or b"[]")}, "bpftool prog show"
    libc, attr, ids = ctypes.CDLL(None, use_errno=True), (ctypes.c_uint32 * 4)(), set()   # start_id, next_id, ...
    while libc.syscall(SYSCALL_NR["bpf"], 11, attr, ctypes.sizeof(attr)) == 0:   # 11: BPF_PROG_GET_NEXT_ID
        ids.add(attr[1])
        attr[0] = attr[1]
    return ids, "bpf(BPF_PROG_GET_NEXT_ID)"


def holds_back(pid, sig, script):
    """Whether process pid is the lesson `script` holding signal sig back with its own hold (plumbing's
    pthread_sigmask), so that sig sent now waits for the lesson's handler.

    Blocked alone is not that sign: between Popen's fork (vfork on Python 3.13) and exec the child has every
    signal blocked, and a signal sent then stays pending through exec and kills the new Python before it has a
    handler (exit -2, no output: Debian 13, 10 of 40 starts). So: the process has exec'd the lesson (its
    cmdline names the script; read first, since exec happens once and the mask read after it is the lesson's),
    Python has installed its SIGINT handler (SigCgt), and sig is blocked (SigBlk)."""
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        if os.fsencode(str(script)) not in f.read().split(b"\0"):
            return False
    with open("/proc/%d/status" % pid) as f:
        masks = dict(line.split(":", 1) for line in f if line.startswith(("SigBlk:", "SigCgt:")))
    bit = 1 << (sig - 1)
    return bool(int(masks["SigBlk"], 16) & bit) and bool(int(masks["SigCgt"], 16) & (1 << (signal.SIGINT - 1)))


def bpf_objects_of(pid):
    """What process pid holds of BPF and tracing: programs, maps, perf events (attachments), trace_pipe, and
    the kprobe/uprobe events bcc names after its pid. Returns (descriptions, program ids)."""
    held, prog_ids = [], set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            info = open("/proc/%d/fdinfo/%s" % (pid, fd)).read()
        except OSError:
            continue
        if target.startswith("anon_inode:bpf") or target == "anon_inode:[perf_event]" or target.endswith("/trace_pipe"):
            held.append(target)
            prog_ids.update(int(m) for m in re.findall(r"^prog_id:\s*(\d+)", info, re.M))
    return sorted(held + bcc_probe_events(pid)), prog_ids


def programs_held():
    """The ids of the BPF programs that live processes hold open (their bpf-prog file descriptors)."""
    held = set()
    for fd_dir in glob.glob("/proc/[0-9]*/fd"):
        try:
            fds = os.listdir(fd_dir)
        except OSError:     # it exited meanwhile
            continue
        for fd in fds:
            try:
                if os.readlink("%s/%s" % (fd_dir, fd)) == "anon_inode:bpf-prog":
                    with open("%sinfo/%s" % (fd_dir, fd)) as f:
                        held.update(int(m) for m in re.findall(r"^prog_id:\s*(\d+)", f.read(), re.M))
            except OSError:
                pass
    return held


def programs_left(ids=None, loaded_before=None, timeout=STOP_TIMEOUT):
    """Wait (bounded: the kernel frees a program shortly after its last user) until none of `ids` is loaded, or,
    given `loaded_before` (the ids loaded earlier), until no program loaded since remains but those that live
    processes hold (another test's lesson running beside this one). Returns (the ids still loaded at the end,
    how the programs were listed)."""
    deadline = time.monotonic() + timeout
    while True:
        now, how = bpf_program_ids()
        still = now - set(loaded_before) - programs_held() if loaded_before is not None else now & set(ids or ())
        if not still or time.monotonic() > deadline:
            return still, how
        time.sleep(0.05)
