#!/usr/bin/env bash
# Installs local-kms (github.com/nsmithuk/local-kms), a local server that speaks the AWS KMS JSON
# API, from the Go module proxy at a pinned version, for the KMS-wrapped key tests
# (controller/tests/e2e_kms.rs) and docs/keys.md. Prints the binary's path on stdout (the last
# line); everything else goes to stderr. Idempotent and cached in ~/.cache/sealed-secrets-rs.
#
#   bash tests/kms/install.sh
#   SSRS_LOCAL_KMS=$(bash tests/kms/install.sh | tail -n1)
set -euo pipefail

VERSION=v0.0.0-20260228092603-2a5e92d09ab6
CACHE="${SSRS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sealed-secrets-rs}"
BIN="$CACHE/local-kms-$VERSION/bin"
if [[ -x "$BIN/local-kms" ]]; then
  echo "$BIN/local-kms"
  exit 0
fi
mkdir -p "$BIN"
echo "kms/install: go install github.com/nsmithuk/local-kms@$VERSION" >&2
GOBIN="$BIN.tmp" GOFLAGS=-mod=mod CGO_ENABLED=0 \
  go install "github.com/nsmithuk/local-kms@$VERSION" >&2
mv "$BIN.tmp/local-kms" "$BIN/local-kms"
rmdir "$BIN.tmp" 2>/dev/null || true
echo "$BIN/local-kms"
