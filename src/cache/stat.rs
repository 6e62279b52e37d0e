//! What a stat of one cache file tells the sync service, and the path plumbing the other
//! cache files share.

use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::timefmt::{format_iso_ms, mtime_ms};

/// What a stat of one regular file tells the sync service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalStat {
    /// Size in bytes.
    pub size: u64,
    /// Modification time in unix milliseconds (floored), when the platform reports one.
    pub mtime_ms: Option<i64>,
    /// The same time formatted like JS `toISOString()` — the `localMtime` format.
    pub mtime_iso: Option<String>,
}

impl LocalStat {
    pub fn from_metadata(meta: &Metadata) -> Self {
        Self::from_parts(meta.len(), meta.modified().ok().and_then(system_time_ms))
    }

    /// From a size and a modification time in unix milliseconds.
    pub fn from_parts(size: u64, mtime_ms: Option<i64>) -> Self {
        LocalStat {
            size,
            mtime_ms,
            mtime_iso: mtime_ms.and_then(format_iso_ms),
        }
    }
}

/// Unix milliseconds of a `SystemTime`, floored like a JS `Date` built from a stat.
pub fn system_time_ms(t: SystemTime) -> Option<i64> {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => mtime_ms(i64::try_from(d.as_secs()).ok()?, d.subsec_nanos()),
        Err(before) => {
            // Before 1970: express as (negative seconds, non-negative nanos).
            let d = before.duration();
            let mut secs = -i64::try_from(d.as_secs()).ok()?;
            let mut nanos = d.subsec_nanos();
            if nanos > 0 {
                secs -= 1;
                nanos = 1_000_000_000 - nanos;
            }
            mtime_ms(secs, nanos)
        }
    }
}

/// The local path of a cache-relative path (the caller checked it).
pub fn local_path(root: &Path, cache_rel: &str) -> PathBuf {
    if cache_rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(cache_rel)
    }
}

/// Whether an I/O error means "nothing there" (also when a parent is a file).
pub fn is_absent(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// Stat a regular file without following symlinks. `Ok(None)` when there is no regular
/// file there (absent, a directory, a symlink, anything else).
pub fn stat_file(root: &Path, cache_rel: &str) -> io::Result<Option<LocalStat>> {
    super::sys::stat_regular(&local_path(root, cache_rel))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pre_epoch_times_floor_like_js() {
        let t = UNIX_EPOCH - Duration::from_millis(1500);
        assert_eq!(system_time_ms(t), Some(-1500));
        let t = UNIX_EPOCH - Duration::from_nanos(1);
        assert_eq!(system_time_ms(t), Some(-1));
        let t = UNIX_EPOCH + Duration::from_nanos(1_999_999);
        assert_eq!(system_time_ms(t), Some(1));
    }
}
