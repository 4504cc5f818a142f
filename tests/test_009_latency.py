"""Lesson 009: entry/return pairs and a histogram. A child of the test reads one byte from a pipe, again and again;
the test writes each byte after a delay it chose (34 ms, 135 ms: just above the low ends of the log2 buckets
32768 -> 65535 and 131072 -> 262143 usecs). The kernel's time of a read is at least its delay and at most the time
the child measured around os.read(), so a read whose delay and window fall in one bucket must be counted there.
The lesson times every read on the machine: the test's reads are a floor (>=) for each bucket, never an exact
count."""
import os
import re
from contextlib import contextmanager

import pytest

from harness import ATTACHED, TIME_SCALE, expected_auto_probe, pipe_reads, wait_asleep_in_read

LESSON = "009_latency/latency.py"
BUCKET = re.compile(r"^\s*(?P<low>\d+) -> (?P<high>\d+)\s+: (?P<count>\d+)\s+\|")
STAMP = re.compile(r"^\d\d:\d\d:\d\d$")
OPEN = re.compile(r"^reads with no return seen: (\d+)$")
# Just above a bucket's low end: the kernel's time never falls below the delay (pipe_reads()), so all the room
# left is above it, for a loaded machine to stretch a read into (CI's x86 guests share one core at nice 10).
SHORT, LONG = 0.034, 0.135    # s
PAIRS = {"kprobe": ["kprobe vfs_read", "kretprobe vfs_read"],
         "tracepoint": ["tracepoint syscalls:sys_enter_read", "tracepoint syscalls:sys_exit_read"]}


def bucket(seconds):
    """The low end of the log2 bucket of usecs that holds this duration (bcc's print_log2_hist: 0 -> 1, 2 -> 3, ...)."""
    us = int(seconds * 1e6)
    return 0 if us < 2 else 1 << (us.bit_length() - 1)


def expected(took, delays):
    """{bucket: reads the lesson must have counted there}: the reads whose every possible duration is in one bucket.
    The kernel's time of a read is at least its delay (pipe_reads() starts the delay once the child sleeps in the
    read) and at most the child's window, which may end late on a loaded or emulated machine (Debian 13 under TCG:
    a 24 ms read the child timed at 33-65 ms)."""
    want = {}
    for t, delay in zip(took, delays):
        if bucket(delay) == bucket(t):
            want[bucket(t)] = want.get(bucket(t), 0) + 1
    return want


def make_reads(delays, rounds=3):
    """The test's reads (pipe_reads()), made again up to `rounds` times until, for each delay, at least half of its
    reads are certain of their bucket: a read the machine stretched past its bucket's top proves nothing, and
    another round replaces it. Returns {bucket: reads the lesson must have counted there}, over every round."""
    want, took = {}, []
    for _ in range(rounds):
        took.append(pipe_reads(list(delays))[1])
        for low, n in expected(took[-1], delays).items():
            want[low] = want.get(low, 0) + n
        if all(want.get(bucket(d), 0) >= (delays.count(d) + 1) // 2 for d in delays):
            return want
    raise AssertionError("the machine is too busy for these timings (delays %s): %s" % (delays, took))


def histogram(lines):
    """Every bucket of every printout in these lines, summed: {low: count}."""
    total = {}
    for m in filter(None, map(BUCKET.match, lines)):
        total[int(m.group("low"))] = total.get(int(m.group("low")), 0) + int(m.group("count"))
    return total


def printouts(run):
    """Each printout's lines (from its timestamp to the next), in order."""
    starts = [i for i, line in enumerate(run.lines) if STAMP.match(line)]
    return [run.lines[i:j] for i, j in zip(starts, starts[1:] + [len(run.lines)])]


def attached(run):
    return [m.group("kind") + " " + m.group("target") for m in map(ATTACHED.match, run.lines) if m]


def check_buckets(run, delays=(SHORT,) * 4 + (LONG,) * 3):
    want = make_reads(delays)
    run.stop()
    run.assert_clean_exit()
    got = histogram(run.lines)
    for low, n in want.items():
        assert got.get(low, 0) >= n, ("bucket %d -> %d: %d reads counted, the test made %d there"
                                      % (low, 2 * low - 1, got.get(low, 0), n), run.transcript())
    assert OPEN.match(run.lines[-1]), run.transcript()
    return got


# The bucket counts are exact only in a printout made after the test's reads: a read that returns between a
# printout and clear() is lost (README), so these tests print once, at the end (an hour-long interval).
def test_auto_pairs_entry_and_return_and_counts_the_test_reads(lesson, record_property):
    run = lesson(LESSON, "--probe", "auto", "--interval", "3600")
    record_property("probe_auto", attached(run)[0].split()[0])
    assert attached(run) == PAIRS[expected_auto_probe()], run.transcript()
    assert bucket(SHORT) == 32768 and bucket(LONG) == 131072
    check_buckets(run)


def test_forced_tracepoint(lesson):
    run = lesson(LESSON, "--probe", "tracepoint", "--interval", "3600")
    assert attached(run) == PAIRS["tracepoint"], run.transcript()
    check_buckets(run)


def test_interval_prints_again_and_again(lesson):
    """--interval 0.5: a timestamp and a histogram per interval, each holding the reads of its own interval. The
    test makes one read right after each of 4 printouts: the lesson flushes a printout after its clear(), then
    sleeps the interval, so the read (180 ms) returns before the next printout begins and is counted in it."""
    run = lesson(LESSON, "--interval", "0.5")
    took = []
    for n in range(1, 5):
        run.wait_for(lambda: len(printouts(run)) >= n, what="printout %d" % n)
        took += pipe_reads([LONG])[1]
    run.wait_for(lambda: len(printouts(run)) >= 5, what="printout 5")
    run.stop()
    run.assert_clean_exit()
    certain = [n for n, t in enumerate(took, 1) if bucket(LONG) == bucket(t)]
    assert len(certain) >= 2, "the machine is too busy for these timings: %s" % took
    for n in certain:
        assert histogram(printouts(run)[n]).get(bucket(LONG), 0) >= 1, (n, took, run.transcript())


@contextmanager
def blocked_reader():
    """A child blocked in read() on a pipe until the block ends: a call that has begun and not returned."""
    data_r, data_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(data_w)
        os.read(data_r, 1)
        os._exit(0)
    os.close(data_r)
    try:
        wait_asleep_in_read(pid, data_r)
        yield pid
    finally:
        os.write(data_w, b"x")
        os.close(data_w)
        os.waitpid(pid, 0)


def test_duration_ends_it_with_one_printout_and_the_reads_still_open(lesson):
    """--duration 2 with an hour-long interval: the only printout is the last one, which holds the test's reads;
    a read that began after the lesson attached and had not returned at the end is counted as open."""
    run = lesson(LESSON, "--duration", "2", "--interval", "3600")
    want = make_reads((LONG, LONG), rounds=1)   # more rounds could outlast --duration 2
    with blocked_reader():   # after the timed reads, not beside them: on Linux 5.10 without CONFIG_PREEMPTION a
        run.finish(timeout=2 + 10 * TIME_SCALE)   # kretprobe keeps as many returns as possible CPUs (2 here)
    run.assert_clean_exit()
    assert len(list(filter(STAMP.match, run.lines))) == 1, run.transcript()
    for low, n in want.items():
        assert histogram(run.lines).get(low, 0) >= n, run.transcript()
    assert int(OPEN.match(run.lines[-1]).group(1)) >= 1, run.transcript()


@pytest.mark.parametrize("seconds, low", [(0, 0), (1e-6, 0), (2e-6, 2), (0.024, 16384), (0.0327, 16384),
                                          (0.0328, 32768), (0.18, 131072)])
def test_the_test_buckets_match_bcc(seconds, low):
    """bucket() is bcc's bpf_log2l(us) + print_log2_hist's low end: index i holds 2**(i-1) .. 2**i - 1, i = 1: 0 .. 1."""
    assert bucket(seconds) == low
