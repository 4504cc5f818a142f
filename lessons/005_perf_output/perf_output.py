#!/usr/bin/env python3
# %% [markdown]
# # Lesson 005 — perf output: one record per event, on a channel of your own
# # 第 005 课：perf 输出：每个事件一条记录，走自己的通道
#
# The chmod events of lesson 004, delivered two ways: through a perf buffer (BPF_PERF_OUTPUT, the default) or
# the shared trace pipe (bpf_trace_printk), to compare. (The BPF ring buffer is this lesson's exercise.)
# Run it: `sudo python3 lessons/005_perf_output/perf_output.py [--output perf|trace_pipe] [--pid PID]`
#
# 第 004 课的 chmod 事件，两种送法：perf 缓冲区（BPF_PERF_OUTPUT，默认），或者共享的 trace_pipe
# （bpf_trace_printk），用来对比。（BPF 环形缓冲区留给本课的练习。）
# 运行：`sudo python3 lessons/005_perf_output/perf_output.py [--output perf|trace_pipe] [--pid PID]`

# %%
import plumbing   # ../plumbing.py, the same for every lesson: arguments, errors, Ctrl-C, clean-up
from bcc import BPF

# %% [markdown]
# ## The program: one event, two ways out — 程序：一个事件，两条出路
# A trace line holds three values (and one string before Linux 5.13): TGID and COMM do not fit. With a perf
# buffer the program fills a struct and submits it whole; Python gets the bytes, and bcc decodes them with the
# same struct. `--pid` compiles in a filter: other processes' events are never sent.
#
# 一行跟踪输出只放得下三个值（Linux 5.13 之前只能有一个字符串），放不下 TGID 和 COMM。用 perf 缓冲区时，
# 程序填好一个结构体整体提交；Python 拿到这些字节，bcc 再按同一个结构体解码。
# `--pid` 把一个过滤条件编译进程序：别的进程的事件根本不会发出来。

# %%
program = r"""
#include <uapi/linux/ptrace.h>
#include <asm/unistd.h>
#define TASK_COMM_LEN 16
#define NAME_LEN 256

struct event_t {
    u32 tgid, tid, mode;
    int len;                           // bytes of path copied, with the NUL; < 0: the read failed
    char comm[TASK_COMM_LEN];
    char path[NAME_LEN];
};
BPF_PERF_OUTPUT(events);               // a buffer per CPU, read by this program's user space only

static int report(void *ctx, const char __user *filename, u32 mode) {
#ifdef FILTER_TGID
    if (bpf_get_current_pid_tgid() >> 32 != FILTER_TGID)
        return 0;                      // --pid: another process's event is never sent, so never lost
#endif
#ifdef OUTPUT_trace_pipe
    char path[NAME_LEN];
    int len = bpf_probe_read_user_str(path, sizeof(path), filename);
    bpf_trace_printk("MARK %x %d %s", mode, len, path);     // a text line in the buffer everyone shares
#else
    struct event_t e = {};
    u64 id = bpf_get_current_pid_tgid();
    e.tgid = id >> 32;
    e.tid = id;
    e.mode = mode;
    bpf_get_current_comm(&e.comm, sizeof(e.comm));
    e.len = bpf_probe_read_user_str(e.path, sizeof(e.path), filename);
    events.perf_submit(ctx, &e, sizeof(e));                 // copied into this CPU's perf buffer
#endif
    return 0;
}

// kprobes and tracepoints as in lesson 004
int syscall__chmod(struct pt_regs *ctx, const char __user *filename, umode_t mode) { return report(ctx, filename, mode); }
int syscall__fchmodat(struct pt_regs *ctx, int dfd, const char __user *filename, umode_t mode) {
    return report(ctx, filename, mode);
}
int tp_fchmodat(struct tracepoint__syscalls__sys_enter_fchmodat *args) { return report(args, args->filename, args->mode); }
#ifdef __NR_chmod
int tp_chmod(struct tracepoint__syscalls__sys_enter_chmod *args) { return report(args, args->filename, args->mode); }
#endif
"""

# %% tags=["parameters"]
NOTEBOOK_ARGS = ["--duration", "10"]

# %% [markdown]
# ## Load, then attach as lesson 004 does — 加载，然后像第 004 课一样附加

# %%
parser = plumbing.parser("chmod events through a perf buffer or the trace pipe.")
parser.add_argument("--output", choices=["perf", "trace_pipe"], default="perf")
parser.add_argument("--pid", type=plumbing.positive(int), help="only this process's events, filtered in the kernel")
args = plumbing.parse(parser, NOTEBOOK_ARGS)
b = BPF(text=plumbing.marked(program),
        cflags=["-DOUTPUT_" + args.output] + (["-DFILTER_TGID=%d" % args.pid] if args.pid else []))
syscalls = plumbing.syscalls("chmod", "fchmodat")   # arm64: fchmodat only
plumbing.attach(args.probe, b,
                kprobe=lambda: [b.attach_kprobe(event=b.get_syscall_fnname(s), fn_name="syscall__" + s) for s in syscalls],
                tracepoint=lambda: [b.attach_tracepoint(tp="syscalls:sys_enter_" + s, fn_name="tp_" + s) for s in syscalls])

# %% [markdown]
# ## Print — 打印
# perf: `open_perf_buffer()` registers a function that `perf_buffer_poll()` calls once per record;
# `b["events"].event(data)` turns the bytes into an object with the struct's fields. The trace pipe: one line
# per event, with no TGID and the name the trace buffer remembers.
#
# perf：`open_perf_buffer()` 登记一个函数，`perf_buffer_poll()` 每收到一条记录就调用它一次；
# `b["events"].event(data)` 把字节变成带结构体字段的对象。trace_pipe：每个事件一行，没有 TGID，
# COMM 是跟踪缓冲区记住的名字。

# %%
def print_row(tgid, tid, comm, mode, length, path):
    plumbing.show("%-7s %-7d %-16s %04o %s" % (tgid, tid, plumbing.printable(comm), mode,
                                               plumbing.string(path, length, 256)))


def print_event(cpu, data, size):
    e = b["events"].event(data)
    print_row(e.tgid, e.tid, e.comm, e.mode, e.len, e.path)


def print_line():
    task, pid, cpu, _, ts, msg = b.trace_fields()
    fields = plumbing.ours(msg, 3)
    if fields:
        print_row("-", pid, task, int(fields[0], 16), int(fields[1]), fields[2])


if args.output == "perf":
    b["events"].open_perf_buffer(print_event, page_cnt=64, lost_cb=plumbing.lost)


def read():
    if args.output == "perf":
        b.perf_buffer_poll(timeout=100)    # waits at most 100 ms; calls print_event once per record
    else:
        print_line()


plumbing.run(b, args, "chmod, output via " + args.output, read, trace_pipe=args.output == "trace_pipe",
             header="%-7s %-7s %-16s %-4s %s" % ("TGID", "TID", "COMM", "MODE", "PATH"))
