#!/usr/bin/env python3
# %% [markdown]
# # Lesson 001 — Hello, World! from the kernel
#
# Prints "Hello, World!" each time a process calls the clone() system call (most often: a fork).
#
#     sudo python3 lessons/001_hello/hello.py [--probe auto|kprobe|tracepoint] [--duration SECONDS]
#
# Needs: root, bcc (python3-bpfcc), kernel headers, and either kprobes or the syscalls tracepoints.
# In another terminal, run anything that forks (`python3 -c 'import os; os.fork()'`) to see lines.
#
# The seed of this lesson is bcc's one-line hello world:
#
#     BPF(text='int kprobe__sys_clone(void *ctx) { bpf_trace_printk("Hello, World!\\n"); return 0; }').trace_print()
#
# Below it is taught as it is, then made to run on kernels without kprobes too.

# %%
import argparse
import os
import signal
import sys

try:
    from bcc import BPF
except ImportError:
    sys.exit("error: cannot import bcc: install the distro's package (sudo apt install python3-bpfcc) and run "
             "with /usr/bin/python3; never 'pip install bcc', which is an unrelated project")

# %% [markdown]
# ## The BPF programs
# The seed's program. The name is the whole trick: a function called `kprobe__<kernel function>` is
# attached by bcc, as soon as the program is loaded, to a kprobe on that function. `sys_clone` is
# rewritten by bcc to this kernel's name for the clone syscall (e.g. `__x64_sys_clone`).
# `bpf_trace_printk` writes a line into the kernel's shared trace buffer; `trace_print()` reads it back.

# %%
KPROBE_PROGRAM = r'int kprobe__sys_clone(void *ctx) { bpf_trace_printk("Hello, World!\n"); return 0; }'

# The same program for kernels without kprobes: the stable tracepoint at the entry of clone().
# TRACEPOINT_PROBE(category, event) is bcc's naming shortcut for tracepoints, as kprobe__ is for kprobes.
TRACEPOINT_PROGRAM = r'TRACEPOINT_PROBE(syscalls, sys_enter_clone) { bpf_trace_printk("Hello, World!\n"); return 0; }'

# %%
parser = argparse.ArgumentParser(description="Print Hello, World! each time a process calls clone().")
parser.add_argument("--probe", choices=["auto", "kprobe", "tracepoint"], default="auto",
                    help="auto: the seed's kprobe, or the tracepoint when this kernel cannot attach kprobes")
parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")
args = parser.parse_args()
if args.duration is not None and args.duration <= 0:
    parser.error("--duration must be a positive number of seconds")
if os.geteuid() != 0:
    sys.exit("error: loading BPF programs needs root: sudo python3 " + sys.argv[0])


def kernel_has_kprobes():
    # tracefs lists kprobe_events only when the kernel was built with kprobes (CONFIG_KPROBE_EVENTS).
    return any(os.path.exists(d + "/kprobe_events") for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"))


def load(program):
    try:
        return BPF(text=program)   # compiles, loads, and (thanks to the names) attaches
    except Exception as e:     # bcc raises a plain Exception for compile and attach failures
        first_line = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "compile" in first_line:
            sys.exit("error: bcc could not compile the program (kernel headers missing? run: sudo make setup, "
                     "then lessons/000_doctor/doctor.py)")
        raise RuntimeError(first_line)


# %% [markdown]
# ## Load and attach: the kprobe if we can, else the tracepoint

# %%
b = None
if args.probe in ("auto", "kprobe"):
    if not kernel_has_kprobes():
        if args.probe == "kprobe":
            sys.exit("error: --probe kprobe: this kernel has no kprobes (no kprobe_events in tracefs: "
                     "CONFIG_KPROBES is off); use --probe tracepoint")
    else:
        try:
            b = load(KPROBE_PROGRAM)
            print("attached: kprobe %s" % b.get_syscall_fnname("clone").decode())
        except RuntimeError as e:
            if args.probe == "kprobe":
                sys.exit("error: cannot attach the kprobe: %s" % e)
            print("kprobe failed (%s); falling back to the tracepoint" % e)
if b is None:
    try:
        b = load(TRACEPOINT_PROGRAM)
    except RuntimeError as e:
        sys.exit("error: cannot attach tracepoint syscalls:sys_enter_clone: %s" % e)
    print("attached: tracepoint syscalls:sys_enter_clone")

# %% [markdown]
# ## Print
# `trace_print()` reads /sys/kernel/tracing/trace_pipe forever and prints each line as it is. That buffer
# is shared by every BPF program on the machine and may hold old lines; see the note.

# %%
def stop(signum, frame):
    raise KeyboardInterrupt   # SIGTERM and the --duration alarm end the run like Ctrl-C does


signal.signal(signal.SIGTERM, stop)
if args.duration:
    signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, args.duration)

print("Tracing clone() ... Hit Ctrl-C to end.", flush=True)
try:
    b.trace_print()
except KeyboardInterrupt:
    pass   # bcc detaches the probe when the program exits
