#!/usr/bin/env python3
"""Which bpf_probe_read* helper can read a syscall's string argument, which lives in user memory.

    sudo python3 notes/demos/probe_read.py

This process opens a file name of its own (the file does not exist: the openat() call is what counts). A
tracepoint on syscalls:sys_enter_openat, filtered to this process, reads args->filename with each helper and
sends the return values and bytes through the perf buffer. Evidence for notes/helpers.md.
"""
import ctypes as ct
import os
import platform

from bcc import BPF

PROGRAM = r"""
struct event {
    long ret_user_str, ret_kernel_str, ret_legacy_str, ret_user_short, ret_user_raw;
    char user_str[64], kernel_str[64], legacy_str[64], user_short[16], user_raw[40];
};
BPF_PERF_OUTPUT(events);
BPF_PERCPU_ARRAY(scratch, struct event, 1);     /* 300 bytes: too big for the 512-byte BPF stack twice */

TRACEPOINT_PROBE(syscalls, sys_enter_openat) {
    if (bpf_get_current_pid_tgid() >> 32 != TGID)
        return 0;
    int zero = 0;
    struct event *e = scratch.lookup(&zero);
    if (!e)
        return 0;
    const char *name = args->filename;          /* a pointer into the calling process's memory */
    e->ret_user_str = bpf_probe_read_user_str(e->user_str, sizeof(e->user_str), name);
    e->ret_kernel_str = bpf_probe_read_kernel_str(e->kernel_str, sizeof(e->kernel_str), name);
    e->ret_legacy_str = bpf_probe_read_str(e->legacy_str, sizeof(e->legacy_str), name);
    e->ret_user_short = bpf_probe_read_user_str(e->user_short, sizeof(e->user_short), name);
    e->ret_user_raw = bpf_probe_read_user(e->user_raw, sizeof(e->user_raw), name);
    events.perf_submit(args, e, sizeof(*e));
    return 0;
}
"""


def main():
    b = BPF(text=PROGRAM, cflags=["-DTGID=%d" % os.getpid()])
    seen = []
    b["events"].open_perf_buffer(lambda cpu, data, size: seen.append(b["events"].event(data)))
    name = "/tmp/notes-demo-%d-a-long-file-name" % os.getpid()
    try:
        open(name).close()
    except FileNotFoundError:
        pass
    while not seen:
        b.perf_buffer_poll(1000)
    e = seen[0]
    print("kernel %s; the file name passed to openat(): %r (%d bytes + NUL)" % (platform.release(), name, len(name)))
    print("%-46s %-7s %s" % ("HELPER, BUFFER", "RETURN", "BYTES READ"))
    rows = [("bpf_probe_read_user_str, 64-byte buffer", e.ret_user_str, "user_str"),
            ("bpf_probe_read_kernel_str, 64", e.ret_kernel_str, "kernel_str"),
            ("bpf_probe_read_str (the old helper), 64", e.ret_legacy_str, "legacy_str"),
            ("bpf_probe_read_user_str, 16", e.ret_user_short, "user_short"),
            ("bpf_probe_read_user (not for strings), 40", e.ret_user_raw, "user_raw")]
    for label, ret, field in rows:
        raw = ct.string_at(ct.addressof(e) + getattr(type(e), field).offset, getattr(type(e), field).size)
        shown = raw if field == "user_raw" else raw.split(b"\0")[0]   # the raw read: every byte, NULs too
        print("%-46s %-7d %r" % (label, ret, shown))


if __name__ == "__main__":
    main()
