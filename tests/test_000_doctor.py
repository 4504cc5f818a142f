"""Lesson 000: the doctor's rows agree with what the harness detects independently, and with its --json."""
import glob
import json
import os
import re
import shutil

import pytest

from harness import CAPS, LESSONS, expected_auto_probe, run_to_exit

LESSON = "000_doctor/doctor.py"
ROW = re.compile(r"^(?P<name>\S.{0,17}?)\s+(?P<status>OK|WARN|FAIL|SKIP)\s+(?P<detail>.*)$")


@pytest.fixture(scope="module")
def doctor_runs(bpf_ready):
    table = run_to_exit(LESSON)
    as_json = run_to_exit(LESSON, ["--json"])
    return table, as_json, json.loads("\n".join(as_json.lines))


def test_exits_zero_and_says_lessons_run(doctor_runs):
    table, as_json, report = doctor_runs
    assert table.returncode == 0 and as_json.returncode == 0, table.transcript()
    assert report["ok"] is True
    assert table.lines[-1].startswith("OK: the lessons can run here")


def test_rows_match_independent_detection(doctor_runs):
    _, _, report = doctor_runs
    checks = report["checks"]
    assert checks["root"]["status"] == "ok"
    assert checks["bcc"]["status"] == "ok" and CAPS.bcc_version in checks["bcc"]["detail"]
    assert checks["tracefs"]["detail"] == CAPS.tracefs
    assert checks["tracepoints"]["status"] == "ok"
    assert checks["perf_buffer"]["status"] == "ok"
    assert (checks["btf"]["status"] == "ok") == CAPS.btf
    assert (checks["kprobes"]["status"] == "ok") == CAPS.kprobes
    header = any(os.path.exists(d + "/sys/sdt.h") for d in glob.glob("/usr/include/*") + ["/usr/include"])
    assert (checks["sdt"]["status"] == "ok") == bool(shutil.which("cc") and header), checks["sdt"]
    if not CAPS.kprobes:
        assert "kprobe" in checks["kprobes"]["detail"] and checks["kprobes"]["fix"]


def test_verdict_names_the_probe_each_lesson_will_use(doctor_runs):
    _, _, report = doctor_runs
    verdict = {v["lesson"]: v for v in report["lessons"]}
    assert verdict["001_hello"] == {"lesson": "001_hello", "runs": True, "probe": expected_auto_probe(), "missing": []}
    assert verdict["002_program_format"]["probe"] == expected_auto_probe()
    if not CAPS.kprobes:
        assert "with tracepoint fallbacks" in doctor_runs[0].lines[-1]


def test_json_agrees_with_the_table(doctor_runs):
    table, _, report = doctor_runs
    rows = [m.groupdict() for m in map(ROW.match, table.lines) if m]
    assert [(r["name"], r["status"].lower(), r["detail"]) for r in rows] == \
        [(c["name"], c["status"], c["detail"]) for c in report["checks"].values()]
    for v in report["lessons"]:
        assert any(line.startswith(v["lesson"]) and ("runs with %s" % v["probe"]) in line for line in table.lines)


def test_every_lesson_folder_is_in_the_verdict(doctor_runs):
    _, _, report = doctor_runs
    folders = sorted(p.name for p in LESSONS.iterdir() if p.is_dir() and p.name[:3].isdigit() and p.name != "000_doctor")
    assert [v["lesson"] for v in report["lessons"]] == folders


def test_not_root_fails_with_a_fix(bpf_ready):
    """As an unprivileged user: the root row fails with its fix, the exit code is non-zero, no traceback."""
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to drop privileges"
    run = run_to_exit(LESSON, ["--json"], prefix=[setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"])
    assert run.returncode == 1, run.transcript()
    report = json.loads("\n".join(run.lines))
    assert report["checks"]["root"]["status"] == "fail" and "sudo" in report["checks"]["root"]["fix"]
    assert not any("Traceback" in line for line in run.err_lines)
