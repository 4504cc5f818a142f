# 004-comm, another way: the raw tracepoint sys_enter (every syscall, filtered by number), the name to match
# in an array map that Python fills, and the arguments from the saved registers.
import ctypes
import plumbing
from bcc import BPF

parser = plumbing.parser("chmods of one program", probes=())
parser.add_argument("--comm", default="")
args = plumbing.parse(parser, [])
b = BPF(text=plumbing.marked(r"""
#include <uapi/linux/ptrace.h>
#include <asm/unistd.h>
#define TASK_COMM_LEN 16
struct name_t { char c[TASK_COMM_LEN]; };
BPF_ARRAY(wanted, struct name_t, 1);

int on_syscall(struct bpf_raw_tracepoint_args *ctx) {
    long nr = ctx->args[1];
    struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
    unsigned long name = 0, mode = 0;
    if (nr == __NR_fchmodat) {
        bpf_probe_read_kernel(&name, sizeof(name), &PT_REGS_PARM2(regs));
        bpf_probe_read_kernel(&mode, sizeof(mode), &PT_REGS_PARM3(regs));
    }
#ifdef __NR_chmod
    else if (nr == __NR_chmod) {
        bpf_probe_read_kernel(&name, sizeof(name), &PT_REGS_PARM1(regs));
        bpf_probe_read_kernel(&mode, sizeof(mode), &PT_REGS_PARM2(regs));
    }
#endif
    else
        return 0;
    int zero = 0;
    struct name_t me = {}, *want = wanted.lookup(&zero);
    bpf_get_current_comm(&me.c, sizeof(me.c));
    if (!want)
        return 0;
    #pragma unroll
    for (int i = 0; i < TASK_COMM_LEN; i++)
        if (want->c[0] && me.c[i] != want->c[i])
            return 0;
    char path[200];
    int len = bpf_probe_read_user_str(path, sizeof(path), (void *)name);
    bpf_trace_printk("MARK %u %s", bpf_get_current_pid_tgid() >> 32, me.c);
    bpf_trace_printk("MARK =%x %d %s", mode, len, path);
    return 0;
}
"""))
name = b["wanted"].Leaf()
name.c = args.comm.encode()
b["wanted"][ctypes.c_int(0)] = name
b.attach_raw_tracepoint(tp="sys_enter", fn_name="on_syscall")
who = {}


def line():
    task, tid, cpu, _, ts, msg = b.trace_fields()
    part = plumbing.ours(msg, 2)
    if part is None:
        return
    if not part[0].startswith(b"="):
        who[tid] = part
    elif tid in who:
        tgid, comm = who.pop(tid)
        length, path = part[1].split(b" ", 1) if b" " in part[1] else (part[1], b"")
        plumbing.show("%s %d %s %04o %s" % (tgid.decode(), tid, comm.decode(), int(part[0][1:], 16),
                                            plumbing.string(path, int(length), 200)))


plumbing.run(b, args, "chmod by name", line, trace_pipe=True)
