#!/usr/bin/env python3
# SPOILER: a reference solution of exercise 010-setenv. Try lessons/010_uprobes/ex_setenv.py first.
# 剧透：练习 010-setenv 的参考答案。请先自己做 lessons/010_uprobes/ex_setenv.py。
import plumbing
from bcc import BPF

# The entry has the arguments, the return the result: a map keyed by thread id carries the call from one to
# the other, as lesson 010 carries getenv's name. The strings are read at the entry, while they are surely there.
program = r"""
#include <uapi/linux/ptrace.h>
#define TASK_COMM_LEN 16

struct call_t { u32 pid; int overwrite, result; char comm[TASK_COMM_LEN]; char name[64]; char value[64]; };
BPF_HASH(started, u64, struct call_t);     // thread -> its setenv() in progress
BPF_PERF_OUTPUT(calls);

int setenv_entry(struct pt_regs *ctx) {
    u64 id = bpf_get_current_pid_tgid();
    struct call_t c = {};
    c.pid = id >> 32;
    bpf_get_current_comm(&c.comm, sizeof(c.comm));
    bpf_probe_read_user_str(c.name, sizeof(c.name), (const char *)PT_REGS_PARM1(ctx));
    bpf_probe_read_user_str(c.value, sizeof(c.value), (const char *)PT_REGS_PARM2(ctx));
    c.overwrite = PT_REGS_PARM3(ctx);
    started.update(&id, &c);
    return 0;
}

int setenv_return(struct pt_regs *ctx) {
    u64 id = bpf_get_current_pid_tgid();
    struct call_t *c = started.lookup(&id);
    if (!c)
        return 0;                          // it entered before we attached
    c->result = PT_REGS_RC(ctx);
    calls.perf_submit(ctx, c, sizeof(*c));
    started.delete(&id);
    return 0;
}
"""

args = plumbing.parse(plumbing.parser("Every setenv() call in libc, with its result.", probes=()), [])
b = BPF(text=program)
b.attach_uprobe(name="c", sym="setenv", fn_name="setenv_entry")
b.attach_uretprobe(name="c", sym="setenv", fn_name="setenv_return")


def print_call(cpu, data, size):
    c = b["calls"].event(data)
    plumbing.show("%-7d %-16s %9d %6d %s %s" % (c.pid, plumbing.printable(c.comm), c.overwrite, c.result,
                                               plumbing.printable(c.name), plumbing.printable(c.value)))


b["calls"].open_perf_buffer(print_call, lost_cb=plumbing.lost)
plumbing.run(b, args, "setenv() in libc", lambda: b.perf_buffer_poll(timeout=100),
             header="%-7s %-16s %9s %6s %s %s" % ("PID", "COMM", "OVERWRITE", "RESULT", "NAME", "VALUE"))
