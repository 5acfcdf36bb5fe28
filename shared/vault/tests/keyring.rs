//! Sealing, opening and rotating through the public API.

#![allow(clippy::unwrap_used, reason = "tests")]

use vault::{
    is_sealed, Algorithm, KeyProvider, Keyring, MasterKey, Sealed, VaultError, WrappedKey,
};

const NAME: &str = "张三丰";
const ID: &str = "410102199003070312";

fn master(id: &str) -> MasterKey {
    MasterKey::generate(id, Algorithm::Sm4Gcm).unwrap()
}

fn ring_with(purposes: &[&str], m: &MasterKey) -> (Keyring, Vec<WrappedKey>) {
    let mut ring = Keyring::new();
    let wrapped = purposes
        .iter()
        .map(|p| ring.generate(p, Algorithm::Sm4Gcm, m).unwrap())
        .collect();
    (ring, wrapped)
}

#[test]
fn a_sealed_value_opens_with_its_associated_data_and_names_its_key() {
    let m = master("dev-1");
    let (ring, _) = ring_with(&["name"], &m);
    let text = ring.seal_str("name", NAME, "persons.name:m-1").unwrap();
    assert!(text.starts_with("v1.sm4gcm.name-1."), "{text}");
    assert!(is_sealed(&text));
    assert!(!text.contains(NAME));
    assert_eq!(*ring.open_str(&text, "persons.name:m-1").unwrap(), NAME);
    let parsed = Sealed::parse(&text).unwrap();
    assert_eq!(parsed.key_id(), "name-1");
    assert_eq!(parsed.algorithm(), Algorithm::Sm4Gcm);
}

#[test]
fn sealing_twice_gives_two_ciphertexts() {
    let m = master("dev-1");
    let (ring, _) = ring_with(&["id_number"], &m);
    let a = ring.seal_str("id_number", ID, "r").unwrap();
    let b = ring.seal_str("id_number", ID, "r").unwrap();
    assert_ne!(a, b, "a fresh nonce per value");
}

#[test]
fn aes_256_gcm_is_selectable() {
    let m = MasterKey::generate("dev-aes", Algorithm::Aes256Gcm).unwrap();
    let mut ring = Keyring::new();
    ring.generate("account", Algorithm::Aes256Gcm, &m).unwrap();
    let text = ring.seal_str("account", "6222020200112233", "a:1").unwrap();
    assert!(text.starts_with("v1.aes256gcm.account-1."));
    assert_eq!(*ring.open_str(&text, "a:1").unwrap(), "6222020200112233");
}

#[test]
fn a_value_moved_to_another_row_does_not_open_there() {
    let m = master("dev-1");
    let (ring, _) = ring_with(&["name"], &m);
    let alice = ring
        .seal_str("name", "李四", "persons.name:member-a")
        .unwrap();
    let e = ring.open_str(&alice, "persons.name:member-b").unwrap_err();
    assert_eq!(
        e,
        VaultError::Refused {
            key_id: "name-1".into()
        }
    );
    let e = ring
        .open_str(&alice, "persons.id_number:member-a")
        .unwrap_err();
    assert!(matches!(e, VaultError::Refused { .. }));
}

#[test]
fn a_tampered_ciphertext_or_a_foreign_key_is_refused_without_a_panic() {
    let m = master("dev-1");
    let (ring, _) = ring_with(&["name"], &m);
    let text = ring.seal_str("name", NAME, "r").unwrap();

    // One bit of the body flipped.
    let mut bytes = text.clone().into_bytes();
    let last = bytes.len() - 3;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(bytes).unwrap();
    assert!(matches!(
        ring.open(&flipped, b"r"),
        Err(VaultError::Refused { .. })
    ));

    // The algorithm token changed: the header is authenticated.
    let swapped = text.replacen("sm4gcm", "aes256gcm", 1);
    assert!(matches!(
        ring.open(&swapped, b"r"),
        Err(VaultError::Refused { .. })
    ));

    // Same key id in another ring: another key.
    let (other, _) = ring_with(&["name"], &m);
    assert!(matches!(
        other.open(&text, b"r"),
        Err(VaultError::Refused { .. })
    ));

    // Key ids the ring never had.
    let foreign = text.replacen("name-1", "name-9", 1);
    assert_eq!(
        ring.open(&foreign, b"r").unwrap_err(),
        VaultError::UnknownKey {
            key_id: "name-9".into()
        }
    );

    for junk in [
        "",
        "plain text",
        "v2.sm4gcm.name-1.AAAA",
        "v1.des.name-1.AAAA",
        "v1.sm4gcm.Name.AAAA",
        "v1.sm4gcm.name-1.!!!",
        "v1.sm4gcm.name-1.AAAA",
    ] {
        let e = ring.open(junk, b"r").unwrap_err();
        assert!(matches!(e, VaultError::Malformed { .. }), "{junk}: {e:?}");
    }
}

#[test]
fn errors_and_debug_output_never_show_plaintext_or_key_material() {
    let m = master("dev-1");
    let (ring, wrapped) = ring_with(&["name"], &m);
    let text = ring.seal_str("name", NAME, "persons.name:m-1").unwrap();
    let e = ring.open_str(&text, "persons.name:m-2").unwrap_err();
    let shown = format!(
        "{e} {e:?} {ring:?} {m:?} {:?}",
        Sealed::parse(&text).unwrap()
    );
    assert!(!shown.contains(NAME), "{shown}");
    assert!(!shown.contains(text.rsplit('.').next().unwrap()), "{shown}");
    assert_eq!(
        format!("{ring:?}"),
        "Keyring { keys: [\"name-1\"], current: {\"name\": KeyId(\"name-1\")} }"
    );
    // A wrapped key holds only its blob: fine to log, and it opens nothing by itself.
    assert!(wrapped[0].wrapped.starts_with("v1.sm4gcm.dev-1."));
    assert_eq!(
        ring.seal("address", b"x", b"r").unwrap_err().to_string(),
        "no data key for purpose address"
    );
}

#[test]
fn a_keyring_unlocked_from_stored_rows_reads_what_another_sealed() {
    let m = master("dev-1");
    let (ring, wrapped) = ring_with(&["name", "id_number"], &m);
    let text = ring
        .seal_str("id_number", ID, "persons.id_number:m-1")
        .unwrap();
    let stored = serde_json::to_string(&wrapped).unwrap();
    let rows: Vec<WrappedKey> = serde_json::from_str(&stored).unwrap();
    let again = Keyring::unlock(&rows, &[&m]).unwrap();
    assert_eq!(*again.open_str(&text, "persons.id_number:m-1").unwrap(), ID);
}

#[test]
fn a_wrapped_key_does_not_unwrap_under_another_master_key_or_another_name() {
    let m = master("dev-1");
    let (_, wrapped) = ring_with(&["name"], &m);
    let impostor = MasterKey::generate("dev-1", Algorithm::Sm4Gcm).unwrap();
    assert_eq!(
        Keyring::unlock(&wrapped, &[&impostor]).unwrap_err(),
        VaultError::UnwrapRefused {
            key_id: "name-1".into(),
            master_key_id: "dev-1".into()
        }
    );
    let elsewhere = master("dev-2");
    assert!(matches!(
        Keyring::unlock(&wrapped, &[&elsewhere]).unwrap_err(),
        VaultError::UnknownMasterKey { .. }
    ));
    // The blob of the name key relabelled as the account key.
    let mut moved = wrapped[0].clone();
    moved.purpose = "account".into();
    assert!(matches!(
        Keyring::unlock(&[moved], &[&m]).unwrap_err(),
        VaultError::UnwrapRefused { .. }
    ));
}

#[test]
fn after_a_new_data_key_old_values_open_and_reseal_moves_them_to_the_newest() {
    let m = master("dev-1");
    let (mut ring, _) = ring_with(&["name"], &m);
    let old = ring.seal_str("name", NAME, "persons.name:m-1").unwrap();
    assert!(!ring.needs_reseal(&old));

    ring.generate("name", Algorithm::Sm4Gcm, &m).unwrap();
    assert_eq!(ring.current("name").unwrap().as_str(), "name-2");
    assert!(ring.needs_reseal(&old));
    assert_eq!(*ring.open_str(&old, "persons.name:m-1").unwrap(), NAME);

    let new = ring.reseal(&old, b"persons.name:m-1").unwrap();
    assert_eq!(Sealed::parse(&new).unwrap().key_id(), "name-2");
    assert!(!ring.needs_reseal(&new));
    assert_eq!(*ring.open_str(&new, "persons.name:m-1").unwrap(), NAME);
    // Idempotent: a job that runs over the row again changes nothing.
    assert_eq!(ring.reseal(&new, b"persons.name:m-1").unwrap(), new);
    // And it refuses a value that is not the row's.
    assert!(matches!(
        ring.reseal(&old, b"persons.name:m-2"),
        Err(VaultError::Refused { .. })
    ));
    assert!(ring.needs_reseal("not sealed"));
}

#[test]
fn after_a_new_master_key_the_rewrapped_keys_read_every_old_value() {
    let old_master = master("dev-1");
    let (ring, wrapped) = ring_with(&["name", "account"], &old_master);
    let text = ring
        .seal_str("account", "6222020200112233", "payees.account:p-1")
        .unwrap();

    let new_master = MasterKey::generate("prod-2", Algorithm::Aes256Gcm).unwrap();
    let rewrapped = ring.rewrap(&new_master).unwrap();
    assert!(rewrapped.iter().all(|w| w.master_key_id == "prod-2"));
    // One row at a time, as a job would, gives the same keys.
    let one = wrapped[1].rewrap(&old_master, &new_master).unwrap();
    assert_eq!(one.key_id, "account-1");

    // During the change both master keys are offered; after it, the new one alone.
    let mixed = vec![wrapped[0].clone(), one];
    let during = Keyring::unlock(&mixed, &[&old_master, &new_master]).unwrap();
    assert_eq!(
        *during.open_str(&text, "payees.account:p-1").unwrap(),
        "6222020200112233"
    );
    let after = Keyring::unlock(&rewrapped, &[&new_master]).unwrap();
    assert_eq!(
        *after.open_str(&text, "payees.account:p-1").unwrap(),
        "6222020200112233"
    );
    assert!(
        !after.needs_reseal(&text),
        "a master-key rotation re-encrypts no value"
    );
    assert_eq!(new_master.master_key_id(), "prod-2");
}

#[test]
fn the_same_key_offered_twice_is_taken_once_and_a_clash_is_refused() {
    let m = master("dev-1");
    let (mut ring, wrapped) = ring_with(&["name"], &m);
    ring.insert(&wrapped[0], &[&m]).unwrap();
    let (_, other) = ring_with(&["name"], &m);
    assert_eq!(
        ring.insert(&other[0], &[&m]).unwrap_err(),
        VaultError::DuplicateKey {
            key_id: "name-1".into()
        }
    );
}

#[test]
fn an_index_key_blob_is_not_a_data_key() {
    let m = master("dev-1");
    let (_, wrapped) = vault::IndexKey::generate("bidx-1", &m).unwrap();
    assert!(matches!(
        Keyring::unlock(&[wrapped], &[&m]).unwrap_err(),
        VaultError::WrongKeyKind { .. }
    ));
}
