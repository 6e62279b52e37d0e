//! The sandbox: standard WASI imports only, the environment the host passes and nothing
//! else, HTTP only to the allow-list (refused before any connection opens), and no
//! file access outside the cache directory (`..`, absolute paths, symlinks out).

use crate::common::*;
use gcs_host::send::AllowList;
use gcs_host::traffic::RequestKind;
use gcs_host::{DatastoreOptions, Host};
use std::net::TcpListener;
use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};

/// Connections the listener has accepted (non-blocking), polled for `window`.
fn accepted_connections(listener: &TcpListener, window: Duration) -> usize {
    let mut n = 0;
    let until = Instant::now() + window;
    loop {
        match listener.accept() {
            Ok(_) => n += 1,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= until {
                    return n;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// An endpoint that is not on the allow-list: every call fails, the listener behind it
/// never sees a connection, and the host counts the refusals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_host_is_refused_without_a_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let denied = format!("http://{}", listener.local_addr().unwrap());
    // A different port: allowed, but not where the guest is told to go.
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let allowed = format!("127.0.0.1:{}", other.local_addr().unwrap().port());

    let host = gcs_host::Host::new().unwrap();
    let cache = Cache::new();
    let opts = DatastoreOptions {
        allow: AllowList::new([allowed.clone()]),
        ..DatastoreOptions::new(cache.path(), &format!("http://{allowed}"))
    };
    assert!(!opts.allow.allows(&denied["http://".len()..]));
    let mut ds = host.open(&opts).await.unwrap();
    ds.configure(&config(&denied, BUCKET, r#""retryMaxAttempts":3"#))
        .await
        .unwrap();

    let e = assert_kind(ds.stat("x").await, "transport", "stat on a denied host");
    assert!(e.to_string().contains("refused by the sandbox"), "{e}");
    cache.write("f.txt", b"data");
    assert_kind(
        ds.put_file("f.txt", "f.txt", None).await,
        "transport",
        "upload to a denied host",
    );
    assert_kind(
        ds.get_file("x", "x").await,
        "transport",
        "download from a denied host",
    );
    let health = ds.verify().await.unwrap();
    assert!(!health.healthy, "{}", health.message);

    assert_eq!(
        accepted_connections(&listener, Duration::from_millis(200)),
        0,
        "no connection reached the denied host"
    );
    let snap = host.traffic.snapshot();
    // A refusal is final (not retried): one per call.
    assert_eq!(snap.denied, 4, "{snap:?}");
    assert_eq!(snap.total, 0, "denied requests are never sent: {snap:?}");
    assert!(!cache.file("x").exists());
}

/// Cache-relative paths and keys that would leave the cache are refused before anything
/// is read, sent or written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_outside_the_cache_are_refused() {
    let mut s = Setup::fake("").await;
    s.gcs().put_object(BUCKET, "k", b"remote bytes");
    std::fs::write(s.cache.outside().join("x"), b"outside").unwrap();

    for rel in [
        "../x",
        "/etc/passwd",
        "a/../../x",
        "../cache/../x",
        "a/./b",
        "",
    ] {
        assert_kind(
            s.ds.put_file(rel, "k2", None).await,
            "unsafe-path",
            &format!("put-file {rel:?}"),
        );
    }
    for key in ["../k", "/k", "a/../../k", "a//b"] {
        assert_kind(
            s.ds.put_bytes(key, b"x", None).await,
            "unsafe-path",
            &format!("put-bytes key {key:?}"),
        );
    }
    for rel in ["../escape", "/tmp/escape", "a/../../escape"] {
        assert_kind(
            s.ds.get_file("k", rel).await,
            "unsafe-path",
            &format!("get-file to {rel:?}"),
        );
    }
    assert_eq!(
        s.host.traffic.snapshot().total,
        0,
        "refused before any request"
    );
    assert_eq!(s.cache.outside_names(), ["cache", "x"]);
    assert_eq!(
        std::fs::read(s.cache.outside().join("x")).unwrap(),
        b"outside"
    );
    assert!(s.cache.files().is_empty());
    assert_eq!(s.gcs().object_names(BUCKET), ["k"]);
}

/// Symlinks inside the cache that point outside it: the sandbox refuses to follow them,
/// so the outside file is neither uploaded nor overwritten (a download onto a link name
/// replaces the link, not its target), and nothing appears outside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_out_of_the_cache_are_not_followed() {
    let mut s = Setup::fake("").await;
    s.gcs().put_object(BUCKET, "remote", b"remote bytes");
    let outside = s.cache.outside().to_path_buf();
    std::fs::write(outside.join("secret.txt"), b"outside secret").unwrap();
    symlink(outside.join("secret.txt"), s.cache.file("abs-link.txt")).unwrap();
    symlink("../secret.txt", s.cache.file("rel-link.txt")).unwrap();
    symlink(&outside, s.cache.file("dir-link")).unwrap();

    for rel in ["abs-link.txt", "rel-link.txt", "dir-link/secret.txt"] {
        let e = expect_err(
            s.ds.put_file(rel, "stolen", None).await,
            &format!("put-file through symlink {rel:?}"),
        );
        // The guest refuses a link (or a path below one) before opening it; wasmtime-wasi
        // would refuse too (no symlink escapes the preopen: "Operation not permitted").
        assert_eq!(e.kind(), "io", "{rel}: {e:?}");
        let said = e.to_string();
        assert!(
            said.contains("not a regular file")
                || said.contains("symlinked directory")
                || said.contains("not permitted"),
            "{rel}: {e}"
        );
    }
    assert_eq!(s.count(RequestKind::Upload), 0, "nothing was uploaded");
    assert_eq!(s.gcs().object_names(BUCKET), ["remote"]);

    // Downloading onto the symlink names: the outside file keeps its content.
    for rel in ["abs-link.txt", "rel-link.txt"] {
        // The atomic write (temporary file + rename) replaces the link itself.
        s.ds.get_file("remote", rel).await.unwrap();
        assert_eq!(
            std::fs::read(outside.join("secret.txt")).unwrap(),
            b"outside secret",
            "{rel}"
        );
        let meta = std::fs::symlink_metadata(s.cache.file(rel)).unwrap();
        assert!(meta.file_type().is_file(), "{rel} is now a plain file");
        assert_eq!(s.cache.read(rel), b"remote bytes");
    }
    // Through a directory link: the guest refuses to write below a symlinked directory
    // (the host's sandbox would refuse too), and nothing is created outside.
    let e = expect_err(
        s.ds.get_file("remote", "dir-link/new.txt").await,
        "get-file through a directory symlink",
    );
    assert_eq!(e.kind(), "unsafe-path", "{e:?}");
    assert!(!outside.join("new.txt").exists());
    let mut outside_names = s.cache.outside_names();
    outside_names.retain(|n| !n.starts_with('.'));
    assert_eq!(outside_names, ["cache", "secret.txt"]);
    assert!(
        std::fs::read_dir(&outside).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".swamp-tmp")),
        "no temporary file outside"
    );
}

/// The component asks for standard WASI 0.2 only: wasi:http for the network (no
/// wasi:sockets, so it cannot open a connection the host's send path does not see),
/// wasi:filesystem for the cache, and nothing custom; it exports the datastore interfaces.
#[test]
fn the_component_imports_only_standard_wasi_and_no_sockets() {
    let (imports, exports) = gcs_host::host::component_interfaces().expect("load the component");
    assert!(!imports.is_empty());
    for (name, funcs) in &imports {
        if name == "swamp:datastore/types@0.1.0" {
            // The world's shared type definitions (the error variant, options): the host
            // supplies no behaviour through it.
            assert_eq!(*funcs, 0, "{name} must define types only");
            continue;
        }
        assert!(
            name.starts_with("wasi:"),
            "non-WASI import {name}: {imports:?}"
        );
        assert!(!name.starts_with("wasi:sockets/"), "socket import {name}");
        assert!(name.contains("@0.2."), "not a WASI 0.2 interface: {name}");
    }
    for needed in ["wasi:http/outgoing-handler@", "wasi:filesystem/preopens@"] {
        assert!(
            imports.iter().any(|(n, _)| n.starts_with(needed)),
            "{needed} missing from {imports:?}"
        );
    }
    for exported in ["sync-service", "lock", "verifier"] {
        let wanted = format!("swamp:datastore/{exported}@0.1.0");
        assert!(
            exports.contains(&wanted),
            "{wanted} missing from {exports:?}"
        );
    }
}

/// Marks the child run of [`guest_environment_probe`].
const PROBE_CHILD: &str = "SWAMP_GCS_TEST_ENV_PROBE";

/// The guest sees only the environment variables the host passes. This binary runs its own
/// probe test again as a child whose process environment carries identity variables the
/// guest would use (`USER`, `USERNAME`, `HOSTNAME`); the probe opens a sandbox passing
/// only `HOSTNAME=chosen-host`, and the lock holder the guest builds must ignore the rest.
#[test]
fn the_guest_sees_only_the_environment_the_host_passes() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", &probe_name()])
        .args(["--nocapture", "--test-threads=1"])
        .env(PROBE_CHILD, "1")
        .env("USER", "leaked-user")
        .env("USERNAME", "leaked-username")
        .env("HOSTNAME", "leaked-host")
        .output()
        .expect("run the probe");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "probe failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The probe's test name as the harness filters it: its module path without the crate.
fn probe_name() -> String {
    let module = module_path!();
    let module = module.split_once("::").map_or(module, |(_, rest)| rest);
    format!("{module}::guest_environment_probe")
}

/// Run only as the child of the test above (ignored otherwise: alone it proves nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by the_guest_sees_only_the_environment_the_host_passes"]
async fn guest_environment_probe() {
    assert_eq!(std::env::var(PROBE_CHILD).as_deref(), Ok("1"));
    assert_eq!(std::env::var("USER").as_deref(), Ok("leaked-user"));
    let server = Server::fake(BUCKET).await;
    let host = Host::new().unwrap();
    let cache = Cache::new();
    let opts = server.options(&cache).env("HOSTNAME", "chosen-host");
    let mut ds = host.open(&opts).await.unwrap();
    ds.configure(&server.config(BUCKET, "")).await.unwrap();
    let lock = ds
        .lock(&gcs_host::datastore::LockOptions {
            key: Some("probe.lock".into()),
            ttl_ms: None,
            retry_interval_ms: None,
            max_wait_ms: Some(5_000),
        })
        .await
        .unwrap();
    let info = ds.lock_acquire(lock).await.unwrap();
    assert_eq!(info.holder, "unknown@chosen-host", "{info:?}");
    assert_eq!(info.hostname, "chosen-host");
    assert_eq!(info.pid, 0, "no SWAMP_GCS_HOST_PID was passed");
}
