//! Cost of the crypto that sealing and unsealing pay per item, with the controller's default
//! RSA-4096 keys: seal one value, unseal one value (with the right key first, and behind two
//! wrong keys, which is what a controller with three keys pays at worst), and generate a key.
//!
//! Run: `cargo bench -p sealed-secrets-core --bench crypto`. Numbers measured on the project's
//! 2-core machine are in `docs/decisions/0001-rsa-backend.md`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

// A benchmark is not production code: a setup failure should stop it loudly.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use sealed_secrets_core::crypto::{decrypt_with_key, hybrid_decrypt, hybrid_encrypt};
use sealed_secrets_core::keys::PrivateKey;
use sealed_secrets_core::scope::Scope;

const BITS: usize = 4096;
const VALUE: &[u8] = b"a typical secret value, e.g. a database password";

fn seal_and_unseal(c: &mut Criterion) {
    let key = PrivateKey::generate(BITS).expect("generate key");
    let wrong = [
        PrivateKey::generate(BITS).expect("generate key"),
        PrivateKey::generate(BITS).expect("generate key"),
    ];
    let label = Scope::Strict.label("namespace", "name");
    let blob = hybrid_encrypt(key.public_key(), &label, VALUE).expect("seal");

    let mut group = c.benchmark_group("rsa4096");
    group.bench_function("seal_one_value", |b| {
        b.iter(|| hybrid_encrypt(key.public_key(), black_box(&label), black_box(VALUE)));
    });
    group.bench_function("unseal_one_value", |b| {
        b.iter(|| decrypt_with_key(&key, black_box(&label), black_box(&blob)));
    });
    group.bench_function("unseal_one_value_third_of_three_keys", |b| {
        b.iter(|| {
            hybrid_decrypt(
                &[&wrong[0], &wrong[1], &key],
                black_box(&label),
                black_box(&blob),
            )
        });
    });
    group.finish();
}

fn key_generation(c: &mut Criterion) {
    let mut group = c.benchmark_group("rsa4096");
    // One 4096-bit key takes hundreds of milliseconds and varies a lot (prime search), so take
    // few flat samples over a longer window.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("generate_key", |b| {
        b.iter(|| PrivateKey::generate(black_box(BITS)));
    });
    group.finish();
}

criterion_group!(benches, seal_and_unseal, key_generation);
criterion_main!(benches);
