//! Hostile or broken local input: the component's own files (sidecar, local index copy)
//! damaged or replaced, symlinks out of the cache, file names the index cannot hold or
//! the filesystem barely can, and files that vanish before or during a push.

use crate::common::*;
use crate::hostile::checks::*;
use crate::sync::support::*;
use gcs_host::faults::{FaultAction, FaultMatch, FaultRule};
use gcs_host::traffic::RequestKind;
use serde_json::{json, Value};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::symlink;
use std::time::Duration;

/// Builds a broken sidecar from the clean one a push just wrote.
type MakeSidecar = fn(&Value) -> Vec<u8>;

/// A named broken sidecar.
type SidecarCase = (&'static str, MakeSidecar);

/// The clean sidecar with `field` set to `value`.
fn with(clean: &Value, field: &str, value: Value) -> Vec<u8> {
    let mut v = clean.clone();
    v[field] = value;
    serde_json::to_vec(&v).unwrap()
}

fn sidecar_cases() -> Vec<SidecarCase> {
    vec![
        ("empty", |_| Vec::new()),
        ("truncated", |clean| {
            let text = serde_json::to_vec_pretty(clean).unwrap();
            text[..text.len() / 2].to_vec()
        }),
        ("not JSON", |_| b"\x00\x01\xff not json".to_vec()),
        ("a JSON array", |_| b"[1,2,3]".to_vec()),
        ("wrong version", |clean| with(clean, "version", json!(3))),
        ("version as a string", |clean| {
            with(clean, "version", json!("2"))
        }),
        ("generation of the wrong type", |clean| {
            let g: i64 = clean["remoteIndexGeneration"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            with(clean, "remoteIndexGeneration", json!(g))
        }),
        ("localDirty of the wrong type", |clean| {
            with(clean, "localDirty", json!("false"))
        }),
        ("dirty path escaping the cache", |clean| {
            with(clean, "dirtyPaths", json!(["../../etc/passwd"]))
        }),
        ("huge: over the size cap", |clean| {
            // Valid JSON, but 5 MB: more than any real sidecar, so it is not even read.
            let mut text = serde_json::to_vec(clean).unwrap();
            text.extend(std::iter::repeat_n(b' ', 5 << 20));
            text
        }),
        ("huge: 80 000 dirty paths", |clean| {
            // ~3 MB, under the size cap; far more paths than the 200 the set may hold.
            let paths: Vec<String> = (0..80_000)
                .map(|i| format!("dirty/path/{i:06}/xxxxxxxxxxxxxxxxxx"))
                .collect();
            with(clean, "dirtyPaths", json!(paths))
        }),
    ]
}

/// The sidecar that a clean push leaves (generation of the remote index, not dirty) is
/// replaced by something broken, after two files changed without `mark-dirty`. Were the
/// broken file read as "clean at this generation", the push would take its fast path and
/// never upload them.
///
/// Documented outcome (safe fallback): an empty, truncated, non-JSON or wrongly typed
/// sidecar, a wrong version and one over the 4 MiB cap all mean "no sidecar"; a dirty
/// set with an escaping path or over the 200-path cap means "bulk". Both mean a full walk
/// (`mode=full`): both changes are uploaded, nothing is lost, and a valid v2 sidecar
/// replaces the broken one. A symlinked sidecar (pointing at a clean sidecar outside the
/// cache) is never followed: same full walk, and the rewrite replaces the link, not its
/// target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_sidecar_means_a_full_walk_and_nothing_is_lost() {
    let mut cases: Vec<(&str, Option<MakeSidecar>)> = sidecar_cases()
        .into_iter()
        .map(|(what, make)| (what, Some(make)))
        .collect();
    cases.push(("symlink to a clean sidecar outside the cache", None));
    for (what, make) in cases {
        let mut env = Env::start(Which::Fake).await;
        let cache = Cache::new();
        cache.write("v/a.txt", b"one");
        cache.write("v/b.txt", b"bee");
        env.open(&cache, "").await.push(&opts()).await.unwrap();
        let clean = sidecar(&cache);
        assert_eq!(clean["localDirty"], false, "{what}: set-up");

        cache.write("v/a.txt", b"changed!");
        cache.write("v/c.txt", b"sea");
        let outside_sidecar = cache.outside().join("sidecar.json");
        let mut outside = vec!["cache"];
        match make {
            Some(make) => cache.write(SIDECAR, &make(&clean)),
            None => {
                std::fs::write(&outside_sidecar, serde_json::to_vec(&clean).unwrap()).unwrap();
                std::fs::remove_file(cache.file(SIDECAR)).unwrap();
                symlink(&outside_sidecar, cache.file(SIDECAR)).unwrap();
                outside.push("sidecar.json");
            }
        }
        let before = contents(&cache);

        let mut ds = env.open(&cache, "").await;
        let report = ok(ds.push(&opts()).await, what);
        assert!(
            phase(&report, "pushChanged.walk").contains("mode=full"),
            "{what}: {:?}",
            report.phases
        );
        assert_eq!(report.files, 2, "{what}: {:?}", report.phases);
        assert_eq!(report.deleted, 0, "{what}");
        assert_eq!(env.must_get("v/a.txt").await, b"changed!", "{what}");
        assert_eq!(env.must_get("v/b.txt").await, b"bee", "{what}");
        assert_eq!(env.must_get("v/c.txt").await, b"sea", "{what}");
        assert_eq!(env.index_keys().await, ["v/a.txt", "v/b.txt", "v/c.txt"]);
        let meta = std::fs::symlink_metadata(cache.file(SIDECAR)).unwrap();
        assert!(
            meta.is_file(),
            "{what}: the sidecar is a regular file again"
        );
        assert_eq!(sidecar(&cache)["version"], 2, "{what}");
        nothing_lost(&cache, &before, what);
        sealed(&cache, &outside, what);
        if make.is_none() {
            let kept: Value = serde_json::from_slice(&std::fs::read(&outside_sidecar).unwrap())
                .expect("the outside file is untouched");
            assert_eq!(kept, clean, "{what}: the link's target is untouched");
        }

        // A pull in yet another process reads the rewritten sidecar without complaint.
        let mut ds = env.open(&cache, "").await;
        ok(ds.pull(&opts()).await, what);
        nothing_lost(&cache, &before, what);
    }
}

/// A broken local index copy `.datastore-index.json`: empty, truncated, not JSON, the
/// wrong version, huge (~5 MB listing 20 000 files that do not exist), or a symlink to
/// an index outside the cache.
///
/// Documented outcome (safe fallback): the copy is the record of the last sync, and one that is not
/// a readable index (or is a link, never followed) is no record at all: nothing is deleted or
/// overwritten on its account; the huge one's entries name files that do not exist, so they are
/// dropped. The remote index is fetched fresh on every slow path
/// (`docs/hazards.md#local-index-reuse-within-sixty-seconds`): the pull takes the slow path (the
/// copy is newer than the sidecar's verification), fetches what is new, and replaces the copy with
/// a valid one (a regular file; a link's target is untouched); a push publishes none of the listed
/// ghosts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_local_index_is_never_trusted_and_is_replaced() {
    let ghosts = || -> Vec<u8> {
        let entries: serde_json::Map<String, Value> = (0..20_000)
            .map(|i| {
                let key = format!("ghost/{i:05}/entry-with-a-longish-name.json");
                let entry = json!({"key": key, "size": 1,
                    "lastModified": "2026-07-01T00:00:00.000Z",
                    "sha256": sha256_hex(key.as_bytes())});
                (key, entry)
            })
            .collect();
        serde_json::to_vec_pretty(
            &json!({"version": 1, "lastPulled": "2026-07-01T00:00:00.000Z", "entries": entries}),
        )
        .unwrap()
    };
    let cases: Vec<(&str, Option<Vec<u8>>)> = vec![
        ("empty", Some(Vec::new())),
        (
            "truncated",
            Some(br#"{"version":1,"lastPulled":"2026-"#.to_vec()),
        ),
        ("not JSON", Some(b"\xfe\xff\x00garbage".to_vec())),
        (
            "wrong version",
            Some(br#"{"version":9,"lastPulled":"","entries":{}}"#.to_vec()),
        ),
        ("huge", Some(ghosts())),
        ("symlink to an index outside the cache", None),
    ];
    for (what, bytes) in cases {
        let mut env = Env::start(Which::Fake).await;
        let cache = Cache::new();
        cache.write("v/a.txt", b"one");
        env.open(&cache, "").await.push(&opts()).await.unwrap();
        add_remote_entry(&mut env, "v/theirs", b"theirs").await;

        let outside_index = cache.outside().join("index.json");
        let mut outside = vec!["cache"];
        match &bytes {
            Some(b) => {
                if what == "huge" {
                    assert!(b.len() > 4 << 20, "{} bytes", b.len());
                }
                cache.write(INDEX, b);
            }
            None => {
                std::fs::write(&outside_index, ghosts()).unwrap();
                std::fs::remove_file(cache.file(INDEX)).unwrap();
                symlink(&outside_index, cache.file(INDEX)).unwrap();
                outside.push("index.json");
            }
        }
        let before = contents(&cache);

        let mut ds = env.open(&cache, "").await;
        let report = ok(ds.pull(&opts()).await, what);
        assert!(!report.fast_path, "{what}");
        assert_eq!(report.files, 1, "{what}: {:?}", report.phases);
        assert_eq!(cache.read("v/theirs"), b"theirs", "{what}");
        assert!(
            std::fs::symlink_metadata(cache.file(INDEX))
                .unwrap()
                .is_file(),
            "{what}: the copy is a regular file"
        );
        assert_eq!(
            keys_of(&local_index(&cache)["entries"]),
            ["v/a.txt", "v/theirs"],
            "{what}: the copy was replaced by the remote index"
        );
        nothing_lost(&cache, &before, what);

        ds.mark_dirty(&rel("v/a.txt")).await.unwrap();
        cache.write("v/a.txt", b"two, longer");
        let report = ok(ds.push(&opts()).await, what);
        assert_eq!(report.files, 1, "{what}");
        assert_eq!(env.index_keys().await, ["v/a.txt", "v/theirs"], "{what}");
        assert!(data_files(&cache).iter().all(|f| !f.starts_with("ghost/")));
        sealed(&cache, &outside, what);
        if bytes.is_none() {
            assert_eq!(std::fs::read(&outside_index).unwrap(), ghosts(), "{what}");
        }
    }
}

/// Files and directories outside the cache, and links to them inside it.
struct Outside {
    secret: Vec<u8>,
    inner: Vec<u8>,
}

/// `abs-link.txt` → `<outside>/secret.txt` (absolute), `real/rel-link.txt` →
/// `../../secret.txt` (relative, the same file), `dir-link` → `<outside>/outside-dir`.
fn plant_links(cache: &Cache) -> Outside {
    let out = cache.outside();
    let o = Outside {
        secret: b"outside secret".to_vec(),
        inner: b"outside inner".to_vec(),
    };
    std::fs::write(out.join("secret.txt"), &o.secret).unwrap();
    std::fs::create_dir(out.join("outside-dir")).unwrap();
    std::fs::write(out.join("outside-dir/inner.txt"), &o.inner).unwrap();
    std::fs::create_dir_all(cache.file("real")).unwrap();
    symlink(out.join("secret.txt"), cache.file("abs-link.txt")).unwrap();
    symlink("../../secret.txt", cache.file("real/rel-link.txt")).unwrap();
    symlink(out.join("outside-dir"), cache.file("dir-link")).unwrap();
    o
}

/// The outside files keep their bytes, and nothing new appeared next to the cache or in
/// the linked directory.
#[track_caller]
fn outside_untouched(cache: &Cache, o: &Outside, what: &str) {
    let out = cache.outside();
    assert_eq!(
        std::fs::read(out.join("secret.txt")).unwrap(),
        o.secret,
        "{what}"
    );
    assert_eq!(
        std::fs::read(out.join("outside-dir/inner.txt")).unwrap(),
        o.inner,
        "{what}"
    );
    let inner: Vec<String> = std::fs::read_dir(out.join("outside-dir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        inner,
        ["inner.txt"],
        "{what}: nothing written through dir-link"
    );
    sealed(cache, &["cache", "outside-dir", "secret.txt"], what);
}

/// Symlinks in the cache pointing outside it, pushed by a full walk, then marked dirty
/// one by one (the link itself, the linked directory, a path below it, and the directory
/// holding a link whose name has a remote entry of someone else's), then by a full walk
/// that deletes orphans (overflowed dirty set). The bucket holds someone else's objects
/// named like a link (`real/rel-link.txt`) and below the directory link
/// (`dir-link/remote.txt`).
///
/// Documented outcome (safe fallback): links are never followed and never synced (the
/// walk counts them, `symlinksSkipped=3`); no object ever holds the outside bytes; and a
/// link is never a reason to delete — the remote objects named like the link or below it
/// survive both the dirty-directory walk and the orphan-deleting walk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_never_follows_symlinks_out_of_the_cache() {
    let mut env = Env::start(Which::Fake).await;
    put_remote_files(
        &mut env,
        &[
            ("real/rel-link.txt", b"theirs"),
            ("dir-link/remote.txt", b"theirs too"),
        ],
    )
    .await;
    let cache = Cache::new();
    let o = plant_links(&cache);
    cache.write("real/a.txt", b"a");
    let before = contents(&cache);

    let mut ds = env.open(&cache, "").await;
    let report = ok(ds.push(&opts()).await, "full walk over symlinks");
    assert_eq!(report.files, 1, "{:?}", report.phases);
    assert!(
        phase(&report, "pushChanged.walk").contains("symlinksSkipped=3"),
        "{:?}",
        report.phases
    );
    assert_eq!(report.deleted, 0);

    // The cache is not clean (the link named like a remote entry is not a copy of it),
    // so the sidecar stays bulk; without it the marks below make a scoped walk.
    remove(&cache, SIDECAR);
    let mut ds = env.open(&cache, "").await;
    for dirty in ["abs-link.txt", "dir-link", "dir-link/inner.txt", "real"] {
        ds.mark_dirty(&rel(dirty)).await.unwrap();
    }
    let report = ok(ds.push(&opts()).await, "scoped walk over symlinks");
    assert!(
        phase(&report, "pushChanged.walk").contains("mode=scoped"),
        "{:?}",
        report.phases
    );
    assert_eq!(report.files, 0, "{:?}", report.phases);
    assert_eq!(
        report.deleted, 0,
        "a symlink is never a reason to delete: {:?}",
        report.phases
    );

    // An overflowed dirty set: a full walk that deletes orphans — but not the objects
    // named like a link or lying below one.
    remove(&cache, SIDECAR);
    let mut ds = env.open(&cache, "").await;
    for i in 0..201 {
        ds.mark_dirty(&rel(&format!("x/p{i}"))).await.unwrap();
    }
    assert_eq!(sidecar(&cache)["dirtyPathsOverflowed"], true);
    let report = ok(ds.push(&opts()).await, "orphan-deleting walk over symlinks");
    assert!(
        phase(&report, "pushChanged.walk").contains("mode=full"),
        "{:?}",
        report.phases
    );
    assert_eq!(report.deleted, 0, "{:?}", report.phases);

    let objects = env.objects().await;
    for key in objects.keys() {
        let bytes = env.must_get(key).await;
        assert!(
            bytes != o.secret && bytes != o.inner,
            "{key} holds outside bytes"
        );
    }
    assert_eq!(env.must_get("real/rel-link.txt").await, b"theirs");
    assert_eq!(env.must_get("dir-link/remote.txt").await, b"theirs too");
    assert_eq!(
        env.index_keys().await,
        ["real/rel-link.txt", "dir-link/remote.txt", "real/a.txt"]
    );
    assert!(!objects.contains_key("abs-link.txt"));
    assert!(!objects.contains_key("dir-link/inner.txt"));
    nothing_lost(&cache, &before, "push over symlinks");
    assert!(std::fs::symlink_metadata(cache.file("abs-link.txt"))
        .unwrap()
        .file_type()
        .is_symlink());
    outside_untouched(&cache, &o, "push over symlinks");
}

/// A remote index naming files at and below the links: `abs-link.txt` (a file link),
/// `dir-link/inner.txt` and `dir-link/new.txt` (below a directory link), `real/b.txt`.
///
/// Documented outcome (typed error): the pull refuses to write below a symlinked
/// directory and fails with `unsafe-path` naming it; a file link is replaced by the
/// downloaded file (atomic rename over the link), never written through. The outside
/// files keep their bytes and nothing appears next to the cache or in the linked
/// directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_never_writes_through_symlinks_out_of_the_cache() {
    let mut env = Env::start(Which::Fake).await;
    put_remote_files(
        &mut env,
        &[
            ("abs-link.txt", b"remote abs"),
            ("dir-link/inner.txt", b"remote inner"),
            ("dir-link/new.txt", b"remote new"),
            ("real/b.txt", b"b"),
        ],
    )
    .await;
    let cache = Cache::new();
    let o = plant_links(&cache);
    cache.write("real/a.txt", b"a");
    let before = contents(&cache);

    let mut ds = env.open(&cache, "").await;
    let e = typed_err(
        ds.pull(&opts()).await,
        "unsafe-path",
        "pull through symlinks",
    );
    assert!(e.to_string().contains("dir-link"), "{e}");
    outside_untouched(&cache, &o, "pull through symlinks");
    nothing_lost(&cache, &before, "pull through symlinks");
    let link = std::fs::symlink_metadata(cache.file("abs-link.txt")).unwrap();
    if link.is_file() {
        assert_eq!(cache.read("abs-link.txt"), b"remote abs");
    } else {
        assert!(link.file_type().is_symlink());
    }
    assert_eq!(temp_files(&cache), Vec::<String>::new());

    // Again in a fresh process: the same refusal, still nothing written outside.
    let mut ds = env.open(&cache, "").await;
    typed_err(
        ds.pull(&opts()).await,
        "unsafe-path",
        "second pull through symlinks",
    );
    outside_untouched(&cache, &o, "second pull through symlinks");
}

/// A file whose name is not UTF-8 in two directories, once created before and once after
/// twenty siblings (so it is met early in one directory listing or the other), pushed by
/// a full walk.
///
/// Documented outcome (safe fallback): the name cannot be an index key (keys are JSON
/// strings), so that one file is skipped and counted; every sibling is uploaded, the
/// file itself stays on disk untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_utf8_file_name_is_skipped_and_its_siblings_are_pushed() {
    let mut env = Env::start(Which::Fake).await;
    let cache = Cache::new();
    let bad = OsStr::from_bytes(b"bad-\xff\xfe-name.bin");
    let siblings = |dir: &str| -> Vec<String> {
        (0..20)
            .map(|i| format!("{dir}/s{i:02}.txt"))
            .collect::<Vec<_>>()
    };
    std::fs::create_dir_all(cache.file("odd-first")).unwrap();
    std::fs::write(cache.file("odd-first").join(bad), b"first").unwrap();
    for f in siblings("odd-first") {
        cache.write(&f, f.as_bytes());
    }
    for f in siblings("odd-last") {
        cache.write(&f, f.as_bytes());
    }
    std::fs::write(cache.file("odd-last").join(bad), b"last").unwrap();
    cache.write("top.txt", b"top");
    let before = contents(&cache);

    let mut ds = env.open(&cache, "").await;
    let report = ok(ds.push(&opts()).await, "push beside a non-UTF-8 name");
    assert!(
        phase(&report, "pushChanged.walk").contains("unsafeSkipped=2 unreadable=0"),
        "{:?}",
        report.phases
    );
    let mut want: Vec<String> = siblings("odd-first");
    want.extend(siblings("odd-last"));
    want.push("top.txt".into());
    let mut keys = env.index_keys().await;
    keys.sort();
    assert_eq!(
        keys, want,
        "every UTF-8 file is pushed: {:?}",
        report.phases
    );
    assert_eq!(report.files, 41);
    for f in &want {
        assert_eq!(env.must_get(f).await, cache.read(f), "{f}");
    }
    assert_eq!(
        std::fs::read(cache.file("odd-first").join(bad)).unwrap(),
        b"first"
    );
    assert_eq!(
        std::fs::read(cache.file("odd-last").join(bad)).unwrap(),
        b"last"
    );
    nothing_lost(&cache, &before, "push beside a non-UTF-8 name");
    sealed(&cache, &["cache"], "push beside a non-UTF-8 name");

    // The same through the scoped walk of the marked directory.
    cache.write("odd-last/s00.txt", b"changed");
    ds.mark_dirty(&rel("odd-last")).await.unwrap();
    let report = ok(
        ds.push(&opts()).await,
        "scoped push beside a non-UTF-8 name",
    );
    assert_eq!(report.files, 1, "{:?}", report.phases);
    assert_eq!(report.deleted, 0, "{:?}", report.phases);
    assert_eq!(env.must_get("odd-last/s00.txt").await, b"changed");
    assert_eq!(env.index_keys().await.len(), 41);
}

/// File names of 250 and 255 bytes (the filesystem's limit), pushed and pulled into a
/// fresh cache; then a remote key whose last segment (300 bytes) no filesystem accepts.
///
/// Documented outcome: the long names round-trip (success); the 300-byte one is a typed
/// `io` error naming the file, with nothing written outside the cache and no local file
/// lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn very_long_file_names_round_trip() {
    let mut env = Env::start(Which::Fake).await;
    let a = Cache::new();
    let names: Vec<String> = [250usize, 255]
        .iter()
        .map(|n| format!("long/{}", "n".repeat(n - 4) + ".txt"))
        .collect();
    for (i, n) in names.iter().enumerate() {
        a.write(n, &pattern(1000 + i, i as u8));
    }
    let report = ok(
        env.open(&a, "").await.push(&opts()).await,
        "push long names",
    );
    assert_eq!(report.files, 2, "{:?}", report.phases);

    let b = Cache::new();
    let mut ds = env.open(&b, "").await;
    let report = ok(ds.pull(&opts()).await, "pull long names");
    assert_eq!(report.files, 2, "{:?}", report.phases);
    for n in &names {
        assert_eq!(b.read(n), a.read(n));
    }
    assert_eq!(temp_files(&b), Vec::<String>::new());
    sealed(&b, &["cache"], "pull long names");

    let too_long = format!("long/{}", "x".repeat(300));
    add_remote_entry(&mut env, &too_long, b"cannot exist locally").await;
    let before = contents(&b);
    let e = typed_err(ds.pull(&opts()).await, "io", "pull a 300-byte name");
    assert!(e.to_string().contains("xxxxxxxx"), "{e}");
    nothing_lost(&b, &before, "pull a 300-byte name");
    assert_eq!(temp_files(&b), Vec::<String>::new());
    sealed(&b, &["cache"], "pull a 300-byte name");
}

/// Files removed after `mark-dirty`, before the push: one new (never pushed), one
/// pushed earlier.
///
/// Documented outcome (success): the new file is simply not there to upload; the pushed
/// one's removal is the user's deletion and is propagated. The unmarked sibling stays,
/// locally and remotely.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_removed_between_mark_dirty_and_push() {
    let mut env = Env::start(Which::Fake).await;
    let cache = Cache::new();
    cache.write("gone/keep.txt", b"keep");
    cache.write("gone/old.txt", b"old");
    let mut ds = env.open(&cache, "").await;
    ds.push(&opts()).await.unwrap();

    ds.mark_dirty(&rel("gone/new.txt")).await.unwrap();
    cache.write("gone/new.txt", b"new");
    ds.mark_dirty(&rel("gone/old.txt")).await.unwrap();
    remove(&cache, "gone/new.txt");
    remove(&cache, "gone/old.txt");
    let before = contents(&cache);
    let report = ok(ds.push(&opts()).await, "push after removals");
    assert_eq!((report.files, report.deleted), (0, 1));
    assert!(env.get("gone/new.txt").await.is_none());
    assert!(env.get("gone/old.txt").await.is_none());
    assert_eq!(env.must_get("gone/keep.txt").await, b"keep");
    assert_eq!(env.index_keys().await, ["gone/keep.txt"]);
    nothing_lost(&cache, &before, "push after removals");
}

/// A file removed while the push is already uploading (after the walk planned it): the
/// first upload is held by the host, the test removes the second file meanwhile
/// (`pushConcurrency` 1, so the second has not been read yet).
///
/// Documented outcome (typed error, then recovery): the push fails with an error naming
/// the file; the index is not written, so it never names the file that was not uploaded;
/// the sidecar stays dirty, and the next push publishes the file that is still there
/// and nothing for the removed one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_removed_during_the_push() {
    let mut env = Env::start(Which::Fake).await;
    let cache = Cache::new();
    cache.write("audit/base", b"base");
    env.open(&cache, "").await.push(&opts()).await.unwrap();
    let index_before = env.must_get(INDEX).await;

    let mut ds = env.open(&cache, r#""pushConcurrency":1"#).await;
    ds.mark_dirty(&rel("race")).await.unwrap();
    cache.write("race/a.txt", b"a");
    cache.write("race/b.txt", b"b");
    env.host.faults.add(FaultRule::new(
        FaultMatch::kind(RequestKind::Upload),
        FaultAction::Delay(Duration::from_secs(2)),
        Some(1),
    ));
    let remove_b = async {
        // The first upload (race/a.txt, in walk order) is being held: the walk is done.
        for _ in 0..12_000 {
            if env.host.faults.fired() > 0 {
                remove(&cache, "race/b.txt");
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the push never started uploading");
    };
    let options = opts();
    let (r, ()) = tokio::join!(ds.push(&options), remove_b);
    env.host.faults.clear();
    let e = typed_err(r, "other", "push while a file vanishes");
    assert!(e.to_string().contains("race/b.txt"), "{e}");
    assert_eq!(env.must_get(INDEX).await, index_before, "no index write");
    assert_eq!(sidecar(&cache)["localDirty"], true);

    let before = contents(&cache);
    let mut ds = env.open(&cache, "").await;
    let report = ok(ds.push(&opts()).await, "push after the vanished file");
    assert_eq!(report.files, 1, "{:?}", report.phases);
    assert_eq!(env.index_keys().await, ["audit/base", "race/a.txt"]);
    assert_eq!(env.must_get("race/a.txt").await, b"a");
    nothing_lost(&cache, &before, "push after the vanished file");
}
