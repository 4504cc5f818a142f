"""Workloads the tests own: processes and system calls that cause a lesson's events with values only this run
knows (pids, names, paths, modes), storms and streams of events, hostile file names."""
import ast
import contextlib
import ctypes
import os
import select
import shutil
import subprocess
import sys
import threading
import time

from .machine import CAPS, EVENT_TIMEOUT, STOP_TIMEOUT, SYSCALL_NR, TIME_SCALE


# ---------------------------------------------------------------- workloads the tests own
def ended_pid():
    """The pid of a process of this test that has ended and been reaped: no process has it now."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


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
    if written == 1:
        print("writing", flush=True)
    time.sleep(0.001)           # about 1000 lines a second: a busy neighbour, not a flood that drowns others
print(written)
"""


def trace_marker_writer(line, seconds):
    """Another user of the shared trace buffer: a process that writes `line` to tracefs trace_marker in a loop
    for `seconds`, as a second bpf_trace_printk program would. Returns the Popen once its first line is in the
    buffer (bounded wait); its last output line is how many it wrote."""
    proc = subprocess.Popen([sys.executable, "-c", MARKER_WRITER, line, str(seconds), CAPS.tracefs + "/trace_marker"],
                            stdout=subprocess.PIPE)
    if not select.select([proc.stdout], [], [], EVENT_TIMEOUT)[0] or proc.stdout.readline() != b"writing\n":
        proc.kill()
        raise AssertionError("the trace_marker writer wrote nothing within %.0f s" % EVENT_TIMEOUT)
    return proc


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
CLONE_SIGHAND = 0x800    # without CLONE_VM the kernel refuses it (EINVAL) after the syscall entry probes ran


def syscall_storm(kind, n, path=None):
    """n system calls of one kind from this thread, as fast as Python makes them (~1 us each here): clone (one the
    kernel refuses: no process is made, but the clone probes of lessons 001/002 fire), open or chmod of `path`
    (which may be missing: the entry probes fire all the same), getenv of the name `path` (a libc call), or getppid.
    Returns n."""
    libc = ctypes.CDLL(None, use_errno=True)
    for _ in range(n):
        try:
            if kind == "clone":
                libc.syscall(SYSCALL_NR["clone"], CLONE_SIGHAND, 0, 0, 0, 0)
            elif kind == "open":
                os.close(os.open(path, os.O_RDONLY))
            elif kind == "chmod":
                os.chmod(path, 0o600)
            elif kind == "getenv":           # libc's getenv(path), not a system call: lesson 010's uprobe
                libc.getenv(os.fsencode(path))
            else:
                os.getppid()
        except OSError:
            pass
    return n


STREAM = r"""
import ctypes, os, sys, time
kind, path, seconds, clone_nr = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
libc, end = ctypes.CDLL(None, use_errno=True), time.monotonic() + seconds
fd = os.open(path, os.O_RDONLY) if kind == "read" else None
if kind == "usdt":                   # lesson 011's demo, ticking every millisecond, in this process
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)   # its lines are not what the test reads
    os.execv(path, [path, "stream", "1"])
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
        elif kind == "read":             # read() at the end of `path`: returns 0 at once
            os.read(fd, 1)
        elif kind == "exec":
            os.waitpid(os.posix_spawn(path, [path], {}), 0)
        elif kind == "getenv":
            libc.getenv(path.encode())
        elif kind == "getppid":          # lesson 012's default system call
            os.getppid()
    except OSError:
        pass
"""


@contextlib.contextmanager
def event_stream(kind, path="", seconds=30):
    """Another process making events of one kind without pause (see syscall_storm; sync; read of `path`; exec of
    `path`; usdt: become `path`, lesson 011's demo, firing lesson:tick every millisecond) for at most `seconds`
    (scaled), stopped when the block ends. Yields its Popen."""
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


def wait_asleep_in_read(pid, fd):
    """Until process pid sleeps in read(fd, ...): /proc/PID/syscall shows the system call a blocked task is in, and
    its arguments; /proc/PID/stat's state is S while it waits. Bounded: EVENT_TIMEOUT."""
    deadline = time.monotonic() + EVENT_TIMEOUT
    while time.monotonic() < deadline:
        with open("/proc/%d/syscall" % pid) as f:
            call = f.read().split()       # "running", "-1 SP PC" outside a system call, or "NR ARG1 ... SP PC"
        if call[0] == str(SYSCALL_NR["read"]) and int(call[1], 16) == fd:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "S":
                    return
        time.sleep(0.001)
    raise RuntimeError("process %d was not asleep in read(%d) after %d s" % (pid, fd, EVENT_TIMEOUT))


def pipe_reads(delays, comm=None):
    """A child of the test (named `comm` if given) reads one byte from a pipe, once per delay: before each read it
    says so on a second pipe; once it sleeps in the read, the test writes the byte `delay` seconds later. The child
    makes no other read. Returns (its pid, the durations it measured around each os.read(), in seconds): the
    kernel's time of each read is at least the delay, and lies inside that window."""
    data_r, data_w = os.pipe()
    status_r, status_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(data_w), os.close(status_r)
            if comm:
                with open("/proc/self/comm", "w") as f:
                    f.write(comm)
            took = []
            for _ in delays:
                os.write(status_w, b"r")
                t0 = time.monotonic()
                os.read(data_r, 1)
                took.append(time.monotonic() - t0)
            os.write(status_w, " ".join("%.6f" % t for t in took).encode())
        finally:
            os._exit(0)
    os.close(data_r), os.close(status_w)
    try:
        for delay in delays:
            if os.read(status_r, 1) != b"r":
                raise RuntimeError("the reading child %d ended early" % pid)
            wait_asleep_in_read(pid, data_r)   # so the kernel's time of the read holds all of the delay
            time.sleep(delay)
            os.write(data_w, b"x")
        report = b""
        while True:
            chunk = os.read(status_r, 4096)
            if not chunk:
                break
            report += chunk
    finally:
        os.close(data_w), os.close(status_r)
        os.waitpid(pid, 0)
    return pid, [float(t) for t in report.split()]


def exec_from_parent(runs, comm, timeout=None):
    """Start a Python parent process named `comm` that runs each (path, argv) of `runs` in turn with
    posix_spawn (execve() in a new child) and waits for it. argv items may be str or bytes.
    Returns (the parent's pid, [child pid, or -errno when the exec failed, per run])."""
    proc = subprocess.Popen([sys.executable, "-c", SPAWNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out, err = proc.communicate(repr((comm, list(runs))).encode(), timeout=timeout or EVENT_TIMEOUT * 3)
    assert proc.returncode == 0, err.decode(errors="replace")
    return proc.pid, ast.literal_eval(out.decode())
