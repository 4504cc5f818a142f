"""pytest's side of the test harness: the fixtures and hooks. Everything else the tests use (capabilities, the
lesson runner, workloads, notebooks) is in tests/harness/, which has no pytest in it, so that the exercise
checker (scripts/check.py) uses the very same code (CONTRIBUTING.md, "Tests")."""
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))   # `import harness`, as the tests import it
from harness import (CAPS, NO_SKIP, LessonRun, NotebookRun, clear_trace_buffer, let_ctrl_c_reach_children,  # noqa: E402
                     notebook_tools_missing, set_priority)


def pytest_configure(config):
    let_ctrl_c_reach_children()     # in each xdist worker too: they run this hook
    config.addinivalue_line("markers", "xdist_group(name): tests that must not run beside each other (make test "
                                       "runs five pytest-xdist workers with --dist loadgroup)")
    config.addinivalue_line("markers", "trace_buffer: the test reads or clears the trace buffer, whatever its name "
                                       "says (its group is the trace buffer's: kernel_group)")


# Tests that end before anything is loaded into the kernel (the root check, argparse, a compile that fails, a pid
# that is gone), and tests of files that never reach the kernel: no group, whatever lesson they name.
# (An exercise check that fails to compile is marked trace_buffer where the checker empties the trace buffer
# before it starts the script: tests/test_exercises.py.)
LOADS_NOTHING = ("test_not_root_is_one_clear_line", "test_bcc_not_importable_is_one_clear_line",
                 "test_bad_command_line_values_are_a_usage_and_one_error_line",
                 "test_broken_kernel_headers_are_one_line_pointing_to_setup",
                 "test_a_pid_that_has_ended_is_one_error_line",
                 "test_a_solution_that_does_not_compile_shows_the_compiler_error",
                 "test_an_error_exit_is_one_line_and_stops_run_all",
                 "test_round_trip_script_notebook_script_is_lossless", "test_notebook_follows_the_convention",
                 "test_bad_input_is_one_line", "test_readmes_show_the_committed_results",
                 "test_suite_time_bad_input_is_one_line")


TRACE_BUFFER = "trace-buffer"     # the group of every test that reads, fills, resizes, clears or holds it


def kernel_group(nodeid):
    """Which tests must run one after another, on one worker, when `make test` runs five at once: every test
    that reads the shared trace buffer (lessons 001-004, 005 with --output trace_pipe, and the exercise checks
    that tests/test_exercises.py marks trace_buffer: one reader at a time since Linux 6.5, and in the 5.10 and 6.1
    stable series), with the tests that fill,
    resize, clear or hold it, in one group; each other lesson's tests in a group of their own (a lesson's tests
    may rely on its kernel-wide events: 006's sync() by anyone, 009's reads); tests that load nothing into the
    kernel in none."""
    if nodeid.startswith("tests/test_docs.py::test_c_block_compiles"):   # one worker compiles them all, once
        return "c-blocks"
    if nodeid.startswith(("tests/test_docs.py", "tests/test_plumbing.py")) or \
            nodeid.split("::")[-1].split("[")[0] in LOADS_NOTHING:
        return None
    if nodeid.startswith("tests/test_forced_kprobe.py") and not CAPS.kprobes:   # refused before anything loads
        return None
    lesson = re.search(r"(?<![\d.])0\d\d(?!\d)", nodeid)
    lesson = lesson and lesson.group()
    if "test_class_report.py" in nodeid or "make_check" in nodeid:   # they check 007-exit
        return "lesson-007"
    if nodeid.startswith("tests/test_bench.py") and "[perf-ringbuf-bpftrace]" in nodeid:   # no trace pipe; it runs
        return "lesson-008"                                                                 # lesson 008
    if "test_bench.py" in nodeid or "trace_pipe" in nodeid or "trace_buffer" in nodeid or \
            ("test_notebooks.py" in nodeid and not lesson) or "clean_machine" in nodeid or \
            (lesson and "001" <= lesson <= "004" and not nodeid.startswith("tests/test_exercises.py")):
        return TRACE_BUFFER
    if lesson:
        return "lesson-" + lesson
    return None


@pytest.hookimpl(tryfirst=True)   # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        group = TRACE_BUFFER if item.get_closest_marker("trace_buffer") else kernel_group(item.nodeid)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
    share_out(config, items)


# The trace buffer's group is make test's longest path: its tests run one after another, and with only a fair
# share of the two CPUs its lessons would end long after the other groups'. They and its notebook kernels run at
# a lower nice value, so that it ends with the rest (CONTRIBUTING.md, "Tests").
TRACE_BUFFER_NICE = -5


def pytest_runtest_setup(item):
    marker = item.get_closest_marker("xdist_group")
    set_priority(TRACE_BUFFER_NICE if marker and marker.args[0] == TRACE_BUFFER else 0)


def share_out(config, items):
    """LESSONS_SHARD=k/n (a sharing lane of the kernel matrix's CI mode, scripts/matrix/ci.env): keep every n-th
    robustness and forced-kprobe test (on a kprobe kernel it repeats the auto test's attach and checks with the
    flag given), from the k-th, so that n kernels together run each of them once, and no exercise test (the
    lanes that do not share run CI_EXERCISE_TESTS). Deselected, not skipped: pytest reports them as deselected."""
    shard = os.environ.get("LESSONS_SHARD")
    if not shard:
        return
    k, n = map(int, shard.split("/"))
    dropped = {item.nodeid for item in items if item.nodeid.startswith("tests/test_exercises.py::")}
    shared = [item for item in items if item.nodeid.startswith(("tests/test_robustness.py::",
                                                                 "tests/test_forced_kprobe.py::"))]
    dropped |= {item.nodeid for i, item in enumerate(shared) if i % n != k}
    config.hook.pytest_deselected(items=[item for item in items if item.nodeid in dropped])
    items[:] = [item for item in items if item.nodeid not in dropped]


def require(condition, reason):
    if not condition:
        (pytest.fail if NO_SKIP else pytest.skip)(reason)


@pytest.fixture(scope="session")
def bpf_ready():
    """Root, the distro's bcc and tracefs: skip (or, under `make test`, fail) with the precise reason."""
    reason = CAPS.missing()
    require(reason is None, reason)
    return CAPS


@pytest.fixture
def lesson(bpf_ready):
    """start(script, *args) -> LessonRun that is ready (its probes attached). Runs left over are killed."""
    runs = []

    def start(script, *args, fresh_trace_buffer=False):
        if fresh_trace_buffer:
            clear_trace_buffer()
        run = LessonRun(script, args)
        runs.append(run)
        return run.wait_ready()
    yield start
    for run in runs:
        run.kill()


@pytest.fixture
def short_dir():
    """A new directory /tmp/l-<pid>-<hex> (str), removed afterwards: short, so that a path in it stays under the
    63 bytes that kernels before 5.13 print of a string through bpf_trace_printk."""
    path = "/tmp/l-%d-%s" % (os.getpid(), os.urandom(2).hex())
    os.mkdir(path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def notebook(bpf_ready, tmp_path):
    """start(script, *args) -> NotebookRun that is ready (its probes attached; ready=False: at once). args, when
    given, replace the lesson's NOTEBOOK_ARGS; start(script) runs it with its own. Runs left over are killed."""
    reason = notebook_tools_missing()
    require(reason is None, reason)
    runs = []

    def start(script, *args, fresh_trace_buffer=False, ready=True):
        if fresh_trace_buffer:
            clear_trace_buffer()
        run = NotebookRun(script, list(args) or None, directory=tmp_path)
        runs.append(run)
        return run.wait_ready() if ready else run
    yield start
    for run in runs:
        run.kill()
