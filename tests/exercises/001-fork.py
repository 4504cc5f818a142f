# 001-fork, another way: the tracepoint attached by an explicit call, and the lines split with trace_fields().
import plumbing
from bcc import BPF

b = BPF(text=r"""
int on_new_task(struct tracepoint__sched__sched_process_fork *ctx) {
    u32 who = ctx->parent_pid, born = ctx->child_pid;
    bpf_trace_printk("fork: parent=%d child=%d", who, born);
    return 0;
}
""")
args = plumbing.parse(plumbing.parser("forks", probes=()), [])
b.attach_tracepoint(tp="sched:sched_process_fork", fn_name="on_new_task")


def one_line():
    task, pid, cpu, flags, ts, msg = b.trace_fields()
    plumbing.show("%s %d %s" % (plumbing.printable(task), pid, plumbing.printable(msg)))


plumbing.run(b, args, "sched_process_fork", one_line, trace_pipe=True)
