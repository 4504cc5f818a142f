"""scripts/setup.sh: one clear line where it cannot work; a second run on a set-up machine only checks."""
import os
import shutil
import subprocess
import time

from harness import ROOT

SETUP = str(ROOT / "scripts" / "setup.sh")


def test_not_root_stops_with_one_line():
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to drop privileges"
    if os.geteuid() != 0:
        cmd = ["bash", SETUP]          # already unprivileged
    else:
        cmd = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "bash", SETUP]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert p.stderr.splitlines() == ["setup: error: needs root (BPF, mounts, apt): run it as 'sudo make run' "
                                     "or 'sudo make test'"]


def test_second_run_is_a_quick_check(bpf_ready):
    """`make test` has just run set-up; running it again installs nothing and ends with its ready line."""
    start = time.monotonic()
    p = subprocess.run(["bash", SETUP], capture_output=True, text=True, timeout=120)
    took = time.monotonic() - start
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert not any(line.startswith(("setup: installing", "setup: creating", "setup: mounted")) for line in lines), lines
    assert lines[-1].startswith("setup: ready (bcc %s, kernel %s)" % (bpf_ready.bcc_version, bpf_ready.kernel))
    print("set-up check took %.1f s" % took)
