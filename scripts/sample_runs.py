#!/usr/bin/env python3
"""The sample runs the lesson notes quote: each lesson started as a learner starts it, the commands its note
suggests run in another process, then Ctrl-C. Prints, per run, the command, the workload and what the lesson
printed, so that a note's "Run it" section is a copy of a real run, not an invention.

    sudo python3 scripts/sample_runs.py [LESSON ...]        e.g. 003 005-trace_pipe; default: all

On a stock kernel under QEMU (what the notes show first):
    sudo MATRIX_GUEST_CMD='python3 /repo/scripts/sample_runs.py > /results/sample-runs.txt' \\
        bash scripts/kernel-matrix.sh trixie-6.12
Standard library only; every wait is bounded.
"""
import os
import select
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"
FORK = [PY, "-c", "import os; os.fork() or os._exit(0); os.wait()"]
CHMOD_THREAD = [PY, "-c", "import os, threading; t = threading.Thread(target=os.chmod, args=('/tmp/report.txt', 0o640)); "
                          "t.start(); t.join()"]
# 5 reads of a pipe, each waiting 24 ms (bucket 16384 -> 32767 usecs) for the byte a writer sends after a sleep
PIPE_READS = [PY, "-c", "import os, time\nr, w = os.pipe()\nif os.fork() == 0:\n    for _ in range(5): os.read(r, 1)\n"
                        "    os._exit(0)\nfor _ in range(5): time.sleep(0.024); os.write(w, b'x')\nos.wait()"]
DEMO = os.path.join(ROOT, "lessons", "012_stacks", "demo.py")   # lesson 012's demo: builds demo.c, runs it
# name -> (lesson script, its arguments, the workload: commands run one after another once the lesson is ready)
RUNS = {
    "001": ("001_hello/hello.py", [], [FORK]),
    "002": ("002_program_format/program_format.py", [], [FORK, FORK]),
    "003": ("003_do_sys_open/do_sys_open.py", [], [["cat", "/etc/hostname"], ["cat", "/no/such/file"]]),
    "004": ("004_pid_comm/pid_comm.py", [], [["touch", "/tmp/report.txt"], CHMOD_THREAD, ["chmod", "751", "/tmp/report.txt"]]),
    "005": ("005_perf_output/perf_output.py", [], [CHMOD_THREAD, ["chmod", "751", "/tmp/report.txt"]]),
    "005-trace_pipe": ("005_perf_output/perf_output.py", ["--output", "trace_pipe"], [CHMOD_THREAD]),
    "006": ("006_bpf_hash/bpf_hash.py", [], [["sh", "-c", "sync; sync"]]),
    "006-count": ("006_bpf_hash/bpf_hash.py", ["--mode", "count", "--syscall", "getppid"],
                  [[PY, "-c", "import os\nfor _ in range(5): os.getppid()"]]),
    "007": ("007_exec/exec.py", [], [["sh", "-c", "/bin/echo hello; /no/such/program"]]),
    "008": ("008_execve/execve.py", [], [["sh", "-c", "/bin/echo 'a b' c; /no/such/program x"]]),
    "008-tracepoint": ("008_execve/execve.py", ["--probe", "tracepoint"], [["sh", "-c", "/bin/echo 'a b' c"]]),
    "009": ("009_latency/latency.py", ["--interval", "5"], [PIPE_READS]),
    "010": ("010_uprobes/uprobes.py", [], [[PY, "-I", "-S", "-c", "import ctypes; libc = ctypes.CDLL(None); "
                                           "libc.getenv(b'HOME'); libc.getenv(b'NO_SUCH_VARIABLE')"]]),
    "011": ("011_usdt/usdt.py", [], [["sleep", "3"]]),   # the lesson starts its demo, which ticks once a second
    # 012: --duration ends the run while the demo still runs (bcc names a process's frames through /proc/PID)
    # (the workload runs in the caller's folder: the demo's path is absolute)
    "012": ("012_stacks/stacks.py", ["--duration", "3"], [["sh", "-c", "(echo; sleep 5) | %s %s calls 5" % (PY, DEMO)]]),
    "012-nofp": ("012_stacks/stacks.py", ["--duration", "3"], [["sh", "-c", "(echo; sleep 5) | %s %s --omit-frame-pointer "
                                                                          "calls 5" % (PY, DEMO)]]),
    "012-profile": ("012_stacks/stacks.py", ["--mode", "profile", "--duration", "2", "--folded", "/tmp/profile.folded"],
                    [[PY, DEMO, "spin", "4"]]),
}


# name -> shell commands whose output a note quotes (what a learner types to look at the kernel)
LOOKS = {
    "000": ["/usr/bin/python3 lessons/000_doctor/doctor.py"],
    "003-find": ["grep -wE 'do_sys_openat2|do_sys_open|__x64_sys_openat|__arm64_sys_openat' /proc/kallsyms",
                 "bpftool btf dump file /sys/kernel/btf/vmlinux format raw | grep -B4 \"FUNC 'do_sys_openat2'\""],
    "007-format": ["grep field: /sys/kernel/tracing/events/sched/sched_process_exec/format"],
    "008-offsets": ["bpftool btf dump file /sys/kernel/btf/vmlinux format c | grep -n -m1 -A2 '^struct task_struct {'",
                    "/usr/bin/python3 -c 'import sys; sys.path.insert(0, \"lessons\"); import plumbing; "
                    "print(plumbing.btf_offsets(\"task_struct\", \"real_parent\", \"tgid\"))'"],
    "011-notes": ["D=$(/usr/bin/python3 -c 'import sys; sys.path.insert(0, \"lessons\"); import plumbing; "
                  "print(plumbing.build(\"lessons/011_usdt/demo.c\", \"lessons/011_usdt/report.c\"))'); "
                  "echo $D; readelf -n $D | grep -A4 NT_STAPSDT; tplist-bpfcc -l $D -v",
                  "readelf -n /usr/bin/python3 | grep -E -A3 'Name: (gc__start|function__entry)'"],
}


def look(name, scale):
    print("### %s" % name)
    for command in LOOKS[name]:
        out = subprocess.run(command, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=60 * scale).stdout.decode("utf-8", "replace")
        print("$ %s\n%s" % (command, out.rstrip("\n")))
    print(flush=True)


def read_until(proc, lines, stop, seconds):
    """Collect proc's stdout lines until stop(lines) or the deadline."""
    deadline, partial = time.monotonic() + seconds, b""
    while time.monotonic() < deadline and not stop(lines):
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            data = os.read(proc.stdout.fileno(), 65536)
            if not data:
                break
            *done, partial = (partial + data).split(b"\n")
            lines += [d.decode("utf-8", "replace") for d in done]
    return lines


def sample(name, scale):
    script, args, workload = RUNS[name]
    argv = [PY, os.path.join(ROOT, "lessons", script), *args]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    lines = read_until(proc, [], lambda ls: any("Ctrl-C to end" in line for line in ls), 60 * scale)
    quiet = dict(os.environ, LC_ALL="C")      # no locale files: fewer opens that are not the example's
    for command in workload:
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30 * scale, env=quiet)
    read_until(proc, lines, lambda ls: False, (2.5 if name == "006-count" else 1.5) * scale)   # the last events
    proc.send_signal(signal.SIGINT)
    lines.append("^C")
    read_until(proc, lines, lambda ls: False, 10 * scale)
    try:
        proc.wait(10 * scale)
    except subprocess.TimeoutExpired:
        proc.kill()
    shown = " ".join(["sudo python3", "lessons/" + script, *args])
    print("### %s\n$ %s\n%s\n(exit %s)\n# workload: %s\n" % (
        name, shown, "\n".join(lines), proc.returncode, " ; ".join(" ".join(c) for c in workload)), flush=True)


if __name__ == "__main__":
    names = sys.argv[1:] or list(LOOKS) + list(RUNS)
    unknown = [n for n in names if n not in RUNS and n not in LOOKS]
    if unknown:
        sys.exit("error: no sample run named %s (there are: %s)" % (", ".join(unknown), ", ".join(list(LOOKS) + list(RUNS))))
    if os.geteuid() != 0:
        sys.exit("error: the lessons need root: sudo python3 " + sys.argv[0])
    print("# %s, %s, Python %s" % (" ".join(os.uname()[2:3] + os.uname()[4:5]), open("/etc/debian_version").read().strip()
                                   if os.path.exists("/etc/debian_version") else "", sys.version.split()[0]))
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from harness import TIME_SCALE
    for n in names:
        look(n, TIME_SCALE) if n in LOOKS else sample(n, TIME_SCALE)
