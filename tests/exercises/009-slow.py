#!/usr/bin/env python3
# A second solution of exercise 009-slow, written differently from solutions/009-slow.py: tracepoints only
# (TRACEPOINT_PROBE), the thread id as a u32 key, the comm taken at entry, the threshold in a map that Python sets.
import plumbing
from bcc import BPF

program = r"""
#define TASK_COMM_LEN 16

struct call_t { u64 ts; char comm[TASK_COMM_LEN]; };
struct out_t { u64 ns; u32 tgid; char comm[TASK_COMM_LEN]; };
BPF_HASH(calls, u32, struct call_t);
BPF_ARRAY(threshold, u64, 1);
BPF_PERF_OUTPUT(out);

TRACEPOINT_PROBE(syscalls, sys_enter_read) {
    u32 tid = bpf_get_current_pid_tgid();
    struct call_t c = {};
    c.ts = bpf_ktime_get_ns();
    bpf_get_current_comm(&c.comm, sizeof(c.comm));
    calls.update(&tid, &c);
    return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_read) {
    u32 tid = bpf_get_current_pid_tgid(), zero = 0;
    struct call_t *c = calls.lookup(&tid);
    u64 *min = threshold.lookup(&zero);
    if (c && min) {
        struct out_t o = {};
        o.ns = bpf_ktime_get_ns() - c->ts;
        o.tgid = bpf_get_current_pid_tgid() >> 32;
        __builtin_memcpy(o.comm, c->comm, sizeof(o.comm));
        if (o.ns >= *min)
            out.perf_submit(args, &o, sizeof(o));
    }
    calls.delete(&tid);
    return 0;
}
"""

p = plumbing.parser("Slow reads, through the read syscall's tracepoints.", probes=())
p.add_argument("--min-ms", type=float, required=True)
opts = plumbing.parse(p, [])
bpf = BPF(text=program)
bpf["threshold"][0] = bpf["threshold"].Leaf(int(opts.min_ms * 1e6))


def show(cpu, data, size):
    o = bpf["out"].event(data)
    plumbing.show("%d %s %.2f" % (o.tgid, plumbing.printable(o.comm), o.ns / 1e6))


bpf["out"].open_perf_buffer(show, lost_cb=plumbing.lost)
plumbing.run(bpf, opts, "slow reads", lambda: bpf.perf_buffer_poll(timeout=50))
