#!/usr/bin/env python3
"""The three ways an event leaves a BPF program: trace pipe, perf buffer, ring buffer. Order, and loss.

    sudo python3 notes/demos/output_paths.py

One tracepoint program on syscalls:sys_enter_close sends each close() of this process down all three paths.
The events are numbered: this process calls close(-N) (which fails with EBADF, but the tracepoint sees N).
  1. order: 8 events, made alternately on CPU 0 and CPU 1; the order in which each path hands them over;
  2. loss: a burst of 20000 events into small buffers; what each path loses, and where it says so.
The trace pipe used is a tracefs instance of our own (the machine's shared buffer is left alone).
Evidence for notes/output-paths.md. Needs root, bcc, 2 CPUs, kernel 5.8+ for the ring buffer.
"""
import os
import platform
import select

import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lessons"))
import facts  # noqa: E402  (lessons/facts.py: where tracefs is, headers, BTF)

from bcc import BPF

TRACEFS = facts.TRACEFS
INSTANCE = TRACEFS + "/instances/notes-demo-%d" % os.getpid()
PROGRAM = r"""
struct event { u32 seq, cpu; };
BPF_PERF_OUTPUT(perf);
BPF_RINGBUF_OUTPUT(ring, RING_PAGES);
BPF_ARRAY(ring_failed, u64, 1);

TRACEPOINT_PROBE(syscalls, sys_enter_close) {
    if (bpf_get_current_pid_tgid() >> 32 != TGID || (int)args->fd >= 0)
        return 0;
    struct event e = {.seq = -(int)args->fd, .cpu = bpf_get_smp_processor_id()};
    bpf_trace_printk("seq %u cpu %u", e.seq, e.cpu);
    perf.perf_submit(args, &e, sizeof(e));
    if (ring.ringbuf_output(&e, sizeof(e), 0) < 0)
        ring_failed.increment(0);           /* a full ring buffer: the program is told, user space is not */
    return 0;
}
"""


def write(name, value):
    with open(INSTANCE + "/" + name, "w") as f:
        f.write(value)


def emit(seqs, cpus=None):
    for i, seq in enumerate(seqs):
        if cpus:
            os.sched_setaffinity(0, {cpus[i % len(cpus)]})
        try:
            os.close(-seq)
        except OSError:
            pass
    os.sched_setaffinity(0, set(range(os.cpu_count())))


def read_trace_pipe(timeout=0.5):
    fd = os.open(INSTANCE + "/trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
    data = b""
    try:
        while select.select([fd], [], [], timeout)[0]:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            data += chunk
            timeout = 0.2
    except BlockingIOError:
        pass
    finally:
        os.close(fd)
    return [line.split(b"seq ")[1].decode() for line in data.split(b"\n") if b"seq " in line]


def overruns():
    total = 0
    for cpu in sorted(os.listdir(INSTANCE + "/per_cpu")):
        with open("%s/per_cpu/%s/stats" % (INSTANCE, cpu)) as f:
            total += int(next(line for line in f if line.startswith("overrun:")).split()[1])
    return total


def main():
    os.mkdir(INSTANCE)
    try:
        run(BPF(text=PROGRAM, cflags=["-DTGID=%d" % os.getpid(), "-DRING_PAGES=1"]))
    finally:
        os.rmdir(INSTANCE)


def run(b):
    got = {"perf": [], "ring": []}         # (seq, cpu), copied inside the callback
    kept = {"perf": [], "ring": []}        # (seq, the event() object itself), to look at later
    lost = {"perf": 0}

    def on_event(path):
        def callback(_cpu_or_ctx, data, size):
            e = b[path].event(data)
            got[path].append((e.seq, e.cpu))
            kept[path].append((e.seq, e))
        return callback
    b["perf"].open_perf_buffer(on_event("perf"), page_cnt=1,
                               lost_cb=lambda n: lost.__setitem__("perf", lost["perf"] + n))
    b["ring"].open_ring_buffer(on_event("ring"))
    write("buffer_size_kb", "8")
    write("events/bpf_trace/bpf_trace_printk/enable", "1")
    print("kernel %s, bcc %s, %d CPUs" % (platform.release(), __import__("bcc").__version__, os.cpu_count()))

    # 1. order
    emit(range(1, 9), cpus=[0, 1])
    b.perf_buffer_poll(500)
    b.ring_buffer_poll(500)
    print("\n1. 8 events, seq 1..8, made on CPU 0,1,0,1,...: the order each path delivers them (seq/cpu)")
    print("   trace pipe : %s" % " ".join(s.replace(" cpu ", "/") for s in read_trace_pipe()))
    print("   perf buffer: %s" % " ".join("%d/%d" % e for e in got["perf"]))
    print("   ring buffer: %s" % " ".join("%d/%d" % e for e in got["ring"]))

    # 2. loss
    for v in list(got.values()) + list(kept.values()):
        v.clear()
    write("trace", "")
    before = overruns()
    n = 20000
    emit(range(1, n + 1), cpus=[0])        # all on CPU 0: one per-CPU buffer fills
    trace_lines = len(read_trace_pipe())
    for _ in range(3):
        b.perf_buffer_poll(200)
        b.ring_buffer_poll(200)
    emit([n + 1], cpus=[0])                 # perf's lost callback fires only when a later event arrives
                                            # on the same CPU
    b.perf_buffer_poll(200)
    b.ring_buffer_poll(200)
    perf_got = len([seq for seq, cpu in got["perf"] if seq <= n])
    ring_got = len([seq for seq, cpu in got["ring"] if seq <= n])
    print("\n2. a burst of %d events on CPU 0, nothing read until it ends (trace buffer 8 KiB per CPU, "
          "perf buffer 1 page per CPU, ring buffer 1 page)" % n)
    print("   %-12s %9s %9s   %s" % ("PATH", "DELIVERED", "LOST", "WHERE THE LOSS IS REPORTED"))
    print("   %-12s %9d %9d   %s" % ("trace pipe", trace_lines, overruns() - before,
                                       "per_cpu/cpu*/stats 'overrun' (nothing in the pipe itself)"))
    print("   %-12s %9d %9d   %s" % ("perf buffer", perf_got, lost["perf"], "lost_cb of open_perf_buffer()"))
    print("   %-12s %9d %9d   %s" % ("ring buffer", ring_got, b["ring_failed"][0].value,
                                       "ringbuf_output() < 0, counted by the program itself"))


    # 3. the object event() returns is a view into the buffer, not a copy
    print("\n3. event() objects kept after their callback returned: how many no longer hold their own event")
    for path in ("perf", "ring"):
        changed = sum(1 for seq, e in kept[path] if e.seq != seq)
        print("   %-12s %d of %d" % (path + " buffer", changed, len(kept[path])))


if __name__ == "__main__":
    main()
