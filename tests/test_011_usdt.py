"""Lesson 011: USDT probes of the lesson's own demo (demo.c, report.c). The test starts demos of its own in their
line mode (`demo WORD 0`: one lesson:tick per line read, the line as the word; one line back per tick, saying
whether lesson:report is traced), sends words made up for this run, and checks every row of their pids: the exact
number, n, the word, report's text; --pid raises the semaphore of lesson:report and the lesson lowers it again at
its end; --path sees every process of the program, without lesson:report; the default starts a demo itself."""
import os
import random
import re
import secrets
import subprocess
import sys

import pytest

from harness import EVENT_TIMEOUT, LESSONS, bcc_probe_events, run_to_exit

sys.path.insert(0, str(LESSONS))
import plumbing  # noqa: E402  (its build() makes the very binary the lesson makes: same sources, same hash)

LESSON = "011_usdt/usdt.py"
ROW = re.compile(r"^(?P<pid>\d+)\s+(?P<probe>tick|report)\s+(?P<n>\d+|-)\s+(?P<text>.*)$")
PROBE = re.compile(r"^probe lesson:(?P<name>tick|report), semaphore at (?P<sema>0x[0-9a-f]+)$")
ATTACHED = re.compile(r"^attached: uprobe \w*_demo_0x[0-9a-f]+(?:_(?P<pid>\d+))?$")
REPORT = "%d words so far, the last one %.20s"   # report.c's text


def demo_binary():
    return plumbing.build(str(LESSONS / "011_usdt" / "demo.c"), str(LESSONS / "011_usdt" / "report.c"))


class Demo:
    """The lesson's demo in line mode: a process of the test, of known pid, that fires lesson:tick when told."""

    def __init__(self):
        self.proc = subprocess.Popen([demo_binary(), "unused", "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.pid, self.n = self.proc.pid, 0

    def tick(self, word):
        """One tick; returns whether the demo saw lesson:report traced (its semaphore raised)."""
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()
        self.n += 1
        line = self.proc.stdout.readline()
        assert line.startswith("tick %d %s: lesson:report " % (self.n, word)), line
        return line.endswith(": lesson:report traced\n")

    def many(self, word, n):
        """n ticks of one word, written and answered 1000 at a time (no pipe fills up); returns n."""
        for done in range(0, n, 1000):
            chunk = min(1000, n - done)
            self.proc.stdin.write((word + "\n") * chunk)
            self.proc.stdin.flush()
            for _ in range(chunk):
                self.proc.stdout.readline()
        self.n += n
        return n

    def close(self):
        self.proc.stdin.close()
        assert self.proc.wait(EVENT_TIMEOUT) == 0


def rows_of(run, pid, probe):
    return [m for m in map(ROW.match, run.lines) if m and int(m.group("pid")) == pid and m.group("probe") == probe]


def words():
    """Words of this run: plain, with a space, a tab and an escape sequence, and one longer than the lesson's
    buffer (cut to 62 and marked)."""
    tag = secrets.token_hex(3)
    made = ["w%s_%d" % (tag, i) for i in range(random.randint(2, 6))]
    made += ["two words %s" % tag, "tab\there\x1b[31mred%s" % tag, "L" * 70 + tag]
    random.shuffle(made)
    return made


def shown(word):
    """What the lesson prints for a word (written out here, not with the lesson's own escaping): one that fills
    the 64-byte buffer (63 bytes and more) is cut to 62 bytes and marked."""
    return (word[:62] + "..." if len(word) >= 63 else word).replace("\t", "\\t").replace("\x1b", "\\x1b")


def test_pid_every_tick_and_report_with_their_values(lesson):
    """--pid of a demo: one tick row and one report row per word, n counting from 1, the word and report's text
    exact; while the lesson runs the demo sees lesson:report traced, after it no longer (the semaphore is down)."""
    demo = Demo()
    try:
        run = lesson(LESSON, "--pid", demo.pid)
        assert [m.groupdict() for m in map(PROBE.match, run.lines) if m][0] == {"name": "tick", "sema": "0x0"}
        assert [m.group("name") for m in map(PROBE.match, run.lines) if m and m.group("sema") != "0x0"] == ["report"]
        attached = [ATTACHED.match(line) for line in run.lines if line.startswith("attached:")]
        assert [m and m.group("pid") for m in attached] == [str(demo.pid)] * 2, run.transcript()
        sent = words()
        assert all(demo.tick(w) for w in sent), "lesson:report was not traced while the lesson ran"
        run.wait_for(lambda: len(rows_of(run, demo.pid, "report")) >= len(sent), what="%d reports" % len(sent))
        run.stop()
        run.assert_clean_exit()
        assert not demo.tick("after"), "the semaphore of lesson:report stayed raised after the lesson ended"
    finally:
        demo.close()
    # Sorted: a perf buffer is one per CPU, so a demo that moves between CPUs can have its rows read out of order.
    ticks, reports = rows_of(run, demo.pid, "tick"), rows_of(run, demo.pid, "report")
    assert sorted((int(m.group("n")), m.group("text")) for m in ticks) == \
        [(n, shown(w)) for n, w in enumerate(sent, 1)], run.transcript()
    assert sorted((m.group("n"), m.group("text")) for m in reports) == \
        sorted(("-", shown(REPORT % (n, w))) for n, w in enumerate(sent, 1)), run.transcript()
    assert "lost 0 events in total" in run.lines, run.transcript()


def test_path_sees_every_process_of_the_program_without_report(lesson):
    """--path of the demo's file: two demos started after the lesson, each with its own words: each one's ticks
    exactly, nothing of lesson:report (bcc needs a pid to raise its semaphore), which the demos see untraced."""
    run = lesson(LESSON, "--path", demo_binary())
    attached = [ATTACHED.match(line) for line in run.lines if line.startswith("attached:")]
    assert [m and m.group("pid") for m in attached] == [None], run.transcript()
    demos, sent = [Demo(), Demo()], {}
    try:
        for demo in demos:
            sent[demo.pid] = words()
            assert not any(demo.tick(w) for w in sent[demo.pid])
        run.wait_for(lambda: all(len(rows_of(run, pid, "tick")) >= len(w) for pid, w in sent.items()),
                     what="the ticks of pids %s" % list(sent))
        run.stop()
    finally:
        for demo in demos:
            demo.close()
    run.assert_clean_exit()
    for pid, w in sent.items():
        # In n's order: a perf buffer is one per CPU, so rows of a demo that moved between CPUs can come out of order.
        ticks = sorted((int(m.group("n")), m.group("text")) for m in rows_of(run, pid, "tick"))
        assert ticks == [(n, shown(x)) for n, x in enumerate(w, 1)], run.transcript()
        assert not rows_of(run, pid, "report"), run.transcript()


def test_default_starts_the_demo_and_count_stops_it(lesson):
    """No option: the lesson starts its demo (ticks once a second, word hello) and traces it; --count 4: consecutive
    ticks, each report that of one of them, and every tick reported but the first (bcc attaches tick's uprobe, then
    loads on_report: a tick between the two has no report; Debian 13 under TCG) and the last (the count may end on
    it); the demo has ended with the lesson."""
    run = lesson(LESSON, "--count", "4")
    run.finish(EVENT_TIMEOUT)
    run.assert_clean_exit()
    [pid] = [int(line.split()[-1]) for line in run.lines
             if line.startswith("started %s (built from demo.c, report.c): pid " % demo_binary())]
    rows = [m for m in map(ROW.match, run.lines) if m]
    assert {int(m.group("pid")) for m in rows} == {pid} and len(rows) == 4, run.transcript()
    ticks = sorted(int(m.group("n")) for m in rows if m.group("probe") == "tick")
    assert ticks == list(range(ticks[0], ticks[0] + len(ticks))), run.transcript()
    reports = sorted(m.group("text") for m in rows if m.group("probe") == "report")
    reported = [n for n in ticks if REPORT % (n, "hello") in reports]
    assert len(reported) == len(reports) and set(ticks[1:-1]) <= set(reported), run.transcript()
    assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z"


@pytest.mark.parametrize("case", ["no-probes-pid", "no-such-file", "file-without-probes"])
def test_what_has_no_such_probe_is_one_error_line(bpf_ready, case):
    """A process without lesson:tick (this test's own Python: it has python: probes, not ours), a file that does
    not exist, a program without probes: one line, exit 1, no probe left behind."""
    args = {"no-probes-pid": ["--pid", str(os.getpid())], "no-such-file": ["--path", "/no/such/demo"],
            "file-without-probes": ["--path", "/bin/true"]}[case]
    run = run_to_exit(LESSON, args)
    assert run.returncode == 1 and not any("Traceback" in line for line in run.err_lines), run.transcript()
    assert run.err_lines[-1] == {
        "no-such-file": "error: USDT failed to instrument path /no/such/demo (no such file, or not an ELF file)"}.get(
        case, "error: Failed to enable USDT probe 'lesson:tick': no such probe there (tplist-bpfcc -p PID, or -l FILE, "
              "lists them), or it has a semaphore, which bcc sets in a process: give a pid, not a path"), run.transcript()
    assert not any(line.startswith("Tracing") for line in run.lines), run.transcript()
    assert bcc_probe_events(run.proc.pid) == [], run.transcript()



@pytest.mark.parametrize("cc", ["missing", "failing"])
def test_no_compiler_or_no_sdt_header_is_one_error_line(bpf_ready, cc, tmp_path):
    """The demo not built yet (an empty cache: XDG_CACHE_HOME) and no cc on PATH, or a cc that fails as it does
    without systemtap-sdt-dev: one line saying what to install, exit 1."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if cc == "failing":
        (bin_dir / "cc").write_text("#!/bin/sh\necho 'demo.c:9:10: fatal error: sys/sdt.h: No such file or directory' >&2"
                                    "\necho 'compilation terminated.' >&2\nexit 1\n")
        (bin_dir / "cc").chmod(0o755)
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), PATH=str(bin_dir))
    run = run_to_exit(LESSON, [], env=env, python=["/usr/bin/python3"])
    assert run.returncode == 1 and run.lines == [], run.transcript()
    assert run.err_lines[-1] == {
        "missing": "error: cannot build demo.c: no C compiler (cc): sudo make setup, or: sudo apt install gcc "
                   "libc6-dev systemtap-sdt-dev",
        "failing": "error: cannot build demo.c with cc: demo.c:9:10: fatal error: sys/sdt.h: No such file or directory "
                   "(sudo make setup installs systemtap-sdt-dev, which has <sys/sdt.h>)"}[cc], run.transcript()
