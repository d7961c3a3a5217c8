//! A toy sealer and a look at the raw database files, for the tests of encryption at rest.

use std::path::Path;

use facegate_core::Embedding;
use facegate_core::ports::Sealer;
use facegate_store_embedded::DATABASE_FILE;

const MAGIC: &[u8] = b"XOR1";

/// XOR with one byte behind a magic prefix: not encryption, but sealed bytes differ from
/// the plain ones everywhere, as with a real cipher.
#[derive(Debug)]
pub struct XorSealer;

impl Sealer for XorSealer {
    fn key_id(&self) -> Option<&str> {
        Some("test")
    }

    fn seal(&self, plain: &[u8]) -> facegate_core::Result<Vec<u8>> {
        Ok(MAGIC
            .iter()
            .copied()
            .chain(plain.iter().map(|b| b ^ 0x5a))
            .collect())
    }

    fn open(&self, data: &[u8]) -> facegate_core::Result<Vec<u8>> {
        Ok(match data.strip_prefix(MAGIC) {
            Some(sealed) => sealed.iter().map(|b| b ^ 0x5a).collect(),
            None => data.to_vec(),
        })
    }
}

/// The embedding as the store writes it in plain: little-endian f32.
pub fn plain_bytes(embedding: &Embedding) -> Vec<u8> {
    embedding
        .vector()
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

/// Whether `needle` occurs in the database file or its write-ahead log in `dir`.
pub fn stored_in_files(dir: &Path, needle: &[u8]) -> bool {
    [DATABASE_FILE.to_owned(), format!("{DATABASE_FILE}-wal")]
        .iter()
        .filter_map(|name| std::fs::read(dir.join(name)).ok())
        .any(|bytes| bytes.windows(needle.len()).any(|window| window == needle))
}
