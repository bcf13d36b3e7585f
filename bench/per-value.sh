#!/usr/bin/env bash
# Per-operation benchmark: sealing and unsealing one value with RSA-4096 and generating an
# RSA-4096 key, ours (criterion, sealed-secrets-core/benches/crypto.rs) next to upstream's Go
# implementation (its pkg/crypto at v0.36.6, and crypto/rsa for keys; bench/upstream-go), in
# one run on the same machine. Prints both and the ratios.
# Usage: bench/per-value.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${SSRS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sealed-secrets-rs}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
QUICK=0; [ "${1:-}" = "--quick" ] && QUICK=1
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT

if [ "$QUICK" = 1 ]; then crit=(--warm-up-time 1 --measurement-time 2); gotime=1s; keys=5x
else crit=(); gotime=5s; keys=20x; fi
# generate_key keeps its own criterion settings (10 flat samples over 20 s; keys vary a lot).
cargo bench -q -p sealed-secrets-core --bench crypto -- 'rsa4096/((seal|unseal)_one_value|generate_key)$' \
  "${crit[@]}" > "$WORK/ours.txt" 2>&1 || { cat "$WORK/ours.txt" >&2; exit 1; }
(cd bench/upstream-go && go test -run '^$' -bench 'OneValue$' -benchtime "$gotime" -count 1 . &&
  go test -run '^$' -bench 'GenerateKey$' -benchtime "$keys" -count 1 .) \
  > "$WORK/upstream.txt" 2>&1 || { cat "$WORK/upstream.txt" >&2; exit 1; }

# criterion: "rsa4096/seal_one_value  time:   [lo MID hi]" (the name may be on its own line)
ours_us() {
  awk -v name="rsa4096/$1" '
    $1 == name { found = 1 }
    found && /time:/ {
      for (i = 1; i <= NF; i++) if ($i ~ /^\[/) { v = $(i+2); u = $(i+3); break }
      if (u == "ns") v /= 1000; else if (u == "ms") v *= 1000; else if (u == "s") v *= 1e6
      print v; exit }' "$WORK/ours.txt"
}
# go test: "BenchmarkSealOneValue-2   12345   67890 ns/op"
upstream_us() { awk -v name="Benchmark$1" '$1 ~ "^" name "(-[0-9]+)?$" { print $3 / 1000; exit }' "$WORK/upstream.txt"; }

printf '%-18s %12s %14s %8s\n' "operation" "ours_us" "upstream_us" "ratio"
for pair in seal_one_value:SealOneValue unseal_one_value:UnsealOneValue generate_key:GenerateKey; do
  o="$(ours_us "${pair%%:*}")"; u="$(upstream_us "${pair##*:}")"
  [ -n "$o" ] && [ -n "$u" ] || { echo "could not parse results" >&2; cat "$WORK"/*.txt >&2; exit 1; }
  awk -v n="${pair%%:*}" -v o="$o" -v u="$u" 'BEGIN { printf "%-18s %12.1f %14.1f %7.1fx\n", n, o, u, u / o }'
done
echo "RSA-4096 OAEP-SHA256 + AES-256-GCM; ours: aws-lc-rs (criterion median); upstream: Go $(go env GOVERSION) crypto/rsa (go test -bench mean, key generation over $keys); $(nproc) cores"
