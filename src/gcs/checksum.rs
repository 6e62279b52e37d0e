//! Content checksums GCS understands: CRC32C (always present on objects) and MD5 (absent on
//! composite objects), both base64 of the big-endian digest, as in `x-goog-hash`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use md5::{Digest as _, Md5};

/// CRC32C (Castagnoli), reflected polynomial.
const POLY: u32 = 0x82F6_3B78;

/// Eight lookup tables for slicing-by-8: the guest has no SSE4.2 instruction, and a byte-wise
/// table loop would make checksumming a visible part of a cold pull.
static TABLES: [[u32; 256]; 8] = build_tables();

const fn build_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut s = 1;
    while s < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            i += 1;
        }
        s += 1;
    }
    t
}

/// Incremental CRC32C.
#[derive(Debug, Clone, Copy, Default)]
pub struct Crc32c(u32);

impl Crc32c {
    /// Feed bytes.
    pub fn update(&mut self, data: &[u8]) {
        let mut crc = !self.0;
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            let lo = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) ^ crc;
            let hi = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
            crc = TABLES[7][(lo & 0xFF) as usize]
                ^ TABLES[6][((lo >> 8) & 0xFF) as usize]
                ^ TABLES[5][((lo >> 16) & 0xFF) as usize]
                ^ TABLES[4][(lo >> 24) as usize]
                ^ TABLES[3][(hi & 0xFF) as usize]
                ^ TABLES[2][((hi >> 8) & 0xFF) as usize]
                ^ TABLES[1][((hi >> 16) & 0xFF) as usize]
                ^ TABLES[0][(hi >> 24) as usize];
        }
        for &b in chunks.remainder() {
            crc = (crc >> 8) ^ TABLES[0][((crc ^ b as u32) & 0xFF) as usize];
        }
        self.0 = !crc;
    }

    /// The checksum so far.
    pub fn value(&self) -> u32 {
        self.0
    }
}

/// CRC32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut c = Crc32c::default();
    c.update(data);
    c.value()
}

/// Base64 of the big-endian CRC32C, as GCS writes it.
pub fn crc32c_b64(data: &[u8]) -> String {
    B64.encode(crc32c(data).to_be_bytes())
}

/// Base64 of the MD5 digest, as GCS writes it.
pub fn md5_b64(data: &[u8]) -> String {
    B64.encode(Md5::digest(data))
}

/// The hashes announced in an `x-goog-hash` header (`crc32c=...,md5=...`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AnnouncedHashes {
    /// Base64 CRC32C.
    pub crc32c: Option<String>,
    /// Base64 MD5.
    pub md5: Option<String>,
}

/// Parse every `x-goog-hash` value (GCS may send one header per hash or one joined by commas).
pub fn parse_goog_hash<'a>(values: impl IntoIterator<Item = &'a str>) -> AnnouncedHashes {
    let mut out = AnnouncedHashes::default();
    for value in values {
        for part in value.split(',') {
            let part = part.trim();
            if let Some(v) = part.strip_prefix("crc32c=") {
                out.crc32c = Some(v.to_string());
            } else if let Some(v) = part.strip_prefix("md5=") {
                out.md5 = Some(v.to_string());
            }
        }
    }
    out
}

/// Why downloaded bytes were rejected.
#[derive(Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// CRC32C differs.
    Crc32c {
        /// What the server announced.
        expected: String,
        /// What the bytes give.
        actual: String,
    },
    /// MD5 differs.
    Md5 {
        /// What the server announced.
        expected: String,
        /// What the bytes give.
        actual: String,
    },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Crc32c { expected, actual } => {
                write!(f, "crc32c mismatch (object {expected}, received {actual})")
            }
            Mismatch::Md5 { expected, actual } => {
                write!(f, "md5 mismatch (object {expected}, received {actual})")
            }
        }
    }
}

/// Check bytes against the announced CRC32C, or against the MD5 when no CRC32C is
/// announced. Either detects a corrupted or truncated transfer; GCS announces a CRC32C for
/// every object, so computing the MD5 as well would only cost CPU on every download.
pub fn verify(data: &[u8], announced: &AnnouncedHashes) -> Result<(), Mismatch> {
    if let Some(expected) = &announced.crc32c {
        let actual = crc32c_b64(data);
        if &actual != expected {
            return Err(Mismatch::Crc32c {
                expected: expected.clone(),
                actual,
            });
        }
    }
    if let (None, Some(expected)) = (&announced.crc32c, &announced.md5) {
        let actual = md5_b64(data);
        if &actual != expected {
            return Err(Mismatch::Md5 {
                expected: expected.clone(),
                actual,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_known_vectors() {
        // RFC 3720 appendix B.4 test vectors and the classic check value.
        assert_eq!(crc32c(b""), 0);
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
        let ascending: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c(&ascending), 0x46DD_794E);
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        for split in [0, 1, 7, 8, 9, 500, 999, 1000] {
            let mut c = Crc32c::default();
            c.update(&data[..split]);
            c.update(&data[split..]);
            assert_eq!(c.value(), crc32c(&data), "split {split}");
        }
    }

    #[test]
    fn gcs_encodings() {
        // GCS's documented example: "hello world" (no newline).
        assert_eq!(crc32c_b64(b"hello world"), "yZRlqg==");
        assert_eq!(md5_b64(b"hello world"), "XrY7u+Ae7tCTyyK7j1rNww==");
    }

    #[test]
    fn goog_hash_parsing_and_verification() {
        let h = parse_goog_hash(["crc32c=yZRlqg==,md5=XrY7u+Ae7tCTyyK7j1rNww=="]);
        assert!(verify(b"hello world", &h).is_ok());
        assert!(matches!(
            verify(b"hello worle", &h),
            Err(Mismatch::Crc32c { .. })
        ));
        // Two headers parse like one; with a CRC32C announced the MD5 is not computed.
        let split = parse_goog_hash(["crc32c=yZRlqg==", "md5=AAAAAAAAAAAAAAAAAAAAAA=="]);
        assert_eq!(split.md5.as_deref(), Some("AAAAAAAAAAAAAAAAAAAAAA=="));
        assert!(verify(b"hello world", &split).is_ok());
        // Without a CRC32C (an object GCS gave none) the MD5 is what is checked.
        let md5_only = parse_goog_hash(["md5=XrY7u+Ae7tCTyyK7j1rNww=="]);
        assert!(verify(b"hello world", &md5_only).is_ok());
        assert!(matches!(
            verify(b"hello worle", &md5_only),
            Err(Mismatch::Md5 { .. })
        ));
        assert_eq!(parse_goog_hash(["garbage"]), AnnouncedHashes::default());
    }
}
