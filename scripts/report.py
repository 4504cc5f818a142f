#!/usr/bin/env python3
"""One small JSON report of this machine for the instructor: lesson 000's rows and every exercise's state.

    sudo make report                          -> results/report-<hostname>.json
    sudo make report ONLY=001-fork            check only these exercises (the others: "not checked")
    sudo python3 scripts/report.py --out /results/report.json    (a read-only checkout: write elsewhere)

It runs `lessons/000_doctor/doctor.py --json` and `scripts/check.py --json` with this Python, adds where it ran
(hostname, time, kernel, architecture, distribution, bcc), checks the result against scripts/report_schema.py,
and writes it in one step (a reader never sees half a file). It writes nothing else: the repository may be
read-only. Collect the files in one folder, then `make class-report DIR=that-folder` (docs/workshop.md).
Exit 0 when the report is written (whatever it says about the machine), 1 when it could not be, 2 bad usage.
"""
import argparse
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))
import report_schema  # noqa: E402
from harness import TIME_SCALE  # noqa: E402  (1 on a learner's machine; the kernel matrix's guests set it)

DOCTOR_SECONDS = 300 * TIME_SCALE        # the doctor compiles two programs: seconds here, a minute under TCG
CHECK_SECONDS = 3600 * TIME_SCALE        # every exercise: a few minutes here


def last_line(text):
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def run_json(argv, seconds, what):
    """(parsed JSON of the command's stdout, None) or (None, one line saying why not)."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")   # nothing written into a read-only checkout
    try:
        proc = subprocess.run([sys.executable] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=seconds, env=env, cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        return None, "%s did not end within %.0f s" % (what, seconds)
    try:
        return json.loads(proc.stdout), None
    except ValueError:
        return None, "%s (exit %s) printed no JSON: %s" % (what, proc.returncode,
                                                           last_line(proc.stderr) or last_line(proc.stdout) or "nothing")


def distro():
    try:
        with open("/etc/os-release") as f:
            fields = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        return fields.get("PRETTY_NAME", fields.get("NAME", "unknown")).strip('"')
    except OSError:
        return "unknown"


def bcc_version():
    try:
        import bcc
        return str(getattr(bcc, "__version__", "unknown"))
    except Exception:   # ImportError, or libbcc failing to load
        return None


def make_report(only=()):
    doctor, doctor_error = run_json([str(ROOT / "lessons/000_doctor/doctor.py"), "--json"], DOCTOR_SECONDS,
                                    "lesson 000 (doctor.py --json)")
    argv = [str(ROOT / "scripts/check.py"), "--json"] + (["--only", ",".join(only)] if only else [])
    checked, check_error = run_json(argv, CHECK_SECONDS, "the checker (check.py --json)")
    exercises = [{k: e.get(k) for k in ("id", "lesson", "state", "expected", "saw")}
                 for e in (checked or {}).get("exercises", [])]
    if doctor is not None:
        doctor = {k: doctor[k] for k in ("ok", "checks", "lessons") if k in doctor}
    return {
        "kind": report_schema.KIND, "version": report_schema.VERSION,
        "hostname": socket.gethostname(),
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "kernel": os.uname().release, "arch": platform.machine(), "distro": distro(),
        "python": platform.python_version(), "bcc": bcc_version(),
        "doctor": doctor, "doctor_error": doctor_error,
        "exercises": exercises, "check_error": check_error,
    }


def write(report, out):
    """Write atomically: a temporary file beside `out`, then rename."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".json", dir=str(out.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1, ensure_ascii=False)
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write this machine's report for the instructor (JSON).")
    parser.add_argument("--out", help="the file to write (default: results/report-<hostname>.json in the repository)")
    parser.add_argument("--only", action="append", default=[], metavar="ID[,ID...]",
                        help="check only these exercises (e.g. 001-fork); the others are 'not checked'")
    args = parser.parse_args(argv)
    only = [i for o in args.only for i in o.split(",") if i]
    if os.geteuid() != 0:
        print("error: the report runs lesson 000 and the checker, which load BPF programs: run it as root "
              "(sudo make report)", file=sys.stderr)
        return 1
    host = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()) or "unknown"
    out = Path(args.out) if args.out else ROOT / "results" / ("report-%s.json" % host)
    if out.is_dir():
        print("error: --out %s is a folder: give a file name, e.g. %s/report-%s.json" % (out, out, host),
              file=sys.stderr)
        return 2
    print("report: running lesson 000 and the exercises' checks (a few minutes) — 正在运行第 000 课和练习检查（几分钟）",
          flush=True)
    report = make_report(only)
    try:
        report_schema.validate(report)
    except report_schema.BadReport as e:   # a bug here or in the doctor/checker: say so rather than write it
        print("error: the report made here does not fit scripts/report_schema.py: %s" % e, file=sys.stderr)
        return 1
    try:
        write(report, out)
    except OSError as e:
        print("error: cannot write %s: %s (give another place with --out PATH, or OUT=PATH to make)"
              % (out, e.strerror or e), file=sys.stderr)
        return 1
    ready = report["doctor"] is not None and report["doctor"]["ok"]
    done = sum(e["state"] == "done" for e in report["exercises"])
    total = sum(e["state"] != "not checked" for e in report["exercises"])
    print("report: %s — %s, %d of %d exercises checked are done%s" % (
        out, "ready" if ready else "NOT READY", done, total, "" if not report["check_error"] else " (checker: %s)"
        % report["check_error"]))
    print("报告：%s —— %s，检查的练习完成了 %d / %d" % (out, "可以上课" if ready else "还没准备好", done, total))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("error: interrupted: no report written", file=sys.stderr)
        sys.exit(130)
