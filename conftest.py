"""The one test harness for every lesson (CONTRIBUTING.md, "Tests").

- capability detection: what this kernel and machine offer, detected once, here and nowhere else in tests;
- a lesson runner: start a lesson as a subprocess, wait (bounded) for its ready line, wait (bounded) for
  output lines that carry the test's own values, stop it with a signal, check it exited cleanly;
- workloads the tests own (fork, ...), and a parser for trace_pipe lines;
- for the robustness tests (tests/test_robustness.py): what a lesson leaves behind, hostile file names, storms
  and streams of events, and fences in the shared trace buffer.

Every wait here has a deadline. Timeouts scale with LESSONS_TIME_SCALE (the QEMU lane sets it: software
emulation compiles BPF programs ten times slower than this host).
"""
import ast
import contextlib
import ctypes
import errno
import functools
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
LESSONS = ROOT / "lessons"
TIME_SCALE = float(os.environ.get("LESSONS_TIME_SCALE", "1"))
READY_TIMEOUT = 30 * TIME_SCALE     # compile + load + attach (0.5-2 s on the host)
EVENT_TIMEOUT = 10 * TIME_SCALE     # from the workload to the lesson's line
STOP_TIMEOUT = 5 * TIME_SCALE       # from the signal to the exit
NO_SKIP = os.environ.get("LESSONS_NO_SKIP") == "1"   # `make test`: a missing prerequisite fails, never skips

# Every lesson prints these two kinds of line (lessons/plumbing.py run(): CONTRIBUTING.md, "A lesson script").
READY = re.compile(r"^Tracing .*Ctrl-C to end")
ATTACHED = re.compile(r"^attached: (?P<kind>kprobe|kretprobe|tracepoint|raw_tracepoint|fentry|uprobe) (?P<target>.+)$")


# ---------------------------------------------------------------- capability detection
def tracefs_dir():
    for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.exists(d + "/trace_pipe"):
            return d
    return None


class Caps:
    """What this machine offers, by the cheapest reliable signal for each (CONTRIBUTING.md, "Platform facts")."""

    def __init__(self):
        self.kernel = os.uname().release
        self.root = os.geteuid() == 0
        try:
            import bcc
            self.bcc_version, self.bcc_error = getattr(bcc, "__version__", "?"), None
            if not hasattr(bcc, "BPF"):
                self.bcc_version, self.bcc_error = None, "the 'bcc' that imports is not BCC (PyPI's unrelated 'bcc'?)"
        except ImportError as e:
            self.bcc_version, self.bcc_error = None, "bcc does not import in %s: %s" % (sys.executable, e)
        self.tracefs = tracefs_dir()
        # bcc attaches kprobes through the kprobe PMU or tracefs's kprobe_events (both: CONFIG_KPROBE_EVENTS)
        self.kprobes = bool(self.tracefs) and (os.path.exists("/sys/bus/event_source/devices/kprobe") or
                                               os.path.exists(self.tracefs + "/kprobe_events"))
        self.machine = os.uname().machine
        self.btf = os.path.exists("/sys/kernel/btf/vmlinux")
        # Headers of this very kernel: struct layouts compiled from them are right (lesson 008's fallback).
        # UTS_RELEASE names the kernel they were made for; Debian's include/config/kernel.release holds the
        # upstream version instead (6.1.192 in the headers of 6.1.0-56-amd64), so it is only the second choice.
        include = Path("/lib/modules/%s/build/include" % self.kernel)
        made_for = None
        with contextlib.suppress(OSError, IndexError):
            made_for = (include / "generated/utsrelease.h").read_text().split('"')[1]
        if made_for is None:
            with contextlib.suppress(OSError):
                made_for = (include / "config/kernel.release").read_text().strip()
        self.headers_match = made_for == self.kernel

    def missing(self):
        """The first reason lessons cannot run here, or None."""
        if not self.root:
            return "lessons load BPF programs and need root: run `sudo make test`"
        if self.bcc_error:
            return self.bcc_error + " (install python3-bpfcc; `sudo make test` sets up .venv)"
        if not self.tracefs:
            return "tracefs is not mounted (no trace_pipe): `sudo make setup` mounts it"
        return None


CAPS = Caps()


# CI mode runs, of the exercise tests, these two in the guests: a check against the kernel, that passes and that
# fails. The other two (a second solution, a broken one) test the checker's reading, and run on the host in
# `make test` and on every lane in `make test-kernels`; CI's 45 minutes on 2 cores have no room for them twice.
CI_EXERCISE_TESTS = ("test_the_reference_solution_passes", "test_the_untouched_starter_runs_and_fails_with_its_message")


def pytest_collection_modifyitems(config, items):
    """LESSONS_SHARD=k/n (the kernel matrix's CI mode): keep every n-th robustness test, every n-th exercise test
    of CI_EXERCISE_TESTS (no other), and every n-th test_forced_kprobe (on a kprobe kernel it repeats the auto
    test's attach and checks with the flag given), from the k-th, so that n kernels together run each of them
    once. Deselected, not skipped: pytest reports them as deselected."""
    shard = os.environ.get("LESSONS_SHARD")
    if not shard:
        return
    k, n = map(int, shard.split("/"))
    exercise = "tests/test_exercises.py::"
    shared = [item for item in items if item.nodeid.startswith(("tests/test_robustness.py::", exercise))
              or item.name == "test_forced_kprobe"]
    dropped = {item.nodeid for item in shared
               if item.nodeid.startswith(exercise) and item.name.split("[")[0] not in CI_EXERCISE_TESTS}
    shared = [item for item in shared if item.nodeid not in dropped]
    dropped |= {item.nodeid for i, item in enumerate(shared) if i % n != k}
    config.hook.pytest_deselected(items=[item for item in items if item.nodeid in dropped])
    items[:] = [item for item in items if item.nodeid not in dropped]


def expected_auto_probe():
    """What `--probe auto` must choose here: the kprobe the seed teaches when the kernel has kprobes.
    The kernel-matrix lane states it (LESSONS_EXPECT_AUTO=kprobe) instead of trusting detection."""
    return os.environ.get("LESSONS_EXPECT_AUTO") or ("kprobe" if CAPS.kprobes else "tracepoint")


def has_syscalls(*names):
    """Which of these system calls this kernel and architecture have, from its syscalls tracepoints (arm64 has no
    chmod() and no open(): only fchmodat() and openat()). Written apart from the lessons' plumbing on purpose."""
    return [n for n in names if os.path.isdir("%s/events/syscalls/sys_enter_%s" % (CAPS.tracefs, n))]


NO_KPROBES = ("error: --probe kprobe: this kernel cannot attach kprobes (no kprobe PMU, no kprobe_events in tracefs: "
              "CONFIG_KPROBE_EVENTS is off); use --probe tracepoint")


def assert_kprobe_refused(script, args=()):
    """On a kernel that cannot attach kprobes, `--probe kprobe` is one clear line and exit 1, nothing else."""
    run = run_to_exit(script, ["--probe", "kprobe", *args])
    assert run.returncode == 1 and run.err_lines == [NO_KPROBES], run.transcript()
    assert not any("Traceback" in line for line in run.lines + run.err_lines), run.transcript()


def require(condition, reason):
    if not condition:
        (pytest.fail if NO_SKIP else pytest.skip)(reason)


# ---------------------------------------------------------------- the lesson runner
class LessonRun:
    """One lesson running as a subprocess; its stdout and stderr are read without threads or blocking.
    (scripts/check.py, the exercise checker, runs learners' scripts with it too: its fail() says why.)"""

    def fail(self, message):
        """A wait that ended without what it waited for: the test fails, with the lesson's transcript."""
        pytest.fail("%s\n%s" % (message, self.transcript()))

    def __init__(self, script, args=(), python=None, env=None, prefix=()):
        """python: the interpreter, or a list of it and its options (e.g. [sys.executable, "-S"])."""
        self.script = LESSONS / script
        python = list(python) if isinstance(python, (list, tuple)) else [python or sys.executable]
        self.argv = [*prefix, *python, str(self.script), *map(str, args)]
        self.proc = subprocess.Popen(self.argv, cwd=str(ROOT), env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.lines, self.err_lines = [], []
        self._stdout_fd = self.proc.stdout.fileno()
        self._partial = {self._stdout_fd: b"", self.proc.stderr.fileno(): b""}
        self._open = set(self._partial)
        self.returncode = None
        self.stop_seconds = None
        self.held, self.prog_ids = [], set()

    # -- reading
    def _pump(self, timeout):
        """Read what stdout/stderr hold, waiting at most `timeout` seconds for something."""
        if not self._open:
            time.sleep(min(timeout, 0.05))
            return
        readable, _, _ = select.select(list(self._open), [], [], max(timeout, 0))
        for fd in readable:
            data = os.read(fd, 65536)
            if not data:
                self._open.discard(fd)
                data = b"\n" if self._partial[fd] else b""
            *complete, self._partial[fd] = (self._partial[fd] + data).split(b"\n")
            target = self.lines if fd == self._stdout_fd else self.err_lines
            target.extend(c.decode("utf-8", "surrogateescape") for c in complete)

    def wait_for(self, found, timeout=EVENT_TIMEOUT, what="the expected output"):
        """Read until found() returns something true; return it. Fails the test at the deadline or when the
        lesson exits first, showing what the lesson printed."""
        deadline = time.monotonic() + timeout
        while True:
            result = found()
            if result:
                return result
            if not self._open and self.proc.poll() is not None:
                self.fail("lesson exited (rc=%s) before %s" % (self.proc.returncode, what))
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail("no %s within %.0f s" % (what, timeout))
            self._pump(min(left, 0.2))

    def match(self, regex, timeout=EVENT_TIMEOUT, what=None):
        """Wait for the first stdout line matching regex; return the re.Match."""
        regex = re.compile(regex)

        def first():
            return next((m for m in map(regex.search, self.lines) if m), None)
        return self.wait_for(first, timeout, what or "line matching %r" % regex.pattern)

    def wait_ready(self):
        self.match(READY, READY_TIMEOUT, "ready line ('Tracing ... Ctrl-C to end')")
        return self

    def attached(self):
        """(kind, target) of the probe the lesson says it attached: ('tracepoint', 'syscalls:sys_enter_clone')."""
        m = self.match(ATTACHED, 0.1, "'attached: <kind> <target>' line before the ready line")
        return m.group("kind"), m.group("target")

    # -- stopping
    def stop(self, sig=signal.SIGINT, timeout=STOP_TIMEOUT):
        """Send sig, read everything until exit (bounded); return the exit code."""
        if self.proc.poll() is None:
            start = time.monotonic()
            self.proc.send_signal(sig)
            self.finish(timeout)
            self.stop_seconds = time.monotonic() - start
        else:
            self.finish(timeout)
        return self.returncode

    def stop_impatiently(self, sig=signal.SIGINT, every=0.02, timeout=STOP_TIMEOUT):
        """A learner who presses Ctrl-C again and again: sig, then sig again every `every` seconds until the lesson
        exits (bounded), reading its output meanwhile; return the exit code. stop_seconds counts from the first."""
        start = time.monotonic()
        while self.proc.poll() is None and time.monotonic() - start < timeout:
            self.proc.send_signal(sig)   # Popen does not signal a process it has reaped
            self._pump(every)
        self.finish(max(timeout - (time.monotonic() - start), 0.1))
        self.stop_seconds = time.monotonic() - start
        return self.returncode

    def finish(self, timeout):
        """Wait (bounded) for the lesson to exit on its own; read all its output."""
        deadline = time.monotonic() + timeout
        while (self._open or self.proc.poll() is None) and time.monotonic() < deadline:
            self._pump(0.1)
        if self.proc.poll() is None:
            self.kill()
            self.fail("lesson did not exit within %.0f s" % timeout)
        self.returncode = self.proc.returncode
        return self.returncode

    def close_stdout(self):
        """Stop reading the lesson's stdout and close our end, as `lesson | head` does after head's last line."""
        self._open.discard(self._stdout_fd)
        self.proc.stdout.close()

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def assert_no_python_error(self):
        """No traceback and no error line on stderr. (bcc also writes clang's warnings about some kernels' headers
        there, on 5.10 and 6.12: those are not the lesson's.)"""
        bad = [l for l in self.err_lines if "Traceback" in l or "KeyboardInterrupt" in l or l.startswith("error:")]
        assert not bad, self.transcript()

    def assert_clean_exit(self):
        """Exit 0 and no traceback: what every lesson owes a learner who presses Ctrl-C."""
        assert self.returncode == 0, "exit code %s\n%s" % (self.returncode, self.transcript())
        assert not any("Traceback" in line for line in self.err_lines + self.lines), self.transcript()

    # -- what it leaves behind
    def note_held(self):
        """Record what the running lesson holds of BPF (programs, maps, perf events, trace_pipe); after its exit,
        assert_nothing_left() checks that none of its programs is still loaded."""
        self.held, self.prog_ids = bpf_objects_of(self.proc.pid)
        assert self.prog_ids, "the lesson holds no BPF program\n%s" % self.transcript()
        return self

    def assert_nothing_left(self, loaded_before=None):
        """After the exit: none of the programs the lesson held is loaded (bpftool prog show, or the same bpf()
        command where bpftool is absent), and no kprobe/uprobe event bcc named after its pid is left in tracefs.
        loaded_before: the ids loaded before the lesson started, for a lesson that ended before note_held() could
        see what it held: then no program loaded since may remain. Returns how the programs were listed."""
        deadline = time.monotonic() + STOP_TIMEOUT     # the kernel frees a program shortly after its last user
        while True:
            ids, how = bpf_program_ids()
            still = ids - loaded_before if loaded_before is not None else self.prog_ids & ids
            events = bcc_probe_events(self.proc.pid)
            if not (still or events) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert not still, "BPF programs %s still loaded after the lesson exited (%s)" % (sorted(still), how)
        assert not events, "probe events left in tracefs: %s" % events
        return how

    def transcript(self):
        return "$ %s\n--- stdout (%d lines, last 40) ---\n%s\n--- stderr ---\n%s" % (
            " ".join(self.argv), len(self.lines), "\n".join(self.lines[-40:]), "\n".join(self.err_lines[-40:]))


def run_to_exit(script, args=(), timeout=READY_TIMEOUT, python=None, env=None, prefix=()):
    """Run a lesson that is expected to end by itself (errors, --duration, doctor); return the LessonRun.
    prefix: a command to run it under (e.g. setpriv to drop root)."""
    run = LessonRun(script, args, python=python, env=env, prefix=prefix)
    run.finish(timeout)
    return run


@pytest.fixture(scope="session")
def bpf_ready():
    """Root, the distro's bcc and tracefs: skip (or, under `make test`, fail) with the precise reason."""
    reason = CAPS.missing()
    require(reason is None, reason)
    return CAPS


@pytest.fixture
def lesson(bpf_ready):
    """start(script, *args) -> LessonRun that is ready (its probes attached). Runs left over are killed."""
    runs = []

    def start(script, *args, fresh_trace_buffer=False):
        if fresh_trace_buffer:
            clear_trace_buffer()
        run = LessonRun(script, args)
        runs.append(run)
        return run.wait_ready()
    yield start
    for run in runs:
        run.kill()


# ---------------------------------------------------------------- the trace buffer
def clear_trace_buffer():
    """Empty the kernel's shared trace buffer, so lines left by earlier runs cannot be mistaken for ours."""
    with open(CAPS.tracefs + "/trace", "w"):
        pass


TRACE_LINE = re.compile(r"^\s*(?P<task>.+?)-(?P<pid>\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(?P<cpu>\d+)\]\s+(?P<flags>\S+)\s+"
                        r"(?P<ts>\d+\.\d+): (?P<sym>[^:]+): (?P<msg>.*)$")


def parse_trace_line(line):
    """A trace_pipe line as printed by trace_print() (which prints bytes as b'...') -> dict, or None."""
    if line.startswith(("b'", 'b"')):
        line = ast.literal_eval(line).decode("utf-8", "surrogateescape")
    m = TRACE_LINE.match(line)
    if not m:
        return None
    d = m.groupdict()
    d["pid"], d["cpu"], d["ts"] = int(d["pid"]), int(d["cpu"]), float(d["ts"])
    return d


def saved_cmdlines():
    """{pid: name} as the trace buffer remembers them (tracefs saved_cmdlines). A trace_pipe line's COMM is
    looked up here when the line is read: "<...>" for a pid with no entry yet, and, for a pid the kernel has
    just reused, the name of the process that had it before, until a context switch saves the new one."""
    with open(CAPS.tracefs + "/saved_cmdlines") as f:
        return {int(pid): name for pid, _, name in (line.rstrip("\n").partition(" ") for line in f) if pid.isdigit()}


def trace_comm_of(pid):
    """The name the trace buffer shows for pid (from saved_cmdlines), or None while it has not saved one:
    trace_pipe lines then show "<...>". The kernel saves a name at a context switch after the task's event."""
    return saved_cmdlines().get(pid)


def trace_comms_allowed(pid, comm, before):
    """What a trace_pipe line may show as COMM for an event of pid whose name is comm: comm, "<...>", or the
    name saved_cmdlines held for that pid in `before` (a saved_cmdlines() taken before the event)."""
    return {comm, "<...>"} | ({before[pid]} if pid in before else set())


@contextlib.contextmanager
def hold_trace_pipe():
    """Hold trace_pipe open, as another tool reading it would. Yields whether the kernel lets only one
    reader open it at a time (a second open gets EBUSY since Linux 6.5)."""
    path = CAPS.tracefs + "/trace_pipe"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        if e.errno != errno.EBUSY:
            raise
        fd = None             # someone else holds it already: it is busy all the same
    try:
        try:
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
            exclusive = False
        except OSError as e:
            if e.errno != errno.EBUSY:
                raise
            exclusive = True
        yield exclusive
    finally:
        if fd is not None:
            os.close(fd)

def until_seen(run, act, found, what, every=0.5, timeout=EVENT_TIMEOUT):
    """Do act() again every `every` seconds until found() is true on the lesson's output, bounded by timeout:
    for lessons that read the shared trace buffer, which loses lines under load (CONTRIBUTING.md, "Platform facts").
    Returns (what found() returned, how many times act() ran)."""
    deadline, acts = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        act()
        acts += 1
        next_act = min(time.monotonic() + every, deadline)
        while time.monotonic() < next_act and (run._open or run.proc.poll() is None):
            result = found()
            if result:
                return result, acts
            run._pump(min(0.1, max(next_act - time.monotonic(), 0)))
        if not run._open and run.proc.poll() is not None:
            break
    return run.wait_for(found, 0.01, "%s (after %d tries in %.0f s)" % (what, acts, timeout)), acts


def write_trace_marker(text):
    """One line into the shared trace buffer, as any other program may write one (tracefs trace_marker)."""
    with open(CAPS.tracefs + "/trace_marker", "w") as f:
        f.write(text + "\n")


def trace_fence():
    """Write a unique line into the shared trace buffer and return it. Once a lesson has printed it, every line it
    prints with a later timestamp was written after this moment: stale lines from earlier runs have earlier ones."""
    tag = "fence-%d-%s" % (os.getpid(), os.urandom(4).hex())
    write_trace_marker(tag)
    return tag


def trace_buffer_kb():
    """The size of each CPU's part of the trace buffer, in KiB (tracefs buffer_size_kb; 7 on the test host)."""
    with open(CAPS.tracefs + "/buffer_size_kb") as f:
        return int(f.read().split()[0])


# ---------------------------------------------------------------- workloads the tests own
def fork_children(n):
    """Fork n children from this process's main thread; each exits at once. os.fork() is the clone()
    system call (CONTRIBUTING.md, "Platform facts"), made by the test process itself. Returns the children's pids."""
    pids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        pids.append(pid)
    return pids


@functools.lru_cache(maxsize=None)
def syscall_entry(name):
    """The kernel symbol of a syscall's entry point, as bcc's get_syscall_fnname finds it: __x64_sys_<name> on
    x86-64 since Linux 4.17 (the names a lesson prints after "attached: kprobe")."""
    with open("/proc/kallsyms") as f:
        symbols = {fields[2] for fields in map(str.split, f) if len(fields) >= 3}
    return next((p + name for p in ("__x64_sys_", "__arm64_sys_", "sys_") if p + name in symbols), None)


def own_comm():
    """This process's comm, as the kernel knows it (TASK_COMM_LEN: at most 15 bytes)."""
    with open("/proc/self/comm") as f:
        return f.read().rstrip("\n")


def unique_path(tag, directory="/tmp"):
    """A path no other run or process uses: directory/lesson-<tag>-<this pid>-<random hex>. It is not created.
    Short (< 63 bytes with /tmp) so that even kernels before 5.13, whose bpf_trace_printk prints at most
    63 bytes of a string, show it whole."""
    return os.path.join(directory, "lesson-%s-%d-%s" % (tag, os.getpid(), os.urandom(4).hex()))


def chmod_in_thread(path, mode):
    """os.chmod(path, mode) from a second thread of this process: the chmod() system call (CONTRIBUTING.md, "Platform facts"),
    made by a task whose thread id differs from the process id. Returns that thread's id (gettid())."""
    done = {}

    def work():
        done["tid"] = threading.get_native_id()
        os.chmod(path, mode)
    thread = threading.Thread(target=work)
    thread.start()
    thread.join(EVENT_TIMEOUT)
    assert not thread.is_alive() and "tid" in done, "the chmod thread did not finish"
    return done["tid"]


def chmod_by_coreutils(path, mode):
    """coreutils chmod (the fchmodat() system call) in a child process. Returns the child's pid."""
    proc = subprocess.Popen(["chmod", "%o" % mode, path])
    assert proc.wait(EVENT_TIMEOUT) == 0, "chmod %o %s failed" % (mode, path)
    return proc.pid


MARKER_WRITER = r"""
import os, sys, time
line, seconds, path = sys.argv[1].encode(), float(sys.argv[2]), sys.argv[3]
fd, end, written = os.open(path, os.O_WRONLY), time.monotonic() + seconds, 0
while time.monotonic() < end:
    os.write(fd, line)          # one write, one line in the kernel's shared trace buffer
    written += 1
    time.sleep(0.001)           # about 1000 lines a second: a busy neighbour, not a flood that drowns others
print(written)
"""


def trace_marker_writer(line, seconds):
    """Another user of the shared trace buffer: a process that writes `line` to tracefs trace_marker in a loop
    for `seconds`, as a second bpf_trace_printk program would. Returns the Popen; it prints how many it wrote."""
    return subprocess.Popen([sys.executable, "-c", MARKER_WRITER, line, str(seconds), CAPS.tracefs + "/trace_marker"],
                            stdout=subprocess.PIPE)


def unique_program(directory, prefix):
    """A copy of /bin/true named prefix + this test process's pid + a counter, at most 15 bytes so that the
    kernel's comm for it is the whole name. Returns its path (str)."""
    unique_program.made = getattr(unique_program, "made", 0) + 1
    name = ("%s%d_%d" % (prefix, os.getpid(), unique_program.made))
    assert len(name) <= 15, "name %r is longer than TASK_COMM_LEN - 1" % name
    path = os.path.join(str(directory), name)
    shutil.copy("/bin/true", path)
    os.chmod(path, 0o755)
    return path


# -- storms and streams: events far faster than a lesson prints them
SYSCALL_NR = {"x86_64": {"clone": 56, "bpf": 321}, "aarch64": {"clone": 220, "bpf": 280}}.get(os.uname().machine, {})
CLONE_SIGHAND = 0x800    # without CLONE_VM the kernel refuses it (EINVAL) after the syscall entry probes ran


def syscall_storm(kind, n, path=None):
    """n system calls of one kind from this thread, as fast as Python makes them (~1 us each here): clone (one the
    kernel refuses: no process is made, but the clone probes of lessons 001/002 fire), open or chmod of `path`
    (which may be missing: the entry probes fire all the same), or getppid. Returns n."""
    libc = ctypes.CDLL(None, use_errno=True)
    for _ in range(n):
        try:
            if kind == "clone":
                libc.syscall(SYSCALL_NR["clone"], CLONE_SIGHAND, 0, 0, 0, 0)
            elif kind == "open":
                os.close(os.open(path, os.O_RDONLY))
            elif kind == "chmod":
                os.chmod(path, 0o600)
            else:
                os.getppid()
        except OSError:
            pass
    return n


STREAM = r"""
import ctypes, os, sys, time
kind, path, seconds, clone_nr = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
libc, end = ctypes.CDLL(None, use_errno=True), time.monotonic() + seconds
while time.monotonic() < end:
    try:
        if kind == "clone":
            libc.syscall(clone_nr, 0x800, 0, 0, 0, 0)
        elif kind == "open":
            os.close(os.open(path, os.O_RDONLY))
        elif kind == "chmod":
            os.chmod(path, 0o600)
        elif kind == "sync":
            os.sync()
        elif kind == "exec":
            os.waitpid(os.posix_spawn(path, [path], {}), 0)
    except OSError:
        pass
"""


@contextlib.contextmanager
def event_stream(kind, path="", seconds=30):
    """Another process making events of one kind without pause (see syscall_storm; sync; exec of `path`) for at
    most `seconds` (scaled), stopped when the block ends. Yields its Popen."""
    proc = subprocess.Popen([sys.executable, "-c", STREAM, kind, path, str(seconds * TIME_SCALE),
                             str(SYSCALL_NR["clone"])], stdin=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(STOP_TIMEOUT)


@contextlib.contextmanager
def pinned_to_one_cpu():
    """Run this thread, and the processes it starts, on one CPU: a storm and the event after it then share one
    per-CPU buffer, and the perf buffer reports the storm's losses with that event (CONTRIBUTING.md, "Platform facts"). Yields the CPU."""
    before = os.sched_getaffinity(0)
    cpu = max(before)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, before)


# -- hostile file names: what a user may name a file, to check that a lesson prints it escaped, on one line
# case -> (the last part of the path, as bytes; what a lesson prints for it). The shown text is written out here,
# not computed with the lessons' own escaping, so that a test checks it independently.
HOSTILE = {
    "newline": (b"nl\n4242-FORGED", "nl\\n4242-FORGED"),       # a newline, then what would forge a row
    "escape": (b"esc\x1b[31mred", "esc\\x1b[31mred"),          # ESC [31m: red text on a terminal
    "tab": (b"tab\tx", "tab\\tx"),
    "not_utf8": (b"bad\xff\xfe", "bad\\xff\\xfe"),
}


@pytest.fixture
def short_dir():
    """A new directory /tmp/l-<pid>-<hex> (str), removed afterwards: short, so that a path in it stays under the
    63 bytes that kernels before 5.13 print of a string through bpf_trace_printk."""
    path = "/tmp/l-%d-%s" % (os.getpid(), os.urandom(2).hex())
    os.mkdir(path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def path_max_program(directory, leaf):
    """A copy of /bin/true at a path of PATH_MAX (4096) bytes with its final NUL: directory/ddd.../ddd.../leaf,
    4095 bytes, through nested directories since one name is at most 255 bytes. Returns the path (bytes)."""
    base, leaf = os.fsencode(directory), os.fsencode(leaf)
    dirs, left = b"", 4095 - len(base) - 1 - len(leaf)     # bytes left for "/name" parts
    while left:
        n = min(255, left - 1)
        n -= left - 1 - n == 1           # never leave one byte: a "/" with no name after it
        dirs += b"/" + b"d" * n
        left -= n + 1
    os.makedirs(base + dirs)
    path = base + dirs + b"/" + leaf
    shutil.copy("/bin/true", path)
    os.chmod(path, 0o755)
    assert len(path) == 4095, len(path)
    return path


SPAWNER = r"""
import ast, os, sys
comm, runs = ast.literal_eval(sys.stdin.read())
with open("/proc/self/comm", "w") as f:
    f.write(comm)                      # the spawned children inherit it: their comm until they exec
done = []
for path, argv in runs:
    try:
        pid = os.posix_spawn(path, argv, {})    # a vfork-ed child that calls execve(path, argv, {})
        os.waitpid(pid, 0)
        done.append(pid)
    except OSError as e:
        done.append(-e.errno)            # the exec failed (e.g. -2: ENOENT); the execve() call happened
print(repr(done))
"""


def exec_from_parent(runs, comm, timeout=None):
    """Start a Python parent process named `comm` that runs each (path, argv) of `runs` in turn with
    posix_spawn (execve() in a new child) and waits for it. argv items may be str or bytes.
    Returns (the parent's pid, [child pid, or -errno when the exec failed, per run])."""
    proc = subprocess.Popen([sys.executable, "-c", SPAWNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out, err = proc.communicate(repr((comm, list(runs))).encode(), timeout=timeout or EVENT_TIMEOUT * 3)
    assert proc.returncode == 0, err.decode(errors="replace")
    return proc.pid, ast.literal_eval(out.decode())


def btf_offsets_by_bpftool(struct_name, members):
    """{member: byte offset} of a struct in the running kernel, as `bpftool btf dump` reports it: a reading
    independent of any lesson's own BTF parser. None when bpftool or BTF is absent. Members of anonymous
    structs/unions are searched too."""
    bpftool = shutil.which("bpftool") or next((p for p in ("/usr/sbin/bpftool", "/sbin/bpftool") if os.path.exists(p)), None)
    if not (bpftool and CAPS.btf):
        return None
    raw = subprocess.run([bpftool, "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "raw"],
                         stdout=subprocess.PIPE, check=True, timeout=30).stdout.decode()
    types, current = {}, None     # id -> (kind, name, [(member, type id, bit offset)])
    for line in raw.splitlines():
        m = re.match(r"^\[(\d+)\] (\w+) '([^']*)'", line)
        if m:
            current = types[int(m.group(1))] = (m.group(2), m.group(3), [])
        elif current and line.startswith("\t'"):
            m = re.match(r"^\t'([^']*)' type_id=(\d+) bits_offset=(\d+)", line)
            if m:
                current[2].append((m.group(1), int(m.group(2)), int(m.group(3))))

    def find(tid, want, base):
        for name, mtype, bits in types[tid][2]:
            if name == want:
                return base + bits // 8
            if name == "(anon)" and types[mtype][0] in ("STRUCT", "UNION"):   # how bpftool shows no name
                found = find(mtype, want, base + bits // 8)
                if found is not None:
                    return found
        return None
    tid = next(t for t, (kind, name, ms) in types.items() if kind == "STRUCT" and name == struct_name and ms)
    return {m: find(tid, m, 0) for m in members}


# ---------------------------------------------------------------- notebooks
# A lesson as a notebook: converted by jupytext as `make notebooks` does, executed by nbclient on the kernel that
# set-up installs, while the test causes the events. NotebookRun has LessonRun's interface, so the script tests'
# checks run on a notebook unchanged; stop(SIGINT) is Jupyter's interrupt button (it sends SIGINT to the kernel).
NOTEBOOK_KERNEL = "ebpf-lessons"   # set-up installs it into .venv: the distro's python3, which sees bcc
# What `make notebooks` passes to jupytext: the kernel, and no notebook metadata in the script on the way back.
NOTEBOOK_METADATA = {"kernelspec": {"name": NOTEBOOK_KERNEL, "display_name": "Python 3 (eBPF lessons, distro bcc)",
                                    "language": "python"},
                     "jupytext": {"notebook_metadata_filter": "-all"}}


def notebook_tools_missing():
    """Why notebooks cannot be executed here, or None."""
    try:
        import jupytext, nbclient  # noqa: F401
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    except ImportError as e:
        return "%s in %s: `sudo make setup` installs requirements.txt into .venv" % (e, sys.executable)
    try:
        KernelSpecManager().get_kernel_spec(NOTEBOOK_KERNEL)
    except NoSuchKernel:
        return "no Jupyter kernel %r for %s: `sudo make setup` installs it" % (NOTEBOOK_KERNEL, sys.executable)
    return None


def lesson_notebook(script, directory):
    """Convert lessons/<script> with the jupytext command line, as `make notebooks` does; return the notebook
    path (directory/<name>.ipynb)."""
    out = Path(directory) / (Path(script).stem + ".ipynb")
    subprocess.run([sys.executable, "-m", "jupytext", "--quiet", "--to", "ipynb", "--update-metadata",
                    json.dumps(NOTEBOOK_METADATA), "--output", str(out), str(LESSONS / script)],
                   check=True, timeout=60, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return out


def with_notebook_args(nb, args):
    """papermill's convention: a cell tagged injected-parameters, right after the cell tagged parameters,
    overrides the lesson's NOTEBOOK_ARGS."""
    import nbformat
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell("NOTEBOOK_ARGS = %r" % [str(a) for a in args],
                                                         metadata={"tags": ["injected-parameters"]}))
    return nb


def bcc_probe_events(pid):
    """The kprobe/uprobe events bcc created in tracefs for process pid (named ..._bcc_<pid>): the one kind of
    attachment that outlives a process (bcc uses them where the kernel has no kprobe/uprobe perf PMU)."""
    found = []
    for events in ("kprobe_events", "uprobe_events"):
        if CAPS.tracefs and os.path.exists(CAPS.tracefs + "/" + events):
            with open(CAPS.tracefs + "/" + events) as f:
                found += [line.strip() for line in f if "_bcc_%d " % pid in line]
    return found


def bpf_program_ids():
    """(the ids of every BPF program loaded in the kernel, how they were listed): `bpftool prog show`, or, where
    bpftool is absent (some QEMU guests), the bpf() command it uses, BPF_PROG_GET_NEXT_ID, called here."""
    bpftool = shutil.which("bpftool") or next((p for p in ("/usr/sbin/bpftool", "/sbin/bpftool") if os.path.exists(p)), None)
    if bpftool:
        out = subprocess.run([bpftool, "-j", "prog", "show"], stdout=subprocess.PIPE, check=True, timeout=30).stdout
        return {p["id"] for p in json.loads(out or b"[]")}, "bpftool prog show"
    libc, attr, ids = ctypes.CDLL(None, use_errno=True), (ctypes.c_uint32 * 4)(), set()   # start_id, next_id, ...
    while libc.syscall(SYSCALL_NR["bpf"], 11, attr, ctypes.sizeof(attr)) == 0:   # 11: BPF_PROG_GET_NEXT_ID
        ids.add(attr[1])
        attr[0] = attr[1]
    return ids, "bpf(BPF_PROG_GET_NEXT_ID)"


def blocks_signal(pid, sig):
    """Whether process pid holds signal sig back (blocked: the SigBlk mask in /proc/PID/status)."""
    with open("/proc/%d/status" % pid) as f:
        mask = next(int(line.split()[1], 16) for line in f if line.startswith("SigBlk:"))
    return bool(mask & (1 << (sig - 1)))


def bpf_objects_of(pid):
    """What process pid holds of BPF and tracing: programs, maps, perf events (attachments), trace_pipe, and
    the kprobe/uprobe events bcc names after its pid. Returns (descriptions, program ids)."""
    held, prog_ids = [], set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            info = open("/proc/%d/fdinfo/%s" % (pid, fd)).read()
        except OSError:
            continue
        if target.startswith("anon_inode:bpf") or target == "anon_inode:[perf_event]" or target.endswith("/trace_pipe"):
            held.append(target)
            prog_ids.update(int(m) for m in re.findall(r"^prog_id:\s*(\d+)", info, re.M))
    return sorted(held + bcc_probe_events(pid)), prog_ids


def loaded_programs(ids):
    """Which of these BPF program ids are still loaded in the kernel (bpftool, or the bpf() command it uses)."""
    return bpf_program_ids()[0] & set(ids)


class _NotebookProcess:
    """The part of subprocess.Popen that LessonRun uses, for a notebook being executed: poll() is None while
    cells run; send_signal() signals the kernel, as Jupyter's interrupt button does."""

    def __init__(self, run):
        self.run = run

    @property
    def pid(self):
        return self.run.kernel_pid

    @property
    def returncode(self):
        return None if self.run._thread.is_alive() else (1 if self.run.error else 0)

    def poll(self):
        return self.returncode

    def send_signal(self, sig):
        os.kill(self.run.kernel_pid, sig)


class NotebookRun(LessonRun):
    """A lesson's notebook executed cell by cell by nbclient in a thread, on a new kernel. After the last cell the
    kernel is still alive, as in Jupyter: what it still holds of BPF is recorded in `leftovers` (it must be
    nothing), then it is shut down. lines/err_lines: the stdout/stderr of all cells; an error output (a cell
    that raised, SystemExit included) goes to err_lines and makes the return code 1."""

    def __init__(self, script, args=None, directory=None):
        import nbformat
        from nbclient import NotebookClient
        self.script = LESSONS / script
        self.path = lesson_notebook(script, directory)
        self.nb = nbformat.read(str(self.path), as_version=4)
        if args is not None:
            with_notebook_args(self.nb, args)
        self.argv = ["notebook", str(self.path), "NOTEBOOK_ARGS=%r" % (args if args is None else list(map(str, args)))]
        self.lines, self.err_lines = [], []
        self.returncode = self.stop_seconds = self.error = self.kernel_pid = None
        self.leftovers, self.prog_ids = None, set()
        # the kernel runs where Jupyter runs a notebook beside the script: in the lesson's folder
        self.client = NotebookClient(self.nb, timeout=int(60 * TIME_SCALE), startup_timeout=int(READY_TIMEOUT),
                                     resources={"metadata": {"path": str(self.script.parent)}})
        self.proc = _NotebookProcess(self)
        self._open = {"cells"}
        self._thread = threading.Thread(target=self._execute, daemon=True)
        self._thread.start()

    def _execute(self):
        try:
            with self.client.setup_kernel():
                self.kernel_pid = self.client.km.provisioner.pid
                try:
                    for index, cell in enumerate(self.nb.cells):
                        self.client.execute_cell(cell, index)
                except Exception as e:      # CellExecutionError: a cell raised; DeadKernelError: killed
                    self.error = e
                if self.client.km.provisioner.has_process:
                    self.leftovers = bpf_objects_of(self.kernel_pid)[0]
        except Exception as e:              # the kernel did not start
            self.error = self.error or e

    def _pump(self, timeout):
        done = not self._thread.is_alive()
        if not done:
            self._thread.join(min(max(timeout, 0), 0.05))
        out, err = [], []
        for cell in self.nb.cells:
            for o in list(cell.get("outputs", [])):
                if o.get("output_type") == "stream":
                    (out if o.get("name") == "stdout" else err).append(o.get("text", ""))
                elif o.get("output_type") == "error":
                    err.append("\n".join(["%s: %s" % (o.get("ename"), o.get("evalue"))] +
                                         [re.sub(r"\x1b\[[0-9;]*m", "", t) for t in o.get("traceback", [])]) + "\n")
        for target, texts in (("lines", out), ("err_lines", err)):
            lines = "".join(texts).split("\n")
            if not done or lines[-1] == "":
                lines.pop()   # while cells run, the last piece may be half a line
            setattr(self, target, lines)
        if done:
            self._open = set()

    def wait_ready(self):
        super().wait_ready()
        self.prog_ids = bpf_objects_of(self.kernel_pid)[1]   # what the lesson loaded: gone at the end?
        return self

    def kill(self):
        if self._thread.is_alive() and self.kernel_pid:
            os.kill(self.kernel_pid, signal.SIGKILL)
        self._thread.join(STOP_TIMEOUT)

    def assert_clean_exit(self):
        """All cells ran without an error, no traceback, and the kernel, alive after the last cell, holds nothing
        of BPF: the lesson detached its probes itself (bpftool agrees: its programs are unloaded)."""
        super().assert_clean_exit()
        assert self.leftovers == [], "after the last cell the kernel still holds %s\n%s" % (self.leftovers, self.transcript())
        deadline = time.monotonic() + STOP_TIMEOUT     # the kernel frees a program shortly after its last user
        while self.prog_ids and loaded_programs(self.prog_ids) and time.monotonic() < deadline:
            time.sleep(0.05)
        still = self.prog_ids and loaded_programs(self.prog_ids)
        assert not still, "BPF programs %s are still loaded after the notebook ended" % sorted(still)

    def transcript(self):
        text = super().transcript()
        if self.error and not self.err_lines:
            text += "\n--- error ---\n%s" % self.error
        return text


@pytest.fixture
def notebook(bpf_ready, tmp_path):
    """start(script, *args) -> NotebookRun that is ready (its probes attached; ready=False: at once). args, when
    given, replace the lesson's NOTEBOOK_ARGS; start(script) runs it with its own. Runs left over are killed."""
    reason = notebook_tools_missing()
    require(reason is None, reason)
    runs = []

    def start(script, *args, fresh_trace_buffer=False, ready=True):
        if fresh_trace_buffer:
            clear_trace_buffer()
        run = NotebookRun(script, list(args) or None, directory=tmp_path)
        runs.append(run)
        return run.wait_ready() if ready else run
    yield start
    for run in runs:
        run.kill()
