#!/usr/bin/env python3
# %% [markdown]
# # Lesson 008 — execve: pid, ppid, comm, filename and argv of every exec, through the perf buffer
# # 第 008 课：execve——经由 perf 缓冲区，取得每次 exec 的 pid、ppid、comm、文件名和 argv
#
# The seed's execve monitor, in the form of bcc's execsnoop: a probe at the entry of execve() fills a
# struct and sends it to user space. Failed execs (a missing file) are seen too: this is the call, not its
# result. The parent's pid is read at offsets taken from the running kernel's BTF (see the note).
#
# 种子中的 execve 监视器，写成 bcc 的 execsnoop 的样子：execve() 入口处的探针填好一个结构体，发送给用户空间。
# 失败的 exec（文件不存在）也能看到：这里看的是调用，不是结果。父进程 pid 按运行中内核的 BTF 给出的偏移量读取（见笔记）。
#
#     sudo python3 lessons/008_execve/execve.py [--probe auto|kprobe|tracepoint] [--offsets auto|btf|headers]
#                                               [--duration SECONDS] [--count N]
#
# Needs: root, bcc (python3-bpfcc), kernel headers, kprobes or the syscalls tracepoints, perf buffer, and
# for a right ppid: BTF (/sys/kernel/btf/vmlinux) or kernel headers that match the running kernel.
#
# 需要：root、bcc（python3-bpfcc）、内核头文件、kprobes 或 syscalls tracepoint、perf 缓冲区；
# 要得到正确的 ppid，还需要 BTF（/sys/kernel/btf/vmlinux）或与运行中内核匹配的内核头文件。

# %%
import argparse
import ctypes as ct
import os
import shlex
import signal
import struct
import sys

try:
    from bcc import BPF
except ImportError:
    sys.exit("error: cannot import bcc: install the distro's package (sudo apt install python3-bpfcc) and run "
             "with /usr/bin/python3; never 'pip install bcc', which is an unrelated project")

# %% [markdown]
# ## The BPF program — BPF 程序
# One function, `record`, called from the kprobe or from the tracepoint, which hand it the same two
# arguments. `char args[MAXARGS * ARGLEN]` is a flat array: bcc 0.26 cannot decode `char[N][M]` in an event.
#
# 一个函数 `record`，由 kprobe 或 tracepoint 调用，两者传给它同样的两个参数。
# `char args[MAXARGS * ARGLEN]` 是扁平数组：bcc 0.26 无法解码事件中的 `char[N][M]`。

# %%
program = r"""
#include <linux/sched.h>
#define FNAME_LEN 128
#define MAXARGS 5                     // the first 5 strings of argv ...
#define ARGLEN 48                     // ... 48 bytes each, NUL included
#ifndef REAL_PARENT_OFFSET            // no BTF: the layout of the headers bcc compiles against
#define REAL_PARENT_OFFSET offsetof(struct task_struct, real_parent)
#define TGID_OFFSET offsetof(struct task_struct, tgid)
#endif

struct event_t {
    u32 pid, ppid;
    u8 argc, args_cut, more_args, fname_cut;   // args_cut: bit i set when argv[i] filled its slot
    char comm[TASK_COMM_LEN];
    char filename[FNAME_LEN];
    char args[MAXARGS * ARGLEN];               // argv[i] starts at args[i * ARGLEN]
};
BPF_PERF_OUTPUT(events);

static int record(void *ctx, const char __user *filename, const char __user *const __user *argv) {
    struct event_t e = {};
    struct task_struct *task = (struct task_struct *)bpf_get_current_task(), *parent = NULL;
    e.pid = bpf_get_current_pid_tgid() >> 32;
    // task->real_parent->tgid, two reads at byte offsets that fit the running kernel
    bpf_probe_read_kernel(&parent, sizeof(parent), (char *)task + REAL_PARENT_OFFSET);
    bpf_probe_read_kernel(&e.ppid, sizeof(e.ppid), (char *)parent + TGID_OFFSET);
    bpf_get_current_comm(&e.comm, sizeof(e.comm));            // the caller: exec has not happened yet
    e.fname_cut = bpf_probe_read_user_str(e.filename, FNAME_LEN, filename) == FNAME_LEN;
    #pragma unroll
    for (int i = 0; i < MAXARGS; i++) {
        const char *arg = NULL;
        bpf_probe_read_user(&arg, sizeof(arg), &argv[i]);     // argv is an array of user pointers
        if (!arg)
            break;
        if (bpf_probe_read_user_str(&e.args[i * ARGLEN], ARGLEN, arg) == ARGLEN)
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

#ifdef USE_TRACEPOINT    // attached by bcc on load, because of its name
TRACEPOINT_PROBE(syscalls, sys_enter_execve) { return record(args, args->filename, args->argv); }
#else                    // bcc reads a syscall__ function's arguments from the syscall's own registers
int syscall__execve(struct pt_regs *ctx, const char __user *filename, const char __user *const __user *argv) {
    return record(ctx, filename, argv);
}
#endif
"""

# %% [markdown]
# ## Offsets from BTF — 从 BTF 取得偏移量
# /sys/kernel/btf/vmlinux describes every type of the running kernel: a header, then type records, then
# their names. Each record is 12 bytes (name, info = kind and member count, size) and some data whose size
# depends on the kind; a STRUCT's data is one (name, type, bit offset) triple per member.
#
# /sys/kernel/btf/vmlinux 描述运行中内核的每一个类型：一个头部，然后是类型记录，再是它们的名字。
# 每条记录 12 字节（名字、info = 种类和成员数、大小），后面数据的大小取决于种类；STRUCT 的数据是每个成员一个
# (名字, 类型, 位偏移) 三元组。

# %%
BTF = "/sys/kernel/btf/vmlinux"
DATA = {1: (4, 0), 3: (12, 0), 4: (0, 12), 5: (0, 12), 6: (0, 8), 13: (0, 8), 14: (4, 0), 15: (0, 12),
        17: (4, 0), 19: (0, 12)}   # kind -> (bytes of data, bytes per member); kinds not listed have none


def btf_member_offsets(struct_name, names, path=BTF):
    with open(path, "rb") as f:   # closed here: a file the garbage collector closes can swallow a Ctrl-C
        data = f.read()
    end = "<" if data[:2] == b"\x9f\xeb" else ">"                # the magic 0xeB9F tells the byte order
    hdr_len, type_off, type_len, str_off = struct.unpack_from(end + "4I", data, 4)
    at, pos = [None], hdr_len + type_off                         # at[type id]: where its record is; 0 = void
    while pos < hdr_len + type_off + type_len:
        at.append(pos)
        info = struct.unpack_from(end + "I", data, pos + 4)[0]
        if info >> 24 & 0x1F > 19:        # a kind newer than this parser: its size is unknown, stop here
            raise LookupError("BTF kind %d is unknown to this parser" % (info >> 24 & 0x1F))
        fixed, each = DATA.get(info >> 24 & 0x1F, (0, 0))
        pos += 12 + fixed + each * (info & 0xFFFF)

    def name(off):     # names are NUL-terminated strings in the string section
        start = hdr_len + str_off + off
        return data[start:data.index(b"\0", start)].decode()

    def record(tid):   # -> kind, name, members as (name, type id, byte offset); "" names an anonymous member
        name_off, info = struct.unpack_from(end + "2I", data, at[tid])
        kind, vlen, bitfields = info >> 24 & 0x1F, info & 0xFFFF, info >> 31
        triples = struct.iter_unpack(end + "3I", data[at[tid] + 12:at[tid] + 12 + 12 * vlen]) if kind in (4, 5) else []
        # with bitfields (kind_flag, bit 31) a member's bit offset is the low 24 bits of the word
        return kind, name(name_off), [(name(n), t, (o & 0xFFFFFF if bitfields else o) // 8) for n, t, o in triples]

    def find(tid, want):   # byte offset of member `want`, looking inside anonymous structs and unions too
        for m_name, m_type, offset in record(tid)[2]:
            inner = find(m_type, want) if m_name == "" and record(m_type)[0] in (4, 5) else None
            if m_name == want or inner is not None:
                return offset + (inner or 0)
        return None
    for tid in range(1, len(at)):
        if struct.unpack_from(end + "I", data, at[tid] + 4)[0] >> 24 & 0x1F == 4 and record(tid)[1] == struct_name:
            return {n: find(tid, n) for n in names}
    raise LookupError("no struct %s in %s" % (struct_name, path))


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
parser = argparse.ArgumentParser(description="Print pid, ppid, comm, filename and argv of every execve() call.")
parser.add_argument("--probe", choices=["auto", "kprobe", "tracepoint"], default="auto",
                    help="auto: a kprobe on the execve syscall, or its tracepoint when kprobes cannot attach")
parser.add_argument("--offsets", choices=["auto", "btf", "headers"], default="auto",
                    help="where task_struct's layout comes from (auto: BTF when the kernel has it)")
parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")
parser.add_argument("--count", type=int, metavar="N", help="stop after N lines")
args = parser.parse_args(NOTEBOOK_ARGS if "ipykernel" in sys.modules else None)
for name in ("duration", "count"):
    if getattr(args, name) is not None and not 0 < getattr(args, name) < 1e9:   # nan and inf are not < 1e9
        parser.error("--%s must be a positive number, under 1e9" % name)
if os.geteuid() != 0:
    sys.exit("error: loading BPF programs needs root: sudo python3 " + sys.argv[0])
if "ipykernel" not in sys.modules:   # a script: `| head` closing the pipe ends it quietly, as it ends cat
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # Ctrl-C or SIGTERM while it starts (bcc's compile takes seconds on a slow machine, and no signal stops
    # it) is held back until the reading loop's handler is in place, which then ends the run cleanly.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def kernel_has_kprobes():
    # tracefs lists kprobe_events only when the kernel was built with kprobes (CONFIG_KPROBE_EVENTS).
    return any(os.path.exists(d + "/kprobe_events") for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"))


def printable(raw, cut=False):
    """Bytes from user memory -> text that cannot forge or colour a line (as in lesson 002); "..." if cut."""
    out = []
    for ch in raw.decode("utf-8", "surrogateescape"):
        if "\udc80" <= ch <= "\udcff":
            out.append("\\x%02x" % (ord(ch) - 0xDC00))
        elif ch == "\\" or not ch.isprintable():
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out) + ("..." if cut else "")


# %% [markdown]
# ## The offsets, then load and attach — 先取偏移量，再加载并挂载
# The offsets enter the C program as `-D` macros: compiled in as constants, checked by nobody but us.
#
# 偏移量以 `-D` 宏的形式进入 C 程序：作为常量编译进去，除了我们自己没人检查。

# %%
MAXARGS, ARGLEN = 5, 48   # as in the C program
cflags = []
if args.offsets == "btf" and not os.path.exists(BTF):
    sys.exit("error: --offsets btf: this kernel has no BTF (%s is absent: CONFIG_DEBUG_INFO_BTF is off)" % BTF)
if args.offsets != "headers" and os.path.exists(BTF):
    try:
        off = btf_member_offsets("task_struct", ["real_parent", "tgid"])
    except (OSError, LookupError, struct.error) as e:
        sys.exit("error: cannot read task_struct from %s: %s" % (BTF, e))
    if None in off.values():
        sys.exit("error: task_struct in %s lacks real_parent or tgid: %s" % (BTF, off))
    cflags += ["-DREAL_PARENT_OFFSET=%d" % off["real_parent"], "-DTGID_OFFSET=%d" % off["tgid"]]
    ppid_how = "task_struct.real_parent at byte %d, .tgid at byte %d, from BTF" % (off["real_parent"], off["tgid"])
else:
    ppid_how = "task_struct layout from the kernel headers (%s: right only if they match this kernel)" % (
        "--offsets headers" if args.offsets == "headers" else "no BTF")


def load(tracepoint):
    try:
        return BPF(text=program, cflags=cflags + (["-DUSE_TRACEPOINT"] if tracepoint else []))
    except Exception as e:
        if "sys_enter_execve" in str(e):
            sys.exit("error: cannot attach tracepoint syscalls:sys_enter_execve: %s" % str(e).splitlines()[0])
        sys.exit("error: bcc could not compile the program (kernel headers missing? run: sudo make setup, "
                 "then lessons/000_doctor/doctor.py)")


b, attached = None, None
if args.probe in ("auto", "kprobe"):
    if not kernel_has_kprobes():
        if args.probe == "kprobe":
            sys.exit("error: --probe kprobe: this kernel has no kprobes (no kprobe_events in tracefs: "
                     "CONFIG_KPROBES is off); use --probe tracepoint")
    else:
        b = load(tracepoint=False)
        event = b.get_syscall_fnname("execve").decode()     # e.g. __x64_sys_execve
        try:
            b.attach_kprobe(event=event, fn_name="syscall__execve")
            attached = "kprobe " + event
        except Exception as e:
            if args.probe == "kprobe":
                sys.exit("error: cannot attach kprobe %s: %s" % (event, str(e).splitlines()[0]))
            print("kprobe %s failed; falling back to the tracepoint" % event)
if attached is None:
    b = load(tracepoint=True)
    attached = "tracepoint syscalls:sys_enter_execve"
print("attached: " + attached)
print("ppid: " + ppid_how)

# %% [markdown]
# ## Print like execsnoop — 像 execsnoop 那样打印
# `b["events"].event(data)` turns the bytes into an object with the struct's fields (bcc reads the
# struct's layout from the C program). Arguments are printed shell-quoted, so `a b` is one argument.
# At the end the probe is detached (`b.cleanup()`): a notebook's kernel lives on after the cell.
#
# `b["events"].event(data)` 把字节变成带有结构体字段的对象（bcc 从 C 程序读出结构体布局）。
# 参数按 shell 的规则加引号打印，所以 `a b` 是一个参数。
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


def on_event(cpu, data, size):
    global printed
    if args.count is not None and printed >= args.count:
        return               # one poll can deliver several events: print no more than --count
    e = b["events"].event(data)
    # e.args would stop at the first NUL (ctypes does so for char arrays): take the field's raw bytes
    flat = ct.string_at(ct.addressof(e) + type(e).args.offset, MAXARGS * ARGLEN)
    argv = [printable(flat[i * ARGLEN:(i + 1) * ARGLEN].split(b"\0")[0], e.args_cut >> i & 1) for i in range(e.argc)]
    print("%-16s %-7d %-7d %s %s%s" % (printable(e.comm), e.pid, e.ppid, printable(e.filename, e.fname_cut),
                                       " ".join(map(shlex.quote, argv)), " ..." if e.more_args else ""), flush=True)
    printed += 1


def on_lost(count):
    global lost
    lost += count
    print("lost %d events (perf buffer full)" % count, flush=True)


# Ctrl-C (and Jupyter's interrupt), kill, and the --duration alarm
handlers = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
if args.duration:
    signal.setitimer(signal.ITIMER_REAL, args.duration)
try:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})   # a Ctrl-C held back: now
    # 64 pages (256 KiB) per CPU instead of bcc's 8: room for ~600 events while Python is busy printing.
    # Where bcc can (>= 0.24; Debian 11's 0.18 cannot), wake the reader once per 64 events instead of for
    # every one, and empty the buffer after each poll so that a quiet spell still shows every event within
    # 100 ms. Measured in bench/ on a 10,000-exec storm: the storm ran x1.11 slower traced, x1.28 without it.
    batched = hasattr(b, "perf_buffer_consume")
    wakeup = {"wakeup_events": 64} if batched else {}
    b["events"].open_perf_buffer(on_event, page_cnt=64, lost_cb=on_lost, **wakeup)
    print("Tracing execve() ... Hit Ctrl-C to end.")
    print("%-16s %-7s %-7s %s %s" % ("COMM", "PID", "PPID", "FILENAME", "ARGS"), flush=True)
    while not stopping and (args.count is None or printed < args.count):
        b.perf_buffer_poll(timeout=100)   # returns after 100 ms at most, or at once when a signal arrives
        if batched:
            b.perf_buffer_consume()       # the events that have not yet made a batch of 64
    print("lost %d events in total" % lost)   # the lost callback runs only when a later event arrives
finally:   # leave nothing behind: no alarm, the probe detached (a second Ctrl-C does nothing: see stop)
    signal.setitimer(signal.ITIMER_REAL, 0)
    b.cleanup()   # now, not only when Python exits (bcc's atexit): a notebook's kernel lives on
    if "ipykernel" in sys.modules:   # a notebook's kernel lives on: its handlers back (a script just ends)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
