# Sourced by the install_*.sh scripts: `apt_install WHAT PACKAGE...` installs Debian packages
# with apt-get as root or with password-less sudo (no download but the Debian mirrors); without
# apt-get or the rights, it says which command to run (WHAT names the caller in messages) and
# exits 1.

apt_install() {
  local what=$1
  shift
  if ! command -v apt-get >/dev/null; then
    echo "$what: no apt-get here: install $* with this system's package manager" >&2
    exit 1
  fi
  local run=()
  if (( EUID != 0 )); then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      run=(sudo -n)
    else
      echo "$what: not root and no password-less sudo: run 'sudo apt-get install -y $*'" \
        "(or the make target as root)" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  # A stale package index gives 404s on the security mirror: update only when the install fails.
  if ! "${run[@]}" apt-get install -y -q --no-install-recommends "$@"; then
    "${run[@]}" apt-get update -q
    "${run[@]}" apt-get install -y -q --no-install-recommends "$@"
  fi
}
