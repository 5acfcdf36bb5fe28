//! Data keys: generated per purpose, wrapped by a master key, held unwrapped in a [`Keyring`]
//! that seals and opens field values.

use crate::format::{self, Sealed};
use crate::key::{check_name, random_bytes, Algorithm, Cipher, KeyId, KeyProvider};
use crate::VaultError;
use std::collections::BTreeMap;
use std::fmt;
use zeroize::Zeroizing;

/// What a wrapped key is for. The kind is in the wrapping's associated data, so an index key's
/// blob can never be unwrapped as a data key, nor the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// Seals and opens field values.
    Data,
    /// Keys a blind index (HMAC-SM3); never encrypts.
    Index,
}

impl KeyKind {
    fn label(self) -> &'static str {
        match self {
            KeyKind::Data => "data",
            KeyKind::Index => "index",
        }
    }
}

/// A key as the caller stores it (a table row later): its metadata in clear, its material
/// wrapped by a master key. Holds no secret, so it may be logged and serialised.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WrappedKey {
    pub key_id: String,
    pub kind: KeyKind,
    /// The field family the key seals (`name`, `id_number`, `account`, …) or, for an index
    /// key, the index family it is meant for.
    pub purpose: String,
    /// Higher is newer; the newest data key of a purpose seals.
    pub version: u32,
    pub algorithm: Algorithm,
    /// The master key that wrapped it.
    pub master_key_id: String,
    /// `v1.<master algorithm>.<master key id>.<base64url>` from the vault's own master key, or
    /// whatever a KMS's [`KeyProvider::wrap`] returns.
    pub wrapped: String,
}

impl WrappedKey {
    /// The associated data of the wrapping: `relief-mesh/vault/<kind>-key \0 key id \0 purpose
    /// \0 version \0 algorithm`. A blob moved to another key id, purpose, version, algorithm or
    /// kind does not unwrap.
    pub(crate) fn aad(
        kind: KeyKind,
        key_id: &str,
        purpose: &str,
        version: u32,
        algorithm: Algorithm,
    ) -> Vec<u8> {
        format!(
            "relief-mesh/vault/{}-key\0{key_id}\0{purpose}\0{version}\0{}",
            kind.label(),
            algorithm.token()
        )
        .into_bytes()
    }

    pub(crate) fn wrap(
        kind: KeyKind,
        key_id: &str,
        purpose: &str,
        version: u32,
        algorithm: Algorithm,
        material: &[u8],
        provider: &dyn KeyProvider,
    ) -> Result<Self, VaultError> {
        let aad = Self::aad(kind, key_id, purpose, version, algorithm);
        Ok(Self {
            key_id: key_id.to_owned(),
            kind,
            purpose: purpose.to_owned(),
            version,
            algorithm,
            master_key_id: provider.master_key_id().to_owned(),
            wrapped: provider.wrap(material, &aad)?,
        })
    }

    /// The key material, unwrapped by whichever of `providers` holds its master key.
    pub(crate) fn unwrap(
        &self,
        expected: KeyKind,
        providers: &[&dyn KeyProvider],
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        if self.kind != expected {
            return Err(VaultError::WrongKeyKind {
                key_id: self.key_id.clone(),
                expected: expected.label(),
                found: self.kind.label(),
            });
        }
        let provider = providers
            .iter()
            .find(|p| p.master_key_id() == self.master_key_id)
            .ok_or_else(|| VaultError::UnknownMasterKey {
                key_id: self.key_id.clone(),
                master_key_id: self.master_key_id.clone(),
            })?;
        let aad = Self::aad(
            self.kind,
            &self.key_id,
            &self.purpose,
            self.version,
            self.algorithm,
        );
        // A provider names the key it refused by what it could read; the row's id is surer.
        provider.unwrap(&self.wrapped, &aad).map_err(|e| {
            if let VaultError::UnwrapRefused { master_key_id, .. } = e {
                VaultError::UnwrapRefused {
                    key_id: self.key_id.clone(),
                    master_key_id,
                }
            } else {
                e
            }
        })
    }

    /// The same key wrapped by `to` instead of `from`: master-key rotation, one row at a time,
    /// without touching a single sealed value.
    pub fn rewrap(&self, from: &dyn KeyProvider, to: &dyn KeyProvider) -> Result<Self, VaultError> {
        let material = self.unwrap(self.kind, &[from])?;
        Self::wrap(
            self.kind,
            &self.key_id,
            &self.purpose,
            self.version,
            self.algorithm,
            &material,
            to,
        )
    }
}

/// A data key, unwrapped.
struct DataKey {
    purpose: String,
    version: u32,
    cipher: Cipher,
    /// Kept to re-wrap under a new master key; zeroed on drop.
    material: Zeroizing<Vec<u8>>,
}

/// The unwrapped data keys of a service, by key id; seals with the newest key of a purpose and
/// opens under any key it holds, so values sealed before a rotation stay readable.
#[derive(Default)]
pub struct Keyring {
    keys: BTreeMap<KeyId, DataKey>,
    /// Purpose → the key id of its newest version.
    current: BTreeMap<String, KeyId>,
}

impl Keyring {
    pub fn new() -> Self {
        Self::default()
    }

    /// A keyring of the data keys in `wrapped`, each unwrapped by the provider holding its
    /// master key (pass the old and the new during a master-key rotation).
    pub fn unlock(
        wrapped: &[WrappedKey],
        providers: &[&dyn KeyProvider],
    ) -> Result<Self, VaultError> {
        let mut ring = Self::new();
        for w in wrapped {
            ring.insert(w, providers)?;
        }
        Ok(ring)
    }

    /// Adds one wrapped data key (e.g. one another instance generated).
    pub fn insert(
        &mut self,
        wrapped: &WrappedKey,
        providers: &[&dyn KeyProvider],
    ) -> Result<(), VaultError> {
        let key_id = KeyId::parse(&wrapped.key_id)?;
        check_name("purpose", &wrapped.purpose)?;
        let material = wrapped.unwrap(KeyKind::Data, providers)?;
        if let Some(existing) = self.keys.get(&key_id) {
            return if *existing.material == *material {
                Ok(())
            } else {
                Err(VaultError::DuplicateKey {
                    key_id: key_id.to_string(),
                })
            };
        }
        let cipher = Cipher::new(wrapped.algorithm, key_id.as_str(), &material)?;
        self.add(
            key_id,
            wrapped.purpose.clone(),
            wrapped.version,
            cipher,
            material,
        );
        Ok(())
    }

    fn add(
        &mut self,
        key_id: KeyId,
        purpose: String,
        version: u32,
        cipher: Cipher,
        material: Zeroizing<Vec<u8>>,
    ) {
        let newer = match self.current.get(&purpose).and_then(|id| self.keys.get(id)) {
            Some(cur) => version > cur.version,
            None => true,
        };
        if newer {
            self.current.insert(purpose.clone(), key_id.clone());
        }
        self.keys.insert(
            key_id,
            DataKey {
                purpose,
                version,
                cipher,
                material,
            },
        );
    }

    /// A new random data key for `purpose`, one version above the newest held, which from now
    /// on seals the purpose's values. The caller stores the returned wrapped key. Its id is
    /// `<purpose>-<version>`.
    pub fn generate(
        &mut self,
        purpose: &str,
        algorithm: Algorithm,
        provider: &dyn KeyProvider,
    ) -> Result<WrappedKey, VaultError> {
        check_name("purpose", purpose)?;
        let version = self
            .keys
            .values()
            .filter(|k| k.purpose == purpose)
            .map(|k| k.version)
            .max()
            .map_or(1, |v| v + 1);
        let key_id = KeyId::parse(&format!("{purpose}-{version}"))?;
        let material = random_bytes(algorithm.key_len())?;
        let wrapped = WrappedKey::wrap(
            KeyKind::Data,
            key_id.as_str(),
            purpose,
            version,
            algorithm,
            &material,
            provider,
        )?;
        let cipher = Cipher::new(algorithm, key_id.as_str(), &material)?;
        self.add(key_id, purpose.to_owned(), version, cipher, material);
        Ok(wrapped)
    }

    /// The id of the key that seals `purpose` now.
    pub fn current(&self, purpose: &str) -> Result<&KeyId, VaultError> {
        self.current
            .get(purpose)
            .ok_or_else(|| VaultError::NoCurrentKey {
                purpose: purpose.to_owned(),
            })
    }

    /// `plaintext` sealed with the current key of `purpose`, bound to `aad` (the row and
    /// column, e.g. `persons.name:<member_id>`): the text of the crate doc's format.
    pub fn seal(&self, purpose: &str, plaintext: &[u8], aad: &[u8]) -> Result<String, VaultError> {
        let key_id = self.current(purpose)?;
        let key = self.key(key_id.as_str())?;
        seal_with(key_id.as_str(), key, plaintext, aad)
    }

    /// [`Keyring::seal`] of a text.
    pub fn seal_str(
        &self,
        purpose: &str,
        plaintext: &str,
        aad: &str,
    ) -> Result<String, VaultError> {
        self.seal(purpose, plaintext.as_bytes(), aad.as_bytes())
    }

    /// The plaintext of `text`, under whichever key of the ring its key id names, if `aad` is
    /// the one it was sealed with. Zeroed when dropped.
    pub fn open(&self, text: &str, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let sealed = Sealed::parse(text)?;
        let key = self.key(sealed.key_id())?;
        if key.cipher.algorithm() != sealed.algorithm() {
            return Err(VaultError::Refused {
                key_id: sealed.key_id().to_owned(),
            });
        }
        key.cipher
            .open(&sealed.aad(aad), sealed.body())
            .ok_or_else(|| VaultError::Refused {
                key_id: sealed.key_id().to_owned(),
            })
    }

    /// [`Keyring::open`] of a text sealed with [`Keyring::seal_str`].
    pub fn open_str(&self, text: &str, aad: &str) -> Result<Zeroizing<String>, VaultError> {
        let mut bytes = self.open(text, aad.as_bytes())?;
        let owned = std::mem::take(&mut *bytes);
        String::from_utf8(owned).map(Zeroizing::new).map_err(|e| {
            // The bytes inside the error are zeroed too.
            drop(Zeroizing::new(e.into_bytes()));
            VaultError::NotText {
                key_id: text.split('.').nth(2).unwrap_or_default().to_owned(),
            }
        })
    }

    /// Whether a background job should re-encrypt `text`: true unless it is a ciphertext under
    /// the current key of its own key's purpose. A value under an unknown key, or not a
    /// ciphertext at all, is also `true`: [`Keyring::reseal`] then says why it cannot.
    pub fn needs_reseal(&self, text: &str) -> bool {
        let Ok(sealed) = Sealed::parse(text) else {
            return true;
        };
        let Some(key) = KeyId::parse(sealed.key_id())
            .ok()
            .and_then(|id| self.keys.get(&id))
        else {
            return true;
        };
        self.current
            .get(&key.purpose)
            .is_none_or(|cur| cur.as_str() != sealed.key_id())
    }

    /// `text` opened and sealed again with the current key of its key's purpose, under the same
    /// `aad`; `text` itself when it already is. Idempotent, so a job that stops half-way and
    /// starts again over the same rows does no harm.
    pub fn reseal(&self, text: &str, aad: &[u8]) -> Result<String, VaultError> {
        let sealed = Sealed::parse(text)?;
        let key = self.key(sealed.key_id())?;
        let current = self.current(&key.purpose)?;
        if current.as_str() == sealed.key_id() {
            // Still authenticate, so a job never reports a foreign or broken value as done.
            self.open(text, aad)?;
            return Ok(text.to_owned());
        }
        let plaintext = self.open(text, aad)?;
        let new_key = self.key(current.as_str())?;
        seal_with(current.as_str(), new_key, &plaintext, aad)
    }

    /// Every data key of the ring wrapped by `provider`: a master-key rotation re-wraps the
    /// few data keys and leaves every sealed value as it is.
    pub fn rewrap(&self, provider: &dyn KeyProvider) -> Result<Vec<WrappedKey>, VaultError> {
        self.keys
            .iter()
            .map(|(id, k)| {
                WrappedKey::wrap(
                    KeyKind::Data,
                    id.as_str(),
                    &k.purpose,
                    k.version,
                    k.cipher.algorithm(),
                    &k.material,
                    provider,
                )
            })
            .collect()
    }

    /// The ids of the keys held, oldest version first within a purpose.
    pub fn key_ids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys.keys()
    }

    fn key(&self, key_id: &str) -> Result<&DataKey, VaultError> {
        KeyId::parse(key_id)
            .ok()
            .and_then(|id| self.keys.get(&id))
            .ok_or_else(|| VaultError::UnknownKey {
                key_id: key_id.to_owned(),
            })
    }
}

fn seal_with(
    key_id: &str,
    key: &DataKey,
    plaintext: &[u8],
    aad: &[u8],
) -> Result<String, VaultError> {
    let header = format::header(key.cipher.algorithm(), key_id);
    let body = key
        .cipher
        .seal(&format::bound_aad(&header, aad), plaintext)?;
    Ok(format::encode(&header, &body))
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field(
                "keys",
                &self.keys.keys().map(KeyId::as_str).collect::<Vec<_>>(),
            )
            .field("current", &self.current)
            .finish()
    }
}
