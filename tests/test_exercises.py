"""The checked exercises (scripts/check.py): the checker reads behaviour, so
- every reference solution (solutions/) passes its check;
- every untouched starter (lessons/NNN_*/ex_*.py) runs, and fails its check with the message it should;
- a second solution written differently (tests/exercises/: other names, structure, probe kind) passes;
- a broken solution fails in one clear line: one that does not compile (every exercise), one that prints
  wrong values (every exercise), one that never prints (one exercise per way of printing), one that filters in
  Python where the task asks for the kernel (004-uid).
A check that must fail waits NEGATIVE_SECONDS, not the checker's full wait: long enough for a right row to have
come (the reference solutions' rows came 0-33 ms after the check's workload on Linux 6.18 with a guest running
beside), so the "not yet" judges what was printed, not a wait cut short. 1 s on the host, 4 s in the emulated
guests (time scale 8)."""
import inspect
import re
import subprocess
import sys

import pytest

from harness import EVENT_TIMEOUT, ROOT, TIME_SCALE
from conftest import require

sys.path.insert(0, str(ROOT / "scripts"))
import check  # noqa: E402

IDS = list(check.EXERCISES)
SECOND = ROOT / "tests" / "exercises"
NEGATIVE_SECONDS = max(1.0, EVENT_TIMEOUT / 20)

# Which checks must wait for the trace buffer's group (conftest.py, kernel_group): those that clear the buffer
# before they start the script (001-004's), and those of a script that prints through it (bpf_trace_printk: then
# it is the trace pipe's one reader). Marked per script, so 005's starter waits and 005's solutions do not.
CLEARS_TRACE_BUFFER = {e.id for e in check.EXERCISES.values() if "trace_pipe=True" in inspect.getsource(e.check)}


def ids_for(script_of, exercises=IDS):
    """The exercise ids to parametrise a test with, each marked trace_buffer where its check needs the group."""
    return [pytest.param(e, marks=[pytest.mark.trace_buffer] if e in CLEARS_TRACE_BUFFER or
                         "bpf_trace_printk" in script_of(e).read_text() else []) for e in exercises]


STARTERS = ids_for(lambda e: check.EXERCISES[e].starter)
SOLUTIONS = ids_for(lambda e: check.EXERCISES[e].solution)   # and the variants made from them
SECONDS = ids_for(lambda e: SECOND / (e + ".py"))

# What an untouched starter's check says first: the task it has not done yet.
STARTER_SAYS = {
    "001-fork": 'not yet: expected a line with "parent=',
    "002-two-hooks": 'not yet: expected rows "',
    "003-result": 'not yet: expected rows "',
    "004-uid": 'not yet: expected rows "PID TID 65534 chmod 0640 ',
    "004-comm": 'not yet: expected rows "PID TID ex4',
    "005-ringbuf": "not yet: expected 20000 opens of ",
    "006-histogram": "not yet: expected at Ctrl-C, a log2 histogram of msecs",
    "006-paths": 'not yet: expected at Ctrl-C, lines "7 ',
    "007-exit": 'not yet: expected rows "',
    "008-failed": 'not yet: expected rows "PID ex8p',
    "009-slow": 'not yet: expected rows "',
    "010-setenv": 'not yet: expected rows "',
    "011-gc": 'not yet: expected rows "',
    "012-callers": 'not yet: expected rows "',
}
# A reference solution made to print wrong values: (what it says, what it says instead).
WRONG = {
    "001-fork": ("args->parent_pid, args->child_pid", "args->child_pid, args->parent_pid"),
    "002-two-hooks": ('bpf_trace_printk("Hello, execve!")', 'bpf_trace_printk("Hello, clone!")'),
    "003-result": ("int(fields[1])", "-int(fields[1])"),
    "004-uid": ('["-DFILTER_UID=%d" % args.uid] if args.uid is not None else []', "[]"),
    "004-comm": ('[\'-DFILTER_COMM="%s"\' % args.comm] if args.comm else []', "[]"),
    "005-ringbuf": ("__sync_fetch_and_add(n, 1)", "__sync_fetch_and_add(n, 2)"),
    "006-histogram": ("(now - *then) / 1000000", "(now - *then) / 1000"),
    "006-paths": ("opens.increment(key)", "opens.increment(key, 2)"),
    "007-exit": ("e.code = args->error_code;", "e.code = args->error_code + 1;"),
    "008-failed": ("if (args->ret < 0)", "if (args->ret <= 0)"),
    "009-slow": ("s.took_ns / 1e6", "s.took_ns / 1e5"),
    "010-setenv": ("c.overwrite = PT_REGS_PARM3(ctx);", "c.overwrite = PT_REGS_PARM2(ctx);"),
    "011-gc": ("c.generation = *generation;", "c.generation = *generation + 1;"),
    "012-callers": ("for a in b[\"walks\"].walk(path.stack)]", "for a in b[\"walks\"].walk(path.stack)][1:]"),
}
# ... made to print the same rows as the reference solution, but filtered in Python where the task asks for the
# kernel: (what it says, what it says instead), applied in turn. The check must tell them apart by behaviour.
IN_PYTHON = {
    "004-uid": [('["-DFILTER_UID=%d" % args.uid] if args.uid is not None else []', "[]"),
                ("        tgid, uid, comm = first.pop(pid)\n",
                 "        tgid, uid, comm = first.pop(pid)\n        if args.uid is not None and int(uid) != args.uid:\n"
                 "            return\n")],
}
# ... made to print nothing: one per way of printing (the trace pipe, a perf buffer, a table at the end).
SILENT = {
    "002-two-hooks": ("plumbing.show(", "(lambda line: None)("),
    "007-exit": ("plumbing.show(", "(lambda line: None)("),
    "006-paths": ("summary=print_counts", "summary=None"),
}


@pytest.fixture
def checker(bpf_ready, monkeypatch):
    def run(exercise, script, negative=False):
        if negative:   # scripts/check.py reads its waits from the harness's constants at import
            monkeypatch.setattr(check, "EVENT_TIMEOUT", NEGATIVE_SECONDS)
        result = check.check(check.EXERCISES[exercise], script)
        assert result.state != "cannot run here", result.lines
        return result
    require(all(e.needs() is None for e in check.EXERCISES.values()),
            "an exercise cannot run here: %s" % [e.needs() for e in check.EXERCISES.values() if e.needs()])
    return run


def variant(tmp_path, exercise, old, new, *more):
    """The reference solution with one change (or more: old, new, old, new, ...); next to it a link to plumbing,
    as solutions/ has."""
    text = check.EXERCISES[exercise].solution.read_text()
    changes = [old, new, *more]
    for old, new in zip(changes[::2], changes[1::2]):
        assert old in text, "%s: %r is not in the reference solution" % (exercise, old)
        text = text.replace(old, new, 1)
    path = tmp_path / (exercise + ".py")
    path.write_text(text)
    return path


def assert_one_clear_verdict(result):
    """Not done, said in one line (then its Chinese twin and the hint), no traceback of the checker."""
    assert result.state in ("not yet", "cannot start"), result.lines
    assert re.match(r"^(not yet: expected .+; saw .+|it did not start \(exit \d+\); its first error lines:)$",
                    result.lines[0]), result.lines
    assert any(line.startswith("hint: ") for line in result.lines), result.lines


def test_the_checker_needs_no_pytest():
    """A learner's machine runs `make check` with the distribution's Python, which need not have pytest: the
    checker imports the harness, never pytest or conftest.py. (pytest made unimportable, then check.py imported.)"""
    code = "import sys; sys.modules['pytest'] = None; sys.path.insert(0, %r); import check; print(len(check.EXERCISES))"
    out = subprocess.run([sys.executable, "-c", code % str(ROOT / "scripts")], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=30 * TIME_SCALE, text=True)
    assert out.returncode == 0 and int(out.stdout) == len(check.EXERCISES), out.stderr


def test_an_interval_near_a_bucket_edge_may_land_on_either_side_and_only_there():
    """006-histogram's check times its gaps in user space and the kernel's timestamps differ by a little (on
    bookworm-6.1 under emulation, a 20 ms gap came out at 16 ms, on a bucket's edge, and the reference solution
    was judged wrong). Near an edge either side is right; mid-bucket, one answer."""
    assert check.near_buckets(16.3) == {8, 16}
    assert check.near_buckets(20.4) == {16}
    assert check.near_buckets(90.2) == {64}
    assert check.near_buckets(365.0) == {256}
    assert check.near_buckets(31.5) == {16, 32}


@pytest.mark.parametrize("exercise", SOLUTIONS)
def test_the_reference_solution_passes(checker, exercise):
    result = checker(exercise, check.EXERCISES[exercise].solution)
    assert result.state == "done", "\n".join(result.lines)   # whole: a list's repr is cut short


@pytest.mark.parametrize("exercise", STARTERS)
def test_the_untouched_starter_runs_and_fails_with_its_message(checker, exercise):
    result = checker(exercise, check.EXERCISES[exercise].starter, negative=True)
    assert result.state == "not yet", result.lines          # it started: a starter runs as it is
    assert not any("Traceback" in line or "ended with exit" in line for line in result.lines), result.lines
    assert result.lines[0].startswith(STARTER_SAYS[exercise]), result.lines
    assert result.lines[1].startswith("还没有：期望"), result.lines
    assert_one_clear_verdict(result)


@pytest.mark.parametrize("exercise", SECONDS)
def test_a_second_solution_written_differently_passes(checker, exercise):
    result = checker(exercise, SECOND / (exercise + ".py"))
    assert result.state == "done", "\n".join(result.lines)   # whole: a list's repr is cut short


@pytest.mark.parametrize("exercise", SOLUTIONS)   # the check of 001-004 empties the trace buffer before the compile
def test_a_solution_that_does_not_compile_shows_the_compiler_error(checker, exercise, tmp_path):
    result = checker(exercise, variant(tmp_path, exercise, "return 0;", "return 0"), negative=True)
    assert result.state == "cannot start", result.lines
    assert any(re.search(r"error: expected ';' after return statement", line) for line in result.lines), result.lines
    assert_one_clear_verdict(result)


@pytest.mark.parametrize("exercise", SOLUTIONS)
def test_a_solution_that_prints_wrong_values_fails(checker, exercise, tmp_path):
    result = checker(exercise, variant(tmp_path, exercise, *WRONG[exercise]), negative=True)
    assert result.state == "not yet", result.lines
    assert_one_clear_verdict(result)


@pytest.mark.parametrize("exercise", ids_for(lambda e: check.EXERCISES[e].solution, list(IN_PYTHON)))
def test_a_solution_that_filters_in_python_fails(checker, exercise, tmp_path):
    """It shows the rows the task asks for, and none of root's, but its BPF program writes root's lines into the
    trace buffer and Python drops them: the check sees those lines while the script is stopped."""
    changes = [part for pair in IN_PYTHON[exercise] for part in pair]
    result = checker(exercise, variant(tmp_path, exercise, *changes), negative=True)
    assert result.state == "not yet", result.lines
    assert "the filter is not in the kernel" in result.lines[0] and "trace buffer held" in result.lines[0], result.lines
    assert_one_clear_verdict(result)


@pytest.mark.parametrize("exercise", ids_for(lambda e: check.EXERCISES[e].solution, list(SILENT)))
def test_a_solution_that_never_prints_fails(checker, exercise, tmp_path):
    result = checker(exercise, variant(tmp_path, exercise, *SILENT[exercise]), negative=True)
    assert result.state == "not yet", result.lines
    assert_one_clear_verdict(result)


def test_every_exercise_has_its_files_and_its_task_in_both_languages():
    for exercise in check.EXERCISES.values():
        assert exercise.starter.exists() and exercise.solution.exists(), exercise.id
        assert (SECOND / (exercise.id + ".py")).exists(), exercise.id
        assert "SPOILER" in exercise.solution.read_text().splitlines()[1], exercise.id
        for name in ("EXERCISES.md", "EXERCISES.zh.md"):
            task = (exercise.starter.parent / name).read_text()
            assert "make check EX=%s" % exercise.id in task and exercise.starter.name in task, (exercise.id, name)
    lessons = {e.starter.parent.name[:3] for e in check.EXERCISES.values()}
    folders = {p.name[:3] for p in (ROOT / "lessons").iterdir() if p.is_dir() and p.name[:3].isdigit()} - {"000"}
    assert lessons == folders and len(check.EXERCISES) >= 10
