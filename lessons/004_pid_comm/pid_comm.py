#!/usr/bin/env python3
# %% [markdown]
# # Lesson 004 — who called, and with what: pid and tgid, comm, a string from the caller's memory
# # 第 004 课：谁在调用、带着什么：pid 与 tgid、comm、调用者内存里的字符串
#
# One event per chmod of a file on the machine (os.chmod, coreutils chmod): the process (TGID), the thread
# (TID), its name (COMM), the new mode and the path.
# Run it: `sudo python3 lessons/004_pid_comm/pid_comm.py`, then `chmod 640 somefile` in another terminal.
#
# 机器上每次 chmod 一个文件（os.chmod、coreutils 的 chmod）就打印一个事件：进程（TGID）、线程（TID）、
# 名字（COMM）、新的权限和路径。
# 运行：`sudo python3 lessons/004_pid_comm/pid_comm.py`，然后在另一个终端里执行 `chmod 640 某个文件`。

# %%
import plumbing   # ../plumbing.py, the same for every lesson: arguments, errors, Ctrl-C, clean-up
from bcc import BPF

# %% [markdown]
# ## The program — 程序
# `report()` asks the kernel who is running and copies the path out of the caller's memory. The hooks only
# hand it the two arguments: the kprobes as parameters (bcc reads them from the registers, see the note), the
# tracepoints by name.
#
# `report()` 向内核询问当前是谁在运行，并把路径从调用者的内存里复制出来。各个钩子只负责把两个参数交给它：
# kprobe 以函数参数的形式拿到（bcc 从寄存器里读出来，见笔记），跟踪点按名字拿到。

# %%
program = r"""
#include <uapi/linux/ptrace.h>   // struct pt_regs: the registers at a kprobe
#include <asm/unistd.h>          // __NR_chmod, where this architecture has the syscall
#define TASK_COMM_LEN 16         // the kernel's size for a task's name, as in <linux/sched.h>
#define NAME_LEN 256

static int report(const char __user *filename, u32 mode) {
    u64 id = bpf_get_current_pid_tgid();   // tgid in the upper 32 bits, thread id in the lower 32
    u32 tgid = id >> 32;                   // what user space calls the process id
    u32 tid = id;                          // the truncation keeps the lower half: the thread id
    char comm[TASK_COMM_LEN];              // the task's name, NUL-terminated, at most 15 characters
    bpf_get_current_comm(&comm, sizeof(comm));
    char path[NAME_LEN];
    int len = bpf_probe_read_user_str(path, sizeof(path), filename);   // bytes copied with the NUL, or < 0
    // at most 3 values per bpf_trace_printk, and one %s before Linux 5.13: two lines per event
    bpf_trace_printk("MARK 1 %u %u %s", tgid, tid, comm);
    bpf_trace_printk("MARK 2 %x %d %s", mode, len, path);
    return 0;
}

// kprobes on __x64_sys_chmod, __x64_sys_fchmodat. In a function named syscall__..., bcc turns each parameter
// after ctx into a read of PT_REGS_PARM1, 2, ... of the registers the syscall saved: its arguments
int syscall__chmod(struct pt_regs *ctx, const char __user *filename, umode_t mode) { return report(filename, mode); }
int syscall__fchmodat(struct pt_regs *ctx, int dfd, const char __user *filename, umode_t mode) {
    return report(filename, mode);
}

// tracepoints: the arguments by name
int on_fchmodat(struct tracepoint__syscalls__sys_enter_fchmodat *args) { return report(args->filename, args->mode); }
#ifdef __NR_chmod                // x86-64 has chmod(); arm64 has only fchmodat()
int on_chmod(struct tracepoint__syscalls__sys_enter_chmod *args) { return report(args->filename, args->mode); }
#endif
"""

# %% tags=["parameters"]
NOTEBOOK_ARGS = ["--duration", "10"]

# %% [markdown]
# ## Load, then attach the hook chosen — 加载，然后附加所选的钩子

# %%
args = plumbing.parse(plumbing.parser("Trace chmod: process and thread id, comm, mode and path."), NOTEBOOK_ARGS)
b = BPF(text=plumbing.marked(program))
calls = plumbing.syscalls("chmod", "fchmodat")   # arm64 has no chmod(): its programs call fchmodat()
plumbing.attach(args.probe, b,
                kprobe=lambda: [b.attach_kprobe(event=b.get_syscall_fnname(c), fn_name="syscall__" + c) for c in calls],
                tracepoint=lambda: [b.attach_tracepoint(tp="syscalls:sys_enter_" + c, fn_name="on_" + c) for c in calls])

# %% [markdown]
# ## Print: join each event's two lines — 打印：把每个事件的两行拼起来
# Both lines of an event come from one run of the program on one CPU, in order; the trace line's own pid
# (the thread id) pairs them.
#
# 一个事件的两行来自同一个 CPU 上程序的同一次运行，按顺序到达；用跟踪行自己的 pid（线程 ID）把它们配对。

# %%
first = {}   # thread id -> (tgid, tid, comm) from an event's first line


def print_chmod():
    task, pid, cpu, _, ts, msg = b.trace_fields()
    fields = plumbing.ours(msg, 4)   # [b"1", tgid, tid, comm] or [b"2", mode, length, path]
    if fields and fields[0] == b"1":
        first[pid] = fields[1:]
    elif fields and pid in first:
        tgid, tid, comm = first.pop(pid)
        mode, length, path = int(fields[1], 16), int(fields[2]), fields[3]
        plumbing.show("%-7d %-7d %-16s %04o %s" % (int(tgid), int(tid), plumbing.printable(comm), mode,
                                                   plumbing.string(path, length, 256)))


plumbing.run(b, args, "chmod", print_chmod, trace_pipe=True,
             header="%-7s %-7s %-16s %-4s %s" % ("TGID", "TID", "COMM", "MODE", "PATH"))
