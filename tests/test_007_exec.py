"""Lesson 007: sched:sched_process_exec. The test execs uniquely named programs; their lines carry the pid,
comm and filename the test knows. A failed exec is not a completed exec: no line."""
import os
import re
import subprocess

from harness import EVENT_TIMEOUT, STOP_TIMEOUT, exec_from_parent, unique_program

LESSON = "007_exec/exec.py"
ROW = re.compile(r"^\d\d:\d\d:\d\d\s+(?P<pid>\d+)\s+(?P<comm>\S+)\s+(?P<filename>.*)$")


def rows_for(run, filename):
    return [m for m in map(ROW.match, run.lines) if m and m.group("filename") == filename]


def test_exec_of_a_unique_program_shows_its_pid_comm_and_filename(lesson, tmp_path):
    run = lesson(LESSON)
    assert run.attached() == ("tracepoint", "sched:sched_process_exec")
    path = unique_program(tmp_path, "t007_")
    child = subprocess.Popen([path])
    child.wait(EVENT_TIMEOUT)
    m = run.wait_for(lambda: rows_for(run, path), what="a line for %s" % path)[0]
    run.stop()
    run.assert_clean_exit()
    assert (int(m.group("pid")), m.group("comm")) == (child.pid, os.path.basename(path)), run.transcript()
    assert len(rows_for(run, path)) == 1, run.transcript()


def test_a_failed_exec_is_not_shown(lesson, tmp_path):
    """The tracepoint fires when an exec has succeeded: a missing file gives no line. A later exec of a
    unique program tells the test that the lesson has seen everything before it."""
    run = lesson(LESSON)
    missing, sentinel = str(tmp_path / "t007_missing"), unique_program(tmp_path, "t007s")
    parent, results = exec_from_parent([(missing, ["t007_missing"]), (sentinel, ["t007s"])], comm="t007parent")
    assert results[0] == -2 and results[1] > 0, results     # ENOENT, then a child pid
    m = run.wait_for(lambda: rows_for(run, sentinel), what="a line for %s" % sentinel)[0]
    run.stop()
    run.assert_clean_exit()
    assert int(m.group("pid")) == results[1]
    assert not any(missing in line for line in run.lines), run.transcript()


def test_count_stops_after_n_lines(lesson, tmp_path):
    run = lesson(LESSON, "--count", "1")
    path = unique_program(tmp_path, "t007c")
    subprocess.run([path], timeout=EVENT_TIMEOUT, check=True)
    run.finish(EVENT_TIMEOUT + STOP_TIMEOUT)
    run.assert_clean_exit()
    assert len([line for line in run.lines if ROW.match(line)]) == 1, run.transcript()
