#!/usr/bin/env python3
# Exercise 005-ringbuf — lesson 003's opens through a BPF ring buffer, and what a full one loses.
# The task: EXERCISES.md (中文: EXERCISES.zh.md). Check it: sudo make check EX=005-ringbuf
import plumbing   # ../plumbing.py, the same for every lesson
from bcc import BPF

# Lesson 003's program, with a --pid filter. It still writes text lines into the shared trace buffer.
program = r"""
#include <uapi/linux/ptrace.h>

static int opened(const char __user *filename, u32 flags) {
#ifdef FILTER_PID
    if (bpf_get_current_pid_tgid() >> 32 != FILTER_PID)
        return 0;
#endif
    // TODO: fill a struct (pid, flags, comm, path and the length read) and send it with
    // events.ringbuf_output(); count every output that fails, in an array map
    char path[256];
    int len = bpf_probe_read_user_str(path, sizeof(path), filename);
    bpf_trace_printk("MARK %x %d %s", flags, len, path);
    return 0;
}

int on_do_sys_openat2(struct pt_regs *ctx) {
    u64 flags = 0;
    bpf_probe_read_kernel(&flags, sizeof(flags), (void *)PT_REGS_PARM3(ctx));
    return opened((const char __user *)PT_REGS_PARM2(ctx), flags);
}
int on_openat(struct tracepoint__syscalls__sys_enter_openat *args) { return opened(args->filename, args->flags); }
"""

parser = plumbing.parser("Every open, through a BPF ring buffer, with what it lost.")
parser.add_argument("--pid", type=plumbing.positive(int), help="only this process's opens, filtered in the kernel")
args = plumbing.parse(parser, [])
b = BPF(text=plumbing.marked(program), cflags=["-DFILTER_PID=%d" % args.pid] if args.pid else [])
plumbing.attach(args.probe, b,
                kprobe=lambda: b.attach_kprobe(event="do_sys_openat2", fn_name="on_do_sys_openat2"),
                tracepoint=lambda: b.attach_tracepoint(tp="syscalls:sys_enter_openat", fn_name="on_openat"))


def print_line():   # TODO: open_ring_buffer() and ring_buffer_poll() instead of the trace pipe
    task, pid, cpu, flags, ts, msg = b.trace_fields()
    fields = plumbing.ours(msg, 3)
    if fields:
        plumbing.show("%-7d %-16s %08o %s" % (pid, plumbing.printable(task), int(fields[0], 16),
                                              plumbing.string(fields[2], int(fields[1]), 256)))


# TODO: at the end, print "lost N events in total" (run()'s summary=)
plumbing.run(b, args, "opens", print_line, trace_pipe=True,
             header="%-7s %-16s %-8s %s" % ("PID", "COMM", "FLAGS", "PATH"))
