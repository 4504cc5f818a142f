#!/usr/bin/env python3
# Exercise 009-slow — print each read that took longer than a threshold: who made it, and how long it took.
# The task: EXERCISES.md (中文: EXERCISES.zh.md). Check it: sudo make check EX=009-slow
import plumbing   # ../plumbing.py, the same for every lesson
from bcc import BPF

program = r"""
BPF_HASH(began, u64, u64);        // pid_tgid (one thread) -> when its read began
BPF_ARRAY(slow, u64, 1);          // how many reads took MIN_NS or more; TODO: a BPF_PERF_OUTPUT instead

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
    // TODO: send one record per slow read to user space: the pid (id >> 32), the comm, and `took`
    int zero = 0;
    u64 *n = slow.lookup(&zero);
    if (n)
        __sync_fetch_and_add(n, 1);
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
# TODO: open the perf buffer with a function that prints "PID COMM MS" through plumbing.show(), and poll it in
#       run() instead of sleeping
plumbing.run(b, args, "reads of %g ms or more" % args.min_ms, lambda: plumbing.sleep(0.1),
             summary=lambda: print("slow reads: %d" % b["slow"][0].value))
