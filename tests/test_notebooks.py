"""Every lesson as a notebook: converted with jupytext as `make notebooks` does, executed with nbclient as root on
the kernel set-up installs, while the test causes the lesson's events. The checks are the script tests' own
(imported from tests/test_00N_*.py): a NotebookRun (conftest.py) has a LessonRun's interface, its output is
the text of all cells, and stop() is Jupyter's interrupt button. Each run also asserts that the kernel, alive
after the last cell, holds nothing of BPF and that bpftool no longer lists the lesson's programs.

The convention every lesson follows (README.md, "Notebooks"):
- a cell tagged `parameters` holding NOTEBOOK_ARGS, used instead of sys.argv when "ipykernel" in sys.modules;
  its default has --duration, so "Run All" ends by itself;
- the reading cell (plumbing.run()) ends, whatever ends it, with no alarm left, the signal handlers restored and
  the probes detached (`b.cleanup()`);
- each markdown cell carries its English text and a Chinese line under it.
"""
import json
import re
import tempfile

import jupytext
import nbformat
import pytest

from harness import (CAPS, LESSONS, NOTEBOOK_METADATA, READY, TIME_SCALE, expected_auto_probe, hold_trace_pipe,
                     lesson_notebook, notebook_tools_missing)
from conftest import require
from test_005_perf_output import chmod_target  # noqa: F401  (a fixture: a file of the test's own to chmod)

SCRIPTS = sorted(str(p.relative_to(LESSONS)) for p in LESSONS.glob("[0-9][0-9][0-9]_*/*.py")
                 if p.name == p.parent.name.split("_", 1)[1] + ".py")   # 012_stacks/stacks.py: not plumbing.py,
                                                                        # not exercise starters, not helpers
CJK = re.compile(r"[\u4e00-\u9fff]")


def converted_text(script):
    """The notebook `make notebooks` writes for lessons/<script>, as JSON text (the harness converts each lesson
    once per process)."""
    with tempfile.TemporaryDirectory() as directory:
        return lesson_notebook(script, directory).read_text()


def converted(script):
    require(notebook_tools_missing() is None, notebook_tools_missing())
    return nbformat.reads(converted_text(script), as_version=4)


# ---------------------------------------------------------------- the notebooks as files
@pytest.mark.parametrize("script", SCRIPTS)
def test_round_trip_script_notebook_script_is_lossless(script):
    """script -> .ipynb (as make notebooks writes it) -> script gives back the script byte for byte."""
    nb = converted(script)
    assert nb.metadata["kernelspec"] == NOTEBOOK_METADATA["kernelspec"]
    assert jupytext.writes(nb, fmt="py:percent") == (LESSONS / script).read_text()


@pytest.mark.parametrize("script", SCRIPTS)
def test_notebook_follows_the_convention(script):
    nb = converted(script)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and params[0].cell_type == "code", "one code cell tagged parameters"
    assert re.fullmatch(r"NOTEBOOK_ARGS = \[.*\]", params[0].source.strip()), params[0].source
    notebook_args = eval(params[0].source.split("=", 1)[1])   # noqa: S307 - a list literal of our own
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    parses = [i for i, src in enumerate(code) if re.search(r"\bparse(_args)?\(", src)]
    assert len(parses) == 1 and code.index(params[0].source) < parses[0]
    if script != "000_doctor/doctor.py":      # the doctor ends by itself; every tracing lesson needs a bound
        assert "NOTEBOOK_ARGS)" in code[parses[0]] and "plumbing.parse(" in code[parses[0]]
        assert "--duration" in notebook_args, "Run All must end: NOTEBOOK_ARGS needs --duration"
        assert "plumbing.run(" in code[-1], "the reading cell (last) runs and detaches: plumbing.run()"
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            assert CJK.search(cell.source), "a markdown cell without its Chinese line:\n" + cell.source


# ---------------------------------------------------------------- the notebooks executed, with the test's events
def test_000_doctor(notebook):
    """The doctor's --json report, from a notebook: the kernel tries every probe kind, then detaches them all."""
    run = notebook("000_doctor/doctor.py", "--json", ready=False)
    run.finish(60 * TIME_SCALE)
    run.assert_clean_exit()
    report = json.loads("\n".join(run.lines))
    assert report["ok"] is True
    verdict = {v["lesson"]: v for v in report["lessons"]}
    assert verdict["001_hello"]["probe"] == expected_auto_probe()
    assert sorted(verdict) == sorted(p.name for p in LESSONS.iterdir() if p.is_dir() and p.name[:3].isdigit()
                                     and p.name != "000_doctor")
    assert (report["checks"]["kprobes"]["status"] == "ok") == CAPS.kprobes
    assert report["checks"]["tracepoints"]["status"] == "ok" and report["checks"]["perf_buffer"]["status"] == "ok"


def test_001_hello(notebook):
    from test_001_hello import LESSON, check_hello_per_fork
    run = notebook(LESSON, fresh_trace_buffer=True)     # its own NOTEBOOK_ARGS
    assert run.attached()[0] == expected_auto_probe()
    check_hello_per_fork(run)


# The script tests' own test functions, given the notebook fixture where they take the lesson fixture: they
# start the lesson with the same arguments (as NOTEBOOK_ARGS), cause the same events, assert the same values.
def test_002_program_format(notebook):
    from test_002_program_format import test_auto_attaches_explicitly_and_parses_fields as script_test
    script_test(notebook, record_property=lambda *a: None)


def test_003_do_sys_open(notebook):
    from test_003_do_sys_open import test_auto_attaches_the_expected_probe_and_shows_our_opens as script_test
    script_test(notebook, record_property=lambda *a: None)


def test_004_pid_comm(notebook):
    from test_004_pid_comm import test_auto_attaches_the_expected_probe as script_test
    script_test(notebook, record_property=lambda *a: None)


def test_005_perf_output(notebook, chmod_target):
    from test_005_perf_output import test_each_output_delivers_our_events as script_test
    script_test(notebook, record_property=lambda *a: None, chmod_target=chmod_target, output="perf")


def test_006_bpf_hash(notebook):
    from test_006_bpf_hash import test_auto_timing_prints_the_intervals_the_test_made as script_test
    script_test(notebook, record_property=lambda *a: None)


def test_007_exec(notebook, tmp_path):
    from test_007_exec import test_exec_of_a_unique_program_shows_its_pid_comm_and_filename as script_test
    script_test(notebook, tmp_path)


def test_008_execve(notebook, tmp_path):
    from test_008_execve import test_auto_reports_pid_ppid_comm_filename_argv as script_test
    script_test(notebook, record_property=lambda *a: None, tmp_path=tmp_path)


def test_009_latency(notebook):
    from test_009_latency import test_auto_pairs_entry_and_return_and_counts_the_test_reads as script_test
    script_test(notebook, record_property=lambda *a: None)


def test_010_uprobes(notebook):
    from test_010_uprobes import test_every_call_with_its_name_and_value as script_test
    script_test(notebook)


def test_011_usdt(notebook):
    """In a notebook too the semaphore comes down at the end of the last cell: the kernel, alive, keeps no USDT."""
    from test_011_usdt import test_pid_every_tick_and_report_with_their_values as script_test
    script_test(notebook)


def test_012_stacks(notebook, tmp_path):
    from test_012_stacks import test_count_names_the_callers_and_the_system_call_path as script_test
    script_test(notebook, tmp_path)


# ---------------------------------------------------------------- Run All, as an instructor does
def notebook_args(script):
    """The lesson's own NOTEBOOK_ARGS, with --duration shortened to half a second."""
    nb = converted(script)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    args = eval(cell.source.split("=", 1)[1])   # noqa: S307 - a list literal of our own
    return [("0.5" if prev == "--duration" else a) for prev, a in zip([None] + args, args)]


@pytest.mark.parametrize("script", SCRIPTS)
def test_run_all_ends_by_itself_and_leaves_nothing_behind(notebook, script):
    """The lesson with its own NOTEBOOK_ARGS (--duration 0.5): all cells run, the last one ends by itself, no
    error, and the kernel, still alive, holds no BPF program, map, perf event or trace_pipe. One lesson per test,
    so that each runs in its lesson's group (conftest.py, kernel_group): those that read trace_pipe one after
    another (since Linux 6.5, and in the 5.10 and 6.1 stable series, one process at a time may open it)."""
    run = notebook(script, *notebook_args(script), ready=False)
    run.finish(60 * TIME_SCALE)
    run.assert_clean_exit()
    assert script == "000_doctor/doctor.py" or any(map(READY.match, run.lines)), run.transcript()


def test_an_error_exit_is_one_line_and_stops_run_all(notebook):
    """A bad argument in NOTEBOOK_ARGS: argparse's one line, IPython shows SystemExit, no traceback of ours, and
    "Run All" stops at that cell. The name is checked before anything is loaded, so nothing is left behind;
    maps of a program loaded before a later error would stay until the kernel restarts (README: Notebooks)."""
    run = notebook("006_bpf_hash/bpf_hash.py", "--syscall", "no_such_call", "--probe", "tracepoint", ready=False)
    run.finish(60 * TIME_SCALE)
    assert run.returncode == 1, run.transcript()
    assert any(line.endswith("error: argument --syscall: not a system call of this kernel and architecture: "
                             "'no_such_call'") for line in run.err_lines), run.transcript()
    assert not any("Traceback" in line for line in run.err_lines + run.lines), run.transcript()
    assert not any(map(READY.match, run.lines)), "cells after the error ran"
    assert run.leftovers == [], run.leftovers


def test_a_busy_trace_pipe_stops_run_all_with_nothing_left(notebook):
    """Lesson 003 cannot open trace_pipe (another reader holds it): one line, and it detaches its probes before
    stopping, so the kernel, alive after the error, holds nothing."""
    with hold_trace_pipe() as exclusive:
        run = notebook("003_do_sys_open/do_sys_open.py", ready=False)
        run.finish(60 * TIME_SCALE)
    if not exclusive:
        pytest.skip("this kernel lets several readers open trace_pipe")
    assert run.returncode == 1, run.transcript()
    assert any(re.match(r"^SystemExit: error: cannot open \S+/trace_pipe: Device or resource busy", line)
               for line in run.err_lines), run.transcript()
    assert run.leftovers == [], run.leftovers
