"""Lesson 001: the seed's hello world prints one "Hello, World!" line per clone() the test makes."""
import os

from harness import fork_children, parse_trace_line, trace_fence

LESSON = "001_hello/hello.py"
FORKS = 3


def hello_lines_from(run, pid, after):
    """The trace lines the lesson printed with pid, written after the timestamp `after`."""
    return [t for t in map(parse_trace_line, run.lines) if t and t["pid"] == pid and t["ts"] > after]


def fence_ts(run):
    """Write a fence into the trace buffer (conftest.trace_fence), wait for the lesson to print it, return its
    timestamp: lines before it may be stale (the lesson prints every line in the buffer, old ones too)."""
    tag = trace_fence()
    fence = run.wait_for(lambda: next((t for t in map(parse_trace_line, run.lines) if t and t["msg"] == tag), None),
                         what="the fence line %s" % tag)
    return fence["ts"]


def check_hello_per_fork(run):
    """The test forks FORKS children itself: exactly FORKS lines after the fence carry its pid, each with the
    lesson's message."""
    me = os.getpid()
    after = fence_ts(run)
    fork_children(FORKS)
    run.wait_for(lambda: len(hello_lines_from(run, me, after)) >= FORKS, what="%d Hello lines with pid %d" % (FORKS, me))
    run.stop()
    run.assert_clean_exit()
    ours = hello_lines_from(run, me, after)
    assert [t["msg"] for t in ours] == ["Hello, World!"] * FORKS, run.transcript()


def test_auto_attaches_the_expected_probe_and_prints_hello_per_fork(lesson, record_property):
    run = lesson(LESSON, "--probe", "auto", fresh_trace_buffer=True)
    kind, target = run.auto_probe(record_property)
    check_hello_per_fork(run)


def test_forced_tracepoint_prints_hello_per_fork(lesson):
    run = lesson(LESSON, "--probe", "tracepoint", fresh_trace_buffer=True)
    assert run.attached() == ("tracepoint", "syscalls:sys_enter_clone")
    check_hello_per_fork(run)
