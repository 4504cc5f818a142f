"""Lesson 005: the same chmod events through the trace pipe and a perf buffer; the test's own values come out
exact, and perf output is not disturbed by another writer of the shared trace buffer."""
import os
import re

import pytest

from harness import (ATTACHED, EVENT_TIMEOUT, STOP_TIMEOUT, chmod_by_coreutils,
                     chmod_in_thread, has_syscalls, own_comm, PERF_LOST, saved_cmdlines, syscall_entry,
                     trace_comms_allowed, trace_marker_writer, unique_path, until_seen)

LESSON = "005_perf_output/perf_output.py"
ROW = re.compile(r"^(?P<tgid>\d+|-)\s+(?P<tid>\d+)\s+(?P<comm>.{1,16}?)\s+(?P<mode>[0-7]{4})\s(?P<path>.*)$")
CALLS = has_syscalls("chmod", "fchmodat")   # arm64: fchmodat() only
LAST_LINE = {
    "perf": PERF_LOST.pattern,
    "trace_pipe": r"^lines from other programs skipped: \d+; trace buffer overruns .*: \d+$",
}


def rows_for(run, path):
    return [m.groupdict() for m in map(ROW.match, run.lines) if m and m.group("path") == path]


def check_auto_probe(run, record_property):
    kind, _ = run.auto_probe(record_property)
    expected = ([("kprobe", syscall_entry(c)) for c in CALLS] if kind == "kprobe" else
                [("tracepoint", "syscalls:sys_enter_" + c) for c in CALLS])
    assert [m.groups() for m in map(ATTACHED.match, run.lines) if m] == expected, run.transcript()


def check_chmods(run, output, path):
    """A chmod from a second thread of this process, and one by coreutils chmod: one row each, exact values.
    The trace pipe has no room for TGID ("-") and shows the trace buffer's remembered name as COMM. Returns how
    many chmods of `path` the test made (check_delivered() counts them once the run has ended)."""
    me, comm = os.getpid(), own_comm()
    mode = 0o1640
    before = saved_cmdlines()   # trace_pipe mode: the names a reused pid may still show (conftest)
    tids = []
    until_seen(run, lambda: tids.append(chmod_in_thread(path, mode)),
               lambda: any(int(r["tid"]) in tids for r in rows_for(run, path)), "a row for the thread's chmod")
    pids = []
    until_seen(run, lambda: pids.append(chmod_by_coreutils(path, mode ^ 0o070)),
               lambda: any(int(r["tid"]) in pids for r in rows_for(run, path)), "a row for coreutils chmod")
    rows = rows_for(run, path)
    for r in rows:
        tid = int(r["tid"])
        assert tid in tids + pids, run.transcript()
        tgid, want_comm, want_mode = (me, comm, mode) if tid in tids else (tid, "chmod", mode ^ 0o070)
        if output == "trace_pipe":
            assert r["tgid"] == "-" and r["comm"] in trace_comms_allowed(tid, want_comm, before), run.transcript()
        else:
            assert (int(r["tgid"]), r["comm"]) == (tgid, want_comm), run.transcript()
        assert int(r["mode"], 8) == want_mode, run.transcript()
    return len(tids) + len(pids)


def check_delivered(run, path, made):
    """After a perf run: each of the test's chmods of `path` has its row, or is counted in the lesson's last line.
    The lesson sends every chmod on the machine, and another test's storm (test_robustness's 004 and 005 storms,
    20,000 chmods on one CPU, run beside this test's group) can fill that CPU's buffer: the lost count covers those
    too, so it only bounds ours. With nothing lost, the rows are exact: one per chmod made."""
    m = PERF_LOST.match(run.lines[-1])
    assert m, run.transcript()
    shown = len(rows_for(run, path))
    assert made - int(m.group(1)) <= shown <= made, ("%d rows for %d chmods" % (shown, made), run.transcript())


@pytest.fixture
def chmod_target():
    path = unique_path("005")
    os.mknod(path)
    yield path
    os.unlink(path)


@pytest.mark.parametrize("output", ["trace_pipe", "perf"])
def test_each_output_delivers_our_events(lesson, record_property, chmod_target, output):
    run = lesson(LESSON, "--output", output)
    check_auto_probe(run, record_property)
    assert any(line.startswith("Tracing chmod, output via %s " % output) for line in run.lines)
    made = check_chmods(run, output, chmod_target)
    run.stop()
    run.assert_clean_exit()
    assert re.match(LAST_LINE[output], run.lines[-1]), run.transcript()
    if output == "perf":
        check_delivered(run, chmod_target, made)


def test_perf_output_ignores_another_trace_buffer_writer(lesson, record_property, chmod_target):
    """While another process fills the shared trace buffer with lines that look like ours, the perf buffer
    still carries exactly our events, and nothing else."""
    run = lesson(LESSON, "--output", "perf")
    check_auto_probe(run, record_property)
    fake = "%d %d %s 0777 %s\n" % (os.getpid(), os.getpid(), own_comm(), chmod_target)
    writer = trace_marker_writer(fake, 1.0)   # returns once it is writing
    try:
        made = check_chmods(run, "perf", chmod_target)
    finally:
        written = int(writer.communicate(timeout=EVENT_TIMEOUT)[0])
    run.stop()
    run.assert_clean_exit()
    assert written > 100, "the other writer wrote only %d lines" % written
    assert not [r for r in rows_for(run, chmod_target) if r["mode"] == "0777"], run.transcript()
    check_delivered(run, chmod_target, made)


def test_count_ends_the_run_cleanly(lesson, chmod_target):
    run = lesson(LESSON, "--count", "2")
    chmod_by_coreutils(chmod_target, 0o600)
    chmod_by_coreutils(chmod_target, 0o604)
    run.finish(EVENT_TIMEOUT + STOP_TIMEOUT)
    run.assert_clean_exit()
    assert len([line for line in run.lines if ROW.match(line)]) == 2, run.transcript()
