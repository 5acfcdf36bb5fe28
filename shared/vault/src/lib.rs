//! Personal data at rest and in every output: field encryption under envelope keys, blind
//! indexes for equality lookups, and the masking rules. Pure: no database, no NATS, no async;
//! the services wire it in (issue 15), and **none does yet**.
//!
//! # Modules
//! - [`key`]: the algorithms (SM4-GCM by default, AES-256-GCM selectable), [`KeyId`],
//!   [`MasterKey`] (a dev key file, or bytes the caller read from a Kubernetes Secret) and the
//!   [`KeyProvider`] trait a KMS implements so that its master key never leaves it.
//! - [`keyring`]: data keys, one family per purpose (`name`, `id_number`, `account`, …), random,
//!   wrapped by the master key into [`WrappedKey`] rows the caller stores; the [`Keyring`] of
//!   unwrapped keys seals and opens values, and holds the rotation primitives.
//! - [`format`](mod@format): the ciphertext text form, and [`Sealed::parse`] to read a ciphertext's key id
//!   without opening it.
//! - [`blind`]: HMAC-SM3 blind indexes under an [`IndexKey`] of their own.
//! - [`mask`]: every masking rule of the mesh, and [`mask::json`] / [`mask::payload`] for
//!   logs, dead letters and error bodies.
//!
//! # Ciphertext format
//! ```text
//! v1.<algorithm>.<key id>.<base64url, unpadded: nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)>
//! v1.sm4gcm.name-3.q1b0…
//! ```
//! - `v1`: the format version.
//! - `<algorithm>`: `sm4gcm` (SM4, GB/T 32907-2016, in GCM as GB/T 38636-2020 and RFC 8998) or
//!   `aes256gcm`.
//! - `<key id>`: the data key, `<purpose>-<version>` for keys the keyring generated; 1 to 64 of
//!   `a-z 0-9 _ -` (never a dot, which separates the parts).
//! - the body: a random 96-bit nonce from the operating system's CSPRNG, then the GCM output.
//!
//! The AEAD's associated data is `v1.<algorithm>.<key id>`, a NUL, then the caller's associated
//! data, so neither the header nor the row can be changed without the tag failing. The
//! caller's associated data binds a value to its row and column, e.g. `persons.name:<member_id>`:
//! a ciphertext copied into another row does not open there. A sealed value is 1 + 4/3 × (28 +
//! length) characters plus its header: an 18-character ID number becomes about 80 characters.
//! Text, so it goes into a `text` column or a JSON string as it is.
//!
//! Wrapped keys use the same form under the master key, with associated data
//! `relief-mesh/vault/<data|index>-key NUL key id NUL purpose NUL version NUL algorithm`.
//!
//! # Keys and rotation
//! - The master key wraps keys only; it never seals a value. A new master key **re-wraps** the
//!   data keys ([`Keyring::rewrap`], [`WrappedKey::rewrap`]): a few rows, and every sealed
//!   value stays as it is. During the change, [`Keyring::unlock`] takes both providers.
//! - A new data key for a purpose ([`Keyring::generate`]) seals from then on
//!   ([`Keyring::current`]); [`Keyring::open`] still reads every key in the ring. A background
//!   job walks the rows, asks [`Keyring::needs_reseal`] and writes [`Keyring::reseal`]'s
//!   result; reseal is idempotent, so the job may stop and start again anywhere, and
//!   [`Sealed::parse`]'s key id lets it count what is left per key (its progress). Nothing is
//!   unreadable meanwhile. The old key leaves the ring when no value names it.
//!
//! # Blind indexes
//! HMAC-SM3 over a normalised value (ID numbers trimmed and upper case, accounts digits only),
//! keyed with an index key that is never an encryption key. Deterministic **by design**, so
//! that equality lookups work (one open case per person, feed comparison, the near-relative
//! registry, duplicates): what it leaks is equality, which rows hold the same value, and
//! nothing else. See [`blind`].
//!
//! # Masking
//! One table of rules ([`mask`]): ID numbers to the first 6 and last 4 for disclosure lists
//! (`410102********0312`) and to 2 and 2 in logs; names to the surname and a fixed `**`
//! (`张**`, `欧阳**`, `Zhang **`); accounts to 4 and 4 (`6222********1234`); phones to 3 and 4
//! (`138****5678`); addresses to the county. A mask never tells the length of what it hides.
//!
//! # Errors
//! [`VaultError`] names the key, the purpose or the rule, never a value; `Debug` of every key
//! type prints its id only.

pub mod blind;
pub mod error;
pub mod format;
pub mod key;
pub mod keyring;
pub mod mask;

pub use blind::{BlindIndex, Family, IndexKey};
pub use error::VaultError;
pub use format::{is_sealed, Sealed};
pub use key::{Algorithm, KeyId, KeyProvider, MasterKey};
pub use keyring::{KeyKind, Keyring, WrappedKey};
