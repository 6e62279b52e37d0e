//! `control put | put-if-absent | get | list | delete`: the control-plane store
//! (docs/control-plane.md). Values are bytes: `put` reads a file or standard input, `get`
//! writes the stored bytes to standard output unchanged (with `--json`, as text when they
//! are UTF-8 and always as base64).

use super::args::{ControlAction, ControlKeyArgs, ControlListArgs, ControlPutArgs, Global};
use super::commands::print_json;
use super::failure::Failure;
use super::output::plural;
use super::session::{self, Cache, Session};
use base64::Engine as _;
use gcs_host::datastore::CallError;
use gcs_host::Host;
use serde_json::json;
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::Path;

/// Exit code of `put-if-absent` when the key already had a value.
pub const EXISTS: u8 = 3;

/// Larger values are refused: control records are small, and the value is held in memory.
pub const MAX_VALUE_BYTES: u64 = 64 << 20;

/// `control ...`.
pub async fn run(host: &Host, g: &Global, action: &ControlAction) -> Result<(), Failure> {
    match action {
        ControlAction::Put(a) => put(host, g, a, false).await,
        ControlAction::PutIfAbsent(a) => put(host, g, a, true).await,
        ControlAction::Get(a) => get(host, g, a).await,
        ControlAction::List(a) => list(host, g, a).await,
        ControlAction::Delete(a) => delete(host, g, a).await,
    }
}

async fn open(host: &Host, g: &Global) -> Result<Session, Failure> {
    session::open(host, g, Cache::scratch()?).await
}

/// `" in namespace NS"`, or nothing for the solo records.
fn in_namespace(ns: Option<&str>) -> String {
    ns.map(|n| format!(" in namespace {n}")).unwrap_or_default()
}

async fn put(host: &Host, g: &Global, a: &ControlPutArgs, if_absent: bool) -> Result<(), Failure> {
    let value = read_value(a.file.as_deref())?;
    let ns = a.ns.namespace.as_deref();
    let mut s = open(host, g).await?;
    let where_ = in_namespace(ns);
    let size = plural(value.len() as u64, "byte");
    if !if_absent {
        s.ds.control_put(ns, &a.key, &value)
            .await
            .map_err(failure)?;
        if g.json {
            print_json(
                "control put",
                json!({"key": a.key, "namespace": ns, "size": value.len()}),
            );
        } else {
            println!("wrote {}{where_} ({size})", a.key);
        }
        return Ok(());
    }
    let created =
        s.ds.control_put_if_absent(ns, &a.key, &value)
            .await
            .map_err(failure)?;
    if g.json {
        print_json(
            "control put-if-absent",
            json!({"key": a.key, "namespace": ns, "created": created, "size": value.len()}),
        );
    } else if created {
        println!("created {}{where_} ({size})", a.key);
    } else {
        println!(
            "not created: {}{where_} already has a value (left unchanged)",
            a.key
        );
    }
    if created {
        Ok(())
    } else {
        Err(Failure::new(EXISTS, "exists", format!("{} already has a value", a.key)).printed())
    }
}

async fn get(host: &Host, g: &Global, a: &ControlKeyArgs) -> Result<(), Failure> {
    let ns = a.ns.namespace.as_deref();
    let mut s = open(host, g).await?;
    let Some(value) = s.ds.control_get(ns, &a.key).await.map_err(failure)? else {
        let scope = ns.map(|n| format!(" --namespace {n}")).unwrap_or_default();
        return Err(Failure::operational(
            "not-found",
            format!("no control record {}{}", a.key, in_namespace(ns)),
        )
        .hint(format!(
            "`swamp-gcs control list{scope}` shows the keys that exist"
        )));
    };
    if g.json {
        print_json(
            "control get",
            json!({
                "key": a.key,
                "namespace": ns,
                "size": value.len(),
                "value": std::str::from_utf8(&value).ok(),
                "valueBase64": base64::engine::general_purpose::STANDARD.encode(&value),
            }),
        );
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&value)
        .and_then(|()| out.flush())
        .map_err(|e| {
            Failure::operational("io", format!("writing the value to standard output: {e}"))
        })
}

async fn list(host: &Host, g: &Global, a: &ControlListArgs) -> Result<(), Failure> {
    let ns = a.ns.namespace.as_deref();
    let mut s = open(host, g).await?;
    let keys = s.ds.control_list(ns, &a.prefix).await.map_err(failure)?;
    if g.json {
        print_json(
            "control list",
            json!({"prefix": a.prefix, "namespace": ns, "keys": keys}),
        );
    } else {
        for k in &keys {
            println!("{k}");
        }
    }
    Ok(())
}

async fn delete(host: &Host, g: &Global, a: &ControlKeyArgs) -> Result<(), Failure> {
    let ns = a.ns.namespace.as_deref();
    let mut s = open(host, g).await?;
    let deleted = s.ds.control_delete(ns, &a.key).await.map_err(failure)?;
    if g.json {
        print_json(
            "control delete",
            json!({"key": a.key, "namespace": ns, "deleted": deleted}),
        );
    } else if deleted {
        println!("deleted {}{}", a.key, in_namespace(ns));
    } else {
        println!(
            "nothing to delete: {}{} has no value",
            a.key,
            in_namespace(ns)
        );
    }
    Ok(())
}

/// The failure of a control call. A bad key's message carries its remedy as
/// `… (hint: …)`; it is shown on the hint line instead.
fn failure(e: CallError) -> Failure {
    let mut f = Failure::from(e);
    let split = f
        .message
        .strip_suffix(')')
        .and_then(|m| m.split_once(" (hint: "))
        .map(|(m, h)| (m.to_string(), h.to_string()));
    if let (Some((message, hint)), "config") = (split, f.kind.as_str()) {
        f.message = message;
        f.hint = Some(hint);
    }
    f
}

/// The value to write: FILE's bytes, or standard input's for `-` or no FILE. A terminal
/// on standard input is refused rather than waited on.
fn read_value(file: Option<&Path>) -> Result<Vec<u8>, Failure> {
    let too_big = || {
        Failure::usage(format!(
            "the value is larger than the {} MiB a control record may have",
            MAX_VALUE_BYTES >> 20
        ))
        .hint("control records are small (heartbeats, claims); keep large data in the datastore")
    };
    let mut value = Vec::new();
    match file.filter(|f| *f != Path::new("-")) {
        Some(path) => {
            let shown = path.display();
            let f = std::fs::File::open(path).map_err(|e| {
                Failure::usage(format!("cannot read the value from {shown}: {e}"))
                    .hint("give a readable file, or `-` (or nothing) to read standard input")
            })?;
            f.take(MAX_VALUE_BYTES + 1)
                .read_to_end(&mut value)
                .map_err(|e| Failure::usage(format!("cannot read the value from {shown}: {e}")))?;
        }
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(Failure::usage(
                    "no value: give a FILE, or pipe the value into standard input",
                )
                .hint("e.g. `echo -n worker-1 | swamp-gcs control put leader`"));
            }
            stdin
                .lock()
                .take(MAX_VALUE_BYTES + 1)
                .read_to_end(&mut value)
                .map_err(|e| {
                    Failure::operational(
                        "io",
                        format!("reading the value from standard input: {e}"),
                    )
                })?;
        }
    }
    if value.len() as u64 > MAX_VALUE_BYTES {
        return Err(too_big());
    }
    Ok(value)
}
