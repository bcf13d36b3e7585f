#!/usr/bin/env bash
# Whole-process benchmark of sealing one manifest and recovering it: kubeseal-rs vs upstream
# kubeseal v0.36.6, alternated on the same machine in one run. Reports median wall time, peak
# RSS and the ratios. Usage: bench/cli-seal.sh [ROUNDS]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-30}"
CACHE="${SSRS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sealed-secrets-rs}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
for tool in /usr/bin/time; do
  [ -x "$tool" ] || { apt-get update -qq >/dev/null && apt-get install -y -qq time >/dev/null; }
done
UPSTREAM="$(bash tests/upstream/install.sh)/kubeseal"
cargo build --release -q -p kubeseal-rs
OURS="$CARGO_TARGET_DIR/release/kubeseal-rs"
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
"$OURS" keygen -w "$WORK/key.yaml" --cert-out "$WORK/cert.pem"   # RSA-4096, like the controller
cat > "$WORK/secret.yaml" <<'YAML'
apiVersion: v1
kind: Secret
metadata:
  name: app
  namespace: prod
  labels: {app: web}
stringData:
  username: admin
  password: correct-horse-battery-staple
  url: postgres://db.prod.svc:5432/app
YAML
"$OURS" --cert "$WORK/cert.pem" -f "$WORK/secret.yaml" -o yaml > "$WORK/sealed.yaml"

# measure NAME CMD... : runs once, appends "seconds maxrss_kb" to $WORK/NAME
measure() {
  local name="$1"; shift
  local start end
  start=$EPOCHREALTIME
  /usr/bin/time -f '%M' -o "$WORK/t" "$@" > /dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
  end=$EPOCHREALTIME
  echo "$(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.6f", e-s}') $(cat "$WORK/t")" >> "$WORK/$name"
}
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; print m}'; }

for _ in $(seq "$ROUNDS"); do
  measure ours-seal "$OURS" --cert "$WORK/cert.pem" -f "$WORK/secret.yaml" -o yaml
  measure upstream-seal "$UPSTREAM" --cert "$WORK/cert.pem" -f "$WORK/secret.yaml" -o yaml
  measure ours-recover "$OURS" --recovery-unseal --recovery-private-key "$WORK/key.yaml" -f "$WORK/sealed.yaml"
  measure upstream-recover "$UPSTREAM" --recovery-unseal --recovery-private-key "$WORK/key.yaml" -f "$WORK/sealed.yaml"
done

printf '%-10s %14s %14s %10s %14s %14s %10s\n' op ours_ms upstream_ms ratio ours_rss_kb upstr_rss_kb ratio
for op in seal recover; do
  o_t=$(cut -d' ' -f1 "$WORK/ours-$op" | median); u_t=$(cut -d' ' -f1 "$WORK/upstream-$op" | median)
  o_m=$(cut -d' ' -f2 "$WORK/ours-$op" | median); u_m=$(cut -d' ' -f2 "$WORK/upstream-$op" | median)
  awk -v op="$op" -v ot="$o_t" -v ut="$u_t" -v om="$o_m" -v um="$u_m" 'BEGIN {
    printf "%-10s %14.1f %14.1f %9.1fx %14d %14d %9.1fx\n", op, ot*1000, ut*1000, ut/ot, om, um, um/om }'
done
echo "rounds: $ROUNDS (alternating); machine: $(nproc) cores; wall = whole process incl. exec, median"
