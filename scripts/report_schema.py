"""The machine report's schema, in one place: what `make report` (scripts/report.py) writes and what
`make class-report` (scripts/class_report.py) reads. Python's standard library only (the instructor's laptop runs
the class report with any python3 3.7+).

One report per machine, results/report-<hostname>.json:

    kind        "ebpf-lessons/machine-report"   (any other kind is a foreign file)
    version     1                                (a larger one was written by a newer repository: not read)
    hostname, time (ISO 8601, UTC), kernel, arch, distro, python       strings
    bcc         the bcc version, or null where bcc cannot be imported
    doctor      lesson 000's --json: {"ok": bool, "checks": {id: {name, status, detail, fix}}, "lessons": [...]},
                or null where the doctor could not run (then doctor_error says why)
    exercises   every exercise: {"id", "lesson", "state", "expected", "saw"} (state: STATES; expected and saw:
                [English, Chinese] for "not yet", else null), or [] where the checker could not run (check_error)
    doctor_error, check_error   null, or one line

validate() says what is wrong with a parsed report; load() reads a file and never raises.
"""
import json

KIND = "ebpf-lessons/machine-report"
VERSION = 1
STATES = ("done", "not yet", "cannot start", "cannot run here", "not checked")
ROW_STATUSES = ("ok", "warn", "fail", "skip")
MAX_BYTES = 2 * 1024 * 1024          # a report is a few KB; anything far larger is not one (and is not read whole)

STR, NULLABLE_STR = (str,), (str, type(None))
FIELDS = {   # field -> the JSON types it may have
    "kind": STR, "version": (int,), "hostname": STR, "time": STR, "kernel": STR, "arch": STR, "distro": STR,
    "python": STR, "bcc": NULLABLE_STR, "doctor": (dict, type(None)), "exercises": (list,),
    "doctor_error": NULLABLE_STR, "check_error": NULLABLE_STR,
}


class BadReport(Exception):
    """A file that is not a report this code can read; str() is one line that says why."""


def _type_names(types):
    return " or ".join({str: "a string", int: "an integer", dict: "an object", list: "a list",
                        bool: "true/false", type(None): "null"}[t] for t in types)


def validate(report):
    """Raise BadReport (one line) unless `report` (parsed JSON) is a machine report of this VERSION."""
    if not isinstance(report, dict):
        raise BadReport("not a machine report: the JSON is %s, not an object" % type(report).__name__)
    if report.get("kind") != KIND:
        raise BadReport("not a machine report: kind is %s, not %r" % (
            json.dumps(report.get("kind"))[:60] if "kind" in report else "missing", KIND))
    version = report.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BadReport("a machine report with a bad version: %s" % json.dumps(version)[:40])
    if version > VERSION:
        raise BadReport("a machine report of version %d, newer than this repository reads (%d): update the "
                        "repository (git pull) and run the class report again" % (version, VERSION))
    missing = [f for f in FIELDS if f not in report]
    if missing:
        raise BadReport("a machine report without %s" % ", ".join(missing))
    for field, types in FIELDS.items():
        value = report[field]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise BadReport("a machine report whose %s is not %s" % (field, _type_names(types)))
    doctor = report["doctor"]
    if doctor is not None:
        if not isinstance(doctor.get("ok"), bool) or not isinstance(doctor.get("checks"), dict) \
                or not isinstance(doctor.get("lessons", []), list):
            raise BadReport("a machine report whose doctor part lacks ok (true/false) or checks (an object)")
        for cid, row in doctor["checks"].items():
            if not isinstance(row, dict) or row.get("status") not in ROW_STATUSES or \
                    not all(isinstance(row.get(k, ""), str) for k in ("name", "detail", "fix")):
                raise BadReport("a machine report whose doctor row %r is not {name, status, detail, fix}" % cid[:40])
    for i, ex in enumerate(report["exercises"]):
        if not isinstance(ex, dict) or not isinstance(ex.get("id"), str) or ex.get("state") not in STATES \
                or not isinstance(ex.get("lesson", ""), str):
            raise BadReport("a machine report whose exercise %d is not {id, lesson, state: one of %s}"
                            % (i + 1, ", ".join(STATES)))
        for k in ("expected", "saw"):
            v = ex.get(k)
            if v is not None and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
                raise BadReport("a machine report whose exercise %s has a bad %s" % (ex["id"][:20], k))
    return report


def cut_short(text):
    """Whether text looks like the start of a JSON object or list that ends too early (a copy cut short): a string
    or a bracket still open at the end."""
    if not text.lstrip().startswith(("{", "[")):
        return False
    depth, in_string, escaped = 0, False, False
    for c in text:
        if in_string:
            escaped, in_string = (not escaped and c == "\\"), in_string and (escaped or c != '"')
        elif c == '"':
            in_string = True
        elif c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
    return in_string or depth > 0


def loads(data):
    """bytes -> a validated report, or BadReport."""
    if len(data) > MAX_BYTES:
        raise BadReport("too large for a machine report (%d bytes)" % len(data))
    if not data.strip():
        raise BadReport("empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadReport("not JSON: not UTF-8 text")
    try:
        report = json.loads(text)
    except ValueError as e:   # json.JSONDecodeError; RecursionError is not a ValueError: see load()
        raise BadReport("not JSON%s: %s" % (" (cut short?)" if cut_short(text) else "", str(e).splitlines()[0][:100]))
    return validate(report)


def load(path):
    """(report, None) or (None, why): never raises, whatever the file holds."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
        return loads(data), None
    except BadReport as e:
        return None, str(e)
    except OSError as e:
        return None, "unreadable: %s" % (e.strerror or e)
    except RecursionError:
        return None, "not JSON: nested too deeply"
