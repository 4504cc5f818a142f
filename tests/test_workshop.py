"""The instructor's kit (docs/workshop.md) besides the class report (tests/test_class_report.py):

- the checker's exit status (scripts/check.py: 0 all done, 1 not yet, 2 bad usage, 3 the rest cannot run here),
  its --json and --only, and what a learner sees of `make check` in a terminal (a pty): the checker's lines,
  then its one line on what make's error line means, then make's line, and nothing else;
- `make clean-machine` (scripts/clean_machine.py): a stale bcc probe event, a stale trace buffer, an enlarged
  buffer and a lesson left running are each found, undone and reported;
- the provisioning files: docs/workshop/cloud-init.yaml passes cloud-init's own schema check, and its script
  refuses to run before the instructor has filled in the repository's URL; docs/workshop/lima.yaml has only keys
  that Lima documents, a Debian 12 image for each Mac architecture, and provision scripts that parse;
- the guide is linked from both READMEs and pairs heading for heading with its Chinese twin.
BPF runs only in the tests that use the `bpf_ready` fixture; run them under the BPF lock."""
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import time

import pytest

from harness import CAPS, ROOT, TIME_SCALE, LessonRun, READY_TIMEOUT, bcc_probe_events, learner_env
from conftest import require

sys.path.insert(0, str(ROOT / "scripts"))
import check  # noqa: E402
import clean_machine  # noqa: E402

CHECK = ROOT / "scripts" / "check.py"
CLEAN = ROOT / "scripts" / "clean_machine.py"
WORKSHOP = ROOT / "docs" / "workshop"


def run(argv, env=None, seconds=120):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                          timeout=seconds * TIME_SCALE, cwd=str(ROOT))


# ---------------------------------------------------------------- the checker's exit status and --json
@pytest.mark.parametrize("states, code", [
    (["done", "done"], 0), (["done", "not yet"], 1), (["cannot start"], 1), (["done", "cannot run here"], 3),
    (["not yet", "cannot run here"], 1), ([], 0)])
def test_the_exit_status_is_the_worst_state(states, code):
    assert check.status([check.Result(s) for s in states]) == code


@pytest.mark.parametrize("argv", [["nope"], ["--only", "001-fork,nope"], ["--file", "x.py"],
                                  ["001-fork", "--watch", "--json"], ["--only", "001-fork", "--watch"]])
def test_bad_usage_is_one_error_line_and_exit_2(argv):
    proc = run([sys.executable, str(CHECK)] + argv)
    assert proc.returncode == 2 and not proc.stdout, proc.stdout
    assert proc.stderr.splitlines()[-1].startswith("check.py: error: "), proc.stderr


def test_json_lists_every_exercise_and_what_it_expected(monkeypatch, capsys):
    """--only checks the exercises named; the others are listed as not checked (check() stubbed: no BPF)."""
    def fake(exercise, script=None):
        if exercise.id == "001-fork":
            return check.Result("not yet", ["not yet: expected X; saw Y"], expected=["X", "期望"], saw=["Y", "实际"])
        return check.Result("done")
    monkeypatch.setattr(check, "check", fake)
    assert check.main(["--json", "--only", "001-fork,002-two-hooks"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "ebpf-lessons/check" and report["version"] == 1
    states = {e["id"]: e for e in report["exercises"]}
    assert list(states) == list(check.EXERCISES)
    assert states["001-fork"]["state"] == "not yet" and states["001-fork"]["expected"] == ["X", "期望"]
    assert states["001-fork"]["lesson"] == "001_hello" and states["001-fork"]["saw"] == ["Y", "实际"]
    assert states["002-two-hooks"]["state"] == "done"
    assert all(e["state"] == "not checked" for i, e in states.items() if i not in ("001-fork", "002-two-hooks"))


@pytest.mark.parametrize("makelevel", [None, "1"])
def test_under_make_the_checker_says_what_makes_error_line_means(monkeypatch, capsys, makelevel):
    monkeypatch.setattr(check, "check", lambda exercise, script=None: check.Result("not yet", ["not yet: x"]))
    monkeypatch.delenv("MAKELEVEL", raising=False)
    if makelevel:
        monkeypatch.setenv("MAKELEVEL", makelevel)
    assert check.main(["001-fork"]) == 1
    out = capsys.readouterr().out.splitlines()
    note = '(make says "Error 1" next: not every exercise is done yet — make 接着会打印 "Error 1"，意思是：还有练习没有完成)'
    assert (out[-1] == note) == bool(makelevel), out


def in_a_terminal(argv, seconds):
    """What a person sees: argv in a pty, its whole output and exit status."""
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(str(ROOT))
        os.execvpe(argv[0], argv, learner_env())
    out, deadline = b"", time.monotonic() + seconds * TIME_SCALE
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:              # EIO: the other side has closed
                break
            if not data:
                break
            out += data
    else:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return out.decode("utf-8", "replace").replace("\r\n", "\n"), os.waitstatus_to_exitcode(status)


def test_what_a_learner_sees_of_make_check_not_yet(bpf_ready):
    """007-exit's untouched starter, in lesson 007's group (conftest.py, kernel_group)."""
    require(shutil.which("make"), "make is not installed")
    text, code = in_a_terminal(["make", "check", "EX=007-exit"], 180)
    lines = [l for l in text.splitlines() if l.strip() and not l.startswith("setup: ")]
    assert code == 2, text                       # GNU make's status for a failed recipe
    assert lines[0].startswith("✗ 007-exit") and "not yet" in lines[0], text
    assert lines[-2].startswith('(make says "Error 1" next: not every exercise is done yet'), text
    assert re.match(r"^make: \*\*\* \[Makefile:\d+: check\] Error 1$", lines[-1]), text
    assert "Traceback" not in text and sum(l.startswith("make") for l in lines) == 1, text


# ---------------------------------------------------------------- make clean-machine
def clean(*args, lessons_under="/nonexistent"):
    """Run make clean-machine's script. It stops only the lesson scripts under `lessons_under`: not those other
    tests run beside it (make test runs five workers)."""
    proc = run([sys.executable, str(CLEAN), "--lessons-under", str(lessons_under)] + list(args))
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_clean_machine_needs_root(tmp_path):
    setpriv = shutil.which("setpriv")
    require(os.geteuid() == 0 and setpriv, "needs root and setpriv (util-linux) to run it as another user")
    proc = run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, str(CLEAN)])
    assert proc.returncode == 1 and proc.stderr.startswith("error: ") and "sudo make clean-machine" in proc.stderr


def test_clean_machine_bad_usage():
    proc = clean("--buffer-kb", "0")
    assert proc.returncode == 2 and "error:" in proc.stderr


def test_bcc_event_names_tell_their_process():
    m = clean_machine.BCC_EVENT.match("p:uprobes/p__usr_lib_x86_64_linux_gnu_libc_so_6_0x7a2c0_bcc_4242 "
                                      "/usr/lib/x86_64-linux-gnu/libc.so.6:0x000000000007a2c0")
    assert m and m.group("pid") == "4242" and m.group("group") == "uprobes"
    assert clean_machine.BCC_EVENT.match("r:kprobes/r_vfs_read_bcc_17 vfs_read").group("pid") == "17"
    assert not clean_machine.BCC_EVENT.match("p:probe_libc/malloc /usr/lib/libc.so.6:0x99")   # perf probe's


def entry_point(path):
    """The ELF entry point of a 64-bit little-endian executable: an offset a uprobe can be placed at."""
    with open(path, "rb") as f:
        header = f.read(64)
    assert header[:4] == b"\x7fELF" and header[4] == 2 and header[5] == 1, path
    return struct.unpack_from("<Q", header, 24)[0]


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_clean_machine_removes_a_stale_probe_event_and_the_trace_buffers_lines(bpf_ready):
    events = os.path.join(CAPS.tracefs, "uprobe_events")
    require(os.path.exists(events), "no uprobe_events in tracefs (a kernel without CONFIG_UPROBE_EVENTS)")
    pid = dead_pid()
    name = "p_ebpf_lessons_test_bcc_%d" % pid        # what bcc would name an event of that process
    true = os.path.realpath(shutil.which("true"))
    clean_machine.append(events, "p:uprobes/%s %s:0x%x\n" % (name, true, entry_point(true)))
    marker = "clean-machine-test-%d" % os.getpid()
    with open(os.path.join(CAPS.tracefs, "trace_marker"), "w") as f:
        f.write(marker)
    try:
        proc = clean()
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "removed uprobe_events left by process %d, which has ended" % pid in proc.stdout, proc.stdout
        assert name not in open(events).read()
        assert marker not in open(os.path.join(CAPS.tracefs, "trace")).read()
        assert re.search(r"trace buffer emptied \(\d+ stale line", proc.stdout), proc.stdout
        assert proc.stdout.splitlines()[-1].startswith("clean-machine: clean:"), proc.stdout
    finally:
        if name in open(events).read():
            clean_machine.append(events, "-:uprobes/%s\n" % name)


def test_clean_machine_puts_the_trace_buffer_size_back(bpf_ready):
    path = os.path.join(CAPS.tracefs, "buffer_size_kb")
    before = open(path).read().strip()
    size = int(re.match(r"\d+", before).group(0))
    require("expanded" not in before, "the trace buffer is not expanded yet: its size cannot be changed and put back")
    try:
        with open(path, "w") as f:
            f.write(str(size + 4))
        proc = clean("--buffer-kb", str(size))
        assert proc.returncode == 0, proc.stdout
        assert "trace buffer: %d KiB per CPU, back to %d as at boot (--buffer-kb)" % (size + 4, size) in proc.stdout
        assert int(open(path).read().split()[0]) == size
    finally:
        with open(path, "w") as f:
            f.write(str(size))


def test_clean_machine_stops_a_lesson_left_running(bpf_ready, tmp_path):
    for name in ("001_hello/hello.py", "plumbing.py", "facts.py"):   # a copy: the lesson this test left running
        shutil.copy(ROOT / "lessons" / name, tmp_path)
    lesson = LessonRun(tmp_path / "hello.py", [])
    try:
        lesson.match(re.compile(r"^Tracing .*Ctrl-C to end"), READY_TIMEOUT, "the ready line")
        proc = clean(lessons_under=tmp_path)
        assert "stopped lesson process %d" % lesson.proc.pid in proc.stdout, proc.stdout
        assert lesson.proc.wait(timeout=10 * TIME_SCALE) == 0          # Ctrl-C: the lesson ends as it should
        assert proc.returncode == 0 and not bcc_probe_events(lesson.proc.pid), proc.stdout
    finally:
        lesson.kill()


# ---------------------------------------------------------------- provisioning files
def test_cloud_init_user_data_passes_cloud_inits_schema():
    """cloud-init is not a prerequisite of the lessons (installing it on a learner's machine enables its boot
    services): where it is not installed this one test is skipped, with this reason listed by -ra, even under
    `make test`. It reads the schema that comes with the package: no network (checked under `unshare -n`)."""
    if not shutil.which("cloud-init"):
        pytest.skip("cloud-init is not installed (apt install cloud-init): its schema check cannot run here")
    proc = run(["cloud-init", "schema", "--config-file", str(WORKSHOP / "cloud-init.yaml")])
    assert proc.returncode == 0 and "Valid cloud-config" in proc.stdout, proc.stdout + proc.stderr


def yaml_load(path):
    yaml = pytest.importorskip("yaml")    # PyYAML: jupytext's dependency (requirements.txt)
    return yaml.safe_load(path.read_text())


def test_cloud_init_user_data_shape_and_script():
    text = (WORKSHOP / "cloud-init.yaml").read_text()
    assert text.startswith("#cloud-config\n")            # cloud-init reads user-data as cloud-config only then
    data = yaml_load(WORKSHOP / "cloud-init.yaml")
    assert set(data) <= {"package_update", "packages", "write_files", "runcmd", "final_message"}, set(data)
    assert {"git", "make"} <= set(data["packages"])
    script = data["write_files"][0]["content"]
    assert "make setup" in script and "make report" in script and "make clean-machine" in script
    assert run(["bash", "-n", "-c", script]).returncode == 0


def test_the_provisioning_script_refuses_an_unfilled_url(tmp_path):
    script = tmp_path / "provision"
    script.write_text(yaml_load(WORKSHOP / "cloud-init.yaml")["write_files"][0]["content"])
    proc = run(["bash", str(script)])
    assert proc.returncode == 1 and "REPO_URL is not filled in" in proc.stderr, proc.stderr


# The keys of Lima's instance configuration, as its templates/default.yaml documents them (lima-vm/lima).
LIMA_KEYS = {"vmType", "arch", "images", "cpus", "memory", "disk", "mounts", "mountTypesUnsupported", "mountType",
             "mountInotify", "additionalDisks", "ssh", "caCerts", "upgradePackages", "containerd", "provision",
             "probes", "minimumLimaVersion", "vmOpts", "os", "cpuType", "rosetta", "timezone", "firmware", "audio",
             "video", "networks", "env", "param", "hostResolver", "portForwards", "copyToHost", "message",
             "propagateProxyEnv", "dns", "guestInstallPrefix", "nestedVirtualization", "plain", "base", "user"}


def test_lima_template_shape():
    data = yaml_load(WORKSHOP / "lima.yaml")
    assert set(data) <= LIMA_KEYS, set(data) - LIMA_KEYS
    assert data["vmType"] == "vz"                         # Lima: "vz" on macOS 13 and later
    arches = {i["arch"]: i["location"] for i in data["images"]}
    assert set(arches) == {"aarch64", "x86_64"}           # Apple silicon and Intel Macs
    for arch, url in arches.items():
        assert re.match(r"^https://cloud\.debian\.org/images/cloud/bookworm/latest/debian-12-genericcloud-%s\.qcow2$"
                        % {"aarch64": "arm64", "x86_64": "amd64"}[arch], url), url
    for p in data["provision"] + data["probes"]:
        assert p["mode"] in ("system", "user", "boot", "readiness") and p["script"].startswith("#!/bin/bash\n")
        script = p["script"].replace("{{.Home}}", "/home/u.linux").replace("{{.User}}", "u")
        assert run(["bash", "-n", "-c", script]).returncode == 0
    assert any("make setup" in p["script"] for p in data["provision"])


# ---------------------------------------------------------------- the guide
def headings(path):
    lines, fence, found = path.read_text().splitlines(), False, []
    for line in lines:
        if line.startswith("```"):
            fence = not fence
        elif not fence and line.startswith("#"):
            found.append(len(line) - len(line.lstrip("#")))
    return found


def test_the_guide_is_linked_and_paired():
    en, zh = ROOT / "docs" / "workshop.md", ROOT / "docs" / "workshop.zh.md"
    assert headings(en) == headings(zh) and len(headings(en)) > 8
    assert "docs/workshop.md" in (ROOT / "README.md").read_text()
    assert "docs/workshop.zh.md" in (ROOT / "README.zh.md").read_text()
    blocks = [re.findall(r"```.*?```", p.read_text(), re.S) for p in (en, zh)]
    assert blocks[0] == blocks[1]
