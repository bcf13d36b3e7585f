//! The `Decrypter` seam (ADR 0005 §1–2): a key that is unavailable stops unsealing with a
//! transient error instead of "no key could decrypt", and a key held elsewhere opens items
//! like an in-memory one.

// Statics and helpers live outside `#[test]` functions, where clippy.toml's test allowances
// do not reach; a failing setup should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use sealed_secrets_core::crypto::{self, DecryptError};
use sealed_secrets_core::keys::{Decrypter, PrivateKey, PublicKey, UnwrapError};
use sealed_secrets_core::scope::Scope;
use sealed_secrets_core::seal::{
    ItemResealer, ResealItemError, UnsealError, UnsealOptions, Work, encrypt_item, reseal,
    unseal_with, verify,
};
use sealed_secrets_core::types::{ObjectMeta, SealedSecret};
use zeroize::Zeroizing;

static KEY: LazyLock<PrivateKey> = LazyLock::new(|| PrivateKey::generate(2048).unwrap());

/// A key "in a token": forwards to an in-memory key, or reports the token away.
#[derive(Debug)]
struct Remote {
    key: &'static PrivateKey,
    away: bool,
    calls: AtomicU64,
}

impl Decrypter for Remote {
    fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    fn decrypt_session_key(
        &self,
        label: &[u8],
        rsa_block: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, UnwrapError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if self.away {
            return Err(UnwrapError::Unavailable {
                reason: "C_Decrypt: DeviceRemoved".to_owned(),
            });
        }
        self.key.decrypt_session_key(label, rsa_block)
    }
}

fn remote(away: bool) -> Remote {
    Remote {
        key: &KEY,
        away,
        calls: AtomicU64::new(0),
    }
}

fn sealed() -> SealedSecret {
    let mut ss = SealedSecret {
        metadata: ObjectMeta {
            name: "app".into(),
            namespace: "ns".into(),
            ..ObjectMeta::default()
        },
        ..SealedSecret::default()
    };
    ss.spec.template.metadata = ss.metadata.clone();
    let blob = encrypt_item(KEY.public_key(), Scope::Strict, "ns", "app", b"v").unwrap();
    ss.spec.encrypted_data = Some([("a".to_owned(), blob)].into_iter().collect());
    ss
}

#[test]
fn a_remote_key_opens_items_like_an_in_memory_one() {
    let token = remote(false);
    let keys: [&dyn Decrypter; 1] = [&token];
    let out = unseal_with(
        &sealed(),
        &keys,
        &UnsealOptions::default(),
        &mut Work::default(),
    )
    .unwrap();
    assert_eq!(out.secret.data["a"].expose(), b"v");
    assert_eq!(token.calls.load(Ordering::Relaxed), 1);
    assert_eq!(token.fingerprint(), KEY.fingerprint());
}

#[test]
fn an_unavailable_key_stops_the_unseal_with_a_transient_error() {
    let token = remote(true);
    // The in-memory key after it would open the item: it is not tried, the item is not
    // declared unopenable.
    let keys: [&dyn Decrypter; 2] = [&token, &*KEY];
    let opts = UnsealOptions::default();
    let ss = sealed();
    let err = unseal_with(&ss, &keys, &opts, &mut Work::default()).unwrap_err();
    assert!(matches!(err, UnsealError::KeyUnavailable { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "sealing key unavailable: C_Decrypt: DeviceRemoved"
    );
    assert!(err.items().is_empty());
    let err = verify(&ss, &keys, &opts, &mut Work::default()).unwrap_err();
    assert!(matches!(err, UnsealError::KeyUnavailable { .. }), "{err}");
    let err = reseal(&ss, &keys, KEY.public_key(), &opts, &mut Work::default()).unwrap_err();
    assert!(matches!(err, UnsealError::KeyUnavailable { .. }), "{err}");
    let mut resealer = ItemResealer::new(&ss, &keys);
    let text = &ss.spec.encrypted_data.as_ref().unwrap()["a"];
    assert!(matches!(
        resealer.reseal(text, KEY.public_key(), &mut Work::default(), |_| true),
        Err(ResealItemError::KeyUnavailable(_))
    ));
}

#[test]
fn crypto_keeps_the_opaque_error_and_tells_unavailable_apart_only_on_request() {
    let label = Scope::Strict.label("ns", "app");
    let blob = crypto::hybrid_encrypt(KEY.public_key(), &label, b"v").unwrap();
    let token = remote(true);
    assert_eq!(
        crypto::decrypt_with_key(&token, &label, &blob),
        Err(DecryptError)
    );
    assert!(matches!(
        crypto::open_with_key(&token, &label, &blob),
        Err(UnwrapError::Unavailable { .. })
    ));
    assert_eq!(
        crypto::open_with_key(&*KEY, b"other", &blob),
        Err(UnwrapError::NotOpened)
    );
    // A block of the wrong length never reaches the key.
    let fresh = remote(false);
    assert_eq!(
        crypto::open_with_key(&fresh, &label, &blob[..100]),
        Err(UnwrapError::NotOpened)
    );
    assert_eq!(fresh.calls.load(Ordering::Relaxed), 0);
    let keys: [&dyn Decrypter; 2] = [&token, &*KEY];
    assert_eq!(
        crypto::hybrid_decrypt(&keys, &label, &blob),
        Err(DecryptError)
    );
}
