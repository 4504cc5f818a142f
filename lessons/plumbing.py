"""The plumbing every lesson shares, written once so that each lesson script shows only its own idea.

Each lesson folder links this file (plumbing.py -> ../plumbing.py), so a lesson imports it in one line and,
as a script or as a notebook, calls:

    parse(parser(...), NOTEBOOK_ARGS)  its command line, checked; root, tracefs; Ctrl-C held until run()
    marked(program)                    the program, its trace_pipe lines marked as this run's
    attach(args.probe, b, kprobe=..., tracepoint=...)   the probe kind --probe asks for; auto falls back
    run(b, args, what, read, ...)      "attached: ..." lines, the ready line, read() until Ctrl-C, SIGTERM,
                                       --duration or --count, what was lost, and every probe detached
    show(line), printable(raw), string(raw, length, size), ours(msg, n), lost(count)   output helpers
    syscalls(*names), btf_offsets(struct, *members)      what this kernel and architecture have (the facts
                                       about the machine themselves are in facts.py beside this file)
    process_id(text)                   an argparse type: the pid of a running process (--pid of a uprobe)
    output_file(text)                  an argparse type: a file the run may write (--folded, --svg)
    build(*sources), start(path, *args)  a lesson's own C program, compiled once into a cache; started, and
                                       ended with the run (lesson 011's demo)

Standard library and bcc only. Every failure a learner can meet ends in one line `error: ...` and a non-zero
exit, never a traceback. CONTRIBUTING.md explains the design; tests/test_plumbing.py tests the pure parts.
"""
import argparse
import ctypes
import glob
import hashlib
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(1, os.path.dirname(os.path.realpath(__file__)))   # lessons/, where facts.py is beside this file
import facts  # noqa: E402  (what this machine offers: tracefs, kprobes, headers, BTF; no bcc needed)
from facts import TRACEFS, kprobes_available  # noqa: E402,F401

NOTEBOOK = "ipykernel" in sys.modules        # in a notebook sys.argv, signals and exiting belong to Jupyter
HEADERS_HINT = ("bcc could not compile the program: the compiler's messages are above (kernel headers missing? "
                "run: sudo make setup, then lessons/000_doctor/doctor.py)")
MARK = "lesson-" + secrets.token_hex(4)     # unique to this run: tells its trace_pipe lines from other programs'
HOLD = {signal.SIGINT, signal.SIGTERM}


def fail(message):
    """One line on stderr, exit 1: what a learner reads instead of a traceback."""
    sys.exit("error: " + message)


try:
    import bcc
except ImportError:
    fail("cannot import bcc: install the distro's package (sudo apt install python3-bpfcc) and run with "
         "/usr/bin/python3; never 'pip install bcc', which is an unrelated project")


# ---------------------------------------------------------------- the command line
def positive(kind):
    """An argparse type: a number of `kind` above 0 and under 1e9 (nan and inf are not under 1e9 either)."""
    def convert(text):
        value = kind(text)              # ValueError: argparse says "invalid float value: 'ten'"
        if not 0 < value < 1e9:
            raise argparse.ArgumentTypeError("must be a positive number under 1e9, not %s" % text)
        return value
    convert.__name__ = kind.__name__
    return convert


def parser(description, probes=("kprobe", "tracepoint"), count=True):
    """The options every lesson has: --probe (when it has a choice), --duration and --count."""
    p = argparse.ArgumentParser(description=description)
    if probes:
        p.add_argument("--probe", choices=["auto", *probes], default="auto",
                       help="auto (default): a kprobe, or the tracepoint where the kernel cannot attach kprobes")
    p.add_argument("--duration", type=positive(float), metavar="SECONDS", help="stop after this many seconds")
    if count:
        p.add_argument("--count", type=positive(int), metavar="N", help="stop after N events")
    return p


def parse(p, notebook_args):
    """Parse sys.argv (a notebook: notebook_args), then check what every lesson needs. A script also holds
    Ctrl-C and SIGTERM back from here on: bcc's compile takes seconds and no signal can stop it, so a press
    waits for run(), which then ends the run cleanly."""
    global ARGS
    ARGS = p.parse_args(notebook_args if NOTEBOOK else None)
    if os.geteuid() != 0:
        fail("loading BPF programs needs root: sudo python3 " + sys.argv[0])
    if TRACEFS is None:
        fail("tracefs is not mounted (no trace_pipe): sudo make setup, or: mount -t tracefs none /sys/kernel/tracing")
    if getattr(ARGS, "probe", None) == "kprobe" and not kprobes_available():   # said now, not after the compile
        fail("--probe kprobe: this kernel cannot attach kprobes (no kprobe PMU, no kprobe_events in tracefs: "
             "CONFIG_KPROBE_EVENTS is off); use --probe tracepoint")
    if not NOTEBOOK:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # `lesson | head`: the closed pipe ends it, as it ends cat
        signal.pthread_sigmask(signal.SIG_BLOCK, HOLD)
        sys.excepthook = one_line_errors
    return ARGS


def explain(error):
    """bcc's exceptions (plain Exception) -> the line a learner needs."""
    text = str(error).strip()
    if text.startswith("Failed to compile BPF"):
        return HEADERS_HINT
    first = (text.splitlines() or [type(error).__name__])[0]
    if text.startswith("Failed to load BPF program"):
        return "the kernel refused the program (the verifier's reasons are above): " + first
    if text.startswith("Failed to enable USDT probe"):   # bcc's USDTException: its text goes on for 4 lines
        return first.rstrip(":") + ": no such probe there (tplist-bpfcc -p PID, or -l FILE, lists them), or it " \
            "has a semaphore, which bcc sets in a process: give a pid, not a path"
    if text.startswith("USDT failed to instrument path"):
        return first + " (no such file, or not an ELF file)"
    return first


def one_line_errors(kind, value, traceback):
    if kind is Exception or kind is bcc.USDTException:   # what bcc raises for compile, load and attach failures
        print("error: " + explain(value), file=sys.stderr)
    else:                                    # a bug: the traceback is what its reader needs
        sys.__excepthook__(kind, value, traceback)


# ---------------------------------------------------------------- what this machine has
# The old system calls that architectures with the generic syscall table (arm64, riscv64) never had:
# programs call openat, fchmodat, clone, ... there. Their __arm64_sys_* names may still be in kallsyms, so a
# kprobe on one attaches and never fires.
LEGACY = {"open", "creat", "chmod", "chown", "lchown", "fork", "vfork", "stat", "lstat", "access", "unlink",
          "rmdir", "mkdir", "rename", "link", "symlink", "readlink", "mknod", "dup2", "pipe", "poll", "select"}


def syscalls(*names, machine=None, tracefs=None):
    """The names in `names` that are system calls of this kernel and architecture: its syscalls tracepoints
    say so where they exist, else the list above."""
    events = os.path.join(tracefs or TRACEFS or "/nonexistent", "events/syscalls")
    if os.path.isdir(events):
        return [n for n in names if os.path.isdir(os.path.join(events, "sys_enter_" + n))]
    generic = (machine or platform.machine()) in ("aarch64", "arm64", "riscv64", "loongarch64")
    return [n for n in names if not (generic and n in LEGACY)]


def syscall_name(text):
    """An argparse type: the name of a system call of this kernel and architecture (it goes into paths)."""
    if not (text.isascii() and text.isidentifier() and len(text) <= 64 and syscalls(text)):
        raise argparse.ArgumentTypeError("not a system call of this kernel and architecture: %r" % text)
    return text


def process_id(text):
    """An argparse type: the pid of a running process. (Given a pid, bcc reads the library through /proc/PID/root;
    for a pid that does not exist it says only "could not determine address of symbol ...".)"""
    if not (text.isdigit() and 0 < int(text) < 1 << 22 and os.path.exists("/proc/%d" % int(text))):
        raise argparse.ArgumentTypeError("no process with pid %s" % text)
    return int(text)


def output_file(text):
    """An argparse type: a file the run may write at its end (checked now, not after a long run)."""
    folder = os.path.dirname(os.path.abspath(text))
    if os.path.isdir(text) or not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError("cannot write a file there: %r" % text)
    return text


# ---------------------------------------------------------------- a lesson's own program
def build(*sources, flags=("-O2", "-g")):
    """The lesson's C files (paths relative to the lesson, or absolute) compiled with cc and `flags`, once: into
    $XDG_CACHE_HOME/ebpf-lessons (else ~/.cache/...)/<hash of the sources and flags>/<first source's name>."""
    here = os.getcwd() if NOTEBOOK else os.path.dirname(os.path.abspath(sys.argv[0]))   # a notebook runs there
    paths = [os.path.join(here, s) for s in sources]
    digest = hashlib.sha256(" ".join(flags).encode())
    for path in paths:
        with open(path, "rb") as f:
            digest.update(f.read())
    name = os.path.splitext(os.path.basename(sources[0]))[0]
    binary = os.path.join(facts.cache_dir(), digest.hexdigest()[:16], name)
    if not os.path.exists(binary):
        if not shutil.which("cc"):
            fail("cannot build %s: no C compiler (cc): sudo make setup, or: sudo apt install gcc libc6-dev "
                 "systemtap-sdt-dev" % sources[0])
        os.makedirs(os.path.dirname(binary), mode=0o700, exist_ok=True)
        new = "%s.new%d" % (binary, os.getpid())
        made = subprocess.run(["cc", *flags, "-o", new, *paths], capture_output=True, text=True)
        if made.returncode != 0:
            said = [line for line in made.stderr.splitlines() if "error" in line] or made.stderr.splitlines() or ["?"]
            fail("cannot build %s with cc: %s (sudo make setup installs systemtap-sdt-dev, which has <sys/sdt.h>)"
                 % (sources[0], said[0]))
        os.replace(new, binary)   # whole or not at all, when two lessons build it at once
    return binary


started = []   # processes start() made, ended by run()


def start(path, *args):
    """Start a program of the lesson; the kernel ends it when this process ends, however (PR_SET_PDEATHSIG)."""
    libc = ctypes.CDLL(None, use_errno=True)
    started.append(subprocess.Popen([path, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    preexec_fn=lambda: libc.prctl(1, signal.SIGKILL)))   # 1: PR_SET_PDEATHSIG
    return started[-1]


# ---------------------------------------------------------------- attaching
def attach(probe, b=None, **ways):
    """Attach the way --probe asks. ways: kind -> a function that attaches (it may also build and return the
    BPF object). auto tries the kprobe where the kernel can attach one, and falls back to the tracepoint."""
    kinds = [probe] if probe != "auto" else [k for k in ("kprobe", "tracepoint") if k in ways]
    if probe == "auto" and "kprobe" in kinds and not kprobes_available():   # --probe kprobe: refused by parse()
        kinds.remove("kprobe")
    for kind in kinds:
        try:
            made = ways[kind]()
            return made if isinstance(made, bcc.BPF) else b
        except Exception as e:               # bcc raises a plain Exception when it cannot attach
            if explain(e) == HEADERS_HINT or kind == kinds[-1]:
                fail(explain(e) if explain(e) == HEADERS_HINT else "cannot attach the %s: %s" % (kind, explain(e)))
            print("%s failed (%s); falling back to the %s" % (kind, explain(e), kinds[-1]))
            detach_all(b)                    # what was attached before the failure
    fail("no way to attach (%s)" % probe)


def attached(b):
    """What b has attached, as bcc recorded it: ["kprobe __x64_sys_clone", "tracepoint sched:sched_process_exit"]."""
    text = lambda name: name.decode() if isinstance(name, bytes) else name   # noqa: E731
    found = [("kprobe " if text(ev).startswith("p_") else "kretprobe ") + text(ev)[2:] for ev in b.kprobe_fds]
    found += ["tracepoint " + text(tp) for tp in b.tracepoint_fds]
    found += ["raw_tracepoint " + text(tp) for tp in b.raw_tracepoint_fds]
    # uprobes: bcc names the event p_ (entry) or r_ (return), the file's path with every character that is not
    # [A-Za-z0-9_] made "_" (its base name only, from bcc 0.34), the symbol's offset, and the pid when given
    found += [("uprobe " if text(ev).startswith("p_") else "uretprobe ") + text(ev)[2:] for ev in b.uprobe_fds]
    # perf events (attach_perf_event): bcc keeps one fd per CPU under (type, config)
    return found + ["perf_event %s on %d CPUs" % (PERF_EVENTS.get(key, "type %d config %d" % key), len(fds))
                    for key, fds in getattr(b, "open_perf_events", {}).items()]


PERF_EVENTS = {(0, 0): "hardware cpu-cycles", (1, 0): "software cpu-clock", (1, 1): "software task-clock"}


def detach_all(b):
    """Detach every probe of b (its programs stay loaded): no more events."""
    for names, detach in ((getattr(b, "kprobe_fds", {}), b and b.detach_kprobe_event),
                          (getattr(b, "tracepoint_fds", {}), b and b.detach_tracepoint),
                          (getattr(b, "raw_tracepoint_fds", {}), b and b.detach_raw_tracepoint),
                          (getattr(b, "uprobe_fds", {}), b and b.detach_uprobe_event),
                          (getattr(b, "open_perf_events", {}), b and (lambda key: b.detach_perf_event(*key)))):
        for name in list(names):
            try:
                detach(name)
            except Exception:
                pass


# ---------------------------------------------------------------- output
def printable(raw, cut=False):
    """Bytes from the kernel -> text that cannot forge or colour a line: control characters, backslashes and
    bytes that are not UTF-8 are shown escaped; "..." marks a string that was cut."""
    out = []
    for ch in raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else str(raw):
        if "\udc80" <= ch <= "\udcff":
            out.append("\\x%02x" % (ord(ch) - 0xDC00))
        elif ch == "\\" or not ch.isprintable():
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out) + ("..." if cut else "")


def string(raw, length, size):
    """A string that bpf_probe_read_user_str() copied into a buffer of `size` bytes and returned `length` for
    (bytes copied with the NUL, or a negative error), shown with at most size - 2 bytes. A full buffer (`length`
    == size) holds size - 1 bytes, which a string of exactly that length returns too: showing one byte fewer
    tells them apart (a string of size - 2 bytes returns size - 1 and is whole). Cut, and marked "...", when it
    filled the buffer, or when fewer bytes arrived than were copied (a trace_pipe line: at most 63 bytes of a %s
    before Linux 5.13; a newline ends the line)."""
    if length < 0:
        return "[cannot read it: error %d]" % length
    return printable(raw[:size - 2], cut=length >= size or len(raw) < length - 1)


def marked(program):
    """The program with MARK replaced by a mark unique to this run, for ours() to tell its lines apart."""
    global others
    others = 0
    return program.replace("MARK", MARK)


def ours(msg, fields):
    """A trace_pipe message of this run (it starts with MARK), split into `fields` parts (the last keeps its
    spaces); None for another program's line: every BPF program writes into the same trace buffer."""
    global others
    parts = msg.split(b" ", fields) if isinstance(msg, bytes) else []   # bcc gives "Unknown" for odd lines
    if parts[:1] != [MARK.encode()] or len(parts) < fields:
        others += 1
        return None
    return parts[1:] + [b""] * (fields + 1 - len(parts))


def raw_bytes(event, field):
    """Every byte of a char-array field of a bcc event: ctypes stops a char array at its first NUL."""
    where = getattr(type(event), field)
    return ctypes.string_at(ctypes.addressof(event) + where.offset, where.size)


def show(line):
    """Print one event's line; --count N ends the run after N of them (a poll may bring more: not shown)."""
    global shown
    if getattr(ARGS, "count", None) is not None and shown >= ARGS.count:
        return
    sys.stdout.write(line + "\n")   # one write, not print()'s two: a Ctrl-C raised between a line and its newline
    sys.stdout.flush()              # glued the next line to it (in a notebook, where sys.stdout is Python code)
    shown += 1


def lost(count):
    """lost_cb for open_perf_buffer: the perf buffer was full and the kernel dropped `count` records (bcc calls
    it when the next record arrives)."""
    global lost_total
    lost_total += count
    print("lost %d events (perf buffer full)" % count, flush=True)


def trace_overruns():
    """Lines the kernel overwrote in the trace buffer before anyone read them, summed over the CPUs."""
    total = 0
    for stats in glob.glob(TRACEFS + "/per_cpu/cpu*/stats"):
        with open(stats) as f:
            total += sum(int(line.split()[1]) for line in f if line.startswith("overrun:"))
    return total


# ---------------------------------------------------------------- running
ARGS, shown, others, lost_total, stopping = None, 0, None, 0, False   # others: counted once marked() is used


def sleep(seconds):
    """time.sleep() that ends early when the run is stopped (Ctrl-C, SIGTERM, --duration)."""
    end = time.monotonic() + seconds
    while not stopping and time.monotonic() < end:
        time.sleep(max(0, min(0.05, end - time.monotonic())))


def run(b, args, what, read, header=None, trace_pipe=False, summary=None):
    """Say what is attached and that it is ready, call read() until Ctrl-C, SIGTERM, --duration or --count,
    report what was lost, and detach everything (a notebook's kernel lives on after the cell).
    trace_pipe: read() waits in a read of trace_pipe, which only an exception ends."""
    global stopping, shown, lost_total   # a second run() in one process (a notebook's Run All) starts afresh
    stopping, shown, lost_total, overruns = False, 0, 0, None
    if trace_pipe:
        try:
            b.trace_open()   # before the ready line: a second reader gets EBUSY (6.5+; 5.10, 6.1 stable)
        except OSError as e:
            b.cleanup()
            fail("cannot open %s: %s (is another program reading it?)" % (e.filename, e.strerror))
        overruns = trace_overruns()

    def stop(signum, frame):   # Ctrl-C, SIGTERM, the --duration alarm; a second Ctrl-C changes nothing
        global stopping
        if not stopping:
            stopping = True
            detach_all(b)        # no more events: under a storm a poll returns only once the buffer is empty
            if trace_pipe:       # (an exception raised in a perf callback would be swallowed by ctypes)
                raise KeyboardInterrupt
    handlers = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
    for line in attached(b):
        print("attached: " + line)
    print("Tracing %s ... Hit Ctrl-C to end." % what)
    if header:
        print(header)
    sys.stdout.flush()
    if args.duration:
        signal.setitimer(signal.ITIMER_REAL, args.duration)
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HOLD)   # a Ctrl-C held back since parse() acts now
        more = True
        while more:   # a stop that came before a read() still gets that read's printout (009's last histogram)
            read()
            more = not stopping and (getattr(args, "count", None) is None or shown < args.count)
    except KeyboardInterrupt:
        pass
    finally:                     # leave nothing behind, whatever ended the run
        signal.setitimer(signal.ITIMER_REAL, 0)
        if overruns is not None:
            print("%strace buffer overruns (lines lost, any program's): %d"
                  % ("lines from other programs skipped: %d; " % others if others is not None else "",
                     trace_overruns() - overruns))
        if b.perf_buffers:
            print("lost %d events in total" % lost_total)
        if summary:
            summary()
        sys.stdout.flush()
        b.cleanup()              # now, not when Python exits: a notebook's kernel lives on
        while started:
            started[-1].kill()
            started.pop().wait()
        if NOTEBOOK:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)


# ---------------------------------------------------------------- struct layouts from BTF (notes/headers-btf.md)
def btf_offsets(struct_name, *members, path=facts.BTF):
    """{member: byte offset} in `struct_name` of the running kernel, from its BTF (lessons/facts.py); None
    where the kernel has no BTF; one line and exit 1 where the struct or a member is missing."""
    try:
        return facts.btf_offsets(struct_name, *members, path=path)
    except LookupError as e:
        fail(str(e))
