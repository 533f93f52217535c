//! The record chain: each index line names the SHA-256 of the line before it.

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The `prev` value of the first index line: binds the chain to its pack id, so records cannot be
/// transplanted from one pack into another.
pub fn genesis_hash(pack_id: &str) -> String {
    sha256_hex(format!("auditpack-chain/1\n{pack_id}").as_bytes())
}

/// The hash of one index line: SHA-256 of its exact bytes, without the trailing newline.
pub fn line_hash(line: &[u8]) -> String {
    sha256_hex(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_standard_test_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn genesis_depends_on_the_pack_id() {
        assert_ne!(genesis_hash("a"), genesis_hash("b"));
        assert_eq!(genesis_hash("a"), sha256_hex(b"auditpack-chain/1\na"));
    }
}
