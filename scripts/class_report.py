#!/usr/bin/env python3
"""The instructor's view of a class: every machine report in a folder, on one page.

    make class-report DIR=reports/            (or: python3 scripts/class_report.py reports/)

Reads every *.json in DIR (the reports that `sudo make report` writes, results/report-<hostname>.json on each
machine, collected into one folder), and writes DIR/class-report.html (one self-contained page: no script, no
file from elsewhere, opens from file://) and DIR/class-report.md. Per machine: ready or not, and what is missing
with lesson 000's fix for each failing row; kernel, architecture, distribution, bcc; which probe kinds work
(kprobe, tracepoint, fentry, uprobe); the exercises done (x of N, which). A file that is not a report (not JSON, cut
short, another kind of JSON, fields missing, a newer schema version) is listed with the reason, never fatal.
Python's standard library only, no root: it runs on the instructor's laptop (macOS too) with any python3 3.7+.
Exit 0 when the pages are written (whatever the reports say), 1 when they cannot be, 2 bad usage.
"""
import argparse
import html
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report_schema  # noqa: E402

PROBES = [("kprobes", "kprobe"), ("tracepoints", "tracepoint"), ("fentry", "fentry"), ("uprobes", "uprobe")]
OUTPUTS = ("class-report.html", "class-report.md")
L = {   # every label in both languages: English · 中文
    "title": ("Class report", "班级报告"),
    "same_host": ("{n} reports from this hostname", "这个主机名有 {n} 份报告"),
    "ready": ("ready", "可以上课"), "not_ready": ("NOT READY", "还没准备好"), "unknown": ("doctor did not run", "体检没有运行"),
    "host": ("Machine", "机器"), "state": ("Ready?", "就绪？"), "kernel": ("Kernel", "内核"),
    "arch": ("Architecture", "架构"), "system": ("System", "系统"), "probes": ("Probe kinds", "探针类型"),
    "exercises": ("Exercises done", "完成的练习"), "missing": ("Missing, and the fix", "缺什么，怎么补"),
    "warnings": ("Warnings", "警告"), "lessons_out": ("Lessons that cannot run", "不能运行的课程"),
    "bad": ("Files that are not machine reports", "不是机器报告的文件"), "file": ("File", "文件"),
    "why": ("Why", "原因"), "none": ("none", "无"), "fix": ("fix", "修复"),
    "by_exercise": ("Exercises across the class", "全班的练习情况"), "exercise": ("Exercise", "练习"),
    "done_on": ("Done on", "完成的机器"), "not_yet": ("Not done yet", "还没完成"),
    "details": ("Exercises not done yet: what the check expected and saw", "还没完成的练习：检查器期望什么、看到什么"),
    "checked": ("checked", "已检查"), "report_time": ("report written", "报告时间"),
    "summary": ("{ready} of {n} ready, {bad} file(s) not read", "{n} 台中 {ready} 台可以上课，{bad} 个文件没有读取"),
    "not_checked": ("not checked", "未检查"), "of": ("of", "/"),
}
MARK = {"ok": "✓", "warn": "✗", "fail": "✗", "skip": "?", None: "?"}


def both(key, **kw):
    en, zh = L[key]
    return "%s · %s" % (en.format(**kw), zh.format(**kw))


def summarize(name, report):
    """What the pages show of one report."""
    doctor = report["doctor"] or {}
    checks = doctor.get("checks", {})
    exercises = report["exercises"]
    checked = [e for e in exercises if e["state"] != "not checked"]
    return {
        "file": name, "host": report["hostname"], "time": report["time"], "kernel": report["kernel"],
        "arch": report["arch"], "distro": report["distro"], "bcc": report["bcc"],
        "ready": None if report["doctor"] is None else doctor["ok"],
        "doctor_error": report["doctor_error"], "check_error": report["check_error"],
        "fails": [(c.get("name", cid), c.get("detail", ""), c.get("fix", "")) for cid, c in checks.items()
                  if c["status"] == "fail"],
        "warns": [(c.get("name", cid), c.get("detail", ""), c.get("fix", "")) for cid, c in checks.items()
                  if c["status"] == "warn"],
        "lessons_out": ["%s (%s)" % (v.get("lesson", "?"), ", ".join(map(str, v.get("missing", []))))
                        for v in doctor.get("lessons", []) if isinstance(v, dict) and not v.get("runs", True)],
        "probes": [(label, (checks.get(cid) or {}).get("status")) for cid, label in PROBES],
        "done": [e["id"] for e in exercises if e["state"] == "done"],
        "checked": len(checked), "total": len(exercises),
        "not_done": [e for e in checked if e["state"] != "done"],
    }


def read_folder(folder):
    """(machines, bad files): every *.json of the folder, by file name; never raises for a file's content."""
    machines, bad = [], []
    for path in sorted(folder.glob("*.json")):
        if path.is_dir():
            bad.append((path.name, "a folder, not a file"))
            continue
        report, why = report_schema.load(path)
        if report is None:
            bad.append((path.name, why))
            continue
        try:
            machines.append(summarize(path.name, report))
        except Exception as e:   # validate() should have caught it: still, one bad file never ends the report
            bad.append((path.name, "a machine report this page cannot show: %s" % type(e).__name__))
    machines.sort(key=lambda m: (m["ready"] is not False, m["host"].lower(), m["file"]))   # not ready first
    for m in machines:   # a machine reported twice (a second run, a copied file): say so where it shows
        m["same_host"] = sum(x["host"] == m["host"] for x in machines)
    return machines, bad


def exercise_ids(machines):
    ids = []
    for m in machines:
        for e in m["done"] + [x["id"] for x in m["not_done"]]:
            if e not in ids:
                ids.append(e)
    return sorted(ids)


# ---------------------------------------------------------------- Markdown
def md_cell(text):
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def markdown(machines, bad, folder):
    n, ready = len(machines), sum(m["ready"] is True for m in machines)
    out = ["# %s" % both("title"), "", "`%s`: %s" % (folder, both("summary", ready=ready, n=n, bad=len(bad))), ""]
    out += ["| %s |" % " | ".join(both(k) for k in ("host", "state", "kernel", "arch", "probes", "exercises", "missing")),
            "|" + "---|" * 7]
    for m in machines:
        state = both("ready") if m["ready"] else both("unknown") if m["ready"] is None else both("not_ready")
        missing = ["%s: %s — %s: %s" % (name, detail, L["fix"][0], fix) for name, detail, fix in m["fails"]]
        missing += [m["doctor_error"]] if m["doctor_error"] else []
        missing += ["%s: %s" % (both("lessons_out"), ", ".join(m["lessons_out"]))] if m["lessons_out"] else []
        probes = " ".join("%s %s" % (label, MARK[s]) for label, s in m["probes"])
        exercises = "%d %s %d" % (len(m["done"]), L["of"][0], m["checked"])
        if m["checked"] < m["total"]:
            exercises += " (%d %s)" % (m["total"] - m["checked"], both("not_checked"))
        if m["done"]:
            exercises += ": " + ", ".join(m["done"])
        if m["check_error"]:
            exercises += " — " + m["check_error"]
        out.append("| %s | %s |" % (" | ".join(md_cell(c) for c in (
            "%s (%s)%s" % (m["host"], m["file"], " — " + both("same_host", n=m["same_host"]) if m["same_host"] > 1 else ""),
            state, m["kernel"], m["arch"], probes, exercises)),
            "<br>".join(md_cell(x) for x in missing) or both("none")))
    ids = exercise_ids(machines)
    if ids:
        out += ["", "## %s" % both("by_exercise"), "",
                "| %s | %s | %s |" % (both("exercise"), both("done_on"), both("not_yet")), "|---|---|---|"]
        for eid in ids:
            done = [m["host"] for m in machines if eid in m["done"]]
            not_yet = [m["host"] for m in machines if any(x["id"] == eid for x in m["not_done"])]
            out.append("| %s | %d: %s | %d: %s |" % (eid, len(done), md_cell(", ".join(done)), len(not_yet),
                                                     md_cell(", ".join(not_yet))))
    if bad:
        out += ["", "## %s" % both("bad"), "", "| %s | %s |" % (both("file"), both("why")), "|---|---|"]
        out += ["| %s | %s |" % (md_cell(name), md_cell(why)) for name, why in bad]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- HTML
CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans", "PingFang SC", "Microsoft YaHei", sans-serif;
       margin: 1.5em; color: #222; }
table { border-collapse: collapse; width: 100%; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: .35em .5em; vertical-align: top; text-align: left; }
th { background: #f3f3f3; }
tr.not-ready td.state { background: #fde2e2; font-weight: bold; }
tr.ready td.state { background: #e3f6e3; }
tr.unknown td.state { background: #fff3cd; }
.zh { color: #555; }
.probe-ok { color: #166b16; } .probe-bad { color: #a11; } .probe-unknown { color: #777; }
.probe-ok, .probe-bad, .probe-unknown { white-space: nowrap; }
code, .fix { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 90%; }
.fix { display: block; color: #333; background: #f7f7f7; padding: .1em .3em; margin: .15em 0 .4em; }
small { color: #666; }
@media (prefers-color-scheme: dark) {
  body { background: #1e1e1e; color: #ddd; } th { background: #2c2c2c; } th, td { border-color: #444; }
  .zh, small { color: #aaa; } .fix { background: #2a2a2a; color: #ddd; }
  tr.not-ready td.state { background: #5a2020; } tr.ready td.state { background: #1f4a1f; }
  tr.unknown td.state { background: #4a4020; }
}
"""


def h(text):
    return html.escape(str(text), quote=True)


def hb(key, **kw):
    """A label in both languages: English, then Chinese on its own line."""
    en, zh = L[key]
    return '%s<br><span class="zh" lang="zh">%s</span>' % (h(en.format(**kw)), h(zh.format(**kw)))


def html_page(machines, bad, folder):
    n, ready = len(machines), sum(m["ready"] is True for m in machines)
    p = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
         '<meta name="viewport" content="width=device-width, initial-scale=1">',
         "<title>%s · %s</title>" % (h(L["title"][0]), h(L["title"][1])), "<style>%s</style></head><body>" % CSS,
         "<h1>%s</h1>" % hb("title"),
         "<p><code>%s</code>: %s</p>" % (h(folder), h(both("summary", ready=ready, n=n, bad=len(bad)))),
         "<table><thead><tr>%s</tr></thead><tbody>" % "".join(
             "<th>%s</th>" % hb(k) for k in ("host", "state", "kernel", "arch", "probes", "exercises", "missing"))]
    for m in machines:
        cls, state = (("ready", hb("ready")) if m["ready"] else ("unknown", hb("unknown")) if m["ready"] is None
                      else ("not-ready", hb("not_ready")))
        missing = "".join('<div><b>%s</b>: %s<span class="fix">%s: %s</span></div>' % (h(name), h(detail),
                          h(L["fix"][0] + " · " + L["fix"][1]), h(fix)) for name, detail, fix in m["fails"])
        if m["doctor_error"]:
            missing += "<div>%s</div>" % h(m["doctor_error"])
        if m["lessons_out"]:
            missing += "<div><b>%s</b>: %s</div>" % (h(both("lessons_out")), h(", ".join(m["lessons_out"])))
        if m["warns"]:
            missing += "<details><summary>%s (%d)</summary>%s</details>" % (h(both("warnings")), len(m["warns"]), "".join(
                '<div><b>%s</b>: %s%s</div>' % (h(name), h(detail), '<span class="fix">%s</span>' % h(fix) if fix else "")
                for name, detail, fix in m["warns"]))
        probes = "<br>".join('<span class="%s">%s %s</span>' % (
            "probe-ok" if s == "ok" else "probe-unknown" if s in ("skip", None) else "probe-bad", MARK[s], h(label))
            for label, s in m["probes"])
        exercises = "<b>%d</b> %s %d" % (len(m["done"]), h(L["of"][0]), m["checked"])
        if m["checked"] < m["total"]:
            exercises += " <small>(%d %s)</small>" % (m["total"] - m["checked"], h(both("not_checked")))
        if m["done"]:
            exercises += "<br><small>%s</small>" % h(", ".join(m["done"]))
        if m["check_error"]:
            exercises += "<br>%s" % h(m["check_error"])
        if m["not_done"]:
            exercises += "<details><summary>%s</summary>%s</details>" % (h(both("not_yet")), "".join(
                "<div><b>%s</b> %s%s</div>" % (h(e["id"]), h(e["state"]), "".join(
                    '<span class="fix">%s</span>' % h(line) for line in
                    ["expected %s" % x for x in (e.get("expected") or [])[:1]] +
                    ["期望%s" % x for x in (e.get("expected") or [])[1:2]] +
                    ["saw %s" % x for x in (e.get("saw") or [])[:1]] +
                    ["实际%s" % x for x in (e.get("saw") or [])[1:2]])) for e in m["not_done"]))
        same = "<br><small>⚠ %s</small>" % h(both("same_host", n=m["same_host"])) if m["same_host"] > 1 else ""
        p.append('<tr class="%s"><td><b>%s</b><br><small>%s<br>%s %s</small>%s</td><td class="state">%s</td>'
                 "<td><code>%s</code><br><small>%s<br>bcc %s</small></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
                 % (cls, h(m["host"]), h(m["file"]), h(both("report_time")), h(m["time"]), same, state, h(m["kernel"]),
                    h(m["distro"]), h(m["bcc"] or "—"), h(m["arch"]), probes, exercises, missing or h(both("none"))))
    p.append("</tbody></table>")
    ids = exercise_ids(machines)
    if ids:
        p.append("<h2>%s</h2><table><thead><tr><th>%s</th><th>%s</th><th>%s</th></tr></thead><tbody>"
                 % (hb("by_exercise"), hb("exercise"), hb("done_on"), hb("not_yet")))
        for eid in ids:
            done = [m["host"] for m in machines if eid in m["done"]]
            not_yet = [m["host"] for m in machines if any(x["id"] == eid for x in m["not_done"])]
            p.append("<tr><td><code>%s</code></td><td><b>%d</b> %s</td><td><b>%d</b> %s</td></tr>"
                     % (h(eid), len(done), h(", ".join(done)), len(not_yet), h(", ".join(not_yet))))
        p.append("</tbody></table>")
    if bad:
        p.append("<h2>%s</h2><table><thead><tr><th>%s</th><th>%s</th></tr></thead><tbody>"
                 % (hb("bad"), hb("file"), hb("why")))
        p += ["<tr><td><code>%s</code></td><td>%s</td></tr>" % (h(name), h(why)) for name, why in bad]
        p.append("</tbody></table>")
    p.append("</body></html>")
    return "\n".join(p) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description="One page for a class: every machine report (*.json) in a folder.")
    parser.add_argument("folder", help="the folder of the reports (results/report-<hostname>.json of each machine)")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if not folder.is_dir():
        print("error: %s is not a folder: give the folder of the reports, e.g. make class-report DIR=reports/"
              % folder, file=sys.stderr)
        return 2
    machines, bad = read_folder(folder)
    try:
        for name, text in zip(OUTPUTS, (html_page(machines, bad, folder.name or str(folder)),
                                        markdown(machines, bad, folder.name or str(folder)))):
            (folder / name).write_text(text, encoding="utf-8")
    except OSError as e:
        print("error: cannot write into %s: %s" % (folder, e.strerror or e), file=sys.stderr)
        return 1
    n, ready = len(machines), sum(m["ready"] is True for m in machines)
    print("class report: %s, %s — %d of %d machines ready, %d file(s) not read" % (
        folder / OUTPUTS[0], folder / OUTPUTS[1], ready, n, len(bad)))
    print("班级报告：%d 台中 %d 台可以上课，%d 个文件没有读取" % (n, ready, len(bad)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
