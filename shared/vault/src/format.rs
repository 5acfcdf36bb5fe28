//! The text form of a ciphertext, `v1.<algorithm>.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`,
//! shared by sealed values and wrapped keys.

use crate::key::Algorithm;
use crate::VaultError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// The format version, the first token of every ciphertext.
pub const VERSION: &str = "v1";
/// Bytes of the random nonce at the start of the decoded body (96 bits, GCM's own size).
pub const NONCE_LEN: usize = 12;
/// Bytes of the GCM tag at the end of the decoded body.
pub const TAG_LEN: usize = 16;

/// A ciphertext taken apart, without opening it: what a rotation job needs to count values per
/// key and to decide what to re-encrypt.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed<'a> {
    /// `v1.<algorithm>.<key id>`, bound into the associated data of the AEAD.
    header: &'a str,
    algorithm: Algorithm,
    key_id: &'a str,
    body: Vec<u8>,
}

impl<'a> Sealed<'a> {
    /// Reads the four tokens of `text`; checks the version, the algorithm, the key id and that
    /// the body is base64url long enough for a nonce and a tag. Authenticity is checked only on
    /// opening.
    pub fn parse(text: &'a str) -> Result<Self, VaultError> {
        let mut parts = text.splitn(4, '.');
        let (Some(version), Some(algorithm), Some(key_id), Some(body)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VaultError::Malformed {
                reason: "expected four dot-separated parts",
            });
        };
        if version != VERSION {
            return Err(VaultError::Malformed {
                reason: "the first part must be the version v1",
            });
        }
        let algorithm = Algorithm::from_token(algorithm).map_err(|_| VaultError::Malformed {
            reason: "the second part must be sm4gcm or aes256gcm",
        })?;
        if crate::key::check_name("key id", key_id).is_err() {
            return Err(VaultError::Malformed {
                reason: "the third part must be a key id",
            });
        }
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| VaultError::Malformed {
                reason: "the fourth part must be unpadded base64url",
            })?;
        if body.len() < NONCE_LEN + TAG_LEN {
            return Err(VaultError::Malformed {
                reason: "the fourth part is shorter than a nonce and a tag",
            });
        }
        let header = &text[..version.len() + algorithm.token().len() + key_id.len() + 2];
        Ok(Self {
            header,
            algorithm,
            key_id,
            body,
        })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn key_id(&self) -> &'a str {
        self.key_id
    }

    pub(crate) fn body(&self) -> &[u8] {
        &self.body
    }

    pub(crate) fn aad(&self, aad: &[u8]) -> Vec<u8> {
        bound_aad(self.header, aad)
    }
}

impl std::fmt::Debug for Sealed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .field("bytes", &self.body.len())
            .finish()
    }
}

/// Whether `text` has the shape of a vault ciphertext (it may still fail to open).
pub fn is_sealed(text: &str) -> bool {
    Sealed::parse(text).is_ok()
}

pub(crate) fn header(algorithm: Algorithm, key_id: &str) -> String {
    format!("{VERSION}.{}.{key_id}", algorithm.token())
}

/// The associated data the AEAD sees: the header, a NUL, the caller's associated data. The
/// header holds no NUL, so the split is unambiguous; binding it means the algorithm and key id
/// tokens cannot be edited without the tag failing.
pub(crate) fn bound_aad(header: &str, aad: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + 1 + aad.len());
    out.extend_from_slice(header.as_bytes());
    out.push(0);
    out.extend_from_slice(aad);
    out
}

pub(crate) fn encode(header: &str, body: &[u8]) -> String {
    let mut out = String::with_capacity(header.len() + 1 + body.len().div_ceil(3) * 4);
    out.push_str(header);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(body, &mut out);
    out
}
