#!/usr/bin/env python3
"""PT_REGS_PARM1..4 on a system call's registers: which ones hold the arguments (x86-64).

    sudo python3 notes/demos/pt_regs.py

A raw tracepoint on sys_enter gets, as args[0], the user registers saved at the system call. For this
process's fchmodat(dfd, "name", 0640) and pread64(fd, buf, 7, 12345) calls it sends what the PT_REGS_PARM*
macros read from them through the perf buffer. Evidence for notes/helpers.md.
"""
import os
import platform
import tempfile

from bcc import BPF

PROGRAM = r"""
#include <linux/ptrace.h>
struct event { long nr; u64 p1, p2, p3, p4, p4_syscall; char p2_str[32]; };
BPF_PERF_OUTPUT(events);

RAW_TRACEPOINT_PROBE(sys_enter) {
    if (bpf_get_current_pid_tgid() >> 32 != TGID)
        return 0;
    long nr = ctx->args[1];                           /* the system call number */
    if (nr != __NR_fchmodat && nr != __NR_pread64)
        return 0;
    struct pt_regs regs = {};                         /* the user registers, copied from kernel memory */
    bpf_probe_read_kernel(&regs, sizeof(regs), (void *)ctx->args[0]);
    struct event e = {.nr = nr};
    e.p1 = PT_REGS_PARM1(&regs);
    e.p2 = PT_REGS_PARM2(&regs);
    e.p3 = PT_REGS_PARM3(&regs);
    e.p4 = PT_REGS_PARM4(&regs);                      /* rcx: the function-call convention */
    e.p4_syscall = PT_REGS_PARM4_SYSCALL(&regs);      /* r10: where a system call's 4th argument is */
    if (nr == __NR_fchmodat)
        bpf_probe_read_user_str(e.p2_str, sizeof(e.p2_str), (void *)e.p2);
    events.perf_submit(ctx, &e, sizeof(e));
    return 0;
}
"""


def main():
    b = BPF(text=PROGRAM, cflags=["-DTGID=%d" % os.getpid()])
    seen = []
    b["events"].open_perf_buffer(lambda cpu, data, size: seen.append(b["events"].event(data)))
    with tempfile.TemporaryDirectory() as d:
        dfd = os.open(d, os.O_RDONLY)
        with open(os.path.join(d, "notes-demo"), "wb") as f:
            f.write(b"x" * 20000)
        os.chmod("notes-demo", 0o640, dir_fd=dfd)     # fchmodat(dfd, "notes-demo", 0640)
        fd = os.open(os.path.join(d, "notes-demo"), os.O_RDONLY)
        os.pread(fd, 7, 12345)                        # pread64(fd, buf, 7, 12345)
        os.close(fd)
        os.close(dfd)
    while len(seen) < 2:
        b.perf_buffer_poll(1000)
    print("kernel %s, %s" % (platform.release(), platform.machine()))
    print("fchmodat(dfd=%d, \"notes-demo\", 0640) and pread64(fd=%d, buf, 7, 12345) made by this process:" % (dfd, fd))
    print("%-9s %-6s %-18s %-6s %-20s %s" % ("SYSCALL", "PARM1", "PARM2", "PARM3", "PARM4", "PARM4_SYSCALL"))
    for e in seen:
        name = "fchmodat" if e.p2_str else "pread64"
        p2 = repr(e.p2_str.decode()) if e.p2_str else "0x%x" % e.p2
        print("%-9s %-6d %-18s %-6s %-20s %d" % (name, e.p1, p2, oct(e.p3) if e.p2_str else e.p3, hex(e.p4), e.p4_syscall))


if __name__ == "__main__":
    main()
