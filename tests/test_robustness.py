"""Robustness: every lesson survives signals, bad input, hostile file names, event storms and a shared trace pipe.

The checks run over the lessons (parametrized), on the host and in the kernel matrix:
- a signal stops a lesson that is busy printing a stream of events: exit 0 within a second, no traceback, and none
  of its BPF programs loaded afterwards (bpftool prog show, or the same bpf() command without bpftool);
  `--duration 1` with no events ends by itself;
- a learner's mistakes are one clear line and a non-zero exit: not root, bcc not importable, bad command-line
  values (argparse: exit 2), kernel headers broken. (A forced `--probe kprobe` on a kernel without kprobes is
  tested in each lesson's own file, test_forced_kprobe.)
- file names and argv with a newline, an escape sequence, a tab, bytes that are not UTF-8, and a path of PATH_MAX
  bytes: printed escaped and marked when cut, one line per event, no forged or coloured line;
- a storm far faster than the reader (SIGSTOP keeps the lesson from reading while it runs): what was not
  delivered is reported, and delivered + reported lost accounts for every event the test caused;
- the shared trace pipe: held by another reader, read by two lessons at once, holding stale lines.
"""
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest

from harness import (ended_pid, CAPS, EVENT_TIMEOUT, HOSTILE, LESSONS, LessonRun, READY, READY_TIMEOUT, TIME_SCALE,
                     bcc_probe_events, bpf_objects_of, bpf_program_ids, event_stream, exec_from_parent,
                     hold_trace_pipe, holds_back, path_max_program, pinned_to_one_cpu, run_to_exit, runs_to_exit,
                     PERF_LOST, syscall_storm, trace_buffer_kb, unique_program, until_seen, write_trace_marker)
import test_001_hello as t001
import test_002_program_format as t002
import test_003_do_sys_open as t003
import test_004_pid_comm as t004
import test_005_perf_output as t005
import test_006_bpf_hash as t006
import test_007_exec as t007
import test_008_execve as t008
import test_009_latency as t009
import test_010_uprobes as t010
import test_011_usdt as t011
import test_012_stacks as t012

SCRIPTS = {
    "000": "000_doctor/doctor.py", "001": "001_hello/hello.py", "002": "002_program_format/program_format.py",
    "003": "003_do_sys_open/do_sys_open.py", "004": "004_pid_comm/pid_comm.py", "005": "005_perf_output/perf_output.py",
    "006": "006_bpf_hash/bpf_hash.py", "007": "007_exec/exec.py", "008": "008_execve/execve.py",
    "009": "009_latency/latency.py",
    "010": "010_uprobes/uprobes.py",
    "011": "011_usdt/usdt.py",
    "012": "012_stacks/stacks.py",
}
TRACING = [n for n in SCRIPTS if n != "000"]
# The lessons that read the shared trace pipe, with the arguments that make them do so.
TRACE_PIPE = {"001": [], "002": [], "003": [], "004": [], "005": ["--output", "trace_pipe"]}
STOP_BOUND = 1.0 * TIME_SCALE          # s, from the signal to the exit
SETPRIV = [shutil.which("setpriv") or "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
BUSY = re.compile(r"^error: cannot open /sys/kernel/(debug/)?tracing/trace_pipe: Device or resource busy "
                  r"\(is another program reading it\?\)$")
HEADERS = ("error: bcc could not compile the program: the compiler's messages are above (kernel headers missing? "
           "run: sudo make setup, then lessons/000_doctor/doctor.py)")
NO_BCC = ("error: cannot import bcc: install the distro's package (sudo apt install python3-bpfcc) and run with "
          "/usr/bin/python3; never 'pip install bcc', which is an unrelated project")
OVERRUNS = re.compile(r"trace buffer overruns \(lines lost, any program's\): (\d+)$")
LOST_LINE = re.compile(r"trace buffer overruns \(lines lost, any program's\): \d+$|^lost \d+ events in total$"
                       r"|^reads with no return seen: \d+$"   # 009: a map loses no event; it says which pairs are open
                       r"|^events: \d+; stacks not stored: kernel \d+, user \d+$")   # 012: stacks it could not store


def kernel_older_than(major, minor):
    return tuple(map(int, CAPS.kernel.split("-")[0].split(".")[:2])) < (major, minor)


def error_lines(run):
    """The lesson's own one-line errors. bcc and clang may print their own diagnostics on stderr before it (bcc
    0.18 warns on every compile): those are kept, and the lesson's line is the last one."""
    return [line for line in run.err_lines if line.startswith("error: ")]


def assert_doctor_row_fails(run, row_name, fix):
    """Lesson 000 exits 1, its row `row_name` says FAIL and the line under it names `fix`; no traceback."""
    assert run.returncode == 1, run.transcript()
    row = next(i for i, line in enumerate(run.lines) if line.startswith(row_name))
    assert " FAIL " in run.lines[row] and fix in run.lines[row + 1], run.transcript()
    assert not any("Traceback" in line for line in run.err_lines), run.transcript()


def assert_one_clear_line(run, expected, returncode=1):
    """Exit `returncode`, the lesson's error is one line (`expected`: a string, or a compiled regex), the last on
    stderr; no traceback; it never said it was tracing."""
    assert run.returncode == returncode, run.transcript()
    assert len(error_lines(run)) == 1 and run.err_lines[-1] == error_lines(run)[0], run.transcript()
    last = run.err_lines[-1]
    assert (expected.match(last) if hasattr(expected, "match") else last == expected), run.transcript()
    assert not any("Traceback" in line for line in run.lines + run.err_lines), run.transcript()
    assert not any(READY.match(line) for line in run.lines), run.transcript()


# ---------------------------------------------------------------- stopping
def stream_for(name, directory):
    """(kind, path) of an event_stream that makes lesson `name` print without pause."""
    if name == "011":   # the demo, ticking every millisecond; the lesson runs with STREAM_ARGS: --path of it
        return "usdt", t011.demo_binary()
    target = os.path.join(directory, "stream")
    if name in ("007", "008"):
        shutil.copy("/bin/true", target)
        return "exec", target
    if name == "010":
        return "getenv", "T010_STREAM"
    if name == "012":
        return "getppid", ""
    open(target, "w").close()
    return {"001": "clone", "002": "clone", "003": "open", "004": "chmod", "005": "chmod", "006": "sync",
            "009": "read"}[name], target


# What a lesson needs to print while a stream runs: 009 and 012 print only at the end of an interval (009's is
# 1 s by default: the stream would run that long before the first line); by default 011 traces a demo of its
# own only, so it traces the stream's program by path. (Values: lists, or functions that make one when the test
# runs: 011's demo is built then.)
STREAM_ARGS = {"009": ["--interval", "0.2"], "011": lambda: ["--path", t011.demo_binary()],
               "012": ["--interval", "0.2"]}


def stream_args(name):
    args = STREAM_ARGS.get(name, [])
    return args() if callable(args) else args


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT-pressed-again-and-again", "SIGTERM"])
@pytest.mark.parametrize("name", TRACING)
def test_a_signal_stops_a_busy_lesson_within_a_second(lesson, name, sig, short_dir, record_property):
    """The signal arrives while the lesson prints a stream of events (for the perf buffer lessons, most likely
    inside the callback, where an exception would be swallowed by ctypes): exit 0 within a second, no traceback,
    nothing left loaded. Ctrl-C comes the way an impatient learner presses it, again every 20 ms until the
    lesson has gone: the presses after the first change nothing (a second KeyboardInterrupt during the clean-up
    would end the lesson with a traceback out of bcc's detach, exit -2). A press that lands once Python
    has finished the script and is exiting ends it as Ctrl-C ends any program, with no traceback (a shell shows
    130)."""
    run = lesson(SCRIPTS[name], *stream_args(name)).note_held()
    ready_lines = len(run.lines)
    with event_stream(*stream_for(name, short_dir)):
        run.wait_for(lambda: len(run.lines) >= ready_lines + 20, what="20 lines of the stream")
        run.stop_impatiently() if sig == signal.SIGINT else run.stop(sig)
    record_property("stop_seconds", round(run.stop_seconds, 3))
    if sig == signal.SIGINT and run.returncode == -signal.SIGINT:
        run.assert_no_python_error()
    else:
        run.assert_clean_exit()
    assert run.stop_seconds < STOP_BOUND, "stopped %.2f s after %s" % (run.stop_seconds, sig.name)
    record_property("programs_listed_by", run.assert_nothing_left())


@pytest.mark.parametrize("name", TRACING)
def test_ctrl_c_while_a_lesson_starts_ends_it_quietly(bpf_ready, name, record_property):
    """Ctrl-C while the lesson is still starting, most likely while bcc compiles its program (0.3-1 s here, 10-25 s
    under emulation), which a learner waiting for the first line may well press. No signal stops the compile, and
    an exception raised from a handler can be lost (it was, while lesson 008 read /sys/kernel/btf/vmlinux), so the
    lessons hold SIGINT and SIGTERM back until their reading loop's handler is in place: then the held Ctrl-C ends
    the run as one pressed later would. Exit 0, no traceback (a KeyboardInterrupt one is what an unheld press
    gives), no program or probe left. The signal goes as soon as the lesson holds it back."""
    programs_before = bpf_program_ids()[0]
    run = LessonRun(SCRIPTS[name])
    try:
        deadline, held = time.monotonic() + READY_TIMEOUT, False
        while not held and run.proc.poll() is None and time.monotonic() < deadline:
            try:
                held = holds_back(run.proc.pid, signal.SIGINT, run.script)
            except (OSError, KeyError):   # it exited meanwhile
                break
            time.sleep(0.002)
        assert held, "the lesson never held SIGINT back\n" + run.transcript()
        sent_before_ready = not any(READY.search(line) for line in run.lines)
        run.stop(signal.SIGINT, READY_TIMEOUT + STOP_BOUND)   # compile, attach, then the held signal stops it
    finally:
        run.kill()
    record_property("stop_seconds", round(run.stop_seconds, 3))   # the rest of the compile, the attach, the stop
    assert sent_before_ready, "the lesson was ready before the signal\n" + run.transcript()
    assert run.returncode == 0, run.transcript()
    run.assert_no_python_error()
    run.assert_nothing_left(loaded_before=programs_before)


@pytest.mark.parametrize("name", TRACING)
def test_a_closed_pipe_ends_a_lesson_quietly(lesson, name, short_dir):
    """`lesson | head`: once the reader has gone, the next line the lesson writes ends it as SIGPIPE ends cat
    (no BrokenPipeError traceback), within the stop bound, and nothing stays loaded."""
    run = lesson(SCRIPTS[name], *stream_args(name)).note_held()
    ready_lines = len(run.lines)
    with event_stream(*stream_for(name, short_dir)):
        run.wait_for(lambda: len(run.lines) >= ready_lines + 5, what="5 lines of the stream")
        run.close_stdout()   # what head does after its last line
        start = time.monotonic()
        run.finish(STOP_BOUND + EVENT_TIMEOUT)   # the next event's line meets the closed pipe
        seconds = time.monotonic() - start
    assert run.returncode == -signal.SIGPIPE, run.transcript()
    assert not any("Traceback" in line or "BrokenPipe" in line for line in run.err_lines), run.transcript()
    assert seconds < STOP_BOUND + EVENT_TIMEOUT, seconds
    run.assert_nothing_left()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_doctor_without_a_verdict(bpf_ready, sig, record_property):
    """The doctor is stopped while it holds a program it is trying: one line, exit 1 (no verdict is not "the
    lessons can run", which exit 0 means), promptly, nothing left loaded. The doctor compiles more programs as
    it goes, and a signal that lands in a compile waits for it (libbcc's C code): the bound allows one compile,
    as long as the doctor took to hold its first program (~0.5 s here, several seconds under emulation)."""
    start = time.monotonic()
    run = LessonRun(SCRIPTS["000"], ["--json"])
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while not run.prog_ids and run.proc.poll() is None and time.monotonic() < deadline:
            try:
                run.held, run.prog_ids = bpf_objects_of(run.proc.pid)
            except OSError:      # it exited meanwhile
                break
            time.sleep(0.01)
        assert run.prog_ids, "the doctor loaded no program before it ended\n" + run.transcript()
        one_compile = time.monotonic() - start
        run.stop(sig)
    finally:
        run.kill()
    record_property("stop_seconds", round(run.stop_seconds, 3))
    assert_one_clear_line(run, "error: interrupted (%s) before a verdict: run the doctor again" % sig.name)
    assert run.lines == [], run.transcript()
    assert run.stop_seconds < STOP_BOUND + one_compile, (run.stop_seconds, one_compile)
    run.assert_nothing_left()


@pytest.mark.parametrize("name", TRACING)
def test_duration_ends_a_run_without_events(lesson, name):
    """--duration 0.5, and the test causes no event: the lesson ends by itself, half a second after it started
    tracing, exit 0, nothing left loaded."""
    run = lesson(SCRIPTS[name], "--duration", "0.5").note_held()
    start = time.monotonic()
    run.finish(0.5 + 2 * TIME_SCALE)
    run.assert_clean_exit()
    took = time.monotonic() - start
    assert took < 0.5 + TIME_SCALE, "ended %.2f s after it started tracing" % took
    assert LOST_LINE.search(run.lines[-1]), run.transcript()   # each ends saying what it lost
    run.assert_nothing_left()


# ---------------------------------------------------------------- a learner's mistakes: one clear line
@pytest.mark.parametrize("name", TRACING)
def test_not_root_is_one_clear_line(bpf_ready, name):
    run = run_to_exit(SCRIPTS[name], ["--duration", "1"], prefix=SETPRIV)
    assert_one_clear_line(run, "error: loading BPF programs needs root: sudo python3 %s" % (LESSONS / SCRIPTS[name]))


def python_without_bcc():
    """This interpreter with -S: no site module, so neither dist-packages (the distro's bcc) nor a venv's
    site-packages is on sys.path; the standard library is. Works the same on Debian 11's Python 3.9."""
    python = [sys.executable, "-S"]
    probe = subprocess.run(python + ["-c", "import bcc"], stderr=subprocess.DEVNULL, timeout=30)
    assert probe.returncode != 0, "bcc still imports with %s" % python
    return python


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_bcc_not_importable_is_one_clear_line(bpf_ready, name):
    run = run_to_exit(SCRIPTS[name], python=python_without_bcc())
    if name == "000":   # the doctor's job is to say it in its table: the row fails, with its fix, exit 1
        assert_doctor_row_fails(run, "bcc importable", "python3-bpfcc")
    else:
        assert_one_clear_line(run, NO_BCC)


BAD_ARGS = {   # per lesson, on top of COMMON_BAD_ARGS (lessons with --duration)
    "000": [["--no-such-option"], ["--json", "extra"]],
    "001": [["--probe", "fentry"]],
    "002": [["--probe", "fentry"], ["--count", "0"], ["--count", "1.5"]],
    "003": [["--probe", "fentry"], ["--count", "-1"]],
    "004": [["--probe", "uprobe"], ["--probe", "raw_tracepoint"], ["--count", "0"]],   # raw: notes/syscall-wrappers.md
    "005": [["--output", "stdout"], ["--output", "ringbuf"], ["--pid", "0"], ["--pid", "-5"], ["--pid", "abc"],
            ["--count", "0"]],   # ringbuf: the exercise's
    "006": [["--mode", "x"], ["--syscall", "sync\n\x1b[31mred"], ["--syscall", "../../x"], ["--interval", "nan"],
            ["--interval", "0"], ["--count", "0"]],
    "007": [["--count", "0"], ["--probe", "kprobe"]],
    "008": [["--offsets", "guess"], ["--count", "0"]],
    "009": [["--interval", "0"], ["--interval", "nan"], ["--interval", "-1"], ["--probe", "fentry"], ["--count", "5"]],
    "010": [["--pid", "0"], ["--pid", "-5"], ["--pid", "abc"], ["--pid", str(1 << 22)], ["--pid", "1 2"],
            ["--probe", "kprobe"], ["--count", "0"]],
    "011": [["--pid", "0"], ["--pid", "abc"], ["--pid", "1", "--path", "/bin/true"], ["--path"], ["--probe", "kprobe"],
            ["--count", "0"]],
    "012": [["--mode", "x"], ["--syscall", "nosuch"], ["--syscall", "../x"], ["--pid", "0"], ["--pid", "abc"],
            ["--frequency", "0"], ["--interval", "0"], ["--folded", "/nonexistent/x.folded"], ["--svg", "/proc"],
            ["--count", "5"], ["--probe", "kprobe"]],
}
COMMON_BAD_ARGS = [["--duration", "0"], ["--duration", "-1"], ["--duration", "nan"], ["--duration", "inf"],
                   ["--duration", "1e30"], ["--duration", "ten"], ["--no-such-option"]]


@pytest.mark.parametrize("name", ["010", "011", "012"])   # the lessons with --pid
def test_a_pid_that_has_ended_is_one_error_line(bpf_ready, name):
    pid = ended_pid()
    run = run_to_exit(SCRIPTS[name], ["--pid", str(pid)])
    assert run.returncode == 2 and run.lines == [], run.transcript()
    assert run.err_lines[-1] == "%s: error: argument --pid: no process with pid %d" % (
        os.path.basename(SCRIPTS[name]), pid), run.transcript()
    assert bcc_probe_events(run.proc.pid) == [], run.transcript()


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_bad_command_line_values_are_a_usage_and_one_error_line(bpf_ready, name):
    """argparse's way: exit 2, the usage (wrapped on several lines when long), then one line `prog: error: ...`;
    nothing on stdout, no traceback, no control character echoed. The runs load nothing: each is a child forked
    from one Python that has imported plumbing and bcc (runs_to_exit)."""
    cases = BAD_ARGS[name] + (COMMON_BAD_ARGS if name != "000" else [])
    for args, run in zip(cases, runs_to_exit(SCRIPTS[name], cases)):
        prog = os.path.basename(SCRIPTS[name])
        where = "%s %r\n%s" % (name, args, run.transcript())
        assert run.returncode == 2 and run.lines == [], where
        assert run.err_lines[0].startswith("usage: %s " % prog), where
        assert all(line.startswith(" ") for line in run.err_lines[1:-1]), where       # the usage, wrapped
        assert run.err_lines[-1].startswith("%s: error: " % prog), where
        assert not any("\x1b" in line or "Traceback" in line for line in run.err_lines), where


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_broken_kernel_headers_are_one_line_pointing_to_setup(bpf_ready, name, tmp_path):
    """BCC_KERNEL_SOURCE names a kernel tree whose include/linux/kconfig.h, the first header bcc includes, stops
    the compiler with #error: every compile fails, as with broken headers (the file being there, bcc does not
    unpack the kernel's own kheaders instead, which some kernels have). The machine itself is not touched."""
    (tmp_path / "include" / "linux").mkdir(parents=True)
    (tmp_path / "include" / "linux" / "kconfig.h").write_text('#error "broken kernel headers (a test\'s tree)"\n')
    env = dict(os.environ, BCC_KERNEL_SOURCE=str(tmp_path))
    run = run_to_exit(SCRIPTS[name], [] if name == "000" else ["--duration", "1"], env=env)
    if name == "000":   # the doctor: its compile row fails with the fix, exit 1
        assert_doctor_row_fails(run, "compile a program", "sudo make setup")
    else:
        assert_one_clear_line(run, HEADERS)


# ---------------------------------------------------------------- hostile file names and argv
def kept_bytes(name):
    """How many bytes of a long path lesson `name` prints before its "...": its buffer less the NUL and one byte
    (which tells a string that just fits from a longer one: plumbing.string()); through bpf_trace_printk, 63 on
    kernels before 5.13 (which print no more of a %s)."""
    if name in ("003", "004"):
        return 63 if kernel_older_than(5, 13) else 254
    return {"007": 255, "008": 127}[name]


def hostile_cases(name, directory):
    """[(case, path as bytes, the text the lesson must print for it)] in directory, and the PATH_MAX case: the
    path is a copy of /bin/true (007 shows completed execs only), the others symlinks to it. Through the trace
    pipe (003, 004) a newline ends the kernel's line: the name is shown up to it, marked cut ("...")."""
    long = path_max_program(directory, "t%spm" % name)
    cases, program = [("path_max", long, long[:kept_bytes(name)].decode() + "...")], unique_program(directory, "t%sp" % name)
    for case, (leaf, shown) in HOSTILE.items():
        path = os.fsencode(directory) + b"/" + leaf
        os.symlink(program, path)
        if case == "newline" and name in TRACE_PIPE:
            shown = shown.split("\\n")[0] + "..."
        cases.append((case, path, directory + "/" + shown))
    return cases


@pytest.mark.parametrize("name", ["003", "004", "007", "008"])
def test_hostile_names_are_escaped_one_line_each(lesson, name, short_dir, record_property):
    """Each hostile name is opened (003), chmodded (004) or executed (007, 008): its row shows it escaped, or cut
    and marked; one row per event (through the trace pipe the test may need several tries: one row per try at
    most); no output line holds an ESC byte or starts with what the newline tried to forge. 008 also executes a
    program with the hostile strings as argv: one row, each argument escaped and shell-quoted."""
    module = {"003": t003, "004": t004, "007": t007, "008": t008}[name]
    cases, tries, argv_program = hostile_cases(name, short_dir), {}, unique_program(short_dir, "t008v")
    run = lesson(SCRIPTS[name])     # after the files are made: making them opens and chmods them too
    if name == "008":   # every execve() at once, from one parent
        exec_from_parent([(path, [b"t008h"]) for _, path, _ in cases] +
                         [(argv_program, [b"t008v"] + [leaf for leaf, _ in HOSTILE.values()])], comm="t008hparent")
    for case, path, shown in cases:
        if name == "003":
            tries[case] = until_seen(run, lambda: t003.try_open(path, os.O_RDONLY), lambda: t003.rows_for(run, shown),
                                     "a row for %r" % path)[1]
        elif name == "004":
            tries[case] = until_seen(run, lambda: os.chmod(path, 0o755), lambda: t004.rows_for(run, shown),
                                     "a row for %r" % path)[1]
        else:
            if name == "007":
                subprocess.run([path], timeout=EVENT_TIMEOUT, check=True)
            run.wait_for(lambda: module.rows_for(run, shown), what="a row for %r" % path)
            tries[case] = 1
    if name == "008":
        run.wait_for(lambda: t008.rows_for(run, argv_program), what="the row of the execve() with hostile argv")
    run.stop()
    run.assert_clean_exit()
    for case, path, shown in cases:
        assert 1 <= len(module.rows_for(run, shown)) <= tries[case], (case, run.transcript())
        record_property(case, shown[-30:])
    if name == "007":   # the program's name is its comm too (all these names are under 16 bytes): escaped there too
        for leaf, shown in HOSTILE.values():
            assert t007.rows_for(run, short_dir + "/" + shown)[0].group("comm") == shown, run.transcript()
    if name == "008":
        [row] = t008.rows_for(run, argv_program)
        assert row.group("args") == " ".join(["t008v"] + [shlex.quote(s) for _, s in HOSTILE.values()]), run.transcript()
    assert not any("\x1b" in line for line in run.lines), run.transcript()
    assert not any(line.startswith("4242") for line in run.lines), run.transcript()


# ---------------------------------------------------------------- storms
N = 20000        # system calls in a storm: ~0.05 s here, about a second under QEMU's emulation
N_EXEC = 1000    # execs (~1 ms each here): more than one CPU's perf buffer holds in 007 (8 pages) and 008 (64)


@contextmanager
def reader_stopped(run):
    """The lesson is stopped (SIGSTOP) while the block runs: the kernel keeps writing, nobody reads."""
    os.kill(run.proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(run.proc.pid, signal.SIGCONT)


def last_number(run, regex):
    m = re.search(regex, run.lines[-1])
    assert m, run.transcript()
    return int(m.group(1))


def storm_clone(start, name):
    """001/002: the test's own clone() calls (refused ones: no process is made) while the lesson is stopped. Both
    print every line of the buffer; a fence before the storm tells the test's new lines from stale ones, a fence
    after it that the lesson has read everything. Lost: 001 prints the kernel's `CPU:N [LOST M EVENTS]` lines,
    002 the overrun count. Both count every program's lines (other processes' clones too): >=, not ==."""
    run = start(SCRIPTS[name])
    me, fence_ts = os.getpid(), (t001 if name == "001" else t002).fence_ts
    after = fence_ts(run)
    with pinned_to_one_cpu(), reader_stopped(run):
        caused = syscall_storm("clone", N)
    fence_ts(run)
    run.stop()
    run.assert_clean_exit()
    if name == "001":
        delivered = len([t for t in t001.hello_lines_from(run, me, after) if t["msg"] == "Hello, World!"])
        lost = sum(int(n) for n in re.findall(r"CPU:\d+ \[LOST (\d+) EVENTS\]", "\n".join(run.lines)))
    else:
        delivered = len([r for r in t002.rows_from(run, me, after) if r["msg"] == "Hello, World!"])
        lost = last_number(run, OVERRUNS)
    return delivered, lost, caused, False


def storm_path(start, name, short_dir, args=()):
    """003, 004 and 005: opens or chmods of one missing path while the lesson is stopped, then of another path
    until it is shown (after the storm: the lesson has read what was left). Through the trace pipe, the overrun
    count is every program's lines (>=); 004 loses an event with one of its two lines. The perf buffer with
    --pid: only the test's events are sent, so delivered + lost == caused exactly."""
    kind = "open" if name == "003" else "chmod"
    storm, after = os.path.join(short_dir, "storm"), os.path.join(short_dir, "after")
    run = start(SCRIPTS[name], *args)
    rows_for = {"003": t003, "004": t004, "005": t005}[name].rows_for
    with pinned_to_one_cpu():
        with reader_stopped(run):
            caused = syscall_storm(kind, N, storm)
        _, tries = until_seen(run, lambda: syscall_storm(kind, 1, after), lambda: rows_for(run, after),
                              "a row for %s after the storm" % after)
    run.stop()
    run.assert_clean_exit()
    delivered = len(rows_for(run, storm)) + len(rows_for(run, after))
    if "perf" in args:
        return delivered, last_number(run, PERF_LOST), caused + tries, True
    return delivered, last_number(run, OVERRUNS), caused + tries, False


def storm_intervals(start, short_dir):
    """006 timing mode on getppid: the test's N calls make N - 1 intervals, sent through the perf buffer; a child
    calling twice after the storm delivers the kernel's lost count. Lost counts any process's intervals: >=."""
    run = start(SCRIPTS["006"], "--syscall", "getppid")
    me, children = os.getpid(), []

    def child_twice():
        pid = os.fork()
        if pid == 0:
            os.getppid(), os.getppid()
            os._exit(0)
        os.waitpid(pid, 0)
        children.append(pid)
    with pinned_to_one_cpu():
        with reader_stopped(run):
            syscall_storm("getppid", N)
        until_seen(run, child_twice, lambda: any(t006.rows_of(run, c) for c in children), "a child's interval")
    run.stop()
    run.assert_clean_exit()
    delivered = len(t006.rows_of(run, me)) + sum(len(t006.rows_of(run, c)) for c in children)
    return delivered, last_number(run, PERF_LOST), N - 1 + len(children), False


def storm_execs(start, name, short_dir):
    """007, 008: N_EXEC execs of one program while the lesson is stopped, then of another until shown. Both
    trace every exec on the machine (no pid to filter by: each exec is a new process), so lost counts other
    processes' execs too (the spawner's own, at least): >=."""
    run = start(SCRIPTS[name])
    module = t007 if name == "007" else t008
    storm, after = unique_program(short_dir, "t%ss" % name), unique_program(short_dir, "t%sa" % name)
    with pinned_to_one_cpu():
        with reader_stopped(run):
            _, pids = exec_from_parent([(storm, ["s"])] * N_EXEC, comm="t%sstorm" % name, timeout=120 * TIME_SCALE)
        _, tries = until_seen(run, lambda: subprocess.run([after], timeout=EVENT_TIMEOUT),
                              lambda: module.rows_for(run, after), "a row for %s after the storm" % after)
    run.stop()
    run.assert_clean_exit()
    assert all(pid > 0 for pid in pids)
    delivered = len(module.rows_for(run, storm)) + len(module.rows_for(run, after))
    return delivered, last_number(run, PERF_LOST), N_EXEC + tries, False


def storm_getenv(start, short_dir):
    """010 with --pid of the test: N getenv() calls of one name while the lesson is stopped, then of another until
    shown. Only the test's process is traced, but Python may call getenv() in it meanwhile: >=."""
    me, storm, after = os.getpid(), t010.unique("STORM"), t010.unique("AFTER")
    run = start(SCRIPTS["010"], "--pid", me)
    with pinned_to_one_cpu():
        with reader_stopped(run):
            caused = syscall_storm("getenv", N, storm)
        _, tries = until_seen(run, lambda: syscall_storm("getenv", 1, after), lambda: t010.rows_of(run, me, after),
                              "a row for %s after the storm" % after)
    run.stop()
    run.assert_clean_exit()
    delivered = len(t010.rows_of(run, me, storm)) + len(t010.rows_of(run, me, after))
    return delivered, last_number(run, PERF_LOST), caused + tries, False


def storm_usdt(start, short_dir):
    """011 with --pid of a demo of the test (line mode): N lines while the lesson is stopped, each a tick and a
    report (the semaphore is raised), then more until a report is shown. Only that demo is traced, pinned to the
    test's CPU (one perf buffer, in order): delivered + lost == caused exactly."""
    demo, after = t011.Demo(), "after" + secrets.token_hex(4)
    try:
        run = start(SCRIPTS["011"], "--pid", demo.pid)
        with pinned_to_one_cpu() as cpu:
            os.sched_setaffinity(demo.pid, {cpu})
            with reader_stopped(run):
                caused = 2 * demo.many("storm", N)
            _, tries = until_seen(run, lambda: demo.tick(after), lambda: [m for m in t011.rows_of(run, demo.pid, "report")
                                                                        if m.group("text").endswith(" " + after)],
                                  "a report of %s after the storm" % after)
        run.stop()
    finally:
        demo.close()
    run.assert_clean_exit()
    delivered = len(t011.rows_of(run, demo.pid, "tick")) + len(t011.rows_of(run, demo.pid, "report"))
    return delivered, last_number(run, PERF_LOST), caused + 2 * tries, True


STORMS = {   # case -> storm(start a lesson, a short directory) -> (delivered, reported lost, caused, exact)
    "001": lambda start, d: storm_clone(start, "001"),
    "002": lambda start, d: storm_clone(start, "002"),
    "003": lambda start, d: storm_path(start, "003", d),
    "004": lambda start, d: storm_path(start, "004", d),
    "005-trace_pipe": lambda start, d: storm_path(start, "005", d, ["--output", "trace_pipe", "--pid", os.getpid()]),
    "005-perf": lambda start, d: storm_path(start, "005", d, ["--output", "perf", "--pid", os.getpid()]),
    "006": storm_intervals,
    "007": lambda start, d: storm_execs(start, "007", d),
    "008": lambda start, d: storm_execs(start, "008", d),
    "010": storm_getenv,
    "011": storm_usdt,
}


@pytest.mark.parametrize("case", list(STORMS))
def test_a_storm_is_delivered_or_its_losses_are_reported(lesson, case, short_dir, record_property):
    """delivered <= caused, and delivered + reported lost == caused where only the test's events can be lost
    (005 with --pid), >= where the count includes other programs' (see each storm_*). Where the buffer cannot
    hold the storm (the perf buffer always; the trace buffer when it is small, as on the test host),
    something must have been lost, and reported."""
    delivered, lost, caused, exact = STORMS[case](lesson, short_dir)
    record_property("delivered_lost_caused", "%d + %d / %d" % (delivered, lost, caused))
    assert delivered <= caused, (delivered, lost, caused)
    if exact:
        assert delivered + lost == caused, (delivered, lost, caused)
    else:
        assert delivered + lost >= caused, (delivered, lost, caused)
    through_pipe = case in TRACE_PIPE or case == "005-trace_pipe"
    if not through_pipe or trace_buffer_kb() * 1024 < N * 16:     # a trace line takes more than 16 bytes
        assert lost > 0 and delivered < caused, (delivered, lost, caused)


def test_a_read_storm_is_counted_whole_in_the_histogram_of_009(lesson, short_dir):
    """009 keeps no buffer between the kernel and its reader: each read is counted in a map where it happens. N
    reads of an empty file while the lesson is stopped (SIGSTOP): when it runs again, its one printout counts at
    least N reads (other programs' reads too: >=), and nothing could be lost on the way."""
    path = os.path.join(short_dir, "empty")
    open(path, "w").close()
    run = lesson(SCRIPTS["009"], "--interval", "3600")
    fd = os.open(path, os.O_RDONLY)
    try:
        with pinned_to_one_cpu(), reader_stopped(run):
            for _ in range(N):
                os.read(fd, 1)
    finally:
        os.close(fd)
    run.stop()
    run.assert_clean_exit()
    counted = sum(int(m.group("count")) for m in map(t009.BUCKET.match, run.lines) if m)
    assert counted >= N, (counted, run.transcript())
    assert t009.OPEN.match(run.lines[-1]), run.transcript()


def test_a_getppid_storm_is_counted_whole_by_012(lesson):
    """012 counts in a map where each event happens, as 009 does: N getppid() calls by the test while the lesson is
    stopped (SIGSTOP) are all in its printout, under the test's pid, and its last line says so."""
    me = os.getpid()
    run = lesson(SCRIPTS["012"], "--pid", me)
    with pinned_to_one_cpu(), reader_stopped(run):
        syscall_storm("getppid", N)
    run.stop()
    run.assert_clean_exit()
    counted = sum(count for count, _, _ in t012.blocks(run, me))
    assert counted == N, (counted, run.transcript())
    assert t012.SUMMARY.match(run.lines[-1]).group("events") == str(N), run.transcript()


# ---------------------------------------------------------------- the shared trace pipe
@pytest.mark.parametrize("name", list(TRACE_PIPE))
def test_a_busy_trace_pipe_is_one_clear_line(bpf_ready, name):
    """Another program holds trace_pipe open. Where the kernel lets one reader at a time open it (EBUSY: 6.5+,
    measured on 5.10.0-46, 6.1.0-57 and 6.18), the lesson stops with one line naming it, exit 1, its probes
    detached; elsewhere (before 6.5 without the backport) it runs and ends cleanly."""
    with hold_trace_pipe() as exclusive:
        run = run_to_exit(SCRIPTS[name], TRACE_PIPE[name] + ["--duration", "1"])
    if exclusive:
        assert_one_clear_line(run, BUSY)
        assert bcc_probe_events(run.proc.pid) == []
    else:
        run.assert_clean_exit()


def test_two_trace_pipe_lessons_at_once(bpf_ready, short_dir):
    """003 runs; 004 starts too. Where one reader at a time may open trace_pipe, 004 stops with one line and 003
    goes on. Where both open it (a kernel before 6.5 without the backport), each line goes to one reader only, so
    each may miss its own events: the test repeats them until each lesson has shown its own, and neither shows
    the other's."""
    opened, chmodded = os.path.join(short_dir, "opened"), os.path.join(short_dir, "chmodded")
    open(chmodded, "w").close()
    first = second = None
    try:
        first = LessonRun(SCRIPTS["003"])
        first.wait_ready()
        second = LessonRun(SCRIPTS["004"])
        second.wait_for(lambda: any(map(READY.match, second.lines)) or second.proc.poll() is not None,
                        READY_TIMEOUT, "004 ready, or ended")
        both = second.proc.poll() is None
        if both:
            until_seen(second, lambda: os.chmod(chmodded, 0o640), lambda: t004.rows_for(second, chmodded),
                       "004's row for its chmod")
        until_seen(first, lambda: t003.try_open(opened, os.O_RDONLY), lambda: t003.rows_for(first, opened),
                   "003's row for its open")
        for run in (first, second):
            run.stop()
    finally:
        for run in (first, second):
            if run is not None:
                run.kill()
    first.assert_clean_exit()
    if both:
        second.assert_clean_exit()
        assert not t004.rows_for(second, opened) and not t003.rows_for(first, chmodded)
    else:
        assert_one_clear_line(second, BUSY)


# Lines a previous run or another program may have left in the trace buffer, each imitating a lesson's own line
# for the very event the test then causes; the last one ends in a line that bcc's trace_fields() cannot split
# (it returns the string "Unknown" for it).
# The marked ones carry another run's mark in plumbing's shape (lesson-<8 hex digits>, plumbing.MARK).
STALE = ["Hello, World!", "lesson-0badc0de 0 20 {path}", "lesson-0badc0de 1 {pid} {pid} python",
         "lesson-0badc0de 2 1ff 20 {path}", "lesson-0badc0de 1ff 20 {path}", "x\n" + "A" * 16 + " Z 1 2 x: y"]


@pytest.mark.parametrize("name", list(TRACE_PIPE))
def test_stale_and_foreign_lines_in_the_trace_buffer(lesson, name, short_dir):
    """Stale lines imitating the lesson's are written before it starts. 001 and 002 print every line of the
    buffer (as the note says): the test counts what came after its fence, and its counts stay exact. 003-005
    mark their lines with a mark of their own run: the stale ones are skipped and the row for the test's event
    shows its mode 0640, never the stale 0777. Nothing crashes on the line that bcc cannot split."""
    path = os.path.join(short_dir, "target")
    open(path, "w").close()
    for line in STALE:
        write_trace_marker(line.format(path=path, pid=os.getpid()))
    run = lesson(SCRIPTS[name], *TRACE_PIPE[name])
    if name == "001":
        t001.check_hello_per_fork(run)
        return
    if name == "002":
        t002.check_rows_per_fork(run)
        return
    rows_for = {"003": t003, "004": t004, "005": t005}[name].rows_for
    act = (lambda: t003.try_open(path, os.O_RDONLY)) if name == "003" else (lambda: os.chmod(path, 0o640))
    _, tries = until_seen(run, act, lambda: rows_for(run, path), "a row for " + path)
    run.stop()
    run.assert_clean_exit()
    rows = rows_for(run, path)
    assert 1 <= len(rows) <= tries, run.transcript()
    if name != "003":
        assert {r["mode"] for r in rows} == {"0640"}, run.transcript()
