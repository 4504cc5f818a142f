#!/usr/bin/env python3
# SPOILER: a reference solution of exercise 009-slow. Try lessons/009_latency/ex_slow.py first.
# 剧透：练习 009-slow 的参考答案。请先自己做 lessons/009_latency/ex_slow.py。
import plumbing
from bcc import BPF

program = r"""
#define TASK_COMM_LEN 16

struct slow_t { u32 pid; u64 took_ns; char comm[TASK_COMM_LEN]; };
BPF_HASH(began, u64, u64);        // pid_tgid (one thread) -> when its read began
BPF_PERF_OUTPUT(slow);            // one record per read that took MIN_NS or more

static int enter(void) {
    u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
    began.update(&id, &now);
    return 0;
}

static int leave(void *ctx) {
    u64 id = bpf_get_current_pid_tgid();
    u64 *then = began.lookup(&id);
    if (!then)
        return 0;
    u64 took = bpf_ktime_get_ns() - *then;
    began.delete(&id);
    if (took < MIN_NS)
        return 0;
    struct slow_t s = {};
    s.pid = id >> 32;
    s.took_ns = took;
    bpf_get_current_comm(&s.comm, sizeof(s.comm));
    slow.perf_submit(ctx, &s, sizeof(s));
    return 0;
}

int kprobe_vfs_read(struct pt_regs *ctx) { return enter(); }
int kretprobe_vfs_read(struct pt_regs *ctx) { return leave(ctx); }
int tp_sys_enter_read(void *ctx) { return enter(); }
int tp_sys_exit_read(void *ctx) { return leave(ctx); }
"""

parser = plumbing.parser("Each read slower than --min-ms: PID COMM MS.")
parser.add_argument("--min-ms", type=plumbing.positive(float), default=10.0, help="the threshold (10 ms)")
args = plumbing.parse(parser, [])
b = BPF(text=program, cflags=["-DMIN_NS=%dULL" % (args.min_ms * 1000000)])
plumbing.attach(args.probe, b,
                kprobe=lambda: (b.attach_kprobe(event="vfs_read", fn_name="kprobe_vfs_read"),
                                b.attach_kretprobe(event="vfs_read", fn_name="kretprobe_vfs_read")),
                tracepoint=lambda: (b.attach_tracepoint(tp="syscalls:sys_enter_read", fn_name="tp_sys_enter_read"),
                                    b.attach_tracepoint(tp="syscalls:sys_exit_read", fn_name="tp_sys_exit_read")))


def print_slow(cpu, data, size):
    s = b["slow"].event(data)
    plumbing.show("%-7d %-16s %10.3f" % (s.pid, plumbing.printable(s.comm), s.took_ns / 1e6))


b["slow"].open_perf_buffer(print_slow, lost_cb=plumbing.lost)
plumbing.run(b, args, "reads of %g ms or more" % args.min_ms, lambda: b.perf_buffer_poll(timeout=100),
             header="%-7s %-16s %10s" % ("PID", "COMM", "MS"))
