"""Lesson 006: BPF_HASH. timing: the intervals between the test's own sync() calls; count: the exact number
of getppid() calls a child of the test made."""
import os
import re
import shutil
import time

from harness import TIME_SCALE, exec_from_parent, own_comm, run_to_exit, until_seen

LESSON = "006_bpf_hash/bpf_hash.py"
ROW = re.compile(r"^\d\d:\d\d:\d\d\s+(?P<pid>\d+)\s+(?P<value>[\d.]+) (?P<comm>.*)$")
GAPS = [0.2, 0.45, 1.5, 0.1]     # between the test's sync() calls; 1.5 s is over the lesson's 1 s window


def rows_of(run, pid):
    return [m for m in map(ROW.match, run.lines) if m and int(m.group("pid")) == pid]


def sync_sequence():
    """sync() len(GAPS)+1 times at the gaps above. Each call's entry lies between the test's clock readings just
    before and just after it: returns, per gap, the shortest and longest interval those readings allow (a bound
    that holds however loaded the machine is, tens of ms wide at most here)."""
    before, after = [], []
    for gap in GAPS + [None]:
        before.append(time.monotonic())
        os.sync()
        after.append(time.monotonic())
        if gap is not None:
            time.sleep(max(0.0, before[-1] + gap - time.monotonic()))
    bounds = [(b0 - a1, a0 - b1) for b1, a1, b0, a0 in zip(before, after, before[1:], after[1:])]
    assert all(high < 1.0 or low >= 1.0 for low, high in bounds), ("a gap straddles the lesson's 1 s window", bounds)
    return [(low, high) for low, high in bounds if high < 1.0]


def check_sync_intervals(run, tries=3):
    """One line per gap under a second, and none for the 1.5 s gap, each interval within the test's bounds.
    The lesson, as the seed, times the last sync() by anyone: another process's sync() in the middle of the
    test's is a true line that spoils the sequence, so a spoiled sequence is made again (at most `tries` times,
    1.2 s apart, so that no line joins two sequences); a lesson that prints wrong intervals fails every time."""
    me = os.getpid()
    for attempt in range(tries):
        start = len(run.lines)
        expected = sync_sequence()
        new = lambda: [m for m in map(ROW.match, run.lines[start:]) if m]   # noqa: E731
        run.wait_for(lambda: len([m for m in new() if int(m.group("pid")) == me]) >= len(expected),
                     what="%d interval lines for pid %d" % (len(expected), me))
        rows = new()
        got = [float(m.group("value")) / 1000 for m in rows]
        spoiled = len(rows) != len(expected) or any(int(m.group("pid")) != me for m in rows) or \
            not all(low - 0.001 <= g <= high + 0.001 for g, (low, high) in zip(got, expected))
        if not spoiled or attempt == tries - 1:
            break
        time.sleep(1.2)
    run.stop()
    run.assert_clean_exit()
    assert len(rows) == len(expected), (expected, run.transcript())
    for g, (low, high) in zip(got, expected):
        assert low - 0.001 <= g <= high + 0.001, ("interval %.4f s, the test's clock allows %.4f-%.4f s" % (g, low, high), run.transcript())
    assert {m.group("comm") for m in rows} == {own_comm()}, run.transcript()


def test_auto_timing_prints_the_intervals_the_test_made(lesson, record_property):
    run = lesson(LESSON, "--probe", "auto")
    kind, target = run.auto_probe(record_property)
    assert target == "syscalls:sys_enter_sync" if kind == "tracepoint" else target.endswith("sys_sync"), target
    check_sync_intervals(run)


def test_sync_twice_from_two_processes_is_one_line(lesson):
    """`sync; sync` typed in a shell: two processes, one after the other. As in the seed (bcc's sync_timing) the
    map has one key, so the second sync's call is timed from the first's: one line, with the second's pid."""
    run = lesson(LESSON)
    sync = shutil.which("sync")
    parent, pids = exec_from_parent([(sync, ["sync"]), (sync, ["sync"])], comm="t006shell")
    assert all(pid > 0 for pid in pids), pids
    m = run.wait_for(lambda: rows_of(run, pids[1]), what="a line for the second sync (pid %d)" % pids[1])[0]
    run.stop()
    run.assert_clean_exit()
    assert m.group("comm") == "sync" and 0 < float(m.group("value")) < 1000, run.transcript()
    assert not rows_of(run, pids[0]), run.transcript()   # the first sync had nothing before it (within 1 s)


def child_calls_getppid(n):
    """A child of the test (a new pid, the test's comm) calls getppid() exactly n times and exits."""
    pid = os.fork()
    if pid == 0:
        for _ in range(n):
            os.getppid()
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def check_exact_count(run, calls=37):
    """A call counted between a printout's items() and its clear() is lost (the lesson says so), so the child calls
    right after a printout: one that shows a row of a first child, printed after its clear(). The next printout
    reads the map an interval later, when the child's calls are long done: they add up to exactly what it did."""
    firsts = []
    until_seen(run, lambda: firsts.append(child_calls_getppid(1)), lambda: any(rows_of(run, p) for p in firsts),
               "a row of a first child")
    child = child_calls_getppid(calls)
    total = lambda: sum(int(m.group("value")) for m in rows_of(run, child))   # noqa: E731
    run.wait_for(lambda: total() >= calls, what="%d getppid calls counted for pid %d" % (calls, child))
    run.stop()           # the lesson prints what it counted since its last printout, then exits
    run.assert_clean_exit()
    assert total() == calls, run.transcript()
    assert {m.group("comm") for m in rows_of(run, child)} == {own_comm()}, run.transcript()


def test_forced_tracepoint_counts_exactly(lesson):
    run = lesson(LESSON, "--mode", "count", "--syscall", "getppid", "--interval", "0.5", "--probe", "tracepoint")
    assert run.attached() == ("tracepoint", "syscalls:sys_enter_getppid")
    check_exact_count(run)



def test_unknown_syscall_is_a_usage_error(bpf_ready):
    run = run_to_exit(LESSON, ["--syscall", "no_such_call", "--probe", "tracepoint"])
    assert run.returncode == 2 and run.lines == [], run.transcript()
    assert run.err_lines[-1] == ("bpf_hash.py: error: argument --syscall: not a system call of this kernel and "
                                 "architecture: 'no_such_call'"), run.transcript()


def test_duration_ends_count_mode_with_a_last_printout(lesson):
    """--duration 1 with an hour-long interval: no periodic printout can happen, so the run ends only by
    --duration (else finish() times out), and the child's count can only come from the printout at exit."""
    run = lesson(LESSON, "--mode", "count", "--syscall", "getppid", "--interval", "3600", "--duration", "1")
    child = child_calls_getppid(11)
    run.finish(timeout=10 * TIME_SCALE)
    run.assert_clean_exit()
    assert [int(m.group("value")) for m in rows_of(run, child)] == [11], run.transcript()
