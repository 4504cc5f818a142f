#!/usr/bin/env python3
# %% [markdown]
# # Lesson 012 — who called: stack traces — 第 012 课：谁调用的：调用栈
#
# Counts the stacks under a system call (`--mode count`, the default: `raw_syscalls:sys_enter` for one syscall), or
# on the CPU 99 times a second (`--mode profile`, a cpu-clock perf event), as bcc's stackcount and profile do: one
# count per process, kernel stack and user stack, printed with the functions' names, innermost first; `--folded`
# and `--svg` write them as folded stacks and as a flame graph.
# Try it: `sudo python3 stacks.py`, then in another terminal `python3 demo.py calls 5` and press Enter.
#
# 数一数某个系统调用下面的调用栈（`--mode count`，默认：`raw_syscalls:sys_enter`，只看一个系统调用），或者每秒 99 次
# 看 CPU 上正在跑什么（`--mode profile`，cpu-clock perf 事件），和 bcc 的 stackcount、profile 一样：按进程、内核栈、
# 用户栈分别计数，打印函数名，最内层在最上面；`--folded` 和 `--svg` 写出折叠栈和火焰图。

# %%
import errno
import flamegraph  # flamegraph.py, beside this script: folded stacks -> an SVG
import plumbing   # ../plumbing.py, the same for every lesson: arguments, errors, Ctrl-C, clean-up
from bcc import BPF, PerfType, PerfSWConfig

# %% [markdown]
# ## The program: a stack becomes an id — 程序：一个调用栈变成一个 ID
# `get_stackid()` walks the stack, stores its return addresses in `stacks` and returns their slot, or a negative error.
#
# `get_stackid()` 沿着栈往回走，把返回地址存进 `stacks`，返回存放的位置；失败时返回负的错误码。

# %%
program = r"""
#include <uapi/linux/ptrace.h>
#include <asm/unistd.h>
#define TASK_COMM_LEN 16

struct key_t {
    u32 pid;
    int kernel_stack, user_stack;             // ids in `stacks`, or a negative error (-EFAULT, -EEXIST, -ENOMEM)
    char comm[TASK_COMM_LEN];
};
BPF_STACK_TRACE(stacks, 1024);                // stack id -> up to 127 return addresses
BPF_HASH(counts, struct key_t, u64);          // (process, kernel stack, user stack) -> how many times

static int count(void *ctx) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (pid == 0 || (PID && pid != PID))      // pid 0: the CPU was idle
        return 0;
    struct key_t key = {.pid = pid};
    key.kernel_stack = stacks.get_stackid(ctx, 0);
    key.user_stack = stacks.get_stackid(ctx, BPF_F_USER_STACK);
    bpf_get_current_comm(&key.comm, sizeof(key.comm));
    counts.increment(key);
    return 0;
}

int on_syscall(struct tracepoint__raw_syscalls__sys_enter *args) {
    return args->id == SYSCALL ? count(args) : 0;
}

int on_sample(void *ctx) { return count(ctx); }
"""

# %% tags=["parameters"]
NOTEBOOK_ARGS = ["--duration", "10"]

# %% [markdown]
# ## Load, attach to a tracepoint or to a perf event — 加载，附加到跟踪点或 perf 事件
# cpu-clock is a software event: it works in VMs without a hardware PMU.
#
# cpu-clock 是软件事件：没有硬件 PMU 的虚拟机里也能用。

# %%
parser = plumbing.parser("Who called: the stacks under a system call, or on the CPU.", probes=None, count=False)
parser.add_argument("--mode", choices=["count", "profile"], default="count", help="count (default) or profile")
parser.add_argument("--syscall", type=plumbing.syscall_name, default="getppid", help="count: this syscall (getppid)")
parser.add_argument("--frequency", type=plumbing.positive(int), default=99, help="profile: samples a second (99)")
parser.add_argument("--pid", type=plumbing.process_id, default=0, help="only this process (default: all)")
parser.add_argument("--interval", type=plumbing.positive(float), metavar="SECONDS",
                    help="print and empty the counts every SECONDS (default: at the end only)")
parser.add_argument("--folded", type=plumbing.output_file, metavar="FILE", help="write folded stacks to FILE")
parser.add_argument("--svg", type=plumbing.output_file, metavar="FILE", help="draw a flame graph to FILE")
args = plumbing.parse(parser, NOTEBOOK_ARGS)
b = BPF(text=program, cflags=["-DPID=%d" % args.pid, "-DSYSCALL=__NR_" + args.syscall])
if args.mode == "count":
    b.attach_tracepoint(tp="raw_syscalls:sys_enter", fn_name="on_syscall")
else:
    b.attach_perf_event(ev_type=PerfType.SOFTWARE, ev_config=PerfSWConfig.CPU_CLOCK, fn_name="on_sample",
                        sample_freq=args.frequency)

# %% [markdown]
# ## Print: ids back to names — 打印：把 ID 变回函数名
# A negative id is a stack that could not be stored: shown and counted, never dropped.
#
# 负的 ID 表示这个栈没能存下来：照样显示、计数，绝不悄悄丢掉。

# %%
def frames(stack_id, pid):
    """The stack's function names, innermost first; kernel ones end in _[k], as in folded stacks."""
    if stack_id >= 0 and b["stacks"].Key(stack_id) not in b["stacks"]:   # deleted by the last --interval print
        stack_id = -errno.ENOENT                                          # while this event was being counted
    if stack_id < 0:
        return ["[%s stack: %s]" % ("user" if pid else "kernel", errno.errorcode.get(-stack_id, stack_id))]
    return [plumbing.printable(b.sym(a, pid) if pid else b.ksym(a) + b"_[k]") for a in b["stacks"].walk(stack_id)]


def print_stacks():
    counts, merged, failed = b["counts"].items(), {}, [0, 0]
    for k, v in counts:
        in_user = args.mode == "profile" and k.kernel_stack == -errno.EFAULT   # a sample in user space: no kernel stack
        stack = ([] if in_user else frames(k.kernel_stack, 0)) + frames(k.user_stack, k.pid)
        key = (k.pid, plumbing.printable(k.comm), tuple(stack))  # same names, other addresses: one stack
        merged[key] = merged.get(key, 0) + v.value
        failed = [n + v.value * bad for n, bad in zip(failed, (k.kernel_stack < 0 and not in_user, k.user_stack < 0))]
    folded = []
    for (pid, comm, stack), n in sorted(merged.items(), key=lambda kv: -kv[1]):
        print("%7d %s (%d)\n%s" % (n, comm, pid, "".join("        %s\n" % f for f in stack)), end="")
        folded.append(";".join((comm,) + stack[::-1]).replace(" ", "_") + " %d" % n)
    flamegraph.save(folded, args.folded, args.svg, "stacks.py " + what)   # to --folded and --svg, if given
    print("events: %d; stacks not stored: kernel %d, user %d" % (sum(merged.values()), *failed), flush=True)
    # Empty the table for the next interval: first the stacks printed (bcc's StackTrace.clear() does nothing), then
    # the counts. In this order a count made in between is deleted too, instead of pointing at a deleted stack.
    for stack_id in {i for k, _ in counts for i in (k.kernel_stack, k.user_stack) if i >= 0}:
        b["stacks"].pop(b["stacks"].Key(stack_id), None)     # pop, not del: no error for one already gone
    b["counts"].clear()


def every_interval():
    plumbing.sleep(args.interval or 1)
    if args.interval and not plumbing.stopping:
        print_stacks()


what = "--mode profile" if args.mode == "profile" else "--mode count --syscall " + args.syscall
plumbing.run(b, args, what, every_interval, summary=print_stacks)
