# 004-uid, another way: one record per event through a perf buffer, tracepoints only, the filter in the kernel.
import plumbing
from bcc import BPF

parser = plumbing.parser("chmods by uid", probes=())
parser.add_argument("--uid", type=int)
args = plumbing.parse(parser, [])
text = r"""
#define TASK_COMM_LEN 16
struct rec { u32 tgid, tid, uid, mode; char comm[TASK_COMM_LEN]; char path[128]; };
BPF_PERF_OUTPUT(recs);

static int one(void *ctx, const char __user *name, u32 mode) {
    u64 ids = bpf_get_current_uid_gid(), pt = bpf_get_current_pid_tgid();
    if (WANT_UID >= 0 && (u32)ids != WANT_UID)
        return 0;
    struct rec r = {.tgid = pt >> 32, .tid = (u32)pt, .uid = (u32)ids, .mode = mode};
    bpf_get_current_comm(&r.comm, sizeof(r.comm));
    bpf_probe_read_user_str(r.path, sizeof(r.path), name);
    recs.perf_submit(ctx, &r, sizeof(r));
    return 0;
}
int fchmodat_entry(struct tracepoint__syscalls__sys_enter_fchmodat *a) { return one(a, a->filename, a->mode); }
"""
has_chmod = "chmod" in plumbing.syscalls("chmod")
if has_chmod:
    text += "int chmod_entry(struct tracepoint__syscalls__sys_enter_chmod *a) { return one(a, a->filename, a->mode); }\n"
b = BPF(text=text, cflags=["-DWANT_UID=%d" % (args.uid if args.uid is not None else -1)])
b.attach_tracepoint(tp="syscalls:sys_enter_fchmodat", fn_name="fchmodat_entry")
if has_chmod:
    b.attach_tracepoint(tp="syscalls:sys_enter_chmod", fn_name="chmod_entry")


def got(cpu, data, size):
    r = b["recs"].event(data)
    plumbing.show("%d %d %d %s %04o %s" % (r.tgid, r.tid, r.uid, plumbing.printable(r.comm), r.mode, plumbing.printable(r.path)))


b["recs"].open_perf_buffer(got)
plumbing.run(b, args, "chmod", lambda: b.perf_buffer_poll(timeout=50))
