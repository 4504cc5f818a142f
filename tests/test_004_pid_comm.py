"""Lesson 004: TGID/TID from bpf_get_current_pid_tgid, COMM from bpf_get_current_comm, the path from the caller's
memory and the mode, for a chmod made by a second thread of the test process and one made by coreutils chmod.
(The raw tracepoint sys_enter that 004 once offered is in notes/syscall-wrappers.md, with its demo.)"""
import os
import random
import re

from harness import (ATTACHED, EVENT_TIMEOUT, STOP_TIMEOUT, chmod_by_coreutils, chmod_in_thread,
                     has_syscalls, own_comm, syscall_entry, unique_path, until_seen)

LESSON = "004_pid_comm/pid_comm.py"
ROW = re.compile(r"^(?P<tgid>\d+)\s+(?P<tid>\d+)\s+(?P<comm>.{1,16}?)\s+(?P<mode>[0-7]{4})\s(?P<path>.*)$")
CALLS = has_syscalls("chmod", "fchmodat")   # arm64 has no chmod(): os.chmod() calls fchmodat() there
ATTACHES = {
    "kprobe": [("kprobe", syscall_entry(c)) for c in CALLS],
    "tracepoint": [("tracepoint", "syscalls:sys_enter_" + c) for c in CALLS],
}


def rows_for(run, path):
    return [m.groupdict() for m in map(ROW.match, run.lines) if m and m.group("path") == path]


def check_chmods(run, kind):
    assert [m.groups() for m in map(ATTACHED.match, run.lines) if m] == ATTACHES[kind], run.transcript()
    path = unique_path("004")
    os.mknod(path)
    try:
        # A second thread of this process: same TGID as the test, its own TID, the process's comm.
        mode = random.choice([0o640, 0o604, 0o751, 0o715, 0o1750])
        tids = []
        until_seen(run, lambda: tids.append(chmod_in_thread(path, mode)),
                   lambda: any(int(r["tid"]) in tids for r in rows_for(run, path)), "a row for the thread's chmod")
        rows = [r for r in rows_for(run, path) if int(r["tid"]) in tids]
        assert [(int(r["tgid"]), r["comm"], int(r["mode"], 8)) for r in rows] == [(os.getpid(), own_comm(), mode)] * len(rows)
        assert all(tid != os.getpid() for tid in tids)
        # coreutils chmod, a single-threaded process: TGID == TID == its pid.
        mode2 = mode ^ 0o070
        pids = []
        until_seen(run, lambda: pids.append(chmod_by_coreutils(path, mode2)),
                   lambda: any(int(r["tgid"]) in pids for r in rows_for(run, path)), "a row for coreutils chmod")
        for r in rows_for(run, path):
            if int(r["tgid"]) in pids:
                assert (int(r["tid"]), r["comm"], int(r["mode"], 8)) == (int(r["tgid"]), "chmod", mode2), run.transcript()
    finally:
        os.unlink(path)
    run.stop()
    run.assert_clean_exit()
    assert re.match(r"^lines from other programs skipped: \d+; trace buffer overruns .*: \d+$", run.lines[-1]), \
        run.transcript()


def test_auto_attaches_the_expected_probe(lesson, record_property):
    run = lesson(LESSON, "--probe", "auto")
    kind, _ = run.auto_probe(record_property)
    check_chmods(run, kind)


def test_forced_tracepoint(lesson):
    check_chmods(lesson(LESSON, "--probe", "tracepoint"), "tracepoint")


def test_count_ends_the_run_cleanly(lesson):
    run = lesson(LESSON, "--count", "1")
    path = unique_path("004count")
    os.mknod(path)
    try:
        chmod_by_coreutils(path, 0o600)
        run.finish(EVENT_TIMEOUT + STOP_TIMEOUT)
    finally:
        os.unlink(path)
    run.assert_clean_exit()
    assert len([line for line in run.lines if ROW.match(line)]) == 1, run.transcript()
