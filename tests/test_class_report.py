"""The instructor's class report (docs/workshop.md): `make report` on each machine (scripts/report.py), one page
for the class (scripts/class_report.py), one schema between them (scripts/report_schema.py).

- reports made for real on this host (lesson 000 and the checker run; one exercise each, to stay short): one of
  the repository as it is (007-exit's starter: not yet), one of a copy whose starter is the reference solution
  (done); both fit the schema and say what this machine is;
- synthetic reports from machines this host is not (arm64 with kprobes and fentry, a machine without bcc or root)
  and files that are not reports (not JSON, cut short, another kind of JSON, fields missing, a newer version,
  empty, binary, nested too deep, too large, a folder): the page shows every machine, lists every bad file with
  its reason, never crashes, escapes what it shows, loads nothing from elsewhere, and runs on Python's standard
  library alone.
BPF runs only in the tests that use the `bpf_ready` fixture (the real reports)."""
import copy
import html.parser
import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from harness import ROOT, TIME_SCALE, CAPS, learner_env
from conftest import require

sys.path.insert(0, str(ROOT / "scripts"))
import class_report  # noqa: E402
import report_schema  # noqa: E402

REPORT = ROOT / "scripts" / "report.py"
CLASS = ROOT / "scripts" / "class_report.py"
SECONDS = 300 * TIME_SCALE


# ---------------------------------------------------------------- reports made for real on this host
def make_real_report(repo, out, only):
    proc = subprocess.run([sys.executable, str(repo / "scripts" / "report.py"), "--out", str(out), "--only", only],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=SECONDS, env=learner_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(out.read_text()), proc.stdout


@pytest.fixture(scope="module")
def real_reports(bpf_ready, tmp_path_factory):
    """(as it is, solved): two reports of this host, each checking 007-exit only (lesson 007's group: conftest.py,
    kernel_group; an exercise of 001-004 would wait for the trace buffer's group)."""
    d = tmp_path_factory.mktemp("real")
    as_is, said = make_real_report(ROOT, d / "report-as-is.json", "007-exit")
    # A copy of what the report runs, with 007-exit's starter replaced by the reference solution: a learner's
    # machine where the exercise is done.
    copy_root = d / "solved"
    for part in ("lessons", "scripts", "solutions", "tests/harness"):
        shutil.copytree(ROOT / part, copy_root / part, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
    shutil.copy(ROOT / "solutions" / "007-exit.py", copy_root / "lessons" / "007_exec" / "ex_exit.py")
    solved, _ = make_real_report(copy_root, d / "report-solved.json", "007-exit")
    return as_is, solved, said


def test_a_real_report_fits_the_schema_and_says_what_this_machine_is(real_reports):
    as_is, solved, said = real_reports
    for report in (as_is, solved):
        assert report_schema.validate(report) is report
        assert report["kind"] == report_schema.KIND and report["version"] == report_schema.VERSION
        assert report["hostname"] == socket.gethostname()
        assert report["kernel"] == os.uname().release and report["arch"] == os.uname().machine
        assert report["bcc"] == CAPS.bcc_version
        assert report["doctor_error"] is None and report["check_error"] is None
        rows = report["doctor"]["checks"]
        assert rows["root"]["status"] == "ok" and rows["tracepoints"]["status"] == "ok"
        # the doctor's kprobe row agrees with the harness's own detection
        assert (rows["kprobes"]["status"] == "ok") == CAPS.kprobes
        states = {e["id"]: e["state"] for e in report["exercises"]}
        assert set(states) == set(class_report_ids()) and list(states.values()).count("not checked") == len(states) - 1
    assert "report:" in said and "报告：" in said


def class_report_ids():
    import check
    return list(check.EXERCISES)


def test_a_real_report_holds_what_the_check_expected_and_saw(real_reports):
    as_is, solved, _ = real_reports
    starter = next(e for e in as_is["exercises"] if e["id"] == "007-exit")
    assert starter["state"] == "not yet"
    assert starter["expected"][0].startswith('rows "') and starter["expected"][1].startswith("这几行")
    assert starter["saw"] and len(starter["saw"]) == 2
    done = next(e for e in solved["exercises"] if e["id"] == "007-exit")
    assert done["state"] == "done" and done["expected"] is None


def test_the_class_page_from_real_and_synthetic_reports(real_reports, tmp_path):
    as_is, solved, _ = real_reports
    (tmp_path / "report-host.json").write_text(json.dumps(as_is))
    (tmp_path / "report-host-solved.json").write_text(json.dumps(solved))
    write_synthetic(tmp_path)
    out = run_class_report(tmp_path)
    md = (tmp_path / "class-report.md").read_text()
    host = socket.gethostname()
    row = next(line for line in md.splitlines() if line.startswith("| %s (report-host-solved.json)" % host))
    assert "1 of 1 (%d not checked" % (len(class_report_ids()) - 1) in row and ": 007-exit" in row, row
    row = next(line for line in md.splitlines() if line.startswith("| %s (report-host.json)" % host))
    assert "0 of 1" in row
    assert "%d of %d ready" % (2 + 1, 2 + 2) in md, md     # both real ones and arm64 ready; the broken one not
    assert "class report:" in out


# ---------------------------------------------------------------- synthetic reports and bad files
def doctor(ok=True, kprobes="ok", fentry="ok", uprobes="ok", fails=()):
    rows = {cid: {"name": cid, "status": "ok", "detail": "fine", "fix": ""} for cid in (
        "root", "bcc", "debugfs", "tracefs", "headers", "btf", "task_layout", "lockdown", "arch", "tracepoints",
        "raw_tracepoints", "perf_buffer", "ring_buffer")}
    rows["kprobes"] = {"name": "kprobes", "status": kprobes, "detail": "", "fix": "" if kprobes == "ok" else "fallback"}
    rows["fentry"] = {"name": "fentry (kfunc)", "status": fentry, "detail": "", "fix": ""}
    rows["uprobes"] = {"name": "uprobes", "status": uprobes, "detail": "", "fix": ""}
    for cid, detail, fix in fails:
        rows[cid] = {"name": cid, "status": "fail", "detail": detail, "fix": fix}
    lessons = [{"lesson": "001_hello", "runs": ok, "probe": "kprobe" if ok else None,
                "missing": [] if ok else ["tracepoints"]}]
    return {"ok": ok, "checks": rows, "lessons": lessons}


def synthetic(host, arch="x86_64", ready=True, done=(), **kw):
    ids = class_report_ids()
    return {"kind": report_schema.KIND, "version": 1, "hostname": host, "time": "2026-12-03T10:00:00+00:00",
            "kernel": "6.1.0-57-" + ("arm64" if arch == "aarch64" else "amd64"), "arch": arch,
            "distro": "Debian GNU/Linux 12 (bookworm)", "python": "3.11.2", "bcc": "0.26.0",
            "doctor": kw.get("doctor", doctor(ready)), "doctor_error": None,
            "exercises": [{"id": i, "lesson": "x", "state": "done" if i in done else "not yet",
                           "expected": None if i in done else ["e", "期望"], "saw": None if i in done else ["s", "实际"]}
                          for i in ids], "check_error": None}


ARM = synthetic("arm-laptop", "aarch64", done=("001-fork", "002-two-hooks", "004-uid"))
BROKEN = synthetic("<b>bad|host</b>", ready=False, doctor=doctor(False, kprobes="skip", fentry="skip", uprobes="skip",
                   fails=[("bcc", "/usr/bin/python3: No module named 'bcc'",
                           "sudo apt install python3-bpfcc, and run with /usr/bin/python3 (never 'pip install bcc')"),
                          ("root", "euid 1000", "run as root: sudo python3 lessons/000_doctor/doctor.py")]))


def without(report, field):
    r = copy.deepcopy(report)
    del r[field]
    return r


BAD = {   # file name -> (its bytes, what the page must say of it)
    "not-json.json": (b"hello, world\n", "not JSON"),
    "cut-short.json": (json.dumps(ARM).encode()[:200], "not JSON (cut short?)"),
    "foreign.json": (json.dumps({"name": "package.json of something", "version": "1.0.0"}).encode(),
                     "not a machine report: kind is missing"),
    "other-kind.json": (json.dumps({"kind": "ebpf-lessons/check", "version": 1, "exercises": []}).encode(),
                        'kind is "ebpf-lessons/check"'),
    "a-list.json": (b"[1, 2, 3]", "the JSON is list"),
    "no-hostname.json": (json.dumps(without(ARM, "hostname")).encode(), "without hostname"),
    "bad-state.json": (json.dumps(dict(ARM, exercises=[{"id": "001-fork", "state": "finished"}])).encode(),
                       "exercise 1 is not"),
    "bad-row.json": (json.dumps(dict(ARM, doctor=dict(ARM["doctor"], checks={"bcc": {"status": "great"}}))).encode(),
                     "doctor row 'bcc'"),
    "newer.json": (json.dumps(dict(ARM, version=2, newfield=[1])).encode(), "version 2, newer than"),
    "empty.json": (b"", "empty"),
    "binary.json": (bytes(range(256)), "not UTF-8"),
    "deep.json": (b"[" * 100000 + b"]" * 100000, "not JSON"),
    "huge.json": (b" " * (report_schema.MAX_BYTES + 10), "too large"),
}


def write_synthetic(folder):
    (folder / "report-arm-laptop.json").write_text(json.dumps(ARM))
    (folder / "report-broken.json").write_text(json.dumps(BROKEN))
    for name, (data, _) in BAD.items():
        (folder / name).write_bytes(data)
    (folder / "a-folder.json").mkdir()


def run_class_report(folder, python=(sys.executable,)):
    proc = subprocess.run(list(python) + [str(CLASS), str(folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=60 * TIME_SCALE)
    assert proc.returncode == 0 and not proc.stderr, proc.stdout + proc.stderr
    return proc.stdout


class Page(html.parser.HTMLParser):
    """What a browser would load from elsewhere, the text, and whether the tags nest."""
    VOID = {"meta", "br", "link", "img", "input", "hr"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.external, self.scripts, self.text = [], [], [], 0, []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
        for name, value in attrs:
            if name in ("src", "href") and value and "://" in value:
                self.external.append(value)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture
def class_folder(tmp_path):
    write_synthetic(tmp_path)
    return tmp_path


def test_every_bad_file_is_listed_with_its_reason_and_none_ends_the_report(class_folder):
    out = run_class_report(class_folder)
    md = (class_folder / "class-report.md").read_text()
    bad_section = md.split("## Files that are not machine reports")[1]
    for name, (_, why) in BAD.items():
        line = next((l for l in bad_section.splitlines() if l.startswith("| %s |" % name)), None)
        assert line and why.replace("|", "\\|") in line, (name, why, line)
    assert "| a-folder.json | a folder, not a file |" in bad_section
    assert "%d file(s) not read" % (len(BAD) + 1) in out


def test_each_machine_ready_or_not_with_what_is_missing_and_the_fix(class_folder):
    run_class_report(class_folder)
    md = (class_folder / "class-report.md").read_text()
    rows = [l for l in md.splitlines() if l.startswith("| ") and " (report-" in l]
    assert len(rows) == 2, rows
    broken, arm = rows                                    # not ready first
    assert "NOT READY · 还没准备好" in broken
    assert "bcc: /usr/bin/python3: No module named 'bcc' — fix: sudo apt install python3-bpfcc" in broken
    assert "root: euid 1000 — fix: run as root" in broken
    assert "001_hello (tracepoints)" in broken            # the lessons lesson 000 says cannot run
    assert "&lt;b>bad\\|host&lt;/b>" in broken            # a hostname is shown, never interpreted
    assert "ready · 可以上课" in arm and "aarch64" in arm
    assert "kprobe ✓ tracepoint ✓ fentry ✓ uprobe ✓" in arm
    assert "3 of %d: 001-fork, 002-two-hooks, 004-uid" % len(class_report_ids()) in arm
    assert "1 of 2 ready" in md
    by_exercise = md.split("## Exercises across the class")[1].split("##")[0]
    assert "| 001-fork | 1: arm-laptop | 1: <b>bad\\|host</b> |".replace("<", "&lt;") in by_exercise


def test_the_page_is_one_self_contained_file_in_both_languages(class_folder):
    run_class_report(class_folder)
    text = (class_folder / "class-report.html").read_text()
    page = Page()
    page.feed(text)
    page.close()
    assert not page.errors and not page.stack, (page.errors, page.stack)
    assert page.scripts == 0 and not page.external, page.external   # opens from file://, nothing fetched
    shown = "".join(page.text)
    for en, zh in (("Ready?", "就绪？"), ("Missing, and the fix", "缺什么，怎么补"), ("Architecture", "架构"),
                   ("Files that are not machine reports", "不是机器报告的文件")):
        assert en in shown and zh in shown
    assert "<b>bad|host</b>" in shown and "<b>bad|host</b>" not in text   # escaped in the source, shown as text
    assert "sudo apt install python3-bpfcc" in shown


def test_it_needs_only_pythons_standard_library(class_folder):
    """-I -S: no site-packages, no PYTHONPATH: what the instructor's laptop has."""
    run_class_report(class_folder, python=(sys.executable, "-I", "-S"))
    assert (class_folder / "class-report.html").exists()


def test_an_empty_folder_gives_an_empty_report(tmp_path):
    out = run_class_report(tmp_path)
    assert "0 of 0 machines ready, 0 file(s) not read" in out
    assert "0 of 0 ready" in (tmp_path / "class-report.md").read_text()


def test_no_folder_is_one_error_line_and_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, str(CLASS), str(tmp_path / "nope")], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=60 * TIME_SCALE)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and len(proc.stderr.splitlines()) == 1


def test_make_class_report(class_folder):
    proc = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(ROOT), "class-report",
                           "DIR=%s" % class_folder], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=60 * TIME_SCALE)
    assert proc.returncode == 0 and "class report:" in proc.stdout, proc.stdout + proc.stderr


# ---------------------------------------------------------------- the schema and report.py's own errors
def test_the_schema_accepts_a_report_and_names_what_is_wrong(tmp_path):
    assert report_schema.validate(copy.deepcopy(ARM))
    for name, (data, why) in BAD.items():
        (tmp_path / name).write_bytes(data)
        report, problem = report_schema.load(tmp_path / name)      # never raises
        assert report is None and why in problem, (name, problem)


def test_the_report_refuses_a_folder_for_a_file(tmp_path, bpf_ready):
    proc = subprocess.run([sys.executable, str(REPORT), "--out", str(tmp_path)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=60 * TIME_SCALE)
    assert proc.returncode == 2 and proc.stderr.startswith("error: --out") and not proc.stdout, proc.stderr


def test_the_report_needs_root(tmp_path):
    setpriv = shutil.which("setpriv")
    require(os.geteuid() == 0 and setpriv, "needs root and setpriv (util-linux) to run the report as another user")
    proc = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-S",
                           str(REPORT), "--out", str(tmp_path / "r.json")], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=60 * TIME_SCALE)
    assert proc.returncode == 1 and proc.stderr.startswith("error: ") and "sudo make report" in proc.stderr
    assert not (tmp_path / "r.json").exists()
