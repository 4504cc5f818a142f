#!/usr/bin/env python3
"""Checked exercises: run a learner's script, cause events only this run knows, and say whether the kernel agrees.

    sudo make check                       every exercise: done / not yet / cannot run here
    sudo make check EX=001-fork           one exercise, with what it expected and what it saw
    sudo make check EX=001-fork FILE=x.py another file than the starter (your own copy, a solution)
    sudo make watch EX=001-fork           check again each time the file is saved
    scripts/check.py --json [--only ID,...]   every exercise's state as JSON (make report uses it)

Exit status (of scripts/check.py itself; `make check` turns any non-zero one into GNU make's 2):
    0  every exercise checked is done
    1  some exercise is not done yet, or its script did not start
    2  bad usage (an unknown exercise, --file without one)
    3  none of those, but some exercise cannot run on this machine (it lacks what the exercise needs):
       nothing is left that the learner can do here, and still not everything is done
    130  interrupted (Ctrl-C)

The checker reads behaviour, never the source: it starts the script as a learner would (as root, with
lessons/ on PYTHONPATH for `import plumbing`), waits for its ready line, makes its own processes do things
(fork, exec, open, chmod, exit) with values only this run knows (unique paths, names, pids, modes, exit
codes), reads what the script printed, stops it, and makes sure nothing of it is left in the kernel. Every
wait is bounded. The tasks are in lessons/NNN_*/EXERCISES.md; solutions/ holds reference solutions.
It runs with the lessons' test harness (tests/harness/: the runner, the workloads, the capabilities), which
needs nothing beyond Python's standard library (and bcc, for the machine's capabilities).
"""
import argparse
import ast
import itertools
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import harness  # noqa: E402  (the runner, the workloads, the capabilities: written once, there)

EVENT_TIMEOUT, READY_TIMEOUT, STOP_TIMEOUT = harness.EVENT_TIMEOUT, harness.READY_TIMEOUT, harness.STOP_TIMEOUT


class NotYet(Exception):
    """The script ran, and did not do the task: what the check expected, and what it saw, in both languages."""
    def __init__(self, expected, saw, expected_zh, saw_zh):
        super().__init__(expected)
        self.expected, self.saw, self.expected_zh, self.saw_zh = expected, saw, expected_zh, saw_zh


class CannotStart(Exception):
    """The script ended, or never said it was ready: its own first error lines."""
    def __init__(self, lines, returncode):
        super().__init__(lines[0] if lines else "")
        self.lines, self.returncode = lines, returncode


Waited = harness.Waited   # a bounded wait of the runner ended without what it waited for


def first_error_lines(lines, n=6):
    """What a learner needs of a script that would not start: bcc's and the compiler's errors, first ones
    first (clang's warnings about the kernel headers left out), else Python's last lines."""
    if any(line.startswith("Traceback") for line in lines):   # a Python exception: its last lines say what
        return lines[-n:]
    errors = [i for i, line in enumerate(lines) if re.search(r"\berror\b", line)]
    return lines[errors[0]:errors[0] + n] if errors else lines[-n:]


def start(script, args=(), trace_pipe=False):
    """Start the learner's script and wait for its ready line; return the Run."""
    if trace_pipe:
        harness.clear_trace_buffer()           # no line of an earlier run can pass for this one's
    env = dict(os.environ, PYTHONPATH=str(harness.LESSONS))
    run = harness.LessonRun(Path(script).resolve(), [str(a) for a in args], env=env)
    start.runs.append(run)
    try:
        run.match(harness.READY, READY_TIMEOUT, "the ready line")
    except Waited:
        if run.proc.poll() is not None:
            run.finish(1)
            raise CannotStart(first_error_lines(run.err_lines or run.lines), run.returncode)
        raise NotYet("the ready line 'Tracing ... Hit Ctrl-C to end.' within %.0f s" % READY_TIMEOUT,
                     "nothing like it", "%.0f 秒内出现就绪行 'Tracing ... Hit Ctrl-C to end.'" % READY_TIMEOUT, "没有")
    return run


start.runs = []


def stop(run):
    """Ctrl-C, then wait for the exit (bounded); a script that does not end is killed. Returns its output."""
    if run.proc.poll() is None:
        run.proc.send_signal(signal.SIGINT)
    try:
        run.finish(STOP_TIMEOUT)
    except Waited:
        pass                                   # finish() killed it
    return run.lines


def leave_nothing(run):
    """Whatever the script did: it is not running, and no probe event bcc made for it stays in tracefs
    (kprobes attached through kprobe_events outlive a killed process; BPF programs and maps do not)."""
    run.kill()
    for line in harness.bcc_probe_events(run.proc.pid):
        kind = "kprobe_events" if line.startswith(("p:", "r:")) else "uprobe_events"
        # os.open, not open(..., "a"): Python would seek to the end, which these files refuse (EINVAL on 6.18)
        fd = os.open(os.path.join(harness.CAPS.tracefs, kind), os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, ("-:%s\n" % line.split()[0].split(":", 1)[1]).encode())
        finally:
            os.close(fd)


def wait_until(run, found, seconds=None, act=None, every=0.5):
    """Read the script's output until found() is true; act() (a workload) again every `every` seconds for
    output that can be lost (the trace pipe). Returns found()'s value, or None at the deadline (EVENT_TIMEOUT,
    read when called) or when the script has exited."""
    return run.poll_until(found, seconds or EVENT_TIMEOUT, act=act, every=every)[0] or None


def saw(lines, rows=None):
    """What the script printed after its ready line, in a few words, in both languages."""
    after = [l for l in lines[next((i for i, l in enumerate(lines) if harness.READY.search(l)), -1) + 1:] if l.strip()]
    if not after:
        return "nothing after the ready line", "就绪行之后什么都没有"
    last = after[-1] if len(after[-1]) < 100 else after[-1][:97] + "..."
    if rows is not None:
        return ('%d line(s), %d of them in the format asked for, none with these values (last: "%s")' % (len(after), len(rows), last),
                '%d 行，其中 %d 行符合要求的格式，但没有一行是这些值（最后一行："%s"）' % (len(after), len(rows), last))
    return '%d line(s), none like it (last: "%s")' % (len(after), last), '%d 行，没有这样的一行（最后一行："%s"）' % (len(after), last)


def rows(lines, regex):
    return [m for m in map(re.compile(regex).match, lines) if m]


def expect_rows(run, regex, want, what, what_zh):
    """Wait (bounded) until every row of `want` — tuples of regex's named groups, in order, as text — was
    printed; else stop the script and say which rows (its columns are the group names) it did not print."""
    names = list(re.compile(regex).groupindex)

    def got():
        return {tuple(m.group(n) for n in names) for m in rows(run.lines, regex)}
    if not wait_until(run, lambda: all(tuple(w) in got() for w in want)):
        stop(run)
        shown, columns = ", ".join('"%s"' % " ".join(w) for w in want), " ".join(n.upper() for n in names)
        found = rows(run.lines, regex)
        raise NotYet("rows %s (%s): %s" % (shown, columns, what), saw(run.lines, found)[0],
                     "这几行 %s（%s）：%s" % (shown, columns, what_zh), saw(run.lines, found)[1])


def short_dir():
    """A new short directory under /tmp (paths stay under 63 bytes, whole in any kernel's trace line)."""
    path = tempfile.mkdtemp(prefix="ex-", dir="/tmp")
    os.chmod(path, 0o755)
    return path


def unique_comm(prefix):
    return (prefix + secrets.token_hex(4))[:15]


PUPPET = r"""
import os, sys, time
print(os.getpid(), flush=True)
for line in sys.stdin:
    word = line.split()
    if word[0] == "open":              # open PATH N: N opens of PATH (a missing file: each one fails)
        for _ in range(int(word[2])):
            try:
                os.close(os.open(word[1], os.O_RDONLY))
            except OSError:
                pass
        print("done", flush=True)
    elif word[0] == "getppid":         # getppid GAP_MS...: calls at least these gaps apart (a late one is not
        t = [time.monotonic()]         # made up by a shorter next gap, which could fall a bucket lower)
        os.getppid()
        for gap in word[1:]:
            time.sleep(float(gap) / 1000)
            t.append(time.monotonic())
            os.getppid()
        print(" ".join("%.3f" % ((b - a) * 1000) for a, b in zip(t, t[1:])), flush=True)   # what was measured
"""


class Puppet:
    """A process of known pid that does what it is told on stdin: the --pid a script filters on."""
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", PUPPET], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.pid = int(self.proc.stdout.readline())

    def do(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self):
        self.proc.kill()
        self.proc.wait(STOP_TIMEOUT)


# ---------------------------------------------------------------- the exercises
def check_fork(script):
    run = start(script, trace_pipe=True)
    parent, children = harness.exec_from_parent([(shutil.which("true"), ["true"])], comm=unique_comm("ex1"))
    want = "parent=%d child=%d" % (parent, children[0])
    if not wait_until(run, lambda: any(want in line for line in run.lines)):
        seen = saw(stop(run))
        raise NotYet('a line with "%s" (posix_spawn made the child: clone3 with glibc 2.34+)' % want, seen[0],
                     '有一行含 "%s"（子进程由 posix_spawn 创建，glibc 2.34 起走 clone3）' % want, seen[1])


FORK_THEN_EXEC = "import os\npid = os.fork()\nif pid == 0:\n    os.execv(%r, ['true'])\nos.waitpid(pid, 0)\nprint(pid)"
ROW_002 = r"^\s*(?P<ts>\d+\.\d+)\s+(?P<comm>.{1,16}?)\s+(?P<pid>\d+)\s+(?P<cpu>\d+)\s+(?P<msg>.*)$"


def check_two_hooks(script):
    run = start(script, trace_pipe=True)
    parents = []

    def act():
        proc = subprocess.Popen([sys.executable, "-c", FORK_THEN_EXEC % shutil.which("true")], stdout=subprocess.PIPE,
                                text=True)
        parents.append((proc.pid, int(proc.communicate(timeout=EVENT_TIMEOUT)[0])))

    def found():
        got = {(int(m.group("pid")), m.group("msg")) for m in rows(run.lines, ROW_002)}
        return next(((p, c) for p, c in parents if (p, "Hello, clone!") in got and (c, "Hello, execve!") in got), None)
    if not wait_until(run, found, act=act, every=1.0):
        p, c = parents[-1]
        found_rows = rows(stop(run), ROW_002)
        raise NotYet('rows "%d ... Hello, clone!" (a fork by pid %d) and "%d ... Hello, execve!" (its child\'s exec), '
                     "in lesson 002's columns" % (p, p, c), saw(run.lines, found_rows)[0],
                     '两行 "%d ... Hello, clone!"（pid %d 的 fork）和 "%d ... Hello, execve!"（其子进程的 exec），'
                     "按第 002 课的列" % (p, p, c), saw(run.lines, found_rows)[1])


ROW_003 = r"^(?P<pid>\d+)\s+(?P<comm>.+?)\s+(?P<result>-?\d+)\s+(?P<path>/\S*)$"
OPEN_TWO = "import os\nfd = os.open(%r, os.O_RDONLY)\ntry:\n    os.open(%r, os.O_RDONLY)\nexcept OSError:\n    pass\nprint(fd)"


def check_result(script):
    directory = short_dir()
    existing, missing = os.path.join(directory, "here"), os.path.join(directory, "missing")
    open(existing, "w").close()
    run = start(script, trace_pipe=True)
    tries = []

    def act():
        proc = subprocess.Popen([sys.executable, "-c", OPEN_TWO % (existing, missing)], stdout=subprocess.PIPE, text=True)
        tries.append((proc.pid, int(proc.communicate(timeout=EVENT_TIMEOUT)[0])))

    def found():
        got = {(int(m.group("pid")), int(m.group("result")), m.group("path")) for m in rows(run.lines, ROW_003)}
        return any((pid, fd, existing) in got and (pid, -2, missing) in got for pid, fd in tries)
    try:
        if not wait_until(run, found, act=act, every=1.0):
            pid, fd = tries[-1]
            found_rows = rows(stop(run), ROW_003)
            raise NotYet('rows "%d COMM %d %s" (the fd it got) and "%d COMM -2 %s" (ENOENT), as PID COMM RESULT PATH'
                         % (pid, fd, existing, pid, missing), saw(run.lines, found_rows)[0],
                         '两行 "%d COMM %d %s"（得到的 fd）和 "%d COMM -2 %s"（ENOENT），格式为 PID COMM RESULT PATH'
                         % (pid, fd, existing, pid, missing), saw(run.lines, found_rows)[1])
    finally:
        shutil.rmtree(directory, ignore_errors=True)


ROW_UID = r"^(?P<tgid>\d+)\s+(?P<tid>\d+)\s+(?P<uid>\d+)\s+(?P<comm>.+?)\s+(?P<mode>[0-7]{4})\s(?P<path>.*)$"
NOBODY = 65534


def stopped(run):
    """SIGSTOP the script and wait (bounded) until the kernel has stopped it: from then on it reads nothing."""
    os.kill(run.proc.pid, signal.SIGSTOP)
    deadline = time.monotonic() + EVENT_TIMEOUT
    while time.monotonic() < deadline:
        with open("/proc/%d/stat" % run.proc.pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] in ("T", "t"):
                return
        time.sleep(0.01)


def check_uid(script):
    """Two things, both by behaviour. The rows: user 65534's chmods shown with their uid, root's not. And where
    the filter is: while the script is stopped (it reads nothing), root chmods the file; the trace buffer, read
    without consuming (tracefs `trace`), must then hold no line written for those chmod processes. A script that
    filters in Python shows the same rows, but its BPF program wrote root's lines and Python dropped them."""
    directory = short_dir()
    path = os.path.join(directory, "theirs")
    open(path, "w").close()
    os.chown(path, NOBODY, NOBODY)
    run = start(script, ["--uid", NOBODY], trace_pipe=True)
    as_nobody = [shutil.which("setpriv"), "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]
    pids = []

    def as_root():
        proc = subprocess.Popen(["chmod", "0604", path])                                  # root's: filtered out
        proc.wait(EVENT_TIMEOUT)
        return proc.pid

    def act():
        as_root()
        proc = subprocess.Popen(as_nobody + ["chmod", "0640", path])
        proc.wait(EVENT_TIMEOUT)
        pids.append(proc.pid)

    def found():
        return [m for m in rows(run.lines, ROW_UID) if m.group("path") == path and int(m.group("tgid")) in pids]
    try:
        stopped(run)
        try:
            roots = [as_root() for _ in range(3)]
            leaked = [line for line in harness.trace_buffer_lines() if line["pid"] in roots]
        finally:
            os.kill(run.proc.pid, signal.SIGCONT)
        mine = wait_until(run, found, act=act, every=1.0)
        stop(run)
        root = [m for m in rows(run.lines, ROW_UID) if m.group("path") == path and m.group("mode") == "0604"]
        good = mine and all((int(m.group("uid")), m.group("comm"), m.group("mode")) == (NOBODY, "chmod", "0640") for m in mine)
        if not good or root or leaked:
            why, why_zh = saw(run.lines, rows(run.lines, ROW_UID))
            if leaked:
                why = ("no row for root's chmods, but the trace buffer held this line of root's chmod (pid %d) while "
                       "the script was stopped: the filter is not in the kernel: %s" % (leaked[0]["pid"], leaked[0]["msg"]))
                why_zh = ("root 的 chmod 虽然没有出现在输出里，但脚本暂停期间，跟踪缓冲区里有 root 的 chmod（pid %d）写下的"
                          "一行，过滤不在内核里：%s" % (leaked[0]["pid"], leaked[0]["msg"]))
            if root:
                why, why_zh = "a row for root's chmod (the filter is not in the kernel)", "出现了 root 的 chmod（过滤不在内核里）"
            raise NotYet('rows "PID TID 65534 chmod 0640 %s" for the chmods user %d made, as TGID TID UID COMM MODE PATH, and '
                         "none for root's chmods to 0604, not even a line in the trace buffer" % (path, NOBODY), why,
                         '用户 %d 的 chmod 有一行 "PID TID 65534 chmod 0640 %s"（TGID TID UID COMM MODE PATH），root 改成 0604 '
                         "的那些没有，跟踪缓冲区里也没有它们的行" % (NOBODY, path), why_zh)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


ROW_004 = r"^(?P<tgid>\d+)\s+(?P<tid>\d+)\s+(?P<comm>.+?)\s+(?P<mode>[0-7]{4})\s(?P<path>.*)$"
CHMOD_AS = "import os\nopen('/proc/self/comm', 'w').write(%r)\nos.chmod(%r, %d)"


def check_comm(script):
    directory = short_dir()
    path = os.path.join(directory, "file")
    open(path, "w").close()
    name, other = unique_comm("ex4"), unique_comm("ex4x")
    run = start(script, ["--comm", name], trace_pipe=True)
    pids = []

    def act():
        subprocess.run([sys.executable, "-c", CHMOD_AS % (other, path, 0o604)], check=True, timeout=EVENT_TIMEOUT)
        proc = subprocess.Popen([sys.executable, "-c", CHMOD_AS % (name, path, 0o640)])
        proc.wait(EVENT_TIMEOUT)
        pids.append(proc.pid)

    def found():
        return [m for m in rows(run.lines, ROW_004) if m.group("path") == path and int(m.group("tgid")) in pids]
    try:
        mine = wait_until(run, found, act=act, every=1.0)
        stop(run)
        others = [m for m in rows(run.lines, ROW_004) if m.group("path") == path and m.group("comm") != name]
        if not mine or others or any((m.group("comm"), m.group("mode")) != (name, "0640") for m in mine):
            raise NotYet('rows "PID TID %s 0640 %s" only (TGID TID COMM MODE PATH), not the chmods of %s'
                         % (name, path, other), 'a row for %s' % others[0].group("comm") if others else saw(run.lines, rows(run.lines, ROW_004))[0],
                         '只有 "PID TID %s 0640 %s" 这样的行（TGID TID COMM MODE PATH），没有 %s 的 chmod' % (name, path, other),
                         '出现了 %s 的一行' % others[0].group("comm") if others else saw(run.lines, rows(run.lines, ROW_004))[1])
    finally:
        shutil.rmtree(directory, ignore_errors=True)


ROW_OPEN = r"^(?P<pid>\d+)\s+(?P<comm>.+?)\s+(?P<flags>[0-7]{8,})\s(?P<path>.*)$"
STORM = 20000


def check_ringbuf(script):
    directory, puppet = short_dir(), Puppet()
    storm, after = os.path.join(directory, "storm"), os.path.join(directory, "after")
    try:
        run = start(script, ["--pid", puppet.pid])
        os.kill(run.proc.pid, signal.SIGSTOP)          # a reader far slower than the events: it does not read
        try:
            puppet.do("open %s %d" % (storm, STORM))
        finally:
            os.kill(run.proc.pid, signal.SIGCONT)
        tries = []
        wait_until(run, lambda: any(m.group("path") == after for m in rows(run.lines, ROW_OPEN)),
                   act=lambda: tries.append(puppet.do("open %s 1" % after)), every=1.0)
        stop(run)
        shown = [m for m in rows(run.lines, ROW_OPEN) if m.group("path") in (storm, after)]
        lost = next((int(m.group(1)) for m in map(harness.PERF_LOST.match, run.lines) if m), None)
        caused = STORM + len(tries)
        if lost is None or len(shown) + lost != caused or lost == 0 or not any(m.group("path") == after for m in shown):
            raise NotYet("%d opens of %s while the script was stopped, %d of %s: the rows shown plus the last line "
                         "'lost N events in total' add up to %d, with N > 0" % (STORM, storm, len(tries), after, caused),
                         "%d rows for them, %s" % (len(shown), "and no 'lost N events in total' line" if lost is None else
                                                   "and 'lost %d events in total'" % lost),
                         "脚本暂停期间 %s 被打开 %d 次，之后 %s %d 次：显示的行数加上最后一行 'lost N events in total' 的 N 等于 %d，且 N > 0"
                         % (storm, STORM, after, len(tries), caused),
                         "显示了 %d 行，%s" % (len(shown), "没有 'lost N events in total' 这一行" if lost is None else
                                               "'lost %d events in total'" % lost))
    finally:
        puppet.close()
        shutil.rmtree(directory, ignore_errors=True)


HIST = re.compile(r"^\s*(\d+)\s*->\s*(\d+)\s*:\s*(\d+)\s")
GAPS = [20, 20, 90, 90, 360, 360]    # ms, each in the middle of a log2 bucket: 16-31, 64-127, 256-511


def bucket(ms):
    """The low end of the log2 bucket that bpf_log2l() puts a whole number of ms in: 0, 1, 2, 4, 8, 16..."""
    return 2 ** int(math.log2(ms)) if ms >= 1 else 0


def near_buckets(ms):
    """The buckets an interval measured in user space may land in: the kernel's timestamps are taken a little
    before or after ours (under emulation, a millisecond or two), so near a bucket's edge either side is right."""
    return {bucket(ms * 0.95 - 1.5), bucket(ms), bucket(ms * 1.05 + 1.5)}


def check_histogram(script):
    puppet = Puppet()
    try:
        run = start(script, ["--syscall", "getppid", "--pid", puppet.pid])
        measured = [float(ms) for ms in puppet.do("getppid " + " ".join(map(str, GAPS))).split()]
        stop(run)
        want = Counter(map(bucket, measured))     # what the message shows: each interval's own bucket
        got = {int(m.group(1)): int(m.group(3)) for m in map(HIST.match, run.lines) if m and int(m.group(3))}
        if not any(got == Counter(choice) for choice in itertools.product(*map(near_buckets, measured))):
            shown = ", ".join("%d->%d: %d" % (k, 2 * k - 1 if k else 1, v) for k, v in sorted(want.items()))
            seen = ", ".join("%d->%d: %d" % (k, 2 * k - 1 if k else 1, v) for k, v in sorted(got.items())) or "no histogram"
            raise NotYet("at Ctrl-C, a log2 histogram of msecs with these counts (getppid() by pid %d, intervals %s ms): %s"
                         % (puppet.pid, ", ".join("%.0f" % m for m in measured), shown), seen,
                         "按 Ctrl-C 时打印以毫秒为单位的 log2 直方图，计数为（pid %d 调用 getppid()，间隔 %s 毫秒）：%s"
                         % (puppet.pid, ", ".join("%.0f" % m for m in measured), shown),
                         seen if got else "没有直方图")
    finally:
        puppet.close()


ROW_COUNT = re.compile(r"^\s*(\d+)\s+(\S+)$")


def check_paths(script):
    directory, puppet = short_dir(), Puppet()
    a, b = os.path.join(directory, "a"), os.path.join(directory, "b")
    try:
        run = start(script, ["--pid", puppet.pid])
        puppet.do("open %s 7" % a)
        puppet.do("open %s 3" % b)     # returns once the opens are done: the map was updated inside them
        stop(run)
        got = {m.group(2): int(m.group(1)) for m in map(ROW_COUNT.match, run.lines) if m}
        if (got.get(a), got.get(b)) != (7, 3):
            raise NotYet('at Ctrl-C, lines "7 %s" and "3 %s" (COUNT PATH)' % (a, b),
                         "%s for %s and %s for %s" % (got.get(a, "no line"), a, got.get(b, "no line"), b),
                         '按 Ctrl-C 时打印 "7 %s" 和 "3 %s" 两行（COUNT PATH）' % (a, b),
                         "%s 是 %s，%s 是 %s" % (a, got.get(a, "没有这一行"), b, got.get(b, "没有这一行")))
    finally:
        puppet.close()
        shutil.rmtree(directory, ignore_errors=True)


ROW_EXIT = r"^(?P<pid>\d+)\s+(?P<comm>.+?)\s+(?P<code>-?\d+)$"


def check_exit(script):
    run = start(script)
    codes = secrets.SystemRandom().sample(range(2, 250), 3)
    pids = {}
    for code in codes:
        proc = subprocess.Popen(["sh", "-c", "exit %d" % code])
        proc.wait(EVENT_TIMEOUT)
        pids[proc.pid] = code

    def found():
        got = {(int(m.group("pid")), int(m.group("code"))) for m in rows(run.lines, ROW_EXIT)}
        return all(item in got for item in pids.items())
    if not wait_until(run, found):
        found_rows = rows(stop(run), ROW_EXIT)
        want = ", ".join('"%d sh %d"' % item for item in pids.items())
        raise NotYet("rows %s (PID COMM CODE): three shells, each ending with `exit CODE`" % want,
                     saw(run.lines, found_rows)[0],
                     "这几行 %s（PID COMM CODE）：三个 shell，各自以 `exit CODE` 结束" % want, saw(run.lines, found_rows)[1])


ROW_FAILED = r"^(?P<pid>\d+)\s+(?P<comm>.+?)\s+(?P<error>-?\d+)\s+(?P<filename>/\S*)$"


def check_failed(script):
    directory = short_dir()
    missing, plain = os.path.join(directory, "missing"), os.path.join(directory, "notexec")
    open(plain, "w").close()                                        # no x bit: execve() fails with EACCES
    good = harness.unique_program(directory, "ex8")
    comm = unique_comm("ex8p")
    try:
        run = start(script)
        _, results = harness.exec_from_parent([(missing, ["m"]), (plain, ["p"]), (good, ["g"])], comm=comm)
        assert results[:2] == [-2, -13], results

        def found():
            got = {(m.group("comm"), int(m.group("error")), m.group("filename")) for m in rows(run.lines, ROW_FAILED)}
            return (comm, -2, missing) in got and (comm, -13, plain) in got
        ok = wait_until(run, found)
        stop(run)
        success = [m for m in rows(run.lines, ROW_FAILED) if m.group("filename") == good]
        if not ok or success:
            raise NotYet('rows "PID %s -2 %s" (ENOENT) and "PID %s -13 %s" (EACCES), as PID COMM ERROR FILENAME, and none '
                         "for %s, which ran" % (comm, missing, comm, plain, good),
                         "a row for %s, which did not fail" % good if success else saw(run.lines, rows(run.lines, ROW_FAILED))[0],
                         '两行 "PID %s -2 %s"（ENOENT）和 "PID %s -13 %s"（EACCES），格式 PID COMM ERROR FILENAME；'
                         "成功运行的 %s 不出现" % (comm, missing, comm, plain, good),
                         "出现了成功的 %s" % good if success else saw(run.lines, rows(run.lines, ROW_FAILED))[1])
    finally:
        shutil.rmtree(directory, ignore_errors=True)


ROW_SLOW = r"^(?P<pid>\d+)\s+(?P<comm>.+?)\s+(?P<ms>\d+\.\d+)$"


def check_slow(script):
    """A child named like nothing else reads a pipe 6 times: 3 slow reads (80-300 ms, chosen at random here) and
    3 fast ones (5 ms), in a random order. With --min-ms 50: one row per slow read, with the child's pid and
    name, and its duration within the window the child measured around the read; none for the fast ones."""
    comm = unique_comm("ex9r")
    delays = [random.uniform(0.08, 0.3) for _ in range(3)] + [0.005] * 3
    random.shuffle(delays)
    run = start(script, ["--min-ms", 50])
    pid, took = harness.pipe_reads(delays, comm=comm)
    want = sorted(t * 1000 for t in took if t >= 0.05)

    def ours():
        return sorted(float(m.group("ms")) for m in rows(run.lines, ROW_SLOW) if int(m.group("pid")) == pid)
    wait_until(run, lambda: len(ours()) >= len(want))
    stop(run)
    got, names = ours(), {m.group("comm") for m in rows(run.lines, ROW_SLOW) if int(m.group("pid")) == pid}
    close = len(got) == len(want) and all(0.9 * w - 1 <= g <= w + 0.5 for g, w in zip(got, want))
    if not close or names != {comm}:
        shown = ", ".join('"%d %s %.1f"' % (pid, comm, w) for w in want)
        seen = ", ".join("%.1f" % g for g in got)
        raise NotYet("rows %s (PID COMM MS, each MS at most the child's own measure), none for its 5 ms reads"
                     % shown, "ms %s for pid %d (names %s)" % (seen, pid, sorted(names)) if got
                     else saw(run.lines, rows(run.lines, ROW_SLOW))[0],
                     "%s 这几行（PID COMM MS，MS 不超过子进程自己量到的时间），它 5 毫秒的读不出现" % shown,
                     "pid %d 的毫秒数为 %s（名字 %s）" % (pid, seen, sorted(names)) if got
                     else saw(run.lines, rows(run.lines, ROW_SLOW))[1])


ROW_SETENV = r"^(?P<pid>\d+)\s+(?P<comm>.+?)\s+(?P<overwrite>-?\d+)\s+(?P<result>-?\d+) (?P<name>\S+) (?P<value>\S*)$"
SETENV_CHILD = r"""
import ast, ctypes, sys
with open("/proc/self/comm", "w") as f:
    f.write(sys.argv[1])
libc = ctypes.CDLL(None)
print([libc.setenv(name.encode(), value.encode(), overwrite) for name, value, overwrite in ast.literal_eval(sys.argv[2])])
"""


def check_setenv(script):
    comm, rnd = unique_comm("ex10"), secrets.SystemRandom()
    name = "EX10_" + secrets.token_hex(4).upper()
    # set, then not overwritten (overwrite 0: still returns 0), then a name with "=", which setenv() refuses (-1)
    calls = [(name, secrets.token_hex(5), rnd.randint(1, 9)), (name, secrets.token_hex(5), 0),
             (name + "=X", secrets.token_hex(5), 1)]
    run = start(script)
    child = subprocess.Popen([sys.executable, "-c", SETENV_CHILD, comm, repr(calls)], stdout=subprocess.PIPE, text=True)
    results = eval(child.communicate(timeout=EVENT_TIMEOUT)[0])   # noqa: S307 - ints printed by our own child
    want = [(str(child.pid), comm, str(o), str(r), n, v) for (n, v, o), r in zip(calls, results)]
    assert [r for _, _, _, r, _, _ in want] == ["0", "0", "-1"], results

    expect_rows(run, ROW_SETENV, want, "three setenv() calls of a process of the check",
                "检查器自己的进程调用三次 setenv()")


ROW_GC = r"^(?P<pid>\d+)\s+(?P<gen>-?\d+)\s+(?P<collected>-?\d+)$"
GC_CHILD = r"""
import gc, random, sys
gc.disable()                       # no collection but the three below (and the one at exit)
print("ready", flush=True)
sys.stdin.readline()
found = []
for generation in random.sample(range(3), 3):
    for _ in range(random.randint(1, 60)):
        cycle = []
        cycle.append(cycle)        # a list that holds itself: once the name moves on, only the collector frees it
    del cycle
    found.append((generation, gc.collect(generation)))
print(found, flush=True)
sys.stdin.readline()
"""


def python_probes_missing():
    """The checker's Python must carry CPython's USDT probes (Debian's does: its ELF notes name gc__start)."""
    with open(os.path.realpath(sys.executable), "rb") as f:
        return None if b"gc__start" in f.read() else "%s has no USDT probes (python:gc__start)" % sys.executable


def check_gc(script):
    child = subprocess.Popen([sys.executable, "-c", GC_CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n"
        run = start(script, ["--pid", child.pid])
        child.stdin.write("go\n")
        child.stdin.flush()
        found = ast.literal_eval(child.stdout.readline())   # [(generation, what gc.collect() returned)] * 3
    finally:
        child.kill()
        child.wait(STOP_TIMEOUT)
    want = [(str(child.pid), str(g), str(n)) for g, n in found]

    expect_rows(run, ROW_GC, want, "three gc.collect(generation) calls of a Python of the check",
                "检查器自己的 Python 调用三次 gc.collect(generation)")


ROW_CALLERS = r"^\s*(?P<count>\d+)\s+(?P<pid>\d+)\s+(?P<path>\S+)$"


class Demo:
    """Lesson 012's demo (lessons/012_stacks/demo.py builds it): main -> outer -> inner makes N getppid() calls
    each time it reads a line."""
    def __init__(self, n, frame_pointer):
        sys.path.insert(0, str(harness.LESSONS / "012_stacks"))
        import demo
        self.proc = subprocess.Popen([demo.build(frame_pointer), "calls", str(n)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.pid = int(self.proc.stdout.readline())

    def call(self):
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline()       # "done": every call has been made

    def close(self):
        self.proc.kill()
        self.proc.wait(STOP_TIMEOUT)


def check_callers(script):
    """Two demos, one built with frame pointers and one without, make a random number of getppid() calls each while
    the script runs; it is stopped while they still run (their symbols are read through /proc/PID). Rows: the
    count, the pid, the user stack outermost first: ...main;outer;inner for the first, a stack ending in inner
    with no outer for the second."""
    rnd = secrets.SystemRandom()
    n_fp, n_nofp = rnd.randint(3, 40), rnd.randint(3, 40)
    fp, nofp = Demo(n_fp, True), Demo(n_nofp, False)
    try:
        run = start(script)
        fp.call(), nofp.call()
        stop(run)
    finally:
        fp.close(), nofp.close()
    got = {(int(m.group("count")), int(m.group("pid"))): m.group("path").split(";") for m in rows(run.lines, ROW_CALLERS)}
    good_fp = got.get((n_fp, fp.pid), [])[-3:] == ["main", "outer", "inner"]
    nofp_path = got.get((n_nofp, nofp.pid), [])
    if not (good_fp and nofp_path[-1:] == ["inner"] and "outer" not in nofp_path):
        want = '"%d %d ...;main;outer;inner" and "%d %d ...inner" (no outer: built without frame pointers)' % (
            n_fp, fp.pid, n_nofp, nofp.pid)
        seen = saw(run.lines, rows(run.lines, ROW_CALLERS))
        raise NotYet("rows %s, as COUNT PID USER_STACK (outermost first, joined by ;)" % want, seen[0],
                     "这两行 %s，格式 COUNT PID USER_STACK（最外层在前，用 ; 连接）" % want.replace(
                         "(no outer: built without frame pointers)", "（没有 outer：编译时去掉了帧指针）"), seen[1])


def ring_buffer_missing():
    release = tuple(map(int, re.findall(r"\d+", os.uname().release)[:2]))
    return "the BPF ring buffer needs Linux 5.8 (this is %s)" % os.uname().release if release < (5, 8) else None


def setpriv_missing():
    return None if shutil.which("setpriv") else "setpriv is not installed (util-linux): it runs a chmod as another user"


class Exercise:
    def __init__(self, id, starter, check, hint, hint_zh, needs=lambda: None):
        self.id, self.check, self.hint, self.hint_zh, self.needs = id, check, hint, hint_zh, needs
        self.starter = harness.LESSONS / starter
        self.solution = ROOT / "solutions" / (id + ".py")


EXERCISES = {e.id: e for e in [
    Exercise("001-fork", "001_hello/ex_fork.py", check_fork,
             "args->parent_pid and args->child_pid are the tracepoint's fields: bpf_trace_printk(\"parent=%d child=%d\", ...)",
             "args->parent_pid 和 args->child_pid 就是这个跟踪点的字段：bpf_trace_printk(\"parent=%d child=%d\", ...)"),
    Exercise("002-two-hooks", "002_program_format/ex_two_hooks.py", check_two_hooks,
             "a second C function, attached to b.get_syscall_fnname(\"execve\") or to syscalls:sys_enter_execve",
             "写第二个 C 函数，附加到 b.get_syscall_fnname(\"execve\") 或 syscalls:sys_enter_execve 上"),
    Exercise("003-result", "003_do_sys_open/ex_result.py", check_result,
             "b.attach_kretprobe(event=\"do_sys_openat2\", ...) and PT_REGS_RC(ctx); or syscalls:sys_exit_openat and args->ret; "
             "join the two lines by the trace line's pid, as lesson 004 joins its two",
             "b.attach_kretprobe(event=\"do_sys_openat2\", ...) 加 PT_REGS_RC(ctx)；或 syscalls:sys_exit_openat 加 args->ret；"
             "像第 004 课那样，按跟踪行的 pid 把两行拼起来"),
    Exercise("004-uid", "004_pid_comm/ex_uid.py", check_uid,
             "u32 uid = bpf_get_current_uid_gid(); and #ifdef FILTER_UID ... #endif around the test, cflags=[\"-DFILTER_UID=%d\" % args.uid]",
             "u32 uid = bpf_get_current_uid_gid();，用 #ifdef FILTER_UID ... #endif 包住判断，cflags=[\"-DFILTER_UID=%d\" % args.uid]",
             setpriv_missing),
    Exercise("004-comm", "004_pid_comm/ex_comm.py", check_comm,
             "cflags=['-DFILTER_COMM=\"%s\"' % args.comm]; in C, char want[] = FILTER_COMM; and compare byte by byte in a loop "
             "of sizeof(want) steps (its NUL included)",
             "cflags=['-DFILTER_COMM=\"%s\"' % args.comm]；在 C 里 char want[] = FILTER_COMM;，用 sizeof(want) 步的循环逐字节比较"
             "（包括结尾的 NUL）"),
    Exercise("005-ringbuf", "005_perf_output/ex_ringbuf.py", check_ringbuf,
             "BPF_RINGBUF_OUTPUT(events, 16) and events.ringbuf_output(&e, sizeof(e), 0), which is not 0 when the buffer is "
             "full: count those in a BPF_ARRAY, and print it in run()'s summary",
             "BPF_RINGBUF_OUTPUT(events, 16) 和 events.ringbuf_output(&e, sizeof(e), 0)；缓冲区满时它返回非 0：在 BPF_ARRAY 里"
             "计数，并在 run() 的 summary 里打印",
             ring_buffer_missing),
    Exercise("006-histogram", "006_bpf_hash/ex_histogram.py", check_histogram,
             "BPF_HISTOGRAM(dist); dist.increment(bpf_log2l(ms)); then summary=lambda: b[\"dist\"].print_log2_hist(\"msecs\")",
             "BPF_HISTOGRAM(dist); dist.increment(bpf_log2l(ms));，再用 summary=lambda: b[\"dist\"].print_log2_hist(\"msecs\")"),
    Exercise("006-paths", "006_bpf_hash/ex_paths.py", check_paths,
             "struct key_t { char path[64]; }; zero it (= {}), bpf_probe_read_user_str() into it, then increment(key)",
             "struct key_t { char path[64]; };，先清零（= {}），用 bpf_probe_read_user_str() 读进去，再 increment(key)"),
    Exercise("007-exit", "007_exec/ex_exit.py", check_exit,
             "TRACEPOINT_PROBE(syscalls, sys_enter_exit_group) and args->error_code",
             "TRACEPOINT_PROBE(syscalls, sys_enter_exit_group) 和 args->error_code"),
    Exercise("008-failed", "008_execve/ex_failed.py", check_failed,
             "a BPF_HASH keyed by the thread id carries the call from sys_enter_execve to sys_exit_execve, where args->ret "
             "is the result; submit the map's value itself (no second copy on the stack)",
             "用以线程 ID 为键的 BPF_HASH 把调用从 sys_enter_execve 带到 sys_exit_execve，在那里 args->ret 就是结果；"
             "直接提交映射里的值（不必在栈上再复制一份）"),
    Exercise("009-slow", "009_latency/ex_slow.py", check_slow,
             "a struct with the pid, the comm (bpf_get_current_comm) and the duration, sent with perf_submit(ctx, ...); in "
             "Python, open_perf_buffer() and b.perf_buffer_poll() as run()'s reader, one plumbing.show() line per record",
             "定义一个结构体，装 pid、comm（bpf_get_current_comm）和耗时，用 perf_submit(ctx, ...) 送出；Python 里用 "
             "open_perf_buffer()，把 b.perf_buffer_poll() 交给 run() 去读，每条记录 plumbing.show() 一行"),
    Exercise("010-setenv", "010_uprobes/ex_setenv.py", check_setenv,
             "PT_REGS_PARM2(ctx) is the value, PT_REGS_PARM3(ctx) overwrite; PT_REGS_RC(ctx) in a uretprobe is the result: "
             "keep the call in a BPF_HASH keyed by the thread id from the uprobe to the uretprobe, as the lesson keeps getenv's name",
             "PT_REGS_PARM2(ctx) 是值，PT_REGS_PARM3(ctx) 是 overwrite；uretprobe 里的 PT_REGS_RC(ctx) 是结果："
             "像本课保存 getenv 的名字那样，用以线程 id 为键的 BPF_HASH 把调用从 uprobe 带到 uretprobe"),
    Exercise("011-gc", "011_usdt/ex_gc.py", check_gc,
             "enable python:gc__done too (a second function); in gc__start keep the generation in a BPF_HASH keyed by "
             "bpf_get_current_pid_tgid(), in gc__done read it back, bpf_usdt_readarg(1, ctx, &c.collected), and submit",
             "再启用 python:gc__done（另一个函数）；在 gc__start 里把代数存进以 bpf_get_current_pid_tgid() 为键的 "
             "BPF_HASH，在 gc__done 里取回，用 bpf_usdt_readarg(1, ctx, &c.collected) 读出数量，再提交",
             python_probes_missing),
    Exercise("012-callers", "012_stacks/ex_callers.py", check_callers,
             "get_stackid(args, BPF_F_USER_STACK) walks the user stack; in Python b.sym(address, pid) names each "
             "address; walk() gives them innermost first, and the starter's print already reverses its list",
             "get_stackid(args, BPF_F_USER_STACK) 走的是用户栈；Python 里用 b.sym(address, pid) 给每个地址取名；"
             "walk() 给出的顺序是最内层在前，起步脚本打印时已经把列表倒过来了"),
]}


# ---------------------------------------------------------------- checking
class Result:
    def __init__(self, state, lines=(), expected=None, saw=None):
        self.state, self.lines = state, list(lines)     # state: done | not yet | cannot start | cannot run here
        self.expected, self.saw = expected, saw         # [English, Chinese] of a "not yet", for --json


def cannot_run_here(exercise):
    reason = harness.CAPS.missing() or exercise.needs()
    return reason


def crashed():
    """For a script that ended with an error before the check was done: its own first error lines."""
    for run in start.runs:
        if run.proc.poll() not in (None, 0, -signal.SIGINT, -signal.SIGKILL) and run.err_lines:
            return (["it ended with exit %s; its first error lines:" % run.proc.returncode] +
                    ["  | " + line for line in first_error_lines(run.err_lines)] + ["它以退出码 %s 结束，上面是它报的错。"
                                                                                    % run.proc.returncode])
    return []


def check(exercise, script=None):
    """Run one exercise's check on `script` (default: its starter). Never raises for what the script does."""
    script = Path(script or exercise.starter)
    reason = cannot_run_here(exercise)
    if reason:
        return Result("cannot run here", ["cannot run here: " + reason, "无法在这里运行：" + reason])
    if not script.exists():
        return Result("not yet", ["no such file: %s" % script, "没有这个文件：%s" % script])
    start.runs = []
    programs_before = harness.bpf_program_ids()[0]
    result = None
    try:
        exercise.check(script)
        result = Result("done")
        return result
    except NotYet as e:
        result = Result("not yet", ["not yet: expected %s; saw %s" % (e.expected, e.saw),
                                    "还没有：期望%s；实际%s" % (e.expected_zh, e.saw_zh)] + crashed() +
                        ["hint: " + exercise.hint, "提示：" + exercise.hint_zh],
                        expected=[e.expected, e.expected_zh], saw=[e.saw, e.saw_zh])
        return result
    except Waited as e:                        # the script stopped answering: it was killed
        result = Result("not yet", ["not yet: %s" % e, "还没有：脚本没有按时结束，已被终止"] + crashed() +
                        ["hint: " + exercise.hint, "提示：" + exercise.hint_zh])
        return result
    except CannotStart as e:
        result = Result("cannot start", ["it did not start (exit %s); its first error lines:" % e.returncode] +
                      ["  | " + line for line in e.lines] +
                      ["没有启动（退出码 %s），上面是它最先报的错。" % e.returncode,
                       "hint: " + exercise.hint, "提示：" + exercise.hint_zh])
        return result
    finally:
        for run in start.runs:
            leave_nothing(run)
        still, _ = harness.programs_left(loaded_before=programs_before)
        if still and result:   # nothing else loads programs meanwhile, unless another tool runs beside
            result.lines.append("note: BPF programs %s are still loaded (another tool's?)" % sorted(still))


MARKS = {"done": "✓", "not yet": "✗", "cannot start": "✗", "cannot run here": "-"}


def report(exercise, result, script, details=True):
    print("%s %-14s %s%s" % (MARKS[result.state], exercise.id, result.state,
                             "" if script == exercise.starter else "  (%s)" % script), flush=True)
    for line in result.lines if details else result.lines[:1]:
        print("  %s" % line, flush=True)


def watch(exercise, script):
    """Check again each time the file changes (polling its mtime: no extra package); Ctrl-C ends."""
    seen = None
    print("watching %s: save it to check again (Ctrl-C to end)" % script, flush=True)
    try:
        while True:
            mtime = script.stat().st_mtime if script.exists() else None
            if mtime != seen:
                seen = mtime
                report(exercise, check(exercise, script), script)
            time.sleep(1)
    except KeyboardInterrupt:
        return 0


def status(results):
    """The exit status of a run (the docstring's table): the worst of its exercises' states."""
    states = {r.state for r in results}
    return 1 if states & {"not yet", "cannot start"} else 3 if "cannot run here" in states else 0


def as_json(results):
    """Every exercise, in the checker's order: id, lesson, state (or "not checked", left out by --only), and the
    expected/saw lines of a "not yet" ([English, Chinese]); `lines` is what `make check EX=<id>` prints."""
    return {"kind": "ebpf-lessons/check", "version": 1, "exercises": [
        {"id": e.id, "lesson": e.starter.parent.name, "starter": str(e.starter.relative_to(ROOT)),
         "state": results[e.id].state if e.id in results else "not checked",
         "expected": results[e.id].expected if e.id in results else None,
         "saw": results[e.id].saw if e.id in results else None,
         "lines": results[e.id].lines if e.id in results else []} for e in EXERCISES.values()]}


MAKE_SAYS = {   # what make's own line after a non-zero exit means (the Makefile: check)
    1: ("not every exercise is done yet", "还有练习没有完成"),
    3: ("the exercises left cannot run on this machine", "剩下的练习在这台机器上无法运行"),
}


def explain_make_line(code):
    """Run by `make check` (MAKELEVEL is set in a recipe's environment), a non-zero exit makes make print
    "make: *** [Makefile:NN: check] Error N" next: say first what it means, so that it does not read as a crash."""
    if code in MAKE_SAYS and os.environ.get("MAKELEVEL"):
        en, zh = MAKE_SAYS[code]
        print('(make says "Error %d" next: %s — make 接着会打印 "Error %d"，意思是：%s)' % (code, en, code, zh), flush=True)
    return code


def main(argv=None):
    harness.let_ctrl_c_reach_children()      # it stops the learner's script with SIGINT
    parser = argparse.ArgumentParser(description="Check the exercises (the tasks: lessons/NNN_*/EXERCISES.md). "
                                     "Exit status: 0 all done, 1 some not yet, 2 bad usage, 3 the rest cannot run here.")
    parser.add_argument("exercise", nargs="?", help="one exercise, e.g. 001-fork (default: all)")
    parser.add_argument("--file", help="check this file instead of the starter")
    parser.add_argument("--watch", action="store_true", help="check again each time the file is saved")
    parser.add_argument("--only", action="append", default=[], metavar="ID[,ID...]",
                        help="check only these exercises (the others are 'not checked')")
    parser.add_argument("--json", action="store_true", help="print every exercise's state as JSON, nothing else")
    args = parser.parse_args(argv)
    only = [i for o in args.only for i in o.split(",") if i] + ([args.exercise] if args.exercise else [])
    unknown = [i for i in only if i not in EXERCISES]
    if unknown:
        parser.error("no exercise %s; there are: %s" % (", ".join(map(repr, unknown)), ", ".join(EXERCISES)))
    if (args.file or args.watch) and not args.exercise:
        parser.error("--file and --watch need one exercise, e.g. EX=001-fork")
    if (args.watch or args.file) and args.only:
        parser.error("--file and --watch take one exercise, not --only")
    if args.watch and args.json:
        parser.error("--watch checks again and again for a person: no --json")
    if args.exercise and not args.json and not args.only:
        exercise = EXERCISES[args.exercise]
        script = Path(args.file) if args.file else exercise.starter
        if args.watch:
            return watch(exercise, script)
        result = check(exercise, script)
        report(exercise, result, script)
        return explain_make_line(status([result]))
    results = {}
    for exercise in EXERCISES.values():
        if only and exercise.id not in only:
            continue
        script = Path(args.file) if args.file else exercise.starter   # --file: one exercise (checked above)
        results[exercise.id] = check(exercise, script)
        if not args.json:
            report(exercise, results[exercise.id], script, details=False)
    if args.json:
        print(json.dumps(as_json(results), indent=1, ensure_ascii=False))
        return status(results.values())
    done = sum(r.state == "done" for r in results.values())
    print("\n%d of %d done. One in detail: sudo make check EX=<id>   —   已完成 %d / %d。查看某一题的详情：sudo make check EX=<编号>"
          % (done, len(results), done, len(results)))
    return explain_make_line(status(results.values()))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        for run in start.runs:
            leave_nothing(run)
        sys.exit(130)
