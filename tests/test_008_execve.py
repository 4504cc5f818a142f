"""Lesson 008: execve() entry through the perf buffer. A parent process the test started (its pid known,
its comm unique) execs uniquely named programs with unique argv: every field of their lines is checked,
ppid above all, whose offsets come from BTF."""
import os
import re

from harness import (CAPS, PERF_LOST, btf_offsets_by_bpftool, exec_from_parent,
                     unique_program)

LESSON = "008_execve/execve.py"
ROW = re.compile(r"^(?P<comm>\S+)\s+(?P<pid>\d+)\s+(?P<ppid>\d+)\s+(?P<filename>\S+)(?: (?P<args>.*))?$")


def rows_for(run, filename):
    return [m for m in map(ROW.match, run.lines) if m and m.group("filename") == filename]


def check_pid_ppid_comm_filename_argv(run, tmp_path):
    """Two programs, then a missing file: each execve() call is one line with the values the test caused."""
    progs = [unique_program(tmp_path, "t008_") for _ in range(2)]
    missing = str(tmp_path / "t008_missing")
    runs = [(progs[0], ["first", "--alpha", "1"]), (progs[1], ["second", "beta"]), (missing, ["gone", "x"])]
    parent, results = exec_from_parent(runs, comm="t008parent")
    assert results[2] == -2, results          # ENOENT: the exec failed, the call was made
    run.wait_for(lambda: all(rows_for(run, path) for path, _ in runs), what="lines for the 3 execve() calls")
    run.stop()
    run.assert_clean_exit()
    for (path, argv), pid in zip(runs, results):
        rows = rows_for(run, path)
        assert len(rows) == 1, run.transcript()
        m = rows[0]
        assert m.group("comm") == "t008parent", run.transcript()     # the caller: exec has not happened yet
        assert int(m.group("ppid")) == parent, ("ppid", run.transcript())
        assert m.group("args") == " ".join(argv), run.transcript()
        if pid > 0:
            assert int(m.group("pid")) == pid, run.transcript()
        else:
            assert int(m.group("pid")) not in (parent, 0), run.transcript()
    # Every row the test caused is there, exactly once. The lost count is any process's (the lesson sends every
    # execve on the machine, and other tests' exec storms run beside this one): counted and shown, not ours to fix.
    assert any(map(PERF_LOST.match, run.lines)), run.transcript()


def check_offsets_line(run):
    """With BTF the lesson says it took the offsets from there, and they are bpftool's (when installed)."""
    line = next(line for line in run.lines if line.startswith("ppid: "))
    if not CAPS.btf:
        assert "from the kernel headers" in line, line
        return
    m = re.match(r"^ppid: task_struct.real_parent at byte (\d+), .tgid at byte (\d+), from BTF$", line)
    assert m, line
    expected = btf_offsets_by_bpftool("task_struct", ["real_parent", "tgid"])
    if expected:
        assert (int(m.group(1)), int(m.group(2))) == (expected["real_parent"], expected["tgid"]), line


def test_auto_reports_pid_ppid_comm_filename_argv(lesson, record_property, tmp_path):
    run = lesson(LESSON, "--probe", "auto")
    kind, target = run.auto_probe(record_property)
    assert target == "syscalls:sys_enter_execve" if kind == "tracepoint" else target.endswith("sys_execve"), target
    check_offsets_line(run)
    check_pid_ppid_comm_filename_argv(run, tmp_path)


def test_forced_tracepoint(lesson, tmp_path):
    run = lesson(LESSON, "--probe", "tracepoint")
    assert run.attached() == ("tracepoint", "syscalls:sys_enter_execve")
    check_pid_ppid_comm_filename_argv(run, tmp_path)



def test_offsets_from_headers(lesson, tmp_path):
    """--offsets headers: the lesson says so. Where the headers are this kernel's, ppid is right with them too;
    elsewhere (this host: 6.1 headers, 6.18 kernel) ppid is not trusted, the other fields still are."""
    run = lesson(LESSON, "--offsets", "headers")
    assert any(line.startswith("ppid: task_struct layout from the kernel headers") for line in run.lines)
    prog = unique_program(tmp_path, "t008h")
    parent, (pid,) = exec_from_parent([(prog, ["t008h", "headers"])], comm="t008hparent")
    m = run.wait_for(lambda: rows_for(run, prog), what="a line for %s" % prog)[0]
    run.stop()
    run.assert_clean_exit()
    assert (int(m.group("pid")), m.group("comm"), m.group("args")) == (pid, "t008hparent", "t008h headers")
    if CAPS.headers_match:
        assert int(m.group("ppid")) == parent, run.transcript()


def test_awkward_argv_is_quoted_and_marked_when_cut(lesson, tmp_path):
    """One execve() with an argument holding a space, one longer than the lesson's 48-byte slot, and more
    arguments than the 5 it reads: still exactly one line. (Newlines, escape sequences, tabs and bytes that are
    not UTF-8 in argv and file names: tests/test_robustness.py.)"""
    run = lesson(LESSON)
    prog = unique_program(tmp_path, "t008a")
    argv = ["t008a", "a b", "c" * 60, "four", "five", "six", "seven"]
    parent, (pid,) = exec_from_parent([(prog, argv)], comm="t008aparent")
    m = run.wait_for(lambda: rows_for(run, prog), what="a line for %s" % prog)[0]
    run.stop()
    run.assert_clean_exit()
    assert m.group("args") == "t008a 'a b' %s... four five ..." % ("c" * 47), run.transcript()
    assert len(rows_for(run, prog)) == 1, run.transcript()


def test_a_string_that_just_fits_is_whole_and_one_byte_longer_is_cut(lesson, tmp_path):
    """bpf_probe_read_user_str() returns the buffer's size for a string that just fits and for a longer one it cut;
    the lesson reads into buffers one byte longer than it shows. A 127-byte file name and a 47-byte argument are
    shown whole and not marked; a 128-byte name and a 48-byte argument are shown to 127 and 47 bytes, marked."""
    prog = unique_program(tmp_path, "t008f")

    def named(length):   # a link to prog whose path is `length` bytes long
        path = os.path.join(str(tmp_path), "t008f_")
        path += "n" * (length - len(path))
        os.symlink(prog, path)
        return path
    fits, longer = named(127), named(128)
    run = lesson(LESSON)
    exec_from_parent([(fits, ["t008f", "d" * 47]), (longer, ["t008f", "e" * 48])], comm="t008fparent")
    run.wait_for(lambda: rows_for(run, fits) and rows_for(run, longer[:127] + "..."), what="lines for both execve() calls")
    run.stop()
    run.assert_clean_exit()
    assert [m.group("args") for m in rows_for(run, fits)] == ["t008f " + "d" * 47], run.transcript()
    assert [m.group("args") for m in rows_for(run, longer[:127] + "...")] == ["t008f %s..." % ("e" * 47)], run.transcript()
