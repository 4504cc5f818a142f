#!/usr/bin/env python3
# %% [markdown]
# # Lesson 003 — do_sys_open: trace every file open, with its name — 第 003 课：跟踪每一次打开文件，连同文件名
#
# One line per open(), openat() or openat2() on the machine: the caller, the open flags and the path.
# The new idea: to trace something, find the kernel function that does it, then read its arguments.
# Run it: `sudo python3 lessons/003_do_sys_open/do_sys_open.py`
#
# 机器上每一次 open()、openat()、openat2() 打印一行：调用者、打开标志和路径。
# 新的想法：要跟踪一件事，先找到内核里做这件事的函数，再读它的参数。
# 运行：`sudo python3 lessons/003_do_sys_open/do_sys_open.py`

# %%
import plumbing   # ../plumbing.py, the same for every lesson: arguments, errors, Ctrl-C, clean-up
from bcc import BPF

# %% [markdown]
# ## The program — 程序
# Every open, openat and openat2 syscall goes through one function: `do_sys_openat2()` since Linux 5.6,
# `do_sys_open()` before. A kprobe there sees the three at once (not io_uring's opens, since 5.6: they call
# `do_filp_open()` directly). Its second argument (`PT_REGS_PARM2`) is the file name, a pointer into the
# caller's memory: `bpf_probe_read_user_str()` copies the string. Kernels without kprobes get the same two
# arguments from the syscall tracepoints, by name.
#
# open、openat、openat2 系统调用都要经过一个函数：Linux 5.6 起是 `do_sys_openat2()`，之前是 `do_sys_open()`。
# 在它上面附加一个 kprobe，就能同时看到这三种调用（io_uring 的打开看不到：5.6 起它直接调用 `do_filp_open()`）。
# 它的第二个参数（`PT_REGS_PARM2`）是文件名，一个指向调用者内存的指针，用 `bpf_probe_read_user_str()`
# 复制出这个字符串。没有 kprobe 的内核，从系统调用的跟踪点按名字拿到同样的两个参数。

# %%
program = r"""
#include <uapi/linux/ptrace.h>   // struct pt_regs: the registers at the probe
#define NAME_LEN 256

static int report(const char __user *filename, u64 flags) {
    char path[NAME_LEN];
    int len = bpf_probe_read_user_str(path, sizeof(path), filename);   // bytes with the NUL, or < 0
    bpf_trace_printk("MARK %llx %d %s", flags, len, path);   // MARK: this run's lines among everyone's
    return 0;
}

// kprobes: do_sys_openat2(int dfd, const char __user *filename, struct open_how *how)
int on_do_sys_openat2(struct pt_regs *ctx) {
    u64 flags = 0;                       // how->flags, the first member of struct open_how (kernel memory)
    bpf_probe_read_kernel(&flags, sizeof(flags), (void *)PT_REGS_PARM3(ctx));
    return report((const char __user *)PT_REGS_PARM2(ctx), flags);
}
// do_sys_open(int dfd, const char __user *filename, int flags, umode_t mode)
int on_do_sys_open(struct pt_regs *ctx) {
    return report((const char __user *)PT_REGS_PARM2(ctx), (u32)PT_REGS_PARM3(ctx));
}

// tracepoints: bcc builds `args` from /sys/kernel/tracing/events/syscalls/sys_enter_openat/format
int on_openat(struct tracepoint__syscalls__sys_enter_openat *args) { return report(args->filename, args->flags); }
int on_openat2(struct tracepoint__syscalls__sys_enter_openat2 *args) {
    u64 flags = 0;                       // here `how` points into the caller's memory
    bpf_probe_read_user(&flags, sizeof(flags), args->how);
    return report(args->filename, flags);
}
#ifdef HAVE_OPEN                         // x86-64 has open() too; arm64 has only openat() and openat2()
int on_open(struct tracepoint__syscalls__sys_enter_open *args) { return report(args->filename, args->flags); }
#endif
"""

# %% tags=["parameters"]
NOTEBOOK_ARGS = ["--duration", "10"]

# %% [markdown]
# ## Find the function, attach — 找到函数，附加
# `BPF.ksymname()` looks a name up in /proc/kallsyms, the running kernel's symbols: -1 when it is not there.
# The tracepoints are one per syscall: openat, openat2, and open where the architecture has it (not arm64).
#
# `BPF.ksymname()` 在 /proc/kallsyms（运行中内核的符号表）里查一个名字，查不到返回 -1。
# 跟踪点是每个系统调用一个：openat、openat2，以及架构有 open 时的 open（arm64 没有）。

# %%
args = plumbing.parse(plumbing.parser("Trace every file open, with the file name."), NOTEBOOK_ARGS)
opens = plumbing.syscalls("open", "openat", "openat2")
b = BPF(text=plumbing.marked(program), cflags=["-DHAVE_OPEN"] if "open" in opens else [])
function = next((f for f in ("do_sys_openat2", "do_sys_open") if BPF.ksymname(f) != -1), "do_sys_openat2")
plumbing.attach(args.probe, b,
                kprobe=lambda: b.attach_kprobe(event=function, fn_name="on_" + function),
                tracepoint=lambda: [b.attach_tracepoint(tp="syscalls:sys_enter_" + s, fn_name="on_" + s) for s in opens])

# %% [markdown]
# ## Print: this run's lines, the path escaped, a cut marked — 打印：只取本次运行的行，转义路径，标出截断
# `plumbing.ours()` keeps the lines that start with this run's MARK and splits them into the three values.
#
# `plumbing.ours()` 只留下以本次运行的 MARK 开头的行，并把它拆成三个值。

# %%
def print_open():
    task, pid, cpu, _, ts, msg = b.trace_fields()
    fields = plumbing.ours(msg, 3)
    if fields:
        flags, length, path = int(fields[0], 16), int(fields[1]), fields[2]
        plumbing.show("%-7d %-16s %08o %s" % (pid, plumbing.printable(task), flags, plumbing.string(path, length, 256)))


plumbing.run(b, args, "opens", print_open, trace_pipe=True,
             header="%-7s %-16s %-8s %s" % ("PID", "COMM", "FLAGS", "PATH"))
