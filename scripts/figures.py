#!/usr/bin/env python3
"""Draw the figures in img/ (`make figures`): SVG, text, and byte-for-byte the same when the inputs are the same.

    python3 scripts/figures.py [--check] [NAME...]      NAME: pid_tgid, paths, kernel_matrix, bench, flamegraph
                                                        (default: all)

Each figure in English (img/N.svg) and in Chinese (img/N.zh.svg, for the .zh.md pages). Readable on the website
as it is: at most WIDTH_IN inches wide, so that the page (688 px of text on a desktop) shows it at its own size
(1 pt = 1.33 px), and no text under MIN_FONT points (12.6 px there); a click on a figure shows it alone.

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

Needs matplotlib (Debian: python3-matplotlib) and, for the Chinese figures, the font WenQuanYi Micro Hei (Debian:
fonts-wqy-microhei), with which matplotlib measures the Chinese text. Deterministic: no date or creator in the SVG
metadata, a fixed svg.hashsalt for the ids, text kept as text (svg.fonttype none), inputs read in sorted order.
The SVG names its fonts for the browser, which draws the text: DejaVu Sans, then Chinese fonts that Linux, macOS
and Windows have (CJK_FONTS).
"""
import argparse
import filecmp
import glob
import importlib.util
import logging
import os
import shutil
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
    "font.size": 11,
})
METADATA = {"Date": None, "Creator": None}    # no timestamp, no matplotlib version in the file
WIDTH_IN, MIN_FONT = 7.15, 9.5   # inches, points: see the docstring
# The Chinese figures' fonts, as the SVG names them: the first one installed draws the Chinese (WenQuanYi Micro Hei
# first: matplotlib measures with it, so that the same inputs give the same bytes on every machine that has it).
CJK_FONTS = ["WenQuanYi Micro Hei", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei"]
CJK_MONO = ["WenQuanYi Micro Hei Mono", "Noto Sans Mono CJK SC"]
LANGS = ("en", "zh")
SANS, MONO = ["DejaVu Sans"], ["DejaVu Sans Mono"]


def use_language(lang):
    """Fonts for a language's figures: DejaVu, and for Chinese the CJK fonts after it (each character from the first
    font that has it, in matplotlib and in the browser)."""
    global SANS, MONO
    if lang == "en":
        SANS, MONO = ["DejaVu Sans"], ["DejaVu Sans Mono"]
    else:
        from matplotlib import font_manager
        logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)   # the fonts of other systems
        try:
            font_manager.findfont(font_manager.FontProperties(family=CJK_FONTS[0]), fallback_to_default=False)
        except ValueError:   # not in matplotlib's font cache (made before the font was installed): fontconfig's file
            found = subprocess.run(["fc-match", "-f", "%{family}\t%{file}", CJK_FONTS[0]], capture_output=True,
                                   text=True).stdout if shutil.which("fc-match") else ""
            family, _, path = found.partition("\t")
            if CJK_FONTS[0] not in family.split(","):
                sys.exit("error: figures: the Chinese figures need the font %s: sudo apt install fonts-wqy-microhei"
                         % CJK_FONTS[0])
            font_manager.fontManager.addfont(path)
        # mono: the CJK mono fonts for the browser, then the one matplotlib has, to measure with
        SANS, MONO = ["DejaVu Sans"] + CJK_FONTS, ["DejaVu Sans Mono"] + CJK_MONO + CJK_FONTS[:1]
    matplotlib.rcParams["font.family"] = SANS


def suffix(lang):
    return "" if lang == "en" else "." + lang
COLORS = {"kernel": "#dbe9f6", "buffer": "#fde9c9", "user": "#dff0d8", "lost": "#b03a2e", "edge": "#34495e",
          "pass": "#5cb85c", "fail": "#d9534f", "skip": "#f0ad4e", "none": "#eeeeee"}


def save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    fig.savefig(path, format="svg", metadata=METADATA, bbox_inches="tight")
    plt.close(fig)
    return path


def box(ax, x, y, w, h, text, color, size=MIN_FONT, family=None):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=4", fc=color,
                                ec=COLORS["edge"], lw=1))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size, family=family or SANS,
            linespacing=1.3)


def arrow(ax, x0, y0, x1, y1):
    ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=14, lw=1.3,
                                 color=COLORS["edge"]))


def canvas(width, height):
    """A figure whose data units are points: (0, 0) bottom left, (width, height) top right."""
    fig = plt.figure(figsize=(width / 72, height / 72))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    return fig, ax


# ---------------------------------------------------------------- pid_tgid
PID_TGID = {
    "en": dict(upper="tgid  (upper 32 bits)", lower="pid  (lower 32 bits)", example="e.g.",
               process="the process id: getpid(),\nwhat ps shows as PID",
               thread="the thread id: gettid(),\none per thread",
               keeps="keeps this half: the thread id,\nnot the process id",
               note="In the kernel a thread is a task with its own pid;\nthe process is the thread group (tgid)."),
    "zh": dict(upper="tgid（高 32 位）", lower="pid（低 32 位）", example="例如",
               process="进程 ID：getpid()，\n即 ps 显示的 PID",
               thread="线程 ID：gettid()，\n每个线程一个",
               keeps="留下的是这一半：线程 ID，\n不是进程 ID",
               note="在内核里，线程是有自己 pid 的任务；\n进程是线程组（tgid）。"),
}


def pid_tgid(out_dir, lang):
    """The example values are the worker thread of the run shown in notes/helpers.md."""
    t, tgid, tid = PID_TGID[lang], 25840, 25841
    width, height = WIDTH_IN * 72, 232
    fig, ax = canvas(width, height)
    left, right, top = 8, width - 8, height - 80   # the 64 bits: [left, right], 28 pt high, under the bit numbers
    mid = (left + right) / 2
    ax.add_patch(Rectangle((left, top - 28), mid - left, 28, fc=COLORS["kernel"], ec=COLORS["edge"]))
    ax.add_patch(Rectangle((mid, top - 28), right - mid, 28, fc=COLORS["user"], ec=COLORS["edge"]))
    ax.text((left + mid) / 2, top - 14, t["upper"], ha="center", va="center", weight="bold", fontsize=11)
    ax.text((mid + right) / 2, top - 14, t["lower"], ha="center", va="center", weight="bold", fontsize=11)
    for x, bit, ha in ((left, "63", "left"), (mid - 3, "32", "right"), (mid + 3, "31", "left"), (right, "0", "right")):
        ax.text(x, top + 3, bit, ha=ha, va="bottom", fontsize=MIN_FONT, family=MONO)
    ax.text(mid, height - 8, "u64 id = bpf_get_current_pid_tgid();\n%s 0x%x" % (t["example"], tgid << 32 | tid),
            ha="center", va="top", family=MONO, fontsize=10.5, linespacing=1.3)
    lq, rq = (left + mid) / 2, (mid + right) / 2
    ax.text(lq, top - 36, "id >> 32  =  %d" % tgid, ha="center", va="top", family=MONO, fontsize=10.5)
    ax.text(lq, top - 56, t["process"], ha="center", va="top", fontsize=MIN_FONT, linespacing=1.3)
    ax.text(rq, top - 36, "(u32)id  =  %d" % tid, ha="center", va="top", family=MONO, fontsize=10.5)
    ax.text(rq, top - 56, t["thread"], ha="center", va="top", fontsize=MIN_FONT, linespacing=1.3)
    ax.text(rq, top - 94, "u32 pid = bpf_get_current_pid_tgid();", ha="center", va="top", fontsize=MIN_FONT,
            family=MONO, color=COLORS["lost"])
    ax.text(rq, top - 112, t["keeps"], ha="center", va="top", fontsize=MIN_FONT, color=COLORS["lost"],
            linespacing=1.3)
    ax.text(lq, top - 112, t["note"], ha="center", va="top", fontsize=MIN_FONT, style="italic", linespacing=1.3)
    return [save(fig, out_dir, "pid_tgid%s.svg" % suffix(lang))]


# ---------------------------------------------------------------- output paths
PATHS = {
    "trace_pipe": dict(
        title="trace pipe: bpf_trace_printk()",
        helper='bpf_trace_printk("...%d", v)\nformats text in the kernel',
        buffer="the machine's one trace buffer, per-CPU,\nshared with every tool; lines merged by time",
        reader="trace_pipe (tracefs)\none reader at a time;\nreading consumes lines",
        python="b.trace_print() / b.trace_fields()\nparse text: (task, pid, cpu,\nflags, ts, msg)",
        lost="old lines overwritten; counted only in per_cpu/cpu*/stats 'overrun'"),
    "perf_buffer": dict(
        title="perf buffer: BPF_PERF_OUTPUT + perf_submit()",
        helper="events.perf_submit(ctx, &e, sizeof(e))\ncopies the struct (bpf_perf_event_output)",
        buffer="one ring per CPU (page_cnt pages each),\nthis program's own",
        reader="b.perf_buffer_poll(ms)\nepoll on every CPU's ring;\nCPU by CPU: order lost",
        python="callback(cpu, data, size)\nb['events'].event(data):\na view into the ring: copy fields",
        lost="event dropped; lost_cb(n) called when that CPU's next event arrives"),
    "ring_buffer": dict(
        title="ring buffer: BPF_RINGBUF_OUTPUT (kernel 5.8+)",
        helper="events.ringbuf_output(&e, sizeof(e), 0)\nor ringbuf_reserve() + ringbuf_submit()",
        buffer="one ring for all CPUs (page_cnt pages),\nthis program's own",
        reader="b.ring_buffer_poll(ms)\nevents in the order\nthey were reserved",
        python="callback(ctx, data, size)\nb['events'].event(data):\na view into the ring: copy fields",
        lost="ringbuf_output() returns < 0; only the program knows: count it there"),
}
PATHS_ZH = {
    "trace_pipe": dict(
        title="trace_pipe：bpf_trace_printk()",
        helper='bpf_trace_printk("...%d", v)\n在内核里格式化成文本',
        buffer="整台机器唯一的跟踪缓冲区，每 CPU 一份，\n所有工具共用；各行按时间合并",
        reader="trace_pipe（tracefs）\n一次只能有一个读取端；\n读走的行就没了",
        python="b.trace_print() / b.trace_fields()\n解析文本：(task, pid, cpu,\nflags, ts, msg)",
        lost="最旧的行被覆盖；只在 per_cpu/cpu*/stats 的 overrun 里计数"),
    "perf_buffer": dict(
        title="perf 缓冲区：BPF_PERF_OUTPUT + perf_submit()",
        helper="events.perf_submit(ctx, &e, sizeof(e))\n复制结构体（bpf_perf_event_output）",
        buffer="每个 CPU 一个环（各 page_cnt 页），\n本程序独有",
        reader="b.perf_buffer_poll(ms)\n对每个 CPU 的环做 epoll；\n逐个 CPU 读：顺序会乱",
        python="callback(cpu, data, size)\nb['events'].event(data)：\n环内的视图，要复制字段",
        lost="事件被丢弃；该 CPU 的下一个事件到达时调用 lost_cb(n)"),
    "ring_buffer": dict(
        title="BPF 环形缓冲区：BPF_RINGBUF_OUTPUT（内核 5.8+）",
        helper="events.ringbuf_output(&e, sizeof(e), 0)\n或 ringbuf_reserve() + ringbuf_submit()",
        buffer="所有 CPU 共用一个环（page_cnt 页），\n本程序独有",
        reader="b.ring_buffer_poll(ms)\n事件按预留的\n先后顺序到达",
        python="callback(ctx, data, size)\nb['events'].event(data)：\n环内的视图，要复制字段",
        lost="ringbuf_output() 返回 < 0；只有程序自己知道：在程序里计数"),
}
PATH_WORDS = {
    "en": dict(kernel="kernel", user="user space (Python, bcc)", probe="probe fires: the BPF program runs",
               full="when the buffer is full:"),
    "zh": dict(kernel="内核", user="用户态（Python、bcc）", probe="探针触发：BPF 程序运行",
               full="缓冲区满时："),
}


def paths(out_dir, lang):
    """Two columns: the kernel's side (the program, its helper, the buffer) and user space's (the reader, Python),
    with what happens when the buffer is full under them."""
    written, words = [], PATH_WORDS[lang]
    for name, p in (PATHS if lang == "en" else PATHS_ZH).items():
        width, height = WIDTH_IN * 72, 266
        fig, ax = canvas(width, height)
        ax.text(6, height - 6, p["title"], fontsize=12, weight="bold", va="top")
        kcol, ucol, gap = 272, width - 30 - 272, 14   # two columns of boxes, side by side
        xk, xu = 8, 8 + kcol + gap
        top = height - 34
        bottom = top - 182                          # of the two columns
        for x, col, label in ((xk, kcol, words["kernel"]), (xu, ucol, words["user"])):
            ax.add_patch(Rectangle((x - 4, bottom), col + 8, top - bottom, fc="none", ec="#aab7c4", ls="--", lw=0.8))
            ax.text(x, top - 4, label, fontsize=MIN_FONT, color="#5d6d7e", va="top")
        rows = [(top - 24, 30), (top - 70, 40), (top - 132, 40)]   # (top, height) of the boxes in a column
        kernel = [(words["probe"], COLORS["kernel"], SANS), (p["helper"], COLORS["kernel"], MONO),
                  (p["buffer"], COLORS["buffer"], SANS)]
        for (y, h), (text, color, family) in zip(rows, kernel):
            box(ax, xk + 4, y - h, kcol - 8, h, text, color, family=family)
        user = [(p["reader"], COLORS["user"]), (p["python"], COLORS["user"])]
        urows = [(top - 24, 58), (top - 98, 58)]
        for (y, h), (text, color) in zip(urows, user):
            box(ax, xu + 4, y - h, ucol - 8, h, text, color, family=MONO)
        for (y0, h0), (y1, _) in zip(rows, rows[1:]):     # down the kernel's column, then across, then down
            arrow(ax, xk + kcol / 2, y0 - h0, xk + kcol / 2, y1)
        by = rows[2][0] - rows[2][1] / 2
        arrow(ax, xk + kcol - 4, by, xu + 4, urows[0][0] - urows[0][1] / 2)
        arrow(ax, xu + ucol / 2, urows[0][0] - urows[0][1], xu + ucol / 2, urows[1][0])
        ax.text(8, bottom - 10, words["full"], fontsize=MIN_FONT, color=COLORS["lost"], va="top", weight="bold")
        ax.text(8, bottom - 28, p["lost"], fontsize=MIN_FONT,
                color=COLORS["lost"], va="top")
        written.append(save(fig, out_dir, "path_%s%s.svg" % (name, suffix(lang))))
    return written


# ---------------------------------------------------------------- kernel matrix
def load_report():
    spec = importlib.util.spec_from_file_location("matrix_report", os.path.join(ROOT, "scripts/matrix/report.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MATRIX_WORDS = {
    "en": dict(none="no tests", not_run="not run",
               note="passed/run per test file; kprobe/tracepoint: what --probe auto attached.\n"
                    "Source: results/kernel-matrix (scripts/kernel-matrix.sh)"),
    "zh": dict(none="无测试", not_run="未运行",
               note="每个测试文件的通过数/运行数；kprobe/tracepoint：--probe auto 附加的探针。\n"
                    "来源：results/kernel-matrix（scripts/kernel-matrix.sh）"),
}


def kernel_matrix(out_dir, lang):
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
    words = MATRIX_WORDS[lang]
    fig, ax = plt.subplots(figsize=(WIDTH_IN * 0.75, 1.2 + 0.32 * len(rows)))
    ax.set_xlim(0, len(lanes))
    ax.set_ylim(len(rows), -1.3)
    ax.axis("off")
    for j, lane in enumerate(lanes):
        ax.text(j + 0.5, -0.7, "%s\n%s\nbcc %s" % (lane.name, lane.kernel, lane.bcc), ha="center", va="center",
                fontsize=MIN_FONT)
    for i, (label, test_file) in enumerate(rows):
        ax.text(-0.05, i + 0.5, label, ha="right", va="center", fontsize=MIN_FONT, family=MONO)
        for j, lane in enumerate(lanes):
            f = lane.files.get(test_file) if test_file else None
            if f is None:
                color, text = COLORS["none"], words["none"] if test_file is None else words["not_run"]
            else:
                total = f["passed"] + f["failed"] + f["skipped"]
                color = COLORS["fail"] if f["failed"] else COLORS["skip"] if f["skipped"] else COLORS["pass"]
                text = "%d/%d" % (f["passed"], total) + ("  %s" % "/".join(sorted(f["auto"])) if f["auto"] else "")
            ax.add_patch(Rectangle((j + 0.04, i + 0.06), 0.92, 0.88, fc=color, ec="white"))
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=MIN_FONT)
    ax.text(0, len(rows) + 0.3, words["note"], fontsize=MIN_FONT, va="top", style="italic")
    return [save(fig, out_dir, "kernel_matrix%s.svg" % suffix(lang))]


# ---------------------------------------------------------------- benchmarks
def bench(out_dir, lang):
    """The benchmark draws its own chart (bench/bench.py --chart-only) from bench/results.json: one drawing, not two."""
    results = os.path.join(ROOT, "bench", "results.json")
    if not os.path.exists(results):
        print("figures: bench: SKIPPED: no bench/results.json yet (run `sudo make bench` first)")
        return []
    out = os.path.join(out_dir, "bench%s.svg" % suffix(lang))
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench.py"), "--chart-only", "--json", results,
                    "--svg", out, "--lang", lang], check=True, stdout=subprocess.DEVNULL)
    return [out]


# ---------------------------------------------------------------- lesson 012's flame graph
def flamegraph(out_dir, lang):
    """The lesson's own renderer (standard library only) on a folded file kept in img/. English only: its words are
    function names and the command line, and the lessons link it (a page of its own, full size), not show it."""
    if lang != "en":
        return []
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
        for lang in LANGS:
            use_language(lang)
            for name in names:
                for path in FIGURES[name](IMG, lang):
                    print("figures: wrote %s" % os.path.relpath(path, ROOT))
        return 0
    stale = []
    with tempfile.TemporaryDirectory() as tmp:
        for lang, name in [(lang, name) for lang in LANGS for name in names]:
            use_language(lang)
            for path in FIGURES[name](tmp, lang):
                mine = os.path.join(IMG, os.path.basename(path))
                if not os.path.exists(mine) or not filecmp.cmp(path, mine, shallow=False):
                    stale.append(os.path.relpath(mine, ROOT))
    for s in stale:
        print("figures: out of date: %s (run `make figures`)" % s)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
