#!/usr/bin/env bash
# Install the bench's third loader: Debian's `pgloader` (3.6; no download but the Debian
# mirrors). Idempotent: prints the version and exits 0 when it is there already. Needs root, or
# password-less sudo; otherwise says which command to run and exits 1. `make bench` works
# without it (its pgloader row then says how to install it).
set -euo pipefail

PACKAGE=pgloader

version() { pgloader --version 2>/dev/null | head -n 1; }

if command -v pgloader >/dev/null; then
  echo "bench tools: $(version) already installed"
  exit 0
fi

source "$(dirname "$0")/apt_install.sh"
apt_install "bench tools" "$PACKAGE"
command -v pgloader >/dev/null || { echo "bench tools: installed $PACKAGE but pgloader is not" \
  "on PATH" >&2; exit 1; }
echo "bench tools: $(version)"
