#!/usr/bin/env python3
# Exercise 010-setenv — every setenv(name, value, overwrite) call in libc, with what it returned.
# The task: EXERCISES.md (中文: EXERCISES.zh.md). Check it: sudo make check EX=010-setenv
import plumbing   # ../plumbing.py, the same for every lesson
from bcc import BPF

program = r"""
#include <uapi/linux/ptrace.h>
#define TASK_COMM_LEN 16

struct call_t { u32 pid; int overwrite, result; char comm[TASK_COMM_LEN]; char name[64]; char value[64]; };
BPF_PERF_OUTPUT(calls);

int on_setenv(struct pt_regs *ctx) {
    struct call_t c = {};
    c.pid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(&c.comm, sizeof(c.comm));
    bpf_probe_read_user_str(c.name, sizeof(c.name), (const char *)PT_REGS_PARM1(ctx));
    // TODO: the value is the second argument, overwrite the third
    // TODO: the result (0, or -1 for a name with "=" in it) is only known at the return: a uretprobe, and a
    // map keyed by the thread id to carry the call there
    calls.perf_submit(ctx, &c, sizeof(c));
    return 0;
}
"""

args = plumbing.parse(plumbing.parser("Every setenv() call in libc, with its result.", probes=()), [])
b = BPF(text=program)
b.attach_uprobe(name="c", sym="setenv", fn_name="on_setenv")


def print_call(cpu, data, size):
    c = b["calls"].event(data)
    plumbing.show("%-7d %-16s %9d %6d %s %s" % (c.pid, plumbing.printable(c.comm), c.overwrite, c.result,
                                               plumbing.printable(c.name), plumbing.printable(c.value)))


b["calls"].open_perf_buffer(print_call, page_cnt=16, lost_cb=plumbing.lost)
plumbing.run(b, args, "setenv() in libc", lambda: b.perf_buffer_poll(timeout=100),
             header="%-7s %-16s %9s %6s %s %s" % ("PID", "COMM", "OVERWRITE", "RESULT", "NAME", "VALUE"))
