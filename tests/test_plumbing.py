"""lessons/plumbing.py, the part every lesson shares: its pure functions, tested without root and without loading
anything into the kernel. (What it does with a real kernel, every lesson's own tests and tests/test_robustness.py
check through the lessons.)"""
import argparse
import ctypes
import os
import signal
import struct
import subprocess
import sys
import threading

import pytest

from harness import LESSONS, ROOT, btf_offsets_by_bpftool
from conftest import require

sys.path.insert(0, str(LESSONS))
import plumbing  # noqa: E402  (imports bcc: the test machine has it)


@pytest.mark.parametrize("kind, text, value", [(float, "2.5", 2.5), (int, "7", 7), (float, "1e-3", 0.001)])
def test_positive_accepts(kind, text, value):
    assert plumbing.positive(kind)(text) == value


@pytest.mark.parametrize("kind, text", [(float, "0"), (float, "-1"), (float, "nan"), (float, "inf"), (float, "1e9"),
                                        (int, "0"), (int, "-5")])
def test_positive_rejects(kind, text):
    with pytest.raises(argparse.ArgumentTypeError):
        plumbing.positive(kind)(text)


def test_positive_leaves_what_is_not_a_number_to_argparse():
    with pytest.raises(ValueError):            # argparse turns it into "invalid int value: '1.5'"
        plumbing.positive(int)("1.5")


def test_parser_has_the_common_options():
    p = plumbing.parser("x", probes=("kprobe", "tracepoint", "raw_tracepoint"))
    args = p.parse_args(["--probe", "raw_tracepoint", "--duration", "3", "--count", "2"])
    assert (args.probe, args.duration, args.count) == ("raw_tracepoint", 3.0, 2)
    assert p.parse_args([]).probe == "auto"
    bare = plumbing.parser("x", probes=(), count=False).parse_args([])
    assert not hasattr(bare, "probe") and not hasattr(bare, "count")


@pytest.mark.parametrize("raw, cut, shown", [
    (b"plain/path", False, "plain/path"),
    (b"nl\n4242-FORGED", False, "nl\\n4242-FORGED"),
    (b"esc\x1b[31mred", False, "esc\\x1b[31mred"),
    (b"tab\tx", False, "tab\\tx"),
    (b"bad\xff\xfe", False, "bad\\xff\\xfe"),
    (b"back\\slash", False, "back\\\\slash"),
    ("\u4e2d\u6587", False, "\u4e2d\u6587"),          # printable text stays as it is, in any script
    (b"cut", True, "cut..."),
])
def test_printable_escapes_and_marks(raw, cut, shown):
    assert plumbing.printable(raw, cut) == shown


def test_string_marks_a_cut_and_shows_an_error():
    assert plumbing.string(b"/etc/hostname", 14, 256) == "/etc/hostname"          # 13 bytes + NUL: whole
    assert plumbing.string(b"x" * 254, 255, 256) == "x" * 254                      # 254 bytes: whole, not cut
    assert plumbing.string(b"x" * 255, 256, 256) == "x" * 254 + "..."              # 255 or more: filled the buffer
    assert plumbing.string(b"abc", 4, 5) == "abc" and plumbing.string(b"abcd", 5, 5) == "abc..."
    assert plumbing.string(b"x" * 63, 100, 256) == "x" * 63 + "..."                # fewer bytes arrived (< 5.13)
    assert plumbing.string(b"", -14, 256) == "[cannot read it: error -14]"         # -EFAULT


def test_ours_keeps_this_runs_lines_and_counts_the_others():
    program = plumbing.marked('bpf_trace_printk("MARK %d %s", x, s);')
    assert plumbing.MARK in program and "MARK %d" not in program and plumbing.others == 0
    mark = plumbing.MARK.encode()
    assert plumbing.ours(mark + b" 1ff 20 /a path/with spaces", 3) == [b"1ff", b"20", b"/a path/with spaces"]
    assert plumbing.ours(mark + b" 8000 -14", 3) == [b"8000", b"-14", b""]           # an empty string at the end
    assert plumbing.ours(b"lesson-0badc0de 1ff 20 /a", 3) is None                     # another run's line
    assert plumbing.ours(b"Hello, World!", 3) is None
    assert plumbing.ours("Unknown", 3) is None                                        # bcc's answer for odd lines
    assert plumbing.others == 3


def test_syscalls_from_tracepoints_or_the_architecture(tmp_path):
    events = tmp_path / "events" / "syscalls"
    for name in ("openat", "fchmodat"):
        (events / ("sys_enter_" + name)).mkdir(parents=True)
    assert plumbing.syscalls("open", "openat", "chmod", "fchmodat", tracefs=str(tmp_path)) == ["openat", "fchmodat"]
    no_tracefs = str(tmp_path / "absent")     # no syscalls tracepoints: the architecture decides
    assert plumbing.syscalls("open", "openat", "chmod", machine="aarch64", tracefs=no_tracefs) == ["openat"]
    assert plumbing.syscalls("open", "openat", "chmod", machine="x86_64", tracefs=no_tracefs) == ["open", "openat", "chmod"]


@pytest.mark.parametrize("text", ["../../x", "sync\n\x1bred", "a" * 65, "no such"])
def test_syscall_name_rejects_what_is_no_name(text):
    with pytest.raises(argparse.ArgumentTypeError):
        plumbing.syscall_name(text)


def test_process_id_accepts_a_running_process_only():
    assert plumbing.process_id("1") == 1 and plumbing.process_id(str(os.getpid())) == os.getpid()
    for text in ("0", "-1", "abc", "1e3", " 1", str(1 << 22), "99999999999"):
        with pytest.raises(argparse.ArgumentTypeError):
            plumbing.process_id(text)
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)                      # reaped: its pid is free (and not reused this soon)
    with pytest.raises(argparse.ArgumentTypeError, match="no process with pid %d" % pid):
        plumbing.process_id(str(pid))


def test_output_file_accepts_a_file_in_a_writable_folder_only(tmp_path):
    assert plumbing.output_file(str(tmp_path / "out.folded")) == str(tmp_path / "out.folded")
    for text in ("/nonexistent/x.folded", str(tmp_path), "/proc"):
        with pytest.raises(argparse.ArgumentTypeError, match="cannot write a file there"):
            plumbing.output_file(text)


class FakeBPF:
    """What attached() and detach_all() read of a bcc BPF object: bcc records every attachment in these dicts."""
    def __init__(self):
        self.kprobe_fds = {b"p___x64_sys_chmod": 3, b"r_do_sys_openat2": 4}
        self.tracepoint_fds = {b"syscalls:sys_enter_openat": 5, b"sched:sched_process_exit": 6}
        self.raw_tracepoint_fds = {b"sys_enter": 7}
        self.uprobe_fds = {b"p__lib_x86_64_linux_gnu_libc_so_6_0x3f0b0": 8, b"r__lib_libc_so_6_0x3f0b0_42": 9}
        self.open_perf_events = {(1, 0): {0: 10, 1: 11}}     # attach_perf_event: (type, config) -> {cpu: fd}
        self.detached = []

    def detach_perf_event(self, ev_type, ev_config):
        self.detached.append((ev_type, ev_config))
        del self.open_perf_events[(ev_type, ev_config)]

    def detach_kprobe_event(self, ev):
        self.detached.append(ev)
        del self.kprobe_fds[ev]

    def detach_tracepoint(self, tp):
        raise Exception("already gone")     # one failure does not stop the others from being detached

    def detach_raw_tracepoint(self, tp):
        self.detached.append(tp)
        del self.raw_tracepoint_fds[tp]

    def detach_uprobe_event(self, ev):
        self.detached.append(ev)
        del self.uprobe_fds[ev]


def test_attached_says_what_bcc_recorded_and_detach_all_detaches_it():
    b = FakeBPF()
    assert plumbing.attached(b) == ["kprobe __x64_sys_chmod", "kretprobe do_sys_openat2",
                                    "tracepoint syscalls:sys_enter_openat", "tracepoint sched:sched_process_exit",
                                    "raw_tracepoint sys_enter", "uprobe _lib_x86_64_linux_gnu_libc_so_6_0x3f0b0",
                                    "uretprobe _lib_libc_so_6_0x3f0b0_42", "perf_event software cpu-clock on 2 CPUs"]
    plumbing.detach_all(b)
    assert b.detached == [b"p___x64_sys_chmod", b"r_do_sys_openat2", b"sys_enter",
                          b"p__lib_x86_64_linux_gnu_libc_so_6_0x3f0b0", b"r__lib_libc_so_6_0x3f0b0_42", (1, 0)]
    assert not b.kprobe_fds and not b.uprobe_fds and not b.open_perf_events
    plumbing.detach_all(None)               # nothing built yet: nothing to do


def test_a_second_run_in_one_process_behaves_like_the_first(capsys):
    """A notebook's Run All twice in one kernel: the second run shows its own --count rows and its own losses,
    nothing carried over from the first."""
    class Buffers(FakeBPF):
        perf_buffers = {0: "a perf buffer"}

        def cleanup(self):
            pass
    args = plumbing.parser("x").parse_args(["--count", "2"])

    def read():
        plumbing.lost(3)
        plumbing.show("row")
    for _ in range(2):
        plumbing.run(Buffers(), args, "x", read)
        out = capsys.readouterr().out.splitlines()
        assert out.count("row") == 2 and out[-1] == "lost 6 events in total", out


def test_a_line_and_its_newline_are_one_write(monkeypatch):
    """A trace pipe lesson stops by a KeyboardInterrupt raised from its signal handler, which Python runs between
    two bytecodes: in a notebook sys.stdout is Python code (ipykernel's OutStream), so a Ctrl-C between print()'s
    write of the line and its write of the newline glued the summary to the last row (seen in make test)."""
    writes = []

    class Stream:
        def write(self, text):
            writes.append(text)

        def flush(self):
            pass
    monkeypatch.setattr(sys, "stdout", Stream())
    monkeypatch.setattr(plumbing, "ARGS", None)
    plumbing.show("12 python /etc/passwd")
    assert writes == ["12 python /etc/passwd\n"]


def test_a_stop_before_the_first_read_still_gets_its_printout(capsys):
    """Ctrl-C pressed before run() reaches its first read() (held since parse(), or arriving just after the ready
    line) ends the run after one read(): a lesson that prints in read() at the end of its interval (009's
    histogram) prints what it counted, instead of ending with nothing."""
    class Quiet(FakeBPF):
        perf_buffers = {}

        def cleanup(self):
            pass
    args = plumbing.parser("x").parse_args([])
    reads = []
    old = signal.pthread_sigmask(signal.SIG_BLOCK, plumbing.HOLD)   # as parse() holds it
    try:
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)   # pending on this thread (xdist's workers have
                                                                   # others) until run() lets it through
        plumbing.run(Quiet(), args, "x", lambda: reads.append(plumbing.stopping))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    assert reads == [True], reads             # one read, made after the stop
    assert capsys.readouterr().out.splitlines()[-1] == "Tracing x ... Hit Ctrl-C to end."


def test_raw_bytes_reads_past_the_first_nul():
    class Event(ctypes.Structure):
        _fields_ = [("argc", ctypes.c_uint8), ("args", ctypes.c_char * 8)]
    e = Event.from_buffer_copy(b"\x02ab\0cd\0\0\0")   # as bcc makes an event from the bytes of a record
    assert e.args == b"ab" and plumbing.raw_bytes(e, "args") == b"ab\0cd\0\0\0"


def btf_blob():
    """A BTF file of three types: int; struct inner {int a; int b;}; struct task {int pid; struct inner (anon) at
    byte 8; int tgid at byte 16}: the parser must find b inside the anonymous member, at 8 + 4."""
    names = b"\0int\0inner\0a\0b\0task\0pid\0tgid\0"
    at = {n: names.index(n.encode() + b"\0") for n in ("int", "inner", "a", "b", "task", "pid", "tgid")}
    types = struct.pack("<3I", at["int"], 1 << 24, 4) + struct.pack("<I", 32)             # [1] INT, 32 bits
    types += struct.pack("<3I", at["inner"], 4 << 24 | 2, 8)                              # [2] STRUCT inner
    types += struct.pack("<3I", at["a"], 1, 0) + struct.pack("<3I", at["b"], 1, 32)
    types += struct.pack("<3I", at["task"], 4 << 24 | 3, 20)                              # [3] STRUCT task
    types += struct.pack("<3I", at["pid"], 1, 0) + struct.pack("<3I", 0, 2, 64) + struct.pack("<3I", at["tgid"], 1, 128)
    header = struct.pack("<HBBI4I", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(names))
    return header + types + names


def test_btf_offsets_of_a_small_btf_file(tmp_path):
    path = tmp_path / "vmlinux"
    path.write_bytes(btf_blob())
    assert plumbing.btf_offsets("task", "pid", "tgid", "b", path=str(path)) == {"pid": 0, "tgid": 16, "b": 12}
    with pytest.raises(SystemExit, match="struct task in .* lacks"):
        plumbing.btf_offsets("task", "real_parent", path=str(path))
    with pytest.raises(SystemExit, match="no struct nothing"):
        plumbing.btf_offsets("nothing", "x", path=str(path))
    assert plumbing.btf_offsets("task", "pid", path=str(tmp_path / "absent")) is None


def test_btf_offsets_of_this_kernel_agree_with_bpftool():
    expected = btf_offsets_by_bpftool("task_struct", ["real_parent", "tgid"])
    require(expected is not None, "no bpftool or no BTF here (the small BTF file above still tests the parser)")
    assert plumbing.btf_offsets("task_struct", "real_parent", "tgid") == expected


def test_a_run_started_with_ctrl_c_ignored_still_gives_the_lessons_ctrl_c():
    """`nohup make test &` (or any background job of a script) starts the tests with SIGINT ignored, which exec
    passes on: a lesson would then install no KeyboardInterrupt handler. The harness undoes the ignore, so the
    Python it starts catches SIGINT (SigCgt), as it does from a terminal."""
    code = ("import signal, subprocess, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); sys.path.insert(0, %r); "
            "import harness; harness.let_ctrl_c_reach_children(); "
            "print(subprocess.run([sys.executable, '-c', 'print(open(\"/proc/self/status\").read())'], "
            "stdout=subprocess.PIPE, text=True).stdout)" % str(ROOT / "tests"))
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, timeout=30).stdout
    caught = int(next(line for line in out.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
    assert caught & (1 << (signal.SIGINT - 1)), out
