#!/usr/bin/env bash
# Regenerates the fixtures in this folder (see README.md). Needs openssl (3.x), ssh-keygen and
# the upstream kubeseal binary (tests/upstream/install.sh). Every run makes NEW keys, so the
# expected values in README.md and in tests/crypto_props.rs must be updated after a re-run.
set -euo pipefail
cd "$(dirname "$0")"
KUBESEAL="${KUBESEAL:-$(bash ../../../tests/upstream/install.sh 0.36.6)/kubeseal}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# RSA-4096 key, written as PKCS#1 (what the controller stores) and as PKCS#8.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out rsa4096-pkcs8.pem
openssl rsa -in rsa4096-pkcs8.pem -traditional -out rsa4096-pkcs1.pem

# A 1024-bit RSA key: Go would accept it, aws-lc-rs refuses it (src/keys.rs unit test).
openssl genrsa -traditional -out rsa1024-pkcs1.pem 1024

# A certificate shaped like the controller's: empty DN, 10 years, KeyUsage critical
# encipherOnly, BasicConstraints critical CA:TRUE, sha256WithRSAEncryption.
cat > "$work/ext.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
[ext]
keyUsage = critical, encipherOnly
basicConstraints = critical, CA:TRUE
subjectKeyIdentifier = hash
CNF
openssl req -new -x509 -key rsa4096-pkcs1.pem -subj / -days 3650 -sha256 \
  -config "$work/ext.cnf" -extensions ext -out rsa4096-cert.pem

# The same key in a certificate that expired on June 18, 2021 (openssl 3.0 `x509` cannot set
# dates, so a throwaway `openssl ca` signs it with explicit start and end dates).
mkdir -p "$work/ca"
touch "$work/ca/index.txt"
cat > "$work/ca.cnf" <<CNF
[ca]
default_ca = ca
[ca]
database = $work/ca/index.txt
new_certs_dir = $work/ca
serial = $work/ca/serial
default_md = sha256
policy = any
email_in_dn = no
unique_subject = no
copy_extensions = none
[any]
[ext]
keyUsage = critical, encipherOnly
basicConstraints = critical, CA:TRUE
CNF
echo 01 > "$work/ca/serial"
# (The empty `[any]` policy drops the CN, so this certificate has an empty DN too.)
openssl req -new -key rsa4096-pkcs1.pem -subj "/CN=expired" -out "$work/expired.csr"
openssl ca -batch -config "$work/ca.cnf" -selfsign -keyfile rsa4096-pkcs1.pem \
  -in "$work/expired.csr" -startdate 20110620043245Z -enddate 20210618043245Z \
  -extensions ext -notext -out rsa4096-expired-cert.pem

# EC P-256 key as SEC1 (`EC PRIVATE KEY`) and PKCS#8, and an EC certificate.
openssl ecparam -name prime256v1 -genkey -noout -out ec-p256-sec1.pem
openssl pkcs8 -topk8 -nocrypt -in ec-p256-sec1.pem -out ec-p256-pkcs8.pem
openssl req -new -x509 -key ec-p256-sec1.pem -subj "/CN=ec" -days 3650 -out ec-p256-cert.pem

# ssh-keygen's fingerprint of the RSA key (what Fingerprint must print).
openssl rsa -in rsa4096-pkcs1.pem -pubout -out "$work/pub.pem"
ssh-keygen -i -m PKCS8 -f "$work/pub.pem" > "$work/pub.ssh"
ssh-keygen -lf "$work/pub.ssh" | awk '{print $2}' > rsa4096-fingerprint.txt

# Values sealed by the real upstream kubeseal (Go) with that certificate, one per scope.
printf 'hunter2' > "$work/value"
for scope in strict namespace-wide cluster-wide; do
  "$KUBESEAL" --cert rsa4096-cert.pem --raw --scope "$scope" --name mysecret \
    --namespace myns --from-file "$work/value" > "upstream-sealed-$scope.b64"
done
"$KUBESEAL" --cert rsa4096-expired-cert.pem --raw --name mysecret --namespace myns \
  --from-file "$work/value" 2> upstream-expired-error.txt > /dev/null || true
