#!/usr/bin/env python3
# %% [markdown]
# # Lesson 001 — Hello, World! from the kernel — 第 001 课：来自内核的 "Hello, World!"
#
# Prints "Hello, World!" each time a process calls the clone() system call (most often: a fork).
#
# 每当有进程调用 clone() 系统调用（最常见的是 fork）时，打印一行 "Hello, World!"。
#
#     sudo python3 lessons/001_hello/hello.py [--probe auto|kprobe|tracepoint] [--duration SECONDS]
#
# Needs: root, bcc (python3-bpfcc), kernel headers, and either kprobes or the syscalls tracepoints.
# In another terminal, run anything that forks (`python3 -c 'import os; os.fork()'`) to see lines.
#
# 需要：root、bcc（python3-bpfcc）、内核头文件，以及 kprobes 或 syscalls tracepoint。
# 在另一个终端里运行任何会 fork 的程序，就能看到输出。
#
# The seed of this lesson is bcc's one-line hello world:
#
# 本课的种子是 bcc 的一行版 hello world：
#
#     BPF(text='int kprobe__sys_clone(void *ctx) { bpf_trace_printk("Hello, World!\\n"); return 0; }').trace_print()
#
# Below it is taught as it is, then made to run on kernels without kprobes too.
#
# 下面先按原样讲解它，再让它在没有 kprobes 的内核上也能运行。

# %%
import argparse
import os
import signal
import sys

try:
    from bcc import BPF
except ImportError:
    sys.exit("error: cannot import bcc: install the distro's package (sudo apt install python3-bpfcc) and run "
             "with /usr/bin/python3; never 'pip install bcc', which is an unrelated project")

# %% [markdown]
# ## The BPF programs — BPF 程序
# The seed's program. The name is the whole trick: a function called `kprobe__<kernel function>` is
# attached by bcc, as soon as the program is loaded, to a kprobe on that function. `sys_clone` is
# rewritten by bcc to this kernel's name for the clone syscall (e.g. `__x64_sys_clone`).
# `bpf_trace_printk` writes a line into the kernel's shared trace buffer; `trace_print()` reads it back.
#
# 种子程序的诀窍全在名字上：名为 `kprobe__<内核函数>` 的函数一经加载，bcc 就把它挂载到该函数的 kprobe 上；
# bcc 把 `sys_clone` 改写成本内核中 clone 系统调用的名字（如 `__x64_sys_clone`）。
# `bpf_trace_printk` 向内核共享的 trace 缓冲区写一行，`trace_print()` 再把它读回来。

# %%
KPROBE_PROGRAM = r'int kprobe__sys_clone(void *ctx) { bpf_trace_printk("Hello, World!\n"); return 0; }'

# The same program for kernels without kprobes: the stable tracepoint at the entry of clone().
# TRACEPOINT_PROBE(category, event) is bcc's naming shortcut for tracepoints, as kprobe__ is for kprobes.
TRACEPOINT_PROGRAM = r'TRACEPOINT_PROBE(syscalls, sys_enter_clone) { bpf_trace_printk("Hello, World!\n"); return 0; }'

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
parser = argparse.ArgumentParser(description="Print Hello, World! each time a process calls clone().")
parser.add_argument("--probe", choices=["auto", "kprobe", "tracepoint"], default="auto",
                    help="auto: the seed's kprobe, or the tracepoint when this kernel cannot attach kprobes")
parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")
args = parser.parse_args(NOTEBOOK_ARGS if "ipykernel" in sys.modules else None)
if args.duration is not None and not 0 < args.duration < 1e9:   # nan and inf are not < 1e9 either
    parser.error("--duration must be a positive number of seconds, under 1e9")
if os.geteuid() != 0:
    sys.exit("error: loading BPF programs needs root: sudo python3 " + sys.argv[0])
if "ipykernel" not in sys.modules:   # a script: `| head` closing the pipe ends it quietly, as it ends cat
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # Ctrl-C or SIGTERM while it starts (bcc's compile takes seconds on a slow machine, and no signal stops
    # it) is held back until the reading loop's handler is in place, which then ends the run cleanly.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def kernel_has_kprobes():
    # tracefs lists kprobe_events only when the kernel was built with kprobes (CONFIG_KPROBE_EVENTS).
    return any(os.path.exists(d + "/kprobe_events") for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"))


def load(program):
    try:
        return BPF(text=program)   # compiles, loads, and (thanks to the names) attaches
    except Exception as e:     # bcc raises a plain Exception for compile and attach failures
        first_line = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "compile" in first_line:
            sys.exit("error: bcc could not compile the program (kernel headers missing? run: sudo make setup, "
                     "then lessons/000_doctor/doctor.py)")
        raise RuntimeError(first_line)


# %% [markdown]
# ## Load and attach: the kprobe if we can, else the tracepoint — 加载并挂载：能用 kprobe 就用，否则用 tracepoint

# %%
b = None
if args.probe in ("auto", "kprobe"):
    if not kernel_has_kprobes():
        if args.probe == "kprobe":
            sys.exit("error: --probe kprobe: this kernel has no kprobes (no kprobe_events in tracefs: "
                     "CONFIG_KPROBES is off); use --probe tracepoint")
    else:
        try:
            b = load(KPROBE_PROGRAM)
            print("attached: kprobe %s" % b.get_syscall_fnname("clone").decode())
        except RuntimeError as e:
            if args.probe == "kprobe":
                sys.exit("error: cannot attach the kprobe: %s" % e)
            print("kprobe failed (%s); falling back to the tracepoint" % e)
if b is None:
    try:
        b = load(TRACEPOINT_PROGRAM)
    except RuntimeError as e:
        sys.exit("error: cannot attach tracepoint syscalls:sys_enter_clone: %s" % e)
    print("attached: tracepoint syscalls:sys_enter_clone")

# %% [markdown]
# ## Print — 打印
# `trace_print()` reads /sys/kernel/tracing/trace_pipe forever and prints each line as it is. That buffer
# is shared by every BPF program on the machine and may hold old lines; when it overflows, the kernel
# says so with a line `CPU:N [LOST M EVENTS]`; see the note. At the end the probe is detached
# (`b.cleanup()`): a notebook's kernel lives on after the cell.
#
# `trace_print()` 不停地读取 /sys/kernel/tracing/trace_pipe，原样打印每一行。这个缓冲区由机器上所有 BPF
# 程序共享，可能留有旧行；溢出时内核会打印一行 `CPU:N [LOST M EVENTS]`，见笔记。
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
stopping = False
handlers = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
if args.duration:
    signal.setitimer(signal.ITIMER_REAL, args.duration)

print("Tracing clone() ... Hit Ctrl-C to end.", flush=True)
try:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})   # a Ctrl-C held back: now
    b.trace_print()
except KeyboardInterrupt:
    pass
finally:   # leave nothing behind: no alarm, the probe detached (a second Ctrl-C does nothing: see stop)
    signal.setitimer(signal.ITIMER_REAL, 0)
    b.cleanup()   # now, not only when Python exits (bcc's atexit): a notebook's kernel lives on
    if "ipykernel" in sys.modules:   # a notebook's kernel lives on: its handlers back (a script just ends)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
