#!/usr/bin/env bash
# Install the headless browser of the web page's test: Debian's `chromium` and
# `chromium-driver` (no download from the internet but the Debian mirrors). Idempotent: prints
# the versions and exits 0 when both are there already. Needs root, or sudo; otherwise says
# which command to run and exits 1.
set -euo pipefail

PACKAGES=(chromium chromium-driver)

have() { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }

if have; then
  echo "browser: $(chromium --version 2>/dev/null | head -n 1) and" \
    "$(chromedriver --version | head -n 1) already installed"
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "browser: no apt-get here: install Chromium and its chromedriver (${PACKAGES[*]} on" \
    "Debian) with this system's package manager" >&2
  exit 1
fi

if (( EUID == 0 )); then
  run=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  run=(sudo -n)
else
  echo "browser: not root and no password-less sudo: run" \
    "'sudo apt-get install -y ${PACKAGES[*]}' (or 'make install-browser' as root)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# A stale package index gives 404s on the security mirror: update only when the install fails.
if ! "${run[@]}" apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"; then
  "${run[@]}" apt-get update -q
  "${run[@]}" apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
fi
have || { echo "browser: installed ${PACKAGES[*]} but chromium or chromedriver is not on PATH" >&2
          exit 1; }
echo "browser: $(chromium --version 2>/dev/null | head -n 1), $(chromedriver --version | head -n 1)"
