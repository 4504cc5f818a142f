#!/usr/bin/env python3
# %% [markdown]
# # Lesson 004 — who called, and with what: pid/tgid, comm, user memory and the argument registers
# # 第 004 课：谁在调用、带着什么：pid/tgid、comm、用户内存和参数寄存器
#
# Prints one event per chmod of a file on the machine (chmod(), fchmodat(): os.chmod and coreutils chmod):
# the process (TGID), the thread (TID), its name (COMM), the new mode and the path.
#
# 机器上每一次 chmod（chmod()、fchmodat()）打印一个事件：进程（TGID）、线程（TID）、名字（COMM）、新的 mode 和路径。
#
#     sudo python3 lessons/004_pid_comm/pid_comm.py [--probe auto|kprobe|tracepoint|raw_tracepoint]
#                                                 [--duration SECONDS] [--count N]
#
# Needs: root, bcc (python3-bpfcc), kernel headers, and kprobes, the syscalls tracepoints or raw tracepoints.

# %%
import argparse
import glob
import os
import secrets
import signal
import sys

try:
    from bcc import BPF
except ImportError:
    sys.exit("error: cannot import bcc: install the distro's package (sudo apt install python3-bpfcc) and run "
             "with /usr/bin/python3; never 'pip install bcc', which is an unrelated project")

# %% [markdown]
# ## The BPF program — BPF 程序
# `report()` asks the kernel who is running and copies the path from the caller's memory. The hooks only
# differ in where they find the two arguments. The seed put a kprobe on `do_fchmodat()` and read
# PT_REGS_PARM2/3 of the call; on Linux 6.12 that kprobe attaches and never fires (the note shows the run), so
# this lesson probes the syscall entry points, which cannot be inlined. A kprobe there and the raw tracepoint
# `sys_enter` both reach the user registers the system call saved, and read PT_REGS_PARM1/2/3 of *that*
# pt_regs (kernel memory); a tracepoint gets the arguments by name.
#
# report() 询问当前运行者并从调用者内存复制路径。各钩子只是取参数的地方不同。种子在 do_fchmodat() 上挂 kprobe
# 读 PT_REGS_PARM2/3；在 6.12 上它能挂上却从不触发（见笔记），所以本课探测不会被内联的系统调用入口。那里的
# kprobe 和 raw tracepoint sys_enter 都拿到系统调用保存的用户寄存器，读其中的 PT_REGS_PARM1/2/3；tracepoint 按名字取参数。

# %%
PROGRAM = r"""
#include <uapi/linux/ptrace.h>   // struct pt_regs and PT_REGS_PARM1..5
#include <linux/sched.h>         // TASK_COMM_LEN (16)
#include <asm/unistd.h>          // __NR_chmod, __NR_fchmodat: this architecture's syscall numbers
#define NAME_LEN 256

static int report(const char __user *filename, u32 mode) {
    u64 id = bpf_get_current_pid_tgid();   // tgid in the upper 32 bits, thread id in the lower 32
    u32 tgid = id >> 32;                   // what user space calls the process id
    u32 tid = id;                          // truncation keeps the lower half: the thread id
    char comm[TASK_COMM_LEN];              // the task's name, NUL-terminated, at most 15 characters
    bpf_get_current_comm(&comm, sizeof(comm));
    char path[NAME_LEN];
    int len = bpf_probe_read_user_str(path, sizeof(path), filename);   // bytes copied with the NUL, or < 0
    // bpf_trace_printk takes at most 3 values and, before Linux 5.13, one %s: so two lines per event.
    bpf_trace_printk("MARK 1 %u %u %s", tgid, tid, comm);
    bpf_trace_printk("MARK 2 %x %d %s", mode, len, path);
    return 0;
}

// The syscall's own arguments, from the user registers it saved on entry. `regs` points to kernel memory:
// copy each one out with bpf_probe_read_kernel. chmod(filename, mode) has them in PARM1 and PARM2,
// fchmodat(dfd, filename, mode) in PARM2 and PARM3.
static int report_saved(struct pt_regs *regs, int is_fchmodat) {
    unsigned long filename = 0, mode = 0;
    bpf_probe_read_kernel(&filename, sizeof(filename), is_fchmodat ? &PT_REGS_PARM2(regs) : &PT_REGS_PARM1(regs));
    bpf_probe_read_kernel(&mode, sizeof(mode), is_fchmodat ? &PT_REGS_PARM3(regs) : &PT_REGS_PARM2(regs));
    return report((const char __user *)filename, mode);
}

// kprobes on the syscall entry points (__x64_sys_chmod, __x64_sys_fchmodat on x86-64): functions of their
// own that the syscall dispatcher calls, not inlined into it (they fired on 5.10, 6.1 and 6.12). Since
// Linux 4.17 their one argument, PT_REGS_PARM1 of the probe's own registers, is the pt_regs the syscall saved.
int on_sys_chmod(struct pt_regs *ctx) { return report_saved((struct pt_regs *)PT_REGS_PARM1(ctx), 0); }
int on_sys_fchmodat(struct pt_regs *ctx) { return report_saved((struct pt_regs *)PT_REGS_PARM1(ctx), 1); }

// tracepoints: the syscall's arguments by name
int on_chmod(struct tracepoint__syscalls__sys_enter_chmod *args) { return report(args->filename, args->mode); }
int on_fchmodat(struct tracepoint__syscalls__sys_enter_fchmodat *args) { return report(args->filename, args->mode); }

// raw tracepoint sys_enter(struct pt_regs *regs, long id): fires for every system call, so filter first
int on_sys_enter(struct bpf_raw_tracepoint_args *ctx) {
    long nr = ctx->args[1];
    if (nr != __NR_chmod && nr != __NR_fchmodat)
        return 0;
    return report_saved((struct pt_regs *)ctx->args[0], nr == __NR_fchmodat);
}
"""
NAME_LEN = 256

# %% [markdown]
# ## Arguments — 参数
# In a notebook sys.argv belongs to Jupyter, so the lesson takes `NOTEBOOK_ARGS` instead; `--duration`
# ends the reading cell, so that "Run All" ends too.
#
# 在 notebook 里 sys.argv 属于 Jupyter，所以改用 `NOTEBOOK_ARGS`；`--duration` 让读取单元格按时结束。

# %% tags=["parameters"]
NOTEBOOK_ARGS = ["--duration", "10"]

# %%
parser = argparse.ArgumentParser(description="Trace chmod: process and thread id, comm, mode and path.")
parser.add_argument("--probe", choices=["auto", "kprobe", "tracepoint", "raw_tracepoint"], default="auto",
                    help="auto: kprobes on the chmod and fchmodat syscalls, or their tracepoints without kprobes")
parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")
parser.add_argument("--count", type=int, metavar="N", help="stop after N events")
args = parser.parse_args(NOTEBOOK_ARGS if "ipykernel" in sys.modules else None)
if args.duration is not None and not 0 < args.duration < 1e9:   # nan and inf are not < 1e9 either
    parser.error("--duration must be a positive number of seconds, under 1e9")
if args.count is not None and args.count <= 0:
    parser.error("--count must be a positive number")
if os.geteuid() != 0:
    sys.exit("error: loading BPF programs needs root: sudo python3 " + sys.argv[0])
if "ipykernel" not in sys.modules:   # a script: `| head` closing the pipe ends it quietly, as it ends cat
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # Ctrl-C or SIGTERM while it starts (bcc's compile takes seconds on a slow machine, and no signal stops
    # it) is held back until the reading loop's handler is in place, which then ends the run cleanly.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
TRACEFS = next((d for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing") if os.path.exists(d + "/trace_pipe")),
               None)
if TRACEFS is None:
    sys.exit("error: tracefs is not mounted (no trace_pipe): sudo make setup, or: mount -t tracefs none /sys/kernel/tracing")


def printable(raw):
    """Bytes from the kernel -> text that cannot forge or colour a line (as in lesson 002)."""
    out = []
    for ch in raw.decode("utf-8", "surrogateescape"):
        if "\udc80" <= ch <= "\udcff":
            out.append("\\x%02x" % (ord(ch) - 0xDC00))
        elif ch == "\\" or not ch.isprintable():
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def trace_overruns():
    """Lines the kernel overwrote before anyone read them, summed over every CPU's part of the trace buffer."""
    total = 0
    for stats in glob.glob(TRACEFS + "/per_cpu/cpu*/stats"):
        with open(stats) as f:
            total += sum(int(line.split()[1]) for line in f if line.startswith("overrun:"))
    return total


def attach(kind):
    if kind == "kprobe":
        events = [b.get_syscall_fnname(name).decode() for name in ("chmod", "fchmodat")]   # __x64_sys_chmod, ...
        b.attach_kprobe(event=events[0], fn_name="on_sys_chmod")
        b.attach_kprobe(event=events[1], fn_name="on_sys_fchmodat")
        return ["kprobe " + event for event in events]
    if kind == "tracepoint":
        b.attach_tracepoint(tp="syscalls:sys_enter_chmod", fn_name="on_chmod")
        b.attach_tracepoint(tp="syscalls:sys_enter_fchmodat", fn_name="on_fchmodat")
        return ["tracepoint syscalls:sys_enter_chmod", "tracepoint syscalls:sys_enter_fchmodat"]
    b.attach_raw_tracepoint(tp="sys_enter", fn_name="on_sys_enter")
    return ["raw_tracepoint sys_enter"]


# %% [markdown]
# ## Load, then attach the hook chosen — 加载，然后挂载所选的钩子

# %%
MARK = "chmod-" + secrets.token_hex(4)   # unique to this run: tells our lines from other programs'
try:
    b = BPF(text=PROGRAM.replace("MARK", MARK))
except Exception:
    sys.exit("error: bcc could not compile the program (kernel headers missing? run: sudo make setup, "
             "then lessons/000_doctor/doctor.py)")
kind = args.probe
# tracefs lists kprobe_events only when the kernel was built with kprobes (CONFIG_KPROBE_EVENTS).
if kind in ("auto", "kprobe") and not os.path.exists(TRACEFS + "/kprobe_events"):
    if kind == "kprobe":
        sys.exit("error: --probe kprobe: this kernel has no kprobes (no kprobe_events in tracefs: "
                 "CONFIG_KPROBES is off); use --probe tracepoint or --probe raw_tracepoint")
    kind = "tracepoint"
try:
    attached = attach("kprobe" if kind == "auto" else kind)
except Exception as e:
    if kind != "auto":
        sys.exit("error: cannot attach the %s: %s" % (kind.replace("_", " "), str(e).splitlines()[0]))
    print("kprobe failed (%s); falling back to the tracepoints" % str(e).splitlines()[0])
    try:
        attached = attach("tracepoint")
    except Exception as e:
        sys.exit("error: cannot attach the tracepoints: %s" % str(e).splitlines()[0])
for what in attached:
    print("attached: " + what)

# %% [markdown]
# ## Print: join each event's two lines, escape the strings, mark cut paths — 打印：拼接每个事件的两行
# Both lines of an event come from one run of the program on one CPU, so they arrive in order; the trace
# line's own pid (the thread id) pairs them. An event whose other line was lost is counted, not shown.
#
# 一个事件的两行来自同一个 CPU 上的同一次运行，按顺序到达；用 trace 行自己的 pid（线程 id）配对。
# 丢了另一行的事件只计数，不显示。

# %%
def stop(signum, frame):
    # Ctrl-C, SIGTERM and the --duration alarm: an exception ends the wait in the read of trace_pipe.
    # Once only: a second Ctrl-C while the probes are being detached must not cut that short.
    global stopping
    if not stopping:
        stopping = True
        raise KeyboardInterrupt


try:
    b.trace_open()   # trace_pipe, opened before the ready line: on 6.18 a second reader gets EBUSY
except OSError as e:
    b.cleanup()   # detach before stopping here: a notebook's kernel lives on after the error
    sys.exit("error: cannot open %s: %s (is another program reading it?)" % (e.filename, e.strerror))
overruns_before, others, broken, shown, first_half = trace_overruns(), 0, 0, 0, {}
# the alarm and the handlers once trace_pipe is open: an error above leaves no alarm in a notebook's kernel
stopping = False
handlers = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
if args.duration:
    signal.setitimer(signal.ITIMER_REAL, args.duration)
print("Tracing chmod ... Hit Ctrl-C to end.")
print("%-7s %-7s %-16s %-4s %s" % ("TGID", "TID", "COMM", "MODE", "PATH"), flush=True)
try:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})   # a Ctrl-C held back: now
    while args.count is None or shown < args.count:
        task, pid, cpu, _, ts, msg = b.trace_fields()
        fields = msg.split(b" ", 4) if isinstance(msg, bytes) else []   # bcc returns "Unknown" for odd lines
        if fields[:1] != [MARK.encode()] or len(fields) < 4 or fields[1] not in (b"1", b"2"):
            others += 1       # another program's line, or the rest of a name that held a newline
            continue
        text = fields[4] if len(fields) > 4 else b""
        if fields[1] == b"1":
            broken += pid in first_half        # the second line of the previous event never came
            first_half[pid] = (int(fields[2]), int(fields[3]), text)
            continue
        if pid not in first_half:
            broken += 1
            continue
        tgid, tid, comm = first_half.pop(pid)
        mode, length = int(fields[2], 16), int(fields[3])
        if length < 0:
            path = "[cannot read the name: error %d]" % length
        else:   # cut: the read filled the buffer, or the trace line holds less (63 bytes before 5.13; a newline)
            path = printable(text) + ("..." if length >= NAME_LEN or len(text) < length - 1 else "")
        print("%-7d %-7d %-16s %04o %s" % (tgid, tid, printable(comm), mode, path), flush=True)
        shown += 1
except KeyboardInterrupt:
    pass
finally:   # leave nothing behind: no alarm, the probes detached (a second Ctrl-C does nothing: see stop)
    signal.setitimer(signal.ITIMER_REAL, 0)
    print("lines from other programs skipped: %d; events missing a line: %d; trace buffer overruns (lines "
          "lost, any program's): %d" % (others, broken + len(first_half), trace_overruns() - overruns_before),
          flush=True)
    b.cleanup()   # now, not only when Python exits: a notebook's kernel lives on
    if "ipykernel" in sys.modules:   # a notebook's kernel lives on: its handlers back (a script just ends)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
