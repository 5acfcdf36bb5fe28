//! Blind indexes through the public API.

#![allow(clippy::unwrap_used, reason = "tests")]

use vault::{Algorithm, BlindIndex, Family, IndexKey, MasterKey};

fn index(id: &str, seed: u8) -> BlindIndex {
    BlindIndex::new(IndexKey::from_bytes(id, &[seed; 32]).unwrap())
}

#[test]
fn an_index_is_stable_across_spellings_of_the_same_value() {
    let b = index("bidx-1", 1);
    let h = b.hex(Family::IdNumber, "41010219900307031x");
    assert_eq!(h.len(), 64);
    assert_eq!(h, b.hex(Family::IdNumber, " 41010219900307031X "));
    assert_eq!(
        h,
        b.hex(Family::IdNumber, "４１０１０２１９９００３０７０３１Ｘ")
    );
    assert_eq!(
        h,
        index("bidx-1", 1).hex(Family::IdNumber, "41010219900307031X")
    );
    assert_eq!(
        b.hex(Family::Account, "6222 0202-0011 2233"),
        b.hex(Family::Account, "6222020200112233")
    );
    assert_eq!(
        b.hex(Family::Phone, "+86 138-0013-5678"),
        b.hex(Family::Phone, "13800135678")
    );
    assert_eq!(b.base64(Family::Account, "6222020200112233").len(), 43);
}

#[test]
fn indexes_differ_by_key_and_by_family() {
    let a = index("bidx-1", 1);
    let b = index("bidx-2", 2);
    assert_ne!(
        a.hex(Family::Account, "13800135678"),
        b.hex(Family::Account, "13800135678")
    );
    assert_ne!(
        a.hex(Family::Account, "13800135678"),
        a.hex(Family::Phone, "13800135678")
    );
    assert_ne!(
        a.hex(Family::IdNumber, "410102199003070312"),
        a.hex(Family::IdNumber, "410102199003070313")
    );
}

#[test]
fn an_index_key_wraps_and_unwraps_and_is_at_least_256_bits() {
    let m = MasterKey::generate("dev-1", Algorithm::Sm4Gcm).unwrap();
    let (key, wrapped) = IndexKey::generate("bidx-1", &m).unwrap();
    let before = BlindIndex::new(key).hex(Family::IdNumber, "410102199003070312");
    let again = IndexKey::unwrap(&wrapped, &[&m]).unwrap();
    assert_eq!(
        BlindIndex::new(again).hex(Family::IdNumber, "410102199003070312"),
        before
    );
    assert!(IndexKey::from_bytes("short", &[0; 16]).is_err());
    // A data key's blob is not an index key.
    let mut ring = vault::Keyring::new();
    let data = ring.generate("id_number", Algorithm::Sm4Gcm, &m).unwrap();
    assert!(IndexKey::unwrap(&data, &[&m]).is_err());
}

#[test]
fn debug_of_an_index_prints_its_key_id_only() {
    let b = index("bidx-1", 0xAB);
    assert_eq!(format!("{b:?}"), "BlindIndex { key_id: \"bidx-1\" }");
    let k = IndexKey::from_bytes("bidx-1", &[0xAB; 32]).unwrap();
    assert_eq!(format!("{k:?}"), "IndexKey { id: \"bidx-1\", .. }");
}

#[test]
fn the_index_of_sm3_hmac_is_the_published_construction() {
    // HMAC (RFC 2104) over SM3 (GB/T 32905-2016) computed by hand from the hash alone, so the
    // index is the standard HMAC-SM3 any other implementation reproduces.
    use sm3::{Digest, Sm3};
    let key = [0x0bu8; 32];
    let msg = b"id_number\x00410102199003070312";
    let mut k = [0u8; 64];
    k[..32].copy_from_slice(&key);
    let inner: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x36)
        .chain(msg.iter().copied())
        .collect();
    let inner = Sm3::digest(&inner);
    let outer: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x5c)
        .chain(inner.iter().copied())
        .collect();
    let expected = hex::encode(Sm3::digest(&outer));
    let b = BlindIndex::new(IndexKey::from_bytes("kat", &key).unwrap());
    assert_eq!(b.hex(Family::IdNumber, "410102199003070312"), expected);
}
