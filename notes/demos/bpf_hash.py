#!/usr/bin/env python3
"""BPF_HASH in practice: keys, a full map, and counting from two CPUs at once.

    sudo python3 notes/demos/bpf_hash.py

1. A tracepoint on syscalls:sys_enter_getppid, filtered to this process, counts calls per thread id in a hash
   of 4 entries; six threads call getppid().
2. A tracepoint on syscalls:sys_enter_close counts the calls close(-777) three times, under one key each:
   with a plain `(*value)++`, with bcc's `increment()` and with its `atomic_increment()`. Two processes
   (not threads: Python threads take turns), pinned to CPU 0 and CPU 1, call close(-777) 200000 times each;
   then both pinned to CPU 0.
Evidence for notes/maps.md.
"""
import ctypes as ct
import os
import platform
import threading

from bcc import BPF

PROGRAM = r"""
BPF_HASH(per_thread, u32, u64, 4);          /* key: thread id, value: calls; at most 4 entries */
BPF_HASH(totals, u32, u64);                 /* key 0: (*value)++, 1: increment(), 2: atomic_increment() */
BPF_ARRAY(failed_inserts, u64, 1);

TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    u64 id = bpf_get_current_pid_tgid();
    if (id >> 32 != TGID)
        return 0;
    u32 tid = id;
    u64 zero = 0, *count = per_thread.lookup(&tid);
    if (count) {
        (*count)++;
    } else if (per_thread.update(&tid, &zero) < 0) {   /* a full map: the insert fails (-E2BIG) */
        failed_inserts.increment(0);
    } else if ((count = per_thread.lookup(&tid))) {
        (*count)++;
    }
    return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_close) {
    if ((int)args->fd != -777)
        return 0;
    u32 plain = 0, incr = 1, atomic = 2;
    u64 zero = 0, *t = totals.lookup_or_try_init(&plain, &zero);
    if (t)
        (*t)++;                             /* read, add, write: two CPUs can interleave */
    totals.increment(incr);
    totals.atomic_increment(atomic);
    return 0;
}
"""


def getppid_calls(n):
    for _ in range(n):
        os.getppid()


def close_calls_in_child(n, cpu):
    pid = os.fork()
    if pid == 0:
        os.sched_setaffinity(0, {cpu})
        for _ in range(n):
            try:
                os.close(-777)
            except OSError:
                pass
        os._exit(0)
    return pid


def main():
    b = BPF(text=PROGRAM, cflags=["-DTGID=%d" % os.getpid()])
    print("kernel %s, bcc %s, %d CPUs" % (platform.release(), __import__("bcc").__version__, os.cpu_count()))
    threads = [threading.Thread(target=getppid_calls, args=(i + 1,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tids = [t.native_id for t in threads]
    print("\n1. six threads, thread i calling getppid() i times, into BPF_HASH(per_thread, u32, u64, 4)")
    print("   threads (tid: calls): %s" % ", ".join("%d: %d" % (t, i + 1) for i, t in enumerate(tids)))
    print("   per_thread.items():   %s" % ", ".join("%d: %d" % (k.value, v.value) for k, v in
                                                   sorted(b["per_thread"].items(), key=lambda kv: kv[0].value)))
    print("   failed inserts:       %d" % b["failed_inserts"][0].value)
    b["per_thread"].clear()
    print("   after per_thread.clear(): %d entries" % len(b["per_thread"].items()))

    n = 200000
    for part, cpus in ((2, (0, 1)), (3, (0, 0))):
        b["totals"].clear()
        for pid in [close_calls_in_child(n, cpu) for cpu in cpus]:
            os.waitpid(pid, 0)
        totals = {k.value: v.value for k, v in b["totals"].items()}
        print("\n%d. two processes on CPU %d and CPU %d, %d close(-777) calls each (%d in all)"
              % ((part,) + cpus + (n, 2 * n)))
        print("   (*value)++          counted %d" % totals[0])
        print("   increment()         counted %d" % totals[1])
        print("   atomic_increment()  counted %d" % totals[2])
    del b["totals"][ct.c_uint(1)]
    print("   after del totals[1]: keys %s" % sorted(k.value for k in b["totals"].keys()))


if __name__ == "__main__":
    main()
