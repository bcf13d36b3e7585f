#!/usr/bin/env bash
# Installs the real upstream Sealed Secrets tools (kubeseal + controller) at a pinned release,
# built from source through the Go module proxy, into a cache shared between runs.
# Prints the bin directory on stdout. Idempotent: a second run is a no-op.
set -euo pipefail
UPSTREAM_VERSION="${UPSTREAM_VERSION:-v0.36.6}"
CACHE="${SSRS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sealed-secrets-rs}"
BIN="$CACHE/upstream-$UPSTREAM_VERSION/bin"
mkdir -p "$BIN"
for cmd in kubeseal controller; do
  if [ ! -x "$BIN/$cmd" ]; then
    echo "installing upstream $cmd $UPSTREAM_VERSION" >&2
    GOBIN="$BIN" GOFLAGS=-mod=mod CGO_ENABLED=0 \
      go install -ldflags "-X main.VERSION=${UPSTREAM_VERSION#v}" \
      "github.com/bitnami-labs/sealed-secrets/cmd/$cmd@$UPSTREAM_VERSION" >&2
  fi
done
echo "$BIN"
