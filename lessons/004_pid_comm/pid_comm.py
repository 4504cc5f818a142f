#!/usr/bin/env python3
# %% [markdown]
# # Lesson 004 — who called, and with what: pid and tgid, comm, user memory, the argument registers
# # 第 004 课：谁在调用、带着什么：pid 与 tgid、comm、用户内存、参数寄存器
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
# `report()` asks the kernel who is running and copies the path out of the caller's memory. The hooks differ
# only in where they find the two arguments: a kprobe on the syscall's entry function and the raw tracepoint
# `sys_enter` both get the user registers the syscall saved, and read `PT_REGS_PARM1..3` of *that* pt_regs;
# a tracepoint has the arguments by name.
#
# `report()` 向内核询问当前是谁在运行，并把路径从调用者的内存里复制出来。几种钩子的区别只在于从哪里找到
# 这两个参数：系统调用入口函数上的 kprobe 和原始跟踪点 `sys_enter` 拿到的都是系统调用保存下来的用户寄存器，
# 从*那个* pt_regs 里读 `PT_REGS_PARM1..3`；跟踪点则按名字拿到参数。

# %%
program = r"""
#include <uapi/linux/ptrace.h>   // struct pt_regs and PT_REGS_PARM1..5
#include <linux/sched.h>         // TASK_COMM_LEN (16)
#include <asm/unistd.h>          // __NR_chmod, __NR_fchmodat: this architecture's syscall numbers
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

// chmod(filename, mode) has them in PARM1 and PARM2, fchmodat(dfd, filename, mode) in PARM2 and PARM3.
// `regs` is the syscall's saved pt_regs, in kernel memory: each value is copied out.
static int report_saved(struct pt_regs *regs, int fchmodat) {
    unsigned long filename = 0, mode = 0;
    bpf_probe_read_kernel(&filename, sizeof(filename), fchmodat ? &PT_REGS_PARM2(regs) : &PT_REGS_PARM1(regs));
    bpf_probe_read_kernel(&mode, sizeof(mode), fchmodat ? &PT_REGS_PARM3(regs) : &PT_REGS_PARM2(regs));
    return report((const char __user *)filename, mode);
}

// kprobes on __x64_sys_chmod, __x64_sys_fchmodat, ...: their one argument is the saved pt_regs (Linux >= 4.17)
int on_sys_chmod(struct pt_regs *ctx) { return report_saved((struct pt_regs *)PT_REGS_PARM1(ctx), 0); }
int on_sys_fchmodat(struct pt_regs *ctx) { return report_saved((struct pt_regs *)PT_REGS_PARM1(ctx), 1); }

// tracepoints: the arguments by name
int on_fchmodat(struct tracepoint__syscalls__sys_enter_fchmodat *args) { return report(args->filename, args->mode); }
#ifdef __NR_chmod                // x86-64 has chmod(); arm64 has only fchmodat()
int on_chmod(struct tracepoint__syscalls__sys_enter_chmod *args) { return report(args->filename, args->mode); }
#endif

// the raw tracepoint sys_enter(struct pt_regs *regs, long id) fires for every syscall: filter first
int on_sys_enter(struct bpf_raw_tracepoint_args *ctx) {
    long nr = ctx->args[1];
#ifdef __NR_chmod
    if (nr == __NR_chmod)
        return report_saved((struct pt_regs *)ctx->args[0], 0);
#endif
    return nr == __NR_fchmodat ? report_saved((struct pt_regs *)ctx->args[0], 1) : 0;
}
"""

# %% tags=["parameters"]
NOTEBOOK_ARGS = ["--duration", "10"]

# %% [markdown]
# ## Load, then attach the hook chosen — 加载，然后附加所选的钩子

# %%
args = plumbing.parse(plumbing.parser("Trace chmod: process and thread id, comm, mode and path.",
                                      probes=("kprobe", "tracepoint", "raw_tracepoint")), NOTEBOOK_ARGS)
b = BPF(text=plumbing.marked(program))
calls = plumbing.syscalls("chmod", "fchmodat")   # arm64 has no chmod(): its programs call fchmodat()
plumbing.attach(args.probe, b,
                kprobe=lambda: [b.attach_kprobe(event=b.get_syscall_fnname(c), fn_name="on_sys_" + c) for c in calls],
                tracepoint=lambda: [b.attach_tracepoint(tp="syscalls:sys_enter_" + c, fn_name="on_" + c) for c in calls],
                raw_tracepoint=lambda: b.attach_raw_tracepoint(tp="sys_enter", fn_name="on_sys_enter"))

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
