//! Every error path of the command line, with `RUST_BACKTRACE=1` and `full` (issue 11):
//! each error is at most two lines, `error: …` and `hint: …`, with no backtrace, and the
//! hint follows the kind of failure (a body cut after the server answered is not blamed
//! on the network).

use super::{run_env, s};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

/// What the canned server answers to every request.
#[derive(Clone, Copy)]
enum Reply {
    /// `200 OK` announcing 1000 body bytes, sending 12, then closing.
    CutBody,
    /// `503` with an odd GCS envelope (`code` a string, `message` an object).
    Odd503,
    /// Plain-text bytes at once, before any request: what a TLS client meets when it
    /// speaks to a plain HTTP port.
    NotTls,
}

/// A server on 127.0.0.1 that gives every request the same answer; it lives as long as
/// the test process (its thread blocks in `accept`).
fn canned(reply: Reply) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || answer(stream, reply));
        }
    });
    endpoint
}

fn answer(mut stream: TcpStream, reply: Reply) {
    if let Reply::NotTls = reply {
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
        return;
    }
    // Read the request head; the body (if any) is left unread, then the socket closes.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let text = match reply {
        Reply::CutBody => "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\nconnection: close\r\n\r\n{\"kind\":\"st".to_string(),
        Reply::NotTls => return,
        Reply::Odd503 => {
            let body = r#"{"error":{"code":"503","message":{"text":"Backend Error"}}}"#;
            format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        }
    };
    let _ = stream.write_all(text.as_bytes());
    let _ = stream.flush();
}

/// A port nothing listens on.
fn refused() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

fn config(endpoint: &str) -> String {
    format!(
        r#"{{"bucket":"b-1","apiEndpoint":"{endpoint}","retryMaxAttempts":1,"requestTimeoutMs":5000}}"#
    )
}

/// One error path: arguments, extra environment, exit code, words the hint must hold
/// and words it must not.
struct Case {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    code: i32,
    hint: Option<&'static str>,
    never: &'static [&'static str],
}

#[test]
fn every_error_is_at_most_two_lines_whatever_rust_backtrace_says() {
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("c");
    std::fs::create_dir_all(cache.join("data")).unwrap();
    std::fs::write(cache.join("data/a.json"), "{}").unwrap();
    let cut = config(&canned(Reply::CutBody));
    let busy = config(&canned(Reply::Odd503));
    let gone = config(&refused());
    let plain = canned(Reply::NotTls).replace("http://", "https://");
    let not_tls = config(&plain);
    let on = |args: &[&str], cfg: &str| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        v.extend([
            "--cache".into(),
            s(&cache).into(),
            "--config".into(),
            cfg.into(),
        ]);
        v
    };
    let network: &[&str] = &["nothing answered", "check the network"];
    let mut cases = vec![
        Case {
            name: "invalid config",
            args: vec![
                "verify".into(),
                "--config".into(),
                r#"{"bucket":"B"}"#.into(),
            ],
            env: vec![],
            code: 2,
            hint: None,
            never: &[],
        },
        Case {
            name: "no cache",
            args: vec!["pull".into(), "--config".into(), cut.clone()],
            env: vec![],
            code: 2,
            hint: Some("cache"),
            never: &[],
        },
        Case {
            name: "component missing",
            args: on(&["pull"], &cut),
            env: vec![(
                "SWAMP_GCS_COMPONENT",
                s(&home.path().join("none.wasm")).into(),
            )],
            code: 1,
            hint: None,
            never: &[],
        },
        Case {
            name: "pull, nothing listening",
            args: on(&["pull"], &gone),
            env: vec![],
            code: 1,
            hint: Some("nothing answered at http://127.0.0.1:"),
            never: &[],
        },
        Case {
            name: "pull, https to a plain HTTP port",
            args: on(&["pull"], &not_tls),
            env: vec![],
            code: 1,
            hint: Some("TLS handshake"),
            never: network,
        },
        Case {
            name: "pull, odd 503",
            args: on(&["pull"], &busy),
            env: vec![],
            code: 1,
            hint: Some("server error (HTTP 503)"),
            never: network,
        },
    ];
    for command in [
        &["pull"][..],
        &["push"],
        &["status"],
        &["sync"],
        &["lock", "inspect"],
    ] {
        cases.push(Case {
            name: "a 200 whose body breaks off",
            args: on(command, &cut),
            env: vec![],
            code: 1,
            hint: Some("answered (HTTP 200) but the reply broke off"),
            never: network,
        });
    }
    for backtrace in ["1", "full"] {
        for case in &cases {
            let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
            let mut env: Vec<(&str, &str)> = vec![("RUST_BACKTRACE", backtrace)];
            env.extend(case.env.iter().map(|(k, v)| (*k, v.as_str())));
            let r = run_env(home.path(), &args, &env);
            let what = format!("{} {:?} (RUST_BACKTRACE={backtrace})", case.name, case.args);
            assert_eq!(r.code, case.code, "{what}: {r:#?}");
            let lines: Vec<&str> = r.stderr.lines().collect();
            assert!(
                (1..=2).contains(&lines.len()),
                "{what}: at most two lines: {r:#?}"
            );
            assert!(lines[0].starts_with("error: "), "{what}: {r:#?}");
            assert!(lines[0].len() < 400, "{what}: a short line: {r:#?}");
            for bad in ["backtrace", "Caused by", "wasmtime::", ".rs:"] {
                assert!(!r.stderr.contains(bad), "{what}: {bad:?} in {r:#?}");
            }
            match (case.hint, lines.get(1)) {
                (Some(want), Some(h)) => {
                    assert!(
                        h.starts_with("hint: ") && h.contains(want),
                        "{what}: {r:#?}"
                    );
                    for n in case.never {
                        assert!(!h.contains(n), "{what}: {n:?} in {r:#?}");
                    }
                }
                (Some(_), None) => panic!("{what}: no hint: {r:#?}"),
                (None, Some(h)) => assert!(h.starts_with("hint: "), "{what}: {r:#?}"),
                (None, None) => {}
            }
        }
    }
}
