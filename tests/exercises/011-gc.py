#!/usr/bin/env python3
# A second solution of exercise 011-gc, written differently: probe names without their provider, the thread id
# alone as the key, a struct kept in the map and filled in two steps, another print format.
import plumbing
from bcc import BPF, USDT

program = r"""
struct rec { u32 tgid; s32 gen; s64 found; };
BPF_HASH(inflight, u32, struct rec);

BPF_PERF_OUTPUT(out);

int gc_begin(struct pt_regs *ctx) {
    u64 both = bpf_get_current_pid_tgid();
    u32 tid = (u32)both;
    struct rec r = {.tgid = both >> 32};
    bpf_usdt_readarg(1, ctx, &r.gen);
    inflight.update(&tid, &r);
    return 0;
}

int gc_end(struct pt_regs *ctx) {
    u32 tid = (u32)bpf_get_current_pid_tgid();
    struct rec *r = inflight.lookup(&tid);
    if (r == 0)
        return 0;
    bpf_usdt_readarg(1, ctx, &r->found);
    out.perf_submit(ctx, r, sizeof(*r));
    inflight.delete(&tid);
    return 0;
}
"""

p = plumbing.parser("Python's collections.", probes=None)
p.add_argument("--pid", type=plumbing.process_id, required=True)
args = plumbing.parse(p, [])
ctx = USDT(pid=args.pid)
for probe, fn in (("gc__start", "gc_begin"), ("gc__done", "gc_end")):
    ctx.enable_probe(probe=probe, fn_name=fn)
b = BPF(text=program, usdt_contexts=[ctx])
b["out"].open_perf_buffer(lambda cpu, data, size: plumbing.show("%d %d %d" % (
    b["out"].event(data).tgid, b["out"].event(data).gen, b["out"].event(data).found)), lost_cb=plumbing.lost)
plumbing.run(b, args, "gc of %d" % args.pid, lambda: b.perf_buffer_poll(timeout=100), header="PID GEN COLLECTED")
