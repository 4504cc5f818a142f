# 005-ringbuf, another way: ringbuf_reserve() + ringbuf_submit() (the record is written in place), losses
# counted per CPU, the syscall tracepoint only.
import plumbing
from bcc import BPF

parser = plumbing.parser("opens via ring buffer", probes=())
parser.add_argument("--pid", type=int, default=0)
args = plumbing.parse(parser, [])
b = BPF(text=r"""
#define TASK_COMM_LEN 16
struct ev { u32 pid, flags; int n; char comm[TASK_COMM_LEN]; char path[256]; };
BPF_RINGBUF_OUTPUT(ring, 16);
BPF_PERCPU_ARRAY(failed, u64, 1);

TRACEPOINT_PROBE(syscalls, sys_enter_openat) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (PID && pid != PID)
        return 0;
    struct ev *e = ring.ringbuf_reserve(sizeof(struct ev));
    if (!e) {
        int k = 0;
        u64 *n = failed.lookup(&k);
        if (n)
            (*n)++;                     /* per CPU: no other CPU writes this slot */
        return 0;
    }
    e->pid = pid;
    e->flags = args->flags;
    bpf_get_current_comm(&e->comm, sizeof(e->comm));
    e->n = bpf_probe_read_user_str(e->path, sizeof(e->path), args->filename);
    ring.ringbuf_submit(e, 0);
    return 0;
}
""", cflags=["-DPID=%d" % args.pid])


def arrived(ctx, data, size):
    e = b["ring"].event(data)
    plumbing.show("%d %s %08o %s" % (e.pid, plumbing.printable(e.comm), e.flags, plumbing.string(e.path, e.n, 256)))


b["ring"].open_ring_buffer(arrived)
plumbing.run(b, args, "openat() through a ring buffer", lambda: b.ring_buffer_poll(timeout=50),
             summary=lambda: print("lost %d events in total" % b["failed"].sum(0).value))
