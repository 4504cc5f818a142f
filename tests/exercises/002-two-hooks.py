# 002-two-hooks, another way: one tracepoint program per hook, attached as they load (TRACEPOINT_PROBE).
import plumbing
from bcc import BPF

args = plumbing.parse(plumbing.parser("two hooks", probes=()), [])
b = BPF(text=r"""
TRACEPOINT_PROBE(syscalls, sys_enter_clone) { bpf_trace_printk("Hello, clone!"); return 0; }
TRACEPOINT_PROBE(syscalls, sys_enter_execve) { bpf_trace_printk("Hello, execve!"); return 0; }
""")


def row():
    comm, tid, cpu, _, when, text = b.trace_fields()
    if isinstance(text, bytes):
        plumbing.show("%.6f %s %d %d %s" % (when, comm.decode(errors="replace"), tid, cpu, text.decode()))


plumbing.run(b, args, "two hooks", row, trace_pipe=True)
