#!/usr/bin/env python3
# SPOILER: a reference solution of exercise 006-histogram. Try lessons/006_bpf_hash/ex_histogram.py first.
# 剧透：练习 006-histogram 的参考答案。请先自己做 lessons/006_bpf_hash/ex_histogram.py。
import plumbing
from bcc import BPF

program = r"""
BPF_HASH(last, u32, u64);          // process id -> the time of its previous call
BPF_HISTOGRAM(intervals);          // bucket (log2 of the interval in ms) -> count

int timing(void *ctx) {
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
#ifdef FILTER_PID
    if (tgid != FILTER_PID)
        return 0;
#endif
    u64 now = bpf_ktime_get_ns();
    u64 *then = last.lookup(&tgid);
    if (then)
        intervals.increment(bpf_log2l((now - *then) / 1000000));
    last.update(&tgid, &now);
    return 0;
}
"""

parser = plumbing.parser("A histogram of the intervals between a process's calls of a syscall.")
parser.add_argument("--syscall", type=plumbing.syscall_name, default="sync")
parser.add_argument("--pid", type=plumbing.positive(int), help="only this process's calls")
args = plumbing.parse(parser, [])
b = BPF(text=program, cflags=["-DFILTER_PID=%d" % args.pid] if args.pid else [])
plumbing.attach(args.probe, b,
                kprobe=lambda: b.attach_kprobe(event=b.get_syscall_fnname(args.syscall), fn_name="timing"),
                tracepoint=lambda: b.attach_tracepoint(tp="syscalls:sys_enter_" + args.syscall, fn_name="timing"))
plumbing.run(b, args, "%s() intervals, printed at Ctrl-C" % args.syscall, lambda: plumbing.sleep(0.1),
             summary=lambda: b["intervals"].print_log2_hist("msecs"))
