#!/usr/bin/env python3
# Exercise 011-gc — every garbage collection of a Python process: its generation, and how many objects it found.
# The task: EXERCISES.md (中文: EXERCISES.zh.md). Check it: sudo make check EX=011-gc
import plumbing   # ../plumbing.py, the same for every lesson
from bcc import BPF, USDT

program = r"""
struct gc_t { u32 pid; int generation; long collected; };
BPF_PERF_OUTPUT(collections);

int on_gc_start(struct pt_regs *ctx) {
    struct gc_t c = {};
    c.pid = bpf_get_current_pid_tgid() >> 32;
    bpf_usdt_readarg(1, ctx, &c.generation);      // python:gc__start(int generation)
    // TODO: COLLECTED is python:gc__done's argument (a long: the unreachable objects the collection found).
    // gc__done does not know the generation: keep it in a BPF_HASH keyed by the thread id, and send from there.
    collections.perf_submit(ctx, &c, sizeof(c));
    return 0;
}
"""

parser = plumbing.parser("Every garbage collection of a Python process.", probes=None)
parser.add_argument("--pid", type=plumbing.process_id, required=True, help="a running python3")
args = plumbing.parse(parser, [])
usdt = USDT(pid=args.pid)            # Python's probes have semaphores: bcc needs the process
usdt.enable_probe(probe="python:gc__start", fn_name="on_gc_start")
b = BPF(text=program, usdt_contexts=[usdt])


def print_collection(cpu, data, size):
    c = b["collections"].event(data)
    plumbing.show("%-7d %3d %9d" % (c.pid, c.generation, c.collected))


b["collections"].open_perf_buffer(print_collection, page_cnt=16, lost_cb=plumbing.lost)
plumbing.run(b, args, "garbage collections of pid %d" % args.pid, lambda: b.perf_buffer_poll(timeout=100),
             header="%-7s %3s %9s" % ("PID", "GEN", "COLLECTED"))
