#!/usr/bin/env bash
# Builds upstream Sealed Secrets' own ginkgo integration suite (`integration/`, build tag
# `integration`) at a pinned release into a cache shared between runs, together with upstream's
# kubeseal and controller stamped the way its Makefile stamps a tagged release
# (`-X main.VERSION=vX.Y.Z`, which the suite's `--version` specs match). Prints the directory that
# holds `integration.test`, `kubeseal` and `controller` on stdout. Idempotent: a second run is a
# no-op.
#
#   tests/upstream/integration.sh            # v0.40.0
#   tests/upstream/integration.sh 0.40.0     # the same
#
# The suite binary takes `-kubeconfig`, `-kubeseal-bin`, `-controller-bin`, `-namespace` and the
# usual `-ginkgo.*` flags; `controller/tests/upstream_suite.rs` runs it.
#
# As in install.sh: v0.40.0's go.mod names its module `github.com/bitnami/sealed-secrets`, which
# the Go module proxy does not serve, so the source is downloaded under the old path and a
# writable copy of it is built as the main module (install.sh's copy is reused when present).
set -euo pipefail
v="${1:-${UPSTREAM_VERSION:-v0.40.0}}"
UPSTREAM_VERSION="v${v#v}"
CACHE="${SSRS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sealed-secrets-rs}"
MOD=github.com/bitnami-labs/sealed-secrets
WORK="$CACHE/upstream-$UPSTREAM_VERSION/src"
OUT="$CACHE/upstream-$UPSTREAM_VERSION/suite"
mkdir -p "$OUT"

if [ ! -f "$WORK/go.mod" ]; then
  src="$(GOFLAGS=-mod=mod go mod download -json "$MOD@$UPSTREAM_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$src" ] || { echo "integration.sh: go mod download $MOD@$UPSTREAM_VERSION gave no source" >&2; exit 1; }
  rm -rf "$WORK.tmp"
  mkdir -p "$(dirname "$WORK")"
  cp -R "$src" "$WORK.tmp"
  chmod -R u+w "$WORK.tmp"
  mv "$WORK.tmp" "$WORK"
fi
[ -d "$WORK/integration" ] || { echo "integration.sh: $UPSTREAM_VERSION has no integration/ suite" >&2; exit 1; }

if [ ! -x "$OUT/integration.test" ]; then
  echo "building upstream integration suite $UPSTREAM_VERSION" >&2
  (cd "$WORK" && CGO_ENABLED=0 GOFLAGS=-mod=mod \
    go test -c -tags integration -trimpath -o "$OUT/integration.test.tmp" ./integration >&2)
  mv "$OUT/integration.test.tmp" "$OUT/integration.test"
fi

# Upstream's binaries with the release tag as their version (`kubeseal version: v0.40.0`), as
# `make kubeseal controller` on the tagged commit builds them; install.sh stamps `0.40.0`.
for cmd in kubeseal controller; do
  if [ ! -x "$OUT/$cmd" ]; then
    echo "building upstream $cmd $UPSTREAM_VERSION (version-stamped for the suite)" >&2
    (cd "$WORK" && CGO_ENABLED=0 GOFLAGS=-mod=mod \
      go build -trimpath -ldflags "-X main.VERSION=$UPSTREAM_VERSION" -o "$OUT/$cmd.tmp" "./cmd/$cmd" >&2)
    mv "$OUT/$cmd.tmp" "$OUT/$cmd"
  fi
done
echo "$OUT"
