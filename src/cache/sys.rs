//! The file operations of the hot paths, in as few host calls as the platform allows: the
//! stat and the read of each pushed file, the atomic write of each pulled file, and the
//! listing of each walked directory.
//!
//! Inside the component the standard library reaches the filesystem through wasi-libc,
//! which makes calls the cache never uses: every stat also asks for the file's metadata
//! hash (its inode number), every listed entry is hashed the same way, and a read opens a
//! stream per read. A host call is cheap in wasmtime but crosses into JavaScript under the
//! swamp extension's host, where a push of 1000 files made about 11 of them per file. So
//! inside the component these operations speak `wasi:filesystem` directly, from the
//! preopened directory that holds the path: a stat is one call, a read three (open, stat,
//! read), a write five (open, write, sync, stat, rename). A path under no preopen falls back
//! to the standard library. Natively (the unit tests) they are the standard library's.
//!
//! The rules are the cache's (`super`'s): nothing is followed through a final symlink
//! (stats describe the link, opens refuse it), and only regular files are read. A
//! temporary file is created exclusively (its name carries a random nonce): the create
//! cannot follow a link planted under that name, and a host needs no look before it.

use std::io;
use std::path::Path;

use super::stat::LocalStat;
use super::walk::Kind;

/// What a directory listing found.
#[derive(Debug, Default)]
pub(super) struct Listing {
    /// Entries by name and kind, in the order the host gave them.
    pub children: Vec<(String, Kind)>,
    /// Entries whose name is not UTF-8 (cannot be keys).
    pub non_utf8: usize,
    /// Entries that failed otherwise.
    pub failed: usize,
}

/// Bounds a listing should a host repeat an error instead of moving on.
const MAX_LISTING_ERRORS: usize = 100_000;

fn not_regular() -> io::Error {
    io::Error::other("not a regular file")
}

/// The standard library's calls: natively all there is; inside the component the fallback
/// for paths under no preopen.
mod std_impl {
    use super::*;
    use crate::cache::stat::is_absent;
    use std::io::Write as _;

    pub fn stat_regular(path: &Path) -> io::Result<Option<LocalStat>> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_file() => Ok(Some(LocalStat::from_metadata(&meta))),
            Ok(_) => Ok(None),
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
        if !std::fs::symlink_metadata(path)?.file_type().is_file() {
            return Err(not_regular());
        }
        std::fs::read(path)
    }

    pub fn write_then_rename(tmp: &Path, path: &Path, data: &[u8]) -> io::Result<LocalStat> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(tmp)?;
        file.write_all(data)?;
        sync_unless_unsupported(file.sync_all())?;
        let meta = file.metadata()?;
        drop(file);
        std::fs::rename(tmp, path)?;
        Ok(LocalStat::from_metadata(&meta))
    }

    pub fn list_dir(path: &Path) -> io::Result<Listing> {
        let mut listing = Listing::default();
        for entry in std::fs::read_dir(path)? {
            let Ok(entry) = entry else {
                listing.failed += 1;
                if listing.failed >= MAX_LISTING_ERRORS {
                    break;
                }
                continue;
            };
            let Ok(name) = entry.file_name().into_string() else {
                listing.non_utf8 += 1;
                continue;
            };
            match entry.file_type() {
                Ok(t) => listing.children.push((name, kind_of(t))),
                Err(_) => listing.failed += 1,
            }
        }
        Ok(listing)
    }

    fn kind_of(t: std::fs::FileType) -> Kind {
        if t.is_symlink() {
            Kind::Symlink
        } else if t.is_dir() {
            Kind::Dir
        } else if t.is_file() {
            Kind::File
        } else {
            Kind::Other
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod wasi_impl {
    use super::*;
    use crate::timefmt::mtime_ms;
    use wasip2::filesystem::preopens::get_directories;
    use wasip2::filesystem::types::{
        Descriptor, DescriptorFlags, DescriptorStat, DescriptorType, ErrorCode, OpenFlags,
        PathFlags,
    };

    /// Reads are asked for in pieces of at most this much (hosts cap a read's buffer).
    const READ_PIECE: u64 = 4 << 20;

    thread_local! {
        /// The preopened directories, fetched once: each `get-directories` call hands out
        /// new handles.
        static PREOPENS: Vec<(Descriptor, String)> = get_directories();
    }

    /// Which preopen holds `path` (its index), and the path below it (`.` for the preopen
    /// itself); `None` when no preopen holds it.
    fn locate(path: &Path) -> Option<(usize, String)> {
        let path = path.to_str()?;
        PREOPENS.with(|list| {
            list.iter().enumerate().find_map(|(i, (_, name))| {
                let rest = path.strip_prefix(name.trim_end_matches('/'))?;
                match rest {
                    "" => Some((i, ".".to_string())),
                    _ => rest.strip_prefix('/').map(|r| (i, r.to_string())),
                }
            })
        })
    }

    /// Run `f` with the preopen holding `path` and the path below it; `None` when no
    /// preopen holds it.
    fn below_preopen<R>(path: &Path, f: impl FnOnce(&Descriptor, &str) -> R) -> Option<R> {
        let (i, rel) = locate(path)?;
        Some(PREOPENS.with(|list| f(&list[i].0, &rel)))
    }

    /// The standard library's error for a `wasi:filesystem` error code, so callers keep
    /// matching on kinds (`is_absent` and the like).
    fn io_error(code: ErrorCode) -> io::Error {
        use io::ErrorKind as K;
        let kind = match code {
            ErrorCode::NoEntry => K::NotFound,
            ErrorCode::NotDirectory => K::NotADirectory,
            ErrorCode::IsDirectory => K::IsADirectory,
            ErrorCode::Exist => K::AlreadyExists,
            ErrorCode::Access | ErrorCode::NotPermitted => K::PermissionDenied,
            ErrorCode::ReadOnly => K::ReadOnlyFilesystem,
            ErrorCode::InsufficientSpace | ErrorCode::Quota => K::StorageFull,
            ErrorCode::Unsupported => K::Unsupported,
            other => return io::Error::other(other.to_string()),
        };
        io::Error::new(kind, code.to_string())
    }

    fn local_stat(st: &DescriptorStat) -> LocalStat {
        let mtime = st
            .data_modification_timestamp
            .and_then(|t| mtime_ms(i64::try_from(t.seconds).ok()?, t.nanoseconds));
        LocalStat::from_parts(st.size, mtime)
    }

    pub fn stat_regular(path: &Path) -> io::Result<Option<LocalStat>> {
        below_preopen(path, |dir, rel| {
            match dir.stat_at(PathFlags::empty(), rel) {
                Ok(st) if st.type_ == DescriptorType::RegularFile => Ok(Some(local_stat(&st))),
                Ok(_) | Err(ErrorCode::NoEntry | ErrorCode::NotDirectory) => Ok(None),
                Err(e) => Err(io_error(e)),
            }
        })
        .unwrap_or_else(|| super::std_impl::stat_regular(path))
    }

    pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
        below_preopen(path, |dir, rel| {
            // Not following the final component: a link fails to open (`loop`).
            let file = dir
                .open_at(
                    PathFlags::empty(),
                    rel,
                    OpenFlags::empty(),
                    DescriptorFlags::READ,
                )
                .map_err(|e| match e {
                    ErrorCode::Loop => not_regular(),
                    other => io_error(other),
                })?;
            let st = file.stat().map_err(io_error)?;
            if st.type_ != DescriptorType::RegularFile {
                return Err(not_regular());
            }
            read_all(&file, st.size)
        })
        .unwrap_or_else(|| super::std_impl::read_regular(path))
    }

    /// Read a file whose stat said `size` bytes: usually one call asking for one byte
    /// more than that, whose short answer is the end. A file that grew is read on.
    fn read_all(file: &Descriptor, size: u64) -> io::Result<Vec<u8>> {
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        loop {
            let have = data.len() as u64;
            let want = size.saturating_sub(have).saturating_add(1).min(READ_PIECE);
            let (piece, eof) = file.read(want, have).map_err(io_error)?;
            let got = piece.len() as u64;
            data.extend_from_slice(&piece);
            if eof || got == 0 || (got < want && data.len() as u64 >= size) {
                return Ok(data);
            }
        }
    }

    pub fn write_then_rename(tmp: &Path, path: &Path, data: &[u8]) -> io::Result<LocalStat> {
        // Both names are resolved from the preopen itself: opening their directory first
        // would be one more host call (and one more look at it) per file.
        let (Some((i, tmp_rel)), Some((j, path_rel))) = (locate(tmp), locate(path)) else {
            return super::std_impl::write_then_rename(tmp, path, data);
        };
        if i != j {
            return super::std_impl::write_then_rename(tmp, path, data);
        }
        PREOPENS.with(|list| {
            let root = &list[i].0;
            let tmp_rel = tmp_rel.as_str();
            let stat = {
                let file = root
                    .open_at(
                        PathFlags::empty(),
                        tmp_rel,
                        OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
                        DescriptorFlags::WRITE,
                    )
                    .map_err(io_error)?;
                let mut done = 0usize;
                while done < data.len() {
                    let n = file.write(&data[done..], done as u64).map_err(io_error)?;
                    if n == 0 {
                        return Err(io::Error::from(io::ErrorKind::WriteZero));
                    }
                    done += usize::try_from(n).unwrap_or(usize::MAX);
                }
                sync_unless_unsupported(file.sync().map_err(io_error))?;
                local_stat(&file.stat().map_err(io_error)?)
            };
            root.rename_at(tmp_rel, root, &path_rel).map_err(io_error)?;
            Ok(stat)
        })
    }

    pub fn list_dir(path: &Path) -> io::Result<Listing> {
        below_preopen(path, |root, rel| {
            let opened;
            let dir = if rel == "." {
                root
            } else {
                opened = root
                    .open_at(
                        PathFlags::empty(),
                        rel,
                        OpenFlags::DIRECTORY,
                        DescriptorFlags::READ,
                    )
                    .map_err(io_error)?;
                &opened
            };
            let stream = dir.read_directory().map_err(io_error)?;
            let mut listing = Listing::default();
            loop {
                match stream.read_directory_entry() {
                    Ok(Some(entry)) => {
                        let kind = match entry.type_ {
                            DescriptorType::Directory => Kind::Dir,
                            DescriptorType::RegularFile => Kind::File,
                            DescriptorType::SymbolicLink => Kind::Symlink,
                            _ => Kind::Other,
                        };
                        listing.children.push((entry.name, kind));
                    }
                    Ok(None) => break,
                    // The host's stream goes on after a failed entry (the standard
                    // library's listing would stop there and hide the rest).
                    Err(ErrorCode::IllegalByteSequence) => listing.non_utf8 += 1,
                    Err(_) => listing.failed += 1,
                }
                if listing.non_utf8 + listing.failed >= MAX_LISTING_ERRORS {
                    listing.failed += 1;
                    break;
                }
            }
            Ok(listing)
        })
        .unwrap_or_else(|| super::std_impl::list_dir(path))
    }
}

/// A failed `fsync` that only says the host cannot sync through the sandbox is no
/// failure: the rename still keeps readers from seeing a partial file.
fn sync_unless_unsupported(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::Unsupported => Ok(()),
        other => other,
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub(super) use std_impl::{list_dir, read_regular, stat_regular, write_then_rename};
#[cfg(target_arch = "wasm32")]
pub(super) use wasi_impl::{list_dir, read_regular, stat_regular, write_then_rename};
