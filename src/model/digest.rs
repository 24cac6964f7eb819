//! Content digests: the key under which the cache remembers a file, an object or a verdict,
//! and by which a run tells equal contents apart without comparing them.

use std::fmt;

use sha2::Digest as _;

/// A SHA-256 digest of a file's content.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(sha2::Sha256::digest(bytes).into())
    }

    pub fn to_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0)
    }

    /// What names an object's content across runs, from the JSON text it was parsed from
    /// (whose digest is `text`) and its place in it (`pointer`, RFC 6901): the same text
    /// and place always give the same value, so a verdict remembered under this key holds
    /// for any object that has it. Reading a digest from text costs no serialization.
    pub fn of_object_in(text: &Digest, pointer: &str) -> Digest {
        Digest::of_parts(b"object in text", &[&text.0, pointer.as_bytes()])
    }

    /// As [`Digest::of_object_in`], for an object known by its value only (a manifest,
    /// a value derived from another): its compact serialization, which is a function of
    /// the value. The two kinds of key never meet: each starts with its own label.
    pub fn of_value(value: &serde_json::Value) -> Digest {
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        Digest::of_parts(b"object value", &[&bytes])
    }

    /// A digest of `parts` under `label`, each part preceded by its length, so that no two
    /// different lists of parts hash the same bytes.
    pub fn of_parts(label: &[u8], parts: &[&[u8]]) -> Digest {
        let mut hasher = sha2::Sha256::new();
        for part in std::iter::once(label).chain(parts.iter().copied()) {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        Digest(hasher.finalize().into())
    }

    pub fn from_hex(text: &str) -> Option<Digest> {
        let bytes = data_encoding::HEXLOWER.decode(text.as_bytes()).ok()?;
        Some(Digest(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", &self.to_hex()[..12])
    }
}
