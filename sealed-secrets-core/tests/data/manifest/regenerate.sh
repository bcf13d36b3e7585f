#!/usr/bin/env bash
# Regenerates the upstream outputs in this folder with the real kubeseal (see README.md).
# Usage: bash regenerate.sh   (needs python3, openssl and the pinned upstream kubeseal)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$(bash "$here/../../../../tests/upstream/install.sh" 0.36.6)"
kubeseal="$bin/kubeseal"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A throwaway key pair; no output depends on it once ciphertexts are replaced.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
  -days 30 -subj / 2>/dev/null

# Replaces every encryptedData value with "ciphertext-of-<item>" (ciphertexts differ per run).
# The value is a plain base64 scalar in both formats, so a textual replacement keeps every
# other byte as kubeseal wrote it.
placeholders() {
  python3 - "$1" <<'PY'
import json, re, sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
def objects(text):
    if text.lstrip().startswith("{"):
        decoder, i = json.JSONDecoder(), 0
        while i < len(text):
            if text[i].isspace():
                i += 1
                continue
            obj, i = decoder.raw_decode(text, i)
            yield obj
    else:
        # kubeseal's YAML: one "encryptedData:" block per document, "    item: value" lines.
        for block in re.findall(r"^  encryptedData:\n((?:    .*\n)+)", text, re.M):
            yield {"spec": {"encryptedData": dict(
                line.strip().split(": ", 1) for line in block.splitlines())}}
for obj in objects(text):
    for item, ciphertext in obj["spec"]["encryptedData"].items():
        assert re.fullmatch(r"[A-Za-z0-9+/=]+", ciphertext), ciphertext
        text = text.replace(ciphertext, "ciphertext-of-" + item)
open(path, "w", encoding="utf-8").write(text)
PY
}

seal() { # input output format
  "$kubeseal" --cert "$work/cert.pem" -o "$3" < "$here/$1" > "$here/$2"
}

for input in tricky-annotations.json yaml11-secret.yaml; do
  base="${input%.*}"
  seal "$input" "$base.sealed.yaml" yaml
  cp "$here/$base.sealed.yaml" "$work/$base.sealed.yaml" # real ciphertexts, for recovery
  seal "$input" "$base.sealed.json" json
  "$kubeseal" --recovery-unseal --recovery-private-key "$work/key.pem" -o yaml \
    < "$work/$base.sealed.yaml" > "$here/$base.recovered.yaml"
  "$kubeseal" --recovery-unseal --recovery-private-key "$work/key.pem" -o json \
    < "$work/$base.sealed.yaml" > "$here/$base.recovered.json"
  placeholders "$here/$base.sealed.yaml"
  placeholders "$here/$base.sealed.json"
done
seal stream.json stream.sealed.yaml yaml
seal stream.json stream.sealed.json json
placeholders "$here/stream.sealed.yaml"
placeholders "$here/stream.sealed.json"
echo "regenerated with $("$kubeseal" --version)"
