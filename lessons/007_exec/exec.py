#!/usr/bin/env python3
# %% [markdown]
# # Lesson 007 — exec: watch every program that starts — 第 007 课：exec，看着每个程序启动
#
# One line per successful exec, from the `sched:sched_process_exec` tracepoint: the process id, the new
# program's name (comm) and the file that was executed, read from the tracepoint's own arguments.
#
# 每次成功的 exec 打印一行，来自 `sched:sched_process_exec` tracepoint：进程 id、新程序的名字（comm）
# 和被执行的文件，都从这个 tracepoint 自己的参数中读取。
#
#     sudo python3 lessons/007_exec/exec.py [--duration SECONDS] [--count N]
#
# Needs: root, bcc (python3-bpfcc), kernel headers, tracepoints, perf buffer. No kprobe: this tracepoint is
# a stable kernel interface present on every kernel the lessons run on, so there is nothing to fall back to.
#
# 需要：root、bcc（python3-bpfcc）、内核头文件、tracepoint、perf 缓冲区。不用 kprobe：这个 tracepoint
# 是稳定的内核接口，本课程运行的每个内核上都有，所以无需退路。

# %%
import argparse
import os
import signal
import sys
import time

try:
    from bcc import BPF
except ImportError:
    sys.exit("error: cannot import bcc: install the distro's package (sudo apt install python3-bpfcc) and run "
             "with /usr/bin/python3; never 'pip install bcc', which is an unrelated project")

# %% [markdown]
# ## The BPF program — BPF 程序
# `TRACEPOINT_PROBE(sched, sched_process_exec)` gives `args`, a struct bcc builds from the tracepoint's
# format file (/sys/kernel/tracing/events/sched/sched_process_exec/format):
#
#     field:__data_loc char[] filename;  offset:8;  size:4;
#     field:pid_t pid;                   offset:12; size:4;
#     field:pid_t old_pid;               offset:16; size:4;
#
# A `__data_loc` field is not the string: bcc names it `data_loc_filename`, an int whose low 16 bits are
# where the string starts, counted from the start of the record, and whose high 16 bits are its length.
#
# `TRACEPOINT_PROBE(sched, sched_process_exec)` 提供 `args`，这是 bcc 根据该 tracepoint 的 format 文件生成的结构体。
# `__data_loc` 字段不是字符串本身：bcc 把它命名为 `data_loc_filename`，这个整数的低 16 位是字符串
# 从记录开头算起的起始位置，高 16 位是它的长度。

# %%
program = r"""
#include <linux/sched.h>
#define FNAME_LEN 256

struct exec_t {
    u32 pid, old_pid, fname_size;
    char comm[TASK_COMM_LEN];
    char filename[FNAME_LEN];
};
BPF_PERF_OUTPUT(execs);

TRACEPOINT_PROBE(sched, sched_process_exec) {
    struct exec_t e = {};
    e.pid = args->pid;                  // the process that exec'd ...
    e.old_pid = args->old_pid;          // ... and the thread that called exec (differs when not the main thread)
    bpf_get_current_comm(&e.comm, sizeof(e.comm));   // after exec: the new program's name
    unsigned short start = args->data_loc_filename & 0xFFFF;
    e.fname_size = args->data_loc_filename >> 16;        // with its final NUL byte
    bpf_probe_read_kernel_str(e.filename, sizeof(e.filename), (char *)args + start);
    execs.perf_submit(args, &e, sizeof(e));
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
parser = argparse.ArgumentParser(description="Print one line per program that starts (successful exec).")
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


def printable(raw, truncated=False):
    """Bytes from the kernel -> text that cannot forge or colour a line (as in lesson 002); "..." if cut."""
    out = []
    for ch in raw.decode("utf-8", "surrogateescape"):
        if "\udc80" <= ch <= "\udcff":
            out.append("\\x%02x" % (ord(ch) - 0xDC00))
        elif ch == "\\" or not ch.isprintable():
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out) + ("..." if truncated else "")


# %% [markdown]
# ## Load and attach — 加载并挂载
# TRACEPOINT_PROBE functions are attached by bcc as soon as the program is loaded (like 001's kprobe__).
#
# TRACEPOINT_PROBE 函数在程序加载时就由 bcc 挂载（与第 001 课的 kprobe__ 一样）。

# %%
try:
    b = BPF(text=program)
except Exception as e:
    if "sched_process_exec" in str(e):
        sys.exit("error: cannot attach tracepoint sched:sched_process_exec: %s" % str(e).splitlines()[0])
    sys.exit("error: bcc could not compile the program (kernel headers missing? run: sudo make setup, "
             "then lessons/000_doctor/doctor.py)")
print("attached: tracepoint sched:sched_process_exec")

# %% [markdown]
# ## Print one line per event — 每个事件打印一行
# A filename longer than the buffer was cut (the tracepoint told its full size): it is marked with "...".
# At the end the probe is detached (`b.cleanup()`): a notebook's kernel lives on after the cell.
#
# 比缓冲区长的文件名被截断了（tracepoint 告诉了它的完整长度）：用 "..." 标出。
# 结束时卸下探针（`b.cleanup()`）：notebook 的内核在单元格结束后仍在运行。

# %%
stopping = False


def stop(signum, frame):
    # Only a flag, checked by the loop below. Raising KeyboardInterrupt here (as lessons 001-002 do) fails
    # when the signal lands while a perf buffer callback runs: ctypes prints the exception and swallows it.
    global stopping
    stopping = True


printed, lost = 0, 0


def on_exec(cpu, data, size):
    global printed
    if args.count is not None and printed >= args.count:
        return               # one poll can deliver several events: print no more than --count
    e = b["execs"].event(data)
    thread = "" if e.old_pid == e.pid else " (exec by thread %d)" % e.old_pid
    print("%-8s %-7d %-16s %s%s" % (time.strftime("%H:%M:%S"), e.pid, printable(e.comm),
                                    printable(e.filename, e.fname_size > len(e.filename) + 1), thread), flush=True)
    printed += 1


def on_lost(count):
    global lost
    lost += count
    print("lost %d events (perf buffer full)" % count, flush=True)


# Ctrl-C (and Jupyter's interrupt), kill, and the --duration alarm
handlers = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
if args.duration:
    signal.setitimer(signal.ITIMER_REAL, args.duration)
try:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})   # a Ctrl-C held back: now
    b["execs"].open_perf_buffer(on_exec, lost_cb=on_lost)
    print("Tracing exec() ... Hit Ctrl-C to end.")
    print("%-8s %-7s %-16s %s" % ("TIME", "PID", "COMM", "FILENAME"), flush=True)
    while not stopping and (args.count is None or printed < args.count):
        b.perf_buffer_poll(timeout=100)   # returns after 100 ms at most, or at once when a signal arrives
    print("lost %d events in total" % lost)   # the lost callback runs only when a later event arrives
finally:   # leave nothing behind: no alarm, the probe detached (a second Ctrl-C does nothing: see stop)
    signal.setitimer(signal.ITIMER_REAL, 0)
    b.cleanup()   # now, not only when Python exits (bcc's atexit): a notebook's kernel lives on
    if "ipykernel" in sys.modules:   # a notebook's kernel lives on: its handlers back (a script just ends)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
