#!/usr/bin/env python3
"""Between two groups: leave nothing of the lessons in the kernel, and say what was found and done.

    sudo make clean-machine                 (or: sudo python3 scripts/clean_machine.py [--buffer-kb N])

1. Lesson scripts still running (a script of this repository's lessons/, solutions/ or tests/exercises/): Ctrl-C
   (SIGINT, so they detach as they do at the end of a run), then SIGKILL after a bounded wait.
2. Probe events that bcc made in tracefs for a process that no longer runs (kprobe_events, uprobe_events; bcc
   names them ..._bcc_<pid>): removed. A killed bcc leaves them behind; nothing else does.
   Other processes' events, and events that are not bcc's, are listed and left alone.
3. BPF programs: listed with the processes that hold them (the kernel frees a program with its last holder, so a
   program of the lessons can only stay while a process holds it). Programs not of the lessons (systemd's, ...) are
   counted and left alone.
4. The trace buffer: its stale lines cleared (as `echo > trace` does), tracing_on back to 1, current_tracer to nop,
   and its size per CPU (buffer_size_kb) back to the size at boot: the kernel shows "N (expanded: M)" until the
   buffer is first used, and this script notes M then (in /run, which a reboot clears); else --buffer-kb N, else the
   kernel command line's trace_buf_size=. Where none is known the size is reported, not changed.

Exit status: 0 when nothing of the lessons is left, 1 when something is (each said on its own line), 2 bad usage.
"""
import argparse
import os
import re
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import harness  # noqa: E402  (capabilities and BPF program listing, as the checker uses them)

LESSON_DIRS = [ROOT / "lessons", ROOT / "solutions", ROOT / "tests" / "exercises"]
BOOT_SIZE_FILE = Path("/run/ebpf-lessons/trace-buffer-kb")
BCC_EVENT = re.compile(r"^[pr]:(?P<group>[^/\s]+)/(?P<event>\S*_bcc_(?P<pid>\d+))(?:\s|$)")
STOP_SECONDS = 5 * harness.TIME_SCALE


def say(en, zh):
    print("clean-machine: %s — %s" % (en, zh), flush=True)


def alive(pid):
    """Running, or about to run: not ended, and not a zombie waiting for its parent."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def lesson_processes(lesson_dirs=None):
    """{pid: argv} of the processes running a Python script under the lesson folders (default: this
    repository's lessons/, solutions/ and tests/exercises/)."""
    lesson_dirs = LESSON_DIRS if lesson_dirs is None else lesson_dirs
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        argv = cmdline(int(entry))
        if not argv or "python" not in os.path.basename(argv[0]):
            continue
        try:
            cwd = os.readlink("/proc/%s/cwd" % entry)
        except OSError:
            continue
        for arg in argv[1:]:
            if arg.endswith(".py"):
                path = Path(os.path.normpath(os.path.join(cwd, arg)))
                if any(d == path.parent or d in path.parents for d in lesson_dirs):
                    found[int(entry)] = argv
                break
    return found


def stop_processes(pids):
    """SIGINT, wait (bounded) for them to end, then SIGKILL what is left; returns the pids that were killed."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    killed = [p for p in pids if alive(p)]
    for pid in killed:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return killed


def probe_events(tracefs):
    """[(file, line)] of kprobe_events and uprobe_events."""
    found = []
    for name in ("kprobe_events", "uprobe_events"):
        path = os.path.join(tracefs, name)
        if os.path.exists(path):
            with open(path) as f:
                found += [(name, line.strip()) for line in f if line.strip()]
    return found


def append(path, text):
    """Append to a tracefs control file. Not open(path, "a"): Python then seeks to the end, which kprobe_events and
    uprobe_events refuse (EINVAL, Linux 6.18 here); and never "w", which would remove every event."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def remove_event(tracefs, name, line):
    m = BCC_EVENT.match(line)
    append(os.path.join(tracefs, name), "-:%s/%s\n" % (m.group("group"), m.group("event")))


def program_holders():
    """{prog_id: [pid, ...]} from every process's fdinfo (a BPF program's fd shows prog_id:)."""
    held = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir("/proc/%s/fdinfo" % entry)
        except OSError:
            continue
        for fd in fds:
            try:
                with open("/proc/%s/fdinfo/%s" % (entry, fd)) as f:
                    m = re.search(r"^prog_id:\s*(\d+)", f.read(), re.M)
            except OSError:
                continue
            if m:
                held.setdefault(int(m.group(1)), set()).add(int(entry))
    return held


def read(path):
    with open(path) as f:
        return f.read().strip()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def boot_trace_kb(tracefs, given):
    """(the size per CPU at boot in KiB or None, where that came from)."""
    current = read(os.path.join(tracefs, "buffer_size_kb"))
    m = re.match(r"^\d+ \(expanded: (\d+)\)$", current)
    if m:                                     # not used since boot: note the size it will take
        BOOT_SIZE_FILE.parent.mkdir(parents=True, exist_ok=True)
        BOOT_SIZE_FILE.write_text(m.group(1) + "\n")
        return int(m.group(1)), "the kernel (not expanded yet)"
    if given:
        return given, "--buffer-kb"
    if BOOT_SIZE_FILE.exists():
        return int(BOOT_SIZE_FILE.read_text()), str(BOOT_SIZE_FILE)
    m = re.search(r"(?:^|\s)trace_buf_size=(\d+)([kKmM]?)", read("/proc/cmdline"))
    if m:
        return int(m.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2).lower()] // 1024, "trace_buf_size="
    return None, None


def clean(buffer_kb=None, lesson_dirs=None):
    """Do it all; returns the number of things of the lessons still left."""
    tracefs = harness.CAPS.tracefs
    left = 0

    running = lesson_processes(lesson_dirs)
    if running:
        killed = stop_processes(list(running))
        for pid, argv in sorted(running.items()):
            say("stopped lesson process %d (%s)%s" % (pid, " ".join(argv)[:100], ", killed" if pid in killed else ""),
                "已停止课程进程 %d%s" % (pid, "（强制结束）" if pid in killed else ""))
    else:
        say("no lesson script running", "没有正在运行的课程脚本")

    if not tracefs:
        say("tracefs is not mounted: no probe events or trace buffer to clean (sudo make setup mounts it)",
            "tracefs 没有挂载：没有探针事件和跟踪缓冲区可清理（sudo make setup 会挂载）")
    else:
        removed, kept = 0, 0
        for name, line in probe_events(tracefs):
            m = BCC_EVENT.match(line)
            if m and not alive(int(m.group("pid"))):
                try:
                    remove_event(tracefs, name, line)
                    removed += 1
                    say("removed %s left by process %s, which has ended: %s" % (name, m.group("pid"), line),
                        "已删除已结束进程 %s 留下的 %s 条目" % (m.group("pid"), name))
                except OSError as e:
                    left += 1
                    say("could not remove %s (%s): %s" % (line, e.strerror, name), "无法删除 %s 条目：%s" % (name, line))
            else:
                kept += 1
                owner = "process %s, still running" % m.group("pid") if m else "not made by bcc"
                say("left alone in %s (%s): %s" % (name, owner, line), "保留 %s 里的条目（%s）" % (
                    name, "进程 %s 仍在运行" % m.group("pid") if m else "不是 bcc 创建的"))
        if not removed and not kept:
            say("no probe event in kprobe_events or uprobe_events", "kprobe_events 和 uprobe_events 里没有探针事件")

    ids, how = harness.bpf_program_ids()
    holders = program_holders()
    lessons_now = lesson_processes(lesson_dirs)
    ours = sorted(i for i in ids if holders.get(i, set()) & set(lessons_now))
    if ours:
        left += len(ours)
        say("BPF programs %s are still held by lesson processes %s" % (ours, sorted(lessons_now)),
            "BPF 程序 %s 仍被课程进程 %s 持有" % (ours, sorted(lessons_now)))
    else:
        comms = sorted({(cmdline(p) or ["?"])[0].rsplit("/", 1)[-1] for i in ids for p in holders.get(i, ())})
        say("%d BPF program(s) loaded (%s), none held by a lesson script%s" % (
            len(ids), how, "; their holders: " + ", ".join(comms[:8]) if comms else ""),
            "内核里加载了 %d 个 BPF 程序，没有一个属于课程脚本" % len(ids))

    if tracefs:
        trace = os.path.join(tracefs, "trace")
        with open(trace, errors="replace") as f:
            stale = sum(1 for line in f if not line.startswith("#"))
        write(trace, "")                     # opened for writing with O_TRUNC: the buffer is emptied
        say("trace buffer emptied (%d stale line(s))" % stale, "已清空跟踪缓冲区（%d 行旧内容）" % stale)
        for name, want in (("tracing_on", "1"), ("current_tracer", "nop")):
            path = os.path.join(tracefs, name)
            if os.path.exists(path) and read(path) != want:
                before = read(path)
                write(path, want)
                say("%s was %s, now %s" % (name, before, want), "%s 原来是 %s，已改回 %s" % (name, before, want))
        size_path = os.path.join(tracefs, "buffer_size_kb")
        boot, source = boot_trace_kb(tracefs, buffer_kb)
        now = read(size_path)
        current = int(re.match(r"\d+", now).group(0))
        if "expanded" in now:
            say("trace buffer: %d KiB per CPU, untouched since boot" % current,
                "跟踪缓冲区：每个 CPU %d KiB，开机以来没有动过" % current)
        elif boot is None:
            say("trace buffer: %d KiB per CPU; its size at boot is not known here, left as it is (--buffer-kb N sets it)"
                % current, "跟踪缓冲区：每个 CPU %d KiB；不知道开机时的大小，保持不变（用 --buffer-kb N 设置）" % current)
        elif current == boot:
            say("trace buffer: %d KiB per CPU, as at boot (%s)" % (current, source),
                "跟踪缓冲区：每个 CPU %d KiB，与开机时相同" % current)
        else:
            try:
                write(size_path, str(boot))
                say("trace buffer: %d KiB per CPU, back to %d as at boot (%s)" % (current, boot, source),
                    "跟踪缓冲区：每个 CPU %d KiB，已恢复为开机时的 %d KiB" % (current, boot))
            except OSError as e:
                left += 1
                say("trace buffer: could not set %d KiB per CPU: %s" % (boot, e.strerror),
                    "跟踪缓冲区：无法设为每个 CPU %d KiB" % boot)
    return left


def main(argv=None):
    parser = argparse.ArgumentParser(description="Between two groups: nothing of the lessons left in the kernel.")
    parser.add_argument("--buffer-kb", type=int, metavar="N",
                        help="the trace buffer's size per CPU to restore, in KiB (default: the size at boot, if known)")
    parser.add_argument("--lessons-under", action="append", type=Path, metavar="DIR",
                        help="stop only the lesson scripts under DIR (default: this repository's lessons/, solutions/ "
                             "and tests/exercises/; the tests use it so as to stop only their own)")
    args = parser.parse_args(argv)
    if args.buffer_kb is not None and args.buffer_kb < 1:
        parser.error("--buffer-kb needs a size of at least 1 (KiB per CPU)")
    if os.geteuid() != 0:
        print("error: cleaning the kernel's tracing state needs root: sudo make clean-machine", file=sys.stderr)
        return 1
    left = clean(args.buffer_kb, [d.resolve() for d in args.lessons_under] if args.lessons_under else None)
    if left:
        say("NOT CLEAN: %d thing(s) of the lessons are left (above)" % left, "没有清理干净：还剩 %d 项（见上）" % left)
        return 1
    say("clean: nothing of the lessons is left in the kernel", "已清理干净：内核里没有留下课程的任何东西")
    return 0


if __name__ == "__main__":
    sys.exit(main())
