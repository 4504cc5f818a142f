#!/usr/bin/env python3
# %% [markdown]
# # Lesson 002 — the program format: C in a Python string, explicit attach, trace_fields()
# # 第 002 课：程序的写法——Python 字符串里的 C、显式挂载、trace_fields()
#
# The same "Hello, World!" on clone() as lesson 001, written the way real bcc tools are written:
# a multi-line C program, attached by an explicit call, and trace lines split into fields.
#
# 与第 001 课相同的 clone() 上的 "Hello, World!"，但按真正的 bcc 工具的方式来写：
# 多行 C 程序、显式调用挂载、把 trace 行拆成字段。
#
#     sudo python3 lessons/002_program_format/program_format.py [--probe auto|kprobe|tracepoint]
#                                                             [--duration SECONDS] [--count N]
#
# Needs: root, bcc (python3-bpfcc), kernel headers, and either kprobes or the syscalls tracepoints.
#
# 需要：root、bcc（python3-bpfcc）、内核头文件，以及 kprobes 或 syscalls tracepoint。

# %%
import argparse
import glob
import os
import signal
import sys

try:
    from bcc import BPF
except ImportError:
    sys.exit("error: cannot import bcc: install the distro's package (sudo apt install python3-bpfcc) and run "
             "with /usr/bin/python3; never 'pip install bcc', which is an unrelated project")

# %% [markdown]
# ## The BPF program: C text in a Python string — BPF 程序：Python 字符串里的 C 代码
# The function has an ordinary name, so bcc attaches nothing by itself: we choose below where it runs.
# No "\n" at the end of the message: this kernel ends each bpf_trace_printk line itself (see the note).
#
# 函数用的是普通名字，所以 bcc 不会自动挂载它：下面由我们选择它在哪里运行。
# 消息末尾没有 "\n"：这个内核会自己结束每一行 bpf_trace_printk 输出（见笔记）。

# %%
program = r"""
int hello(void *ctx) {
    bpf_trace_printk("Hello, World!");
    return 0;
}
"""

# %% [markdown]
# ## Arguments — 参数
# A script reads its command line. In a notebook sys.argv belongs to Jupyter, so the lesson takes
# `NOTEBOOK_ARGS` instead; `--duration` ends the reading cell, so that "Run All" ends too.
#
# 作为脚本时读取命令行；在 notebook 里 sys.argv 属于 Jupyter，所以改用 `NOTEBOOK_ARGS`。
# `--duration` 让读取单元格按时结束，"Run All" 也就能结束。

# %% tags=["parameters"]
NOTEBOOK_ARGS = ["--duration", "10"]

# %%
parser = argparse.ArgumentParser(description="Hello, World! on clone(), attached explicitly, read with trace_fields().")
parser.add_argument("--probe", choices=["auto", "kprobe", "tracepoint"], default="auto",
                    help="auto: a kprobe on the clone syscall, or its tracepoint when kprobes cannot attach")
parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")
parser.add_argument("--count", type=int, metavar="N", help="stop after N lines")
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


def kernel_has_kprobes():
    # tracefs lists kprobe_events only when the kernel was built with kprobes (CONFIG_KPROBE_EVENTS).
    return os.path.exists(TRACEFS + "/kprobe_events")


def printable(raw):
    """Bytes from the kernel -> text that cannot forge or colour a line: control characters, backslashes
    and bytes that are not UTF-8 are shown escaped."""
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
# ## Load, then attach explicitly — 先加载，再显式挂载
# `BPF(text=...)` compiles and loads. `attach_kprobe` and `attach_tracepoint` choose the hook; the one C
# function can be attached either way, because it only uses the context pointer, not its contents.
#
# `BPF(text=...)` 编译并加载。`attach_kprobe` 和 `attach_tracepoint` 选择钩子；同一个 C 函数两种方式都能挂载，
# 因为它只用到上下文指针本身，不读其中的内容。

# %%
try:
    b = BPF(text=program)
except Exception:
    sys.exit("error: bcc could not compile the program (kernel headers missing? run: sudo make setup, "
             "then lessons/000_doctor/doctor.py)")

attached = None
if args.probe in ("auto", "kprobe"):
    clone_fn = b.get_syscall_fnname("clone").decode()    # e.g. __x64_sys_clone on x86-64
    if not kernel_has_kprobes():
        if args.probe == "kprobe":
            sys.exit("error: --probe kprobe: this kernel has no kprobes (no kprobe_events in tracefs: "
                     "CONFIG_KPROBES is off); use --probe tracepoint")
    else:
        try:
            b.attach_kprobe(event=clone_fn, fn_name="hello")
            attached = "kprobe " + clone_fn
        except Exception as e:
            if args.probe == "kprobe":
                sys.exit("error: cannot attach kprobe %s: %s" % (clone_fn, str(e).splitlines()[0]))
            print("kprobe %s failed; falling back to the tracepoint" % clone_fn)
if attached is None:
    try:
        b.attach_tracepoint(tp="syscalls:sys_enter_clone", fn_name="hello")
    except Exception as e:
        sys.exit("error: cannot attach tracepoint syscalls:sys_enter_clone: %s" % str(e).splitlines()[0])
    attached = "tracepoint syscalls:sys_enter_clone"
print("attached: " + attached)

# %% [markdown]
# ## Read the trace pipe, one line split into fields — 读取 trace pipe，把一行拆成字段
# `trace_fields()` blocks until a line arrives and returns (task, pid, cpu, flags, timestamp, message).
# task is the kernel's remembered name for pid, and pid is the *thread* id of the caller. trace_fields() skips
# the kernel's `CPU:N [LOST M EVENTS]` lines: how many lines were lost, the script reads from tracefs.
# At the end the probe is detached (`b.cleanup()`): a notebook's kernel lives on after the cell.
#
# `trace_fields()` 阻塞到有一行到来，返回 (task, pid, cpu, flags, timestamp, message)。
# task 是内核为该 pid 记住的名字，pid 是调用者的*线程* id。trace_fields() 会跳过内核的
# `CPU:N [LOST M EVENTS]` 行，所以结束时脚本从 tracefs 读出丢失的行数。
# 结束时卸下探针（`b.cleanup()`）：notebook 的内核在单元格结束后仍在运行。

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
overruns_before = trace_overruns()
stopping = False
handlers = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
if args.duration:
    signal.setitimer(signal.ITIMER_REAL, args.duration)

print("Tracing clone() ... Hit Ctrl-C to end.")
print("%-18s %-16s %-7s %-3s %s" % ("TIME(s)", "COMM", "PID", "CPU", "MESSAGE"), flush=True)
lines = 0
try:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})   # a Ctrl-C held back: now
    while args.count is None or lines < args.count:
        task, pid, cpu, flags, ts, msg = b.trace_fields()
        if not isinstance(msg, bytes):
            continue   # bcc returns "Unknown" for a line it cannot split (the rest of a message holding a newline)
        print("%-18.6f %-16s %-7d %-3d %s" % (ts, printable(task), pid, cpu, printable(msg)), flush=True)
        lines += 1
except KeyboardInterrupt:
    pass
finally:   # leave nothing behind: no alarm, the probe detached (a second Ctrl-C does nothing: see stop)
    signal.setitimer(signal.ITIMER_REAL, 0)
    print("trace buffer overruns (lines lost, any program's): %d" % (trace_overruns() - overruns_before), flush=True)
    b.cleanup()   # now, not only when Python exits (bcc's atexit): a notebook's kernel lives on
    if "ipykernel" in sys.modules:   # a notebook's kernel lives on: its handlers back (a script just ends)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
