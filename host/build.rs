//! Builds the guest component and hands its path to the host crate, so `cargo build`,
//! `cargo test` and `cargo run` work from a clean clone with no separate step.
//!
//! The guest is built by a nested cargo into `target/guest` (a separate target directory:
//! the outer cargo holds the lock on `target/release`), then copied to the canonical
//! `target/wasm32-wasip2/release/gcs_datastore.wasm`. `GCS_DATASTORE_WASM` overrides all
//! of this with a prebuilt component.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    emit_wasmtime_version();
    println!("cargo:rerun-if-env-changed=GCS_DATASTORE_WASM");
    if let Ok(prebuilt) = std::env::var("GCS_DATASTORE_WASM") {
        println!("cargo:rustc-env=GCS_DATASTORE_WASM_PATH={prebuilt}");
        println!("cargo:rerun-if-changed={prebuilt}");
        return;
    }
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("gcs-host lives inside the workspace")
        .to_path_buf();
    for watched in ["src", "wit", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let target_dir = root.join("target").join("guest");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            "gcs-datastore",
            "--lib",
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        // A small, fast component: LTO and one codegen unit cost seconds on a crate this size.
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true");
    // Flags meant for the host build must not leak into the guest build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("running cargo for the guest component");
    if !status.success() {
        panic!(
            "building the gcs-datastore component failed; is the target installed? run `rustup target add wasm32-wasip2`"
        );
    }
    let built = target_dir.join("wasm32-wasip2/release/gcs_datastore.wasm");
    let canonical_dir = root.join("target/wasm32-wasip2/release");
    if std::fs::create_dir_all(&canonical_dir).is_ok() {
        let _ = std::fs::copy(&built, canonical_dir.join("gcs_datastore.wasm"));
    }
    println!(
        "cargo:rustc-env=GCS_DATASTORE_WASM_PATH={}",
        built.display()
    );
}

/// The wasmtime version this build links, read from the workspace's Cargo.lock, for the
/// key of precompiled artefacts (`src/code_cache.rs`). The engine's compatibility hash
/// covers it as well; naming it in the key keeps that true whatever wasmtime hashes.
fn emit_wasmtime_version() {
    let lock = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"))
        .join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    let mut lines = text.lines();
    let mut version = "unknown".to_string();
    while let Some(line) = lines.next() {
        if line == "name = \"wasmtime\"" {
            if let Some(v) = lines
                .next()
                .and_then(|l| l.strip_prefix("version = \""))
                .and_then(|l| l.strip_suffix('"'))
            {
                version = v.to_string();
            }
            break;
        }
    }
    println!("cargo:rustc-env=GCS_HOST_WASMTIME_VERSION={version}");
}
