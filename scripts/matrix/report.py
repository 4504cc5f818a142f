#!/usr/bin/env python3
"""Kernel-matrix report: results/kernel-matrix/<lane>/ -> a markdown table on stdout and docs/compatibility.md.

Stdlib only; runs on the host's /usr/bin/python3. Rows are the lesson folders (lessons/NNN_name) and any other
test file; columns are the lanes (stock kernels under QEMU, then the host). A cell counts the tests of that
file that passed, and says which probe kind `--probe auto` chose (the tests record it as the junit property
probe_auto). Exit status: 1 when any lane named on the command line failed, else 0.
"""
import argparse
import os
import re
import sys
import xml.etree.ElementTree as ET

# Columns, left to right: x86-64 guests oldest suite first, the arm64 guest, then the host.
LANE_ORDER = ["bullseye-5.10", "bookworm-6.1", "bookworm-6.12", "trixie-6.12", "trixie-arm64", "host"]
LESSON_DIR = re.compile(r"^(\d{3})_\w+$")


def read(path, default=""):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return default


def kv(path):
    out = {}
    for line in read(path).splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def test_file_of(case):
    """tests.test_001_hello[.Class] -> test_001_hello.py; a collection error names the module in `name`."""
    for text in (case.get("classname") or "", case.get("name") or ""):
        for part in re.split(r"[./]", text):
            if part.startswith("test_"):
                return part + ".py"
    return "(unknown)"


def stderr_tail(longrepr, lines=12):
    """The last lines a failing lesson wrote to stderr (the harness's transcript puts them after "--- stderr ---"
    in the assertion message): a red run then shows its traceback or error line, not only the assertion."""
    raw = longrepr.splitlines()
    marks = [i for i, l in enumerate(raw) if l.rstrip().endswith("--- stderr ---")]
    if not marks:
        return []
    start = marks[-1]
    prefix = raw[start][:len(raw[start]) - len(raw[start].lstrip(" E"))]   # "E         ": the message's indent
    tail = []
    for line in raw[start + 1:]:
        if not line.startswith(prefix) and line.strip() not in ("", "E"):
            break
        tail.append(line[len(prefix):].rstrip())
    tail = [l for l in tail if l]
    # bcc passes on clang's warnings about the kernel headers (5.10, 6.12): keep what came after them, and a
    # Python traceback from its start
    done = [i for i, l in enumerate(tail) if re.search(r"^\d+ warnings? generated\.$", l)]
    tail = tail[done[-1] + 1:] if done else tail
    starts = [i for i, l in enumerate(tail) if l.startswith("Traceback")]
    return tail[starts[-1]:][:lines] if starts else tail[-lines:]


class Lane:
    def __init__(self, name, path):
        self.name, self.path = name, path
        self.kernel = read(os.path.join(path, "kernel"), "?")
        self.arch = read(os.path.join(path, "arch"), "?")         # uname -m: x86_64, aarch64
        try:   # guest: seconds from the kernel's start to the suite's
            self.boot = float(read(os.path.join(path, "boot-seconds"), ""))
        except ValueError:
            self.boot = None
        self.bcc = read(os.path.join(path, "bcc"), "?").splitlines()[-1:] or ["?"]
        self.bcc = self.bcc[0]
        self.python = read(os.path.join(path, "python"), "?")
        self.os = read(os.path.join(path, "os"), "?")
        self.date = read(os.path.join(path, "date"), "?")
        self.commit = read(os.path.join(path, "commit"), "?")
        self.timing = kv(os.path.join(path, "timing"))
        # CI mode (`make test-kernels-ci`): this guest ran share k/n of the robustness tests, or (the arm64 lane)
        # the lesson test files only
        env = kv(os.path.join(path, "guest.env"))
        self.shard = env.get("MATRIX_SHARD", "").strip("'\"")
        tests = env.get("MATRIX_TESTS", "test_robustness test_exercises")
        self.lessons_only = "test_robustness" not in tests and ("test_exercises" not in tests or   # CI's arm64 lane:
                                                                 "::test_the_reference_solution_passes" in tests)
        self.no_robustness = "test_robustness" not in tests and not self.lessons_only
        self.rc = read(os.path.join(path, "rc"), None)
        self.errors = []            # why the lane is red, beyond failing tests
        self.files = {}             # test file -> {"passed", "failed", "skipped", "auto": set()}
        self.failures = []          # (test id, first line of the message)
        if read(os.path.join(path, "host-error")):
            self.errors.append(read(os.path.join(path, "host-error")))
        if read(os.path.join(path, "init-error")):
            self.errors.append("guest " + read(os.path.join(path, "init-error")))
        junit = os.path.join(path, "junit.xml")
        if not os.path.exists(junit):
            self.errors.append("no junit.xml (see %s)" % ("pytest.log" if name == "host" else "serial.log"))
        else:
            try:
                self._parse(ET.parse(junit).getroot())
            except ET.ParseError as e:
                self.errors.append("junit.xml unreadable: %s" % e)
        if self.rc is None:
            self.errors.append("no pytest exit code (the guest did not finish)")
        elif self.rc not in ("0",) and not self.failures:
            self.errors.append("pytest exit %s" % self.rc)

    def _parse(self, root):
        for case in root.iter("testcase"):
            f = self.files.setdefault(test_file_of(case), {"passed": 0, "failed": 0, "skipped": 0, "auto": set()})
            for prop in case.iter("property"):
                if prop.get("name") == "probe_auto":
                    f["auto"].add(prop.get("value"))
            bad = case.find("failure")
            if bad is None:
                bad = case.find("error")
            if bad is not None:
                f["failed"] += 1
                msg = (bad.get("message") or bad.text or "").strip().splitlines()
                tid = "%s::%s" % (test_file_of(case), case.get("name").split("@")[0])   # @group: pytest-xdist's
                self.failures.append((tid, (msg[0] if msg else "")[:240], stderr_tail(bad.text or "")))
            elif case.find("skipped") is not None:
                f["skipped"] += 1
            else:
                f["passed"] += 1

    @property
    def ok(self):
        return not self.errors and not self.failures and self.rc == "0"

    def header(self):
        kind = "host" if self.name == "host" else "QEMU/TCG"
        share = ("<br>CI share %s" % self.shard if self.shard else "<br>lesson tests only" if self.lessons_only
                 else "<br>no robustness tests" if self.no_robustness else "")
        return "%s (%s, %s)<br>%s<br>bcc %s, Python %s%s" % (
            self.name, kind, self.arch, self.kernel, self.bcc, self.python, share)

    def cell(self, test_file):
        f = self.files.get(test_file)
        if f is None:
            return "—" if self.files else "not run"
        total = f["passed"] + f["failed"] + f["skipped"]
        mark = "✅" if not f["failed"] else "❌"
        text = "%s %d/%d" % (mark, f["passed"], total)
        if f["failed"]:
            text += " (%d failed)" % f["failed"]
        if f["skipped"]:
            text += " (%d skipped)" % f["skipped"]
        if f["auto"]:
            text += " · auto=%s" % "/".join(sorted(f["auto"]))
        return text


def rows(lanes, lessons_dir):
    """(label, test file or None) per lesson folder, then test files that belong to no lesson."""
    lessons = sorted(d for d in os.listdir(lessons_dir) if LESSON_DIR.match(d)) if os.path.isdir(lessons_dir) else []
    files = sorted({f for lane in lanes for f in lane.files})
    out, used = [], set()
    for d in lessons:
        num = d[:3]
        mine = [f for f in files if f.startswith("test_%s_" % num) or f == "test_%s.py" % num]
        if not mine:
            out.append(("`%s`" % d, None))
        for f in mine:
            out.append(("`%s` (%s)" % (d, f), f))
            used.add(f)
    for f in files:
        if f not in used:
            out.append(("%s" % f, f))
    return out


def table(lanes, lessons_dir):
    lines = ["| lesson (test file) | " + " | ".join(l.header() for l in lanes) + " |",
             "|---|" + "---|" * len(lanes)]
    for label, f in rows(lanes, lessons_dir):
        cells = [l.cell(f) if f else "no tests" for l in lanes]
        lines.append("| %s | %s |" % (label, " | ".join(cells)))
    status = ["✅ pass" if l.ok else "❌ FAIL" for l in lanes]
    lines.append("| **lane** | %s |" % " | ".join(status))
    return lines


def details(lanes):
    out = ["| lane | architecture | Debian | kernel | bcc | Python | tests run | guest wall time | rootfs build "
           "| run (UTC), commit |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for l in lanes:
        n = sum(f["passed"] + f["failed"] + f["skipped"] for f in l.files.values())
        build = l.timing.get("build_seconds", "?")
        build = "cached" if build == "0" and l.name != "host" else ("—" if l.name == "host" else build + " s")
        wall = "%s s" % l.timing.get("guest_seconds", "?")
        if l.boot is not None:
            wall += " (boot %.0f s)" % l.boot
        if l.timing.get("source"):   # CI: the host's column is taken from the `make test` run just before
            wall += " (in %s)" % l.timing["source"]
        out.append("| %s | %s | %s | %s | %s | %s | %d | %s | %s | %s, %s |" % (
            l.name, l.arch, l.os, l.kernel, l.bcc, l.python, n, wall, build, l.date, l.commit))
    return out


def problems(lanes):
    out = []
    for l in lanes:
        for e in l.errors:
            out.append("- **%s**: %s" % (l.name, e))
        for tid, msg, tail in l.failures:
            out.append("- **%s** `%s`: %s" % (l.name, tid, msg.replace("|", "\\|")))
            if tail:   # what the lesson wrote to stderr: its traceback, if it left one
                out += ["  ```"] + ["  " + t.replace("`", "'") for t in tail] + ["  ```"]
    return out


def take_junit(src, dest, test_paths):
    """The host's column from the junit.xml of `make test` (CI runs that suite just before the matrix): keep the
    test cases of the matrix's test files, write dest/junit.xml and dest/timing. Returns pytest's exit status for
    those cases: 0 when none failed."""
    wanted = {os.path.basename(p) for p in test_paths}
    try:
        root = ET.parse(src).getroot()
    except (OSError, ET.ParseError) as e:
        with open(os.path.join(dest, "host-error"), "w") as f:
            f.write("cannot read the junit.xml of make test (%s): %s\n" % (src, e))
        return 2
    kept, seconds, failed = 0, 0.0, 0
    for suite in root.iter("testsuite"):
        for case in list(suite):
            if case.tag != "testcase":
                continue
            if test_file_of(case) not in wanted:
                suite.remove(case)
                continue
            kept += 1
            seconds += float(case.get("time") or 0)
            failed += case.find("failure") is not None or case.find("error") is not None
    ET.ElementTree(root).write(os.path.join(dest, "junit.xml"), encoding="utf-8", xml_declaration=True)
    with open(os.path.join(dest, "timing"), "w") as f:
        f.write("guest_seconds=%d\nbuild_seconds=0\nsource=make test\n" % round(seconds))
    if not kept:
        with open(os.path.join(dest, "host-error"), "w") as f:
            f.write("the junit.xml of make test (%s) holds none of the matrix's tests\n" % src)
        return 5
    return 1 if failed else 0


# The prose around the tables, in English and in Chinese (the website shows each page in both); the tables are
# the same in both.
PROSE = {
    "en": {
        "title": "# Compatibility: which kernels the lessons were tested on",
        "other": "[中文](compatibility.zh.md)",
        "intro": "Every lesson's tests, run inside stock Debian kernels booted under QEMU (software emulation, 2 vCPUs; "
                 "x86_64 guests, and an aarch64 one emulated on the same x86-64 machine), each with its own suite's bcc "
                 "and matching kernel headers, and on the host the tests normally run on. Each column names the lane's "
                 "architecture, kernel, bcc and Python. A cell is *passed/run* for that lesson's test file; `auto=` is "
                 "the probe kind `--probe auto` attached (a kprobe wherever the kernel has kprobes, the tracepoint where "
                 "it does not). A lane marked *CI share k/n* ran in CI mode (`make test-kernels-ci`): every lesson test "
                 "except `test_forced_kprobe`, and every n-th robustness and `test_forced_kprobe` test from the k-th, so "
                 "that the guests together run each of those once; one marked *lesson tests only* ran every lesson "
                 "test and the exercises' reference solutions (in CI, the arm64 lane). In a full run the arm64 lane runs the lesson "
                 "and exercise tests (*no robustness tests*); the robustness tests (signals, escaping, losses: the Python side) run on the x86-64 "
                 "lanes and the host.",
        "lanes": "## Lanes", "failures": "## Failures", "none": "None.", "how": "## How to reproduce",
        "logs": "Per-lane logs (serial console, pytest output, junit.xml) are in `results/kernel-matrix/<lane>/`.",
    },
    "zh": {
        "title": "# 兼容性：课程在哪些内核上测试过",
        "other": "[English](compatibility.md)",
        "intro": "每一课的测试都在 QEMU 启动的 Debian 发行版内核里运行（软件模拟，2 个 vCPU；有 x86_64 客户机，"
                 "也有在同一台 x86-64 机器上模拟的 aarch64 客户机），每个内核配它所在发行版自己的 bcc 和匹配的内核头文件；"
                 "也在平时跑测试的主机上运行。每一列写明这一通道的架构、内核、bcc 和 Python。"
                 "格子里是该课测试文件的 *通过数/运行数*；`auto=` 是 `--probe auto` 附加的探针种类"
                 "（内核有 kprobe 的地方用 kprobe，没有的地方用跟踪点）。标着 *CI share k/n* 的通道是在 CI 模式"
                 "（`make test-kernels-ci`）下运行的：除 `test_forced_kprobe` 之外的每个课程测试都跑，健壮性测试和 "
                 "`test_forced_kprobe` 从第 k 个起每 n 个跑一个，几个客户机合起来每个测试正好跑一次。"
                 "标着 *lesson tests only* 的通道跑课程测试和练习的参考答案（CI 里的 arm64 通道）。完整运行时，arm64 通道跑课程测试和练习测试（*no robustness tests*）；"
                 "健壮性测试（信号、转义、丢失计数，都是 Python 这一侧的行为）在 x86-64 通道和主机上跑。",
        "lanes": "## 通道", "failures": "## 失败", "none": "没有。", "how": "## 怎样复现",
        "logs": "每个通道的日志（串口控制台、pytest 输出、junit.xml）在 `results/kernel-matrix/<通道>/` 里。",
    },
}


def document(lang, tab, lanes_table, probs):
    t = PROSE[lang]
    return [
        t["title"], "", t["other"], "",
        "<!-- Generated by scripts/kernel-matrix.sh (`sudo make test-kernels`) from results/kernel-matrix/. "
        "Do not edit: re-run the matrix. -->",
        "", t["intro"], "",
    ] + tab + ["", t["lanes"], ""] + lanes_table + ["", t["failures"], ""] + (probs or [t["none"]]) + [""] + [
        t["how"], "",
        "```",
        "sudo make test-kernels                          # host + every lane, every test everywhere",
        "sudo make test-kernels-ci                       # CI mode: three lanes, robustness and exercise tests shared out",
        "sudo bash scripts/kernel-matrix.sh bullseye-5.10   # one lane",
        "sudo bash scripts/kernel-matrix.sh trixie-arm64    # the arm64 lane (qemu-system-aarch64)",
        "```",
        "", t["logs"], "",
    ]


def main():
    if sys.argv[1:2] == ["--take-junit"]:
        if len(sys.argv) < 5:
            sys.exit("usage: report.py --take-junit SRC_JUNIT DEST_DIR TEST_FILE...")
        return take_junit(sys.argv[2], sys.argv[3], sys.argv[4:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results/kernel-matrix")
    ap.add_argument("--doc", default="docs/compatibility.md")
    ap.add_argument("--lessons", default="lessons")
    ap.add_argument("ran", nargs="*", help="lanes run just now: the exit status is theirs")
    args = ap.parse_args()

    names = [n for n in LANE_ORDER if os.path.isdir(os.path.join(args.results, n))]
    names += sorted(n for n in os.listdir(args.results) if n not in names
                    and os.path.isdir(os.path.join(args.results, n))) if os.path.isdir(args.results) else []
    lanes = [Lane(n, os.path.join(args.results, n)) for n in names]
    if not lanes:
        print("kernel-matrix: no results in %s" % args.results, file=sys.stderr)
        return 1

    tab = table(lanes, args.lessons)
    print("\n".join(tab))
    print()
    print("\n".join(details(lanes)))
    probs = problems(lanes)
    if probs:
        print("\nProblems:\n" + "\n".join(probs))

    if args.doc:
        for lang, path in (("en", args.doc), ("zh", args.doc[:-3] + ".zh.md")):
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write("\n".join(document(lang, tab, details(lanes), probs)))
            print("wrote %s" % path)

    bad = [l.name for l in lanes if l.name in args.ran and not l.ok]
    if bad:
        print("kernel-matrix: FAILED lanes: %s" % " ".join(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
