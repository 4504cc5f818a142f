#!/usr/bin/env python3
"""How long `make test` takes on this machine, and how much of the machine it had: a table, one row per run.

    sudo .venv/bin/python bench/suite_time.py            # one run of make test (~2-3 min on 2 CPUs)
    sudo .venv/bin/python bench/suite_time.py --runs 3

The goal (CONTRIBUTING.md, "Tests") is a time on a 2-core host, but a virtual machine shares its cores with
neighbours we cannot see: the same commit took 106 s on one day and 170 s on the next. So each row also says how
fast the host was: a fixed Python loop timed alone, then two copies at once, before and after the run, and the
CPU time the hypervisor stole meanwhile. On a host whose two cores are free, two copies take as long as one; when
they take ~1.7 times as long, the suite's seconds mean little. The CPU seconds tell it too: the suite does the
same work every run, so more CPU seconds for it mean slower cores. The trace buffer's group is the suite's
longest path (conftest.py, kernel_group): its tests' time is shown apart, from pytest's junit XML.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOOP = ("import time\nt = time.process_time()\nx = 0\nfor i in range(5_000_000):\n    x += i\n"
        "print(time.process_time() - t)")


def loop_seconds(copies):
    """CPU seconds of the fixed loop, the slowest of `copies` run at once."""
    procs = [subprocess.Popen([sys.executable, "-c", LOOP], stdout=subprocess.PIPE, text=True)
             for _ in range(copies)]
    return max(float(p.communicate(timeout=120)[0]) for p in procs)


def stolen():
    """Seconds the hypervisor gave this machine's CPUs to someone else, since boot (/proc/stat's steal)."""
    with open("/proc/stat") as f:
        return int(f.readline().split()[8]) / os.sysconf("SC_CLK_TCK")


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def one_run(junit):
    solo, pair = loop_seconds(1), loop_seconds(2)
    cpu, steal, start = children_cpu(), stolen(), time.monotonic()
    proc = subprocess.run(["make", "-s", "test", "PYTEST_ARGS=-q --junitxml=%s" % junit], cwd=str(ROOT),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall, cpu, steal = time.monotonic() - start, children_cpu() - cpu, stolen() - steal
    pair_after = loop_seconds(2)
    cases = list(ET.parse(junit).iter("testcase")) if os.path.exists(junit) else []
    failed = sum(1 for c in cases if c.find("failure") is not None or c.find("error") is not None)
    group = sum(float(c.get("time", 0)) for c in cases if c.get("name", "").endswith("@trace-buffer"))
    last = [line for line in proc.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))] or \
        proc.stdout.strip().splitlines()[-1:] or ["(no output)"]
    return {"exit": proc.returncode, "wall": wall, "cpu": cpu, "tests": len(cases), "failed": failed,
            "group": group, "steal": steal, "solo": solo, "pair": pair, "pair_after": pair_after,
            "last": "\n".join(last)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=1, help="how many runs of make test (default 1)")
    args = p.parse_args()
    if not 1 <= args.runs <= 20:
        p.error("--runs must be between 1 and 20")
    if os.geteuid() != 0:
        sys.exit("error: make test runs as root: sudo .venv/bin/python bench/suite_time.py")
    print("| run | make test s | CPU s (user+sys) | tests | failed | trace buffer's group s | stolen s | "
          "loop alone s | two loops at once s, before / after |")
    print("|---|---|---|---|---|---|---|---|---|")
    exit_code = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(1, args.runs + 1):
            r = one_run(os.path.join(tmp, "junit-%d.xml" % i))
            print("| %d | %.0f | %.0f | %d | %d | %.0f | %.1f | %.2f | %.2f / %.2f |" % (
                i, r["wall"], r["cpu"], r["tests"], r["failed"], r["group"], r["steal"], r["solo"], r["pair"],
                r["pair_after"]), flush=True)
            if r["exit"] != 0:
                exit_code = 1
                print("run %d: make test exited %d:\n%s" % (i, r["exit"], r["last"]), file=sys.stderr)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
