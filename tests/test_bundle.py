"""The offline bundle's manifest and refusal logic (scripts/bundle-manifest.py, scripts/offline.sh): pure, quick, no
root, no network. The bundle itself, installed for real in a guest without network: `sudo make test-bundle`."""
import json
import subprocess
import sys
import tarfile

import pytest

from harness import ROOT

OFFLINE = str(ROOT / "scripts" / "offline.sh")
MANIFEST = str(ROOT / "scripts" / "bundle-manifest.py")
OS_RELEASE = 'ID=debian\nVERSION_ID="{release}"\nVERSION_CODENAME={codename}\n'


def make_bundle(tmp_path, kernels=("6.1.0-57-amd64=linux-headers-6.1.0-57-amd64",),
                debs=("linux-headers-6.1.0-57-amd64_6.1.192-3_amd64.deb", "linux-headers-6.1.0-57-common_6.1.192-3_all.deb",
                      "bpfcc-tools_0.26.0+ds-1_all.deb")):
    """A bundle/ folder as scripts/bundle.sh makes it (empty .debs: the manifest only counts and names them)."""
    b = tmp_path / "bundle"
    (b / "debs").mkdir(parents=True)
    (b / "wheels").mkdir()
    for d in debs:
        (b / "debs" / d).write_bytes(b"x" * 10)
    (b / "wheels" / "pytest-8.4.2-py3-none-any.whl").write_bytes(b"")
    args = [sys.executable, MANIFEST, "--distro", "debian", "--release", "12", "--codename", "bookworm",
            "--arch", "amd64", "--python", "3.11.2", "--debs", str(b / "debs"), "--wheels", str(b / "wheels"),
            "--requirements", str(ROOT / "requirements.txt"), "--repo-commit", "abc123def456",
            "--packages", "bpfcc-tools python3-bpfcc make", "--created", "2026-12-03T22:00:00Z"]
    for k in kernels:
        args += ["--kernel", k]
    out = subprocess.run(args, capture_output=True, text=True, timeout=30, check=True).stdout
    (b / "manifest.json").write_text(out)
    return b


def check(tmp_path, bundle, release="12", codename="bookworm", arch="amd64", kernel="6.1.0-57-amd64", python="3.11",
          cwd=ROOT):
    """scripts/offline.sh --check on a machine whose facts are these."""
    osr = tmp_path / "os-release"
    osr.write_text(OS_RELEASE.format(release=release, codename=codename))
    env = {"PATH": "/usr/bin:/bin", "OFFLINE_TEST_OS_RELEASE": str(osr), "OFFLINE_TEST_ARCH": arch,
           "OFFLINE_TEST_KERNEL": kernel, "OFFLINE_TEST_PYTHON": python, "OFFLINE_TEST_MODULES": str(tmp_path / "modules")}
    return subprocess.run(["bash", OFFLINE, "--check", str(bundle)], capture_output=True, text=True, timeout=30,
                          env=env, cwd=cwd)


def refusal(p):
    assert p.returncode == 1, p.stdout
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("setup: error: "), p.stderr
    return lines[0]


def test_manifest_says_what_the_bundle_holds(tmp_path):
    m = json.loads((make_bundle(tmp_path) / "manifest.json").read_text())
    assert (m["format"], m["distro"], m["release"], m["codename"], m["arch"], m["python"]) == \
        (1, "debian", "12", "bookworm", "amd64", "3.11.2")
    assert m["kernels"] == {"6.1.0-57-amd64": "linux-headers-6.1.0-57-amd64"}
    assert m["headers_packages"] == ["linux-headers-6.1.0-57-amd64", "linux-headers-6.1.0-57-common"]
    assert (m["debs"], m["debs_bytes"], m["wheels"]) == (3, 30, ["pytest-8.4.2-py3-none-any.whl"])
    assert (m["created"], m["repo_commit"]) == ("2026-12-03T22:00:00Z", "abc123def456")


def test_bundle_for_this_machine_is_taken(tmp_path):
    p = check(tmp_path, make_bundle(tmp_path))
    assert p.returncode == 0, p.stderr
    assert p.stdout == "setup: bundle bundle fits this machine\n"


def test_bundle_as_a_tar_is_read_without_unpacking_it(tmp_path):
    b = make_bundle(tmp_path)
    tar = tmp_path / "ebpf-lessons-debian-12-amd64.tar"
    with tarfile.open(tar, "w") as t:
        t.add(b / "manifest.json", "ebpf-lessons/bundle/manifest.json")
    assert check(tmp_path, tar).returncode == 0
    assert refusal(check(tmp_path, tar, arch="arm64")).startswith(
        "setup: error: bundle ebpf-lessons-debian-12-amd64.tar holds debian 12 amd64")


@pytest.mark.parametrize("machine, says", [
    ({"release": "13", "codename": "trixie", "python": "3.13", "kernel": "6.12.57+deb13-amd64"},
     "this machine is debian 13 amd64, python 3.13, kernel 6.12.57+deb13-amd64 (another release or architecture): "
     "make one on a debian 13 amd64 machine with network: sudo make bundle KERNELS=6.12.57+deb13-amd64"),
    ({"arch": "arm64", "kernel": "6.1.0-57-arm64"},
     "this machine is debian 12 arm64, python 3.11, kernel 6.1.0-57-arm64 (another release or architecture): "
     "make one on a debian 12 arm64 machine with network: sudo make bundle KERNELS=6.1.0-57-arm64"),
    ({"python": "3.12"}, "this machine is debian 12 amd64, python 3.12, kernel 6.1.0-57-amd64 (another python3)"),
    ({"kernel": "6.1.0-30-amd64"},
     "this machine is debian 12 amd64, python 3.11, kernel 6.1.0-30-amd64 (no headers for this kernel): make one "
     "on a debian 12 amd64 machine with network: sudo make bundle KERNELS=6.1.0-30-amd64"),
], ids=["release", "arch", "python", "kernel"])
def test_bundle_for_another_machine_is_refused_in_one_line(tmp_path, machine, says):
    line = refusal(check(tmp_path, make_bundle(tmp_path), **machine))
    assert line.startswith("setup: error: bundle bundle holds debian 12 amd64, python 3.11, headers for "
                           "6.1.0-57-amd64; "), line
    assert says in line


def test_kernel_with_headers_installed_needs_none_from_the_bundle(tmp_path):
    (tmp_path / "modules" / "6.1.0-30-amd64" / "build").mkdir(parents=True)
    (tmp_path / "modules" / "6.1.0-30-amd64" / "build" / "Makefile").write_text("")
    assert check(tmp_path, make_bundle(tmp_path), kernel="6.1.0-30-amd64").returncode == 0


def test_fallback_bundle_serves_its_own_kernel_and_the_kernel_named(tmp_path):
    """Made on a custom kernel: the bundle holds the generic headers, which are those of the distro's kernel too."""
    b = make_bundle(tmp_path, kernels=("6.18.44-custom=linux-headers-amd64",),
                    debs=("linux-headers-amd64_6.1.192-3_amd64.deb", "linux-headers-6.1.0-57-amd64_6.1.192-3_amd64.deb",
                          "linux-headers-6.1.0-57-common_6.1.192-3_all.deb"))
    assert check(tmp_path, b, kernel="6.18.44-custom").returncode == 0
    assert check(tmp_path, b, kernel="6.1.0-57-amd64").returncode == 0
    assert "headers for 6.18.44-custom; this machine is debian 12 amd64, python 3.11, kernel 6.19.1-custom (no headers" \
        in refusal(check(tmp_path, b, kernel="6.19.1-custom"))


def test_no_python_yet_is_no_reason_to_refuse(tmp_path):
    assert check(tmp_path, make_bundle(tmp_path), python="").returncode == 0


def test_wheels_of_another_requirements_txt_are_refused(tmp_path):
    b = make_bundle(tmp_path)
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "requirements.txt").write_text("pytest==9.0.0\n")
    line = refusal(check(tmp_path, b, cwd=clone))
    assert line.startswith("setup: error: bundle bundle holds the wheels of another requirements.txt (commit "
                           "abc123def456)"), line


def test_not_a_bundle_is_one_line(tmp_path):
    (tmp_path / "other.tar").write_bytes(b"\0" * 10240)
    assert refusal(check(tmp_path, tmp_path / "other.tar")) == ("setup: error: bundle: %s is not a bundle made by "
                                                                 "'make bundle' (no ebpf-lessons/bundle/manifest.json in it)"
                                                                 % (tmp_path / "other.tar"))
    (tmp_path / "empty").mkdir()
    assert refusal(check(tmp_path, tmp_path / "empty")).startswith("setup: error: bundle: no manifest.json in ")


def test_bundle_holds_what_setup_installs():
    """scripts/bundle.sh reads the package list from scripts/setup.sh's apt_install lines."""
    out = subprocess.run(["bash", str(ROOT / "scripts" / "bundle.sh"), "--list-packages"], capture_output=True,
                         text=True, timeout=30, check=True).stdout.split()
    assert {"bpfcc-tools", "python3-bpfcc", "python3-venv", "make", "gcc", "libc6-dev", "systemtap-sdt-dev", "clang",
            "libbpf-dev", "python3-matplotlib", "bpftool"} <= set(out)
    assert len(out) == len(set(out))
