#!/usr/bin/env bash
# RSA-4096 RSA-OAEP-SHA256 decryption of a sealed value (RSA block and AES-GCM) with the key in
# a PKCS#11 token (kryoptic, software) vs the same work with aws-lc-rs in memory. Prints the mean
# per operation of each; no threshold (a figure, not a test). A hardware HSM is usually slower
# per operation than either and is bounded by its own throughput: measure on the real device.
#   Usage: bench/pkcs11.sh [ROUNDS]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-20}"
CACHE="${SSRS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sealed-secrets-rs}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
SSRS_PKCS11_MODULE="$(bash tests/pkcs11/install.sh | tail -n1)"
export SSRS_PKCS11_MODULE SSRS_PKCS11=1 SSRS_PKCS11_BENCH=1 SSRS_PKCS11_BENCH_N="$ROUNDS"
# The test profile: dependencies (aws-lc-rs, kryoptic's OpenSSL is the system one) are optimised.
cargo test -q -p sealed-secrets-controller --test pkcs11 bench_oaep_decrypt -- --exact --nocapture 2>/dev/null |
  grep -o 'pkcs11 bench:.*'
