#!/usr/bin/env bash
# Installs Helm at a pinned version, built from its Go module (no prebuilt download), into the
# cache shared between runs. Prints the path of the helm binary on stdout. A no-op when cached.
#
#   HELM="$(bash tests/install/helm.sh)"
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE="${SSRS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sealed-secrets-rs}"
BIN="$CACHE/helm-$HELM_VERSION/bin"
if [ ! -x "$BIN/helm" ]; then
  command -v go >/dev/null 2>&1 || { echo "error: go is needed to build helm" >&2; exit 1; }
  echo "installing helm $HELM_VERSION (go install, cached in $BIN)" >&2
  mkdir -p "$BIN"
  # The version is stamped the way Helm's Makefile does, so `helm version` reports it.
  GOBIN="$BIN" GOFLAGS=-mod=mod CGO_ENABLED=0 go install \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
fi
echo "$BIN/helm"
