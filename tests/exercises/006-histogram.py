# 006-histogram, another way: the interval in microseconds in the map, buckets computed from it by hand
# (log2 of milliseconds), keyed by thread id; the histogram printed by bcc's print_log2_hist.
import plumbing
from bcc import BPF

parser = plumbing.parser("intervals histogram")
parser.add_argument("--syscall", default="sync")
parser.add_argument("--pid", type=int, default=0)
args = plumbing.parse(parser, [])
b = BPF(text=r"""
BPF_HASH(seen, u64, u64);
BPF_HISTOGRAM(ms_log2, int, 64);

int tick(void *ctx) {
    u64 id = bpf_get_current_pid_tgid();
    if (PID && (id >> 32) != PID)
        return 0;
    u64 t = bpf_ktime_get_ns() / 1000, *before = seen.lookup(&id);
    if (before) {
        u64 ms = (t - *before) / 1000;
        int slot = 0;
        #pragma unroll
        for (int bit = 1; bit < 32; bit++)
            if (ms >> bit)
                slot = bit;
        if (ms)
            slot += 1;                  /* bcc's log2 buckets: 0 for 0, 1 for 1, 2 for 2-3, 3 for 4-7, ... */
        ms_log2.increment(slot);
    }
    seen.update(&id, &t);
    return 0;
}
""", cflags=["-DPID=%d" % args.pid])
plumbing.attach(args.probe, b,
                kprobe=lambda: b.attach_kprobe(event=b.get_syscall_fnname(args.syscall), fn_name="tick"),
                tracepoint=lambda: b.attach_tracepoint(tp="syscalls:sys_enter_" + args.syscall, fn_name="tick"))
plumbing.run(b, args, "intervals", lambda: plumbing.sleep(0.2), summary=lambda: b["ms_log2"].print_log2_hist("msecs"))
