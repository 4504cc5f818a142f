#!/usr/bin/env python3
# SPOILER: a reference solution of exercise 005-ringbuf. Try lessons/005_perf_output/ex_ringbuf.py first.
# 剧透：练习 005-ringbuf 的参考答案。请先自己做 lessons/005_perf_output/ex_ringbuf.py。
import plumbing
from bcc import BPF

program = r"""
#include <uapi/linux/ptrace.h>
#define TASK_COMM_LEN 16

struct event_t {
    u32 pid;
    u32 flags;
    int len;
    char comm[TASK_COMM_LEN];
    char path[256];
};
BPF_RINGBUF_OUTPUT(events, 16);        // 16 pages: room for about 230 of these records
BPF_ARRAY(lost, u64, 1);               // the ring buffer counts nothing when it is full: we do

static int report(const char __user *filename, u32 flags) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
#ifdef FILTER_PID
    if (pid != FILTER_PID)
        return 0;
#endif
    struct event_t e = {};
    e.pid = pid;
    e.flags = flags;
    bpf_get_current_comm(&e.comm, sizeof(e.comm));
    e.len = bpf_probe_read_user_str(e.path, sizeof(e.path), filename);
    if (events.ringbuf_output(&e, sizeof(e), 0) != 0) {
        int zero = 0;
        u64 *n = lost.lookup(&zero);
        if (n)
            __sync_fetch_and_add(n, 1);
    }
    return 0;
}

int on_do_sys_openat2(struct pt_regs *ctx) {
    u64 flags = 0;
    bpf_probe_read_kernel(&flags, sizeof(flags), (void *)PT_REGS_PARM3(ctx));
    return report((const char __user *)PT_REGS_PARM2(ctx), flags);
}
int on_openat(struct tracepoint__syscalls__sys_enter_openat *args) { return report(args->filename, args->flags); }
"""

parser = plumbing.parser("Every open, through a BPF ring buffer, with what it lost.")
parser.add_argument("--pid", type=plumbing.positive(int), help="only this process's opens, filtered in the kernel")
args = plumbing.parse(parser, [])
b = BPF(text=program, cflags=["-DFILTER_PID=%d" % args.pid] if args.pid else [])
plumbing.attach(args.probe, b,
                kprobe=lambda: b.attach_kprobe(event="do_sys_openat2", fn_name="on_do_sys_openat2"),
                tracepoint=lambda: b.attach_tracepoint(tp="syscalls:sys_enter_openat", fn_name="on_openat"))


def print_event(ctx, data, size):
    e = b["events"].event(data)
    plumbing.show("%-7d %-16s %08o %s" % (e.pid, plumbing.printable(e.comm), e.flags, plumbing.string(e.path, e.len, 256)))


b["events"].open_ring_buffer(print_event)
plumbing.run(b, args, "opens", lambda: b.ring_buffer_poll(timeout=100),
             header="%-7s %-16s %-8s %s" % ("PID", "COMM", "FLAGS", "PATH"),
             summary=lambda: print("lost %d events in total" % b["lost"][0].value))
