#!/usr/bin/env python3
# SPOILER: a reference solution of exercise 006-paths. Try lessons/006_bpf_hash/ex_paths.py first.
# 剧透：练习 006-paths 的参考答案。请先自己做 lessons/006_bpf_hash/ex_paths.py。
import plumbing
from bcc import BPF

program = r"""
#include <uapi/linux/ptrace.h>

struct key_t { char path[64]; };
BPF_HASH(opens, struct key_t, u64);    // a string key: the first 63 bytes of the path

static int count(const char __user *filename) {
#ifdef FILTER_PID
    if (bpf_get_current_pid_tgid() >> 32 != FILTER_PID)
        return 0;
#endif
    struct key_t key = {};             // zeroed: the bytes after the string's NUL are part of the key too
    bpf_probe_read_user_str(&key.path, sizeof(key.path), filename);
    opens.increment(key);
    return 0;
}

int on_do_sys_openat2(struct pt_regs *ctx) { return count((const char __user *)PT_REGS_PARM2(ctx)); }
int on_openat(struct tracepoint__syscalls__sys_enter_openat *args) { return count(args->filename); }
"""

parser = plumbing.parser("Opens per file name, counted in the kernel, printed at Ctrl-C.")
parser.add_argument("--pid", type=plumbing.positive(int), help="only this process's opens")
args = plumbing.parse(parser, [])
b = BPF(text=program, cflags=["-DFILTER_PID=%d" % args.pid] if args.pid else [])
plumbing.attach(args.probe, b,
                kprobe=lambda: b.attach_kprobe(event="do_sys_openat2", fn_name="on_do_sys_openat2"),
                tracepoint=lambda: b.attach_tracepoint(tp="syscalls:sys_enter_openat", fn_name="on_openat"))


def print_counts():
    print("%7s %s" % ("COUNT", "PATH"))
    for k, v in sorted(b["opens"].items(), key=lambda kv: -kv[1].value):
        print("%7d %s" % (v.value, plumbing.printable(k.path)))


plumbing.run(b, args, "opens per path", lambda: plumbing.sleep(0.1), summary=print_counts)
