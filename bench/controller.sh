#!/usr/bin/env bash
# Controller benchmarks, ours vs upstream (the pinned peer, v0.40.0), on one local control plane (tests/cluster):
# cold burst, cold backlog, restart, steady state (bench/controller.py has the details). Needs
# root (the harness's namespaces). Prints a Markdown table of medians and ratios on stdout; progress on
# stderr.
#
#   bench/controller.sh [--quick] [ROUNDS]        (default 3 rounds; --quick: 1 small round)
#
# Environment: SSRS_BENCH_ARGS adds bench/controller.py options (e.g. "--n-big 5000");
# SSRS_BENCH_UNSEAL_MS skips the criterion run that measures one RSA-4096 decryption;
# SSRS_BENCH_HOLD=FILE (profiling) keeps our controller up and idle after the restart, its pid
# in FILE, until FILE is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
CACHE="${SSRS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sealed-secrets-rs}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
QUICK=0
if [ "${1:-}" = "--quick" ]; then QUICK=1; shift; fi
ROUNDS="${1:-3}"

UPSTREAM_DIR="$(bash tests/upstream/install.sh)"
bash tests/cluster/build >&2
# SSRS_BENCH_PREBUILT=1 uses the release binaries already in CARGO_TARGET_DIR as they are.
[ "${SSRS_BENCH_PREBUILT:-0}" = 1 ] || cargo build --release -q -p sealed-secrets-controller -p kubeseal-rs
OURS="$CARGO_TARGET_DIR/release/sealed-secrets-controller"
KUBESEAL_RS="$CARGO_TARGET_DIR/release/kubeseal-rs"

# One RSA-4096 decryption (criterion median), for the cold scenario's RSA floor.
UNSEAL_MS="${SSRS_BENCH_UNSEAL_MS:-}"
if [ -z "$UNSEAL_MS" ] && [ "$QUICK" = 0 ]; then
  out="$(cargo bench -q -p sealed-secrets-core --bench crypto -- 'rsa4096/unseal_one_value$' \
    --warm-up-time 1 --measurement-time 3 2>&1)"
  UNSEAL_MS="$(awk '/time:/ { for (i = 1; i <= NF; i++) if ($i ~ /^\[/) { v = $(i+2); u = $(i+3); break }
    if (u == "µs" || u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "ns") v /= 1e6
    print v; exit }' <<<"$out")"
fi

WORK="$(mktemp -d)"
CLUSTER="$WORK/cluster"
cleanup() {
  tests/cluster/down "$CLUSTER" >/dev/null 2>&1 || true
  if [ "${SSRS_BENCH_KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
tests/cluster/up "$CLUSTER" >&2

if [ "$QUICK" = 1 ]; then
  size=(--rounds 1 --n-cold 100 --n-big 300 --rate 10 --duration 5 --idle-window 3 --timeout 120)
else
  size=(--rounds "$ROUNDS")
fi
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $(date -u '+%F %H:%M UTC')" >&2
# shellcheck disable=SC2086 # SSRS_BENCH_ARGS is a list of options
python3 bench/controller.py --repo "$REPO" --cluster-dir "$CLUSTER" --work "$WORK" \
  --ours-bin "$OURS" --upstream-bin "$UPSTREAM_DIR/controller" --kubeseal-rs "$KUBESEAL_RS" \
  --unseal-ms "${UNSEAL_MS:-0}" "${size[@]}" ${SSRS_BENCH_ARGS:-}
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
