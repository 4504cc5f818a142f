#!/usr/bin/env python3
"""From a system call to the kernel functions behind it, on this kernel.

    sudo python3 notes/demos/syscall_functions.py

1. The name bcc gives each syscall's entry function (get_syscall_fnname), and whether /proc/kallsyms has it.
2. The functions the seed probes (do_sys_open, do_fchmodat) and do_sys_open's successor, do_sys_openat2: their
   kallsyms type (T global, t static) and their prototype from the kernel's BTF (`bpftool btf dump`).
3. Which syscall tracepoint fires when Python's open() and os.chmod() and coreutils' chmod run.
Evidence for notes/syscalls.md. Needs root, bcc, bpftool for part 2.
"""
import os
import platform
import re
import subprocess
import tempfile

from bcc import BPF

TRACEPOINTS = ["open", "openat", "openat2", "chmod", "fchmodat", "fchmodat2"]
PROGRAM = "BPF_ARRAY(hits, u64, %d);\n" % len(TRACEPOINTS) + "".join(r"""
TRACEPOINT_PROBE(syscalls, sys_enter_%s) {
    char comm[16];
    bpf_get_current_comm(&comm, sizeof(comm));
    if (bpf_get_current_pid_tgid() >> 32 == TGID ||
        (comm[0] == 'c' && comm[1] == 'h' && comm[2] == 'm' && comm[3] == 'o' && comm[4] == 'd' && !comm[5]))
        hits.increment(%d);
    return 0;
}
""" % (name, i) for i, name in enumerate(TRACEPOINTS))


def kallsyms():
    out = {}
    with open("/proc/kallsyms") as f:
        for line in f:
            _, kind, name = line.split()[:3]
            out.setdefault(name, kind)
    return out


def btf_prototypes(names):
    """name -> 'int name(int dfd, ...)' from bpftool's raw dump of /sys/kernel/btf/vmlinux."""
    raw = subprocess.run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "raw"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    types, protos, funcs, current = {}, {}, {}, None
    for line in raw:
        m = re.match(r"\[(\d+)\] (\w+) '([^']*)'(.*)", line)
        if m:
            tid, kind, name, rest = int(m.group(1)), m.group(2), m.group(3), m.group(4)
            types[tid] = (kind, name, rest)
            current = tid if kind == "FUNC_PROTO" else None
            if kind == "FUNC_PROTO":
                protos[tid] = []
            if kind == "FUNC" and name in names:
                funcs[name] = int(re.search(r"type_id=(\d+)", rest).group(1))
        elif current is not None:
            m = re.match(r"\s+'([^']*)' type_id=(\d+)", line)
            if m:
                protos[current].append((m.group(1), int(m.group(2))))

    def type_name(tid):
        if tid == 0:
            return "void"
        kind, name, rest = types[tid]
        if kind == "PTR":
            return type_name(int(re.search(r"type_id=(\d+)", rest).group(1))) + " *"
        if kind in ("CONST", "VOLATILE"):
            return kind.lower() + " " + type_name(int(re.search(r"type_id=(\d+)", rest).group(1)))
        if kind in ("RESTRICT", "TYPE_TAG"):
            return type_name(int(re.search(r"type_id=(\d+)", rest).group(1)))
        if kind in ("STRUCT", "UNION", "ENUM"):
            return kind.lower() + " " + name
        return name
    return {name: "%s(%s)" % (name, ", ".join("%s %s" % (type_name(t), n) for n, t in protos[tid]))
            for name, tid in funcs.items()}


def main():
    b = BPF(text=PROGRAM, cflags=["-DTGID=%d" % os.getpid()])
    syms = kallsyms()
    print("kernel %s, bcc %s" % (platform.release(), __import__("bcc").__version__))
    print("\n1. syscall -> bcc's get_syscall_fnname() -> in /proc/kallsyms?")
    for sc in ["open", "openat", "openat2", "chmod", "fchmodat", "clone", "execve"]:
        fn = b.get_syscall_fnname(sc).decode()
        print("   %-9s %-22s %s" % (sc, fn, "yes (%s)" % syms[fn] if fn in syms else "no"))
    print("\n2. the functions behind open() and chmod(): kallsyms type, and prototype from BTF")
    wanted = ["do_sys_open", "do_sys_openat2", "do_fchmodat"]
    protos = btf_prototypes(wanted)
    for fn in wanted:
        print("   %-15s %-4s %s" % (fn, syms.get(fn, "-"), protos.get(fn, "(not in BTF)")))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "f")
        print("\n3. which sys_enter_* tracepoints fire (count), for:")
        for label, action in [("Python open(path, 'w')", lambda: open(path, "w").close()),
                              ("Python os.chmod(path, 0o600)", lambda: os.chmod(path, 0o600)),
                              ("coreutils: chmod 600 path", lambda: subprocess.run(["chmod", "600", path], check=True))]:
            b["hits"].clear()
            action()
            fired = ["%s=%d" % (tp, b["hits"][i].value) for i, tp in enumerate(TRACEPOINTS) if b["hits"][i].value]
            print("   %-30s %s" % (label, " ".join(fired) or "none"))


if __name__ == "__main__":
    main()
