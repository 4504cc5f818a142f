"""Lesson 012: stacks. The demo (lessons/012_stacks/demo.c, built by demo.py) is a process of the test: main -> outer
-> inner makes a random number of getppid() calls when told to, or main -> outer -> spin burns CPU. The counting
mode must show exactly that many calls for the demo's pid, with inner, outer and main in the user stack and the
system call's entry in the kernel stack; built without frame pointers, outer and main are gone. The profile mode's
folded file and flame graph hold the demo's busy function. The flame graph renderer is tested on its own, without
BPF, on a small input with exact widths."""
import os
import random
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

from harness import EVENT_TIMEOUT, LESSONS, STOP_TIMEOUT

LESSON = "012_stacks/stacks.py"
sys.path.insert(0, str(LESSONS / "012_stacks"))
import demo  # noqa: E402  (builds demo.c)
import flamegraph  # noqa: E402

HEAD = re.compile(r"^\s*(?P<count>\d+) (?P<comm>\S.*) \((?P<pid>\d+)\)$")
SUMMARY = re.compile(r"^events: (?P<events>\d+); stacks not stored: kernel (?P<kernel>\d+), user (?P<user>\d+)$")
SYSCALL_ENTRY = {"do_syscall_64_[k]", "do_el0_svc_[k]", "el0t_64_sync_handler_[k]"}   # x86-64; arm64 (el0_svc may be inlined)
SVG = "{http://www.w3.org/2000/svg}"
DISPATCHER = re.compile(r"^__traceiter_\w+_\[k\]$")


def blocks(run, pid):
    """[(count, comm, [frames, innermost first])] the lesson printed for `pid`, merged()."""
    printed, current = [], None
    for line in run.lines:
        m = HEAD.match(line)
        if m:
            current = (int(m.group("count")), m.group("comm"), []) if int(m.group("pid")) == pid else None
            if current:
                printed.append(current)
        elif current and line.startswith("        "):
            current[2].append(line.strip())
        else:
            current = None
    return [(count, comm, frames) for (comm, *frames), count in merged(([comm] + f, c) for c, comm, f in printed)]


def merged(stacks):
    """[(frames, count)] without the tracepoint's dispatcher, the stacks that are then equal added up, first seen
    first. A tracepoint with one tracer calls it directly; with two or more (another program on sys_enter too, as
    lesson 000's raw tracepoint while make test runs) it calls them through __traceiter_sys_enter
    (kernel/tracepoint.c, tracepoint_update_call, since 5.10): the same calls, one more kernel frame, two stacks."""
    out = {}
    for frames, count in stacks:
        key = tuple(f for f in frames if not DISPATCHER.match(f))
        out[key] = out.get(key, 0) + count
    return [(list(frames), count) for frames, count in out.items()]


def attached(run):
    return [line.split(" ", 1)[1] for line in run.lines if line.startswith("attached: ")]


def online_cpus():
    """How many CPUs /sys/devices/system/cpu/online lists ("0-1,4"): bcc attaches a perf event on each."""
    with open("/sys/devices/system/cpu/online") as f:
        spans = [part.split("-") for part in f.read().strip().split(",")]
    return sum(int(s[-1]) - int(s[0]) + 1 for s in spans)


class Demo:
    """The demo, started by the test: `calls N` (each call() makes N getppid() calls) or `spin SECONDS`."""

    def __init__(self, *args, frame_pointer=True):
        self.proc = subprocess.Popen([demo.build(frame_pointer), *map(str, args)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.pid = int(self.proc.stdout.readline())
        self.comm = os.path.basename(demo.build(frame_pointer))

    def call(self):
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline() == "done\n"   # every call has been made

    def close(self):
        self.proc.kill()
        self.proc.wait(STOP_TIMEOUT)


def test_count_names_the_callers_and_the_system_call_path(lesson, tmp_path):
    """N getppid() calls by the demo, under --pid: one stack, count N, user frames inner, outer, main (innermost
    first), the kernel's syscall entry under them; the folded file has the same stack, outermost first."""
    n, rounds = random.randint(3, 30), random.randint(1, 3)
    d = Demo("calls", n)
    try:
        run = lesson(LESSON, "--pid", d.pid, "--folded", tmp_path / "out.folded")
        assert attached(run) == ["tracepoint raw_syscalls:sys_enter"], run.transcript()
        for _ in range(rounds):
            d.call()
        run.stop()       # while the demo runs: bcc reads its symbols through /proc/PID
    finally:
        d.close()
    run.assert_clean_exit()
    found = blocks(run, d.pid)
    assert len(found) == 1, run.transcript()
    [(count, comm, frames)] = found
    assert (count, comm) == (n * rounds, d.comm), run.transcript()
    user = [f for f in frames if not f.endswith("_[k]")]
    kernel = [f for f in frames if f.endswith("_[k]")]
    assert user[:3] == ["inner", "outer", "main"], run.transcript()
    assert frames.index("inner") == len(kernel) and SYSCALL_ENTRY & set(kernel), run.transcript()
    assert SUMMARY.match(run.lines[-1]).groups() == (str(n * rounds), "0", "0"), run.transcript()
    folded = flamegraph.read((tmp_path / "out.folded").read_text().splitlines())
    assert merged(folded) == [([d.comm] + frames[::-1], n * rounds)], (folded, run.transcript())


def test_without_frame_pointers_the_user_stack_is_cut_short(lesson):
    """The same demo built with -fomit-frame-pointer: the walk finds inner (the instruction pointer itself) and
    then no frame of outer or main."""
    n = random.randint(3, 30)
    d = Demo("calls", n, frame_pointer=False)
    try:
        run = lesson(LESSON, "--pid", d.pid)
        d.call()
        run.stop()
    finally:
        d.close()
    run.assert_clean_exit()
    found = blocks(run, d.pid)
    assert len(found) == 1, run.transcript()
    [(count, _, frames)] = found
    user = [f for f in frames if not f.endswith("_[k]")]
    assert count == n and user[0] == "inner" and not {"outer", "main"} & set(user), run.transcript()


def test_profile_samples_the_busy_function(lesson, tmp_path):
    """--mode profile on a spinning demo: a cpu-clock perf event on each CPU; the folded file's stacks of the demo
    end in main;outer;spin, and the flame graph names spin."""
    d = Demo("spin", 600)
    try:
        run = lesson(LESSON, "--mode", "profile", "--pid", d.pid, "--duration", "2",
                     "--folded", tmp_path / "p.folded", "--svg", tmp_path / "p.svg")
        assert attached(run) == ["perf_event software cpu-clock on %d CPUs" % online_cpus()], run.transcript()
        run.finish(2 + EVENT_TIMEOUT)
    finally:
        d.close()
    run.assert_clean_exit()
    stacks = flamegraph.read((tmp_path / "p.folded").read_text().splitlines())
    spinning = sum(c for frames, c in stacks if frames[0] == d.comm and frames[-3:] == ["main", "outer", "spin"])
    assert spinning >= 10, (stacks, run.transcript())      # ~99 a second while it runs
    svg = ET.parse(tmp_path / "p.svg").getroot()
    assert "spin" in [t.text for t in svg.iter(SVG + "text")], run.transcript()



# ---------------------------------------------------------------- no BPF
def test_the_flame_graph_has_a_box_per_frame_with_exact_widths():
    """a;b;c 3, a;b 1, a;d 4: a is the whole width, b and d half each, c 3/8; the outermost frame at the bottom,
    children sorted by name from the left; every name in a title and (where it fits) a text."""
    svg = ET.fromstring(flamegraph.render(flamegraph.read(["a;b;c 3", "a;b 1", "", "a;d_[k] 4"]), "t <&>"))
    inner = flamegraph.WIDTH - 2 * flamegraph.PAD
    boxes = {g.find(SVG + "title").text.split(":")[0]: g.find(SVG + "rect").attrib for g in svg.iter(SVG + "g")}
    assert sorted(boxes) == ["a", "b", "c", "d_[k]"]
    widths = {name: float(r["width"]) for name, r in boxes.items()}
    assert widths == {"a": inner, "b": inner / 2, "c": inner * 3 / 8, "d_[k]": inner / 2}
    xs = {name: float(r["x"]) for name, r in boxes.items()}
    assert xs == {"a": flamegraph.PAD, "b": flamegraph.PAD, "c": flamegraph.PAD, "d_[k]": flamegraph.PAD + inner / 2}
    ys = {name: int(r["y"]) for name, r in boxes.items()}
    assert ys["a"] > ys["b"] == ys["d_[k]"] > ys["c"]
    assert {"a", "b", "c", "d_[k]"} <= {t.text for t in svg.iter(SVG + "text")}
    assert "t <&> (8 samples)" in [t.text for t in svg.iter(SVG + "text")]


def test_flamegraph_py_says_what_is_wrong_with_its_input(tmp_path):
    bad = tmp_path / "bad.folded"
    bad.write_text("a;b 3\na;b three\n")
    run = subprocess.run([sys.executable, str(LESSONS / "012_stacks/flamegraph.py"), str(bad)], capture_output=True,
                         text=True, timeout=30)
    assert run.returncode == 1 and run.stdout == "", run
    assert run.stderr.splitlines() == ["error: %s: line 2 is not 'frame;frame;... COUNT': 'a;b three'" % bad], run


def test_a_missing_compiler_is_one_error_line(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"), CC="cc")
    run = subprocess.run([sys.executable, str(LESSONS / "012_stacks/demo.py"), "calls", "1"], capture_output=True,
                         text=True, env=env, timeout=30)
    assert run.returncode == 1 and run.stdout == "", run
    assert run.stderr.splitlines() == ["error: cannot build %s: no C compiler (cc): sudo make setup, or: sudo apt "
                                       "install gcc libc6-dev systemtap-sdt-dev" % (LESSONS / "012_stacks/demo.c")], run
