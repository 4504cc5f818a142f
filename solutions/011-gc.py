#!/usr/bin/env python3
# SPOILER: a reference solution of exercise 011-gc. Try lessons/011_usdt/ex_gc.py first.
# 剧透：练习 011-gc 的参考答案。请先自己做 lessons/011_usdt/ex_gc.py。
import plumbing
from bcc import BPF, USDT

# gc__start knows the generation, gc__done the count: a map keyed by thread id carries the one to the other, as
# lesson 009 carries the start time from a kprobe to its kretprobe.
program = r"""
struct gc_t { u32 pid; int generation; long collected; };
BPF_HASH(generations, u64, int);            // thread -> the generation it is collecting
BPF_PERF_OUTPUT(collections);

int on_gc_start(struct pt_regs *ctx) {
    u64 id = bpf_get_current_pid_tgid();
    int generation = -1;
    bpf_usdt_readarg(1, ctx, &generation);  // python:gc__start(int generation)
    generations.update(&id, &generation);
    return 0;
}

int on_gc_done(struct pt_regs *ctx) {
    u64 id = bpf_get_current_pid_tgid();
    int *generation = generations.lookup(&id);
    if (!generation)
        return 0;                           // a collection that started before the probes
    struct gc_t c = {};
    c.pid = id >> 32;
    c.generation = *generation;
    bpf_usdt_readarg(1, ctx, &c.collected); // python:gc__done(long collected)
    generations.delete(&id);
    collections.perf_submit(ctx, &c, sizeof(c));
    return 0;
}
"""

parser = plumbing.parser("Every garbage collection of a Python process.", probes=None)
parser.add_argument("--pid", type=plumbing.process_id, required=True, help="a running python3")
args = plumbing.parse(parser, [])
usdt = USDT(pid=args.pid)
usdt.enable_probe(probe="python:gc__start", fn_name="on_gc_start")
usdt.enable_probe(probe="python:gc__done", fn_name="on_gc_done")
b = BPF(text=program, usdt_contexts=[usdt])


def print_collection(cpu, data, size):
    c = b["collections"].event(data)
    plumbing.show("%-7d %3d %9d" % (c.pid, c.generation, c.collected))


b["collections"].open_perf_buffer(print_collection, page_cnt=16, lost_cb=plumbing.lost)
plumbing.run(b, args, "garbage collections of pid %d" % args.pid, lambda: b.perf_buffer_poll(timeout=100),
             header="%-7s %3s %9s" % ("PID", "GEN", "COLLECTED"))
