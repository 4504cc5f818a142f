#!/usr/bin/env python3
# Exercise 004-uid — whose chmod: add the user id, and filter by it in the kernel.
# The task: EXERCISES.md (中文: EXERCISES.zh.md). Check it: sudo make check EX=004-uid
import plumbing   # ../plumbing.py, the same for every lesson
from bcc import BPF

program = r"""
#include <uapi/linux/ptrace.h>
#define TASK_COMM_LEN 16

static int chmodded(const char __user *filename, u32 mode) {
    u64 id = bpf_get_current_pid_tgid();
    // TODO: the user id: bpf_get_current_uid_gid(); with FILTER_UID defined, return 0 for any other user
    char comm[TASK_COMM_LEN];
    bpf_get_current_comm(&comm, sizeof(comm));
    char path[256];
    int len = bpf_probe_read_user_str(path, sizeof(path), filename);
    bpf_trace_printk("MARK a %u %s", id >> 32, comm);         // the thread id is in the trace line
    bpf_trace_printk("MARK b %x %d %s", mode, len, path);
    return 0;
}

int syscall__fchmodat(struct pt_regs *ctx, int dfd, const char __user *filename, umode_t mode) {
    return chmodded(filename, mode);
}
int syscall__chmod(struct pt_regs *ctx, const char __user *filename, umode_t mode) { return chmodded(filename, mode); }
int tp_fchmodat(struct tracepoint__syscalls__sys_enter_fchmodat *args) { return chmodded(args->filename, args->mode); }
#ifdef HAVE_CHMOD
int tp_chmod(struct tracepoint__syscalls__sys_enter_chmod *args) { return chmodded(args->filename, args->mode); }
#endif
"""

parser = plumbing.parser("chmod events, with the user id; --uid: one user's only, filtered in the kernel.")
parser.add_argument("--uid", type=int, help="only this user's chmods")
args = plumbing.parse(parser, [])
calls = plumbing.syscalls("chmod", "fchmodat")
# TODO: pass --uid to the program: -DFILTER_UID=...
b = BPF(text=plumbing.marked(program), cflags=["-DHAVE_CHMOD"] if "chmod" in calls else [])
plumbing.attach(args.probe, b,
                kprobe=lambda: [b.attach_kprobe(event=b.get_syscall_fnname(c), fn_name="syscall__" + c) for c in calls],
                tracepoint=lambda: [b.attach_tracepoint(tp="syscalls:sys_enter_" + c, fn_name="tp_" + c) for c in calls])
pending = {}


def print_chmod():
    task, pid, cpu, flags, ts, msg = b.trace_fields()
    fields = plumbing.ours(msg, 4)
    if fields and fields[0] == b"a":
        pending[pid] = fields[1:]
    elif fields and pid in pending:
        tgid, comm = pending.pop(pid)[:2]   # TODO: a UID column, between TID and COMM
        plumbing.show("%-7d %-7d %-16s %04o %s" % (int(tgid), pid, plumbing.printable(comm), int(fields[1], 16),
                                                   plumbing.string(fields[3], int(fields[2]), 256)))


plumbing.run(b, args, "chmod", print_chmod, trace_pipe=True,
             header="%-7s %-7s %-16s %-4s %s" % ("TGID", "TID", "COMM", "MODE", "PATH"))
