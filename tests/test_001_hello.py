"""Lesson 001: the seed's hello world prints one "Hello, World!" line per clone() the test makes."""
import os

from conftest import CAPS, expected_auto_probe, fork_children, parse_trace_line, run_to_exit

LESSON = "001_hello/hello.py"
FORKS = 3


def hello_lines_from(run, pid):
    return [t for t in map(parse_trace_line, run.lines) if t and t["pid"] == pid]


def check_hello_per_fork(run):
    """The test forks FORKS children itself: exactly FORKS lines carry its pid, each with the lesson's message."""
    me = os.getpid()
    fork_children(FORKS)
    run.wait_for(lambda: len(hello_lines_from(run, me)) >= FORKS, what="%d Hello lines with pid %d" % (FORKS, me))
    run.stop()
    run.assert_clean_exit()
    ours = hello_lines_from(run, me)
    assert [t["msg"] for t in ours] == ["Hello, World!"] * FORKS, run.transcript()


def test_auto_attaches_the_expected_probe_and_prints_hello_per_fork(lesson, record_property):
    run = lesson(LESSON, "--probe", "auto", fresh_trace_buffer=True)
    kind, target = run.attached()
    record_property("probe_auto", kind)
    assert kind == expected_auto_probe()
    check_hello_per_fork(run)


def test_forced_tracepoint_prints_hello_per_fork(lesson):
    run = lesson(LESSON, "--probe", "tracepoint", fresh_trace_buffer=True)
    assert run.attached() == ("tracepoint", "syscalls:sys_enter_clone")
    check_hello_per_fork(run)


def test_forced_kprobe(lesson, bpf_ready):
    """With kprobes: it attaches the seed's kprobe and works. Without: one clear line, non-zero exit."""
    if CAPS.kprobes:
        run = lesson(LESSON, "--probe", "kprobe", fresh_trace_buffer=True)
        kind, target = run.attached()
        assert kind == "kprobe" and target.endswith("sys_clone"), target
        check_hello_per_fork(run)
    else:
        run = run_to_exit(LESSON, ["--probe", "kprobe"])
        assert run.returncode != 0
        assert run.err_lines == ["error: --probe kprobe: this kernel has no kprobes (no kprobe_events in tracefs: "
                                 "CONFIG_KPROBES is off); use --probe tracepoint"], run.transcript()
        assert not any("Traceback" in line for line in run.lines)


def test_duration_ends_the_run_cleanly(bpf_ready):
    run = run_to_exit(LESSON, ["--duration", "1"])
    run.assert_clean_exit()
    assert any(line.startswith("Tracing clone()") for line in run.lines), run.transcript()
