#!/usr/bin/env python3
"""The manifest of an offline bundle (scripts/bundle.sh): what it holds, as JSON, one key per line, which
scripts/offline.sh reads with sed and awk (a machine being set up may have no python3 yet).

  bundle-manifest.py --distro debian --release 12 --codename bookworm --arch amd64 --python 3.11.2 \
      --kernel 6.1.0-57-amd64=linux-headers-6.1.0-57-amd64 [--kernel ...] --debs DIR --wheels DIR \
      --requirements requirements.txt --repo-commit 78ec3b5 --packages "bpfcc-tools ..."
"""
import argparse
import datetime
import hashlib
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser()
    for name in ("distro", "release", "codename", "arch", "python", "repo-commit", "requirements", "debs", "wheels"):
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--packages", required=True, help="what set-up installs with apt, space-separated")
    ap.add_argument("--kernel", action="append", default=[], help="KERNEL_RELEASE=HEADERS_PACKAGE")
    ap.add_argument("--created", default=None)
    a = ap.parse_args()
    kernels = {}
    for k in a.kernel:
        krel, sep, pkg = k.partition("=")
        if not sep or not krel or not pkg:
            sys.exit("error: --kernel wants KERNEL_RELEASE=HEADERS_PACKAGE, not %r" % k)
        kernels[krel] = pkg
    debs = sorted(f for f in os.listdir(a.debs) if f.endswith(".deb"))
    wheels = sorted(f for f in os.listdir(a.wheels) if f.endswith(".whl"))
    with open(a.requirements, "rb") as f:
        req_sha = hashlib.sha256(f.read()).hexdigest()
    manifest = {
        "format": 1,
        "distro": a.distro,
        "release": a.release,
        "codename": a.codename,
        "arch": a.arch,
        "python": a.python,
        # each kernel the bundle can set up, and the headers package set-up installs for it (the distro's generic
        # one, a FALLBACK, where the distro has no headers for that kernel: as scripts/setup.sh does)
        "kernels": kernels,
        "headers_packages": sorted({d.split("_")[0] for d in debs if d.startswith("linux-headers-")}),
        "created": a.created or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "repo_commit": a.repo_commit,
        "requirements_sha256": req_sha,
        "apt_packages": a.packages.split(),
        "debs": len(debs),
        "debs_bytes": sum(os.path.getsize(os.path.join(a.debs, d)) for d in debs),
        "wheels": wheels,
    }
    json.dump(manifest, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
