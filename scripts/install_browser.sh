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

source "$(dirname "$0")/apt_install.sh"
apt_install "browser" "${PACKAGES[@]}"
have || { echo "browser: installed ${PACKAGES[*]} but chromium or chromedriver is not on PATH" >&2
          exit 1; }
echo "browser: $(chromium --version 2>/dev/null | head -n 1), $(chromedriver --version | head -n 1)"
