# 007-exit, another way: bpf_trace_printk and trace_fields() instead of a perf buffer, explicit attach.
import plumbing
from bcc import BPF

b = BPF(text=plumbing.marked(r"""
int ended(struct tracepoint__syscalls__sys_enter_exit_group *args) {
    bpf_trace_printk("MARK %d %d", bpf_get_current_pid_tgid() >> 32, (int)args->error_code);
    return 0;
}
"""))
args = plumbing.parse(plumbing.parser("exit codes", probes=()), [])
b.attach_tracepoint(tp="syscalls:sys_enter_exit_group", fn_name="ended")


def show():
    task, tid, cpu, _, ts, msg = b.trace_fields()
    f = plumbing.ours(msg, 2)
    if f:
        plumbing.show("%s %s %s" % (f[0].decode(), plumbing.printable(task).replace(" ", "_") or "?", f[1].decode()))


plumbing.run(b, args, "exit_group()", show, trace_pipe=True)
