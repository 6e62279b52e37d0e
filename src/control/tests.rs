//! The control-plane store against the in-memory GCS: round trips, namespaces and the
//! configured prefix, create-only races, lost replies settled by the claim, transient
//! faults, bad keys, and records kept out of the index.

use super::ControlPlane;
use crate::error::ErrorKind;
use crate::gcs::{GcsClient, NoAuth};
use crate::sync::tests_support::{push, service, TempDir};
use crate::test_doubles::{run, FakeGcs, Fault, Kind};

fn store<'a>(
    client: &'a GcsClient<FakeGcs, NoAuth>,
    ns: Option<&str>,
) -> ControlPlane<'a, FakeGcs, NoAuth> {
    ControlPlane::new(client, ns.map(str::to_string))
}

#[test]
fn put_get_list_delete_round_trip_under_the_configured_prefix() {
    let fake = FakeGcs::new();
    let client = fake.client(r#","prefix":"team-a""#);
    let cp = store(&client, None);
    run(cp.put("heartbeats/w1", b"\x00\xffbinary")).unwrap();
    run(cp.put("heartbeats/w2", b"two")).unwrap();
    run(cp.put("pending-runs/r1", b"run")).unwrap();
    assert_eq!(
        fake.keys(),
        [
            "team-a/_control/heartbeats/w1",
            "team-a/_control/heartbeats/w2",
            "team-a/_control/pending-runs/r1"
        ]
    );
    assert_eq!(
        run(cp.get("heartbeats/w1")).unwrap().unwrap(),
        b"\x00\xffbinary"
    );
    assert_eq!(run(cp.get("heartbeats/none")).unwrap(), None);
    assert_eq!(
        run(cp.list("")).unwrap(),
        ["heartbeats/w1", "heartbeats/w2", "pending-runs/r1"]
    );
    assert_eq!(
        run(cp.list("heartbeats/")).unwrap(),
        ["heartbeats/w1", "heartbeats/w2"]
    );
    assert_eq!(run(cp.list("pend")).unwrap(), ["pending-runs/r1"]);
    assert!(run(cp.list("nothing/")).unwrap().is_empty());

    // A put replaces; a delete of a missing key is a no-op.
    run(cp.put("heartbeats/w1", b"newer")).unwrap();
    assert_eq!(run(cp.get("heartbeats/w1")).unwrap().unwrap(), b"newer");
    assert!(run(cp.delete("heartbeats/w1")).unwrap());
    assert!(!run(cp.delete("heartbeats/w1")).unwrap());
    assert_eq!(run(cp.get("heartbeats/w1")).unwrap(), None);
    assert_eq!(run(cp.list("heartbeats/")).unwrap(), ["heartbeats/w2"]);
}

#[test]
fn namespaces_are_separate_and_land_under_their_directory() {
    let fake = FakeGcs::new();
    let client = fake.client("");
    let solo = store(&client, None);
    let team = store(&client, Some("team"));
    run(solo.put("k", b"solo")).unwrap();
    run(team.put("k", b"team")).unwrap();
    assert_eq!(fake.keys(), ["_control/k", "team/_control/k"]);
    assert_eq!(run(solo.get("k")).unwrap().unwrap(), b"solo");
    assert_eq!(run(team.get("k")).unwrap().unwrap(), b"team");
    assert_eq!(run(solo.list("")).unwrap(), ["k"]);
    assert_eq!(run(team.list("")).unwrap(), ["k"]);
    assert!(run(team.delete("k")).unwrap());
    assert_eq!(run(solo.get("k")).unwrap().unwrap(), b"solo");
    assert!(run(team.put_if_absent("k", b"again")).unwrap());
    assert!(!run(solo.put_if_absent("k", b"x")).unwrap());
}

#[test]
fn put_if_absent_creates_once_and_never_overwrites() {
    let fake = FakeGcs::new();
    let client = fake.client("");
    let cp = store(&client, None);
    assert!(run(cp.put_if_absent("claims/job-1", b"first")).unwrap());
    let generation = fake.generation("_control/claims/job-1");
    assert!(!run(cp.put_if_absent("claims/job-1", b"second")).unwrap());
    assert_eq!(fake.data("_control/claims/job-1").unwrap(), b"first");
    assert_eq!(fake.generation("_control/claims/job-1"), generation);
    run(cp.delete("claims/job-1")).unwrap();
    assert!(run(cp.put_if_absent("claims/job-1", b"third")).unwrap());
    assert_eq!(fake.data("_control/claims/job-1").unwrap(), b"third");
    // The create is conditional.
    let creates: Vec<_> = fake
        .log()
        .into_iter()
        .filter(|r| r.kind == Kind::Upload && r.name == "_control/claims/job-1")
        .collect();
    assert_eq!(creates.len(), 2, "a taken key costs a read, not a write");
    assert!(creates
        .iter()
        .all(|r| r.if_generation_match.as_deref() == Some("0")));
}

#[test]
fn racing_claimants_have_exactly_one_winner() {
    let fake = FakeGcs::new();
    // Every request pends once, so all claimants read "absent" before any creates.
    fake.yield_each_request.set(true);
    let clients: Vec<_> = (0..6).map(|_| fake.client("")).collect();
    let stores: Vec<_> = clients.iter().map(|c| store(c, Some("ha"))).collect();
    let values: Vec<Vec<u8>> = (0..6).map(|i| format!("worker-{i}").into_bytes()).collect();
    let results = run(futures_util::future::join_all(
        stores
            .iter()
            .zip(&values)
            .map(|(s, v)| s.put_if_absent("leader", v)),
    ));
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| *r.as_ref().unwrap())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert_eq!(fake.data("ha/_control/leader").unwrap(), values[winners[0]]);
    let lost = fake
        .log()
        .iter()
        .filter(|r| r.kind == Kind::Upload && r.status == 412)
        .count();
    assert_eq!(lost, 5, "the losers were stopped by the precondition");
}

#[test]
fn a_lost_reply_of_our_create_is_ours() {
    let fake = FakeGcs::new();
    let client = fake.client("");
    let cp = store(&client, None);
    fake.on_request(Kind::Upload, "_control/lease", |f| {
        f.script(&[Fault::CommitThenDrop]);
    });
    assert!(run(cp.put_if_absent("lease", b"me")).unwrap());
    assert_eq!(fake.data("_control/lease").unwrap(), b"me");
    let statuses: Vec<u16> = fake
        .log()
        .iter()
        .filter(|r| r.kind == Kind::Upload)
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [0, 412], "the retry met our own object");
}

/// Another claimant stores the very same bytes while our attempt's fate is unknown: the
/// object is not ours (a read-back by content would say it is, and both would win).
#[test]
fn the_same_bytes_from_another_claimant_are_not_ours() {
    let fake = FakeGcs::new();
    let client = fake.client("");
    let cp = store(&client, None);
    fake.on_request(Kind::Upload, "_control/lease", |f| {
        f.put("_control/lease", b"claimed", 0);
        f.script(&[Fault::Drop]);
    });
    assert!(!run(cp.put_if_absent("lease", b"claimed")).unwrap());

    // Our create committed and its reply was lost; before we read it back, someone deleted
    // it and created it again with the same bytes: the key is theirs now.
    fake.remove("_control/lease");
    fake.on_request(Kind::Upload, "_control/lease", |f| {
        f.script(&[Fault::CommitThenDrop]);
        f.on_request(Kind::Metadata, "_control/lease", |f| {
            f.remove("_control/lease");
            f.put("_control/lease", b"claimed", 0);
        });
    });
    assert!(!run(cp.put_if_absent("lease", b"claimed")).unwrap());
}

#[test]
fn transient_failures_are_retried_and_a_failed_create_is_an_error() {
    let fake = FakeGcs::new();
    let client = fake.client("");
    let cp = store(&client, None);
    fake.fail("_control/a", Kind::Upload, 503, 2);
    assert!(run(cp.put_if_absent("a", b"1")).unwrap());
    fake.fail("_control/b", Kind::Upload, 503, 2);
    run(cp.put("b", b"2")).unwrap();
    fake.fail("_control/b", Kind::Download, 500, 1);
    assert_eq!(run(cp.get("b")).unwrap().unwrap(), b"2");
    fake.fail("_control/b", Kind::Delete, 503, 1);
    assert!(run(cp.delete("b")).unwrap());
    fake.fail("_control/", Kind::List, 503, 1);
    assert_eq!(run(cp.list("")).unwrap(), ["a"]);

    // Every attempt fails and nothing was stored: the failure is reported, not `false`.
    fake.fail("_control/c", Kind::Upload, 503, 100);
    let e = run(cp.put_if_absent("c", b"3")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Remote, "{e:?}");
    assert!(
        e.message().starts_with("control-plane put-if-absent c: "),
        "{}",
        e.message()
    );
    assert_eq!(fake.data("_control/c"), None);
    // A 403 is not retried.
    fake.fail("_control/d", Kind::Metadata, 403, 1);
    let e = run(cp.put_if_absent("d", b"4")).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::PermissionDenied { .. }),
        "{e:?}"
    );
}

#[test]
fn bad_keys_are_refused_before_any_request() {
    let fake = FakeGcs::new();
    let client = fake.client(r#","prefix":"p""#);
    let cp = store(&client, Some("team"));
    let long = "k".repeat(1020);
    for key in [
        "",
        "/abs",
        "a//b",
        "a/",
        "../x",
        "a/./b",
        "a\nb",
        "x\u{1b}",
        long.as_str(),
    ] {
        for e in [
            run(cp.put(key, b"v")).unwrap_err(),
            run(cp.get(key)).unwrap_err(),
            run(cp.delete(key)).unwrap_err(),
            run(cp.put_if_absent(key, b"v")).unwrap_err(),
        ] {
            assert!(
                matches!(e.kind(), ErrorKind::InvalidConfig { field, .. } if field == "key"),
                "{key:?}: {e:?}"
            );
            assert!(e.message().contains("hint:"), "{}", e.message());
        }
    }
    for prefix in ["/", "../", "a//b", "\u{7}"] {
        let e = run(cp.list(prefix)).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::InvalidConfig { field, .. } if field == "prefix"),
            "{prefix:?}: {e:?}"
        );
    }
    assert_eq!(fake.request_count(), 0);
}

#[test]
fn namespaces_follow_the_sync_services_rules() {
    let fake = FakeGcs::new();
    let cache = TempDir::new("control-ns");
    let svc = service(&fake, &cache, "");
    for bad in ["a/b", "..", "a\\b", "a\0b"] {
        assert!(svc.control_plane(Some(bad)).is_err(), "{bad:?}");
    }
    // Unbound: the namespace asked for; none or "" is solo.
    run(svc.control_plane(Some("team")).unwrap().put("k", b"t")).unwrap();
    run(svc.control_plane(Some("")).unwrap().put("k", b"s")).unwrap();
    assert_eq!(fake.keys(), ["_control/k", "team/_control/k"]);
    // Bound by a push: none means the bound namespace, another one is a mismatch.
    run(svc.push(&crate::sync::SyncOptions {
        namespace: Some("team".into()),
        ..Default::default()
    }))
    .unwrap();
    let bound = svc.control_plane(None).unwrap();
    assert_eq!(run(bound.get("k")).unwrap().unwrap(), b"t");
    let Err(e) = svc.control_plane(Some("other")) else {
        panic!("another namespace than the bound one")
    };
    assert!(
        matches!(e.kind(), ErrorKind::NamespaceMismatch { .. }),
        "{e:?}"
    );
}

/// Control records of the root and of a namespace without a manifest exist when a solo
/// push finds no index: discovery lists the whole bucket and indexes neither.
#[test]
fn a_solo_discovery_never_indexes_control_records() {
    let fake = FakeGcs::new();
    let client = fake.client("");
    run(store(&client, None).put("heartbeats/w1", b"1")).unwrap();
    run(store(&client, Some("team")).put("heartbeats/w1", b"2")).unwrap();
    fake.put("data/t/m/file.yaml", b"data", 0);
    let cache = TempDir::new("control-discovery");
    cache.write("data/t/m/local.yaml", b"local");
    cache.write("_control/local-leak", b"never pushed");
    let svc = service(&fake, &cache, "");
    push(&svc);
    let index = crate::sync::tests_support::remote_index(&fake);
    let keys: Vec<&str> = index.entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["data/t/m/file.yaml", "data/t/m/local.yaml"]);
    assert!(fake.data("_control/local-leak").is_none());
    assert_eq!(fake.data("_control/heartbeats/w1").unwrap(), b"1");
    assert_eq!(fake.data("team/_control/heartbeats/w1").unwrap(), b"2");
}
