#!/usr/bin/env python3
# Exercise 004-comm — only the chmods of one program, chosen by name, filtered in the kernel.
# The task: EXERCISES.md (中文: EXERCISES.zh.md). Check it: sudo make check EX=004-comm
import plumbing   # ../plumbing.py, the same for every lesson
from bcc import BPF

# TRACEPOINT_PROBE functions are attached as the program loads (lesson 007): no --probe here.
program = r"""
#include <asm/unistd.h>
#define TASK_COMM_LEN 16

TRACEPOINT_PROBE(syscalls, sys_enter_fchmodat) {
    char comm[TASK_COMM_LEN];
    bpf_get_current_comm(&comm, sizeof(comm));
    // TODO: with FILTER_COMM defined (a string), return 0 unless comm is that name
    char path[256];
    int len = bpf_probe_read_user_str(path, sizeof(path), args->filename);
    bpf_trace_printk("MARK 1 %u %s", bpf_get_current_pid_tgid() >> 32, comm);
    bpf_trace_printk("MARK 2 %x %d %s", args->mode, len, path);
    return 0;
}
#ifdef __NR_chmod        // x86-64 has chmod() too (os.chmod calls it); arm64 has not
TRACEPOINT_PROBE(syscalls, sys_enter_chmod) {
    char comm[TASK_COMM_LEN];
    bpf_get_current_comm(&comm, sizeof(comm));
    // TODO: the same filter here
    char path[256];
    int len = bpf_probe_read_user_str(path, sizeof(path), args->filename);
    bpf_trace_printk("MARK 1 %u %s", bpf_get_current_pid_tgid() >> 32, comm);
    bpf_trace_printk("MARK 2 %x %d %s", args->mode, len, path);
    return 0;
}
#endif
"""

parser = plumbing.parser("chmod events; --comm: only those of programs with this name.", probes=())
parser.add_argument("--comm", help="only the chmods of tasks with this name (at most 15 bytes)")
args = plumbing.parse(parser, [])
b = BPF(text=plumbing.marked(program))   # TODO: -DFILTER_COMM="..." from --comm (mind the quotes)
waiting = {}


def print_chmod():
    task, pid, cpu, flags, ts, msg = b.trace_fields()
    fields = plumbing.ours(msg, 3)
    if fields and fields[0] == b"1":
        waiting[pid] = fields[1:3]            # tgid, comm
    elif fields and pid in waiting:
        tgid, comm = waiting.pop(pid)
        mode, rest = fields[1], fields[2].split(b" ", 1)
        plumbing.show("%-7d %-7d %-16s %04o %s" % (int(tgid), pid, plumbing.printable(comm), int(mode, 16),
                                                   plumbing.string(rest[1] if len(rest) > 1 else b"", int(rest[0]), 256)))


plumbing.run(b, args, "chmod", print_chmod, trace_pipe=True,
             header="%-7s %-7s %-16s %-4s %s" % ("TGID", "TID", "COMM", "MODE", "PATH"))
