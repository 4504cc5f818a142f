#!/usr/bin/env python3
"""How many events reach user space, what they cost, and how bcc's delivery paths compare with bpftrace.

    sudo make bench                                 # = sudo .venv/bin/python bench/bench.py
    sudo .venv/bin/python bench/bench.py --quick    # tiny N, one run, writes nothing: a smoke test (~15 s)
    .venv/bin/python bench/bench.py --chart-only    # redraw img/bench.svg (and the table) from bench/results.json

Workloads (bench/workload.c, compiled static at start): N getpid(), N openat() of one file, N fork+exec of a
9 KB /bin/true (bench/true.c). Each waits for a go byte, runs its loop and prints the loop's own duration.
Delivery paths: none (untraced), bpf_trace_printk + trace_pipe (default and enlarged buffer), BPF_PERF_OUTPUT
(8 pages, 1024 pages, 1024 pages with wakeup_events), BPF_RINGBUF_OUTPUT (32 KB, 16 MB, 16 MB with
BPF_RB_NO_WAKEUP), bpftrace one-liners, and on the exec storm lesson 008's own script against bpftrace's
equivalent. Every BPF program is filtered to the workload (its tgid; for exec, the children's parent tgid).
See bench/README.md for how to read the table.
"""
import argparse
import errno
import glob
import json
import os
import re
import secrets
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lessons"))
import facts  # noqa: E402  (lessons/facts.py: where tracefs is, struct layouts from BTF)

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "bench"
RESULTS = HERE / "results.json"
CHART = ROOT / "img" / "bench.svg"
LESSON_008 = ROOT / "lessons" / "008_execve" / "execve.py"
READY = re.compile(r"^Tracing .*Ctrl-C to end")       # every lesson's ready line
TRACE_BIG_KB = 16384                                  # the enlarged trace buffer, per CPU
RB_SMALL_PAGES, RB_BIG_PAGES = 8, 4096                # ring buffers: 32 KB and 16 MB (4 KB pages)
PERF_PAGES = {"perf_8": 8, "perf_1024": 1024, "perf_1024_w64": 1024}
PERF_WAKEUP = 64                                      # perf_1024_w64: wake the reader every 64 records
NOWAKEUP_INTERVAL_MS = 10                             # ringbuf_nowakeup: read the ring every 10 ms
IDLE = 0.5                                            # no new event for this long after the workload: drained
DRAIN_MAX = 30.0                                      # at most this long to drain after the workload
START_MAX = 30.0                                      # bpftrace / lesson 008: compile, load, attach
STOP_MAX = 10.0                                       # from SIGINT to exit
WORKLOADS = {   # name: (tracepoint, BPF function, default N, quick N)
    "getpid": ("syscalls:sys_enter_getpid", "on_getpid", 500_000, 20_000),
    "openat": ("syscalls:sys_enter_openat", "on_openat", 100_000, 5_000),
    "exec": ("syscalls:sys_enter_execve", "on_exec", 10_000, 200),
}


class DeliveryPath:
    def __init__(self, id, label, kind, mode=0, loss_exact=False, workloads=tuple(WORKLOADS)):
        self.id, self.label, self.kind, self.mode = id, label, kind, mode
        self.loss_exact, self.workloads = loss_exact, workloads


PATHS = [
    DeliveryPath("untraced", "untraced (no probe)", "none"),
    DeliveryPath("trace_pipe", "trace pipe, default buffer ({kb} KB/CPU)", "trace_pipe", 1),
    DeliveryPath("trace_pipe_big", "trace pipe, %d KB/CPU" % TRACE_BIG_KB, "trace_pipe", 1),
    DeliveryPath("perf_8", "perf buffer, 8 pages/CPU (bcc default)", "perf", 2, True),
    DeliveryPath("perf_1024", "perf buffer, 1024 pages/CPU", "perf", 3, True),
    DeliveryPath("perf_1024_w64", "perf buffer, 1024 pages/CPU, wakeup_events=%d" % PERF_WAKEUP, "perf", 4, True),
    DeliveryPath("ringbuf_8", "ring buffer, %d pages (%d KB)" % (RB_SMALL_PAGES, RB_SMALL_PAGES * 4), "ringbuf", 5, True),
    DeliveryPath("ringbuf_4096", "ring buffer, %d pages (%d MB)" % (RB_BIG_PAGES, RB_BIG_PAGES // 256), "ringbuf", 6, True),
    DeliveryPath("ringbuf_nowakeup", "ring buffer, %d MB, BPF_RB_NO_WAKEUP, read every %d ms"
          % (RB_BIG_PAGES // 256, NOWAKEUP_INTERVAL_MS), "ringbuf", 7, True),
    DeliveryPath("bpftrace", "bpftrace one-liner, printf per event", "bpftrace"),
    DeliveryPath("lesson008", "lesson 008 execve.py (all execs, printed)", "lesson008", workloads=("exec",)),
    DeliveryPath("bpftrace008", "bpftrace like lesson 008 (all execs, printed)", "bpftrace008", workloads=("exec",)),
]

# One program for every bcc path: the path is chosen at run time (config.mode), so it compiles once.
PROGRAM = r"""
#ifndef REAL_PARENT_OFFSET            // no BTF: the layout of the headers bcc compiles against
#include <linux/sched.h>
#define REAL_PARENT_OFFSET offsetof(struct task_struct, real_parent)
#define TGID_OFFSET offsetof(struct task_struct, tgid)
#endif
struct config_t { u32 target; u32 mode; };   // target: the workload's pid; mode: which path (0: none)
BPF_ARRAY(config, struct config_t, 1);
BPF_ARRAY(rb_failed, u64, 2);                // ring buffer outputs that failed (buffer full): [small, big]
BPF_PERF_OUTPUT(perf_8);                     // opened with 8 pages per CPU
BPF_PERF_OUTPUT(perf_1024);                  // 1024 pages per CPU
BPF_PERF_OUTPUT(perf_1024_w64);              // 1024 pages per CPU, the reader woken every PERF_WAKEUP records
BPF_RINGBUF_OUTPUT(rb_small, RB_SMALL_PAGES);
BPF_RINGBUF_OUTPUT(rb_big, RB_BIG_PAGES);

static __always_inline void failed(int which) {
    u64 *n = rb_failed.lookup(&which);
    if (n)
        __sync_fetch_and_add(n, 1);
}

static __always_inline int deliver(void *ctx, struct config_t *c) {
    u64 id = bpf_get_current_pid_tgid();     // the record: 8 bytes, tgid << 32 | tid
    switch (c->mode) {
    case 1: bpf_trace_printk("MARKER %u", c->target); break;   // a line: this run's marker, the workload's pid
    case 2: perf_8.perf_submit(ctx, &id, sizeof(id)); break;
    case 3: perf_1024.perf_submit(ctx, &id, sizeof(id)); break;
    case 4: perf_1024_w64.perf_submit(ctx, &id, sizeof(id)); break;
    case 5: if (rb_small.ringbuf_output(&id, sizeof(id), 0)) failed(0); break;
    case 6: if (rb_big.ringbuf_output(&id, sizeof(id), 0)) failed(1); break;
    case 7: if (rb_big.ringbuf_output(&id, sizeof(id), BPF_RB_NO_WAKEUP)) failed(1); break;
    }
    return 0;
}

static __always_inline struct config_t *armed(void) {
    int zero = 0;
    struct config_t *c = config.lookup(&zero);
    return c && c->mode ? c : NULL;
}

int on_getpid(void *ctx) {                   // the workload's own calls: its tgid
    struct config_t *c = armed();
    if (!c || bpf_get_current_pid_tgid() >> 32 != c->target)
        return 0;
    return deliver(ctx, c);
}

int on_openat(void *ctx) {
    struct config_t *c = armed();
    if (!c || bpf_get_current_pid_tgid() >> 32 != c->target)
        return 0;
    return deliver(ctx, c);
}

int on_exec(void *ctx) {                     // execve() runs in the workload's children: their parent's tgid
    struct config_t *c = armed();
    if (!c)
        return 0;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task(), *parent = NULL;
    u32 ppid = 0;
    bpf_probe_read_kernel(&parent, sizeof(parent), (char *)task + REAL_PARENT_OFFSET);
    bpf_probe_read_kernel(&ppid, sizeof(ppid), (char *)parent + TGID_OFFSET);
    if (ppid != c->target)
        return 0;
    return deliver(ctx, c);
}
"""

# bpftrace: the one-liner a learner would write for the same events and the same filter.
BPFTRACE = {
    "getpid": 'tracepoint:syscalls:sys_enter_getpid /pid == %d/ { printf("%%d\\n", tid); }',
    "openat": 'tracepoint:syscalls:sys_enter_openat /pid == %d/ { printf("%%d\\n", tid); }',
    "exec": 'tracepoint:syscalls:sys_enter_execve /curtask->real_parent->tgid == %d/ { printf("%%d\\n", tid); }',
}
# ... and the equivalent of lesson 008 (execsnoop.bt's shape): every exec, comm pid ppid filename argv.
BPFTRACE_008 = ('tracepoint:syscalls:sys_enter_execve { printf("%-16s %-7d %-7d %s ", comm, pid, '
                'curtask->real_parent->tgid, str(args->filename)); join(args->argv); }')
BPFTRACE_READY = 'BEGIN { printf("READY\\n"); } '


class BenchError(Exception):
    """A failure to report in one line."""


class Interrupted(Exception):
    pass


STOP = {"requested": False}


def check_stop():
    if STOP["requested"]:
        raise Interrupted()


def on_signal(signum, frame):
    # Only a flag: a KeyboardInterrupt raised inside a bcc callback would be swallowed by ctypes. Every loop
    # below checks it at least every 50 ms.
    STOP["requested"] = True


# ---------------------------------------------------------------- small helpers
def read_buffer_kb(tfs):
    """buffer_size_kb reads '7' or, before anything enlarged it, '7 (expanded: 1408)': the size is the first."""
    with open(tfs + "/buffer_size_kb") as f:
        return int(f.read().split()[0])


def write_buffer_kb(tfs, kb):
    with open(tfs + "/buffer_size_kb", "w") as f:
        f.write(str(kb))


def trace_losses(tfs):
    """{cpu: lines the trace buffer lost there, any program's: overwritten unread + dropped}."""
    losses = {}
    for stats in glob.glob(tfs + "/per_cpu/cpu*/stats"):
        with open(stats) as f:
            losses[stats] = sum(int(line.rsplit(":", 1)[1]) for line in f
                                if line.startswith(("overrun:", "dropped events:")))
    return losses


def trace_lost_since(tfs, before):
    """Lines lost since `before`. A counter that went down was reset (another program cleared or resized the
    buffer): count from zero there."""
    now = trace_losses(tfs)
    return sum(n - before.get(cpu, 0) if n >= before.get(cpu, 0) else n for cpu, n in now.items())


def cpu_seconds(pid):
    """CPU time of every thread of pid, in seconds, from schedstat (ns); None when it is gone."""
    total = 0
    for path in glob.glob("/proc/%d/task/*/schedstat" % pid):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9 if total else None


def last_line(text):
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def rounded(x):
    """Floats to 6 significant digits, for a results file that diffs readably."""
    if isinstance(x, float):
        return float("%.6g" % x)
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [rounded(v) for v in x]
    return x


def cpu_usage():
    """(seconds the machine's CPUs were busy, seconds stolen by the hypervisor, seconds used by this process
    and its reaped children), to tell afterwards how much of the machine other work took during the run."""
    import resource
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    busy = (v[0] + v[1] + v[2] + v[5] + v[6]) / tick            # user nice system irq softirq
    steal = v[7] / tick if len(v) > 7 else 0.0
    ours = sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))
    return busy, steal, ours


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def tool_version(argv):
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10).stdout
        return out.decode(errors="replace").strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return None


def machine_info():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    os_name = "?"
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as f:
            os_name = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line).get("PRETTY_NAME", "?").strip('"')
    try:
        import bcc
        bcc_version = getattr(bcc, "__version__", "?")
    except ImportError:
        bcc_version = None
    return {"os": os_name, "kernel": os.uname().release, "arch": os.uname().machine, "cpu": model,
            "cpus": os.cpu_count(), "bcc": bcc_version, "bpftrace": tool_version(["bpftrace", "--version"]),
            "python": "%d.%d.%d" % sys.version_info[:3]}


# ---------------------------------------------------------------- the benchmark
class Bench:
    def __init__(self, args):
        self.args = args
        self.tfs = facts.TRACEFS
        self.children = []          # every process we started and have not reaped
        self.b = None
        self.attached = None        # the tracepoint bcc has attached now, or None
        self.trace_kb_orig = None   # buffer_size_kb to restore, when we changed it
        self.work = Path(tempfile.mkdtemp(prefix="bench-"))
        self.marker = "bench" + secrets.token_hex(4)
        self.delivered = 0
        self.lost = 0
        self.trace_fd = None

    # -- set-up
    def build(self):
        gcc = shutil.which("gcc") or shutil.which("cc")
        if not gcc:
            raise BenchError("no C compiler: apt-get install gcc libc6-dev (the workloads are C programs)")
        src = ROOT / "bench"
        for out, flags, source in (("workload", ["-static"], "workload.c"),
                                   ("true", ["-static", "-nostdlib"], "true.c")):
            r = subprocess.run([gcc, "-O2", *flags, "-o", str(self.work / out), str(src / source)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
            check_stop()
            if r.returncode != 0:
                raise BenchError("gcc could not build bench/%s (static libc missing? apt-get install libc6-dev): %s"
                                 % (source, last_line(r.stdout.decode(errors="replace"))))
        self.workload, self.true = str(self.work / "workload"), str(self.work / "true")
        self.file = str(self.work / "file")
        Path(self.file).write_text("the file the openat workload opens\n")

    def load(self):
        from bcc import BPF
        cflags = ["-DRB_SMALL_PAGES=%d" % RB_SMALL_PAGES, "-DRB_BIG_PAGES=%d" % RB_BIG_PAGES]
        self.ppid_how = "task_struct layout from the kernel headers (no BTF)"
        if os.path.exists("/sys/kernel/btf/vmlinux"):
            try:
                offsets = facts.btf_offsets("task_struct", "real_parent", "tgid")   # as lesson 008 reads them
            except (OSError, LookupError, struct.error) as e:
                raise BenchError("cannot read task_struct from /sys/kernel/btf/vmlinux: %s" % e)
            rp, tg = offsets["real_parent"], offsets["tgid"]
            cflags += ["-DREAL_PARENT_OFFSET=%d" % rp, "-DTGID_OFFSET=%d" % tg]
            self.ppid_how = "task_struct.real_parent at %d, .tgid at %d, from BTF" % (rp, tg)
        try:
            self.b = BPF(text=PROGRAM.replace("MARKER", self.marker), cflags=cflags)
        except Exception as e:
            raise BenchError("bcc could not compile the benchmark's program (kernel headers? run: sudo make setup): %s"
                             % last_line(str(e)))
        check_stop()
        b = self.b

        def on_perf(cpu, data, size):
            self.delivered += 1

        def on_ring(ctx, data, size):
            self.delivered += 1
            return 0

        def on_lost(count):
            self.lost += count
        for name, pages in PERF_PAGES.items():
            b[name].open_perf_buffer(on_perf, page_cnt=pages, lost_cb=on_lost,
                                     wakeup_events=PERF_WAKEUP if name.endswith("_w64") else 1)
        b["rb_small"].open_ring_buffer(on_ring)
        b["rb_big"].open_ring_buffer(on_ring)
        self.trace_default_kb = read_buffer_kb(self.tfs)

    def open_trace_pipe(self):
        """trace_pipe has one reader at a time (a second open fails with EBUSY since Linux 6.5, and in the 5.10
        and 6.1 stable series): open it only for the trace pipe's runs, waiting (bounded) while another program
        reads it."""
        deadline = time.monotonic() + 15
        while True:
            try:
                self.trace_fd = os.open(self.tfs + "/trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
                return
            except OSError as e:
                if e.errno != errno.EBUSY or time.monotonic() > deadline:
                    raise BenchError("cannot open %s/trace_pipe: %s%s" % (self.tfs, e.strerror, (
                        " (another program is reading it)" if e.errno == errno.EBUSY else "")))
            check_stop()
            time.sleep(0.1)

    def close_trace_pipe(self):
        if self.trace_fd is not None:
            os.close(self.trace_fd)
            self.trace_fd = None

    def set_config(self, target, mode):
        c = self.b["config"]
        leaf = c.Leaf()
        leaf.target, leaf.mode = target, mode
        c[c.Key(0)] = leaf

    def attach(self, workload):
        """Have exactly the tracepoint of `workload` attached (None: no probe at all)."""
        if self.attached == workload:
            return
        if self.attached:
            self.b.detach_tracepoint(tp=WORKLOADS[self.attached][0])
            self.attached = None
        if workload:
            tp, fn, _, _ = WORKLOADS[workload]
            self.b.attach_tracepoint(tp=tp, fn_name=fn)
            self.attached = workload

    def set_trace_kb(self, kb):
        if read_buffer_kb(self.tfs) != kb:
            if self.trace_kb_orig is None:
                self.trace_kb_orig = self.trace_default_kb
            write_buffer_kb(self.tfs, kb)

    # -- processes
    def spawn(self, argv, **kw):
        proc = subprocess.Popen(argv, start_new_session=True, **kw)
        self.children.append(proc)
        return proc

    def reap(self, proc, sig=signal.SIGKILL):
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)   # its own session and group: ours alone
            except ProcessLookupError:
                pass
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if proc.poll() is not None and proc in self.children:
            self.children.remove(proc)

    def start_workload(self, workload, n, cpu=None):
        extra = {"getpid": [], "openat": [self.file], "exec": [self.true]}[workload]
        pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
        return self.spawn([self.workload, workload, str(n), *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, preexec_fn=pin)

    def go(self, proc):
        proc.stdin.write(b"g")
        proc.stdin.close()

    def wait_workload(self, proc, step=None):
        """Run step() (consume events) until the workload exits, bounded; return its loop time in seconds."""
        deadline = time.monotonic() + self.args.run_timeout
        while proc.poll() is None:
            check_stop()
            if time.monotonic() > deadline:
                self.reap(proc)
                raise BenchError("the workload did not finish within %.0f s (--run-timeout)" % self.args.run_timeout)
            if step:
                step()
            else:
                try:
                    proc.wait(0.05)
                except subprocess.TimeoutExpired:
                    pass
        out, err = proc.stdout.read(), proc.stderr.read()
        self.reap(proc)
        if proc.returncode != 0 or not out.strip().isdigit():
            raise BenchError("the workload failed (exit %s): %s" % (proc.returncode, err.decode(errors="replace").strip()))
        return int(out) / 1e9

    # -- consuming, per path kind
    def read_trace_pipe(self, timeout):
        """Read what trace_pipe holds (waiting up to `timeout` for something); count this run's lines, which end
        in "<marker> <workload pid>". Returns False when there was nothing to read."""
        ready, _, _ = select.select([self.trace_fd], [], [], timeout)
        if not ready:
            return False
        for _ in range(256):     # about 1 MB at most per call, then let the caller check the clock
            try:
                chunk = os.read(self.trace_fd, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                break
            data = self.trace_tail + chunk
            self.delivered += data.count(self.needle)
            self.trace_tail = data[-(len(self.needle) - 1):]
        return True

    def stepper(self, path):
        b = self.b
        if path.kind == "trace_pipe":
            return lambda: self.read_trace_pipe(0.05)
        if path.id == "perf_1024_w64":
            def step():          # woken every PERF_WAKEUP records; the rest is read when the poll times out
                b.perf_buffer_poll(timeout=50)
                b.perf_buffer_consume()
            return step
        if path.kind == "perf":
            return lambda: b.perf_buffer_poll(timeout=50)
        if path.id == "ringbuf_nowakeup":
            def step():          # nobody is woken: read the ring every NOWAKEUP_INTERVAL_MS
                b.ring_buffer_poll(timeout=NOWAKEUP_INTERVAL_MS)
                b.ring_buffer_consume()
            return step
        return lambda: b.ring_buffer_poll(timeout=50)

    def rb_failed(self, path):
        return self.b["rb_failed"][self.b["rb_failed"].Key(0 if path.id == "ringbuf_8" else 1)].value

    def run_bcc(self, workload, path, n):
        self.attach(workload)
        self.set_trace_kb(TRACE_BIG_KB if path.id == "trace_pipe_big" else self.trace_default_kb)
        step = self.stepper(path)
        proc = self.start_workload(workload, n)
        # Events of earlier runs are all read; anything left over (another program's trace lines) goes now.
        self.trace_tail, self.needle = b"", b"%s %d\n" % (self.marker.encode(), proc.pid)
        if path.kind == "trace_pipe":
            self.open_trace_pipe()
            deadline = time.monotonic() + 2
            while self.read_trace_pipe(0) and time.monotonic() < deadline:
                pass
        self.delivered, self.lost = 0, 0
        failed0 = self.rb_failed(path) if path.kind == "ringbuf" else 0
        trace0 = trace_losses(self.tfs) if path.kind == "trace_pipe" else {}
        self.set_config(proc.pid, path.mode)

        def lost():
            if path.kind == "ringbuf":
                return self.rb_failed(path) - failed0
            if path.kind == "trace_pipe":
                return trace_lost_since(self.tfs, trace0)
            return self.lost
        cpu0, t_go = time.process_time(), time.monotonic()
        self.go(proc)
        t_last, seen = t_go, 0

        def consume():
            nonlocal t_last, seen
            step()
            if self.delivered != seen:
                seen, t_last = self.delivered, time.monotonic()
        elapsed = self.wait_workload(proc, consume)
        # Drain: until every event is accounted for, or nothing new came for IDLE seconds.
        deadline = time.monotonic() + DRAIN_MAX
        while self.delivered + lost() < n and time.monotonic() - max(t_last, t_go + elapsed) < IDLE:
            check_stop()
            if time.monotonic() > deadline:
                break
            consume()
        cpu = time.process_time() - cpu0
        delivered = self.delivered
        if path.kind == "perf" and delivered + self.lost < n:
            self.flush_perf_lost(workload, path, step)
        lost_n = lost()
        self.set_config(0, 0)
        self.close_trace_pipe()
        return {"elapsed_s": elapsed, "caused": n, "delivered": delivered, "lost": lost_n,
                "deliver_s": max(t_last - t_go, elapsed), "consumer_cpu_s": cpu}

    def flush_perf_lost(self, workload, path, step):
        """The kernel tells a perf buffer's losses with the next record written on that CPU: write one there."""
        for cpu in sorted(os.sched_getaffinity(0)):
            before = self.delivered
            proc = self.start_workload(workload, 1, cpu=cpu)
            self.set_config(proc.pid, path.mode)
            self.go(proc)
            self.wait_workload(proc)
            deadline = time.monotonic() + 2
            while self.delivered == before and time.monotonic() < deadline:
                check_stop()
                step()
                self.b.perf_buffer_consume()

    def run_external(self, workload, path, n):
        """bpftrace, or lesson 008's own script: a process of its own that writes one line per event to a file."""
        self.attach(None)
        proc = self.start_workload(workload, n)
        out_path, err_path = self.work / "out.txt", self.work / "err.txt"
        if path.kind == "lesson008":
            if not LESSON_008.exists():
                self.reap(proc)
                raise BenchError("lesson 008 is missing: %s" % LESSON_008)
            argv = [sys.executable, str(LESSON_008)]
        else:
            prog = BPFTRACE_008 if path.kind == "bpftrace008" else BPFTRACE[workload] % proc.pid
            argv = [self.bpftrace, "-e", BPFTRACE_READY + prog]
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            tracer = self.spawn(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=str(ROOT))
        try:
            ready = READY if path.kind == "lesson008" else re.compile(r"^READY$")
            deadline = time.monotonic() + START_MAX
            while not any(ready.match(line) for line in out_path.read_text(errors="replace").splitlines()):
                check_stop()
                if tracer.poll() is not None or time.monotonic() > deadline:
                    raise BenchError("%s did not start (exit %s): %s" % (
                        argv[0] if path.kind != "lesson008" else "lesson 008", tracer.poll(),
                        " | ".join((out_path.read_text(errors="replace") + err_path.read_text(errors="replace"))
                                   .strip().splitlines()[-3:])))
                time.sleep(0.05)
            cpu0, t_go = cpu_seconds(tracer.pid) or 0, time.monotonic()
            wall_go = time.time()
            self.go(proc)
            elapsed = self.wait_workload(proc)
            # Drained when the tracer has used (almost) no CPU for IDLE seconds: it has nothing left to read.
            last_cpu, t_busy, cpu_at_busy = cpu_seconds(tracer.pid) or 0, time.monotonic(), None
            deadline = time.monotonic() + DRAIN_MAX
            while time.monotonic() - t_busy < IDLE and time.monotonic() < deadline:
                check_stop()
                time.sleep(0.05)
                now_cpu = cpu_seconds(tracer.pid) or last_cpu
                if now_cpu - last_cpu > 0.05 * 0.05:       # more than 5 % of a CPU in the last 50 ms
                    t_busy, cpu_at_busy = time.monotonic(), now_cpu
                last_cpu = now_cpu
            cpu = (cpu_at_busy or last_cpu) - cpu0
            deliver_s = max(t_busy - t_go, elapsed)
            # SIGINT, and again each second until it exits: bpftrace before 0.19 (Debian 12 has 0.17) misses a
            # SIGINT that lands outside its epoll_wait() and then polls on until an event comes, which here none
            # does (its loop looked at the signal's flag only on EINTR; bpftrace commit 67d4bd7c7 looks always).
            stop_by = time.monotonic() + STOP_MAX
            while True:
                tracer.send_signal(signal.SIGINT)
                try:
                    tracer.wait(min(1.0, max(stop_by - time.monotonic(), 0.01)))
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() >= stop_by:
                        raise BenchError("%s did not stop within %.0f s of SIGINT" % (argv[0], STOP_MAX))
        finally:
            self.reap(tracer)
        text = out_path.read_text(errors="replace")
        lines = text.splitlines()
        if path.kind == "bpftrace":
            delivered = sum(1 for line in lines if line.isdigit())
            lost = sum(int(x) for x in re.findall(r"Lost (\d+) events", text + err_path.read_text(errors="replace")))
        else:   # whole lines for our program: COMM PID PPID FILENAME ARGV, FILENAME and ARGV[0] its path
            delivered = sum(1 for line in lines if line.split()[3:] == [self.true, self.true])
            if path.kind == "lesson008":
                totals = re.findall(r"^lost (\d+) events in total$", text, re.M)
                if not totals:
                    raise BenchError("lesson 008 printed no 'lost N events in total' line at exit")
                lost = int(totals[-1])
                mtime = os.stat(out_path).st_mtime_ns / 1e9   # its last line (flushed per line) was written then
                deliver_s = max(min(deliver_s, mtime - wall_go), elapsed)
            else:
                lost = sum(int(x) for x in re.findall(r"Lost (\d+) events", text + err_path.read_text(errors="replace")))
        return {"elapsed_s": elapsed, "caused": n, "delivered": delivered, "lost": lost,
                "deliver_s": deliver_s, "consumer_cpu_s": max(cpu, 0.0)}

    def run_untraced(self, workload, path, n):
        self.attach(None)
        proc = self.start_workload(workload, n)
        self.go(proc)
        elapsed = self.wait_workload(proc)
        return {"elapsed_s": elapsed, "caused": n, "delivered": None, "lost": None, "deliver_s": None,
                "consumer_cpu_s": None}

    def run(self, workload, path, n):
        if path.kind == "none":
            return self.run_untraced(workload, path, n)
        if path.kind in ("bpftrace", "bpftrace008", "lesson008"):
            return self.run_external(workload, path, n)
        return self.run_bcc(workload, path, n)

    # -- clean-up: every probe, every process, the trace buffer's size
    def cleanup(self):
        errors = []
        for proc in list(self.children):
            self.reap(proc)
        if self.b is not None:
            try:
                self.b.cleanup()       # detaches the tracepoints, closes the perf and ring buffers
            except Exception as e:
                errors.append("bcc clean-up: %s" % e)
            self.b = None
        self.close_trace_pipe()
        if self.trace_kb_orig is not None:
            try:
                write_buffer_kb(self.tfs, self.trace_kb_orig)
                self.trace_kb_orig = None
            except OSError as e:
                errors.append("could not restore %s/buffer_size_kb to %s: %s" % (self.tfs, self.trace_kb_orig, e))
        shutil.rmtree(self.work, ignore_errors=True)
        return errors


# ---------------------------------------------------------------- statistics, table, chart
def summarize(rows_runs, runs_meta):
    """rows_runs: {(workload, path id): [run dicts]} -> list of row dicts with medians and min-max."""
    rows = []
    for workload in WORKLOADS:
        base = [r["elapsed_s"] for r in rows_runs.get((workload, "untraced"), [])]
        base_med = statistics.median(base) if base else None
        for path in PATHS:
            runs = rows_runs.get((workload, path.id))
            if not runs:
                continue
            row = {"workload": workload, "path": path.id, "label": path.label.format(kb=runs_meta["trace_default_kb"]),
                   "n": runs[0]["caused"], "loss_exact": path.loss_exact, "runs": runs}

            def stat(values):
                values = [v for v in values if v is not None]
                if not values:
                    return None
                return {"median": statistics.median(values), "min": min(values), "max": max(values)}
            row["elapsed_s"] = stat(r["elapsed_s"] for r in runs)
            if base_med:
                row["slowdown"] = stat(r["elapsed_s"] / base_med for r in runs)
            if path.kind != "none":
                row["delivered_pct"] = stat(100.0 * r["delivered"] / r["caused"] for r in runs)
                row["lost_pct"] = stat(100.0 * r["lost"] / r["caused"] for r in runs)
                row["events_per_s"] = stat(r["delivered"] / r["deliver_s"] for r in runs)
                row["consumer_us_per_event"] = stat(1e6 * r["consumer_cpu_s"] / r["delivered"] if r["delivered"] else None
                                                    for r in runs)
            rows.append(row)
    return rows


def fmt_rate(x):
    return "%.2f M" % (x / 1e6) if x >= 1e6 else "%.0f k" % (x / 1e3) if x >= 1e3 else "%.0f" % x


def fmt_stat(s, fmt, exact=None):
    if s is None:
        return "–"
    if s["min"] == s["max"] or (exact is not None and s["min"] == s["max"] == exact):
        return fmt(s["median"])
    return "%s [%s–%s]" % (fmt(s["median"]), fmt(s["min"]), fmt(s["max"]))


def fmt_slowdown(x):
    return "×%.2f" % x if x < 10 else "×%.0f" % x


def pct(x):
    return "%.0f %%" % x if x in (0, 100) else "%.3g %%" % x


def table(rows):
    head = ("| workload | delivery path | delivered | lost (reported) | events/s delivered | consumer CPU µs/event "
            "| workload time | slowdown |\n|---|---|---|---|---|---|---|---|\n")
    out = []
    for row in rows:
        wl = "%s ×%s" % (row["workload"], "{:,}".format(row["n"]))
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            wl, row["label"], fmt_stat(row.get("delivered_pct"), pct), fmt_stat(row.get("lost_pct"), pct),
            fmt_stat(row.get("events_per_s"), fmt_rate), fmt_stat(row.get("consumer_us_per_event"), lambda x: "%.2g" % x),
            fmt_stat(row["elapsed_s"], lambda x: "%.3g s" % x),
            fmt_stat(row.get("slowdown"), fmt_slowdown)))
    return head + "\n".join(out) + "\n"


def goals(rows):
    by = {(r["workload"], r["path"]): r for r in rows}
    lines = []
    l8, bt = by.get(("exec", "lesson008")), by.get(("exec", "bpftrace008"))
    if l8:
        lost = max(r["lost"] for r in l8["runs"])
        got = min(r["delivered"] for r in l8["runs"])
        ok = lost == 0 and got == l8["n"]
        lines.append("- lesson 008, %s-exec storm: lost at most %d, delivered at least %d of %d: %s"
                     % ("{:,}".format(l8["n"]), lost, got, l8["n"], "MET" if ok else "NOT MET"))
        if bt and l8.get("slowdown") and bt.get("slowdown"):
            a, b = l8["slowdown"]["median"], bt["slowdown"]["median"]
            lines.append("- lesson 008 slows the storm less than bpftrace's equivalent: ×%.2f vs ×%.2f: %s"
                         % (a, b, "MET" if a < b else "NOT MET"))
    fast = [r for r in rows if r.get("events_per_s") and r["events_per_s"]["median"] >= 1e6
            and all(x["lost"] == 0 and x["delivered"] == x["caused"] for x in r["runs"])]
    if fast:
        lines.append("- ≥ 1M events/s delivered with 0 loss: MET by " + "; ".join(
            "%s on %s (%s/s)" % (r["label"], r["workload"], fmt_rate(r["events_per_s"]["median"])) for r in fast))
    else:
        best = max((r for r in rows if r.get("events_per_s")), key=lambda r: r["events_per_s"]["median"], default=None)
        lines.append("- ≥ 1M events/s delivered with 0 loss: NOT MET%s" % (
            " (best: %s on %s, %s/s)" % (best["label"], best["workload"], fmt_rate(best["events_per_s"]["median"]))
            if best else ""))
    return "\n".join(lines) + "\n"


CHART_WORDS = {   # the chart's words in each language (img/bench.svg, img/bench.zh.svg)
    "en": dict(delivered="%s ×%s: events delivered, %% of caused", time="%s: workload time, × untraced (log scale)",
               title="Delivery paths on %s, %d CPUs, %s;\nmedian of %d runs, bars min–max"),
    "zh": dict(delivered="%s ×%s：送达的事件占引发事件的百分比", time="%s：负载用时，相对不跟踪的倍数（对数坐标）",
               title="各传递路径，%s，%d 个 CPU，%s；\n%d 次运行的中位数，误差条为最小–最大"),
}


def charts(svg, lang):
    """(language, path) of the charts to draw: --svg, in --lang; without it, img/bench.svg and img/bench.zh.svg."""
    if svg:
        return [(lang or "en", svg)]
    return [(x, CHART.with_name(CHART.stem + ("" if x == "en" else "." + x) + ".svg")) for x in CHART_WORDS]


def chart(result, svg_path, lang="en"):
    """Readable on the website at its own size (scripts/figures.py: at most 7.15 in wide, no text under 9.5 pt);
    text kept as text, in DejaVu Sans, then Chinese fonts for the Chinese chart (scripts/figures.py: CJK_FONTS)."""
    import logging
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter
    from matplotlib import font_manager
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    family = ["DejaVu Sans"] + (["WenQuanYi Micro Hei", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei"]
                                if lang != "en" else [])
    if lang != "en":   # measured with WenQuanYi Micro Hei: from fontconfig if matplotlib's font cache predates it
        try:
            font_manager.findfont(font_manager.FontProperties(family=family[1]), fallback_to_default=False)
        except ValueError:
            found = subprocess.run(["fc-match", "-f", "%{family}\t%{file}", family[1]], capture_output=True,
                                   text=True).stdout if shutil.which("fc-match") else ""
            if family[1] not in found.partition("\t")[0].split(","):
                sys.exit("error: the Chinese chart needs the font %s: sudo apt install fonts-wqy-microhei" % family[1])
            font_manager.fontManager.addfont(found.partition("\t")[2])
    plt.rcParams.update({"svg.hashsalt": "bench", "svg.fonttype": "none", "font.size": 9.5, "font.family": family})
    words = CHART_WORDS[lang]
    rows = result["rows"]
    workloads = [w for w in WORKLOADS if any(r["workload"] == w for r in rows)]
    heights = [sum(1 for r in rows if r["workload"] == w) for w in workloads]
    delivering = [max(1, sum(1 for r in rows if r["workload"] == w and r.get("delivered_pct"))) for w in workloads]
    ratios = [h for pair in zip(delivering, heights) for h in pair]
    fig, axes = plt.subplots(2 * len(workloads), 1, figsize=(7.15, 0.6 + 0.27 * sum(ratios) + 0.9 * len(ratios) / 2),
                             gridspec_kw={"height_ratios": ratios}, squeeze=False,
                             constrained_layout=True)
    from matplotlib.transforms import blended_transform_factory

    def title(ax, text):   # from the figure's left edge (the bars' labels are left of the axes), over the axes
        ax.set_title(" ", fontsize=10.5)   # room for it
        ax.text(0.005, 1.03, text, transform=blended_transform_factory(fig.transFigure, ax.transAxes),
                ha="left", va="bottom", fontsize=10.5, weight="bold")
    axes = [[axes[2 * i][0], axes[2 * i + 1][0]] for i in range(len(workloads))]   # each workload: two charts, one above the other
    for i, w in enumerate(workloads):
        wr = [r for r in rows if r["workload"] == w and r.get("delivered_pct")]   # untraced: nothing to deliver
        ys = list(range(len(wr)))[::-1]
        labels = [r["label"] for r in wr]
        ax = axes[i][0]
        for y, r in zip(ys, wr):
            s = r.get("delivered_pct")
            if s:
                ax.barh(y, s["median"], color="#4c72b0" if s["median"] >= 99.999 else "#dd8452")
                ax.errorbar(s["median"], y, xerr=[[s["median"] - s["min"]], [s["max"] - s["median"]]], fmt="none",
                            ecolor="black", capsize=2, lw=0.8)
                ax.text(min(s["median"], 100) + 1, y, pct(s["median"]), va="center", fontsize=9.5)
        ax.set_yticks(ys)
        ax.set_yticklabels(labels)
        ax.set_xlim(0, 118)
        title(ax, words["delivered"] % (w, "{:,}".format(next(r["n"] for r in rows if r["workload"] == w))))
        wr = [r for r in rows if r["workload"] == w]   # the time of every row, untraced too
        ys = list(range(len(wr)))[::-1]
        labels = [r["label"] for r in wr]
        ax = axes[i][1]
        for y, r in zip(ys, wr):
            s = r.get("slowdown")
            if s:
                ax.barh(y, s["median"], color="#55a868" if r["path"] != "untraced" else "#999999")
                ax.errorbar(s["median"], y, xerr=[[s["median"] - s["min"]], [s["max"] - s["median"]]], fmt="none",
                            ecolor="black", capsize=2, lw=0.8)
                ax.text(s["max"] * 1.04, y, fmt_slowdown(s["median"]), va="center", fontsize=9.5)
        ax.set_xscale("log")
        ax.set_yticks(ys)
        ax.set_yticklabels(labels)
        top = max((r["slowdown"]["max"] for r in wr if r.get("slowdown")), default=2)
        ax.set_xlim(0.8, top * 2.2)
        ticks = (1, 1.5, 2, 3, 5, 10) if top < 8 else (1, 3, 10, 30, 100, 300, 1000)
        ax.xaxis.set_major_locator(FixedLocator([t for t in ticks if t <= top * 2.2]))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: "×%g" % v))
        ax.xaxis.set_minor_formatter(NullFormatter())
        title(ax, words["time"] % w)
    m = result["machine"]
    fig.suptitle(words["title"] % (m["kernel"], m["cpus"], m["os"], result["settings"]["runs"]), fontsize=10.5,
                 x=0.005, ha="left")
    svg_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(str(svg_path), format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)


# ---------------------------------------------------------------- main
class Parser(argparse.ArgumentParser):
    def error(self, message):   # one line, no usage block
        sys.stderr.write("error: %s (see: bench/bench.py --help)\n" % message)
        sys.exit(2)


def parse_args():
    p = Parser(description="Benchmark bcc's event delivery paths and bpftrace on one machine.")
    p.add_argument("--quick", action="store_true", help="tiny N, one run, write no files unless --json/--svg: a smoke test")
    p.add_argument("--runs", type=int, help="runs per row (default 5; --quick: 1)")
    for w in WORKLOADS:
        p.add_argument("--n-" + w, type=int, metavar="N", help="%s calls per run (default %s)" % (w, "{:,}".format(WORKLOADS[w][2])))
    p.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated subset of: " + ",".join(WORKLOADS))
    p.add_argument("--paths", default=",".join(x.id for x in PATHS), help="comma-separated subset of: " +
                   ",".join(x.id for x in PATHS))
    p.add_argument("--json", type=Path, help="write the results here (default %s; --quick: nowhere)" % RESULTS.relative_to(ROOT))
    p.add_argument("--lang", choices=sorted(CHART_WORDS), help="with --svg: the chart's language (default en)")
    p.add_argument("--svg", type=Path, help="write the chart here (default %s; --quick: nowhere)" % CHART.relative_to(ROOT))
    p.add_argument("--no-write", action="store_true", help="print the table only")
    p.add_argument("--chart-only", action="store_true", help="redraw the chart and the table from --json, run nothing")
    p.add_argument("--run-timeout", type=float, default=120, metavar="SECONDS", help="longest one workload run may take")
    args = p.parse_args()
    runs = args.runs if args.runs is not None else (1 if args.quick else 5)
    if not 1 <= runs <= 20:
        p.error("--runs must be between 1 and 20")
    args.runs = runs
    args.n = {}
    for w in WORKLOADS:
        n = getattr(args, "n_" + w)
        n = n if n is not None else WORKLOADS[w][3 if args.quick else 2]
        if not 1 <= n <= 100_000_000:
            p.error("--n-%s must be between 1 and 100000000" % w)
        args.n[w] = n
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    bad = [w for w in args.workloads if w not in WORKLOADS]
    if bad or not args.workloads:
        p.error("unknown workload %s: choose from %s" % (",".join(bad) or "(none)", ",".join(WORKLOADS)))
    ids = {x.id for x in PATHS}
    args.paths = [x.strip() for x in args.paths.split(",") if x.strip()]
    bad = [x for x in args.paths if x not in ids]
    if bad or not args.paths:
        p.error("unknown path %s: choose from %s" % (",".join(bad) or "(none)", ",".join(sorted(ids))))
    if args.run_timeout <= 0:
        p.error("--run-timeout must be positive")
    write = not args.no_write and not (args.quick and args.json is None and args.svg is None)
    args.json_out = None if not write else (args.json or (None if args.quick else RESULTS))
    args.svg_out = None if not write else (args.svg or (None if args.quick else CHART))
    return args


def other_cpu(start, end, wall):
    busy, steal, ours = (b - a for a, b in zip(start, end))
    return {"wall_s": wall, "busy_s": busy, "ours_s": ours, "others_s": max(busy - ours, 0.0), "steal_s": steal}


def summary(result):
    """What a run printed: the machine, the load, the table, the goals (markdown)."""
    m, c = result["machine"], result["cpu_during_run"]
    return ("Machine: %s, Linux %s, %d CPUs (%s); bcc %s, %s.\n"
            "Load average (1 min) before the run %.2f; during the run's %.0f s, CPU time of other processes and the "
            "kernel's own threads %.1f s, stolen by the hypervisor %.1f s. Median of %d runs [min–max].\n\n" % (
                m["os"], m["kernel"], m["cpus"], m["cpu"], m["bcc"], m["bpftrace"] or "no bpftrace",
                result["load_start"][0], c["wall_s"], c["others_s"], c["steal_s"], result["settings"]["runs"])
            + table(result["rows"]) + "\n" + goals(result["rows"]))


def report(result):
    print("## Delivery benchmark\n\n" + summary(result))


# The README's results section, in each language: written from results.json by every full run and by
# --chart-only, so that the pages always show the committed numbers.
READMES = {"en": HERE / "README.md", "zh": HERE / "README.zh.md"}
SECTION = ("<!-- results: written by bench.py from results.json -->\n", "<!-- end of results -->\n")
ZH = [   # (English, 中文) in the order they are replaced: longer phrases first
    ("| workload | delivery path | delivered | lost (reported) | events/s delivered | consumer CPU µs/event "
     "| workload time | slowdown |", "| 负载 | 传递路径 | 送达 | 丢失（报告的） | 每秒送达事件 | 读取端每事件 CPU µs | 负载耗时 | 减慢 |"),
    ("untraced (no probe)", "不跟踪（无探针）"), ("trace pipe, default buffer", "trace_pipe，默认缓冲区"),
    ("trace pipe", "trace_pipe"), ("perf buffer", "perf 缓冲区"), ("ring buffer", "BPF 环形缓冲区"),
    ("bcc default", "bcc 默认值"), ("pages/CPU", "页/CPU"), (" pages", " 页"), ("read every", "每隔"),
    (" ms |", " ms 读一次 |"),
    ("bpftrace one-liner, printf per event", "bpftrace 单行程序，每事件一次 printf"),
    ("lesson 008 execve.py (all execs, printed)", "第 008 课 execve.py（所有 exec，打印）"),
    ("bpftrace like lesson 008 (all execs, printed)", "与第 008 课相同的 bpftrace（所有 exec，打印）"),
    ("Machine: ", "机器："), (" CPUs", " 个 CPU"), ("); bcc ", ")；bcc "),
    ("Load average (1 min) before the run", "运行前 1 分钟平均负载"), ("; during the run's", "；运行的"),
    (" s, CPU time of other processes and the kernel's own threads", " 秒里，其他进程和内核自身线程的 CPU 时间"),
    (" s, stolen by the hypervisor", " 秒，被虚拟机监控器占用"), (" s. Median of ", " 秒。取 "),
    (" runs [min–max].", " 次运行的中位数 [最小–最大]。"),
    ("- lesson 008, ", "- 第 008 课，"), ("-exec storm: lost at most", " 次 exec 风暴：最多丢失"),
    (", delivered at least", "，至少送达"), (" of ", " / "),
    ("- lesson 008 slows the storm less than bpftrace's equivalent: ", "- 第 008 课让风暴减慢得比对应的 bpftrace 少："),
    ("- ≥ 1M events/s delivered with 0 loss: ", "- 零丢失、每秒送达 ≥ 1M 事件："), (" on getpid (", " 于 getpid（"),
    ("/s); ", "/s)；"), ("MET by ", "达成，路径："), (" ms 于 getpid", " ms 读一次，于 getpid"), ("NOT MET", "未达成"), (": MET", "：达成"),
    # then the punctuation of what is left: Chinese commas and parentheses (the table has no code in it)
    (", ", "，"), (" (", "（"), ("(", "（"), (")", "）"),
    ("） 于", "）于"),   # no space after a full-width parenthesis (autocorrect, tests/test_docs.py)
]


def results_section(result, lang):
    text = summary(result)
    if lang == "zh":
        for en, zh in ZH:
            text = text.replace(en, zh)
    return text


def write_readmes(result):
    """Replace each README's results section (between the SECTION markers) with this result's."""
    for lang, path in READMES.items():
        text = path.read_text()
        start, end = text.find(SECTION[0]), text.find(SECTION[1])
        if start < 0 or end < start:
            print("note: %s has no results section (%s): left as it is" % (path, SECTION[0].strip()), file=sys.stderr)
            continue
        path.write_text(text[:start + len(SECTION[0])] + results_section(result, lang) + text[end:])
        print("results section: %s" % path)


def main():
    args = parse_args()
    if args.chart_only:
        src = args.json or RESULTS
        try:
            result = json.loads(src.read_text())
        except (OSError, ValueError) as e:
            sys.exit("error: cannot read %s: %s" % (src, e))
        report(result)
        for lang, path in charts(args.svg, args.lang):
            chart(result, path, lang)
            print("chart: %s" % path)
        if src == RESULTS:
            write_readmes(result)
        return 0
    if os.geteuid() != 0:
        sys.exit("error: the benchmark loads BPF programs and needs root: sudo make bench")
    try:
        import bcc  # noqa: F401
    except ImportError:
        sys.exit("error: cannot import bcc: install python3-bpfcc and run with the distro's python3 (sudo make bench)")
    if facts.TRACEFS is None:
        sys.exit("error: tracefs is not mounted (no trace_pipe): sudo make setup")
    paths = [p for p in PATHS if p.id in args.paths]
    bpftrace = shutil.which("bpftrace")
    if any(p.kind.startswith("bpftrace") for p in paths) and not bpftrace:
        sys.exit("error: bpftrace is not installed (apt-get install bpftrace), or leave it out: --paths without bpftrace")
    if "lesson008" in args.paths and "exec" in args.workloads and not LESSON_008.exists():
        sys.exit("error: %s is missing" % LESSON_008)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    bench = Bench(args)
    bench.bpftrace = bpftrace
    status = 0
    t0 = time.monotonic()
    load_start, usage_start = loadavg(), cpu_usage()
    if load_start[0] > 0.5:
        print("warning: load average %.2f: other work shares the CPUs, the numbers will be noisy" % load_start[0],
              file=sys.stderr)
    try:
        bench.build()
        bench.load()
        plan = [(w, p) for w in args.workloads for p in paths if w in p.workloads]
        results = {}
        total, done = len(plan) * args.runs, 0
        for w in args.workloads:           # runs of one workload interleaved: run 1 of every path, then run 2, ...
            for r in range(args.runs):
                for wl, path in plan:
                    if wl != w:
                        continue
                    check_stop()
                    res = bench.run(w, path, args.n[w])
                    results.setdefault((w, path.id), []).append(res)
                    done += 1
                    print("[%3d/%d %5.1fs] %-6s %-17s run %d: %.3f s%s" % (
                        done, total, time.monotonic() - t0, w, path.id, r + 1, res["elapsed_s"],
                        "" if res["delivered"] is None else ", delivered %d, lost %d of %d"
                        % (res["delivered"], res["lost"], res["caused"])), file=sys.stderr, flush=True)
        meta = {"trace_default_kb": bench.trace_default_kb}
        result = {
            "machine": machine_info(),
            "settings": {"runs": args.runs, "n": {w: args.n[w] for w in args.workloads}, "record_bytes": 8,
                         "trace_buffer_kb": {"default": bench.trace_default_kb, "big": TRACE_BIG_KB},
                         "perf_pages": PERF_PAGES, "perf_wakeup_events": PERF_WAKEUP,
                         "ringbuf_pages": {"small": RB_SMALL_PAGES, "big": RB_BIG_PAGES},
                         "nowakeup_interval_ms": NOWAKEUP_INTERVAL_MS, "exec_filter": bench.ppid_how},
            "load_start": load_start, "load_end": loadavg(),
            "cpu_during_run": other_cpu(usage_start, cpu_usage(), time.monotonic() - t0),
            "rows": summarize(results, meta),
        }
    except BenchError as e:
        print("error: %s" % e, file=sys.stderr)
        status = 1
    except Interrupted:
        print("interrupted: probes detached, trace buffer restored", file=sys.stderr)
        status = 130
    except Exception as e:    # anything unforeseen: one line, still cleaned up
        print("error: %s: %s" % (type(e).__name__, last_line(str(e))), file=sys.stderr)
        status = 1
    finally:
        for problem in bench.cleanup():
            print("error: %s" % problem, file=sys.stderr)
            status = status or 1
    if status:
        return status
    result = rounded(result)    # what the JSON holds: the chart drawn from it later is the same, byte for byte
    report(result)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
        print("results: %s" % args.json_out)
        if args.json_out == RESULTS:
            write_readmes(result)
    if args.svg_out:
        for lang, path in charts(args.svg_out if args.svg_out != CHART else None, args.lang):
            chart(result, path, lang)
            print("chart: %s" % path)
    print("took %.0f s" % (time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
