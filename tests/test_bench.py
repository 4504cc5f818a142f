"""bench/bench.py, the delivery benchmark: a quick run has every row, and where the mechanism counts its losses
exactly (perf and ring buffers, filtered to the workload) every event is either delivered or counted lost.
Bad input is one line; Ctrl-C in the middle restores the trace buffer's size and leaves no probe behind."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from harness import CAPS, ROOT, TIME_SCALE, bpf_objects_of, programs_left
from conftest import require

BENCH = ROOT / "bench" / "bench.py"
QUICK_TIMEOUT = 60 * TIME_SCALE      # about 8 s on the 2-CPU host


def buffer_kb():
    with open(CAPS.tracefs + "/buffer_size_kb") as f:
        return int(f.read().split()[0])


def bench_module():
    """bench/bench.py imported as a module: the tests read its rows and workloads from it, not from a copy."""
    sys.path.insert(0, str(BENCH.parent))
    try:
        import bench
    finally:
        sys.path.remove(str(BENCH.parent))
    return bench


def prerequisites():
    require(shutil.which("gcc") or shutil.which("cc"), "no C compiler (gcc): the benchmark builds its workloads")
    require(shutil.which("bpftrace"), "bpftrace is not installed (apt-get install bpftrace): the benchmark's peer")
    require((ROOT / "lessons/008_execve/execve.py").exists(), "lesson 008 is missing")


# The quick run in two halves, each with the untraced row its slowdowns need: the trace pipe's rows, which resize
# and fill the shared trace buffer (so they run in its group: conftest.py, kernel_group), and the rest, which
# need no trace buffer and run beside it. Split by each path's kind, so together they have every row.
HALVES = ["trace_pipe", "perf-ringbuf-bpftrace"]


def half_paths(bench, half):
    return [p.id for p in bench.PATHS if p.kind == "none" or (p.kind == "trace_pipe") == (half == "trace_pipe")]


@pytest.mark.parametrize("half", HALVES)
def test_quick_run_has_every_row_and_exact_losses(bpf_ready, tmp_path, half):
    prerequisites()
    bench = bench_module()
    out_json, out_svg, paths = tmp_path / "results.json", tmp_path / "bench.svg", half_paths(bench, half)
    kb_before = buffer_kb()
    start = time.monotonic()
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--paths", ",".join(paths),
                           "--json", str(out_json), "--svg", str(out_svg)],
                          cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=QUICK_TIMEOUT)
    took = time.monotonic() - start
    out, err = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, out + err
    assert "Traceback" not in out + err, out + err
    if half == "trace_pipe":    # the other half never resizes it, and the trace buffer's group may, meanwhile
        assert buffer_kb() == kb_before, "buffer_size_kb not restored"

    # every (workload, path) row of this half in the printed table, with its label
    table = [line for line in out.splitlines() if line.startswith("| ") and " ×" in line.split("|")[1]]
    expected = [(w, p) for w in bench.WORKLOADS for p in bench.PATHS if w in p.workloads and p.id in paths]
    assert len(table) == len(expected), out
    for (w, p), line in zip(expected, table):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0].startswith(w + " ×"), line
        assert cells[1] == p.label.format(kb=kb_before), line

    result = json.loads(out_json.read_text())
    rows = {(r["workload"], r["path"]): r for r in result["rows"]}
    assert set(rows) == set((w, p.id) for w, p in expected)
    for (w, pid), row in rows.items():
        for run in row["runs"]:
            assert run["elapsed_s"] > 0, (w, pid, run)
            if pid == "untraced":
                continue
            assert 0 <= run["delivered"] <= run["caused"], (w, pid, run)
            if row["loss_exact"]:    # perf and ring buffers, filtered to the workload: nothing unaccounted
                assert run["delivered"] + run["lost"] == run["caused"], (w, pid, run)
    assert out_svg.read_text().lstrip().startswith("<?xml"), "no SVG chart"
    print("quick benchmark (%s) took %.1f s" % (half, took))
    if half == "trace_pipe":
        return
    # paths that cannot lose on a small burst deliver everything: the filter catches exactly the workload
    for w in bench.WORKLOADS:
        for pid in ("perf_1024", "ringbuf_4096", "ringbuf_nowakeup"):
            run = rows[(w, pid)]["runs"][0]
            assert run["delivered"] == run["caused"], (w, pid, run)
    assert rows[("exec", "lesson008")]["runs"][0]["delivered"] == result["settings"]["n"]["exec"]


def test_bad_input_is_one_line(tmp_path):
    for args in (["--runs", "0"], ["--n-getpid", "-5"], ["--workloads", "fork"], ["--paths", "carrier-pigeon"]):
        proc = subprocess.run([sys.executable, str(BENCH), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=30 * TIME_SCALE)
        err = proc.stderr.decode(errors="replace")
        assert proc.returncode == 2, (args, err)
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), (args, err)
    proc = subprocess.run([sys.executable, str(BENCH), "--chart-only", "--json", str(tmp_path / "none.json")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30 * TIME_SCALE)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 1 and len(err.strip().splitlines()) == 1 and "cannot read" in err, err


def test_ctrl_c_restores_trace_buffer_and_detaches(bpf_ready):
    """SIGINT while the enlarged trace buffer is in use: exit 130, the buffer's size back, no probe left."""
    require(shutil.which("gcc") or shutil.which("cc"), "no C compiler (gcc)")
    kb_before = buffer_kb()
    proc = subprocess.Popen([sys.executable, str(BENCH), "--workloads", "getpid", "--paths", "trace_pipe_big",
                             "--n-getpid", "50000000", "--runs", "1", "--no-write"], cwd=str(ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 30 * TIME_SCALE
        while buffer_kb() == kb_before and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert buffer_kb() != kb_before, "the benchmark never enlarged the trace buffer"   # in use from here on
        prog_ids = bpf_objects_of(proc.pid)[1]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20 * TIME_SCALE)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5 * TIME_SCALE)
    err = err.decode(errors="replace")
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert "interrupted" in err, err
    assert buffer_kb() == kb_before, "buffer_size_kb not restored after Ctrl-C"
    assert prog_ids, "the benchmark held no BPF program while it ran"
    still, how = programs_left(prog_ids)
    assert not still, "the benchmark's programs %s are still loaded (%s)" % (sorted(still), how)


def test_readmes_show_the_committed_results():
    """bench/README.md and README.zh.md show bench/results.json's numbers (bench.py writes both sections)."""
    bench = bench_module()
    result = json.loads(bench.RESULTS.read_text())
    for lang, path in bench.READMES.items():
        text = path.read_text()
        start, end = text.index(bench.SECTION[0]) + len(bench.SECTION[0]), text.index(bench.SECTION[1])
        assert text[start:end] == bench.results_section(result, lang), "%s: run bench/bench.py --chart-only" % path


def test_suite_time_bad_input_is_one_line():
    """bench/suite_time.py, which times make test itself (too long to run here): bad input stops it at once."""
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "suite_time.py"), "--runs", "0"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30 * TIME_SCALE, text=True)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr.splitlines()[-1] == "suite_time.py: error: --runs must be between 1 and 20", proc.stderr
