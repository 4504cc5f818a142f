#!/usr/bin/env python3
# %% [markdown]
# # Lesson 001 — Hello, World! from the kernel — 第 001 课：来自内核的 "Hello, World!"
#
# Prints "Hello, World!" each time a process calls the clone() system call (a fork, most often).
# Run it: `sudo python3 lessons/001_hello/hello.py`, then start any program in another terminal.
#
# 每当有进程调用 clone() 系统调用（最常见的是 fork）时，打印一行 "Hello, World!"。
# 运行：`sudo python3 lessons/001_hello/hello.py`，然后在另一个终端里随便启动一个程序。

# %%
import plumbing   # ../plumbing.py, the same for every lesson: arguments, errors, Ctrl-C, clean-up
from bcc import BPF

# %% [markdown]
# ## The program — 程序
# The seed, bcc's one-line hello world. The function's name is the trick: bcc attaches a function called
# `kprobe__<kernel function>` to a kprobe on that function as soon as it loads the program, and it turns
# `sys_clone` into this kernel's name for the clone syscall (`__x64_sys_clone`, `__arm64_sys_clone`).
# `bpf_trace_printk()` writes a line into the kernel's trace buffer. The second program is the same on
# the tracepoint at the entry of clone(), for kernels that cannot attach kprobes.
#
# 原始示例就是 bcc 的一行版 hello world。诀窍在函数名上：名为 `kprobe__<内核函数>` 的函数，bcc 一加载程序
# 就把它附加到该函数的 kprobe（内核探针）上，并把 `sys_clone` 换成本内核里 clone 系统调用的名字
# （`__x64_sys_clone`、`__arm64_sys_clone`）。`bpf_trace_printk()` 向内核的跟踪缓冲区写一行。
# 第二个程序做同样的事，但用 clone() 入口的跟踪点（tracepoint），给不能附加 kprobe 的内核用。

# %%
program = r'int kprobe__sys_clone(void *ctx) { bpf_trace_printk("Hello, World!\n"); return 0; }'
tracepoint_program = r'TRACEPOINT_PROBE(syscalls, sys_enter_clone) { bpf_trace_printk("Hello, World!\n"); return 0; }'

# %% tags=["parameters"]
NOTEBOOK_ARGS = ["--duration", "10"]

# %% [markdown]
# ## Load, and so attach — 加载，也就附加上了
# `BPF(text=...)` compiles the C text, loads it into the kernel and attaches it. `--probe auto` (the default)
# takes the kprobe, or the tracepoint where the kernel has no kprobes; the script says which it attached.
#
# `BPF(text=...)` 编译这段 C 代码、把它加载进内核并附加。`--probe auto`（默认）用 kprobe，
# 内核没有 kprobe 时改用跟踪点；脚本会说出它附加了哪一个。

# %%
args = plumbing.parse(plumbing.parser("Print Hello, World! each time a process calls clone().", count=False),
                      NOTEBOOK_ARGS)
b = plumbing.attach(args.probe,
                    kprobe=lambda: BPF(text=program),
                    tracepoint=lambda: BPF(text=tracepoint_program))

# %% [markdown]
# ## Print — 打印
# `trace_print()` reads the trace buffer through /sys/kernel/tracing/trace_pipe and prints each line as it is,
# until Ctrl-C. That buffer is shared by every BPF program on the machine (notes/output-paths.md).
#
# `trace_print()` 通过 /sys/kernel/tracing/trace_pipe 读取跟踪缓冲区，原样打印每一行，直到按下 Ctrl-C。
# 这个缓冲区由机器上所有 BPF 程序共享（见 notes/output-paths.zh.md）。

# %%
plumbing.run(b, args, "clone()", b.trace_print, trace_pipe=True)
