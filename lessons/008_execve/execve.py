#!/usr/bin/env python3
# %% [markdown]
# # Lesson 008 — execve: an exec monitor, through a perf buffer — 第 008 课：execve——经由 perf 缓冲区的 exec 监视器
#
# The seed's execve monitor, in the shape of bcc's execsnoop: at the entry of every execve() call, one struct
# with the pid, the parent's pid, the caller's name, the file name and the first arguments goes to Python.
# Failed execs (a missing file) show too: this is the call, not its result (lesson 007 sees results).
# Run it: `sudo python3 lessons/008_execve/execve.py`, then run commands in another terminal.
#
# 原始示例里的 execve 监视器，写成 bcc 的 execsnoop 的样子：每次 execve() 调用的入口，把一个结构体送给 Python，
# 里面有 pid、父进程的 pid、调用者的名字、文件名和前几个参数。失败的 exec（文件不存在）也会显示：
# 这里看的是调用，不是结果（结果见第 007 课）。
# 运行：`sudo python3 lessons/008_execve/execve.py`，然后在另一个终端里执行命令。

# %%
import shlex
import plumbing   # ../plumbing.py, the same for every lesson: arguments, errors, Ctrl-C, clean-up
from bcc import BPF

# %% [markdown]
# ## The program — 程序
# The parent's pid is `task->real_parent->tgid`: two reads of kernel memory, at byte offsets inside
# `struct task_struct` that must be those of the running kernel. Compiled against headers of another kernel,
# `offsetof()` gives wrong ones, so the script passes the offsets it read from the kernel's BTF
# (notes/headers-btf.md). `args` is one flat array: bcc cannot decode `char[N][M]` in an event.
#
# 父进程的 pid 是 `task->real_parent->tgid`：两次读取内核内存，读的位置是 `struct task_struct` 里的字节偏移，
# 必须是运行中内核的偏移。用别的内核的头文件编译时，`offsetof()` 给出的偏移是错的，所以脚本把它从内核 BTF
# 里读到的偏移传进来（见 notes/headers-btf.zh.md）。`args` 是一个扁平数组：bcc 解码不了事件里的 `char[N][M]`。

# %%
program = r"""
#include <uapi/linux/ptrace.h>
#ifndef REAL_PARENT_OFFSET            // no offsets from BTF: the layout of the headers bcc compiles against
#include <linux/sched.h>
#define REAL_PARENT_OFFSET offsetof(struct task_struct, real_parent)
#define TGID_OFFSET offsetof(struct task_struct, tgid)
#endif
#define TASK_COMM_LEN 16
#define FNAME_LEN 128                 // the file name: at most 127 bytes shown, and the NUL
#define MAXARGS 5                     // the first 5 strings of argv ...
#define ARGLEN 48                     // ... 47 bytes each at most, and the NUL

struct event_t {
    u32 pid, ppid;
    u8 argc, args_cut, more_args, fname_cut;   // args_cut: bit i is set when argv[i] was cut
    char comm[TASK_COMM_LEN];
    char filename[FNAME_LEN + 1];              // one byte more than is shown: see read_str()
    char args[MAXARGS * (ARGLEN + 1)];         // argv[i] starts at args[i * (ARGLEN + 1)]
};
BPF_PERF_OUTPUT(events);

// bpf_probe_read_user_str() returns the buffer's size both for a string that just fits and for a longer one,
// cut. Into a buffer one byte longer than what is shown, only a longer string fills it: cut it to the shown size.
static __always_inline u8 read_str(char *dst, int size, const char __user *src) {
    if (bpf_probe_read_user_str(dst, size, src) < size)
        return 0;                              // the whole string (or an error: an empty one)
    dst[size - 2] = 0;
    return 1;
}

static int record(void *ctx, const char __user *filename, const char __user *const __user *argv) {
    struct event_t e = {};
    struct task_struct *task = (struct task_struct *)bpf_get_current_task(), *parent = NULL;
    e.pid = bpf_get_current_pid_tgid() >> 32;
    bpf_probe_read_kernel(&parent, sizeof(parent), (char *)task + REAL_PARENT_OFFSET);
    bpf_probe_read_kernel(&e.ppid, sizeof(e.ppid), (char *)parent + TGID_OFFSET);
    bpf_get_current_comm(&e.comm, sizeof(e.comm));            // the caller: exec has not happened yet
    e.fname_cut = read_str(e.filename, sizeof(e.filename), filename);
    #pragma unroll
    for (int i = 0; i < MAXARGS; i++) {
        const char *arg = NULL;
        bpf_probe_read_user(&arg, sizeof(arg), &argv[i]);     // argv: an array of pointers in user memory
        if (!arg)
            break;
        if (read_str(&e.args[i * (ARGLEN + 1)], ARGLEN + 1, arg))
            e.args_cut |= 1 << i;
        e.argc++;
    }
    if (e.argc == MAXARGS) {
        const char *arg = NULL;
        bpf_probe_read_user(&arg, sizeof(arg), &argv[MAXARGS]);
        e.more_args = arg != NULL;
    }
    events.perf_submit(ctx, &e, sizeof(e));
    return 0;
}

// kprobe: bcc's syscall__ prefix hands the function the syscall's own arguments
int syscall__execve(struct pt_regs *ctx, const char __user *filename, const char __user *const __user *argv) {
    return record(ctx, filename, argv);
}
int tp_execve(struct tracepoint__syscalls__sys_enter_execve *args) { return record(args, args->filename, args->argv); }
"""

# %% tags=["parameters"]
NOTEBOOK_ARGS = ["--duration", "10"]

# %% [markdown]
# ## The offsets, then load and attach — 先取偏移，再加载和附加
# `plumbing.btf_offsets()` reads them from /sys/kernel/btf/vmlinux; they enter the program as `-D` macros.
#
# `plumbing.btf_offsets()` 从 /sys/kernel/btf/vmlinux 读出偏移，再以 `-D` 宏的形式传进程序。

# %%
parser = plumbing.parser("Print pid, ppid, comm, filename and argv of every execve() call.")
parser.add_argument("--offsets", choices=["btf", "headers"], default="btf",
                    help="where task_struct's layout comes from (btf: the running kernel's, when it has BTF)")
args = plumbing.parse(parser, NOTEBOOK_ARGS)
offsets = plumbing.btf_offsets("task_struct", "real_parent", "tgid") if args.offsets == "btf" else None
b = BPF(text=program, cflags=["-D%s_OFFSET=%d" % (name.upper(), at) for name, at in (offsets or {}).items()])
plumbing.attach(args.probe, b,
                kprobe=lambda: b.attach_kprobe(event=b.get_syscall_fnname("execve"), fn_name="syscall__execve"),
                tracepoint=lambda: b.attach_tracepoint(tp="syscalls:sys_enter_execve", fn_name="tp_execve"))
print("ppid: " + ("task_struct.real_parent at byte %(real_parent)d, .tgid at byte %(tgid)d, from BTF" % offsets
                  if offsets else "task_struct layout from the kernel headers (right only if they match this kernel)"))

# %% [markdown]
# ## Print like execsnoop — 像 execsnoop 那样打印
# `b["events"].event(data)` turns the bytes into an object with the struct's fields. Arguments are printed
# shell-quoted, so `'a b'` is one argument; "..." marks a cut one.
#
# `b["events"].event(data)` 把字节变成带结构体字段的对象。参数按 shell 的规则加引号打印，所以 `'a b'`
# 是一个参数；被截断的参数用 "..." 标出。

# %%
def print_event(cpu, data, size):
    e = b["events"].event(data)
    flat = plumbing.raw_bytes(e, "args")   # e.args would stop at the first NUL, the end of argv[0]
    argv = [plumbing.printable(flat[i * 49:(i + 1) * 49].split(b"\0")[0], e.args_cut >> i & 1)   # ARGLEN + 1 bytes each
            for i in range(e.argc)]
    plumbing.show("%-16s %-7d %-7d %s %s%s" % (plumbing.printable(e.comm), e.pid, e.ppid,
                                               plumbing.printable(e.filename, e.fname_cut),
                                               " ".join(map(shlex.quote, argv)), " ..." if e.more_args else ""))


b["events"].open_perf_buffer(print_event, page_cnt=64, lost_cb=plumbing.lost)   # 64 pages per CPU, not 8
plumbing.run(b, args, "execve()", lambda: b.perf_buffer_poll(timeout=100),
             header="%-16s %-7s %-7s %s %s" % ("COMM", "PID", "PPID", "FILENAME", "ARGS"))
