//! Start-up: the compiled component is kept between runs (`gcs_host::code_cache`). A
//! second run loads the artefact and leaves it alone; a damaged one, or one keyed for
//! another component, is never loaded: the run compiles, succeeds and replaces it.
//! `SWAMP_GCS_CODE_CACHE_TRACE` makes each run say which way it went.

use super::{cmd, run_env, s, write_tree, Env, Run, TREE};
use gcs_host::code_cache::{DIR_VAR, TRACE_VAR};
use std::path::{Path, PathBuf};

/// `caps --json` with the trace on and `extra` variables; checks it succeeded with the
/// real answer.
fn caps(home: &Path, extra: &[(&str, &str)]) -> Run {
    let mut env = vec![(TRACE_VAR, "1")];
    env.extend_from_slice(extra);
    let r = run_env(home, &["caps", "--json"], &env);
    r.expect(0);
    assert_eq!(r.json()["datastoreType"], "@swamp/gcs-datastore", "{r:#?}");
    r
}

/// The one trace line of a run.
fn trace(r: &Run) -> &str {
    let lines: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("swamp-gcs: "))
        .collect();
    assert_eq!(lines.len(), 1, "one trace line: {r:#?}");
    lines[0]
}

fn loaded(r: &Run, artefact: &Path) -> bool {
    trace(r).starts_with(&format!(
        "swamp-gcs: loaded the precompiled component {} in ",
        artefact.display()
    ))
}

fn compiled_because(r: &Run, why: &str, artefact: &Path) -> bool {
    trace(r).starts_with(&format!(
        "swamp-gcs: compiled the component ({why}); saved {} in ",
        artefact.display()
    ))
}

/// The artefacts in `dir` (partial files would show up here too).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The only file in `dir`.
fn only(dir: &Path) -> PathBuf {
    let f = files(dir);
    assert_eq!(f.len(), 1, "{f:?}");
    f[0].clone()
}

/// Inode and modification time: a rewrite (rename of a new file) changes both.
fn identity(p: &Path) -> (u64, std::time::SystemTime) {
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(p).unwrap();
    (m.ino(), m.modified().unwrap())
}

#[test]
fn a_second_run_loads_the_artefact_from_the_user_cache_and_leaves_it_alone() {
    let env = Env::start("startup-warm");
    let home = env.home.path();
    let dir = home.join(".cache/swamp-gcs");
    let first = caps(home, &[]);
    let artefact = only(&dir);
    assert!(
        compiled_because(&first, "no artefact yet", &artefact),
        "{first:#?}"
    );
    let before = (identity(&artefact), std::fs::read(&artefact).unwrap());
    let second = caps(home, &[]);
    assert!(loaded(&second, &artefact), "{second:#?}");
    assert_eq!(first.stdout, second.stdout);

    // A pull (push first, then the no-op pull swamp runs before each command) loads it too.
    let cache = env.cache("c");
    write_tree(&cache, TREE);
    let config = env.config();
    let sync = |command: &str| {
        let r = run_env(
            home,
            &[command, "--cache", s(&cache), "--config", &config, "--json"],
            &[(TRACE_VAR, "1")],
        );
        r.expect(0);
        assert!(loaded(&r, &artefact), "{r:#?}");
        r
    };
    sync("push");
    let noop = sync("pull");
    assert_eq!(noop.json()["fastPath"], true, "{noop:#?}");
    assert_eq!(
        (identity(&artefact), std::fs::read(&artefact).unwrap()),
        before,
        "the artefact is never rewritten by a run that loads it"
    );
    assert_eq!(files(&dir), vec![artefact]);
}

#[test]
fn the_directory_follows_xdg_and_the_override_and_can_be_turned_off() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let xdg = home.join("xdg");
    let xdg_run = caps(home, &[("XDG_CACHE_HOME", s(&xdg))]);
    let artefact = only(&xdg.join("swamp-gcs"));
    assert!(compiled_because(&xdg_run, "no artefact yet", &artefact));
    let own = home.join("own");
    let own_run = caps(home, &[("XDG_CACHE_HOME", s(&xdg)), (DIR_VAR, s(&own))]);
    assert!(compiled_because(&own_run, "no artefact yet", &only(&own)));
    let off = caps(home, &[(DIR_VAR, "off")]);
    assert!(
        trace(&off).starts_with("swamp-gcs: compiled the component (code cache off) in "),
        "{off:#?}"
    );
    assert!(
        !home.join(".cache").exists(),
        "nothing written to the default"
    );
}

/// Every way a file can be damaged: the run succeeds, says why it compiled, and the file
/// is replaced by one the next run loads.
#[test]
fn a_damaged_artefact_is_compiled_over_and_replaced() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let dir = home.join(".cache/swamp-gcs");
    caps(home, &[]);
    let artefact = only(&dir);
    let sound = std::fs::read(&artefact).unwrap();
    let mut flipped = sound.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    let damaged: [(&str, Vec<u8>, &str); 3] = [
        (
            "one bit flipped",
            flipped,
            "artefact damaged: payload does not match its digest",
        ),
        (
            "cut short",
            sound[..sound.len() / 3].to_vec(),
            "artefact damaged: payload does not match its digest",
        ),
        (
            "not an artefact",
            b"\x7fELF and then nothing".to_vec(),
            "artefact damaged: not a swamp-gcs artefact",
        ),
    ];
    for (what, bytes, why) in damaged {
        std::fs::write(&artefact, &bytes).unwrap();
        let r = caps(home, &[]);
        assert!(compiled_because(&r, why, &artefact), "{what}: {r:#?}");
        assert_ne!(std::fs::read(&artefact).unwrap(), bytes, "{what}: replaced");
        let again = caps(home, &[]);
        assert!(loaded(&again, &artefact), "{what}: {again:#?}");
        assert_eq!(files(&dir), vec![artefact.clone()], "{what}");
    }
}

/// The embedded component with a custom section appended: another valid component,
/// different bytes, the same behaviour.
fn another_component() -> Vec<u8> {
    let name = b"swamp-gcs-test";
    let payload = b"a different component";
    let mut v = gcs_host::host::COMPONENT_BYTES.to_vec();
    v.push(0); // custom section
    v.push((1 + name.len() + payload.len()) as u8);
    v.push(name.len() as u8);
    v.extend_from_slice(name);
    v.extend_from_slice(payload);
    v
}

#[test]
fn an_artefact_keyed_for_another_component_is_never_loaded() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let dir = home.join(".cache/swamp-gcs");
    let other = home.join("other.wasm");
    std::fs::write(&other, another_component()).unwrap();
    let with_other = [("SWAMP_GCS_COMPONENT", s(&other))];
    let r = caps(home, &with_other);
    let other_artefact = only(&dir);
    assert!(compiled_because(&r, "no artefact yet", &other_artefact));
    // The embedded component does not pick up the other's artefact...
    let r = caps(home, &[]);
    let artefact = files(&dir)
        .into_iter()
        .find(|p| *p != other_artefact)
        .expect("a second artefact");
    assert!(compiled_because(&r, "no artefact yet", &artefact), "{r:#?}");
    // ...not even under its own name.
    let foreign = std::fs::read(&other_artefact).unwrap();
    std::fs::write(&artefact, &foreign).unwrap();
    let r = caps(home, &[]);
    assert!(
        compiled_because(
            &r,
            "artefact keyed for another component or engine",
            &artefact
        ),
        "{r:#?}"
    );
    assert_ne!(std::fs::read(&artefact).unwrap(), foreign);
    assert!(loaded(&caps(home, &[]), &artefact));
    assert!(loaded(&caps(home, &with_other), &other_artefact));
}

/// First runs at once: each writes a whole file and renames it into place, so none
/// fails, none leaves a partial file, and the survivor loads.
#[test]
fn concurrent_first_runs_all_succeed_and_leave_one_sound_artefact() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let dir = home.join(".cache/swamp-gcs");
    let children: Vec<_> = (0..4)
        .map(|_| {
            let mut c = cmd(home);
            c.args(["caps", "--json"]).env(TRACE_VAR, "1");
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let artefact = only(&dir);
    assert!(loaded(&caps(home, &[]), &artefact));
}
