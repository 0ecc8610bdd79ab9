#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed: the web UI's end-to-end test drives
# it through Playwright (executable path set; Playwright downloads no browser).
set -euo pipefail
CHROMIUM="${CAPAFLOW_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is missing; install Debian's package 'chromium' (needs root)" >&2
  exit 1
fi
echo "[browser] installing Debian's chromium"
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null
test -x "$CHROMIUM"
