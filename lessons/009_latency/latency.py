#!/usr/bin/env python3
# %% [markdown]
# # Lesson 009 — how long it took: entry/return pairs and a histogram — 第 009 课：花了多长时间：入口与返回配对，再画成直方图
#
# Times every `vfs_read()` from its entry (kprobe) to its return (kretprobe), as bcc's vfsreadlat does, and counts
# each duration in a log2 histogram of microseconds, printed every `--interval` seconds and at the end. Without
# kprobes, the same pair on the read syscall's tracepoints. Try it: `sudo python3 latency.py`, then `cat` a file.
#
# 给每次 `vfs_read()` 计时：从入口（kprobe）到返回（kretprobe），和 bcc 的 vfsreadlat 一样；每个耗时按微秒计入 log2
# 直方图，每 `--interval` 秒打印一次，结束时再打印一次。没有 kprobe 时，改用 read 系统调用的两个跟踪点配对。

# %%
import sys
import time
import plumbing   # ../plumbing.py, the same for every lesson: arguments, errors, Ctrl-C, clean-up
from bcc import BPF

# %% [markdown]
# ## The program: a hash carries the start to the return — 程序：用哈希映射把开始时间带到返回
# The entry stores the time under the thread's id; the return finds it, counts the difference, deletes it.
#
# 入口把时间存在线程 ID 下；返回时取出来，算出差值计入直方图，再删掉这一项。

# %%
program = r"""
BPF_HASH(start, u32, u64);    // thread id -> when its read began, in ns
BPF_HISTOGRAM(dist);          // log2 of the duration in microseconds -> how many reads

static int began(void) {
    u32 tid = bpf_get_current_pid_tgid();     // the low 32 bits: this thread's id
    u64 ts = bpf_ktime_get_ns();
    start.update(&tid, &ts);
    return 0;
}

static int ended(void) {
    u32 tid = bpf_get_current_pid_tgid();
    u64 *tsp = start.lookup(&tid);
    if (!tsp)                                 // it began before we attached
        return 0;
    u64 us = (bpf_ktime_get_ns() - *tsp) / 1000;
    dist.increment(bpf_log2l(us));            // bucket 15 holds 16384 to 32767 us
    start.delete(&tid);                       // done: the thread's next read starts afresh
    return 0;
}

int on_vfs_read(struct pt_regs *ctx) { return began(); }
int on_vfs_read_return(struct pt_regs *ctx) { return ended(); }
int on_sys_enter_read(void *ctx) { return began(); }
int on_sys_exit_read(void *ctx) { return ended(); }
"""

# %% tags=["parameters"]
NOTEBOOK_ARGS = ["--duration", "10"]

# %% [markdown]
# ## Load, attach both ends — 加载，两端都附加
# A pair: the kprobe and the kretprobe of `vfs_read`, or the tracepoints at the read syscall's entry and exit.
#
# 成对附加：`vfs_read` 的 kprobe 和 kretprobe，或者 read 系统调用入口和出口的两个跟踪点。

# %%
parser = plumbing.parser("How long each vfs_read() takes: a log2 histogram of microseconds.", count=False)
parser.add_argument("--interval", type=plumbing.positive(float), default=1.0, metavar="SECONDS",
                    help="print and empty the histogram every SECONDS (1)")
args = plumbing.parse(parser, NOTEBOOK_ARGS)
b = BPF(text=program)
plumbing.attach(args.probe, b,
                kprobe=lambda: (b.attach_kprobe(event="vfs_read", fn_name="on_vfs_read"),
                                b.attach_kretprobe(event="vfs_read", fn_name="on_vfs_read_return")),
                tracepoint=lambda: (b.attach_tracepoint(tp="syscalls:sys_enter_read", fn_name="on_sys_enter_read"),
                                    b.attach_tracepoint(tp="syscalls:sys_exit_read", fn_name="on_sys_exit_read")))

# %% [markdown]
# ## Print — 打印
# Every interval: the time, the histogram, then `clear()`; at the end, the calls whose return never came.
#
# 每个间隔：打印时间和直方图，再 `clear()`；结束时报告还没等到返回的调用有多少。

# %%
def print_histogram():
    plumbing.sleep(args.interval)             # until the next printout, or until Ctrl-C
    print(time.strftime("%H:%M:%S"))
    b["dist"].print_log2_hist("usecs")
    b["dist"].clear()
    sys.stdout.flush()


plumbing.run(b, args, "how long each read takes, every %g s" % args.interval, print_histogram,
             summary=lambda: print("reads with no return seen: %d" % len(b["start"])))
