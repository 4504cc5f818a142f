#!/usr/bin/env python3
# %% [markdown]
# # Lesson 006 — BPF_HASH: a map the kernel writes and Python reads — 第 006 课：BPF_HASH——内核写、Python 读的映射
#
# Two classic uses of a hash map, in one C program:
# - `--mode timing` (default), bcc's sync_timing: a line when sync() is called twice within a second.
#   Try it: type `sync; sync` in another terminal.
# - `--mode count`: calls per process, counted in the kernel; Python prints and empties the map every second.
#   Try it: `--mode count --syscall read`.
#
# 一个 C 程序，哈希映射的两种经典用法：
# - `--mode timing`（默认），即 bcc 的 sync_timing：一秒之内 sync() 被调用两次时打印一行。
#   试一试：在另一个终端里输入 `sync; sync`。
# - `--mode count`：在内核里按进程计数，Python 每秒打印一次并清空映射。试一试：`--mode count --syscall read`。

# %%
import time
import plumbing   # ../plumbing.py, the same for every lesson: arguments, errors, Ctrl-C, clean-up
from bcc import BPF

# %% [markdown]
# ## The program: two maps — 程序：两个映射
# `BPF_HASH(last)` takes every default: a u64 key, a u64 value, 10240 entries. As in the seed there is one
# key, 0: the time of the last call, by anyone. `counts` spells out all its parameters: the key is a struct.
#
# `BPF_HASH(last)` 全用默认值：u64 键、u64 值、10240 项。和原始示例一样只有一个键 0：最近一次调用的时间，
# 不论是谁调用的。`counts` 把参数都写了出来：它的键是一个结构体。

# %%
program = r"""
#define TASK_COMM_LEN 16

struct key_t { u32 tgid; char comm[TASK_COMM_LEN]; };
struct interval_t { u64 delta_ns; u32 tgid; char comm[TASK_COMM_LEN]; };

BPF_HASH(last);                               // key 0 -> the time of the last call, in ns since boot
BPF_HASH(counts, struct key_t, u64, 10240);   // (tgid, comm) -> number of calls
BPF_PERF_OUTPUT(intervals);

int timing(void *ctx) {
    u64 key = 0, now = bpf_ktime_get_ns();
    u64 *then = last.lookup(&key);            // a pointer into the map, or NULL: check before reading
    if (then && now - *then < 1000000000) {
        struct interval_t iv = {};            // zeroed: the padding goes to user space too
        iv.delta_ns = now - *then;
        iv.tgid = bpf_get_current_pid_tgid() >> 32;
        bpf_get_current_comm(&iv.comm, sizeof(iv.comm));
        intervals.perf_submit(ctx, &iv, sizeof(iv));
    }
    last.update(&key, &now);                  // insert, or overwrite the previous time
    return 0;
}

int count(void *ctx) {
    struct key_t key = {};                    // zeroed: keys are compared byte by byte, padding included
    key.tgid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(&key.comm, sizeof(key.comm));
    counts.increment(key);                    // += 1, from 0 for a new key
    return 0;
}
"""

# %% tags=["parameters"]
NOTEBOOK_ARGS = ["--duration", "10"]

# %% [markdown]
# ## Load, attach to the syscall — 加载，附加到系统调用上
# Neither function reads the syscall's arguments, so either attaches to a kprobe or to a tracepoint alike.
#
# 两个函数都不读系统调用的参数，所以附加到 kprobe 或跟踪点上都一样。

# %%
parser = plumbing.parser("sync() twice within a second (timing), or calls per process (count).")
parser.add_argument("--mode", choices=["timing", "count"], default="timing")
parser.add_argument("--syscall", type=plumbing.syscall_name, default="sync", help="the syscall to watch (sync)")
parser.add_argument("--interval", type=plumbing.positive(float), default=1.0, metavar="SECONDS",
                    help="count mode: print and empty the map every SECONDS")
args = plumbing.parse(parser, NOTEBOOK_ARGS)
b = BPF(text=program)
plumbing.attach(args.probe, b,
                kprobe=lambda: b.attach_kprobe(event=b.get_syscall_fnname(args.syscall), fn_name=args.mode),
                tracepoint=lambda: b.attach_tracepoint(tp="syscalls:sys_enter_" + args.syscall, fn_name=args.mode))

# %% [markdown]
# ## Print — 打印
# timing: each interval comes through a perf buffer (lesson 005). count: every interval Python reads the
# whole map with `items()`, then empties it with `clear()`; a call counted between the two is lost.
#
# timing：每个间隔经由 perf 缓冲区送来（第 005 课）。count：Python 每隔一段时间用 `items()` 读出整个映射，
# 再用 `clear()` 清空；在这两步之间计入的调用会丢失。

# %%
def print_interval(cpu, data, size):
    iv = b["intervals"].event(data)
    plumbing.show("%-8s %-7d %12.3f %s" % (time.strftime("%H:%M:%S"), iv.tgid, iv.delta_ns / 1e6,
                                           plumbing.printable(iv.comm)))


def print_counts():
    plumbing.sleep(args.interval)             # until the next printout, or until Ctrl-C
    rows = sorted(b["counts"].items(), key=lambda kv: -kv[1].value)
    b["counts"].clear()
    for k, v in rows:
        plumbing.show("%-8s %-7d %12d %s" % (time.strftime("%H:%M:%S"), k.tgid, v.value, plumbing.printable(k.comm)))


if args.mode == "timing":
    b["intervals"].open_perf_buffer(print_interval, lost_cb=plumbing.lost)
    plumbing.run(b, args, "%s() twice within a second" % args.syscall, lambda: b.perf_buffer_poll(timeout=100),
                 header="%-8s %-7s %12s %s" % ("TIME", "PID", "INTERVAL(ms)", "COMM"))
else:
    plumbing.run(b, args, "%s() calls per process, every %g s" % (args.syscall, args.interval), print_counts,
                 header="%-8s %-7s %12s %s" % ("TIME", "PID", "CALLS", "COMM"))
