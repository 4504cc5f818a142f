#!/usr/bin/env python3
# Exercise 006-histogram — how the intervals between a process's calls are spread, as a histogram.
# The task: EXERCISES.md (中文: EXERCISES.zh.md). Check it: sudo make check EX=006-histogram
import plumbing   # ../plumbing.py, the same for every lesson
from bcc import BPF

program = r"""
BPF_HASH(previous, u32, u64);     // process id -> the time of its previous call
// TODO: BPF_HISTOGRAM(...), a map from a bucket to a count

int on_call(void *ctx) {
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
#ifdef FILTER_PID
    if (tgid != FILTER_PID)
        return 0;
#endif
    u64 now = bpf_ktime_get_ns();
    // TODO: when there was a previous call, count the interval in milliseconds in its log2 bucket:
    //       bpf_log2l(ms) gives the bucket
    previous.update(&tgid, &now);
    return 0;
}
"""

parser = plumbing.parser("A histogram of the intervals between a process's calls of a syscall.")
parser.add_argument("--syscall", type=plumbing.syscall_name, default="sync")
parser.add_argument("--pid", type=plumbing.positive(int), help="only this process's calls")
args = plumbing.parse(parser, [])
b = BPF(text=program, cflags=["-DFILTER_PID=%d" % args.pid] if args.pid else [])
plumbing.attach(args.probe, b,
                kprobe=lambda: b.attach_kprobe(event=b.get_syscall_fnname(args.syscall), fn_name="on_call"),
                tracepoint=lambda: b.attach_tracepoint(tp="syscalls:sys_enter_" + args.syscall, fn_name="on_call"))
# TODO: at the end, print the histogram: b["..."].print_log2_hist("msecs") as run()'s summary=
plumbing.run(b, args, "%s() intervals, printed at Ctrl-C" % args.syscall, lambda: plumbing.sleep(0.1))
