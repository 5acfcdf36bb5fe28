//! The one error type of the vault. No variant carries a plaintext, a key or a ciphertext:
//! messages name the key, the purpose or the rule, never the value.

/// What went wrong sealing, opening, wrapping or loading a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// A key id or purpose that does not follow the naming rule ([`crate::key::KeyId`]).
    #[error("{what} must be 1 to 64 characters of a-z, 0-9, '_' and '-' ({rule})")]
    InvalidName {
        what: &'static str,
        rule: &'static str,
    },
    /// Key material of the wrong length for its algorithm.
    #[error("key {key_id}: {algorithm} needs a key of {expected} bytes, found {found}")]
    KeyLength {
        key_id: String,
        algorithm: &'static str,
        expected: usize,
        found: usize,
    },
    /// A key file that cannot be read or does not follow the format of [`crate::key::MasterKey::from_key_file`].
    #[error("key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    /// An algorithm token other than `sm4gcm` and `aes256gcm`.
    #[error("unknown algorithm (expected sm4gcm or aes256gcm)")]
    UnknownAlgorithm,
    /// A text that is not a ciphertext of this format; `reason` names the part that is wrong.
    #[error("not a vault ciphertext: {reason}")]
    Malformed { reason: &'static str },
    /// A ciphertext under a key id the keyring does not hold.
    #[error("no data key {key_id} in the keyring")]
    UnknownKey { key_id: String },
    /// No data key for a purpose, so nothing can be sealed for it.
    #[error("no data key for purpose {purpose}")]
    NoCurrentKey { purpose: String },
    /// A wrapped key names a master key that none of the given providers holds.
    #[error("data key {key_id} is wrapped by master key {master_key_id}, which no provider holds")]
    UnknownMasterKey {
        key_id: String,
        master_key_id: String,
    },
    /// Authentication failed: the wrong key, the wrong associated data (another row or column)
    /// or an altered ciphertext. AEAD cannot tell which, by design.
    #[error("ciphertext under key {key_id} refused: wrong key, wrong associated data or altered")]
    Refused { key_id: String },
    /// A wrapped data or index key that its master key refuses (wrong master key, a blob moved
    /// to another key id or purpose, or an altered blob).
    #[error("wrapped key {key_id} refused by master key {master_key_id}")]
    UnwrapRefused {
        key_id: String,
        master_key_id: String,
    },
    /// A wrapped key given where the other kind was expected (an index key as a data key).
    #[error("wrapped key {key_id} is a {found} key, expected a {expected} key")]
    WrongKeyKind {
        key_id: String,
        expected: &'static str,
        found: &'static str,
    },
    /// Two keys with the same id and different material.
    #[error("key {key_id} is already in the keyring")]
    DuplicateKey { key_id: String },
    /// An opened value that is not UTF-8 where text was asked for.
    #[error("the value under key {key_id} is not UTF-8 text")]
    NotText { key_id: String },
    /// The operating system's random source failed.
    #[error("the operating system's random source failed")]
    Random,
    /// A key provider (a KMS) failed; `reason` is the provider's own, without key material.
    #[error("key provider {provider}: {reason}")]
    Provider { provider: String, reason: String },
}
