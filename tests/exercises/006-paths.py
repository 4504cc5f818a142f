# 006-paths, another way: the kprobe on do_sys_openat2 only where the kernel can (else openat's tracepoint),
# a u32 count, and the table printed sorted by name.
import plumbing
from bcc import BPF

parser = plumbing.parser("opens by path")
parser.add_argument("--pid", type=int, default=0)
args = plumbing.parse(parser, [])
b = BPF(text=r"""
#include <uapi/linux/ptrace.h>
struct name { char s[96]; };
BPF_HASH(by_name, struct name, u32, 4096);

static void note(const char __user *p) {
    if (PID && (bpf_get_current_pid_tgid() >> 32) != PID)
        return;
    struct name n;
    __builtin_memset(&n, 0, sizeof(n));
    bpf_probe_read_user_str(n.s, sizeof(n.s), p);
    u32 zero = 0, *c = by_name.lookup_or_try_init(&n, &zero);
    if (c)
        __sync_fetch_and_add(c, 1);
}
int k(struct pt_regs *ctx) { note((void *)PT_REGS_PARM2(ctx)); return 0; }
int t(struct tracepoint__syscalls__sys_enter_openat *args) { note(args->filename); return 0; }
""", cflags=["-DPID=%d" % args.pid])
plumbing.attach(args.probe, b, kprobe=lambda: b.attach_kprobe(event="do_sys_openat2", fn_name="k"),
                tracepoint=lambda: b.attach_tracepoint(tp="syscalls:sys_enter_openat", fn_name="t"))


def table():
    for key, count in sorted(b["by_name"].items(), key=lambda kv: kv[0].s):
        print(count.value, key.s.decode(errors="replace"))


plumbing.run(b, args, "opens", lambda: plumbing.sleep(0.2), summary=table)
