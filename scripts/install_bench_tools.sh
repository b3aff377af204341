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

if ! command -v apt-get >/dev/null; then
  echo "bench tools: no apt-get here: install pgloader with this system's package manager" >&2
  exit 1
fi

if (( EUID == 0 )); then
  run=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  run=(sudo -n)
else
  echo "bench tools: not root and no password-less sudo: run" \
    "'sudo apt-get install -y $PACKAGE' (or 'make install-bench-tools' as root)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# A stale package index gives 404s on the security mirror: update only when the install fails.
if ! "${run[@]}" apt-get install -y -q --no-install-recommends "$PACKAGE"; then
  "${run[@]}" apt-get update -q
  "${run[@]}" apt-get install -y -q --no-install-recommends "$PACKAGE"
fi
command -v pgloader >/dev/null || { echo "bench tools: installed $PACKAGE but pgloader is not" \
  "on PATH" >&2; exit 1; }
echo "bench tools: $(version)"
