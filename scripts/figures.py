#!/usr/bin/env python3
"""Draw the figures in img/ (`make figures`): SVG, text, and byte-for-byte the same when the inputs are the same.

    python3 scripts/figures.py [--check] [NAME...]      NAME: pid_tgid, paths, kernel_matrix, bench, flamegraph
                                                        (default: all)

- img/pid_tgid.svg                  the 64-bit value bpf_get_current_pid_tgid() returns (notes/helpers.md)
- img/path_{trace_pipe,perf_buffer,ring_buffer}.svg
                                    an event's way from the probe to Python, one per output path
                                    (notes/output-paths.md)
- img/kernel_matrix.svg             test results per lesson and kernel, from results/kernel-matrix/<lane>/junit.xml
                                    (written by scripts/kernel-matrix.sh, read with scripts/matrix/report.py);
                                    skipped, with a message, when there are no results
- img/flamegraph.svg                a flame graph of img/flamegraph.folded (a real run of lesson 012's profile mode,
                                    scripts/sample_runs.py "012-profile"), drawn by lessons/012_stacks/flamegraph.py
- img/bench.svg                     the benchmark chart, drawn by bench/bench.py --chart-only from
                                    bench/results.json; skipped, with a message, when there are no results

--check: draw into a temporary folder and compare with img/; exit 1 when a figure in img/ is out of date.

Needs matplotlib (Debian: python3-matplotlib). Deterministic: no date or creator in the SVG metadata, a fixed
svg.hashsalt for the ids, text kept as text (svg.fonttype none), and inputs read in sorted order.
"""
import argparse
import filecmp
import glob
import importlib.util
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMG = os.path.join(ROOT, "img")

try:
    import matplotlib
    matplotlib.use("svg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
except ImportError:
    sys.exit("figures: matplotlib is missing: sudo apt install python3-matplotlib (run with /usr/bin/python3 or .venv)")

matplotlib.rcParams.update({
    "svg.hashsalt": "bpf-lessons",       # ids in the SVG from a fixed salt, not from random numbers
    "svg.fonttype": "none",              # text stays text: smaller, diffable, searchable
    "font.family": "DejaVu Sans",
    "font.size": 10,
})
METADATA = {"Date": None, "Creator": None}    # no timestamp, no matplotlib version in the file
COLORS = {"kernel": "#dbe9f6", "buffer": "#fde9c9", "user": "#dff0d8", "lost": "#b03a2e", "edge": "#34495e",
          "pass": "#5cb85c", "fail": "#d9534f", "skip": "#f0ad4e", "none": "#eeeeee"}


def save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    fig.savefig(path, format="svg", metadata=METADATA, bbox_inches="tight")
    plt.close(fig)
    return path


def box(ax, x, y, w, h, text, color, size=9, weight="normal"):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", fc=color,
                                ec=COLORS["edge"], lw=1))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size, weight=weight, wrap=True)


def arrow(ax, x0, y0, x1, y1, label=None, color=None):
    ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=12, lw=1.2,
                                 color=color or COLORS["edge"]))
    if label:
        ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.12, label, ha="center", va="bottom", fontsize=8,
                family="DejaVu Sans Mono")


# ---------------------------------------------------------------- pid_tgid
def pid_tgid(out_dir):
    """The example values are the worker thread of the run shown in notes/helpers.md."""
    tgid, tid = 25840, 25841
    fig, ax = plt.subplots(figsize=(8.6, 3.0))
    ax.set_xlim(-0.6, 64.6)
    ax.set_ylim(-3.4, 2.6)
    ax.axis("off")
    ax.add_patch(Rectangle((0, 0), 32, 1, fc=COLORS["kernel"], ec=COLORS["edge"]))
    ax.add_patch(Rectangle((32, 0), 32, 1, fc=COLORS["user"], ec=COLORS["edge"]))
    ax.text(16, 0.5, "tgid  (upper 32 bits)", ha="center", va="center", weight="bold")
    ax.text(48, 0.5, "pid  (lower 32 bits)", ha="center", va="center", weight="bold")
    for x, bit in ((0, "63"), (31.3, "32"), (32.7, "31"), (64, "0")):
        ax.text(x, 1.15, bit, ha="center", va="bottom", fontsize=8, family="DejaVu Sans Mono")
    ax.text(32, 2.2, "u64 id = bpf_get_current_pid_tgid();   e.g. 0x%x" % (tgid << 32 | tid), ha="center",
            family="DejaVu Sans Mono")
    ax.text(16, -0.55, "id >> 32  =  %d" % tgid, ha="center", va="top", family="DejaVu Sans Mono")
    ax.text(16, -1.15, "the process id: getpid(), what ps shows as PID", ha="center", va="top", fontsize=9)
    ax.text(48, -0.55, "(u32)id  =  %d" % tid, ha="center", va="top", family="DejaVu Sans Mono")
    ax.text(48, -1.15, "the thread id: gettid(), one per thread", ha="center", va="top", fontsize=9)
    ax.text(48, -1.75, "u32 pid = bpf_get_current_pid_tgid();", ha="center", va="top", fontsize=9,
            family="DejaVu Sans Mono", color=COLORS["lost"])
    ax.text(48, -2.3, "keeps this half: the thread id, not the process id", ha="center", va="top", fontsize=9,
            color=COLORS["lost"])
    ax.text(32, -3.1, "In the kernel a thread is a task with its own pid; the process is the thread group (tgid).",
            ha="center", va="top", fontsize=8, style="italic")
    return [save(fig, out_dir, "pid_tgid.svg")]


# ---------------------------------------------------------------- output paths
PATHS = {
    "trace_pipe": dict(
        title="trace pipe: bpf_trace_printk()",
        helper='bpf_trace_printk("...%d", v)\nformats text in the kernel',
        buffer="the machine's one trace buffer\nper-CPU, shared with every tool;\nlines merged by time",
        reader="trace_pipe (tracefs)\none reader at a time;\nreading consumes lines",
        python="b.trace_print() / b.trace_fields()\nparse text: (task, pid, cpu,\nflags, ts, msg)",
        lost="full: oldest lines overwritten;\ncount only in per_cpu/cpu*/stats 'overrun'"),
    "perf_buffer": dict(
        title="perf buffer: BPF_PERF_OUTPUT + perf_submit()",
        helper="events.perf_submit(ctx, &e, sizeof(e))\ncopies the struct (bpf_perf_event_output)",
        buffer="one ring per CPU\n(page_cnt pages each),\nthis program's own",
        reader="b.perf_buffer_poll(ms)\nepoll on every CPU's ring;\nCPU by CPU: order lost",
        python="callback(cpu, data, size)\nb['events'].event(data): a view\ninto the ring: copy fields",
        lost="full: event dropped; lost_cb(n) called\nwhen that CPU's next event arrives"),
    "ring_buffer": dict(
        title="ring buffer: BPF_RINGBUF_OUTPUT (kernel 5.8+)",
        helper="events.ringbuf_output(&e, sizeof(e), 0)\nor ringbuf_reserve() + ringbuf_submit()",
        buffer="one ring for all CPUs\n(page_cnt pages),\nthis program's own",
        reader="b.ring_buffer_poll(ms)\nevents in the order\nthey were reserved",
        python="callback(ctx, data, size)\nb['events'].event(data): a view\ninto the ring: copy fields",
        lost="full: ringbuf_output() returns < 0;\nonly the program knows: count it there"),
}


def paths(out_dir):
    written = []
    for name, p in PATHS.items():
        fig, ax = plt.subplots(figsize=(12.5, 3.2))
        ax.set_xlim(0, 12.5)
        ax.set_ylim(0, 3.2)
        ax.axis("off")
        ax.text(0.05, 3.05, p["title"], fontsize=11, weight="bold", va="top")
        ax.add_patch(Rectangle((0.05, 0.75), 7.1, 1.95, fc="none", ec="#aab7c4", ls="--", lw=0.8))
        ax.text(0.12, 2.62, "kernel", fontsize=8, color="#5d6d7e", va="top")
        ax.add_patch(Rectangle((7.3, 0.75), 5.15, 1.95, fc="none", ec="#aab7c4", ls="--", lw=0.8))
        ax.text(7.37, 2.62, "user space (Python, bcc)", fontsize=8, color="#5d6d7e", va="top")
        box(ax, 0.2, 1.05, 1.3, 1.2, "probe fires:\nthe BPF\nprogram runs", COLORS["kernel"], size=8)
        box(ax, 1.8, 1.05, 2.85, 1.2, p["helper"], COLORS["kernel"], size=7.5)
        box(ax, 4.95, 1.05, 2.05, 1.2, p["buffer"], COLORS["buffer"], size=7.5)
        box(ax, 7.45, 1.05, 2.15, 1.2, p["reader"], COLORS["user"], size=7.5)
        box(ax, 9.9, 1.05, 2.45, 1.2, p["python"], COLORS["user"], size=7.5)
        for x0, x1 in ((1.5, 1.8), (4.65, 4.95), (7.0, 7.45), (9.6, 9.9)):
            arrow(ax, x0, 1.65, x1, 1.65)
        ax.text(5.97, 0.62, "when it is full: " + p["lost"].replace("full: ", ""), ha="center", va="top",
                fontsize=8, color=COLORS["lost"])
        written.append(save(fig, out_dir, "path_%s.svg" % name))
    return written


# ---------------------------------------------------------------- kernel matrix
def load_report():
    spec = importlib.util.spec_from_file_location("matrix_report", os.path.join(ROOT, "scripts/matrix/report.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def kernel_matrix(out_dir):
    results = os.path.join(ROOT, "results", "kernel-matrix")
    lane_dirs = sorted(d for d in glob.glob(os.path.join(results, "*")) if os.path.exists(os.path.join(d, "junit.xml")))
    if not lane_dirs:
        print("figures: kernel_matrix: SKIPPED: no results/kernel-matrix/<lane>/junit.xml yet "
              "(run `sudo make test-kernels` first)")
        return []
    report = load_report()
    order = {name: i for i, name in enumerate(report.LANE_ORDER)}
    lanes = sorted((report.Lane(os.path.basename(d), d) for d in lane_dirs),
                   key=lambda lane: (order.get(lane.name, len(order)), lane.name))
    rows = [(label.replace("`", ""), f) for label, f in report.rows(lanes, os.path.join(ROOT, "lessons"))]
    fig, ax = plt.subplots(figsize=(2.2 + 1.9 * len(lanes), 0.9 + 0.42 * len(rows)))
    ax.set_xlim(0, len(lanes))
    ax.set_ylim(len(rows), -1.3)
    ax.axis("off")
    for j, lane in enumerate(lanes):
        ax.text(j + 0.5, -0.7, "%s\n%s\nbcc %s" % (lane.name, lane.kernel, lane.bcc), ha="center", va="center",
                fontsize=8)
    for i, (label, test_file) in enumerate(rows):
        ax.text(-0.05, i + 0.5, label, ha="right", va="center", fontsize=8, family="DejaVu Sans Mono")
        for j, lane in enumerate(lanes):
            f = lane.files.get(test_file) if test_file else None
            if f is None:
                color, text = COLORS["none"], "no tests" if test_file is None else "not run"
            else:
                total = f["passed"] + f["failed"] + f["skipped"]
                color = COLORS["fail"] if f["failed"] else COLORS["skip"] if f["skipped"] else COLORS["pass"]
                text = "%d/%d" % (f["passed"], total) + ("  %s" % "/".join(sorted(f["auto"])) if f["auto"] else "")
            ax.add_patch(Rectangle((j + 0.04, i + 0.06), 0.92, 0.88, fc=color, ec="white"))
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=8)
    ax.text(0, len(rows) + 0.3, "passed/run per test file; kprobe/tracepoint: what --probe auto attached. "
            "Source: results/kernel-matrix (scripts/kernel-matrix.sh)", fontsize=7, va="top", style="italic")
    return [save(fig, out_dir, "kernel_matrix.svg")]


# ---------------------------------------------------------------- benchmarks
def bench(out_dir):
    """The benchmark draws its own chart (bench/bench.py --chart-only) from bench/results.json: one drawing, not two."""
    results = os.path.join(ROOT, "bench", "results.json")
    if not os.path.exists(results):
        print("figures: bench: SKIPPED: no bench/results.json yet (run `sudo make bench` first)")
        return []
    out = os.path.join(out_dir, "bench.svg")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench.py"), "--chart-only", "--json", results,
                    "--svg", out], check=True, stdout=subprocess.DEVNULL)
    return [out]


# ---------------------------------------------------------------- lesson 012's flame graph
def flamegraph(out_dir):
    """The lesson's own renderer (standard library only) on a folded file kept in img/."""
    path = os.path.join(ROOT, "lessons", "012_stacks", "flamegraph.py")
    spec = importlib.util.spec_from_file_location("flamegraph", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with open(os.path.join(IMG, "flamegraph.folded")) as f:
        stacks = module.read(f)
    out = os.path.join(out_dir, "flamegraph.svg")
    module.write(out, stacks, "stacks.py --mode profile, the whole machine, 2 s")
    return [out]


FIGURES = {"pid_tgid": pid_tgid, "paths": paths, "kernel_matrix": kernel_matrix, "bench": bench,
           "flamegraph": flamegraph}


def main():
    parser = argparse.ArgumentParser(description="Draw the figures in img/.")
    parser.add_argument("names", nargs="*", choices=[[]] + list(FIGURES), metavar="NAME",
                        help="which figures (default: all): " + ", ".join(FIGURES))
    parser.add_argument("--check", action="store_true", help="compare with img/ instead of writing; exit 1 if stale")
    args = parser.parse_args()
    names = args.names or list(FIGURES)
    if not args.check:
        os.makedirs(IMG, exist_ok=True)
        for name in names:
            for path in FIGURES[name](IMG):
                print("figures: wrote %s" % os.path.relpath(path, ROOT))
        return 0
    stale = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            for path in FIGURES[name](tmp):
                mine = os.path.join(IMG, os.path.basename(path))
                if not os.path.exists(mine) or not filecmp.cmp(path, mine, shallow=False):
                    stale.append(os.path.relpath(mine, ROOT))
    for s in stale:
        print("figures: out of date: %s (run `make figures`)" % s)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
