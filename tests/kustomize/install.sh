#!/usr/bin/env bash
# Installs the real `kustomize` at a pinned release, built from source through the Go module
# proxy, into the shared cache. Prints the binary's path on stdout. A second run is a no-op.
set -euo pipefail
KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.8.1}"
CACHE="${SSRS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sealed-secrets-rs}"
BIN="$CACHE/kustomize-$KUSTOMIZE_VERSION/bin"
if [ ! -x "$BIN/kustomize" ]; then
  echo "installing kustomize $KUSTOMIZE_VERSION" >&2
  mkdir -p "$BIN"
  GOBIN="$BIN" GOFLAGS=-mod=mod CGO_ENABLED=0 \
    go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
fi
echo "$BIN/kustomize"
