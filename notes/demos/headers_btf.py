#!/usr/bin/env python3
"""Kernel headers or BTF: where a program learns the layout of kernel structs, and what goes wrong when the
headers are for another kernel.

    sudo python3 notes/demos/headers_btf.py

1. Which kernel the headers bcc compiles against were made for (/lib/modules/$(uname -r)/build).
2. The byte offsets of task_struct.real_parent and .tgid: from those headers (offsetof, compiled by bcc) and
   from the running kernel's BTF (/sys/kernel/btf/vmlinux, read by lessons/facts.py as lesson 008 does).
3. This process's parent pid read in BPF (task->real_parent->tgid) at each pair of offsets, and os.getppid().
4. What bcc says when a program includes a vmlinux.h generated from BTF.
Evidence for notes/headers-btf.md. Needs root, bcc, bpftool.
"""
import os
import platform
import subprocess
import tempfile

import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lessons"))
import facts  # noqa: E402  (lessons/facts.py: where tracefs is, headers, BTF)

from bcc import BPF

PROGRAM = r"""
#include <linux/sched.h>
struct event { u32 headers_real_parent, headers_tgid, ppid_headers, ppid_btf; };
BPF_PERF_OUTPUT(events);

static u32 ppid_at(struct task_struct *task, u32 real_parent_off, u32 tgid_off) {
    struct task_struct *parent = NULL;
    u32 ppid = 0;
    bpf_probe_read_kernel(&parent, sizeof(parent), (char *)task + real_parent_off);
    bpf_probe_read_kernel(&ppid, sizeof(ppid), (char *)parent + tgid_off);
    return ppid;
}

TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    if (bpf_get_current_pid_tgid() >> 32 != TGID)
        return 0;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct event e = {
        .headers_real_parent = offsetof(struct task_struct, real_parent),
        .headers_tgid = offsetof(struct task_struct, tgid),
    };
    e.ppid_headers = ppid_at(task, e.headers_real_parent, e.headers_tgid);
    e.ppid_btf = ppid_at(task, BTF_REAL_PARENT, BTF_TGID);
    events.perf_submit(args, &e, sizeof(e));
    return 0;
}
"""


def main():
    btf = facts.btf_offsets("task_struct", "real_parent", "tgid")
    b = BPF(text=PROGRAM, cflags=["-DTGID=%d" % os.getpid(), "-DBTF_REAL_PARENT=%d" % btf["real_parent"],
                                  "-DBTF_TGID=%d" % btf["tgid"]])
    seen = []
    b["events"].open_perf_buffer(lambda cpu, data, size: seen.append(b["events"].event(data)))
    ppid = os.getppid()
    while not seen:
        b.perf_buffer_poll(1000)
    e = seen[0]
    release, tree = facts.headers_release()
    tree = os.path.realpath(tree)
    print("1. running kernel %s; headers bcc compiles against: %s, made for %s" % (platform.release(), tree, release))
    print("\n2. %-28s %-12s %s" % ("task_struct member offset", "FROM HEADERS", "FROM BTF"))
    print("   %-28s %-12d %d" % ("real_parent", e.headers_real_parent, btf["real_parent"]))
    print("   %-28s %-12d %d" % ("tgid", e.headers_tgid, btf["tgid"]))
    print("\n3. parent pid: os.getppid() = %d; read in BPF with header offsets = %d; with BTF offsets = %d"
          % (ppid, e.ppid_headers, e.ppid_btf))

    with tempfile.TemporaryDirectory() as d:
        with open(d + "/vmlinux.h", "w") as f:
            subprocess.run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"],
                           stdout=f, check=True)
        saved = os.dup(2)           # clang's messages go to fd 2: catch them in a file
        with open(d + "/messages", "w+b") as log:
            os.dup2(log.fileno(), 2)
            try:
                BPF(text='#include "vmlinux.h"\nint f(void *ctx) { return 0; }', cflags=["-I" + d])
                result = "compiled"
            except Exception as ex:
                result = str(ex)
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            log.seek(0)
            messages = log.read().decode(errors="replace")
        errors = [line for line in messages.splitlines() if ": error:" in line]
        print("\n4. BPF(text='#include \"vmlinux.h\" ...'): %s; %d error lines, the first: %s"
              % (result, len(errors), errors[0].split("error: ", 1)[1] if errors else "-"))


if __name__ == "__main__":
    main()
