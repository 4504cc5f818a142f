#!/usr/bin/env python3
# %% [markdown]
# # Lesson 005 — perf output: one structured record per event, on a channel of your own
# # 第 005 课：perf output：每个事件一条结构化记录，走自己的通道
#
# The chmod events of lesson 004 (TGID, TID, COMM, MODE, PATH), delivered three ways:
# the shared trace pipe (bpf_trace_printk + trace_fields), a perf buffer (BPF_PERF_OUTPUT), or a BPF ring
# buffer (BPF_RINGBUF_OUTPUT, Linux >= 5.8).
#
# 004 课的 chmod 事件，三种送法：共享的 trace pipe、perf 缓冲区，或 BPF ring buffer（Linux >= 5.8）。
#
#     sudo python3 lessons/005_perf_output/perf_output.py [--output trace_pipe|perf|ringbuf] [--pid PID]
#                                  [--probe auto|kprobe|tracepoint] [--duration SECONDS] [--count N]
#
# Needs: root, bcc (python3-bpfcc), kernel headers, kprobes or the syscalls tracepoints; --output ringbuf
# needs Linux >= 5.8.

# %%
import argparse
import glob
import os
import secrets
import signal
import sys

try:
    from bcc import BPF
except ImportError:
    sys.exit("error: cannot import bcc: install the distro's package (sudo apt install python3-bpfcc) and run "
             "with /usr/bin/python3; never 'pip install bcc', which is an unrelated project")

# %% [markdown]
# ## The BPF program: the same event, three ways out — BPF 程序：同一个事件，三条出路
# With the trace pipe, three values fit in a line (and, before Linux 5.13, one string): we send mode,
# length and path; TGID and COMM do not fit. With a perf or ring buffer, the program fills a struct and
# submits it whole; user space gets the bytes and bcc decodes them with the same struct. `--pid` compiles in
# a filter (FILTER_TGID): other processes' events are dropped before anything is sent, so what is lost is
# that process's alone.
#
# trace pipe 一行只放得下三个值（5.13 之前只能有一个字符串），TGID 和 COMM 放不下；perf 或 ring buffer
# 则由程序填好一个结构体整体提交，用户空间拿到字节，bcc 用同一个结构体解码。`--pid` 编译进一个过滤条件
# （FILTER_TGID）：其他进程的事件在发送之前就被丢弃，因此丢失的计数只属于该进程。

# %%
PROGRAM = r"""
#include <uapi/linux/ptrace.h>
#include <linux/sched.h>
#define NAME_LEN 256

struct event_t {
    u32 tgid;
    u32 tid;
    u32 mode;
    int len;                    // bytes of path copied, with the NUL; < 0: the read failed
    char comm[TASK_COMM_LEN];
    char path[NAME_LEN];
};
#if defined(OUTPUT_perf)
BPF_PERF_OUTPUT(events);           // a perf ring buffer per CPU, read by this program's user space only
#elif defined(OUTPUT_ringbuf)
BPF_RINGBUF_OUTPUT(events, 16);    // one ring buffer for all CPUs, 16 pages
BPF_ARRAY(dropped, u64, 1);        // the ring buffer reports no losses by itself: count failed outputs
#endif

static int report(void *ctx, const char __user *filename, u32 mode) {
#ifdef FILTER_TGID
    if (bpf_get_current_pid_tgid() >> 32 != FILTER_TGID)
        return 0;               // --pid: another process's event is never sent, so never lost either
#endif
#if defined(OUTPUT_trace_pipe)
    char path[NAME_LEN];
    int len = bpf_probe_read_user_str(path, sizeof(path), filename);
    bpf_trace_printk("MARK %x %d %s", mode, len, path);   // a text line in the one buffer all programs share
#else
    struct event_t e = {};
    u64 id = bpf_get_current_pid_tgid();
    e.tgid = id >> 32;
    e.tid = id;
    e.mode = mode;
    bpf_get_current_comm(&e.comm, sizeof(e.comm));
    e.len = bpf_probe_read_user_str(e.path, sizeof(e.path), filename);
#if defined(OUTPUT_perf)
    events.perf_submit(ctx, &e, sizeof(e));        // copies the record into this CPU's perf buffer
#else
    if (events.ringbuf_output(&e, sizeof(e), 0) != 0) {   // copies it into the ring buffer, or fails when full
        int zero = 0;
        u64 *n = dropped.lookup(&zero);
        if (n)
            __sync_fetch_and_add(n, 1);
    }
#endif
#endif
    return 0;
}

// kprobes on the chmod and fchmodat syscalls, as in lesson 004: the arguments from the saved user registers
static int report_saved(struct pt_regs *ctx, int is_fchmodat) {
    struct pt_regs *regs = (struct pt_regs *)PT_REGS_PARM1(ctx);
    unsigned long filename = 0, mode = 0;
    bpf_probe_read_kernel(&filename, sizeof(filename), is_fchmodat ? &PT_REGS_PARM2(regs) : &PT_REGS_PARM1(regs));
    bpf_probe_read_kernel(&mode, sizeof(mode), is_fchmodat ? &PT_REGS_PARM3(regs) : &PT_REGS_PARM2(regs));
    return report(ctx, (const char __user *)filename, mode);
}
int on_sys_chmod(struct pt_regs *ctx) { return report_saved(ctx, 0); }
int on_sys_fchmodat(struct pt_regs *ctx) { return report_saved(ctx, 1); }
int on_chmod(struct tracepoint__syscalls__sys_enter_chmod *args) { return report(args, args->filename, args->mode); }
int on_fchmodat(struct tracepoint__syscalls__sys_enter_fchmodat *args) { return report(args, args->filename, args->mode); }
"""
NAME_LEN = 256

# %% [markdown]
# ## Arguments — 参数
# In a notebook sys.argv belongs to Jupyter, so the lesson takes `NOTEBOOK_ARGS` instead; `--duration`
# ends the reading cell, so that "Run All" ends too.
#
# 在 notebook 里 sys.argv 属于 Jupyter，所以改用 `NOTEBOOK_ARGS`；`--duration` 让读取单元格按时结束。

# %% tags=["parameters"]
NOTEBOOK_ARGS = ["--duration", "10"]

# %%
parser = argparse.ArgumentParser(description="chmod events through the trace pipe, a perf buffer or a ring buffer.")
parser.add_argument("--output", choices=["trace_pipe", "perf", "ringbuf"], default="perf",
                    help="how events reach user space (default: perf)")
parser.add_argument("--pid", type=int, metavar="PID", help="only the events of this process, filtered in the kernel")
parser.add_argument("--probe", choices=["auto", "kprobe", "tracepoint"], default="auto",
                    help="auto: kprobes on the chmod and fchmodat syscalls, or their tracepoints without kprobes")
parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")
parser.add_argument("--count", type=int, metavar="N", help="stop after N events")
args = parser.parse_args(NOTEBOOK_ARGS if "ipykernel" in sys.modules else None)
if args.pid is not None and not 0 < args.pid < 2 ** 22:   # PID_MAX_LIMIT
    parser.error("--pid must be a process id, from 1 to 4194303")
if args.duration is not None and not 0 < args.duration < 1e9:   # nan and inf are not < 1e9 either
    parser.error("--duration must be a positive number of seconds, under 1e9")
if args.count is not None and args.count <= 0:
    parser.error("--count must be a positive number")
if os.geteuid() != 0:
    sys.exit("error: loading BPF programs needs root: sudo python3 " + sys.argv[0])
if "ipykernel" not in sys.modules:   # a script: `| head` closing the pipe ends it quietly, as it ends cat
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # Ctrl-C or SIGTERM while it starts (bcc's compile takes seconds on a slow machine, and no signal stops
    # it) is held back until the reading loop's handler is in place, which then ends the run cleanly.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
TRACEFS = next((d for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing") if os.path.exists(d + "/trace_pipe")),
               None)
if TRACEFS is None:
    sys.exit("error: tracefs is not mounted (no trace_pipe): sudo make setup, or: mount -t tracefs none /sys/kernel/tracing")


def printable(raw):
    """Bytes from the kernel -> text that cannot forge or colour a line (as in lesson 002)."""
    out = []
    for ch in raw.decode("utf-8", "surrogateescape"):
        if "\udc80" <= ch <= "\udcff":
            out.append("\\x%02x" % (ord(ch) - 0xDC00))
        elif ch == "\\" or not ch.isprintable():
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def trace_overruns():
    """Lines the kernel overwrote before anyone read them, summed over every CPU's part of the trace buffer."""
    total = 0
    for stats in glob.glob(TRACEFS + "/per_cpu/cpu*/stats"):
        with open(stats) as f:
            total += sum(int(line.split()[1]) for line in f if line.startswith("overrun:"))
    return total


# %% [markdown]
# ## Load, then attach (as lesson 004) — 加载，然后挂载（同 004 课）

# %%
if args.output == "ringbuf" and tuple(map(int, os.uname().release.split(".")[:2])) < (5, 8):
    sys.exit("error: --output ringbuf: the BPF ring buffer needs Linux >= 5.8 (this is %s); use --output perf"
             % os.uname().release)
MARK = "chmod-" + secrets.token_hex(4)   # only the trace pipe needs it: perf and ring buffers are ours alone
try:
    b = BPF(text=PROGRAM.replace("MARK", MARK), cflags=["-DOUTPUT_" + args.output] +
            (["-DFILTER_TGID=%d" % args.pid] if args.pid else []))
except Exception:
    sys.exit("error: bcc could not compile the program (kernel headers missing? run: sudo make setup, "
             "then lessons/000_doctor/doctor.py)")
attached = None
if args.probe in ("auto", "kprobe"):
    if not os.path.exists(TRACEFS + "/kprobe_events"):   # kernels built without kprobes have no kprobe_events
        if args.probe == "kprobe":
            sys.exit("error: --probe kprobe: this kernel has no kprobes (no kprobe_events in tracefs: "
                     "CONFIG_KPROBES is off); use --probe tracepoint")
    else:
        events = [b.get_syscall_fnname(name).decode() for name in ("chmod", "fchmodat")]   # __x64_sys_chmod, ...
        try:
            b.attach_kprobe(event=events[0], fn_name="on_sys_chmod")
            b.attach_kprobe(event=events[1], fn_name="on_sys_fchmodat")
            attached = ["kprobe " + event for event in events]
        except Exception as e:
            if args.probe == "kprobe":
                sys.exit("error: cannot attach the kprobes: %s" % str(e).splitlines()[0])
            print("kprobes failed; falling back to the tracepoints")
if attached is None:
    try:
        b.attach_tracepoint(tp="syscalls:sys_enter_chmod", fn_name="on_chmod")
        b.attach_tracepoint(tp="syscalls:sys_enter_fchmodat", fn_name="on_fchmodat")
    except Exception as e:
        sys.exit("error: cannot attach the tracepoints: %s" % str(e).splitlines()[0])
    attached = ["tracepoint syscalls:sys_enter_chmod", "tracepoint syscalls:sys_enter_fchmodat"]
for what in attached:
    print("attached: " + what)

# %% [markdown]
# ## Print — 打印
# perf and ringbuf: `open_perf_buffer` / `open_ring_buffer` register a callback; `perf_buffer_poll` /
# `ring_buffer_poll` wait for records and call it once per record. `event(data)` turns the bytes into an
# object with the struct's fields. trace_pipe: as lesson 004, with TGID unknown and COMM the remembered name.
#
# perf/ringbuf：登记回调，poll 等待记录并对每条记录调用一次回调，event(data) 把字节变成带字段的对象。
# trace_pipe：同 004 课，TGID 未知，COMM 是记住的名字。

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
    # Ctrl-C, SIGTERM and the --duration alarm. perf and ringbuf: a flag, checked by the loop (an exception
    # raised while a callback runs would be printed and swallowed by ctypes), and no more events. The trace pipe
    # loop waits in a read of trace_pipe, which only an exception ends, and runs no callback.
    # Once only: a second Ctrl-C while the probes are being detached must not cut that short.
    global stopping
    if stopping:
        return
    stopping = True
    for what in attached:
        stop_events(what)
    if args.output == "trace_pipe":
        raise KeyboardInterrupt


def show(tgid, tid, comm, mode, length, path):
    global shown
    if args.count is not None and shown >= args.count:
        return   # one poll can deliver several records
    if length < 0:
        name = "[cannot read the name: error %d]" % length
    else:   # cut: the read filled the buffer, or the trace line holds less (63 bytes before 5.13; a newline)
        name = printable(path) + ("..." if length >= NAME_LEN or len(path) < length - 1 else "")
    print("%-7s %-7d %-16s %04o %s" % (tgid, tid, printable(comm), mode, name), flush=True)
    shown += 1


def on_event(cpu_or_ctx, data, size):   # perf passes the CPU, the ring buffer a context; both the bytes
    e = b["events"].event(data)
    show(e.tgid, e.tid, e.comm, e.mode, e.len, e.path)   # bcc gives char arrays as bytes, cut at the NUL


def on_lost(count):   # the perf buffer was full: the kernel counted what it dropped (told with the next record)
    global lost
    lost += count


shown, lost, others, overruns_before = 0, 0, 0, trace_overruns()
if args.output == "perf":
    b["events"].open_perf_buffer(on_event, page_cnt=64, lost_cb=on_lost)
elif args.output == "ringbuf":
    b["events"].open_ring_buffer(on_event)
else:
    try:
        b.trace_open()   # trace_pipe, opened before the ready line: on 6.18 a second reader gets EBUSY
    except OSError as e:
        b.cleanup()   # detach before stopping here: a notebook's kernel lives on after the error
        sys.exit("error: cannot open %s: %s (is another program reading it?)" % (e.filename, e.strerror))
# the alarm and the handlers once trace_pipe is open: an error above leaves no alarm in a notebook's kernel
handlers = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
if args.duration:
    signal.setitimer(signal.ITIMER_REAL, args.duration)
print("Tracing chmod, output via %s ... Hit Ctrl-C to end." % args.output)
print("%-7s %-7s %-16s %-4s %s" % ("TGID", "TID", "COMM", "MODE", "PATH"), flush=True)
try:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})   # a Ctrl-C held back: now
    while not stopping and (args.count is None or shown < args.count):
        if args.output == "perf":
            b.perf_buffer_poll(timeout=1000)
        elif args.output == "ringbuf":
            b.ring_buffer_poll(timeout=1000)
        else:
            task, pid, cpu, _, ts, msg = b.trace_fields()
            fields = msg.split(b" ", 3) if isinstance(msg, bytes) else []   # bcc returns "Unknown" for odd lines
            if fields[:1] != [MARK.encode()] or len(fields) < 3:
                others += 1   # every other program's lines come through the same pipe
                continue
            show("-", pid, task, int(fields[1], 16), int(fields[2]), fields[3] if len(fields) > 3 else b"")
except KeyboardInterrupt:
    pass
finally:   # leave nothing behind: no alarm, the probes detached (a second Ctrl-C does nothing: see stop)
    signal.setitimer(signal.ITIMER_REAL, 0)
    if args.output == "perf":
        print("lost records (perf buffer full): %d" % lost, flush=True)
    elif args.output == "ringbuf":
        print("lost records (ring buffer full): %d" % b["dropped"][0].value, flush=True)
    else:
        print("lines from other programs skipped: %d; trace buffer overruns (lines lost, any program's): %d"
              % (others, trace_overruns() - overruns_before), flush=True)
    b.cleanup()   # now, not only when Python exits: a notebook's kernel lives on
    if "ipykernel" in sys.modules:   # a notebook's kernel lives on: its handlers back (a script just ends)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
