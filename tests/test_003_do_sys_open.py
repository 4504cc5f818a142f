"""Lesson 003: one row per open, with the caller's pid and comm, the flags and the exact path the test used."""
import os
import re

from harness import (ATTACHED, EVENT_TIMEOUT, has_syscalls, own_comm,
                     trace_comm_of, unique_path, until_seen)

LESSON = "003_do_sys_open/do_sys_open.py"
ROW = re.compile(r"^(?P<pid>\d+)\s+(?P<comm>.{1,16}?)\s+(?P<flags>[0-7]{8,})\s(?P<path>.*)$")
TRACEPOINTS = ["syscalls:sys_enter_" + s for s in has_syscalls("open", "openat", "openat2")]   # arm64: no open()
# The kernel's O_LARGEFILE (glibc's is 0 on 64-bit): open()/openat() add it on 64-bit kernels, after the tracepoint.
O_LARGEFILE = {"x86_64": 0o100000, "aarch64": 0o400000}[os.uname().machine]


def rows_for(run, path):
    return [m.groupdict() for m in map(ROW.match, run.lines) if m and m.group("path") == path]


def attached_all(run):
    return [m.groups() for m in map(ATTACHED.match, run.lines) if m]


def try_open(path, flags):
    try:
        os.close(os.open(path, flags))
        return True
    except OSError:
        return False


def check_opens(run, kind):
    """An existing file and a missing one, opened by this process: each row carries our pid, our comm, the
    flags the kernel got and the exact path. os.open() adds O_CLOEXEC; a kprobe also sees O_LARGEFILE."""
    me, comm = os.getpid(), own_comm()
    extra = os.O_CLOEXEC | (O_LARGEFILE if kind == "kprobe" else 0)
    # COMM is the trace buffer's remembered name (lesson 002): make it remember ours, then assert it exactly.
    warm = unique_path("003warm")
    until_seen(run, lambda: try_open(warm, os.O_RDONLY), lambda: rows_for(run, warm), "a row for " + warm)
    until_seen(run, lambda: None, lambda: trace_comm_of(me) == comm, "saved_cmdlines to hold our comm", every=0.1)

    # Under /tmp, not tmp_path: kernels before 5.13 print at most 63 bytes of a path (the lesson marks the
    # cut with "..."), and pytest's tmp_path is longer than that.
    existing = unique_path("003")
    os.mknod(existing)   # a new file without an open() of its own
    try:
        missing = unique_path("003missing")
        for path, flags, opened in ((existing, os.O_RDONLY | os.O_NOFOLLOW, True), (missing, os.O_RDONLY, False)):
            (_, tries) = until_seen(run, lambda: assert_open(path, flags, opened), lambda: rows_for(run, path),
                                    "a row for " + path)
            rows = rows_for(run, path)
            assert 1 <= len(rows) <= tries, run.transcript()
            for row in rows:
                assert (int(row["pid"]), row["comm"], int(row["flags"], 8)) == (me, comm, flags | extra), run.transcript()
    finally:
        os.unlink(existing)
    run.stop()
    run.assert_clean_exit()
    assert re.match(r"^lines from other programs skipped: \d+; trace buffer overruns .*: \d+$", run.lines[-1])


def assert_open(path, flags, opened):
    assert try_open(path, flags) == opened   # the missing file's open fails: the entry probe sees it anyway


def test_auto_attaches_the_expected_probe_and_shows_our_opens(lesson, record_property):
    run = lesson(LESSON, "--probe", "auto")
    kind, target = run.auto_probe(record_property)
    if kind == "kprobe":   # every kernel the lessons run on is newer than 5.6: do_sys_openat2 exists
        assert attached_all(run) == [("kprobe", "do_sys_openat2")], run.transcript()
    else:
        assert attached_all(run) == [("tracepoint", t) for t in TRACEPOINTS], run.transcript()
    check_opens(run, kind)


def test_forced_tracepoint(lesson):
    run = lesson(LESSON, "--probe", "tracepoint")
    assert attached_all(run) == [("tracepoint", t) for t in TRACEPOINTS], run.transcript()
    check_opens(run, "tracepoint")



def test_count_ends_the_run_cleanly(lesson, bpf_ready):
    """(--duration, a busy trace_pipe and hostile names: tests/test_robustness.py, for every lesson.)"""
    run = lesson(LESSON, "--count", "2")
    for i in range(2):
        try_open(unique_path("003count"), os.O_RDONLY)   # other processes' opens may count too: both end it
    run.finish(EVENT_TIMEOUT)
    run.assert_clean_exit()
    assert len([line for line in run.lines if ROW.match(line)]) == 2, run.transcript()
    assert run.lines[-1].startswith("lines from other programs skipped: "), run.transcript()
