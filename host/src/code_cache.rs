//! The compiled component, kept between runs: compiling it takes ~0.4 s of every
//! `swamp-gcs` call, loading the machine code wasmtime produced last time a few ms.
//!
//! One artefact per (component, engine) lives in a per-user directory
//! ([`cache_dir`]: `SWAMP_GCS_CODE_CACHE`, else `$XDG_CACHE_HOME/swamp-gcs`, else
//! `~/.cache/swamp-gcs`; `SWAMP_GCS_CODE_CACHE=off` turns it off). Its name and its header
//! carry a key: SHA-256 over the component's bytes, the engine's compatibility hash
//! (target, compiler flags, tunables, wasm features, wasmtime's full version) and the
//! wasmtime version from the lock file. A different component or engine therefore looks
//! for a different file, and a file renamed or copied under the wrong name is refused by
//! its header. The header also holds a SHA-256 of the payload, so a truncated or damaged
//! file is refused before wasmtime sees it.
//!
//! Artefacts are written to a temporary file in the same directory and renamed into place:
//! two first runs at once each write a whole file and the last rename wins; a reader sees
//! the old file or a new one, never half of one. Anything wrong with the cache (missing,
//! unreadable, not ours, damaged, foreign key, rejected by wasmtime, directory not
//! writable) falls back to compiling, replaces the artefact when it can, and never fails
//! the command. Writing one prunes the others down to [`KEEP`], oldest first.
//!
//! Why not precompile at build time? The embedded component is known then, but the
//! compiled code depends on the CPU features of the machine that runs it (wasmtime
//! detects them), the build would have to link a second wasmtime with Cranelift into the
//! build script, and `SWAMP_GCS_COMPONENT` names a component only known at run time: a run
//! time cache covers all three with one code path.

use anyhow::{Context as _, Result};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Where artefacts go: a directory, or `off`.
pub const DIR_VAR: &str = "SWAMP_GCS_CODE_CACHE";
/// When set (to anything but empty or `0`), one line on stderr says how the component
/// was loaded and why.
pub const TRACE_VAR: &str = "SWAMP_GCS_CODE_CACHE_TRACE";
/// Artefacts kept in the directory (the current one included): a few, so two builds used
/// side by side (an installed binary and a development one) do not evict each other.
pub const KEEP: usize = 4;

/// First bytes of an artefact: what the file is and the envelope's format version.
const MAGIC: &[u8; 16] = b"swamp-gcs cwasm1";
/// Magic, key, payload digest.
const HEADER_LEN: usize = 16 + 32 + 32;
const PREFIX: &str = "gcs_datastore-";
const SUFFIX: &str = ".cwasm";
/// Temporary files of writers still running, or killed before their rename.
const PARTIAL_PREFIX: &str = ".gcs_datastore-";
const PARTIAL_SUFFIX: &str = ".partial";
/// A partial file this old belongs to a writer that died (writing takes milliseconds).
const PARTIAL_STALE: Duration = Duration::from_secs(600);

/// The wasmtime this host links (from Cargo.lock, by `build.rs`).
pub const WASMTIME_VERSION: &str = env!("GCS_HOST_WASMTIME_VERSION");

/// The artefact directory for this process: `SWAMP_GCS_CODE_CACHE` (`off` disables the
/// cache), else `$XDG_CACHE_HOME/swamp-gcs` when that is absolute, else
/// `$HOME/.cache/swamp-gcs`; `None` when the cache is off or no home is known.
pub fn cache_dir() -> Option<PathBuf> {
    dir_from(
        std::env::var_os(DIR_VAR),
        std::env::var_os("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
    )
}

fn dir_from(
    explicit: Option<std::ffi::OsString>,
    xdg: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    if let Some(dir) = explicit.filter(|d| !d.is_empty()) {
        return (dir != "off").then(|| PathBuf::from(dir));
    }
    // The XDG spec: a relative XDG_CACHE_HOME is invalid and must be ignored.
    if let Some(xdg) = xdg.map(PathBuf::from).filter(|p| p.is_absolute()) {
        return Some(xdg.join("swamp-gcs"));
    }
    let home = home.map(PathBuf::from).filter(|p| p.is_absolute())?;
    Some(home.join(".cache").join("swamp-gcs"))
}

/// Whether `SWAMP_GCS_CODE_CACHE_TRACE` asks for the load line.
pub fn trace_enabled() -> bool {
    std::env::var_os(TRACE_VAR).is_some_and(|v| !v.is_empty() && v != "0")
}

/// The key of `component` for `engine`.
pub fn key(engine: &Engine, component: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"swamp-gcs code cache key 1\0");
    h.update(Sha256::digest(component));
    h.update(WASMTIME_VERSION.as_bytes());
    h.update(b"\0");
    engine
        .precompile_compatibility_hash()
        .hash(&mut DigestHasher(&mut h));
    h.finalize().into()
}

/// Feeds what a `Hash` impl writes into SHA-256, so the key does not depend on std's
/// `DefaultHasher`, whose algorithm may change between Rust releases.
struct DigestHasher<'a>(&'a mut Sha256);

impl Hasher for DigestHasher<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Never used: the digest is read from the `Sha256` once hashing is done.
    fn finish(&self) -> u64 {
        0
    }
}

/// The artefact's path for `key` in `dir`.
pub fn artefact_path(dir: &Path, key: &[u8; 32]) -> PathBuf {
    dir.join(format!("{PREFIX}{}{SUFFIX}", hex(&key[..16])))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a run compiled instead of loading an artefact.
#[derive(Debug)]
pub enum Miss {
    /// `SWAMP_GCS_CODE_CACHE=off`, or no home directory to put the cache in.
    Off,
    /// No artefact for this key yet.
    Absent,
    /// The file could not be opened or read.
    Unreadable(std::io::Error),
    /// Not a regular file owned by this user, or writable by others: never loaded.
    NotOurs(String),
    /// Wrong magic, short, or the payload does not match its digest.
    Damaged(&'static str),
    /// A valid artefact, but of another component or engine.
    ForeignKey,
    /// wasmtime refused the payload.
    Rejected(String),
}

impl fmt::Display for Miss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Miss::Off => write!(f, "code cache off"),
            Miss::Absent => write!(f, "no artefact yet"),
            Miss::Unreadable(e) => write!(f, "artefact unreadable: {e}"),
            Miss::NotOurs(why) => write!(f, "artefact not trusted: {why}"),
            Miss::Damaged(why) => write!(f, "artefact damaged: {why}"),
            Miss::ForeignKey => write!(f, "artefact keyed for another component or engine"),
            Miss::Rejected(e) => write!(f, "artefact rejected by wasmtime: {e}"),
        }
    }
}

/// How the component was obtained.
#[derive(Debug)]
pub enum Loaded {
    /// From the artefact at this path.
    Artefact(PathBuf),
    /// Compiled, for this reason; `saved` says where the new artefact went or why not.
    Compiled {
        miss: Miss,
        saved: Option<std::result::Result<PathBuf, String>>,
    },
}

impl fmt::Display for Loaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loaded::Artefact(p) => write!(f, "loaded the precompiled component {}", p.display()),
            Loaded::Compiled { miss, saved } => {
                write!(f, "compiled the component ({miss})")?;
                match saved {
                    Some(Ok(p)) => write!(f, "; saved {}", p.display()),
                    Some(Err(e)) => write!(f, "; not saved: {e}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// The component for `bytes`: from its artefact in `dir` when one is there and sound,
/// else compiled (and saved to `dir`). Fails only when compiling fails.
pub fn load(engine: &Engine, bytes: &[u8], dir: Option<&Path>) -> Result<(Component, Loaded)> {
    let Some(dir) = dir else {
        let component = Component::new(engine, bytes)?;
        let miss = Miss::Off;
        return Ok((component, Loaded::Compiled { miss, saved: None }));
    };
    let key = key(engine, bytes);
    let path = artefact_path(dir, &key);
    let miss = match read_artefact(&path, &key) {
        Ok(file) => {
            // SAFETY: `deserialize` runs the machine code in the payload as it is, so it
            // must be what wasmtime's `serialize` wrote for an engine like this one. It is:
            // the file lies in this user's own cache directory, is a regular file owned
            // by this user and writable by no one else (checked on the open handle, see
            // `read_artefact`), was written whole by `save` (temporary file + rename),
            // its header names this component and engine, and its payload matches the
            // SHA-256 in that header, so it is byte for byte what `save` serialized.
            // wasmtime checks its own header (version, target, flags) on top. The payload
            // is copied into wasmtime's own memory, so later changes to the file cannot
            // affect the loaded code.
            match unsafe { Component::deserialize(engine, &file[HEADER_LEN..]) } {
                Ok(component) => return Ok((component, Loaded::Artefact(path))),
                Err(e) => Miss::Rejected(format!("{e:#}")),
            }
        }
        Err(miss) => miss,
    };
    let component = Component::new(engine, bytes)?;
    let saved = save(&component, dir, &key, &path)
        .map(|()| path.clone())
        .map_err(|e| format!("{e:#}"));
    Ok((
        component,
        Loaded::Compiled {
            miss,
            saved: Some(saved),
        },
    ))
}

/// The artefact at `path`, header included (the payload starts at [`HEADER_LEN`]; not
/// moved down, which would copy megabytes), if it is ours, whole, and keyed `key`.
fn read_artefact(path: &Path, key: &[u8; 32]) -> std::result::Result<Vec<u8>, Miss> {
    let mut file = match open_no_follow(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Miss::Absent),
        Err(e) => return Err(Miss::Unreadable(e)),
    };
    let meta = file.metadata().map_err(Miss::Unreadable)?;
    trusted(&meta).map_err(Miss::NotOurs)?;
    let mut buf = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut buf).map_err(Miss::Unreadable)?;
    if buf.len() < HEADER_LEN || &buf[..16] != MAGIC {
        return Err(Miss::Damaged("not a swamp-gcs artefact"));
    }
    if buf[16..48] != key[..] {
        return Err(Miss::ForeignKey);
    }
    let payload = &buf[HEADER_LEN..];
    if Sha256::digest(payload)[..] != buf[48..80] {
        return Err(Miss::Damaged("payload does not match its digest"));
    }
    Ok(buf)
}

#[cfg(unix)]
fn open_no_follow(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    // A symlink planted in the directory is not followed to somebody else's file.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// A regular file owned by this user that no one else may write.
#[cfg(unix)]
fn trusted(meta: &std::fs::Metadata) -> std::result::Result<(), String> {
    use std::os::unix::fs::MetadataExt as _;
    if !meta.file_type().is_file() {
        return Err("not a regular file".into());
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(format!("owned by uid {}, not {me}", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "writable by others (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn trusted(meta: &std::fs::Metadata) -> std::result::Result<(), String> {
    if meta.file_type().is_file() {
        Ok(())
    } else {
        Err("not a regular file".into())
    }
}

/// Write `component`'s artefact to `path` atomically, then prune the directory.
fn save(component: &Component, dir: &Path, key: &[u8; 32], path: &Path) -> Result<()> {
    let payload = component.serialize()?;
    create_private_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    // tempfile creates the file with mode 0600.
    let mut tmp = tempfile::Builder::new()
        .prefix(PARTIAL_PREFIX)
        .suffix(PARTIAL_SUFFIX)
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(key);
    header.extend_from_slice(&Sha256::digest(&payload));
    tmp.write_all(&header)?;
    tmp.write_all(&payload)?;
    // No fsync: a file torn by a crash fails its digest and is compiled again.
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming into {}", path.display()))?;
    prune(dir, path);
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Keep the newest [`KEEP`] artefacts (`current` always among them) and remove partial
/// files of writers that died. Best effort: a file another process removed first, or one
/// that cannot be removed, is left alone.
fn prune(dir: &Path, current: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = std::time::SystemTime::now();
    let mut others = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        let modified = meta.modified().unwrap_or(now);
        if name.starts_with(PARTIAL_PREFIX) && name.ends_with(PARTIAL_SUFFIX) {
            if now.duration_since(modified).unwrap_or_default() > PARTIAL_STALE {
                let _ = std::fs::remove_file(&path);
            }
        } else if name.starts_with(PREFIX) && name.ends_with(SUFFIX) && path != current {
            others.push((modified, path));
        }
    }
    others.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    for (_, path) in others.into_iter().skip(KEEP - 1) {
        let _ = std::fs::remove_file(path);
    }
}

/// Load `bytes` with the cache directory of this process ([`cache_dir`]), printing the
/// trace line (with the time it took) when asked.
pub fn load_traced(engine: &Engine, bytes: &[u8]) -> Result<Component> {
    let started = Instant::now();
    let dir = cache_dir();
    let (component, loaded) = load(engine, bytes, dir.as_deref())?;
    if trace_enabled() {
        eprintln!(
            "swamp-gcs: {loaded} in {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(component)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_follows_the_variable_then_xdg_then_home() {
        type Case = (
            Option<&'static str>,
            Option<&'static str>,
            Option<&'static str>,
        );
        let cases: &[(Case, Option<&str>)] = &[
            ((Some("/x/cc"), Some("/xdg"), Some("/h")), Some("/x/cc")),
            ((Some("rel/cc"), None, Some("/h")), Some("rel/cc")),
            ((Some("off"), Some("/xdg"), Some("/h")), None),
            ((Some(""), Some("/xdg"), None), Some("/xdg/swamp-gcs")),
            ((None, Some("/xdg"), Some("/h")), Some("/xdg/swamp-gcs")),
            ((None, Some("xdg"), Some("/h")), Some("/h/.cache/swamp-gcs")),
            ((None, None, Some("/h")), Some("/h/.cache/swamp-gcs")),
            ((None, None, Some("h")), None),
            ((None, None, None), None),
        ];
        let os = |s: Option<&str>| s.map(std::ffi::OsString::from);
        for ((explicit, xdg, home), want) in cases {
            let got = dir_from(os(*explicit), os(*xdg), os(*home));
            assert_eq!(
                got.as_deref(),
                want.map(Path::new),
                "{explicit:?} {xdg:?} {home:?}"
            );
        }
    }

    #[test]
    fn the_key_changes_with_the_component_and_the_engine() {
        let engine = Engine::default();
        let a = key(&engine, b"component a");
        assert_eq!(a, key(&engine, b"component a"));
        assert_ne!(a, key(&engine, b"component b"));
        let mut other = wasmtime::Config::new();
        other.cranelift_opt_level(wasmtime::OptLevel::None);
        let other = Engine::new(&other).unwrap();
        assert_ne!(
            a,
            key(&other, b"component a"),
            "engine settings are in the key"
        );
    }

    /// Two small components (WAT text: `Component::new` accepts it).
    const A: &[u8] = b"(component)";
    const B: &[u8] = b"(component (core module))";

    fn artefacts(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    }

    #[cfg(unix)]
    fn inode(p: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(p).unwrap().ino()
    }

    #[test]
    fn a_second_load_uses_the_artefact_and_leaves_it_alone() {
        let engine = Engine::default();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nested/cache");
        let (_, first) = load(&engine, A, Some(&dir)).unwrap();
        let path = artefact_path(&dir, &key(&engine, A));
        assert!(
            matches!(&first, Loaded::Compiled { miss: Miss::Absent, saved: Some(Ok(p)) } if *p == path),
            "{first}"
        );
        assert_eq!(artefacts(&dir), vec![path.clone()]);
        let before = std::fs::read(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&path), 0o600);
        }
        #[cfg(unix)]
        let ino = inode(&path);
        let (_, second) = load(&engine, A, Some(&dir)).unwrap();
        assert!(
            matches!(&second, Loaded::Artefact(p) if *p == path),
            "{second}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
        #[cfg(unix)]
        assert_eq!(inode(&path), ino, "not rewritten");
    }

    /// Each way an artefact can be wrong: the load compiles, says why, and replaces the
    /// file with a sound one that the next load uses.
    #[test]
    fn a_bad_artefact_is_compiled_over_and_replaced() {
        let engine = Engine::default();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        load(&engine, B, Some(dir)).unwrap();
        let b_file = std::fs::read(artefact_path(dir, &key(&engine, B))).unwrap();
        load(&engine, A, Some(dir)).unwrap();
        let path = artefact_path(dir, &key(&engine, A));
        let sound = std::fs::read(&path).unwrap();
        let mut flipped = sound.clone();
        let mid = HEADER_LEN + (flipped.len() - HEADER_LEN) / 2;
        flipped[mid] ^= 0x40;
        let mut forged = sound[..HEADER_LEN].to_vec();
        let junk = b"not machine code at all".repeat(40);
        forged[48..80].copy_from_slice(&Sha256::digest(&junk));
        forged.extend_from_slice(&junk);
        type Check = fn(&Miss) -> bool;
        let cases: Vec<(&str, Vec<u8>, u32, Check)> = vec![
            (
                "flipped byte",
                flipped,
                0o600,
                |m| matches!(m, Miss::Damaged(w) if w.contains("digest")),
            ),
            (
                "truncated",
                sound[..sound.len() - 100].to_vec(),
                0o600,
                |m| matches!(m, Miss::Damaged(_)),
            ),
            (
                "garbage",
                b"hello".to_vec(),
                0o600,
                |m| matches!(m, Miss::Damaged(w) if w.contains("not a")),
            ),
            ("empty", Vec::new(), 0o600, |m| {
                matches!(m, Miss::Damaged(_))
            }),
            ("another component's artefact", b_file, 0o600, |m| {
                matches!(m, Miss::ForeignKey)
            }),
            ("digest right, payload not wasmtime's", forged, 0o600, |m| {
                matches!(m, Miss::Rejected(_))
            }),
            (
                "writable by others",
                sound.clone(),
                0o666,
                |m| matches!(m, Miss::NotOurs(w) if w.contains("writable")),
            ),
        ];
        for (what, bytes, mode, expected) in cases {
            std::fs::write(&path, &bytes).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            }
            #[cfg(not(unix))]
            let _ = mode;
            let (_, loaded) = load(&engine, A, Some(dir)).unwrap();
            match &loaded {
                Loaded::Compiled {
                    miss,
                    saved: Some(Ok(p)),
                } if *p == path => {
                    assert!(expected(miss), "{what}: {loaded}")
                }
                other => panic!("{what}: {other}"),
            }
            let (_, again) = load(&engine, A, Some(dir)).unwrap();
            assert!(matches!(again, Loaded::Artefact(_)), "{what}: {again}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_not_followed() {
        let engine = Engine::default();
        let tmp = tempfile::tempdir().unwrap();
        let (dir, elsewhere) = (tmp.path().join("cache"), tmp.path().join("elsewhere"));
        load(&engine, A, Some(&elsewhere)).unwrap();
        let target = artefact_path(&elsewhere, &key(&engine, A));
        std::fs::create_dir(&dir).unwrap();
        let path = artefact_path(&dir, &key(&engine, A));
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let (_, loaded) = load(&engine, A, Some(&dir)).unwrap();
        assert!(
            matches!(
                &loaded,
                Loaded::Compiled {
                    miss: Miss::Unreadable(_),
                    saved: Some(Ok(_))
                }
            ),
            "{loaded}"
        );
        assert!(!std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn no_directory_or_an_unusable_one_still_loads() {
        let engine = Engine::default();
        let (_, off) = load(&engine, A, None).unwrap();
        assert!(
            matches!(
                off,
                Loaded::Compiled {
                    miss: Miss::Off,
                    saved: None
                }
            ),
            "{off}"
        );
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let (_, loaded) = load(&engine, A, Some(&file.join("cache"))).unwrap();
        assert!(
            matches!(
                &loaded,
                Loaded::Compiled {
                    saved: Some(Err(_)),
                    ..
                }
            ),
            "{loaded}"
        );
        assert!(
            load(&engine, b"(component", Some(tmp.path())).is_err(),
            "a bad component still fails"
        );
    }

    #[test]
    fn writing_an_artefact_keeps_the_newest_few_and_clears_dead_partials() {
        let engine = Engine::default();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let now = std::time::SystemTime::now();
        let aged = |name: &str, age_s: u64| {
            let p = dir.join(name);
            let f = std::fs::File::create(&p).unwrap();
            f.set_modified(now - Duration::from_secs(age_s)).unwrap();
            p
        };
        let old: Vec<PathBuf> = (1..=5)
            .map(|i| aged(&format!("{PREFIX}{i:032x}{SUFFIX}"), i * 100))
            .collect();
        let dead = aged(&format!("{PARTIAL_PREFIX}dead{PARTIAL_SUFFIX}"), 3600);
        let live = aged(&format!("{PARTIAL_PREFIX}live{PARTIAL_SUFFIX}"), 1);
        let unrelated = aged("notes.txt", 9999);
        load(&engine, A, Some(dir)).unwrap();
        let mut want = vec![artefact_path(dir, &key(&engine, A)), live, unrelated];
        want.extend(old[..KEEP - 1].iter().cloned());
        want.sort();
        assert_eq!(artefacts(dir), want);
        assert!(!dead.exists());
    }
}
