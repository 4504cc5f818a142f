#!/usr/bin/env python3
# %% [markdown]
# # Lesson 010 — uprobes: a function of a library, at its entry and at its return — 第 010 课：uprobe——库函数的入口和返回
#
# Every call of libc's `getenv(name)`, in every process (or in one, `--pid PID`): a uprobe at its entry keeps the
# `name` pointer, a uretprobe at its return reads the name and the value `getenv` returned.
# Run it: `sudo python3 lessons/010_uprobes/uprobes.py`, then start programs in another terminal.
#
# libc 的 `getenv(name)` 的每一次调用，所有进程里的（或者 `--pid PID` 指定的一个进程里的）：入口处的 uprobe
# 记下 `name` 指针，返回处的 uretprobe 读出名字和 `getenv` 返回的值。
# 运行：`sudo python3 lessons/010_uprobes/uprobes.py`，然后在另一个终端里启动程序。

# %%
import plumbing   # ../plumbing.py, the same for every lesson: arguments, errors, Ctrl-C, clean-up
from bcc import BPF

# %% [markdown]
# ## The program — 程序
# In a uprobe, `ctx` holds the user-space registers of the calling thread: `PT_REGS_PARM1` is the first argument,
# `PT_REGS_RC` the return value. Both are addresses in that process's memory, read with `bpf_probe_read_user_str`.
#
# 在 uprobe 里，`ctx` 是调用线程的用户态寄存器：`PT_REGS_PARM1` 是第一个参数，`PT_REGS_RC` 是返回值。
# 两者都是那个进程内存里的地址，用 `bpf_probe_read_user_str` 读。

# %%
program = r"""
#include <uapi/linux/ptrace.h>
#define TASK_COMM_LEN 16
#define NAME_LEN 64
#define VALUE_LEN 128

struct event_t {
    u32 pid;
    s32 name_len, value_len;                  // what bpf_probe_read_user_str() returned
    u64 value_ptr;                            // getenv's return value: an address, or 0 (NULL)
    char comm[TASK_COMM_LEN];
    char name[NAME_LEN];
    char value[VALUE_LEN];
};
BPF_HASH(names, u64, const char *);           // thread -> the name it passed to getenv()
BPF_PERF_OUTPUT(events);

int getenv_entry(struct pt_regs *ctx) {
    u64 id = bpf_get_current_pid_tgid();
    const char *name = (const char *)PT_REGS_PARM1(ctx);
    names.update(&id, &name);                 // the uretprobe cannot see the argument: keep it
    return 0;
}

int getenv_return(struct pt_regs *ctx) {
    u64 id = bpf_get_current_pid_tgid();
    const char **name = names.lookup(&id);
    if (!name)
        return 0;                             // a call that began before the uprobe was attached
    struct event_t e = {};
    e.pid = id >> 32;
    bpf_get_current_comm(&e.comm, sizeof(e.comm));
    e.name_len = bpf_probe_read_user_str(e.name, sizeof(e.name), *name);
    e.value_ptr = PT_REGS_RC(ctx);
    if (e.value_ptr)
        e.value_len = bpf_probe_read_user_str(e.value, sizeof(e.value), (const char *)e.value_ptr);
    names.delete(&id);
    events.perf_submit(ctx, &e, sizeof(e));
    return 0;
}
"""

# %% tags=["parameters"]
NOTEBOOK_ARGS = ["--duration", "10"]

# %% [markdown]
# ## Load, attach to getenv in libc — 加载，附加到 libc 的 getenv 上
# `name="c"` is libc, found the way the dynamic linker finds `libc.so.*` (its cache, /etc/ld.so.cache); a full path
# works too. `pid=-1` is every process that maps the library; a pid makes the kernel count that process only.
#
# `name="c"` 就是 libc，查找方式和动态链接器找 `libc.so.*` 一样（它的缓存 /etc/ld.so.cache）；也可以写完整路径。
# `pid=-1` 是所有映射了这个库的进程；给一个 pid，内核就只算那一个进程。

# %%
parser = plumbing.parser("Print every getenv() call: pid, comm, the name, and what it returned.", probes=None)
parser.add_argument("--pid", type=plumbing.process_id, default=-1, help="only this process (default: all)")
args = plumbing.parse(parser, NOTEBOOK_ARGS)
b = BPF(text=program)
b.attach_uprobe(name="c", sym="getenv", fn_name="getenv_entry", pid=args.pid)
b.attach_uretprobe(name="c", sym="getenv", fn_name="getenv_return", pid=args.pid)
print("library: c is %s" % (BPF.find_library("c") or b"not in /etc/ld.so.cache").decode())

# %% [markdown]
# ## Print — 打印
# RESULT is the raw return register: 0 is NULL (the name is not set). "..." marks a string that was cut.
#
# RESULT 是原样的返回值寄存器：0 表示 NULL（没有这个变量）。"..." 表示字符串被截断了。

# %%
def print_event(cpu, data, size):
    e = b["events"].event(data)
    value = "=" + plumbing.string(e.value, e.value_len, 128) if e.value_ptr else ""
    plumbing.show("%-7d %-16s %#-14x %s%s" % (e.pid, plumbing.printable(e.comm), e.value_ptr,
                                             plumbing.string(e.name, e.name_len, 64), value))


b["events"].open_perf_buffer(print_event, page_cnt=64, lost_cb=plumbing.lost)
plumbing.run(b, args, "getenv() in libc", lambda: b.perf_buffer_poll(timeout=100),
             header="%-7s %-16s %-14s %s" % ("PID", "COMM", "RESULT", "NAME=VALUE"))
