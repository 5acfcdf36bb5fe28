//! What a field costs: nanoseconds per seal, per open and per blind index over 100,000
//! ID-number-sized values, for SM4-GCM and AES-256-GCM. Run it optimised:
//! `cargo run -p vault --release --example cost`.

use std::hint::black_box;
use std::time::Instant;
use vault::{Algorithm, BlindIndex, Family, IndexKey, Keyring, MasterKey, VaultError};

const N: usize = 100_000;

fn per_value(label: &str, started: Instant) {
    let ns = started.elapsed().as_nanos() / N as u128;
    println!("{label:<32} {ns:>6} ns per value");
}

fn main() -> Result<(), VaultError> {
    let ids: Vec<String> = (0..N)
        .map(|i| format!("41010219900307{:04}", i % 10_000))
        .collect();
    let aads: Vec<String> = (0..N)
        .map(|i| format!("persons.id_number:{i:08}"))
        .collect();
    println!("{N} values of 18 characters, associated data of 26 bytes");
    for algorithm in [Algorithm::Sm4Gcm, Algorithm::Aes256Gcm] {
        let master = MasterKey::generate("bench-1", algorithm)?;
        let mut ring = Keyring::new();
        ring.generate("id_number", algorithm, &master)?;

        let started = Instant::now();
        let sealed = ids
            .iter()
            .zip(&aads)
            .map(|(id, aad)| ring.seal_str("id_number", id, aad))
            .collect::<Result<Vec<_>, _>>()?;
        per_value(&format!("seal {}", algorithm.token()), started);

        let started = Instant::now();
        for (text, aad) in sealed.iter().zip(&aads) {
            black_box(ring.open_str(text, aad)?);
        }
        per_value(&format!("open {}", algorithm.token()), started);
        println!(
            "{:<32} {:>6} characters",
            "ciphertext length",
            sealed[0].len()
        );
    }

    let (key, _) = IndexKey::generate(
        "bidx-1",
        &MasterKey::generate("bench-1", Algorithm::Sm4Gcm)?,
    )?;
    let index = BlindIndex::new(key);
    let started = Instant::now();
    for id in &ids {
        black_box(index.hex(Family::IdNumber, id));
    }
    per_value("blind index hmac-sm3 (hex)", started);

    let started = Instant::now();
    for id in &ids {
        black_box(vault::mask::id_number(id, vault::mask::Style::Public));
    }
    per_value("mask id number", started);
    Ok(())
}
