"""`--probe kprobe`, for every lesson that teaches a kprobe: on a kernel with kprobes it attaches the kprobe the
lesson names (not the tracepoint `auto` would fall back to) and the lesson's own check passes with it; on a kernel
without (this repository's host) it is one clear line and exit 1. One test, one row per lesson: what differs is
the lesson's arguments, the probe it must report, and the check its own test file runs."""
import os

import pytest

import test_001_hello as t001
import test_002_program_format as t002
import test_003_do_sys_open as t003
import test_004_pid_comm as t004
import test_005_perf_output as t005
import test_006_bpf_hash as t006
import test_008_execve as t008
import test_009_latency as t009
from harness import CAPS, assert_kprobe_refused, syscall_entry, unique_path


def ends_with(suffix):
    def attached(run):
        kind, target = run.attached()
        assert kind == "kprobe" and target.endswith(suffix), run.transcript()
    return attached


def chmods_through_perf(run, tmp_path):
    path = unique_path("005k")
    os.mknod(path)
    try:
        made = t005.check_chmods(run, "perf", path)
    finally:
        os.unlink(path)
    run.stop()
    run.assert_clean_exit()
    t005.check_delivered(run, path, made)


# lesson: (script, its arguments besides --probe kprobe, a fresh trace buffer?, what it must say it attached,
#          the check of its own test file, given the run and a temporary directory)
FORCED = {
    "001": (t001.LESSON, [], True, ends_with("sys_clone"), lambda run, _: t001.check_hello_per_fork(run)),
    "002": (t002.LESSON, [], True, ends_with("sys_clone"), lambda run, _: t002.check_rows_per_fork(run)),
    "003": (t003.LESSON, [], False, lambda run: t003.attached_all(run) == [("kprobe", "do_sys_openat2")] or
            pytest.fail(run.transcript()), lambda run, _: t003.check_opens(run, "kprobe")),
    "004": (t004.LESSON, [], False, lambda run: None, lambda run, _: t004.check_chmods(run, "kprobe")),
    "005": (t005.LESSON, [], False, lambda run: run.attached() == ("kprobe", syscall_entry(t005.CALLS[0])) or
            pytest.fail(run.transcript()), chmods_through_perf),
    "006": (t006.LESSON, ["--mode", "count", "--syscall", "getppid", "--interval", "0.5"], False,
            ends_with("sys_getppid"), lambda run, _: t006.check_exact_count(run)),
    "008": (t008.LESSON, [], False, ends_with("sys_execve"), t008.check_pid_ppid_comm_filename_argv),
    "009": (t009.LESSON, ["--interval", "3600"], False, lambda run: t009.attached(run) == t009.PAIRS["kprobe"] or
            pytest.fail(run.transcript()), lambda run, _: t009.check_buckets(run)),
}


@pytest.mark.parametrize("name", list(FORCED))
def test_forced_kprobe(lesson, bpf_ready, name, tmp_path):
    script, args, fresh, attached, check = FORCED[name]
    if not CAPS.kprobes:
        assert_kprobe_refused(script, args)
        return
    run = lesson(script, "--probe", "kprobe", *args, fresh_trace_buffer=fresh)
    attached(run)
    check(run, tmp_path)
