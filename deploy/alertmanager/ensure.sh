#!/usr/bin/env bash
# Makes sure Debian's Alertmanager is installed: the end-to-end tests fire a
# real one at the intake, configured from deploy/alertmanager/alertmanager.yml.
set -euo pipefail
if command -v prometheus-alertmanager >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "prometheus-alertmanager is missing; install Debian's package (needs root)" >&2
  exit 1
fi
echo "[alertmanager] installing Debian's prometheus-alertmanager"
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  prometheus-alertmanager >/dev/null
# The package enables a system service; the tests start their own instance.
command -v systemctl >/dev/null 2>&1 && systemctl disable --now prometheus-alertmanager \
  >/dev/null 2>&1 || true
command -v prometheus-alertmanager >/dev/null
