#!/usr/bin/env python3
# %% [markdown]
# # Lesson 002 — the program format: C in a Python string, an explicit attach, trace_fields()
# # 第 002 课：程序的写法——Python 字符串里的 C、显式附加、trace_fields()
#
# The "Hello, World!" of lesson 001, written the way bcc's tools are: a multi-line C program, attached by
# an explicit call, and each trace line split into fields.
# Run it: `sudo python3 lessons/002_program_format/program_format.py`
#
# 第 001 课的 "Hello, World!"，按 bcc 工具的写法来写：多行 C 程序、显式调用来附加、把每行跟踪输出拆成字段。
# 运行：`sudo python3 lessons/002_program_format/program_format.py`

# %%
import plumbing   # ../plumbing.py, the same for every lesson: arguments, errors, Ctrl-C, clean-up
from bcc import BPF

# %% [markdown]
# ## The program: C text in a Python string — 程序：Python 字符串里的 C 代码
# An ordinary function name, so bcc attaches nothing by itself: the script chooses where it runs.
# No "\n" at the end of the message: since Linux 5.9 the kernel ends each bpf_trace_printk line itself.
#
# 函数用的是普通名字，所以 bcc 不会自己附加它：由脚本决定它在哪里运行。
# 消息末尾不写 "\n"：从 Linux 5.9 起，内核会自己结束每一行 bpf_trace_printk 输出。

# %%
program = r"""
int hello(void *ctx) {
    bpf_trace_printk("Hello, World!");
    return 0;
}
"""

# %% tags=["parameters"]
NOTEBOOK_ARGS = ["--duration", "10"]

# %% [markdown]
# ## Load, then attach explicitly — 先加载，再显式附加
# `BPF(text=...)` compiles and loads. `attach_kprobe()` or `attach_tracepoint()` then chooses the hook: one C
# function fits both, because it uses only the context pointer, not what it points to.
#
# `BPF(text=...)` 编译并加载；然后由 `attach_kprobe()` 或 `attach_tracepoint()` 选择钩子。同一个 C 函数
# 两种方式都能附加，因为它只用到上下文指针本身，不读它指向的内容。

# %%
args = plumbing.parse(plumbing.parser("Hello, World! on clone(), attached explicitly."), NOTEBOOK_ARGS)
b = BPF(text=program)
clone = b.get_syscall_fnname("clone")      # __x64_sys_clone on x86-64, __arm64_sys_clone on arm64
plumbing.attach(args.probe, b,
                kprobe=lambda: b.attach_kprobe(event=clone, fn_name="hello"),
                tracepoint=lambda: b.attach_tracepoint(tp="syscalls:sys_enter_clone", fn_name="hello"))

# %% [markdown]
# ## Read the trace pipe, one line split into fields — 读取 trace_pipe，把一行拆成字段
# `trace_fields()` waits for the next line and returns (task, pid, cpu, flags, timestamp, message). task is
# the name the kernel remembers for pid, and pid is the caller's *thread* id (lesson 004).
#
# `trace_fields()` 等待下一行，返回 (task, pid, cpu, flags, timestamp, message)。task 是内核为这个 pid
# 记住的名字，pid 是调用者的*线程* id（第 004 课）。

# %%
def print_line():
    task, pid, cpu, flags, ts, msg = b.trace_fields()
    plumbing.show("%-18.6f %-16s %-7d %-3d %s" % (ts, plumbing.printable(task), pid, cpu, plumbing.printable(msg)))


plumbing.run(b, args, "clone()", print_line, trace_pipe=True,
             header="%-18s %-16s %-7s %-3s %s" % ("TIME(s)", "COMM", "PID", "CPU", "MESSAGE"))
