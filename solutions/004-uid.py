#!/usr/bin/env python3
# SPOILER: a reference solution of exercise 004-uid. Try lessons/004_pid_comm/ex_uid.py first.
# 剧透：练习 004-uid 的参考答案。请先自己做 lessons/004_pid_comm/ex_uid.py。
import plumbing
from bcc import BPF

program = r"""
#include <uapi/linux/ptrace.h>
#define TASK_COMM_LEN 16

static int report(const char __user *filename, u32 mode) {
    u32 uid = bpf_get_current_uid_gid();   // the lower 32 bits: the user id (the upper: the group id)
#ifdef FILTER_UID
    if (uid != FILTER_UID)
        return 0;                          // filtered in the kernel: nothing is written for other users
#endif
    char comm[TASK_COMM_LEN];
    bpf_get_current_comm(&comm, sizeof(comm));
    char path[256];
    int len = bpf_probe_read_user_str(path, sizeof(path), filename);
    // the thread id is in the trace line itself: the first line has room for the tgid, the uid and comm
    bpf_trace_printk("MARK 1 %u %u %s", bpf_get_current_pid_tgid() >> 32, uid, comm);
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

parser = plumbing.parser("chmod events, with the user id; --uid: one user's only, filtered in the kernel.")
parser.add_argument("--uid", type=int, help="only this user's chmods")
args = plumbing.parse(parser, [])
calls = plumbing.syscalls("chmod", "fchmodat")
cflags = (["-DFILTER_UID=%d" % args.uid] if args.uid is not None else []) + (["-DHAVE_CHMOD"] if "chmod" in calls else [])
b = BPF(text=plumbing.marked(program), cflags=cflags)
plumbing.attach(args.probe, b,
                kprobe=lambda: [b.attach_kprobe(event=b.get_syscall_fnname(c), fn_name="syscall__" + c) for c in calls],
                tracepoint=lambda: [b.attach_tracepoint(tp="syscalls:sys_enter_" + c, fn_name="tp_" + c) for c in calls])
first = {}   # thread id -> (tgid, uid, comm)


def print_chmod():
    task, pid, cpu, flags, ts, msg = b.trace_fields()
    fields = plumbing.ours(msg, 4)
    if fields and fields[0] == b"1":
        first[pid] = fields[1:]
    elif fields and pid in first:
        tgid, uid, comm = first.pop(pid)
        plumbing.show("%-7d %-7d %-6d %-16s %04o %s" % (int(tgid), pid, int(uid), plumbing.printable(comm),
                                                        int(fields[1], 16), plumbing.string(fields[3], int(fields[2]), 256)))


plumbing.run(b, args, "chmod", print_chmod, trace_pipe=True,
             header="%-7s %-7s %-6s %-16s %-4s %s" % ("TGID", "TID", "UID", "COMM", "MODE", "PATH"))
