#!/usr/bin/env bash
# Installs the real upstream Sealed Secrets tools (kubeseal + controller) at a pinned release,
# built from source, into a cache shared between runs. Prints the bin directory on stdout.
# Idempotent: a second run is a no-op.
#
#   tests/upstream/install.sh            # the pinned peer (v0.40.0)
#   tests/upstream/install.sh 0.36.6     # the previous peer, still used by a few fixtures
#
# v0.40.0's go.mod names its module `github.com/bitnami/sealed-secrets`, a path the Go module
# proxy does not serve, so `go install …@v0.40.0` fails. Its source still downloads under the old
# path (`go mod download github.com/bitnami-labs/sealed-secrets@v0.40.0`); we build a copy of that
# directory as the main module. Older releases build with a plain `go install`.
set -euo pipefail
v="${1:-${UPSTREAM_VERSION:-v0.40.0}}"
UPSTREAM_VERSION="v${v#v}"
CACHE="${SSRS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sealed-secrets-rs}"
BIN="$CACHE/upstream-$UPSTREAM_VERSION/bin"
MOD=github.com/bitnami-labs/sealed-secrets
mkdir -p "$BIN"

# Releases whose go.mod still says github.com/bitnami-labs/sealed-secrets.
go_install() {
  GOBIN="$BIN" GOFLAGS=-mod=mod CGO_ENABLED=0 \
    go install -ldflags "-X main.VERSION=${UPSTREAM_VERSION#v}" \
    "$MOD/cmd/$1@$UPSTREAM_VERSION" >&2
}

# Releases under the renamed module: build from a writable copy of the downloaded source.
build_from_source() {
  local src
  src="$(GOFLAGS=-mod=mod go mod download -json "$MOD@$UPSTREAM_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$src" ] || { echo "install.sh: go mod download $MOD@$UPSTREAM_VERSION gave no source" >&2; exit 1; }
  local work="$CACHE/upstream-$UPSTREAM_VERSION/src"
  if [ ! -f "$work/go.mod" ]; then
    rm -rf "$work.tmp"
    cp -R "$src" "$work.tmp"
    chmod -R u+w "$work.tmp"
    mv "$work.tmp" "$work"
  fi
  (cd "$work" && CGO_ENABLED=0 GOFLAGS=-mod=mod \
    go build -trimpath -ldflags "-X main.VERSION=${UPSTREAM_VERSION#v}" -o "$BIN/$1.tmp" "./cmd/$1" >&2)
  mv "$BIN/$1.tmp" "$BIN/$1"
}

for cmd in kubeseal controller; do
  if [ ! -x "$BIN/$cmd" ]; then
    echo "installing upstream $cmd $UPSTREAM_VERSION" >&2
    case "$UPSTREAM_VERSION" in
      v0.3[0-6].*|v0.[0-2]*) go_install "$cmd" ;;
      *) build_from_source "$cmd" ;;
    esac
  fi
done
echo "$BIN"
