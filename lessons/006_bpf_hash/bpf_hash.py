#!/usr/bin/env python3
# %% [markdown]
# # Lesson 006 — BPF_HASH: a map that the kernel writes and Python reads
# # 第 006 课：BPF_HASH——内核写、Python 读的映射表
#
# Two classic uses of a hash map, one C program:
# - `--mode timing` (default): the time between two calls of a syscall by the same process, printed when it
#   is under a second (bcc's sync_timing.py: "sync() called twice within a second").
# - `--mode count`: calls per process, counted in the kernel; Python prints and clears the map each interval.
#
# 一个 C 程序，哈希表的两种经典用法：`--mode timing`（默认）测同一进程两次调用某个系统调用的间隔，
# 不到一秒就打印；`--mode count` 在内核里按进程计数，Python 每隔一段时间打印并清空映射表。
#
#     sudo python3 lessons/006_bpf_hash/bpf_hash.py [--mode timing|count] [--syscall sync] [--interval SECONDS]
#                                                   [--probe auto|kprobe|tracepoint] [--duration SECONDS] [--count N]
#
# Needs: root, bcc (python3-bpfcc), kernel headers, kprobes or the syscalls tracepoints, perf buffer (timing).
# In another terminal: `python3 -c "import os, time; os.sync(); time.sleep(0.3); os.sync()"` (timing: one
# process calling sync() twice; two `sync` commands are two processes), or `--mode count --syscall read`.
#
# 需要：root、bcc（python3-bpfcc）、内核头文件、kprobes 或 syscalls tracepoint、perf 缓冲区（timing 模式）。
# 在另一个终端里让同一个进程调用两次 sync()，或用 `--mode count --syscall read`。

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
# ## The BPF program: two maps — BPF 程序：两个映射表
# `BPF_HASH(last)` uses every default: u64 key, u64 value, 10240 entries. Here the key is a process id
# (tgid) and the value the time of its previous call. `counts` spells out all four parameters.
# Neither function reads the syscall's arguments, so each attaches to a kprobe or a tracepoint alike.
#
# `BPF_HASH(last)` 全用默认值：u64 键、u64 值、10240 项。这里键是进程 id（tgid），值是它上一次调用的时间。
# `counts` 把四个参数都写了出来。两个函数都不读系统调用的参数，所以挂到 kprobe 或 tracepoint 上都一样。

# %%
program = r"""
#include <linux/sched.h>

struct key_t { u32 tgid; char comm[TASK_COMM_LEN]; };
struct interval_t { u64 delta_ns; u32 tgid; char comm[TASK_COMM_LEN]; };

BPF_HASH(last);                                // tgid -> time of its previous call, in ns since boot
BPF_HASH(counts, struct key_t, u64, 10240);    // (tgid, comm) -> number of calls
BPF_PERF_OUTPUT(intervals);

int on_call_timing(void *ctx) {
    u64 tgid = bpf_get_current_pid_tgid() >> 32, now = bpf_ktime_get_ns();
    u64 *then = last.lookup(&tgid);            // a pointer into the map, or NULL: check before reading
    if (then && now - *then < 1000000000) {
        struct interval_t iv = {};             // zeroed: the padding is sent to user space too
        iv.delta_ns = now - *then;
        iv.tgid = tgid;
        bpf_get_current_comm(&iv.comm, sizeof(iv.comm));
        intervals.perf_submit(ctx, &iv, sizeof(iv));
    }
    last.update(&tgid, &now);                  // insert, or overwrite the previous time
    return 0;
}

int on_process_exit(void *ctx) {               // sched:sched_process_exit runs for every thread that ends
    u64 id = bpf_get_current_pid_tgid(), tgid = id >> 32;
    if ((u32)id == tgid)                       // the main thread: the process is gone, so is its entry;
        last.delete(&tgid);                    // without this the map fills up and update() fails
    return 0;
}

int on_call_count(void *ctx) {
    struct key_t key = {};                     // zeroed: hash keys are compared byte by byte
    key.tgid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(&key.comm, sizeof(key.comm));
    counts.increment(key);                     // value += 1, creating it at 0 first
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
parser = argparse.ArgumentParser(description="Time between two calls of a syscall per process, or count calls per process.")
parser.add_argument("--mode", choices=["timing", "count"], default="timing")
parser.add_argument("--syscall", default="sync", help="the syscall to watch (default: sync)")
parser.add_argument("--interval", type=float, default=1.0, metavar="SECONDS", help="count mode: print every SECONDS")
parser.add_argument("--probe", choices=["auto", "kprobe", "tracepoint"], default="auto",
                    help="auto: a kprobe on the syscall, or its tracepoint when kprobes cannot attach")
parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")
parser.add_argument("--count", type=int, metavar="N", help="stop after N lines (timing) or N printouts (count)")
args = parser.parse_args(NOTEBOOK_ARGS if "ipykernel" in sys.modules else None)
for name in ("duration", "count", "interval"):
    if getattr(args, name) is not None and not 0 < getattr(args, name) < 1e9:   # nan and inf are not < 1e9
        parser.error("--%s must be a positive number, under 1e9" % name)
if not (args.syscall.isascii() and args.syscall.isidentifier() and len(args.syscall) <= 64):
    parser.error("--syscall must be the name of a system call, such as sync or getppid")   # it goes into paths
if os.geteuid() != 0:
    sys.exit("error: loading BPF programs needs root: sudo python3 " + sys.argv[0])
if "ipykernel" not in sys.modules:   # a script: `| head` closing the pipe ends it quietly, as it ends cat
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # Ctrl-C or SIGTERM while it starts (bcc's compile takes seconds on a slow machine, and no signal stops
    # it) is held back until the reading loop's handler is in place, which then ends the run cleanly.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
TRACEFS = next((d for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing") if os.path.exists(d + "/trace_pipe")), "")


def is_syscall(name):
    """A syscalls tracepoint or a syscall entry point (sys_NAME, __x64_sys_NAME, ...) of this kernel has the name."""
    if os.path.exists("%s/events/syscalls/sys_enter_%s" % (TRACEFS, name)):
        return True
    with open("/proc/kallsyms") as f:
        return any(line.rstrip("\n").rpartition(" ")[2] in ("sys_" + name, "__x64_sys_" + name, "__arm64_sys_" + name)
                   for line in f)


def kernel_has_kprobes():
    # tracefs lists kprobe_events only when the kernel was built with kprobes (CONFIG_KPROBE_EVENTS).
    return os.path.exists(TRACEFS + "/kprobe_events")


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


# %% [markdown]
# ## Load, attach: the syscall's kprobe or tracepoint; in timing mode also the process-exit tracepoint
# ## 加载、挂载：系统调用的 kprobe 或 tracepoint；timing 模式下还有进程退出的 tracepoint

# %%
# Before compiling: a typo gets one line, not the compiler's warnings first.
if not is_syscall(args.syscall):
    sys.exit("error: '%s' is not a syscall of this kernel (no tracepoint syscalls:sys_enter_%s, no entry point in "
             "/proc/kallsyms)" % (args.syscall, args.syscall))
try:
    b = BPF(text=program)
except Exception:
    sys.exit("error: bcc could not compile the program (kernel headers missing? run: sudo make setup, "
             "then lessons/000_doctor/doctor.py)")
fn, tp = "on_call_" + args.mode, "syscalls:sys_enter_" + args.syscall
attached = None
if args.probe in ("auto", "kprobe"):
    event = b.get_syscall_fnname(args.syscall).decode()     # e.g. __x64_sys_sync
    if not kernel_has_kprobes():
        if args.probe == "kprobe":
            sys.exit("error: --probe kprobe: this kernel has no kprobes (no kprobe_events in tracefs: "
                     "CONFIG_KPROBES is off); use --probe tracepoint")
    else:
        try:
            b.attach_kprobe(event=event, fn_name=fn)
            attached = "kprobe " + event
        except Exception as e:
            if args.probe == "kprobe":
                sys.exit("error: cannot attach kprobe %s: %s" % (event, str(e).splitlines()[0]))
            print("kprobe %s failed; falling back to the tracepoint" % event)
if attached is None:
    if not os.path.exists("%s/events/syscalls/sys_enter_%s" % (TRACEFS, args.syscall)):
        sys.exit("error: no tracepoint %s: is '%s' a syscall of this kernel?" % (tp, args.syscall))
    try:
        b.attach_tracepoint(tp=tp, fn_name=fn)
    except Exception as e:
        sys.exit("error: cannot attach tracepoint %s: %s" % (tp, str(e).splitlines()[0]))
    attached = "tracepoint " + tp
print("attached: " + attached)
if args.mode == "timing":
    try:
        b.attach_tracepoint(tp="sched:sched_process_exit", fn_name="on_process_exit")
    except Exception as e:
        sys.exit("error: cannot attach tracepoint sched:sched_process_exit: %s" % str(e).splitlines()[0])
    print("attached: tracepoint sched:sched_process_exit")

# %% [markdown]
# ## Print — 打印
# timing: each interval arrives through the perf buffer (lesson 005). count: every interval Python walks the
# map with `items()` and empties it with `clear()`; calls counted between those two steps are lost.
# At the end the probes are detached (`b.cleanup()`): a notebook's kernel lives on after the cell.
#
# timing：每个间隔经由 perf 缓冲区送来（第 005 课）。count：每隔一段时间，Python 用 `items()` 遍历映射表，
# 再用 `clear()` 清空；在这两步之间计入的调用会丢失。
# 结束时卸下探针（`b.cleanup()`）：notebook 的内核在单元格结束后仍在运行。

# %%
stopping = False


def stop_events(what):
    """Detach the probe that makes the events ("kprobe NAME" / "tracepoint CATEGORY:NAME"): under a storm a poll
    returns only once the buffer is empty, so it may never return while events keep coming (measured on 5.10
    under QEMU: 32 s of reading after Ctrl-C). b.cleanup() at the end detaches whatever is left."""
    kind, target = what.split(" ", 1)
    try:
        b.detach_kprobe(event=target) if kind == "kprobe" else b.detach_tracepoint(tp=target)
    except Exception:
        pass


def stop(signum, frame):
    # A flag, checked by the loop below, and no more events. Raising KeyboardInterrupt here (as lessons 001-002
    # do) fails when the signal lands while a perf buffer callback runs: ctypes prints it and swallows it.
    global stopping
    if not stopping:   # once: a second Ctrl-C changes nothing
        stopping = True
        stop_events(attached)


printed, lost = 0, 0


def on_interval(cpu, data, size):
    global printed
    if args.count is not None and printed >= args.count:
        return               # one poll can deliver several events: print no more than --count
    iv = b["intervals"].event(data)
    print("%-8s %-7d %12.3f %s" % (time.strftime("%H:%M:%S"), iv.tgid, iv.delta_ns / 1e6, printable(iv.comm)),
          flush=True)
    printed += 1


def on_lost(count):
    global lost
    lost += count
    print("lost %d events (perf buffer full)" % count, flush=True)


def print_counts():
    now = time.strftime("%H:%M:%S")
    rows = sorted(b["counts"].items(), key=lambda kv: -kv[1].value)
    b["counts"].clear()
    for k, v in rows:
        print("%-8s %-7d %12d %s" % (now, k.tgid, v.value, printable(k.comm)))
    sys.stdout.flush()


# Ctrl-C (and Jupyter's interrupt), kill, and the --duration alarm
handlers = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
if args.duration:
    signal.setitimer(signal.ITIMER_REAL, args.duration)
try:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})   # a Ctrl-C held back: now
    if args.mode == "timing":
        b["intervals"].open_perf_buffer(on_interval, lost_cb=on_lost)
        print("Tracing %s() twice within 1 s by the same process ... Hit Ctrl-C to end." % args.syscall)
        print("%-8s %-7s %12s %s" % ("TIME", "PID", "INTERVAL(ms)", "COMM"), flush=True)
    else:
        print("Tracing %s() calls per process, every %g s ... Hit Ctrl-C to end." % (args.syscall, args.interval))
        print("%-8s %-7s %12s %s" % ("TIME", "PID", "CALLS", "COMM"), flush=True)
    next_printout = time.monotonic() + args.interval
    while not stopping and (args.count is None or printed < args.count):
        if args.mode == "timing":
            b.perf_buffer_poll(timeout=100)   # returns after 100 ms at most, or at once when a signal arrives
        elif time.monotonic() < next_printout:
            time.sleep(0.05)
        else:
            print_counts()
            printed += 1
            next_printout += args.interval
    if args.mode == "count" and stopping:
        print_counts()       # what was counted since the last printout
    if args.mode == "timing":
        print("lost %d events in total" % lost)   # the lost callback runs only when a later event arrives
finally:   # leave nothing behind: no alarm, the probes detached (a second Ctrl-C does nothing: see stop)
    signal.setitimer(signal.ITIMER_REAL, 0)
    b.cleanup()   # now, not only when Python exits (bcc's atexit): a notebook's kernel lives on
    if "ipykernel" in sys.modules:   # a notebook's kernel lives on: its handlers back (a script just ends)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
