#!/usr/bin/env bash
# A repository of 1,000 Secret manifests (3 items each) in 10 namespace folders: seal them all,
# then re-encrypt all 1,000 SealedSecrets for a new certificate (an offline key rotation).
# kubeseal-rs in one process (`-e ENV -w 'sealed/{namespace}/{name}.yaml'`, then `reseal DIR`)
# and, like a user would script it, one process per file; upstream kubeseal (the pinned peer, v0.40.0) one process
# per file (its only way: re-encrypt = `--recovery-unseal | kubeseal --cert NEW`). Alternated,
# several rounds, medians of wall time and of the peak RSS of the largest process.
#
#   bench/cli-repo.sh [ROUNDS] [FILES]      (defaults 3 and 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-3}"
FILES="${2:-1000}"
CACHE="${SSRS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sealed-secrets-rs}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
[ -x /usr/bin/time ] || { apt-get update -qq >/dev/null && apt-get install -y -qq time >/dev/null; }
UPSTREAM="$(bash tests/upstream/install.sh)/kubeseal"
cargo build --release -q -p kubeseal-rs
OURS="$CARGO_TARGET_DIR/release/kubeseal-rs"
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT; trap 'exit 130' INT TERM
cd "$WORK"

"$OURS" keygen -w key.yaml --cert-out cert.pem
"$OURS" keygen -w new-key.yaml --cert-out new.pem
printf '[environments.prod]\ncert = "cert.pem"\n' > .sealed-secrets.toml
for ((i = 0; i < FILES; i++)); do
  ns="team-$((i % 10))"
  mkdir -p "secrets/$ns"
  cat > "secrets/$ns/app-$i.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: app-$i
  namespace: $ns
stringData:
  username: user-$i
  password: pw-$i-$RANDOM$RANDOM
  url: postgres://db-$i.$ns.svc:5432/app
YAML
done
# The tree to re-encrypt: sealed once for cert.pem, copied back before every round.
find secrets -name '*.yaml' -exec awk 'FNR == 1 { print "---" } 1' {} + |
  "$OURS" -e prod -w 'pristine/{namespace}/{name}.yaml' > /dev/null
[ "$(find pristine -name '*.yaml' | wc -l)" = "$FILES" ] || { echo "sealing the tree failed" >&2; exit 1; }

# The scripts under test; each runs in $WORK.
cat > ours-seal-one.sh <<EOF
find secrets -name '*.yaml' -exec awk 'FNR == 1 { print "---" } 1' {} + |
  "$OURS" -e prod -w 'sealed/{namespace}/{name}.yaml' > /dev/null
EOF
cat > seal-loop.sh <<'EOF'
for f in $(find secrets -name '*.yaml'); do
  out="sealed/${f#secrets/}"; mkdir -p "$(dirname "$out")"
  "$BIN" --cert cert.pem -f "$f" -o yaml > "$out"
done
EOF
cat > ours-reseal-one.sh <<EOF
"$OURS" reseal sealed --cert new.pem --recovery-private-key key.yaml > /dev/null
EOF
cat > reseal-loop.sh <<'EOF'
for f in $(find sealed -name '*.yaml'); do
  "$BIN" --recovery-unseal --recovery-private-key key.yaml -f "$f" |
    "$BIN" --cert new.pem -o yaml > "$f.tmp"
  mv "$f.tmp" "$f"
done
EOF

# measure NAME SCRIPT [BIN]: one timed run; appends "seconds maxrss_kb" to results/NAME.
mkdir -p results
measure() {
  local name="$1" script="$2" start end
  start=$EPOCHREALTIME
  BIN="${3:-}" /usr/bin/time -f '%M' -o t bash -e "$script" 2> err || { cat err >&2; exit 1; }
  end=$EPOCHREALTIME
  echo "$(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.6f", e-s}') $(cat t)" >> "results/$name"
}
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; print m}'; }
check_new() {   # every file now opens with the new key only
  "$OURS" --recovery-unseal --recovery-private-key new-key.yaml -f "$(find sealed -name '*.yaml' | head -1)" > /dev/null
}

for r in $(seq "$ROUNDS"); do
  order=(ours-one ours-loop upstream-loop)
  [ $((r % 2)) = 0 ] && order=(upstream-loop ours-loop ours-one)
  for who in "${order[@]}"; do
    rm -rf sealed
    case "$who" in
      ours-one) measure ours-one-seal ours-seal-one.sh ;;
      ours-loop) measure ours-loop-seal seal-loop.sh "$OURS" ;;
      upstream-loop) measure upstream-loop-seal seal-loop.sh "$UPSTREAM" ;;
    esac
    [ "$(find sealed -name '*.yaml' | wc -l)" = "$FILES" ] || { echo "$who: wrong file count" >&2; exit 1; }
    rm -rf sealed && cp -a pristine sealed
    case "$who" in
      ours-one) measure ours-one-reseal ours-reseal-one.sh ;;
      ours-loop) measure ours-loop-reseal reseal-loop.sh "$OURS" ;;
      upstream-loop) measure upstream-loop-reseal reseal-loop.sh "$UPSTREAM" ;;
    esac
    check_new
  done
done

printf '%-10s %-26s %10s %9s %12s %9s\n' task tool wall_s vs_ours1 peak_rss_kb vs_ours1
for task in seal reseal; do
  o="$(cut -d' ' -f1 "results/ours-one-$task" | median)"
  om="$(cut -d' ' -f2 "results/ours-one-$task" | median)"
  for who in ours-one ours-loop upstream-loop; do
    t="$(cut -d' ' -f1 "results/$who-$task" | median)"; m="$(cut -d' ' -f2 "results/$who-$task" | median)"
    case "$who" in
      ours-one) label="kubeseal-rs, one process" ;;
      ours-loop) label="kubeseal-rs, per file" ;;
      upstream-loop) label="kubeseal, per file" ;;
    esac
    awk -v task="$task" -v l="$label" -v t="$t" -v o="$o" -v m="$m" -v om="$om" 'BEGIN {
      printf "%-10s %-26s %10.2f %8.1fx %12d %8.1fx\n", task, l, t, t / o, m, m / om }'
  done
done
echo "$FILES files, 3 items each, RSA-4096; rounds: $ROUNDS (alternating), medians; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "peak RSS = the largest single process of the run; reseal per file = --recovery-unseal | --cert NEW"
