#!/usr/bin/env python3
# %% [markdown]
# # Lesson 007 — exec: watch every program that starts — 第 007 课：exec，看着每个程序启动
#
# One line per successful exec, from the tracepoint `sched:sched_process_exec`: the process id, the new
# program's name (comm) and the file executed, read from the tracepoint's own arguments. No kprobe: this
# tracepoint is a stable interface that every kernel the lessons run on has, so there is nothing to fall back to.
# Run it: `sudo python3 lessons/007_exec/exec.py`, then start programs in another terminal.
#
# 每次成功的 exec 打印一行，来自跟踪点 `sched:sched_process_exec`：进程 ID、新程序的名字（comm）和被执行的
# 文件，都从这个跟踪点自己的参数里读出。不用 kprobe：这个跟踪点是稳定的接口，本课程运行的每个内核上都有，
# 所以不需要回退。
# 运行：`sudo python3 lessons/007_exec/exec.py`，然后在另一个终端里启动程序。

# %%
import time
import plumbing   # ../plumbing.py, the same for every lesson: arguments, errors, Ctrl-C, clean-up
from bcc import BPF

# %% [markdown]
# ## The program — 程序
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
# `TRACEPOINT_PROBE(sched, sched_process_exec)` 提供 `args`，这是 bcc 根据该跟踪点的 format 文件
# （/sys/kernel/tracing/events/sched/sched_process_exec/format）生成的结构体，见上面三行。
# `__data_loc` 字段不是字符串本身：bcc 把它命名为 `data_loc_filename`，这个整数的低 16 位是字符串
# 从记录开头算起的起始位置，高 16 位是它的长度。

# %%
program = r"""
#define TASK_COMM_LEN 16
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

# %% tags=["parameters"]
NOTEBOOK_ARGS = ["--duration", "10"]

# %% [markdown]
# ## Load, and so attach — 加载，也就附加上了
# A `TRACEPOINT_PROBE` function is attached by bcc as soon as the program loads, as lesson 001's `kprobe__` was.
#
# `TRACEPOINT_PROBE` 函数在程序加载时就由 bcc 附加上，和第 001 课的 `kprobe__` 一样。

# %%
args = plumbing.parse(plumbing.parser("Print one line per program that starts (a successful exec).", probes=()),
                      NOTEBOOK_ARGS)
b = BPF(text=program)

# %% [markdown]
# ## Print one line per event — 每个事件打印一行
# A filename longer than the buffer was cut (the tracepoint told its full size): "..." marks it.
#
# 比缓冲区长的文件名被截断了（跟踪点给出了它的完整长度），用 "..." 标出。

# %%
def print_exec(cpu, data, size):
    e = b["execs"].event(data)
    thread = "" if e.old_pid == e.pid else " (exec by thread %d)" % e.old_pid
    plumbing.show("%-8s %-7d %-16s %s%s" % (time.strftime("%H:%M:%S"), e.pid, plumbing.printable(e.comm),
                                            plumbing.printable(e.filename, e.fname_size > len(e.filename) + 1), thread))


b["execs"].open_perf_buffer(print_exec, lost_cb=plumbing.lost)
plumbing.run(b, args, "exec()", lambda: b.perf_buffer_poll(timeout=100),
             header="%-8s %-7s %-16s %s" % ("TIME", "PID", "COMM", "FILENAME"))
