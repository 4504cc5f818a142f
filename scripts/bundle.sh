#!/usr/bin/env bash
# The offline bundle (`sudo make bundle`; README: "Offline set-up"): one .tar with everything set-up needs on a
# machine of this distribution release and architecture with no network:
#
#   ebpf-lessons/bundle/manifest.json   what it holds (scripts/bundle-manifest.py): distro, release, arch,
#                                       kernels and their headers, python, created, repo commit
#   ebpf-lessons/bundle/debs/           every .deb scripts/setup.sh installs with apt, with all dependencies (the
#                                       whole closure, as apt resolves it for an empty system: a machine that
#                                       lacks one, or has an older one, gets it from here), and the headers of
#                                       each kernel in KERNELS; a flat apt repository (Packages, Release)
#   ebpf-lessons/bundle/wheels/         the wheels of requirements.txt for this python3 (binary only)
#   ebpf-lessons/...                    the repository: its files (tracked and untracked, not ignored)
#   ebpf-lessons/offline-setup.sh       sudo ./offline-setup.sh: set-up from the bundle (make not needed)
#
#   KERNELS="6.1.0-57-amd64 6.1.0-57-cloud-amd64"   the kernels the bundle holds headers for (default: the running
#                     one). Where the distro has no linux-headers-<kernel> (a custom kernel), the bundle holds the
#                     generic headers set-up falls back to (linux-headers-<arch>), as scripts/setup.sh would.
#   BUNDLE_OUT=dist   where the .tar goes
#   bash scripts/bundle.sh --list-packages   what set-up installs with apt (read from scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'bundle: %s\n' "$*"; }
die() { printf 'bundle: error: %s\n' "$*" >&2; exit 1; }
trap 'die "step failed (line $LINENO): $BASH_COMMAND"' ERR

# What set-up installs with apt: the literal names of its apt_install lines (the headers, named by a variable
# there, come from KERNELS below). bpftool is optional there (Ubuntu has no such package), and here.
setup_packages() {
  grep -oE 'apt_install( +[a-z0-9][a-z0-9.+-]*)+' scripts/setup.sh | sed 's/^apt_install//' | tr ' ' '\n' \
    | awk 'NF && !seen[$0]++'
}
OPTIONAL="bpftool"
if [ "${1:-}" = --list-packages ]; then setup_packages | tr '\n' ' ' | sed 's/ $/\n/'; exit 0; fi
[ $# -eq 0 ] || die "unknown argument '$1' (usage: sudo make bundle [KERNELS=\"...\"])"

[ "$(id -u)" -eq 0 ] || die "needs root (apt-get update): run it as 'sudo make bundle'"
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || die "a bundle is made on Debian or Ubuntu (apt, dpkg)"
# shellcheck source=/dev/null
. /etc/os-release
DISTRO=${ID:?} RELEASE=${VERSION_ID:-${VERSION_CODENAME:-}} CODENAME=${VERSION_CODENAME:-}
[ -n "$RELEASE" ] || die "/etc/os-release names no VERSION_ID nor VERSION_CODENAME"
ARCH=$(dpkg --print-architecture)
KERNELS=${KERNELS:-$(uname -r)}
OUT=${BUNDLE_OUT:-dist}
NAME=ebpf-lessons-$DISTRO-$RELEASE-$ARCH
# shellcheck source=apt.sh
. scripts/apt.sh   # apt_install, apt_has
T0=$(date +%s)

WORK=$(mktemp -d /var/tmp/ebpf-lessons-bundle.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
TOP=$WORK/ebpf-lessons
B=$TOP/bundle
mkdir -p "$B/debs" "$B/wheels"

# ---------------------------------------------------------------- the .debs
say "apt-get update"
apt-get update -qq
pkgs=()
for p in $(setup_packages); do
  if apt_has "$p"; then pkgs+=("$p")
  elif [[ " $OPTIONAL " == *" $p "* ]]; then say "note: no $p package here (optional: set-up does without it)"
  else die "set-up installs $p, which apt does not know here"; fi
done
kernel_args=()
for k in $KERNELS; do
  if apt_has "linux-headers-$k"; then
    hdr=linux-headers-$k
  else
    # scripts/setup.sh's fallback for a kernel the distro has no headers for
    hdr=linux-headers-$ARCH
    apt_has "$hdr" || hdr=linux-headers-generic
    apt_has "$hdr" || die "no linux-headers-$k and no generic headers package ($hdr) here"
    say "kernel $k: no linux-headers-$k in the distro; the bundle holds the FALLBACK $hdr, as set-up installs it"
  fi
  kernel_args+=(--kernel "$k=$hdr")
  [[ " ${pkgs[*]} " == *" $hdr "* ]] || pkgs+=("$hdr")
done

# apt resolves the whole closure as for an empty system (an empty dpkg status), without recommends, as set-up
# installs; --download-only fetches every .deb of it into the bundle.
apt_offline_opts() {  # the options of an apt that sees an empty system (and, with $1, the bundle's repository only)
  echo "-o Dir::State::status=$WORK/status -o Dir::Cache=$WORK/cache -o Dir::Cache::archives=$B/debs"
  echo "-o APT::Install-Recommends=false -o APT::Install-Suggests=false -o Debug::NoLocking=true"
  [ -z "${1:-}" ] || echo "-o Dir::Etc::SourceList=$WORK/offline.list -o Dir::Etc::SourceParts=$WORK/none -o Dir::State::Lists=$WORK/lists"
}
: > "$WORK/status"
mkdir -p "$WORK/cache" "$B/debs/partial" "$WORK/none" "$WORK/lists/partial"
say "downloading ${pkgs[*]} and their dependencies"
# shellcheck disable=SC2046
apt-get $(apt_offline_opts) install --download-only -y -qq "${pkgs[@]}" > "$WORK/download.log" 2>&1 \
  || { tail -n 20 "$WORK/download.log" >&2; die "apt-get could not download the packages (log above)"; }
rm -rf "$B/debs/partial" "$B/debs/lock"

# A flat repository: Packages (each .deb's control fields, its file name, size and hashes) and a Release that
# names it. Read with [trusted=yes] from a file: source (scripts/offline.sh); no signature to check offline.
(
  cd "$B/debs"
  for deb in *.deb; do
    dpkg-deb -f "$deb"
    printf 'Filename: ./%s\nSize: %s\nMD5sum: %s\nSHA256: %s\n\n' "$deb" "$(stat -c %s "$deb")" \
      "$(md5sum < "$deb" | cut -d' ' -f1)" "$(sha256sum < "$deb" | cut -d' ' -f1)"
  done > Packages
  printf 'Origin: ebpf-lessons\nLabel: ebpf-lessons offline bundle\nArchitectures: %s all\nDate: %s\nSHA256:\n %s %s Packages\n' \
    "$ARCH" "$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')" "$(sha256sum < Packages | cut -d' ' -f1)" \
    "$(stat -c %s Packages)" > Release
)
ndebs=$(find "$B/debs" -name '*.deb' | wc -l)
# The check that matters offline: from the bundle alone, apt can install all of it on an empty system.
echo "deb [trusted=yes] file:$B/debs ./" > "$WORK/offline.list"
# shellcheck disable=SC2046
apt-get $(apt_offline_opts offline) update -qq > "$WORK/offline.log" 2>&1 \
  && apt-get $(apt_offline_opts offline) install -s -qq "${pkgs[@]}" >> "$WORK/offline.log" 2>&1 \
  || { tail -n 20 "$WORK/offline.log" >&2; die "the bundle's .debs alone do not install (log above)"; }
say "$ndebs .debs ($(du -sm "$B/debs" | cut -f1) MB), enough for an empty system (apt-get -s from them alone)"

# ---------------------------------------------------------------- the wheels
# pip of a venv on this /usr/bin/python3 (the one set-up makes .venv on), without system site-packages, so that
# it downloads every requirement and dependency; binary only: nothing to build offline.
apt_install python3-venv
PYVER=$(/usr/bin/python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
/usr/bin/python3 -m venv "$WORK/pyenv"
"$WORK/pyenv/bin/python" -m pip download -q --disable-pip-version-check --only-binary=:all: \
  -r requirements.txt -d "$B/wheels" || die "pip download of requirements.txt failed (python $PYVER)"
say "$(find "$B/wheels" -name '*.whl' | wc -l) wheels for python $PYVER ($(du -sm "$B/wheels" | cut -f1) MB)"

# ---------------------------------------------------------------- the repository
# Its files as they are here: tracked and untracked, not what .gitignore names (.venv, results, site, dist, an
# unpacked bundle's bundle/ and offline-setup.sh). Not a git checkout (a bundle's own copy): all but those.
if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$PWD" ]; then
  COMMIT=$(git describe --always --dirty --abbrev=12)
  git ls-files -z -c -o --exclude-standard | while IFS= read -r -d '' f; do
    if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi   # not a tracked file deleted here
  done | tar --null -T - -cf - | tar -xf - -C "$TOP"
else
  COMMIT=$(/usr/bin/python3 -c 'import json; print(json.load(open("bundle/manifest.json"))["repo_commit"])' \
           2>/dev/null || true)
  COMMIT="${COMMIT:-unknown} (not a git checkout)"
  tar --exclude=./.venv --exclude=./results --exclude=./site --exclude=./dist --exclude=./bundle \
      --exclude=./offline-setup.sh --exclude=__pycache__ -cf - . | tar -xf - -C "$TOP"
fi
cat > "$TOP/offline-setup.sh" <<'EOF'
#!/bin/sh
# Set-up with no network, from this bundle (README: "Offline set-up"): sudo ./offline-setup.sh, then sudo make run
cd "$(dirname "$0")" && BUNDLE=bundle exec bash scripts/setup.sh
EOF
chmod 755 "$TOP/offline-setup.sh"

# ---------------------------------------------------------------- manifest, tar
/usr/bin/python3 scripts/bundle-manifest.py --distro "$DISTRO" --release "$RELEASE" --codename "$CODENAME" \
  --arch "$ARCH" --python "$PYVER" "${kernel_args[@]}" --debs "$B/debs" --wheels "$B/wheels" \
  --requirements requirements.txt --repo-commit "$COMMIT" --packages "${pkgs[*]}" > "$B/manifest.json"
mkdir -p "$OUT"
tarball=$OUT/$NAME.tar
# the manifest first: set-up reads it (and refuses a bundle for another machine) before unpacking the rest
tar -cf "$tarball.part" -C "$WORK" --owner=0 --group=0 ebpf-lessons/bundle/manifest.json
tar -rf "$tarball.part" -C "$WORK" --owner=0 --group=0 --exclude=ebpf-lessons/bundle/manifest.json ebpf-lessons
mv "$tarball.part" "$tarball"
say "$tarball: $(du -m "$tarball" | cut -f1) MB; $DISTRO $RELEASE $ARCH, python $PYVER, kernels: $KERNELS; made in $(( $(date +%s) - T0 )) s"
say "on each machine: tar xf $NAME.tar && cd ebpf-lessons && sudo ./offline-setup.sh"
