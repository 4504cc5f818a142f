# Offline set-up from a bundle (`sudo make bundle` makes one; README: "Offline set-up"). Sourced by
# scripts/setup.sh when BUNDLE is set (a bundle's .tar, or the bundle/ folder of one unpacked): it checks that
# the bundle fits this machine, then points apt at the bundle's .debs only (a flat file: repository, through
# APT_CONFIG: the machine's own sources are not read, nothing is fetched) and pip at its wheels (PIP_NO_INDEX,
# PIP_FIND_LINKS), so that the rest of setup.sh runs unchanged and touches no network.
#
# Also a command, for the tests: bash scripts/offline.sh --check BUNDLE — the check alone, no root needed.
# The machine's facts can be replaced there (OFFLINE_TEST_OS_RELEASE, _ARCH, _KERNEL, _PYTHON, _MODULES).

# manifest_get FILE KEY — a top-level scalar of the manifest (bundle-manifest.py writes one key per line)
manifest_get() {
  sed -n -e 's/^  "'"$2"'": "\(.*\)",\{0,1\}$/\1/p' -e 's/^  "'"$2"'": \([^",]*\),\{0,1\}$/\1/p' "$1" | head -n 1
}
# manifest_items FILE KEY — the keys of a top-level object, or the items of a top-level list, one a line
manifest_items() {
  awk -v key="  \"$2\": " '
    index($0, key) == 1 && /[[{]$/ { inside = 1; next }
    inside && /^  [\]}]/ { exit }
    inside { sub(/^ +"/, ""); sub(/".*$/, ""); print }' "$1"
}
# manifest_value FILE OBJECT KEY — one value of a top-level object of strings
manifest_value() {
  awk -v key="  \"$2\": " -v want="    \"$3\": " '
    index($0, key) == 1 && /[[{]$/ { inside = 1; next }
    inside && /^  [\]}]/ { exit }
    inside && index($0, want) == 1 { v = substr($0, length(want) + 1); sub(/^"/, "", v); sub(/",?$/, "", v); print v }' "$1"
}

# bundle_check MANIFEST — refuses (one line, exit 1) a bundle made for another machine than this one
bundle_check() {
  local m=$1 os_release=${OFFLINE_TEST_OS_RELEASE:-/etc/os-release} id= version_id= version_codename=
  local arch krel modules py have want_py kernels holds machine
  [ -r "$m" ] || die "bundle: no manifest.json in $BUNDLE (not a bundle made by 'make bundle'?)"
  [ "$(manifest_get "$m" format)" = 1 ] || die "bundle: $BUNDLE has a manifest of another format than this set-up reads (1)"
  # shellcheck disable=SC1090
  id=$(. "$os_release"; echo "${ID:-}") version_id=$(. "$os_release"; echo "${VERSION_ID:-}")
  version_codename=$(. "$os_release"; echo "${VERSION_CODENAME:-}")
  [ -n "$version_id" ] || version_id=$version_codename   # testing and unstable have no VERSION_ID
  arch=${OFFLINE_TEST_ARCH:-$(dpkg --print-architecture)}
  krel=${OFFLINE_TEST_KERNEL:-$(uname -r)}
  modules=${OFFLINE_TEST_MODULES:-/lib/modules}
  if [ -n "${OFFLINE_TEST_PYTHON+set}" ]; then py=$OFFLINE_TEST_PYTHON
  else py=$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true); fi
  want_py=$(manifest_get "$m" python); want_py=${want_py%.*}
  kernels=$(manifest_items "$m" kernels | tr '\n' ' '); kernels=${kernels% }
  holds="$(manifest_get "$m" distro) $(manifest_get "$m" release) $(manifest_get "$m" arch), python $want_py, headers for ${kernels:-no kernel}"
  machine="$id $version_id $arch, python ${py:-none yet}, kernel $krel"
  local why=
  if [ "$id $version_id $arch" != "$(manifest_get "$m" distro) $(manifest_get "$m" release) $(manifest_get "$m" arch)" ]; then
    why="another release or architecture"
  elif [ -n "$py" ] && [ "$py" != "$want_py" ]; then
    why="another python3"
  elif [ ! -e "$modules/$krel/build/Makefile" ] && ! grep -qxF "$krel" <<< "$(manifest_items "$m" kernels)" \
       && ! grep -qxF "linux-headers-$krel" <<< "$(manifest_items "$m" headers_packages)"; then
    why="no headers for this kernel"
  fi
  [ -z "$why" ] || die "bundle $(basename "$BUNDLE") holds $holds; this machine is $machine ($why): make one on a $id $version_id $arch machine with network: sudo make bundle KERNELS=$krel"
  # The wheels are those of the requirements.txt the bundle was made with.
  if [ -e requirements.txt ] && [ "$(sha256sum < requirements.txt | cut -d' ' -f1)" != "$(manifest_get "$m" requirements_sha256)" ]; then
    die "bundle $(basename "$BUNDLE") holds the wheels of another requirements.txt (commit $(manifest_get "$m" repo_commit)) than this copy's: set up from the bundle's own copy (tar xf the bundle, then sudo ./offline-setup.sh in it)"
  fi
  return 0
}

# bundle_open — BUNDLE (a .tar, or a folder with manifest.json) to BUNDLE_DIR, the unpacked bundle/ folder
bundle_open() {
  case "$BUNDLE" in /*) ;; *) BUNDLE=${OLDPWD:-$PWD}/$BUNDLE ;; esac   # relative to where set-up was started
  if [ -d "$BUNDLE" ]; then
    BUNDLE_DIR=$BUNDLE
  elif [ -f "$BUNDLE" ]; then
    BUNDLE_DIR=$OFFLINE_TMP/bundle
    mkdir -p "$BUNDLE_DIR"
    # the manifest first (the tar's first member): a wrong bundle is refused before 300 MB are unpacked
    tar -xOf "$BUNDLE" --occurrence=1 ebpf-lessons/bundle/manifest.json > "$BUNDLE_DIR/manifest.json" 2>/dev/null \
      || die "bundle: $BUNDLE is not a bundle made by 'make bundle' (no ebpf-lessons/bundle/manifest.json in it)"
    bundle_check "$BUNDLE_DIR/manifest.json"
    tar -xf "$BUNDLE" -C "$OFFLINE_TMP" --strip-components=1 ebpf-lessons/bundle \
      || die "bundle: cannot unpack $BUNDLE into $OFFLINE_TMP"
  else
    die "bundle: no such file or folder: $BUNDLE"
  fi
}

# bundle_apt — apt and pip, for the rest of this set-up, see the bundle only
bundle_apt() {
  local a=$OFFLINE_TMP/apt
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/sources.list.d"
  echo "deb [trusted=yes] file:$BUNDLE_DIR/debs ./" > "$a/sources.list"
  # APT::Sandbox::User root: apt's _apt user may not read the bundle (unpacked in /root, say): nothing is downloaded.
  cat > "$a/apt.conf" <<EOF
Dir::Etc::SourceList "$a/sources.list";
Dir::Etc::SourceParts "$a/sources.list.d";
Dir::State::Lists "$a/lists";
Dir::Cache "$a/cache";
Acquire::Languages "none";
APT::Sandbox::User "root";
EOF
  export APT_CONFIG=$a/apt.conf
  export PIP_NO_INDEX=1 PIP_FIND_LINKS=$BUNDLE_DIR/wheels
}

if [ "${1:-}" = --check ]; then   # the tests' entry: bash scripts/offline.sh --check BUNDLE (a .tar or a folder)
  set -euo pipefail
  die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }
  BUNDLE=${2:?}
  OFFLINE_TMP=$(mktemp -d)
  trap 'rm -rf "$OFFLINE_TMP"' EXIT
  if [ -f "$BUNDLE" ]; then
    tar -xOf "$BUNDLE" --occurrence=1 ebpf-lessons/bundle/manifest.json > "$OFFLINE_TMP/manifest.json" 2>/dev/null \
      || die "bundle: $BUNDLE is not a bundle made by 'make bundle' (no ebpf-lessons/bundle/manifest.json in it)"
    bundle_check "$OFFLINE_TMP/manifest.json"
  else
    bundle_check "$BUNDLE/manifest.json"
  fi
  echo "setup: bundle $(basename "$BUNDLE") fits this machine"
  exit 0
fi

OFFLINE_TMP=$(mktemp -d /var/tmp/ebpf-lessons-offline.XXXXXX)
trap 'rm -rf "$OFFLINE_TMP"' EXIT
bundle_open
bundle_check "$BUNDLE_DIR/manifest.json"
bundle_apt
say "offline: installing from bundle $BUNDLE ($(manifest_get "$BUNDLE_DIR/manifest.json" created), commit $(manifest_get "$BUNDLE_DIR/manifest.json" repo_commit)); no network"
