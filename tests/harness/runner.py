"""The lesson runner: start a lesson (or a learner's script) as a subprocess, read its output without threads,
wait (bounded) for lines, stop it with a signal, and check what it left behind."""
import json
import os
import re
import select
import signal
import subprocess
import sys
import time

from .machine import (ATTACHED, EVENT_TIMEOUT, LESSONS, READY, READY_TIMEOUT, ROOT, STOP_TIMEOUT, bcc_probe_events,
                      bpf_objects_of, expected_auto_probe, programs_left)


class Waited(AssertionError):
    """A bounded wait ended without what it waited for (the message carries the lesson's transcript). An
    AssertionError, so a test fails with it as with any assert; the exercise checker catches it."""


NO_KPROBES = ("error: --probe kprobe: this kernel cannot attach kprobes (no kprobe PMU, no kprobe_events in tracefs: "
              "CONFIG_KPROBE_EVENTS is off); use --probe tracepoint")


def assert_kprobe_refused(script, args=()):
    """On a kernel that cannot attach kprobes, `--probe kprobe` is one clear line and exit 1, nothing else."""
    run = run_to_exit(script, ["--probe", "kprobe", *args])
    assert run.returncode == 1 and run.err_lines == [NO_KPROBES], run.transcript()
    assert not any("Traceback" in line for line in run.lines + run.err_lines), run.transcript()


# ---------------------------------------------------------------- the lesson runner
# The nice value of the lessons started from now on (set_priority()): 0, the default, changes nothing. make test
# gives the trace buffer's group a lower one (conftest.py, pytest_runtest_setup).
PRIORITY = {"nice": 0}


def set_priority(nice):
    PRIORITY["nice"] = nice


def give_priority(pid):
    """Give process `pid` PRIORITY's nice value, and its session's group too: with autogroups (Debian's default,
    /proc/sys/kernel/sched_autogroup_enabled) a lesson, in a session of its own, is a group of its own, and the
    CPUs are shared between groups before the processes in them; so the group's nice value is the one that
    counts (sched(7), "The autogroup feature")."""
    if not PRIORITY["nice"]:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, pid, PRIORITY["nice"])
        with open("/proc/%d/autogroup" % pid, "w") as f:
            f.write(str(PRIORITY["nice"]))
    except OSError:     # it has exited already, or the kernel has no autogroups
        pass


class LessonRun:
    """One lesson running as a subprocess; its stdout and stderr are read without threads or blocking.
    (scripts/check.py, the exercise checker, runs learners' scripts with it too: its fail() says why.)"""

    def fail(self, message):
        """A wait that ended without what it waited for: the test fails, with the lesson's transcript."""
        raise Waited("%s\n%s" % (message, self.transcript()))

    def __init__(self, script, args=(), python=None, env=None, prefix=()):
        """python: the interpreter, or a list of it and its options (e.g. [sys.executable, "-S"])."""
        self.script = LESSONS / script
        python = list(python) if isinstance(python, (list, tuple)) else [python or sys.executable]
        self.argv = [*prefix, *python, str(self.script), *map(str, args)]
        self.proc = subprocess.Popen(self.argv, cwd=str(ROOT), env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        give_priority(self.proc.pid)
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

    @property
    def ended(self):
        """The lesson has exited and all it wrote has been read."""
        return not self._open and self.proc.poll() is not None

    def read(self, timeout):
        """Read what the lesson has written, waiting at most `timeout` seconds for something."""
        self._pump(timeout)

    def poll_until(self, found, timeout=EVENT_TIMEOUT, act=None, every=0.5):
        """Read until found() returns something true, or the lesson has ended, or `timeout` seconds have passed;
        act() (a workload) first and again every `every` seconds, for output that can be lost (the shared trace
        buffer loses lines under load: CONTRIBUTING.md, "Platform facts"). Returns (found()'s last value, how
        many times act() ran)."""
        deadline, next_act, acts = time.monotonic() + timeout, 0, 0
        while True:
            if act and time.monotonic() >= next_act:
                act()
                acts, next_act = acts + 1, time.monotonic() + every
            result = found()
            left = deadline - time.monotonic()
            if result or self.ended or left <= 0:
                return result, acts
            self._pump(min(0.1, left, max(next_act - time.monotonic(), 0) if act else left))

    def wait_for(self, found, timeout=EVENT_TIMEOUT, what="the expected output"):
        """Read until found() returns something true; return it. Fails (Waited) at the deadline or when the
        lesson exits first, showing what the lesson printed."""
        result, _ = self.poll_until(found, timeout)
        if result:
            return result
        if self.ended:
            self.fail("lesson exited (rc=%s) before %s" % (self.proc.returncode, what))
        self.fail("no %s within %.0f s" % (what, timeout))

    def match(self, regex, timeout=EVENT_TIMEOUT, what=None):
        """Wait for the first stdout line matching regex; return the re.Match."""
        regex = re.compile(regex)

        def first():
            return next((m for m in map(regex.search, self.lines) if m), None)
        return self.wait_for(first, timeout, what or "line matching %r" % regex.pattern)

    def wait_ready(self):
        self.match(READY, READY_TIMEOUT, "ready line ('Tracing ... Ctrl-C to end')")
        return self

    def auto_probe(self, record_property):
        """(kind, target) of the probe `--probe auto` attached, its kind recorded as the junit property
        probe_auto (the matrix's report shows it), and asserted to be what auto must choose here."""
        kind, target = self.attached()
        record_property("probe_auto", kind)
        assert kind == expected_auto_probe(), self.transcript()
        return kind, target

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
        still, how = programs_left(self.prog_ids if loaded_before is None else None, loaded_before)
        events = bcc_probe_events(self.proc.pid)
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


FORKED_RUNS = r"""
import json, os, runpy, sys, tempfile
script, cases = sys.argv[1], json.loads(sys.argv[2])
sys.path.insert(0, os.path.dirname(script))   # where `python3 script` looks first
import bcc  # noqa: F401  what the lessons import first (and plumbing, beside them): once, before the forks
if os.path.exists(os.path.join(sys.path[0], "plumbing.py")):
    import plumbing  # noqa: F401
results = []
for args in cases:
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    pid = os.fork()
    if pid == 0:   # the lesson, as `python3 script args`: its SystemExit or exception ends this child as Python would
        os.dup2(out.fileno(), 1), os.dup2(err.fileno(), 2)
        sys.argv = [script] + args
        runpy.run_path(script, run_name="__main__")
        sys.exit(0)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    out.seek(0), err.seek(0)
    results.append([code, out.read().decode("utf-8", "surrogateescape"), err.read().decode("utf-8", "surrogateescape")])
print(json.dumps(results))
"""


class FinishedRun:
    """How one of runs_to_exit()'s runs ended, with LessonRun's returncode, lines, err_lines and transcript()."""
    transcript = LessonRun.transcript

    def __init__(self, argv, returncode, out, err):
        self.argv, self.returncode = argv, returncode
        self.lines, self.err_lines = out.splitlines(), err.splitlines()


def runs_to_exit(script, cases, timeout=READY_TIMEOUT):
    """The lesson run once per argument list in `cases`, each to its exit, for runs that end before they load
    anything (bad arguments): each in a child forked from one Python that has imported plumbing and bcc, ~0.01 s
    of CPU instead of the 0.1 s a new interpreter takes to get there. Returns a FinishedRun per case."""
    path = str(LESSONS / script)
    cases = [list(map(str, args)) for args in cases]
    proc = subprocess.Popen([sys.executable, "-c", FORKED_RUNS, path, json.dumps(cases)], cwd=str(ROOT),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)   # the forked runs too: a case that loads a program must not stay
        out, err = proc.communicate()
        raise AssertionError("the runs of %s %s did not end within %d s: %s" % (script, cases, timeout, err))
    assert proc.returncode == 0, "the runs of %s %s did not end: %s" % (script, cases, err)
    return [FinishedRun([sys.executable, path, *args], *result) for args, result in zip(cases, json.loads(out))]


def until_seen(run, act, found, what, every=0.5, timeout=EVENT_TIMEOUT):
    """Do act() again every `every` seconds until found() is true on the lesson's output, bounded by timeout:
    for lessons that read the shared trace buffer, which loses lines under load (CONTRIBUTING.md, "Platform facts").
    Returns (what found() returned, how many times act() ran); fails (Waited) at the deadline."""
    _, acts = run.poll_until(found, timeout, act=act, every=every)
    return run.wait_for(found, 0.01, "%s (after %d tries in %.0f s)" % (what, acts, timeout)), acts
