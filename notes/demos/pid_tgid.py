#!/usr/bin/env python3
"""What bpf_get_current_pid_tgid() and bpf_get_current_comm() return, for two threads of one process.

    sudo python3 notes/demos/pid_tgid.py

The main thread and a second thread (renamed with prctl(PR_SET_NAME)) each call getppid(); a tracepoint on
syscalls:sys_enter_getppid, filtered to this process, sends what the helpers returned through the perf buffer.
Evidence for notes/helpers.md. Needs root, bcc (python3-bpfcc), the syscalls tracepoints.
"""
import ctypes as ct
import os
import platform
import threading

from bcc import BPF

PROGRAM = r"""
#define TASK_COMM_LEN 16
struct event { u64 id; u32 low, high, assigned; char comm[TASK_COMM_LEN]; };
BPF_PERF_OUTPUT(events);

TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    u64 id = bpf_get_current_pid_tgid();
    if (id >> 32 != TGID)                   /* only this process */
        return 0;
    struct event e = {};
    e.id = id;
    e.low = id;                             /* lower 32 bits: the thread id */
    e.high = id >> 32;                      /* upper 32 bits: the thread group id = the process id */
    u32 pid = bpf_get_current_pid_tgid();   /* the seed's line: keeps the lower half */
    e.assigned = pid;
    bpf_get_current_comm(&e.comm, sizeof(e.comm));
    events.perf_submit(args, &e, sizeof(e));
    return 0;
}
"""


def main():
    b = BPF(text=PROGRAM, cflags=["-DTGID=%d" % os.getpid()])
    seen = []
    b["events"].open_perf_buffer(lambda cpu, data, size: seen.append(b["events"].event(data)))
    tids = {"main": threading.get_native_id()}

    def worker():
        ct.CDLL(None).prctl(15, b"worker-1", 0, 0, 0)   # PR_SET_NAME: this thread's comm only
        tids["worker-1"] = threading.get_native_id()
        os.getppid()
    os.getppid()
    t = threading.Thread(target=worker)
    t.start()
    t.join()
    while len(seen) < 2:
        b.perf_buffer_poll(1000)
    print("kernel %s; os.getpid() = %d" % (platform.release(), os.getpid()))
    print("%-9s %-9s %-14s %-8s %-8s %-17s %s" % ("THREAD", "TID", "pid_tgid", ">>32", "(u32)", "u32 pid = ...;", "comm"))
    for e in sorted(seen, key=lambda e: e.low != tids["main"]):
        who = next(k for k, v in tids.items() if v == e.low)
        print("%-9s %-9d 0x%-12x %-8d %-8d %-17d %s" % (who, e.low, e.id, e.high, e.low, e.assigned, e.comm.decode()))


if __name__ == "__main__":
    main()
