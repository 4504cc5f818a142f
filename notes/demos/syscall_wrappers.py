#!/usr/bin/env python3
"""A system call's arguments, four ways: a kprobe on its entry function read by hand, the same with bcc's
syscall__ prefix, the raw tracepoint sys_enter, and the syscalls tracepoints (x86-64).

    sudo python3 notes/demos/syscall_wrappers.py

First it prints what bcc writes for a syscall__ function (its rewritten C, bcc's DEBUG_PREPROCESSOR output).
Then it attaches each hook it can, makes one chmod() and one fchmodat() call of its own, and prints what each
hook read: the syscall, the path and the mode. Evidence for notes/syscall-wrappers.md.
"""
import os
import platform
import sys
import tempfile
import time

import bcc
from bcc import BPF

PROGRAM = r"""
#include <uapi/linux/ptrace.h>
#include <asm/unistd.h>
struct event { u32 hook, mode; long nr; char path[32]; };
BPF_PERF_OUTPUT(events);

static int report(void *ctx, u32 hook, long nr, const char __user *filename, u32 mode) {
    if (bpf_get_current_pid_tgid() >> 32 != TGID)
        return 0;
    struct event e = {.hook = hook, .mode = mode, .nr = nr};
    bpf_probe_read_user_str(e.path, sizeof(e.path), filename);
    events.perf_submit(ctx, &e, sizeof(e));
    return 0;
}

/* regs: the user registers the system call saved, in kernel memory. fchmodat(dfd, filename, mode) has its
   arguments one register later than chmod(filename, mode). */
static int report_saved(void *ctx, u32 hook, long nr, struct pt_regs *regs) {
    unsigned long filename = 0, mode = 0;
    int later = nr == __NR_fchmodat;
    bpf_probe_read_kernel(&filename, sizeof(filename), later ? &PT_REGS_PARM2(regs) : &PT_REGS_PARM1(regs));
    bpf_probe_read_kernel(&mode, sizeof(mode), later ? &PT_REGS_PARM3(regs) : &PT_REGS_PARM2(regs));
    return report(ctx, hook, nr, (const char __user *)filename, mode);
}

int by_hand_chmod(struct pt_regs *ctx) { return report_saved(ctx, 0, __NR_chmod, (struct pt_regs *)PT_REGS_PARM1(ctx)); }
int by_hand_fchmodat(struct pt_regs *ctx) {
    return report_saved(ctx, 0, __NR_fchmodat, (struct pt_regs *)PT_REGS_PARM1(ctx));
}
int syscall__chmod(struct pt_regs *ctx, const char __user *filename, umode_t mode) {
    return report(ctx, 1, __NR_chmod, filename, mode);
}
int syscall__fchmodat(struct pt_regs *ctx, int dfd, const char __user *filename, umode_t mode) {
    return report(ctx, 1, __NR_fchmodat, filename, mode);
}
int raw_sys_enter(struct bpf_raw_tracepoint_args *ctx) {      /* sys_enter(struct pt_regs *regs, long id) */
    long nr = ctx->args[1];
    if (nr != __NR_chmod && nr != __NR_fchmodat)
        return 0;
    return report_saved(ctx, 2, nr, (struct pt_regs *)ctx->args[0]);
}
int tp_chmod(struct tracepoint__syscalls__sys_enter_chmod *args) {
    return report(args, 3, __NR_chmod, args->filename, args->mode);
}
int tp_fchmodat(struct tracepoint__syscalls__sys_enter_fchmodat *args) {
    return report(args, 3, __NR_fchmodat, args->filename, args->mode);
}
"""
NR = {90: "chmod", 268: "fchmodat"}   # x86-64's numbers (arch/x86/entry/syscalls/syscall_64.tbl)
SHOWN = r"""
#include <uapi/linux/ptrace.h>
int syscall__chmod(struct pt_regs *ctx, const char __user *filename, umode_t mode) {
    bpf_trace_printk("mode %x", mode);
    return 0;
}
"""


def rewritten(text):
    """bcc's C after its rewriter (debug=DEBUG_PREPROCESSOR, printed on stderr): the function's lines."""
    with tempfile.TemporaryFile() as out:
        sys.stdout.flush()
        saved = [os.dup(1), os.dup(2)]
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
        try:
            BPF(text=text, debug=bcc.DEBUG_PREPROCESSOR).cleanup()
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            list(map(os.close, saved))
        out.seek(0)
        lines = out.read().decode().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("int syscall__chmod"))
    return lines[start:lines.index("}", start) + 1]


def main():
    print("kernel %s, %s, bcc %s" % (platform.release(), platform.machine(), bcc.__version__))
    print("\nwhat bcc writes for\n\n%s\n\nis\n" % SHOWN.split("\n", 2)[2].rstrip())
    print("\n".join(line.rstrip() for line in rewritten(SHOWN)))

    b = BPF(text=PROGRAM, cflags=["-DTGID=%d" % os.getpid()])
    hooks = [("kprobes, by hand",
              lambda: [b.attach_kprobe(event=b.get_syscall_fnname(c), fn_name="by_hand_" + c) for c in ("chmod", "fchmodat")]),
             ("kprobes, syscall__",
              lambda: [b.attach_kprobe(event=b.get_syscall_fnname(c), fn_name="syscall__" + c) for c in ("chmod", "fchmodat")]),
             ("raw_tracepoint sys_enter", lambda: b.attach_raw_tracepoint(tp="sys_enter", fn_name="raw_sys_enter")),
             ("tracepoints", lambda: [b.attach_tracepoint(tp="syscalls:sys_enter_" + c, fn_name="tp_" + c)
                                                     for c in ("chmod", "fchmodat")])]
    status = []
    for name, attach in hooks:
        try:
            attach()
            status.append("attached")
        except Exception as e:                 # bcc raises a plain Exception when it cannot attach
            status.append("FAILED: " + str(e).splitlines()[0][:72])
    seen = []
    b["events"].open_perf_buffer(lambda cpu, data, size: seen.append(b["events"].event(data)))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "notes-demo")
        open(path, "w").close()
        os.chmod(path, 0o640)                                            # chmod(path, 0640)
        dfd = os.open(d, os.O_RDONLY)
        os.chmod("notes-demo", 0o604, dir_fd=dfd)                        # fchmodat(dfd, "notes-demo", 0604)
        os.close(dfd)
    want, deadline = 2 * status.count("attached"), time.monotonic() + 5
    while len(seen) < want and time.monotonic() < deadline:
        b.perf_buffer_poll(200)
    print("\nkprobes on %s and %s; chmod(%r, 0640) and fchmodat(dfd, 'notes-demo', 0604) by this process:"
          % (b.get_syscall_fnname("chmod").decode(), b.get_syscall_fnname("fchmodat").decode(), path))
    print("%-24s %-9s %-32s %s" % ("HOOK", "SYSCALL", "PATH", "MODE"))
    for number, (name, _) in enumerate(hooks):
        rows = [e for e in seen if e.hook == number]
        if status[number] != "attached":
            print("%-24s %s" % (name, status[number]))
        for e in rows:
            print("%-24s %-9s %-32s %04o" % (name, NR.get(e.nr, e.nr), e.path.decode(), e.mode))
    b.cleanup()


if __name__ == "__main__":
    main()
