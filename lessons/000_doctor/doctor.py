#!/usr/bin/env python3
# %% [markdown]
# # Lesson 000 — doctor: can this machine run the lessons? — 第 000 课：体检，这台机器能运行这些课程吗？
#
# Checks, one row each, what the lessons need, and says how to fix what is missing. Features are
# decided by trying them (loading and attaching tiny programs, delivering one event), not by guessing.
#
# 逐行检查课程所需的东西，并说明缺了什么、怎么补。每项功能都靠实际尝试来判断
# （加载并附加很小的程序、送达一个事件），而不是猜。
#
#     sudo python3 lessons/000_doctor/doctor.py [--json]
#
# Exit 0 when the lessons can run (tracepoint fallbacks included), 1 otherwise.
#
# 课程能运行（包括回退到跟踪点的情况）时退出码为 0，否则为 1。

# %%
import argparse
import contextlib
import glob
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys

import facts   # ../facts.py (linked here): where tracefs is, kprobes, headers; no bcc needed

# %% [markdown]
# ## Arguments — 参数
# A script reads its command line. In a notebook sys.argv belongs to Jupyter, so the lesson takes
# `NOTEBOOK_ARGS` instead (e.g. `["--json"]`).
#
# 作为脚本时读取命令行；在 notebook 里 sys.argv 属于 Jupyter，所以改用 `NOTEBOOK_ARGS`（例如 `["--json"]`）。

# %% tags=["parameters"]
NOTEBOOK_ARGS = []

# %%
parser = argparse.ArgumentParser(description="Check this machine for the eBPF lessons.")
parser.add_argument("--json", action="store_true", help="print the result as JSON (for checking many machines)")
args = parser.parse_args(NOTEBOOK_ARGS if "ipykernel" in sys.modules else None)


def interrupted(signum, frame):
    # Ctrl-C or SIGTERM: one line and exit 1 (no verdict is not "OK"); on the way out bcc detaches what was tried.
    raise SystemExit("error: interrupted (%s) before a verdict: run the doctor again" % signal.Signals(signum).name)


if "ipykernel" not in sys.modules:   # a notebook keeps Jupyter's own interrupt button
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, interrupted)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # `doctor.py | head`: the closed pipe ends it, as it ends cat

KERNEL = os.uname().release
checks = {}   # id -> {"name", "status": ok|warn|fail|skip, "detail", "fix"}


def check(cid, name, status, detail, fix=""):
    checks[cid] = {"name": name, "status": status, "detail": detail, "fix": fix if status != "ok" else ""}
    return status == "ok"


@contextlib.contextmanager
def quiet_stderr():
    """libbcc prints its own complaints on fd 2 when an attach fails; the table says it better."""
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def first_line(e):
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:120]


# %% [markdown]
# ## Checks that need no BPF program — 不需要 BPF 程序的检查

# %%
root = check("root", "root", "ok" if os.geteuid() == 0 else "fail", "euid %d" % os.geteuid(),
             "run as root: sudo python3 lessons/000_doctor/doctor.py")
try:
    import bcc
    from bcc import BPF, PerfType, PerfSWConfig
    real = hasattr(bcc, "libbcc") and os.path.dirname(bcc.__file__)
    have_bcc = check("bcc", "bcc importable", "ok", "bcc %s from %s (%s)" % (bcc.__version__, real, sys.executable))
except ImportError as e:
    have_bcc = check("bcc", "bcc importable", "fail", "%s: %s" % (sys.executable, first_line(e)),
                     "sudo apt install python3-bpfcc, and run with /usr/bin/python3 (never 'pip install bcc')")

mounts = open("/proc/mounts").read().split("\n")
mounted = {line.split()[2] for line in mounts if line}
check("debugfs", "debugfs mounted", "ok" if "debugfs" in mounted else "warn",
      "/sys/kernel/debug" if "debugfs" in mounted else "not mounted",
      "sudo mount -t debugfs debugfs /sys/kernel/debug   (make setup does it)")
TRACEFS = facts.TRACEFS
tracefs = check("tracefs", "tracefs mounted", "ok" if TRACEFS else "fail", TRACEFS or "no trace_pipe found",
                "sudo mount -t tracefs tracefs /sys/kernel/tracing   (make setup does it)")

build = "/lib/modules/%s/build" % KERNEL

headers_for = facts.headers_release(KERNEL)[0]
if headers_for == KERNEL:
    check("headers", "kernel headers", "ok", "matching: %s" % os.path.realpath(build))
elif os.path.isdir(build):
    check("headers", "kernel headers", "warn", "FALLBACK: headers of %s for kernel %s; bcc compiles, but "
                    "struct layouts may differ (read fields via BTF offsets)" % (headers_for or "?", KERNEL),
                    "apt install linux-headers-%s where it exists" % KERNEL)
elif os.path.exists("/sys/kernel/kheaders.tar.xz"):
    check("headers", "kernel headers", "warn", "none installed; the kernel's own kheaders.tar.xz is there")
else:
    check("headers", "kernel headers", "fail", "none: %s does not exist" % build,
                    "sudo make setup (installs linux-headers-%s, or the fallback)" % KERNEL)

headers = checks["headers"]["status"] != "fail"    # a fallback tree still compiles

btf = os.path.exists("/sys/kernel/btf/vmlinux")
check("btf", "BTF", "ok" if btf else "warn",
      "/sys/kernel/btf/vmlinux (%d KiB)" % (os.path.getsize("/sys/kernel/btf/vmlinux") // 1024) if btf else "absent",
      "a kernel built with CONFIG_DEBUG_INFO_BTF=y; lesson 008 then relies on the headers for ppid")
# Lesson 008 reads task_struct fields (ppid) at offsets that must fit the running kernel: BTF gives them,
# or headers of this very kernel do; fallback headers of another version give garbage.
check("task_layout", "task_struct layout", "ok" if btf or headers_for == KERNEL else "warn",
      "from BTF" if btf else "from the headers of %s" % KERNEL if headers_for == KERNEL else
      "no BTF, and the headers are of %s: lesson 008's ppid would be wrong" % (headers_for or "no kernel"),
      "a kernel with BTF (CONFIG_DEBUG_INFO_BTF=y), or install linux-headers-%s" % KERNEL)

try:
    lockdown = open("/sys/kernel/security/lockdown").read().split("[")[1].split("]")[0]
    # Only 'confidentiality' stops BPF programs from reading kernel memory (task->real_parent, ...).
    check("lockdown", "kernel lockdown", "warn" if lockdown == "confidentiality" else "ok", lockdown,
          "lockdown=confidentiality forbids reading kernel memory from BPF; boot with lockdown=integrity or none")
except (OSError, IndexError):
    if "securityfs" in mounted:
        check("lockdown", "kernel lockdown", "ok", "none (kernel built without lockdown)")
    else:
        check("lockdown", "kernel lockdown", "warn", "unknown: securityfs is not mounted",
              "sudo mount -t securityfs securityfs /sys/kernel/security, then run the doctor again")

# The architecture names the syscall functions (__x64_sys_clone, __arm64_sys_clone), and arm64 (like every
# architecture with the generic syscall table) has no open(), chmod() or fork(): only openat(), fchmodat(), clone().
machine = platform.machine()
events = os.path.join(TRACEFS or "/nonexistent", "events/syscalls")
legacy = [c for c in ("open", "chmod") if os.path.isdir(events) and not os.path.isdir(events + "/sys_enter_" + c)]
check("arch", "architecture", "ok", machine + ("; no %s() syscalls here: lessons 003-005 attach openat(), fchmodat()"
                                               % "(), ".join(legacy) if legacy else ""))

# Lesson 011 builds a program with USDT probes of its own: it needs a C compiler and <sys/sdt.h> (systemtap-sdt-dev).
sdt = shutil.which("cc") and subprocess.run(["cc", "-fsyntax-only", "-x", "c", "-"], input="#include <sys/sdt.h>\n",
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
check("sdt", "cc and <sys/sdt.h>", "ok" if sdt and sdt.returncode == 0 else "warn",
      "cc compiles #include <sys/sdt.h>" if sdt and sdt.returncode == 0 else
      "no C compiler (cc)" if not sdt else "cc cannot find <sys/sdt.h>",
      "sudo apt install gcc libc6-dev systemtap-sdt-dev (sudo make setup does); lesson 011 builds its demo with them")

# %% [markdown]
# ## Checks by trying: load, attach, deliver one event — 靠尝试来检查：加载、附加、送达一个事件
# One program holds several functions; each attach is tried on its own. A getppid() call of ours is the
# event that the perf buffer and the ring buffer must deliver. At the end every probe tried is detached
# (`cleanup()`, or `with BPF(...)`): a notebook's kernel lives on after the cell.
#
# 一个程序里有几个函数，每种附加单独尝试。我们自己的一次 getppid() 调用就是 perf 缓冲区和 BPF 环形缓冲区
# 必须送达的事件。最后分离尝试过的所有探针（`cleanup()` 或 `with BPF(...)`）：notebook 的内核在单元格结束后仍在运行。

# %%
PROGRAM = r"""
BPF_PERF_OUTPUT(perf_events);
// bcc remembers a loaded function by name with its program type, so each hook gets its own function.
int noop_kprobe(void *ctx) { return 0; }
int noop_tracepoint(void *ctx) { return 0; }
int noop_raw(void *ctx) { return 0; }
int noop_uprobe(void *ctx) { return 0; }
int noop_perf_event(void *ctx) { return 0; }
int on_getppid(void *ctx) {
    u32 tgid = bpf_get_current_pid_tgid() >> 32, marker = 42;
    if (tgid != DOCTOR_TGID) return 0;
    perf_events.perf_submit(ctx, &marker, sizeof(marker));
    return 0;
}
"""
RINGBUF = r"""
BPF_RINGBUF_OUTPUT(ring_events, 8);
int on_getppid(void *ctx) {
    u32 tgid = bpf_get_current_pid_tgid() >> 32, marker = 42;
    if (tgid != DOCTOR_TGID) return 0;
    ring_events.ringbuf_output(&marker, sizeof(marker), 0);
    return 0;
}
"""
can_try = root and have_bcc and tracefs and headers
SKIP = "needs root, bcc, tracefs and headers (see above)"
cflags = ["-DDOCTOR_TGID=%d" % os.getpid()]
b = None
if can_try:
    try:
        with quiet_stderr():
            b = BPF(text=PROGRAM, cflags=cflags)
    except Exception as e:
        check("compile", "compile a program", "fail", first_line(e), "check the headers row; run sudo make setup")
        can_try = False


def attempt(cid, name, action, fix, fail_status="warn"):
    if not can_try:
        return check(cid, name, "skip", SKIP)
    try:
        with quiet_stderr():
            detail = action()
        return check(cid, name, "ok", detail)
    except Exception as e:
        return check(cid, name, fail_status, first_line(e), fix)


def try_kprobe():
    if not facts.kprobes_available():   # no kprobe PMU, no kprobe_events: bcc cannot attach one
        raise RuntimeError("no kprobe PMU, no kprobe_events in tracefs: CONFIG_KPROBE_EVENTS is off")
    fn = b.get_syscall_fnname("clone").decode()
    b.attach_kprobe(event=fn, fn_name="noop_kprobe")
    return "attached kprobe " + fn


def try_fentry():
    if not BPF.support_kfunc():
        raise RuntimeError("bcc or the kernel lacks fentry (BPF trampolines)")
    with BPF(text="KFUNC_PROBE(%s) { return 0; }" % b.get_syscall_fnname("getppid").decode()):
        return "loaded and attached a KFUNC_PROBE"   # and detached again, leaving the with block


def deliver(obj, kind):
    got = []
    if kind == "perf":
        obj["perf_events"].open_perf_buffer(lambda cpu, data, size: got.append(1))
        poll = obj.perf_buffer_poll
    else:
        obj["ring_events"].open_ring_buffer(lambda ctx, data, size: got.append(1))
        poll = obj.ring_buffer_poll
    os.getppid()
    for _ in range(20):   # at most 2 s
        poll(timeout=100)
        if got:
            return "delivered our getppid() event"
    raise RuntimeError("attached, but our event did not arrive within 2 s")


def try_tracepoints():
    b.attach_tracepoint(tp="syscalls:sys_enter_getppid", fn_name="on_getppid")
    b.attach_tracepoint(tp="sched:sched_process_exec", fn_name="noop_tracepoint")
    return "attached syscalls:sys_enter_getppid, sched:sched_process_exec"


def try_ringbuf():
    with BPF(text=RINGBUF, cflags=cflags) as ring:
        ring.attach_tracepoint(tp="syscalls:sys_enter_getppid", fn_name="on_getppid")
        return deliver(ring, "ring")


kprobes = attempt("kprobes", "kprobes", try_kprobe, "lessons fall back to tracepoints; a stock distro kernel has kprobes")
fentry = attempt("fentry", "fentry (kfunc)", try_fentry, "not needed: the lessons use kprobes or tracepoints")
tracepoints = attempt("tracepoints", "tracepoints", try_tracepoints,
                      "a kernel with CONFIG_FTRACE_SYSCALLS and tracefs mounted", "fail")
raw_tp = attempt("raw_tracepoints", "raw tracepoints", lambda: b.attach_raw_tracepoint(tp="sys_enter", fn_name="noop_raw")
                 or "attached raw tracepoint sys_enter", "not needed: notes/syscall-wrappers.md uses one")
uprobes = attempt("uprobes", "uprobes", lambda: b.attach_uprobe(name="c", sym="getpid", fn_name="noop_uprobe")
                  or "attached uprobe libc:getpid", "a kernel with CONFIG_UPROBE_EVENTS")
perf_events = attempt("perf_events", "perf event", lambda: b.attach_perf_event(
    ev_type=PerfType.SOFTWARE, ev_config=PerfSWConfig.CPU_CLOCK, fn_name="noop_perf_event", sample_freq=99)
    or "attached software cpu-clock at 99 Hz", "a kernel with CONFIG_PERF_EVENTS (lesson 012's --mode profile)")
if tracepoints:
    perf = attempt("perf_buffer", "perf buffer", lambda: deliver(b, "perf"),
                   "a kernel with CONFIG_BPF_EVENTS and perf events", "fail")
    ringbuf = attempt("ring_buffer", "ring buffer", try_ringbuf, "kernel >= 5.8; lessons use the perf buffer instead")
else:
    perf = check("perf_buffer", "perf buffer", "skip", "needs tracepoints to cause an event")
    ringbuf = check("ring_buffer", "ring buffer", "skip", "needs tracepoints to cause an event")
if b is not None:
    b.cleanup()   # detach every probe tried above, now rather than when Python exits

# %% [markdown]
# ## Verdict: which lessons run, and with which probe — 结论：哪些课程能运行，用哪种探针
# Each lesson: the probe its seed teaches, the fallback, and anything else it needs.
#
# 每一课：原始示例所教的探针、回退用的探针，以及它还需要的其他东西。

# %%
# What each lesson needs, read from its script: the probe kinds it attaches (a kprobe falls back to a tracepoint
# with --probe auto) and the features its code calls. A new lesson folder joins this table by itself.
NEEDS = {r"\bopen_perf_buffer\(": "perf_buffer", r"\battach_uretprobe\(|\battach_uprobe\(|\bUSDT\(": "uprobes",
         r"\bbtf_offsets\(": "task_layout", r"\battach_perf_event\(": "perf_events",
         r"\bplumbing\.build\(": "sdt"}   # a C program of the lesson's own (011's demo, with <sys/sdt.h>)


def lesson_needs(path):
    """(preferred probe kind, fallback kind, [other needs]) of the lesson script at path, from its code lines."""
    with open(path) as f:
        code = "\n".join(line for line in f if not line.lstrip().startswith("#"))
    needs = [need for pattern, need in NEEDS.items() if re.search(pattern, code)]
    if re.search(r"\bkprobe__\w+\(|\battach_kprobe\(|\bkprobe=", code):
        return "kprobe", "tracepoint", needs
    return ("uprobe" if "uprobes" in needs else "tracepoint"), ("uprobe" if "uprobes" in needs else "tracepoint"), needs


# lessons/, the folder of this script's folder (a notebook has no __file__, but runs in this script's folder)
here = os.path.dirname(os.path.dirname(os.path.abspath(globals().get("__file__", "doctor.ipynb"))))
verdict = []
for folder in sorted(os.listdir(here)):
    scripts = sorted(glob.glob(os.path.join(here, folder, "[!_]*.py")))
    scripts = [p for p in scripts if os.path.basename(p) not in ("plumbing.py", "facts.py")
               and not os.path.basename(p).startswith("ex_")]
    if not re.match(r"^\d{3}_", folder) or folder.startswith("000") or not scripts:
        continue
    named = os.path.join(here, folder, folder.split("_", 1)[1] + ".py")   # 012_stacks/stacks.py, not its helpers
    preferred, fallback, needs = lesson_needs(named if named in scripts else scripts[0])
    missing = [n for n in needs if checks[n]["status"] != "ok"] + ([] if tracepoints else ["tracepoints"])
    probe = preferred if (preferred != "kprobe" or kprobes) else fallback
    verdict.append({"lesson": folder, "runs": not missing, "probe": probe if not missing else None,
                    "missing": missing})
ok = root and have_bcc and tracefs and headers and tracepoints and all(v["runs"] for v in verdict)

# %%
if args.json:
    print(json.dumps({"kernel": KERNEL, "ok": ok, "checks": checks, "lessons": verdict}, indent=2))
else:
    print("Kernel %s\n" % KERNEL)
    print("%-18s %-6s %s" % ("CHECK", "STATUS", "DETAIL"))
    for c in checks.values():
        print("%-18s %-6s %s" % (c["name"], c["status"].upper(), c["detail"]))
        if c["fix"]:
            print("%-18s %-6s fix: %s" % ("", "", c["fix"]))
    print("\n%-20s %s" % ("LESSON", "VERDICT"))
    for v in verdict:
        print("%-20s %s" % (v["lesson"], "runs with %s" % v["probe"] if v["runs"] else
                            "cannot run: needs " + ", ".join(v["missing"])))
    print("\n" + ("OK: the lessons can run here%s." % ("" if kprobes else " (with tracepoint fallbacks: no kprobes)")
                  if ok else "NOT READY: fix the rows marked FAIL above (sudo make setup fixes most)."))
if not ok or "ipykernel" not in sys.modules:   # a notebook's kernel lives on: exit only to say NOT READY
    sys.exit(0 if ok else 1)
