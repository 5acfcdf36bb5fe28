//! Blind indexes: HMAC-SM3 of a normalised value under an index key of its own, for equality
//! lookups without the clear value.
//!
//! Deterministic by design: the same value under the same key gives the same index, which is
//! what makes `WHERE id_number_bidx = $1` work. What that leaks, to whoever reads the table
//! without the key: which rows hold equal values (how many people share an account, that a
//! person appears in two registries), and nothing about the value itself; without the index
//! key even a guessed ID number cannot be checked against it. With the key it is a dictionary
//! attack on an 18-character number of small real entropy, so the index key is guarded like the
//! master key: wrapped by it, kept apart from every data key (its own [`KeyKind::Index`], so
//! its blob does not unwrap as a data key), never used to encrypt.
//!
//! The family (`id_number`, `account`, `phone`) is hashed in before the value, so equal digits
//! in two families do not give equal indexes. Rotating an index key means recomputing every
//! index from the opened values; the key id tells which key an index was made with.

use crate::key::{random_bytes, Algorithm, KeyId, KeyProvider};
use crate::keyring::{KeyKind, WrappedKey};
use crate::VaultError;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sm3::Sm3;
use std::fmt;
use zeroize::Zeroizing;

/// Bytes of a new index key (the SM3 output size; HMAC takes any length).
pub const INDEX_KEY_LEN: usize = 32;

/// The key of a blind index.
pub struct IndexKey {
    id: KeyId,
    mac: Hmac<Sm3>,
    material: Zeroizing<Vec<u8>>,
}

impl IndexKey {
    /// An index key from bytes the caller holds; at least [`INDEX_KEY_LEN`] of them.
    pub fn from_bytes(id: &str, key: &[u8]) -> Result<Self, VaultError> {
        let id = KeyId::parse(id)?;
        if key.len() < INDEX_KEY_LEN {
            return Err(VaultError::KeyLength {
                key_id: id.to_string(),
                algorithm: "hmac-sm3",
                expected: INDEX_KEY_LEN,
                found: key.len(),
            });
        }
        let mac = <Hmac<Sm3> as Mac>::new_from_slice(key).map_err(|_| VaultError::KeyLength {
            key_id: id.to_string(),
            algorithm: "hmac-sm3",
            expected: INDEX_KEY_LEN,
            found: key.len(),
        })?;
        Ok(Self {
            id,
            mac,
            material: Zeroizing::new(key.to_vec()),
        })
    }

    /// A fresh random index key and its blob wrapped by `provider`, for the caller to store.
    pub fn generate(
        id: &str,
        provider: &dyn KeyProvider,
    ) -> Result<(Self, WrappedKey), VaultError> {
        let key = Self::from_bytes(id, &random_bytes(INDEX_KEY_LEN)?)?;
        let wrapped = key.wrap(provider)?;
        Ok((key, wrapped))
    }

    /// This key wrapped by `provider` (a master-key rotation re-wraps it like a data key).
    pub fn wrap(&self, provider: &dyn KeyProvider) -> Result<WrappedKey, VaultError> {
        WrappedKey::wrap(
            KeyKind::Index,
            self.id.as_str(),
            "blind_index",
            1,
            // Recorded for the wrapping's associated data only; HMAC-SM3 has no AEAD.
            Algorithm::Sm4Gcm,
            &self.material,
            provider,
        )
    }

    /// The index key inside `wrapped`; a data key's blob is refused.
    pub fn unwrap(
        wrapped: &WrappedKey,
        providers: &[&dyn KeyProvider],
    ) -> Result<Self, VaultError> {
        let material = wrapped.unwrap(KeyKind::Index, providers)?;
        Self::from_bytes(&wrapped.key_id, &material)
    }

    pub fn id(&self) -> &KeyId {
        &self.id
    }
}

impl fmt::Debug for IndexKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexKey")
            .field("id", &self.id.as_str())
            .finish_non_exhaustive()
    }
}

/// A family of values indexed together; the family is part of the HMAC input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Resident ID numbers: [`normalise_id_number`].
    IdNumber,
    /// Bank accounts: [`normalise_account`].
    Account,
    /// Phone numbers: [`normalise_phone`].
    Phone,
}

impl Family {
    pub fn label(self) -> &'static str {
        match self {
            Family::IdNumber => "id_number",
            Family::Account => "account",
            Family::Phone => "phone",
        }
    }

    /// `raw` in the form that is indexed.
    pub fn normalise(self, raw: &str) -> String {
        match self {
            Family::IdNumber => normalise_id_number(raw),
            Family::Account => normalise_account(raw),
            Family::Phone => normalise_phone(raw),
        }
    }
}

/// An ID number as indexed: whitespace anywhere removed, upper case (`x` → `X`); full-width
/// digits and `Ｘ` as their ASCII forms. No checksum check: a wrong number still has to find its
/// duplicates.
pub fn normalise_id_number(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace())
        .map(fold_full_width)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// An account as indexed: its digits only (`6222 0202-0011 2233` → `6222020200112233`).
pub fn normalise_account(raw: &str) -> String {
    raw.chars()
        .map(fold_full_width)
        .filter(char::is_ascii_digit)
        .collect()
}

/// A phone number as indexed: digits only, without the country code 86 in front of an
/// 11-digit mobile number.
pub fn normalise_phone(raw: &str) -> String {
    let digits = normalise_account(raw);
    match digits.strip_prefix("86") {
        Some(rest) if rest.len() == 11 && rest.starts_with('1') => rest.to_owned(),
        _ => digits,
    }
}

/// `０`–`９` and full-width letters as ASCII, the way IDs typed on a Chinese keyboard arrive.
pub(crate) fn fold_full_width(c: char) -> char {
    match c {
        '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' => {
            char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
        }
        _ => c,
    }
}

/// Computes blind indexes under one index key.
pub struct BlindIndex {
    key: IndexKey,
}

impl BlindIndex {
    pub fn new(key: IndexKey) -> Self {
        Self { key }
    }

    /// The id of the index key, to store beside the index (a rotation recomputes).
    pub fn key_id(&self) -> &KeyId {
        self.key.id()
    }

    /// HMAC-SM3(index key, family ‖ NUL ‖ normalised value), 32 bytes.
    pub fn digest(&self, family: Family, raw: &str) -> [u8; 32] {
        let mut mac = self.key.mac.clone();
        mac.update(family.label().as_bytes());
        mac.update(&[0]);
        mac.update(family.normalise(raw).as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The index as 64 lower-case hex characters.
    pub fn hex(&self, family: Family, raw: &str) -> String {
        hex::encode(self.digest(family, raw))
    }

    /// The index as 43 characters of unpadded base64url (a narrower column).
    pub fn base64(&self, family: Family, raw: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.digest(family, raw))
    }
}

impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindIndex")
            .field("key_id", &self.key.id.as_str())
            .finish()
    }
}
