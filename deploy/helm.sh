#!/usr/bin/env bash
# Installs a pinned helm into var/tools/bin (skipped when that version is there).
# Helm is built from its Go module with `go install`: no prebuilt binary is
# downloaded, so this works wherever the Go module proxy is reachable.
# Prints the path of the helm binary on success.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HELM_VERSION="${HELM_VERSION:-v3.21.4}"
BIN="$ROOT/var/tools/bin"
HELM="$BIN/helm"

if [ -x "$HELM" ] && "$HELM" version --template '{{.Version}}' 2>/dev/null \
    | grep -qx "$HELM_VERSION"; then
  echo "$HELM"
  exit 0
fi
command -v go >/dev/null || { echo "deploy/helm.sh: go is needed to build helm" >&2; exit 1; }
mkdir -p "$BIN"
echo "deploy/helm.sh: building helm $HELM_VERSION (a few minutes the first time)..." >&2
# -mod=mod: resolve helm's own go.mod; -ldflags set the version helm reports
# (a module build leaves it at its default otherwise).
GOBIN="$BIN" GOFLAGS=-mod=mod go install \
  -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
echo "$HELM"
