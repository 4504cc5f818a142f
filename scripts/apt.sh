# Installing Debian/Ubuntu packages only when missing; sourced by scripts/setup.sh and scripts/kernel-matrix.sh,
# which each define say() for their own prefix.
APT_UPDATED=
apt_update_once() {  # 'apt-get update' at most once per run, and only when something needs it
  if [ -z "$APT_UPDATED" ]; then say "apt-get update"; apt-get update -qq; APT_UPDATED=1; fi
}
apt_install() {  # apt_install PKG... — installs only what is missing
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  apt_update_once
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
apt_has() { apt-cache show "$1" >/dev/null 2>&1; }
