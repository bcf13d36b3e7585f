#!/usr/bin/env bash
# Installs a PKCS#11 soft token that implements RSA-OAEP with SHA-256, MGF1-SHA-256 and a label
# (CKM_RSA_PKCS_OAEP with CKZ_DATA_SPECIFIED): kryoptic, built from crates.io against the system
# OpenSSL 3 (`dynamic`). SoftHSM 2.6.1 (Debian) refuses that mechanism with SHA-256
# (CKR_ARGUMENTS_BAD), hence this token for tests/pkcs11 and bench/pkcs11.sh.
#
# Idempotent and cached: the module lands in ~/.cache/sealed-secrets-rs/kryoptic-$VERSION/ and a
# second run is a no-op (besides checking that pkcs11-tool is there). Prints the module path on stdout (the last line); everything else goes to
# stderr. Needs apt-get (Debian) and cargo.
#
#   bash tests/pkcs11/install.sh            # install, print the module path
#   SSRS_PKCS11_MODULE=$(bash tests/pkcs11/install.sh | tail -n1)
set -euo pipefail

VERSION=1.5.4
CACHE="${SSRS_CACHE:-$HOME/.cache/sealed-secrets-rs}"
DEST="$CACHE/kryoptic-$VERSION"
MODULE="$DEST/libkryoptic_pkcs11.so"

log() { echo "pkcs11/install: $*" >&2; }

# pkcs11-tool (Debian's opensc) initialises tokens for docs/keys.md and bench/controller.py's
# pkcs11 side; the tests do it through cryptoki and do not need it. Installed when missing.
if ! command -v pkcs11-tool >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]]; then
    log "apt-get install opensc (pkcs11-tool)"
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends opensc >&2; } ||
      log "note: apt-get install opensc failed; the tests do not need pkcs11-tool"
  else
    log "note: pkcs11-tool is missing (apt-get install opensc); the tests do not need it"
  fi
fi

if [[ -s "$MODULE" ]]; then
  echo "$MODULE"
  exit 0
fi

# Build dependencies: OpenSSL 3 headers (ossl-sys links the system libcrypto), libclang for
# bindgen, SQLite for the token store, pkg-config to find them.
need=()
for pkg in libssl-dev libclang-dev libsqlite3-dev pkg-config clang; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  log "apt-get install ${need[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    log "not root: install ${need[*]} first"
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

# kryoptic's own crate (the cdylib) enables kryoptic-lib's `standard` set, which includes EdDSA
# and so needs OpenSSL >= 3.2; Debian 12 ships 3.0. A three-function cdylib over kryoptic-lib
# with the features we need (RSA, hashes, the SQLite store) builds against 3.0.
BUILD="$CACHE/kryoptic-build-$VERSION"
mkdir -p "$BUILD/src"
cat >"$BUILD/Cargo.toml" <<TOML
[package]
name = "ssrs-kryoptic-module"
version = "0.0.0"
edition = "2024"
publish = false

[lib]
name = "kryoptic_pkcs11"
crate-type = ["cdylib"]
path = "src/lib.rs"

[dependencies]
kryoptic-lib = { version = "=$VERSION", default-features = false, features = ["dynamic", "sqlitedb", "rsa", "hash_all", "aes"] }

[profile.release]
opt-level = 2
debug = false

[workspace]
TOML
cat >"$BUILD/src/lib.rs" <<'RS'
//! The PKCS#11 entry points of kryoptic-lib, exported from a cdylib.
use kryoptic_lib::fns::general::{fn_get_function_list, fn_get_interface, fn_get_interface_list};
use kryoptic_lib::pkcs11::*;

/// PKCS#11 v2 entry point.
#[unsafe(no_mangle)]
pub extern "C" fn C_GetFunctionList(list: CK_FUNCTION_LIST_PTR_PTR) -> CK_RV {
    fn_get_function_list(list)
}

/// PKCS#11 v3 entry point.
#[unsafe(no_mangle)]
pub extern "C" fn C_GetInterface(
    name: CK_UTF8CHAR_PTR,
    version: CK_VERSION_PTR,
    interface: CK_INTERFACE_PTR_PTR,
    flags: CK_FLAGS,
) -> CK_RV {
    fn_get_interface(name, version, interface, flags)
}

/// PKCS#11 v3 entry point.
#[unsafe(no_mangle)]
pub extern "C" fn C_GetInterfaceList(list: CK_INTERFACE_PTR, count: CK_ULONG_PTR) -> CK_RV {
    fn_get_interface_list(list, count)
}
RS

# The dependency versions the module was tested with (tests/pkcs11/kryoptic-module.Cargo.lock).
cp "$(dirname "$0")/kryoptic-module.Cargo.lock" "$BUILD/Cargo.lock"

log "building kryoptic $VERSION (a few minutes on a cold cache)"
(
  cd "$BUILD"
  # Its own target dir: the module is not part of the workspace build. CONFDIR is where kryoptic
  # looks for kryoptic.conf when KRYOPTIC_CONF is unset; the tests always set KRYOPTIC_CONF.
  CARGO_TARGET_DIR="$BUILD/target" CONFDIR=/etc cargo build --release --locked -j "${SSRS_PKCS11_JOBS:-2}" >&2
)
mkdir -p "$DEST"
tmp="$(mktemp "$DEST/.module.XXXXXX")"
cp "$BUILD/target/release/libkryoptic_pkcs11.so" "$tmp"
mv -f "$tmp" "$MODULE"
log "installed $MODULE"
echo "$MODULE"
