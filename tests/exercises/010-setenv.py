# A second solution of 010-setenv, written differently from solutions/: the entry keeps the argument pointers
# (not the strings), the return reads them into a per-CPU array slot and sends that; a full path to libc.
import plumbing
from bcc import BPF

b = BPF(text=r"""
#include <uapi/linux/ptrace.h>
struct args_t { const char *name, *value; int overwrite; };
struct out_t { u32 pid; int overwrite, result; char comm[16]; char name[64]; char value[64]; };
BPF_HASH(inflight, u32, struct args_t);
BPF_PERCPU_ARRAY(scratch, struct out_t, 1);
BPF_PERF_OUTPUT(out);

int enter(struct pt_regs *ctx) {
    u32 tid = bpf_get_current_pid_tgid();
    struct args_t a = {(const char *)PT_REGS_PARM1(ctx), (const char *)PT_REGS_PARM2(ctx), (int)PT_REGS_PARM3(ctx)};
    inflight.update(&tid, &a);
    return 0;
}

int leave(struct pt_regs *ctx) {
    u32 tid = bpf_get_current_pid_tgid(), zero = 0;
    struct args_t *a = inflight.lookup(&tid);
    struct out_t *o = scratch.lookup(&zero);
    if (a && o) {
        o->pid = bpf_get_current_pid_tgid() >> 32;
        o->overwrite = a->overwrite;
        o->result = (int)PT_REGS_RC(ctx);
        bpf_get_current_comm(o->comm, sizeof(o->comm));
        bpf_probe_read_user_str(o->name, sizeof(o->name), a->name);
        bpf_probe_read_user_str(o->value, sizeof(o->value), a->value);
        out.perf_submit(ctx, o, sizeof(*o));
        inflight.delete(&tid);
    }
    return 0;
}
""")
args = plumbing.parse(plumbing.parser("setenv() calls", probes=()), [])
libc = BPF.find_library("c")
b.attach_uprobe(name=libc, sym="setenv", fn_name="enter")
b.attach_uretprobe(name=libc, sym="setenv", fn_name="leave")


def line(cpu, data, size):
    o = b["out"].event(data)
    fields = (o.pid, plumbing.printable(o.comm), o.overwrite, o.result, plumbing.printable(o.name), plumbing.printable(o.value))
    plumbing.show("%d %s %d %d %s %s" % fields)


b["out"].open_perf_buffer(line, lost_cb=plumbing.lost)
plumbing.run(b, args, "setenv()", lambda: b.perf_buffer_poll(timeout=100))
