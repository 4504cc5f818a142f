#!/usr/bin/env python3
"""What bcc's trace_fields() does with the lines of a trace buffer: a fixed-column parse of text.

    sudo python3 notes/demos/trace_fields.py

A bpf_trace_printk() program on syscalls:sys_enter_getppid writes one line per getppid() of this process. The
demo reads them from a tracefs *instance* (a private trace buffer, so the machine's shared one and its
options are left alone) in which the bpf_trace_printk event is enabled: first as the kernel prints them by
default, then with the instance's option record-tgid on, which adds a (tgid) column. Each time the raw line
is shown next to what trace_fields() makes of it. Last, it opens the instance's trace_pipe a second time while
the first reader still has it open. Evidence for notes/output-paths.md.
"""
import os
import platform
import select

import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lessons"))
import facts  # noqa: E402  (lessons/facts.py: where tracefs is, headers, BTF)

from bcc import BPF

TRACEFS = facts.TRACEFS
INSTANCE = TRACEFS + "/instances/notes-demo-%d" % os.getpid()
PROGRAM = r"""
TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    u64 id = bpf_get_current_pid_tgid();
    if (id >> 32 == TGID)
        bpf_trace_printk("getppid by thread %d\n", (u32)id);   /* the \n: see the line after it */
    return 0;
}
"""


def write(name, value):
    with open(INSTANCE + "/" + name, "w") as f:
        f.write(value)


def drain(path, timeout=1.0):
    """Every line the instance's trace_pipe holds now (non-blocking reads until it is quiet)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    data = b""
    try:
        while select.select([fd], [], [], timeout)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
            timeout = 0.2
    except BlockingIOError:
        pass
    finally:
        os.close(fd)
    return data.split(b"\n")[:-1]


def trace_fields_of(b, lines):
    """Feed these lines to bcc's own trace_fields(nonblocking=True), through a pipe, one call per line."""
    r, w = os.pipe()
    os.write(w, b"".join(line + b"\n" for line in lines))
    os.close(w)
    b.tracefile = os.fdopen(r, "rb")        # trace_fields() reads b.tracefile once it is open
    out = [b.trace_fields(nonblocking=True) for _ in lines]
    b.tracefile.close()
    b.tracefile = None
    return out


def main():
    os.mkdir(INSTANCE)
    try:
        b = BPF(text=PROGRAM, cflags=["-DTGID=%d" % os.getpid()])
        write("events/bpf_trace/bpf_trace_printk/enable", "1")
        print("kernel %s, bcc %s" % (platform.release(), __import__("bcc").__version__))
        for tgid_option in ("0", "1"):
            write("options/record-tgid", tgid_option)
            write("trace", "")
            os.getppid()
            lines = drain(INSTANCE + "/trace_pipe")
            print("\n-- record-tgid %s: the raw lines, then trace_fields() of each" % tgid_option)
            for line in lines:
                print("   %r" % line)
            for fields in trace_fields_of(b, lines):
                print("   %r" % (fields,))
        write("events/bpf_trace/bpf_trace_printk/enable", "0")
        first = os.open(INSTANCE + "/trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
        try:
            os.close(os.open(INSTANCE + "/trace_pipe", os.O_RDONLY | os.O_NONBLOCK))
            second = "opened"
        except OSError as e:
            second = "%s (errno %d)" % (e.strerror, e.errno)
        finally:
            os.close(first)
        print("\n-- a second reader opens trace_pipe while the first has it open: %s" % second)
    finally:
        os.rmdir(INSTANCE)


if __name__ == "__main__":
    main()
