# 008-failed, another way: the raw tracepoints sys_enter and sys_exit (every syscall; execve picked by its
# number), the file name kept in a per-thread map, the failures sent through a perf buffer.
import plumbing
from bcc import BPF

b = BPF(text=r"""
#include <uapi/linux/ptrace.h>
#include <asm/unistd.h>
#define TASK_COMM_LEN 16
struct pending { char file[120]; };
struct failure { u32 pid; int err; char comm[TASK_COMM_LEN]; char file[120]; };
BPF_HASH(pending_execs, u64, struct pending);
BPF_PERCPU_ARRAY(scratch, struct failure, 1);
BPF_PERF_OUTPUT(out);

int enter(struct bpf_raw_tracepoint_args *ctx) {
    if (ctx->args[1] != __NR_execve)
        return 0;
    struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
    unsigned long name = 0;
    bpf_probe_read_kernel(&name, sizeof(name), &PT_REGS_PARM1(regs));
    struct pending p = {};
    bpf_probe_read_user_str(p.file, sizeof(p.file), (void *)name);
    u64 id = bpf_get_current_pid_tgid();
    pending_execs.update(&id, &p);
    return 0;
}

int leave(struct bpf_raw_tracepoint_args *ctx) {
    u64 id = bpf_get_current_pid_tgid();
    struct pending *p = pending_execs.lookup(&id);
    long ret = ctx->args[1];
    if (!p)
        return 0;
    int zero = 0;
    struct failure *f = scratch.lookup(&zero);
    if (f && ret < 0) {
        f->pid = id >> 32;
        f->err = ret;
        bpf_get_current_comm(&f->comm, sizeof(f->comm));
        __builtin_memcpy(f->file, p->file, sizeof(f->file));
        out.perf_submit(ctx, f, sizeof(*f));
    }
    pending_execs.delete(&id);
    return 0;
}
""")
args = plumbing.parse(plumbing.parser("failed execs", probes=()), [])
b.attach_raw_tracepoint(tp="sys_enter", fn_name="enter")
b.attach_raw_tracepoint(tp="sys_exit", fn_name="leave")


def failed(cpu, data, size):
    f = b["out"].event(data)
    plumbing.show("%d %s %d %s" % (f.pid, plumbing.printable(f.comm), f.err, plumbing.printable(f.file)))


b["out"].open_perf_buffer(failed)
plumbing.run(b, args, "execve() failures", lambda: b.perf_buffer_poll(timeout=50))
