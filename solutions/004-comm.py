#!/usr/bin/env python3
# SPOILER: a reference solution of exercise 004-comm. Try lessons/004_pid_comm/ex_comm.py first.
# 剧透：练习 004-comm 的参考答案。请先自己做 lessons/004_pid_comm/ex_comm.py。
import argparse
import plumbing
from bcc import BPF

program = r"""
#include <uapi/linux/ptrace.h>
#define TASK_COMM_LEN 16

static int report(const char __user *filename, u32 mode) {
    char comm[TASK_COMM_LEN];
    bpf_get_current_comm(&comm, sizeof(comm));
#ifdef FILTER_COMM
    char want[] = FILTER_COMM;               // a string literal, from -DFILTER_COMM="name"
    for (int i = 0; i < sizeof(want); i++)   // its NUL included: "chmod" is not "chmodx"
        if (comm[i] != want[i])
            return 0;
#endif
    u64 id = bpf_get_current_pid_tgid();
    char path[256];
    int len = bpf_probe_read_user_str(path, sizeof(path), filename);
    bpf_trace_printk("MARK 1 %u %u %s", id >> 32, (u32)id, comm);
    bpf_trace_printk("MARK 2 %x %d %s", mode, len, path);
    return 0;
}

int syscall__chmod(struct pt_regs *ctx, const char __user *filename, umode_t mode) { return report(filename, mode); }
int syscall__fchmodat(struct pt_regs *ctx, int dfd, const char __user *filename, umode_t mode) {
    return report(filename, mode);
}
int tp_fchmodat(struct tracepoint__syscalls__sys_enter_fchmodat *args) { return report(args->filename, args->mode); }
#ifdef HAVE_CHMOD
int tp_chmod(struct tracepoint__syscalls__sys_enter_chmod *args) { return report(args->filename, args->mode); }
#endif
"""


def comm_name(text):
    if not (0 < len(text.encode()) < 16 and text.isprintable() and '"' not in text and "\\" not in text):
        raise argparse.ArgumentTypeError("a command name has 1 to 15 printable bytes, no quote or backslash")
    return text


parser = plumbing.parser("chmod events; --comm: only those of programs with this name, filtered in the kernel.")
parser.add_argument("--comm", type=comm_name, help="only the chmods of tasks with this name")
args = plumbing.parse(parser, [])
calls = plumbing.syscalls("chmod", "fchmodat")
cflags = (['-DFILTER_COMM="%s"' % args.comm] if args.comm else []) + (["-DHAVE_CHMOD"] if "chmod" in calls else [])
b = BPF(text=plumbing.marked(program), cflags=cflags)
plumbing.attach(args.probe, b,
                kprobe=lambda: [b.attach_kprobe(event=b.get_syscall_fnname(c), fn_name="syscall__" + c) for c in calls],
                tracepoint=lambda: [b.attach_tracepoint(tp="syscalls:sys_enter_" + c, fn_name="tp_" + c) for c in calls])
first = {}


def print_chmod():
    task, pid, cpu, flags, ts, msg = b.trace_fields()
    fields = plumbing.ours(msg, 4)
    if fields and fields[0] == b"1":
        first[pid] = fields[1:]
    elif fields and pid in first:
        tgid, tid, comm = first.pop(pid)
        plumbing.show("%-7d %-7d %-16s %04o %s" % (int(tgid), int(tid), plumbing.printable(comm), int(fields[1], 16),
                                                   plumbing.string(fields[3], int(fields[2]), 256)))


plumbing.run(b, args, "chmod", print_chmod, trace_pipe=True,
             header="%-7s %-7s %-16s %-4s %s" % ("TGID", "TID", "COMM", "MODE", "PATH"))
