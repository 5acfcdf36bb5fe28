//! Algorithms, key ids, master keys and the [`KeyProvider`] a KMS plugs into.

use crate::format::{self, Sealed, NONCE_LEN};
use crate::VaultError;
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead as _, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, AesGcm, Nonce};
use base64::Engine as _;
use sm4::Sm4;
use std::fmt;
use zeroize::Zeroizing;

/// SM4 (GB/T 32907-2016) in Galois/Counter Mode with a 96-bit nonce and a 128-bit tag, as
/// GB/T 38636-2020 and RFC 8998 define it.
type Sm4Gcm = AesGcm<Sm4, U12>;

/// The AEAD of a key. SM4-GCM is the default: commercial-cryptography review expects the
/// national algorithms; AES-256-GCM is there for a deployment that must interoperate.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// `sm4gcm`: 128-bit key.
    #[default]
    Sm4Gcm,
    /// `aes256gcm`: 256-bit key.
    Aes256Gcm,
}

impl Algorithm {
    /// The token in a ciphertext and a key file.
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Sm4Gcm => "sm4gcm",
            Algorithm::Aes256Gcm => "aes256gcm",
        }
    }

    pub fn from_token(token: &str) -> Result<Self, VaultError> {
        match token {
            "sm4gcm" => Ok(Algorithm::Sm4Gcm),
            "aes256gcm" => Ok(Algorithm::Aes256Gcm),
            _ => Err(VaultError::UnknownAlgorithm),
        }
    }

    /// Bytes of key the algorithm takes.
    pub fn key_len(self) -> usize {
        match self {
            Algorithm::Sm4Gcm => 16,
            Algorithm::Aes256Gcm => 32,
        }
    }
}

/// Checks a key id or purpose: 1 to 64 of `a-z 0-9 _ -`. No dot, because the dot separates
/// the parts of a ciphertext; no upper case, so that ids compare as they read.
pub(crate) fn check_name(what: &'static str, s: &str) -> Result<(), VaultError> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(VaultError::InvalidName {
            what,
            rule: "no dots, no upper case, no spaces",
        })
    }
}

/// The name of a key, carried in every ciphertext it made.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    pub fn parse(s: &str) -> Result<Self, VaultError> {
        check_name("key id", s)?;
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `n` bytes from the operating system's CSPRNG.
pub(crate) fn random_bytes(n: usize) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let mut buf = Zeroizing::new(vec![0u8; n]);
    getrandom::fill(&mut buf).map_err(|_| VaultError::Random)?;
    Ok(buf)
}

/// An AEAD with its key schedule expanded once, so sealing a field costs no key setup.
pub(crate) struct Cipher {
    algorithm: Algorithm,
    inner: CipherImpl,
}

enum CipherImpl {
    Sm4(Box<Sm4Gcm>),
    Aes(Box<Aes256Gcm>),
}

impl Cipher {
    pub(crate) fn new(algorithm: Algorithm, key_id: &str, key: &[u8]) -> Result<Self, VaultError> {
        let wrong = || VaultError::KeyLength {
            key_id: key_id.to_owned(),
            algorithm: algorithm.token(),
            expected: algorithm.key_len(),
            found: key.len(),
        };
        let inner = match algorithm {
            Algorithm::Sm4Gcm => {
                CipherImpl::Sm4(Box::new(Sm4Gcm::new_from_slice(key).map_err(|_| wrong())?))
            }
            Algorithm::Aes256Gcm => CipherImpl::Aes(Box::new(
                Aes256Gcm::new_from_slice(key).map_err(|_| wrong())?,
            )),
        };
        Ok(Self { algorithm, inner })
    }

    pub(crate) fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// `nonce ‖ ciphertext ‖ tag` under a fresh random nonce. A 96-bit random nonce per value
    /// keeps the collision chance under 2^-32 for 2^32 values per key, far beyond a data key's
    /// life here (a key is rotated long before).
    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
        let nonce = random_bytes(NONCE_LEN)?;
        let nonce = Nonce::<U12>::from_slice(&nonce);
        let payload = Payload {
            msg: plaintext,
            aad,
        };
        // Encryption fails only for a plaintext over GCM's 64 GiB limit.
        let ct = match &self.inner {
            CipherImpl::Sm4(c) => c.encrypt(nonce, payload),
            CipherImpl::Aes(c) => c.encrypt(nonce, payload),
        }
        .map_err(|_| VaultError::Malformed {
            reason: "the plaintext is over GCM's length limit",
        })?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens `nonce ‖ ciphertext ‖ tag`; `None` when authentication fails.
    pub(crate) fn open(&self, aad: &[u8], body: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let (nonce, ct) = body.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::<U12>::from_slice(nonce);
        let payload = Payload { msg: ct, aad };
        match &self.inner {
            CipherImpl::Sm4(c) => c.decrypt(nonce, payload),
            CipherImpl::Aes(c) => c.decrypt(nonce, payload),
        }
        .ok()
        .map(Zeroizing::new)
    }
}

/// Where master keys live. The vault's own [`MasterKey`] holds the key in memory (a dev key
/// file, or bytes the caller read from a Kubernetes Secret); a KMS implements this trait so the
/// master key never leaves it. Calls are synchronous: keys are unwrapped at start-up and on
/// rotation, not per value.
pub trait KeyProvider: Send + Sync {
    /// The id of the master key, written into every key it wraps.
    fn master_key_id(&self) -> &str;
    /// A wrapped blob of `key` (any text; the vault's own is its ciphertext format).
    fn wrap(&self, key: &[u8], aad: &[u8]) -> Result<String, VaultError>;
    /// The key inside `wrapped`; [`VaultError::UnwrapRefused`] when `aad` or the master key
    /// does not match.
    fn unwrap(&self, wrapped: &str, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError>;
}

/// A master key held in memory. It wraps data keys and index keys and nothing else: no field
/// value is ever sealed with it.
pub struct MasterKey {
    id: KeyId,
    cipher: Cipher,
}

impl MasterKey {
    /// A master key from bytes the caller loaded (a Kubernetes Secret mounted as a file or an
    /// environment variable, decoded by the caller).
    pub fn from_bytes(id: &str, algorithm: Algorithm, key: &[u8]) -> Result<Self, VaultError> {
        let id = KeyId::parse(id)?;
        let cipher = Cipher::new(algorithm, id.as_str(), key)?;
        Ok(Self { id, cipher })
    }

    /// A fresh random master key, for tests and for `generate_key_file`.
    pub fn generate(id: &str, algorithm: Algorithm) -> Result<Self, VaultError> {
        Self::from_bytes(id, algorithm, &random_bytes(algorithm.key_len())?)
    }

    /// Reads a key file (see [`MasterKey::parse_key_file`]).
    pub fn from_key_file(path: &std::path::Path) -> Result<Self, VaultError> {
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|e| VaultError::KeyFile {
                    path: path.display().to_string(),
                    reason: e.kind().to_string(),
                })?,
            );
        Self::parse_key_file(&text, &path.display().to_string())
    }

    /// A dev key file: `key = value` lines, `#` comments, blank lines ignored.
    ///
    /// ```text
    /// # relief-mesh vault master key (dev only)
    /// id = dev-2026-1
    /// algorithm = sm4gcm            # optional, sm4gcm by default
    /// key = hex:00112233445566778899aabbccddeeff
    /// ```
    /// `key` is `hex:` or `base64:` (standard alphabet) followed by exactly the algorithm's key
    /// length. `path` only names the file in errors; no error repeats a line of the file.
    pub fn parse_key_file(text: &str, path: &str) -> Result<Self, VaultError> {
        let err = |reason: &str| VaultError::KeyFile {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let (mut id, mut algorithm, mut key) = (None, Algorithm::default(), None);
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let Some((name, value)) = line.split_once('=') else {
                return Err(err("every line must be name = value"));
            };
            match name.trim() {
                "id" => id = Some(value.trim()),
                "algorithm" => {
                    algorithm = Algorithm::from_token(value.trim())
                        .map_err(|_| err("algorithm must be sm4gcm or aes256gcm"))?;
                }
                "key" => {
                    key = Some(decode_key(value.trim()).ok_or_else(|| {
                        err("key must be hex:<hex digits> or base64:<standard base64>")
                    })?)
                }
                _ => return Err(err("only id, algorithm and key are known names")),
            }
        }
        let id = id.ok_or_else(|| err("no id line"))?;
        let key = key.ok_or_else(|| err("no key line"))?;
        Self::from_bytes(id, algorithm, &key)
    }

    /// The text of a new key file with a fresh random key (a dev set-up step).
    pub fn generate_key_file(
        id: &str,
        algorithm: Algorithm,
    ) -> Result<Zeroizing<String>, VaultError> {
        KeyId::parse(id)?;
        let key = random_bytes(algorithm.key_len())?;
        let hex = Zeroizing::new(hex::encode(&*key));
        Ok(Zeroizing::new(format!(
            "# relief-mesh vault master key: dev only, never commit\nid = {id}\nalgorithm = {}\nkey = hex:{}\n",
            algorithm.token(),
            *hex
        )))
    }

    pub fn id(&self) -> &KeyId {
        &self.id
    }

    pub fn algorithm(&self) -> Algorithm {
        self.cipher.algorithm()
    }
}

fn decode_key(value: &str) -> Option<Zeroizing<Vec<u8>>> {
    if let Some(h) = value.strip_prefix("hex:") {
        hex::decode(h.trim()).ok().map(Zeroizing::new)
    } else if let Some(b) = value.strip_prefix("base64:") {
        base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .ok()
            .map(Zeroizing::new)
    } else {
        None
    }
}

impl KeyProvider for MasterKey {
    fn master_key_id(&self) -> &str {
        self.id.as_str()
    }

    fn wrap(&self, key: &[u8], aad: &[u8]) -> Result<String, VaultError> {
        let header = format::header(self.cipher.algorithm(), self.id.as_str());
        let body = self.cipher.seal(&format::bound_aad(&header, aad), key)?;
        Ok(format::encode(&header, &body))
    }

    fn unwrap(&self, wrapped: &str, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let refused = || VaultError::UnwrapRefused {
            key_id: String::from_utf8_lossy(aad_key_id(aad)).into_owned(),
            master_key_id: self.id.to_string(),
        };
        let sealed = Sealed::parse(wrapped)?;
        if sealed.key_id() != self.id.as_str() || sealed.algorithm() != self.cipher.algorithm() {
            return Err(refused());
        }
        self.cipher
            .open(&sealed.aad(aad), sealed.body())
            .ok_or_else(refused)
    }
}

/// The wrapped key's id inside a wrapping aad (`label \0 key id \0 …`), to name it in errors.
fn aad_key_id(aad: &[u8]) -> &[u8] {
    aad.split(|b| *b == 0).nth(1).unwrap_or_default()
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id.as_str())
            .field("algorithm", &self.cipher.algorithm())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8998 appendix A.1: SM4-GCM with a 96-bit IV.
    #[test]
    fn sm4_gcm_matches_the_rfc_8998_vector() {
        let key = hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap();
        let iv = hex::decode("00001234567800000000ABCD").unwrap();
        let aad = hex::decode("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2").unwrap();
        let plaintext = hex::decode(concat!(
            "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD",
            "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
        ))
        .unwrap();
        let expected = hex::decode(concat!(
            "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735",
            "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D",
            "83DE3541E4C2B58177E065A9BF7B62EC"
        ))
        .unwrap();
        let cipher = Sm4Gcm::new_from_slice(&key).unwrap();
        let out = cipher
            .encrypt(
                Nonce::<U12>::from_slice(&iv),
                Payload {
                    msg: &plaintext,
                    aad: &aad,
                },
            )
            .unwrap();
        assert_eq!(hex::encode_upper(&out), hex::encode_upper(&expected));

        let ours = Cipher::new(Algorithm::Sm4Gcm, "kat", &key).unwrap();
        let body = [iv.as_slice(), expected.as_slice()].concat();
        assert_eq!(*ours.open(&aad, &body).unwrap(), plaintext);
    }

    #[test]
    fn a_key_file_in_hex_or_base64_loads_and_its_errors_never_repeat_the_key() {
        let hex_file =
            "# dev\nid = dev-1\nalgorithm = sm4gcm\nkey = hex:00112233445566778899aabbccddeeff\n";
        let k = MasterKey::parse_key_file(hex_file, "dev.key").unwrap();
        assert_eq!(k.id().as_str(), "dev-1");
        assert_eq!(k.algorithm(), Algorithm::Sm4Gcm);

        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let b64_file = format!("id = prod-2\nalgorithm = aes256gcm\nkey = base64:{b64}\n");
        let k = MasterKey::parse_key_file(&b64_file, "prod.key").unwrap();
        assert_eq!(k.algorithm(), Algorithm::Aes256Gcm);

        // An AES-256 key given to SM4: the length, not the key, is in the message.
        let wrong = format!("id = x\nkey = base64:{b64}\n");
        let e = MasterKey::parse_key_file(&wrong, "x.key").unwrap_err();
        assert_eq!(
            e.to_string(),
            "key x: sm4gcm needs a key of 16 bytes, found 32"
        );
        let bad = "id = x\nkey = hex:zz00112233\n";
        let e = MasterKey::parse_key_file(bad, "x.key")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("key file x.key: key must be hex:"), "{e}");
        assert!(!e.contains("zz00112233"));
        let e =
            MasterKey::from_key_file(std::path::Path::new("/nonexistent/vault.key")).unwrap_err();
        assert!(matches!(e, VaultError::KeyFile { .. }));
    }

    #[test]
    fn a_generated_key_file_loads_back() {
        let text = MasterKey::generate_key_file("dev-3", Algorithm::Aes256Gcm).unwrap();
        let k = MasterKey::parse_key_file(&text, "generated").unwrap();
        assert_eq!(k.id().as_str(), "dev-3");
        assert_eq!(k.algorithm(), Algorithm::Aes256Gcm);
    }

    #[test]
    fn key_ids_have_no_dots_nor_upper_case() {
        assert!(KeyId::parse("name-1").is_ok());
        for bad in ["", "a.b", "Name", "a b", &"x".repeat(65)] {
            assert!(KeyId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_of_a_master_key_prints_its_id_only() {
        let k = MasterKey::from_bytes("dev-1", Algorithm::Sm4Gcm, &[0xAB; 16]).unwrap();
        let d = format!("{k:?}");
        assert_eq!(d, "MasterKey { id: \"dev-1\", algorithm: Sm4Gcm, .. }");
        assert!(!d.to_lowercase().contains("abab"));
    }
}
