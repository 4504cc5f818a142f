#!/usr/bin/env python3
# Exercise 012-callers — which code paths in user space make a system call: one row per process and user stack.
# The task: EXERCISES.md (中文: EXERCISES.zh.md). Check it: sudo make check EX=012-callers
import plumbing   # ../plumbing.py, the same for every lesson
from bcc import BPF

program = r"""
#include <asm/unistd.h>

struct path_t { u32 pid; int stack; };
BPF_STACK_TRACE(walks, 16384);   // as many slots as bcc's profile: two stacks rarely share one
BPF_HASH(calls, struct path_t, u64);

int on_enter(struct tracepoint__raw_syscalls__sys_enter *args) {
    if (args->id != __NR_getppid)
        return 0;
    struct path_t path = {.pid = bpf_get_current_pid_tgid() >> 32};
    path.stack = walks.get_stackid(args, 0);   // TODO: the kernel's stack; the task wants the user's
    calls.increment(path);
    return 0;
}
"""

args = plumbing.parse(plumbing.parser("Count getppid() calls per process and user stack.", probes=None, count=False), [])
b = BPF(text=program)
b.attach_tracepoint(tp="raw_syscalls:sys_enter", fn_name="on_enter")


def report():
    for path, n in sorted(b["calls"].items(), key=lambda item: -item[1].value):
        names = [b.ksym(a).decode() for a in b["walks"].walk(path.stack)] if path.stack >= 0 else ["[lost]"]
        # TODO: user frames are named with b.sym(address, pid); print them outermost first, joined by ";"
        print("%6d %7d %s" % (n.value, path.pid, ";".join(reversed(names))))


plumbing.run(b, args, "getppid() callers", lambda: plumbing.sleep(1), summary=report)
