#!/usr/bin/env python3
# A second solution of exercise 012-callers, written differently: the syscall's own tracepoint, a u64 key (pid in
# the high half, the stack id in the low half), the names merged in Python.
import collections
import plumbing
from bcc import BPF

b = BPF(text=r"""
BPF_STACK_TRACE(user_stacks, 16384);
BPF_HASH(seen, u64, u64);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    u64 key = (bpf_get_current_pid_tgid() >> 32) << 32;
    key |= (u32)user_stacks.get_stackid(args, BPF_F_USER_STACK);
    seen.increment(key);
    return 0;
}
""")
args = plumbing.parse(plumbing.parser("getppid() by user stack", probes=None, count=False), [])


def summary():
    rows = collections.Counter()
    for key, value in b["seen"].items():
        pid, stack_id = key.value >> 32, key.value & 0xFFFFFFFF
        frames = [b.sym(a, pid).decode() for a in b["user_stacks"].walk(stack_id)] if stack_id < 1 << 31 else ["?"]
        rows[(pid, ";".join(frames[::-1]))] += value.value
    for (pid, path), count in rows.most_common():
        print(count, pid, path)


plumbing.run(b, args, "getppid() by user stack", lambda: plumbing.sleep(0.5), summary=summary)
