//! Three-branch change detection for push (`fileNeedsPush`,
//! docs/sync.md#change-detection) and the SHA-256 helper whose output is stored in index entries.
//!
//! The caller supplies what it already knows from a `stat` (size and the
//! formatted mtime) and a closure that hashes the file; the closure runs
//! only when a branch needs the content hash, so unchanged files with equal
//! size and no stored hash are never read.

use sha2::{Digest, Sha256};

use super::index::IndexEntry;

/// Why a file is (or is not) pushed; useful for dry runs and traces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeReason {
    /// No index entry: push.
    New,
    /// Size differs from the entry: push.
    SizeChanged,
    /// Same size, same mtime, stored hash differs (the SHA-256 fallback): push.
    ContentChangedSameMtime,
    /// Same size, same mtime, stored hash equal: skip.
    UnchangedHashVerified,
    /// Same size, same mtime, no stored hash: skip.
    UnchangedSameMtime,
    /// Same size, an mtime is missing on either side, no stored hash: skip
    /// (e.g. discovered entries).
    UnchangedNoMtime,
    /// Same size, mtime differs or is missing, stored hash differs: push.
    ContentChanged,
    /// Same size, mtime differs or is missing, stored hash equal: skip
    /// (mtime drift only, e.g. after a fresh clone or pull).
    MtimeOnly,
    /// Same size, mtime differs, no stored hash: push.
    MtimeChangedNoHash,
}

impl ChangeReason {
    /// A stable kebab-case name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeReason::New => "new",
            ChangeReason::SizeChanged => "size-changed",
            ChangeReason::ContentChangedSameMtime => "content-changed-same-mtime",
            ChangeReason::UnchangedHashVerified => "unchanged-hash-verified",
            ChangeReason::UnchangedSameMtime => "unchanged-same-mtime",
            ChangeReason::UnchangedNoMtime => "unchanged-no-mtime",
            ChangeReason::ContentChanged => "content-changed",
            ChangeReason::MtimeOnly => "mtime-only",
            ChangeReason::MtimeChangedNoHash => "mtime-changed-no-hash",
        }
    }

    /// Whether the file must be uploaded.
    pub fn needs_push(self) -> bool {
        matches!(
            self,
            ChangeReason::New
                | ChangeReason::SizeChanged
                | ChangeReason::ContentChangedSameMtime
                | ChangeReason::ContentChanged
                | ChangeReason::MtimeChangedNoHash
        )
    }
}

/// Classify a local file against its index entry (docs/sync.md#change-detection):
/// 1. no entry → [`ChangeReason::New`];
/// 2. size differs → [`ChangeReason::SizeChanged`];
/// 3. both mtimes present and equal (string compare of the `toISOString()`
///    forms): hash and compare when the entry has `sha256`, else skip;
/// 4. an mtime missing on either side and no `sha256` → skip;
/// 5. entry has `sha256` → hash; push iff different;
/// 6. otherwise (mtime differs, no hash) → push.
///
/// `hash` must return the lowercase hex SHA-256 of the file's bytes
/// (see [`sha256_hex`]); it is called at most once, only in branches 3 and 5.
pub fn classify_change<E>(
    entry: Option<&IndexEntry>,
    local_size: u64,
    local_mtime_iso: Option<&str>,
    hash: impl FnOnce() -> Result<String, E>,
) -> Result<ChangeReason, E> {
    let Some(entry) = entry else {
        return Ok(ChangeReason::New);
    };
    if entry.size != local_size {
        return Ok(ChangeReason::SizeChanged);
    }
    let stored_hash = entry.sha256.as_deref();
    match (entry.local_mtime.as_deref(), local_mtime_iso) {
        (Some(stored), Some(local)) if stored == local => Ok(match stored_hash {
            None => ChangeReason::UnchangedSameMtime,
            Some(want) if hash()? == want => ChangeReason::UnchangedHashVerified,
            Some(_) => ChangeReason::ContentChangedSameMtime,
        }),
        (stored, local) => match stored_hash {
            None if stored.is_none() || local.is_none() => Ok(ChangeReason::UnchangedNoMtime),
            None => Ok(ChangeReason::MtimeChangedNoHash),
            Some(want) if hash()? == want => Ok(ChangeReason::MtimeOnly),
            Some(_) => Ok(ChangeReason::ContentChanged),
        },
    }
}

#[cfg(test)]
/// `fileNeedsPush`: [`classify_change`] reduced to push / skip.
pub fn file_needs_push<E>(
    entry: Option<&IndexEntry>,
    local_size: u64,
    local_mtime_iso: Option<&str>,
    hash: impl FnOnce() -> Result<String, E>,
) -> Result<bool, E> {
    classify_change(entry, local_size, local_mtime_iso, hash).map(ChangeReason::needs_push)
}

/// Lowercase hex of `bytes` (64 characters for a SHA-256 digest).
pub fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// SHA-256 of `bytes` as 64 lowercase hex characters, the `sha256` field
/// format. For large files feed a [`sha2::Sha256`] incrementally and finish
/// with [`hex_lower`] on the digest.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex_lower(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::convert::Infallible;

    const M1: &str = "2026-08-01T09:59:58.512Z";
    const M2: &str = "2026-08-01T09:59:59.512Z";
    const H_OK: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const H_BAD: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    fn entry(size: u64, mtime: Option<&str>, sha: Option<&str>) -> IndexEntry {
        IndexEntry {
            key: "data/a".into(),
            size,
            last_modified: "2026-08-01T10:00:00.000Z".into(),
            local_mtime: mtime.map(String::from),
            sha256: sha.map(String::from),
        }
    }

    #[test]
    fn sha256_of_test_is_the_documented_digest() {
        assert_eq!(sha256_hex(b"test"), H_OK);
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(hex_lower(&[0x00, 0xab, 0xff]), "00abff");
    }

    /// (entry, local size, local mtime, file content hash, expected reason, hashed?)
    type Row<'a> = (
        Option<IndexEntry>,
        u64,
        Option<&'a str>,
        &'a str,
        ChangeReason,
        bool,
    );

    #[test]
    fn three_branch_table() {
        use ChangeReason::*;
        let rows: Vec<Row> = vec![
            (None, 4, Some(M1), H_OK, New, false),
            (
                Some(entry(5, Some(M1), Some(H_OK))),
                4,
                Some(M1),
                H_OK,
                SizeChanged,
                false,
            ),
            (
                Some(entry(4, Some(M1), Some(H_OK))),
                4,
                Some(M1),
                H_OK,
                UnchangedHashVerified,
                true,
            ),
            (
                Some(entry(4, Some(M1), Some(H_BAD))),
                4,
                Some(M1),
                H_OK,
                ContentChangedSameMtime,
                true,
            ),
            (
                Some(entry(4, Some(M1), None)),
                4,
                Some(M1),
                H_OK,
                UnchangedSameMtime,
                false,
            ),
            (
                Some(entry(4, None, None)),
                4,
                Some(M1),
                H_OK,
                UnchangedNoMtime,
                false,
            ),
            (
                Some(entry(4, Some(M1), None)),
                4,
                None,
                H_OK,
                UnchangedNoMtime,
                false,
            ),
            (
                Some(entry(4, None, Some(H_OK))),
                4,
                Some(M1),
                H_OK,
                MtimeOnly,
                true,
            ),
            (
                Some(entry(4, None, Some(H_BAD))),
                4,
                Some(M1),
                H_OK,
                ContentChanged,
                true,
            ),
            (
                Some(entry(4, Some(M1), Some(H_OK))),
                4,
                None,
                H_OK,
                MtimeOnly,
                true,
            ),
            (
                Some(entry(4, Some(M2), Some(H_OK))),
                4,
                Some(M1),
                H_OK,
                MtimeOnly,
                true,
            ),
            (
                Some(entry(4, Some(M2), Some(H_BAD))),
                4,
                Some(M1),
                H_OK,
                ContentChanged,
                true,
            ),
            (
                Some(entry(4, Some(M2), None)),
                4,
                Some(M1),
                H_OK,
                MtimeChangedNoHash,
                false,
            ),
            // Uppercase stored hash is compared verbatim (mismatch → push, the safe side).
            (
                Some(entry(4, Some(M1), Some(&H_OK.to_uppercase()))),
                4,
                Some(M1),
                H_OK,
                ContentChangedSameMtime,
                true,
            ),
        ];
        for (i, (entry, size, mtime, content_hash, want, hashed)) in rows.into_iter().enumerate() {
            let calls = Cell::new(0);
            let got = classify_change(entry.as_ref(), size, mtime, || {
                calls.set(calls.get() + 1);
                Ok::<_, Infallible>(content_hash.to_string())
            })
            .unwrap();
            assert_eq!(got, want, "row {i}");
            assert_eq!(calls.get(), usize::from(hashed), "row {i} hash calls");
            let push = file_needs_push(entry.as_ref(), size, mtime, || {
                Ok::<_, Infallible>(content_hash.to_string())
            })
            .unwrap();
            assert_eq!(push, want.needs_push(), "row {i}");
        }
    }

    #[test]
    fn hash_errors_propagate() {
        let e = entry(4, Some(M1), Some(H_OK));
        let got = file_needs_push(Some(&e), 4, Some(M1), || Err("read failed"));
        assert_eq!(got, Err("read failed"));
        // Branches that do not hash never see the error.
        let got = file_needs_push(Some(&e), 5, Some(M1), || Err("read failed"));
        assert_eq!(got, Ok(true));
    }
}
