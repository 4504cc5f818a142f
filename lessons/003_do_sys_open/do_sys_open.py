#!/usr/bin/env python3
# %% [markdown]
# # Lesson 003 — do_sys_open: trace every file open, with the file name — 第 003 课：跟踪每一次打开文件
#
# Prints one line per open(), openat() or openat2() on the machine: the caller, the open flags and the path.
#
# 机器上每一次 open()、openat()、openat2() 打印一行：调用者、打开 flags 和路径。
#
#     sudo python3 lessons/003_do_sys_open/do_sys_open.py [--probe auto|kprobe|tracepoint]
#                                                       [--duration SECONDS] [--count N]
#
# Needs: root, bcc (python3-bpfcc), kernel headers, and either kprobes or the syscalls tracepoints.
# The new idea: to trace something, find the kernel function behind it, then read its arguments.
#
# 新的想法：要跟踪一件事，先找到它背后的内核函数，再读取它的参数。

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
# Every open goes through one internal function: `do_sys_openat2()` since Linux 5.6, `do_sys_open()` before.
# A kprobe there sees open, openat and openat2 at once. Its second argument, in the register that
# PT_REGS_PARM2 names, is the file name: a pointer into the caller's memory, copied with
# bpf_probe_read_user_str(). Where kprobes are absent, the syscall tracepoints give the same arguments.
# Lines go to the shared trace buffer (lesson 002); MARK, unique to this run, tells ours from others'.
#
# 每次打开都经过一个内部函数：5.6 起是 do_sys_openat2()，之前是 do_sys_open()。它的第二个参数（PT_REGS_PARM2）
# 是指向调用者内存的文件名，用 bpf_probe_read_user_str() 复制；没有 kprobes 时用系统调用 tracepoint。

# %%
PROGRAM = r"""
#include <uapi/linux/ptrace.h>   // struct pt_regs: the registers at the probe
#define NAME_LEN 256

static int report(const char __user *filename, u64 flags) {
    char path[NAME_LEN];
    // Copies up to the NUL, at most NAME_LEN bytes; returns the length with the NUL, or a negative error.
    int len = bpf_probe_read_user_str(path, sizeof(path), filename);
    bpf_trace_printk("MARK %llx %d %s", flags, len, path);   // at most 3 values, one %s (kernels < 5.13)
    return 0;
}

// kprobes: do_sys_openat2(int dfd, const char __user *filename, struct open_how *how)
int on_do_sys_openat2(struct pt_regs *ctx) {
    u64 flags = 0;   // how->flags, the first member of struct open_how, in kernel memory
    bpf_probe_read_kernel(&flags, sizeof(flags), (void *)PT_REGS_PARM3(ctx));
    return report((const char __user *)PT_REGS_PARM2(ctx), flags);
}

// do_sys_open(int dfd, const char __user *filename, int flags, umode_t mode)
int on_do_sys_open(struct pt_regs *ctx) {
    return report((const char __user *)PT_REGS_PARM2(ctx), (u32)PT_REGS_PARM3(ctx));
}

// tracepoints: bcc builds each args struct from /sys/kernel/tracing/events/syscalls/<event>/format
#ifdef HAVE_sys_enter_open
int on_open(struct tracepoint__syscalls__sys_enter_open *args) { return report(args->filename, args->flags); }
#endif
#ifdef HAVE_sys_enter_openat
int on_openat(struct tracepoint__syscalls__sys_enter_openat *args) { return report(args->filename, args->flags); }
#endif
#ifdef HAVE_sys_enter_openat2
int on_openat2(struct tracepoint__syscalls__sys_enter_openat2 *args) {
    u64 flags = 0;   // here `how` still points into the caller's memory
    bpf_probe_read_user(&flags, sizeof(flags), args->how);
    return report(args->filename, flags);
}
#endif
"""
KPROBE_TARGETS = ["do_sys_openat2", "do_sys_open"]             # newest first
TRACEPOINTS = ["sys_enter_open", "sys_enter_openat", "sys_enter_openat2"]
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
parser = argparse.ArgumentParser(description="Trace every file open, with the file name.")
parser.add_argument("--probe", choices=["auto", "kprobe", "tracepoint"], default="auto",
                    help="auto: a kprobe on do_sys_openat2/do_sys_open, or the syscall tracepoints without kprobes")
parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")
parser.add_argument("--count", type=int, metavar="N", help="stop after N opens")
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


# %% [markdown]
# ## Load, then attach: the kprobe on the function this kernel has, else every open tracepoint it has
#
# 加载并挂载：本内核有哪个函数就在它上面挂 kprobe，否则挂上存在的每个 open tracepoint。

# %%
MARK = "open-" + secrets.token_hex(4)
tracepoints = [e for e in TRACEPOINTS if os.path.exists("%s/events/syscalls/%s/format" % (TRACEFS, e))]
try:
    b = BPF(text=PROGRAM.replace("MARK", MARK), cflags=["-DHAVE_" + event for event in tracepoints])
except Exception:
    sys.exit("error: bcc could not compile the program (kernel headers missing? run: sudo make setup, "
             "then lessons/000_doctor/doctor.py)")

attached = []
if args.probe in ("auto", "kprobe"):
    # tracefs lists kprobe_events only when the kernel was built with kprobes (CONFIG_KPROBE_EVENTS).
    if not os.path.exists(TRACEFS + "/kprobe_events"):
        if args.probe == "kprobe":
            sys.exit("error: --probe kprobe: this kernel has no kprobes (no kprobe_events in tracefs: "
                     "CONFIG_KPROBES is off); use --probe tracepoint")
    else:
        # /proc/kallsyms lists every symbol of the running kernel; available_filter_functions the traceable
        # functions (unreadable under kernel lockdown). The first target listed where we can look wins.
        with open("/proc/kallsyms") as f:
            listed = {fields[2] for fields in map(str.split, f) if len(fields) >= 3}
        try:
            with open(TRACEFS + "/available_filter_functions") as f:
                listed &= {line.split()[0] for line in f if line.strip()}
        except OSError:
            pass
        target = next((f for f in KPROBE_TARGETS if f in listed), None)
        try:
            if target is None:
                raise RuntimeError("neither %s is listed as traceable" % " nor ".join(KPROBE_TARGETS))
            b.attach_kprobe(event=target, fn_name="on_" + target)
            attached.append("kprobe " + target)
        except Exception as e:
            if args.probe == "kprobe":
                sys.exit("error: cannot attach a kprobe: %s" % str(e).splitlines()[0])
            print("kprobe failed (%s); falling back to the tracepoints" % str(e).splitlines()[0])
if not attached:
    if not tracepoints:
        sys.exit("error: this kernel has no syscalls:sys_enter_open* tracepoints (CONFIG_FTRACE_SYSCALLS off)")
    for event in tracepoints:
        try:
            b.attach_tracepoint(tp="syscalls:" + event, fn_name="on_" + event[len("sys_enter_"):])
        except Exception as e:
            sys.exit("error: cannot attach tracepoint syscalls:%s: %s" % (event, str(e).splitlines()[0]))
        attached.append("tracepoint syscalls:" + event)
for what in attached:
    print("attached: " + what)

# %% [markdown]
# ## Print: our lines only, the path escaped, truncation marked — 打印：只要自己的行，转义路径，标记截断
# The kernel sent (flags, len, path). A path is cut when the read filled the buffer (len == NAME_LEN), or when
# the trace line holds fewer bytes than were read: kernels before 5.13 print at most 63 bytes of a %s,
# and a newline in a file name ends the trace line. Both are shown with a trailing "...".
#
# 读满缓冲区，或 trace 行里的字节少于读到的（5.13 之前 %s 最多 63 字节；文件名里的换行会结束该行）时，
# 路径以 "..." 结尾。

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
overruns_before, others, shown = trace_overruns(), 0, 0
# the alarm and the handlers once trace_pipe is open: an error above leaves no alarm in a notebook's kernel
stopping = False
handlers = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
if args.duration:
    signal.setitimer(signal.ITIMER_REAL, args.duration)
print("Tracing opens ... Hit Ctrl-C to end.")
print("%-7s %-16s %-8s %s" % ("PID", "COMM", "FLAGS", "PATH"), flush=True)
try:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})   # a Ctrl-C held back: now
    while args.count is None or shown < args.count:
        task, pid, cpu, _, ts, msg = b.trace_fields()
        fields = msg.split(b" ", 3) if isinstance(msg, bytes) else []   # bcc returns "Unknown" for odd lines
        if fields[:1] != [MARK.encode()] or len(fields) < 3:
            others += 1       # another program's line, or the rest of a name that held a newline
            continue
        flags, length, path = int(fields[1], 16), int(fields[2]), fields[3] if len(fields) > 3 else b""
        if length < 0:
            name = "[cannot read the name: error %d]" % length
        else:
            name = printable(path) + ("..." if length >= NAME_LEN or len(path) < length - 1 else "")
        print("%-7d %-16s %08o %s" % (pid, printable(task), flags, name), flush=True)
        shown += 1
except KeyboardInterrupt:
    pass
finally:   # leave nothing behind: no alarm, the probes detached (a second Ctrl-C does nothing: see stop)
    signal.setitimer(signal.ITIMER_REAL, 0)
    print("lines from other programs skipped: %d; trace buffer overruns (lines lost, any program's): %d"
          % (others, trace_overruns() - overruns_before), flush=True)
    b.cleanup()   # now, not only when Python exits: a notebook's kernel lives on
    if "ipykernel" in sys.modules:   # a notebook's kernel lives on: its handlers back (a script just ends)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
