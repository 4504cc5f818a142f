# 003-result, another way: the path waits in a map keyed by thread id; one record per open, at its exit,
# through a perf buffer (lessons 005-006), from the syscall tracepoints.
import plumbing
from bcc import BPF

b = BPF(text=r"""
#define TASK_COMM_LEN 16
struct open_t { u32 pid; long result; char comm[TASK_COMM_LEN]; char path[200]; };
BPF_HASH(inflight, u32, struct open_t);
BPF_PERF_OUTPUT(done);

TRACEPOINT_PROBE(syscalls, sys_enter_openat) {
    u32 tid = bpf_get_current_pid_tgid();
    struct open_t o = {};
    o.pid = tid;
    bpf_get_current_comm(&o.comm, sizeof(o.comm));
    bpf_probe_read_user_str(o.path, sizeof(o.path), args->filename);
    inflight.update(&tid, &o);
    return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_openat) {
    u32 tid = bpf_get_current_pid_tgid();
    struct open_t *o = inflight.lookup(&tid);
    if (o) {
        o->result = args->ret;
        done.perf_submit(args, o, sizeof(*o));
        inflight.delete(&tid);
    }
    return 0;
}
""")
args = plumbing.parse(plumbing.parser("opens with results", probes=()), [])


def finished(cpu, data, size):
    o = b["done"].event(data)
    plumbing.show("%d %s %d %s" % (o.pid, plumbing.printable(o.comm), o.result, plumbing.printable(o.path)))


b["done"].open_perf_buffer(finished, lost_cb=plumbing.lost)
plumbing.run(b, args, "openat()", lambda: b.perf_buffer_poll(timeout=50))
