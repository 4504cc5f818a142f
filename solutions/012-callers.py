#!/usr/bin/env python3
# SPOILER: a reference solution of exercise 012-callers. Try lessons/012_stacks/ex_callers.py first.
# 剧透：练习 012-callers 的参考答案。请先自己做 lessons/012_stacks/ex_callers.py。
import plumbing
from bcc import BPF

# BPF_F_USER_STACK walks the user stack (the frame pointers of the process) instead of the kernel's; bcc names
# each return address with the symbols of the process's own files, read through /proc/PID.
program = r"""
#include <asm/unistd.h>

struct path_t { u32 pid; int stack; };
BPF_STACK_TRACE(walks, 16384);   // as many slots as bcc's profile: two stacks rarely share one
BPF_HASH(calls, struct path_t, u64);

int on_enter(struct tracepoint__raw_syscalls__sys_enter *args) {
    if (args->id != __NR_getppid)
        return 0;
    struct path_t path = {.pid = bpf_get_current_pid_tgid() >> 32};
    path.stack = walks.get_stackid(args, BPF_F_USER_STACK);
    calls.increment(path);
    return 0;
}
"""

args = plumbing.parse(plumbing.parser("Count getppid() calls per process and user stack.", probes=None, count=False), [])
b = BPF(text=program)
b.attach_tracepoint(tp="raw_syscalls:sys_enter", fn_name="on_enter")


def report():
    for path, n in sorted(b["calls"].items(), key=lambda item: -item[1].value):
        if path.stack >= 0:
            names = [b.sym(a, path.pid).decode("utf-8", "replace") for a in b["walks"].walk(path.stack)]
        else:
            names = ["[lost:%d]" % path.stack]
        print("%6d %7d %s" % (n.value, path.pid, ";".join(reversed(names))))


plumbing.run(b, args, "getppid() callers", lambda: plumbing.sleep(1), summary=report)
