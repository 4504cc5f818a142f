"""Lesson 010: a uprobe and a uretprobe on libc's getenv(). Child processes of the test (their pids known, their
comm unique) call getenv() through ctypes a random number of times, with names and values made up for this run
(Python's os.environ and os.getenv never call libc's getenv: they read a copy made at start-up). Every field of
their lines is checked; --pid shows one process only; calls made before the probes were attached are not seen."""
import os
import random
import re
import secrets
import subprocess
import sys

from harness import EVENT_TIMEOUT

LESSON = "010_uprobes/uprobes.py"
ROW = re.compile(r"^(?P<pid>\d+)\s+(?P<comm>.+?)\s+(?P<result>0x[0-9a-f]+)\s+(?P<name>[^=]+?)(?:=(?P<value>.*))?$")
# libc's file as bcc names the event after it: libc.so.6 (through ld.so.cache), or, given a pid, the file the
# process maps, which before glibc 2.34 is libc-2.31.so (Debian 11)
ATTACHED = re.compile(r"^attached: (?P<kind>uprobe|uretprobe) \w*libc(?:_so_6|_2_\d+_so)_0x(?P<offset>[0-9a-f]+)"
                      r"(?:_(?P<pid>\d+))?$")

# A child that sets its comm, says "ready", then for each line "NAME N" on stdin calls libc's getenv(NAME) N times
# and says "done ADDRESS", what the last call returned (its start-up, before "ready", calls getenv too: for names
# of its own, not the test's).
CHILD = r"""
import ctypes, sys
with open("/proc/self/comm", "w") as f:
    f.write(sys.argv[1])
libc = ctypes.CDLL(None)
libc.getenv.restype = ctypes.c_void_p
print("ready", flush=True)
for line in sys.stdin:
    name, n = line.split()
    for _ in range(int(n)):
        address = libc.getenv(name.encode())
    print("done %#x" % (address or 0), flush=True)
"""


class Child:
    """A process of the test that calls getenv() when told to; env: variables set in its environment."""

    def __init__(self, comm, env=None):
        self.comm = comm
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, comm], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=dict(os.environ, **(env or {})), text=True)
        self.pid = self.proc.pid
        assert self.proc.stdout.readline() == "ready\n"

    def getenv(self, name, n):
        """Returns what getenv() returned, as the lesson prints it: 0x0 for NULL."""
        self.proc.stdin.write("%s %d\n" % (name, n))
        self.proc.stdin.flush()
        done, address = self.proc.stdout.readline().split()    # every call has returned
        assert done == "done"
        return address

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(EVENT_TIMEOUT)


def rows_of(run, pid, name):
    return [m for m in map(ROW.match, run.lines) if m and int(m.group("pid")) == pid and m.group("name") == name]


def unique(tag):
    return "T010_%s_%s" % (tag, secrets.token_hex(4).upper())


def test_every_call_with_its_name_and_value(lesson):
    """Names set and unset, a value with control characters, a value longer than the lesson's buffer: the exact
    number of lines per name, each with the child's pid and comm and, as RESULT, the very address getenv()
    returned in the child (0x0 for the unset name)."""
    run = lesson(LESSON)
    attached = [ATTACHED.match(line) for line in run.lines if line.startswith("attached:")]
    assert [m and m.group("kind") for m in attached] == ["uprobe", "uretprobe"], run.transcript()
    assert attached[0].group("offset") == attached[1].group("offset") and not attached[0].group("pid")
    hostile, long_ = unique("HOSTILE"), unique("LONG")
    unset = unique("UNSET")
    values = {hostile: "a\tb\n\x1b[31mred %s" % secrets.token_hex(2), long_: "v" * 90 + secrets.token_hex(40)}
    shown = {hostile: values[hostile].replace("\t", "\\t").replace("\n", "\\n").replace("\x1b", "\\x1b"),
             long_: values[long_][:126] + "..."}   # a 128-byte buffer: 126 characters shown, then the mark
    counts = {hostile: random.randint(1, 9), long_: random.randint(1, 9), unset: random.randint(1, 9)}
    child = Child("t010env", values)
    returned = {name: child.getenv(name, n) for name, n in counts.items()}
    child.close()
    run.wait_for(lambda: all(len(rows_of(run, child.pid, name)) >= n for name, n in counts.items()),
                 what="%s getenv() lines for pid %d" % (counts, child.pid))
    run.stop()
    run.assert_clean_exit()
    for name, n in counts.items():
        rows = rows_of(run, child.pid, name)
        assert len(rows) == n, (name, n, run.transcript())
        assert {m.group("comm") for m in rows} == {"t010env"}, run.transcript()
        assert {m.group("result") for m in rows} == {returned[name]}, (name, returned, run.transcript())
        if name == unset:
            assert returned[name] == "0x0" and {m.group("value") for m in rows} == {None}, run.transcript()
        else:
            assert returned[name] != "0x0" and {m.group("value") for m in rows} == {shown[name]}, run.transcript()
    assert "lost 0 events in total" in run.lines, run.transcript()


def test_pid_shows_that_process_only(lesson):
    """Two children call getenv() with the same name; --pid names one: the kernel counts only its calls."""
    ours, other = Child("t010ours"), Child("t010other")
    name, n = unique("PID"), random.randint(2, 9)
    try:
        run = lesson(LESSON, "--pid", ours.pid)
        attached = [ATTACHED.match(line) for line in run.lines if line.startswith("attached:")]
        assert [m and m.group("pid") for m in attached] == [str(ours.pid)] * 2, run.transcript()
        other.getenv(name, n)          # first: had it been traced, its lines would come before ours
        ours.getenv(name, n)
        run.wait_for(lambda: len(rows_of(run, ours.pid, name)) >= n, what="%d lines for pid %d" % (n, ours.pid))
        run.stop()
    finally:
        ours.close(), other.close()
    run.assert_clean_exit()
    assert len(rows_of(run, ours.pid, name)) == n, run.transcript()
    assert {int(m.group("pid")) for m in map(ROW.match, run.lines) if m} == {ours.pid}, run.transcript()


def test_calls_before_the_probes_are_not_seen(lesson):
    """The same process calls getenv(BEFORE) before the lesson starts and getenv(AFTER) once it is ready."""
    child = Child("t010late")
    before, after, n = unique("BEFORE"), unique("AFTER"), random.randint(2, 9)
    try:
        child.getenv(before, 5)
        run = lesson(LESSON, "--pid", child.pid)
        child.getenv(after, n)
        run.wait_for(lambda: len(rows_of(run, child.pid, after)) >= n, what="%d lines for %s" % (n, after))
        run.stop()
    finally:
        child.close()
    run.assert_clean_exit()
    assert len(rows_of(run, child.pid, after)) == n and not rows_of(run, child.pid, before), run.transcript()


def test_count_stops_after_n_lines(lesson):
    child = Child("t010count")
    try:
        run = lesson(LESSON, "--pid", child.pid, "--count", "3")
        child.getenv(unique("COUNT"), 7)
        run.finish(EVENT_TIMEOUT)
    finally:
        child.close()
    run.assert_clean_exit()
    assert len([m for m in map(ROW.match, run.lines) if m]) == 3, run.transcript()
