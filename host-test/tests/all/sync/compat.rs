//! Compatibility with the TypeScript client: the fixtures of `fixtures/formats/` (written
//! by hand to `docs/formats.md`) put in the bucket or the cache are read by the
//! component, and what the component writes — the remote monolith, a partition,
//! `_index/_meta.json`, the local sidecar and the local index — parses back with the same
//! field names, key formats and timestamp format as the fixtures.

use crate::common::*;
use crate::sync::support::*;
use serde_json::Value;
use std::collections::BTreeMap;
use sync_scenarios::Kind;

on_both_servers!(
    ts_compact_index_fixture_is_pulled,
    ts_pretty_index_fixture_is_pulled,
    ts_partition_fixture_is_read_by_a_scoped_pull,
    ts_v2_bucket_fixtures_are_pulled_and_committed_in_their_bytes,
    ts_v2_sidecar_fixtures_are_loaded_and_scope_the_walk,
    golden_what_the_component_writes_matches_the_ts_formats,
    keys_are_raw_rel_paths_whatever_the_characters,
);

const RAW: &str = "data/aws/ec2/vpc/abc/state-main/1/raw";
const METADATA_YAML: &str = "data/aws/ec2/vpc/abc/state-main/1/metadata.yaml";
const ABC_PARTITION: &str = "_index/data--aws--ec2--vpc--abc.json";

/// Upload an object of the entry's size for every entry of a TS index; returns them.
async fn put_entry_objects(env: &mut Env, index: &Value) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (i, (key, entry)) in index["entries"].as_object().unwrap().iter().enumerate() {
        let data = pattern(entry["size"].as_u64().unwrap() as usize, i as u8);
        env.put(key, &data).await;
        out.insert(key.clone(), data);
    }
    out
}

/// A bucket whose monolith is the TS fixture `name`: a pull downloads every entry, keeps
/// the TS fields in the local copy and records `localMtime` the TS way; the fingerprint
/// comes from that GET, nothing is written back, and the next push is the fast path.
async fn pull_ts_index(mut env: Env, name: &str) {
    let text = fixture(name);
    let ts: Value = serde_json::from_slice(&text).unwrap();
    let objects = put_entry_objects(&mut env, &ts).await;
    let generation = env.put(INDEX, &text).await;
    let cache = Cache::new();
    let mut ds = env.open(&cache, "").await;
    env.reset();
    let report = ds.pull(&opts()).await.unwrap();
    assert_eq!(report.files, 6);
    let mut downloaded = data_only(env.objects_of(Kind::Download));
    downloaded.sort();
    assert_eq!(downloaded, objects.keys().cloned().collect::<Vec<_>>());
    for (key, data) in &objects {
        assert_eq!(&cache.read(key), data, "{key}");
    }

    let local = local_index(&cache);
    assert_eq!(keys_of(&local["entries"]), keys_of(&ts["entries"]));
    for (key, entry) in ts["entries"].as_object().unwrap() {
        let mine = &local["entries"][key];
        for field in ["key", "size", "lastModified", "sha256"] {
            assert_eq!(mine.get(field), entry.get(field), "{key}.{field}");
        }
        assert_eq!(mine["localMtime"], mtime_iso(&cache, key), "{key}");
    }
    let s = sidecar(&cache);
    assert_eq!(s["remoteIndexGeneration"], generation.as_str());
    assert_eq!(s["localDirty"], false);
    assert_eq!(
        env.must_get(INDEX).await,
        text,
        "the TS index is not rewritten"
    );

    let mut ds = env.open(&cache, "").await;
    env.reset();
    assert!(ds.push(&opts()).await.unwrap().fast_path);
    assert!(ds.pull(&opts()).await.unwrap().fast_path);
    // The push probes the monolith; the pull the monolith and the meta.
    assert_eq!(env.snap().total, 3);
}

/// `index-compact.json` (what the TS client uploads since `8a8a18f57`) is pulled.
async fn ts_compact_index_fixture_is_pulled(env: Env) {
    pull_ts_index(env, "index-compact.json").await;
}

/// `index-pretty.json` (the seed-era remote form, and the local copy) is pulled.
async fn ts_pretty_index_fixture_is_pulled(env: Env) {
    pull_ts_index(env, "index-pretty.json").await;
}

/// The TS partition fixture (with the TS v1 meta and monolith beside it): a scoped pull
/// of `{aws/ec2/vpc, abc}` downloads exactly its two entries and never the monolith.
async fn ts_partition_fixture_is_read_by_a_scoped_pull(mut env: Env) {
    let partition = fixture("partition-data--aws--ec2--vpc--abc.json");
    let objects = put_entry_objects(&mut env, &serde_json::from_slice(&partition).unwrap()).await;
    env.put(ABC_PARTITION, &partition).await;
    env.put(META, &fixture("meta-v1.json")).await;
    env.put(INDEX, &fixture("index-compact.json")).await;
    let cache = Cache::new();
    let mut ds = env.open(&cache, "").await;
    env.reset();
    let report = ds.pull(&models(&[("aws/ec2/vpc", "abc")])).await.unwrap();
    assert_eq!(report.files, 2);
    assert_eq!(data_files(&cache), [METADATA_YAML, RAW]);
    for (key, data) in &objects {
        assert_eq!(&cache.read(key), data, "{key}");
    }
    let downloads = env.objects_of(Kind::Download);
    assert_eq!(downloads[0], ABC_PARTITION);
    assert!(
        env.log().iter().all(|r| r.object != INDEX),
        "{:?}",
        env.log()
    );
}

/// A shard-first bucket in the TypeScript client's bytes — `meta-v2.json` (`commitSeq`
/// 7), the partition fixture, the other shards cut from `index-compact.json` with their
/// entries' bytes as they are, and the migration's stale monolith: a pull assembles it
/// (never reading the monolith) and records `commitSeq` 7; a push of one new audit file
/// rewrites the audit shard with the TS entry's bytes kept and a new one appended, and
/// the meta becomes exactly the fixture with `commitSeq` 8. The monolith is untouched.
async fn ts_v2_bucket_fixtures_are_pulled_and_committed_in_their_bytes(mut env: Env) {
    let index_text = fixture("index-compact.json");
    let index: Value = serde_json::from_slice(&index_text).unwrap();
    let objects = put_entry_objects(&mut env, &index).await;
    let entry_bytes = |key: &str| serde_json::to_string(&index["entries"][key]).unwrap();
    let shard = |keys: &[&str]| {
        let body: Vec<String> = keys
            .iter()
            .map(|k| format!("{}:{}", serde_json::to_string(k).unwrap(), entry_bytes(k)))
            .collect();
        format!(r#"{{"version":1,"entries":{{{}}}}}"#, body.join(","))
    };
    let abc = fixture("partition-data--aws--ec2--vpc--abc.json");
    assert_eq!(
        abc,
        shard(&[RAW, METADATA_YAML]).as_bytes(),
        "the shards are cut like the TS partition fixture"
    );
    env.put(ABC_PARTITION, &abc).await;
    env.put(
        "_index/data--aws--ec2--vpc.json",
        shard(&["data/aws/ec2/vpc/abc/state-main/latest"]).as_bytes(),
    )
    .await;
    let audit = shard(&["audit/log1.json"]);
    env.put("_index/audit.json", audit.as_bytes()).await;
    env.put(
        "_index/workflow-runs--wf-1.json",
        shard(&["workflow-runs/wf-1/run.yaml"]).as_bytes(),
    )
    .await;
    env.put(
        "_index/_root.json",
        shard(&[".catalog-export.json"]).as_bytes(),
    )
    .await;
    let v2 = fixture("meta-v2.json");
    env.put(META, &v2).await;
    env.put(INDEX, &ts_index(&[("audit/log1.json", 10, None, None)]))
        .await;
    let index_generation = env.generation(INDEX).await;

    let cache = Cache::new();
    let mut ds = env.open(&cache, "").await;
    env.reset();
    assert_eq!(ds.pull(&opts()).await.unwrap().files, 6);
    assert_eq!(env.log().iter().filter(|r| r.object == INDEX).count(), 0);
    for (key, data) in &objects {
        assert_eq!(&cache.read(key), data, "{key}");
    }
    assert_eq!(sidecar(&cache)["commitSeq"], 7);

    cache.write("audit/new.json", b"{}");
    ds.mark_dirty(&rel("audit/new.json")).await.unwrap();
    ds.push(&opts()).await.unwrap();
    let written = String::from_utf8(env.must_get("_index/audit.json").await).unwrap();
    let kept = format!(
        r#"{{"version":1,"entries":{{"audit/log1.json":{},"audit/new.json":{{"key":"audit/new.json","size":2,"#,
        entry_bytes("audit/log1.json")
    );
    assert!(written.starts_with(&kept), "{written}");
    let expected_meta = String::from_utf8(v2)
        .unwrap()
        .replace(r#""commitSeq":7"#, r#""commitSeq":8"#);
    assert_eq!(
        String::from_utf8(env.must_get(META).await).unwrap(),
        expected_meta
    );
    assert_eq!(env.generation(INDEX).await, index_generation);
    assert_eq!(
        env.must_get(ABC_PARTITION).await,
        abc,
        "untouched shards keep their bytes"
    );
}

/// The TS v2 sidecars are loaded: the seed's six-field form scopes the next push to its
/// dirty paths; the full form (every optional field) loads its dirty set too.
async fn ts_v2_sidecar_fixtures_are_loaded_and_scope_the_walk(mut env: Env) {
    let cache = Cache::new();
    cache.write(SIDECAR, &fixture("sidecar-v2.json"));
    cache.write(RAW, b"raw bytes");
    cache.write("workflow-runs/wf-1/run.yaml", b"run: 1");
    cache.write("audit/not-dirty.json", b"{}");
    let mut ds = env.open(&cache, "").await;
    let status = ds.status(&opts()).await.unwrap();
    assert_eq!(status.sidecar_version, 2);
    assert!(status.local_dirty && !status.bulk_invalidated);
    assert_eq!(
        status.dirty_paths,
        ["data/aws/ec2/vpc/abc/state-main", "workflow-runs/wf-1"]
    );
    assert_eq!(status.walk, "scoped");
    let mut planned: Vec<&str> = status
        .to_upload
        .iter()
        .map(|u| u.rel_path.as_str())
        .collect();
    planned.sort();
    assert_eq!(planned, [RAW, "workflow-runs/wf-1/run.yaml"]);
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!(report.files, 2);
    assert!(env.get("audit/not-dirty.json").await.is_none());
    let s = sidecar(&cache);
    assert_eq!(s["dirtyPaths"], serde_json::json!([]));
    assert_eq!(s["localDirty"], false);

    let full = Cache::new();
    full.write(SIDECAR, &fixture("sidecar-v2-full.json"));
    let status = env.open(&full, "").await.status(&opts()).await.unwrap();
    assert_eq!(status.sidecar_version, 2);
    assert_eq!(status.remote_index_generation, "1716585443123456");
    assert_eq!(status.last_verified_at, "2026-08-01T10:00:00.124Z");
    assert_eq!(
        status.dirty_paths,
        [
            "data/aws/ec2/vpc/abc/state-main",
            "ns1/workflow-runs/wf-1/run.yaml"
        ]
    );
    assert_eq!(status.walk, "scoped");
}

/// The JSON text is exactly `JSON.stringify(x)` of its parse (no whitespace).
fn assert_compact(text: &[u8], what: &str) -> Value {
    let v: Value = serde_json::from_slice(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        String::from_utf8_lossy(text),
        serde_json::to_string(&v).unwrap(),
        "{what} is compact"
    );
    v
}

/// The JSON text is exactly `JSON.stringify(x, null, 2)` of its parse (no trailing newline).
fn assert_pretty(text: &[u8], what: &str) -> Value {
    let v: Value = serde_json::from_slice(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        String::from_utf8_lossy(text),
        serde_json::to_string_pretty(&v).unwrap(),
        "{what} is pretty with 2-space indent and no trailing newline"
    );
    v
}

/// Field names of `actual` are fixture field names, in the fixture's relative order.
fn assert_fields_in_ts_order(actual: &Value, ts_order: &[String], what: &str) {
    let positions: Vec<usize> = keys_of(actual)
        .iter()
        .map(|k| {
            ts_order
                .iter()
                .position(|t| t == k)
                .unwrap_or_else(|| panic!("{what}: field {k} is not a TS field {ts_order:?}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "{what}: fields {:?} not in TS order {ts_order:?}",
        keys_of(actual)
    );
}

/// Golden: start from the TS compact index, pull, change one file and push. What the
/// component wrote is then checked against the fixtures:
/// * the local index (after the pull and after the push): pretty, `localMtime` = this
///   cache's file mtime in ms (the record of what it holds), other fields as the remote;
/// * the remote monolith: compact, same top-level and entry field names in TS order, the
///   untouched TS entries verbatim, `sha256` of the new bytes, JS ISO timestamps;
/// * the partition `_index/data--aws--ec2--vpc--abc.json`: compact, the fixture's key
///   format and entry set, the untouched entry verbatim;
/// * `_index/_meta.json`: byte-identical to `meta-v1.json` (same partition keys, same
///   first-seen order);
/// * the sidecar: pretty, TS field names in TS order, the seed's six fields present.
async fn golden_what_the_component_writes_matches_the_ts_formats(mut env: Env) {
    let ts = fixture_json("index-compact.json");
    put_entry_objects(&mut env, &ts).await;
    env.put(INDEX, &fixture("index-compact.json")).await;
    let cache = Cache::new();
    let mut ds = env.open(&cache, "").await;
    assert_eq!(ds.pull(&opts()).await.unwrap().files, 6);

    let local = assert_pretty(&cache.read(INDEX), "local index after pull");
    assert_eq!(keys_of(&local), keys_of(&ts));
    for (key, entry) in local["entries"].as_object().unwrap() {
        let m = entry["localMtime"].as_str().unwrap();
        assert!(is_js_iso(m), "{key}: {m}");
        assert_eq!(m, mtime_iso(&cache, key), "{key}: localMtime = mtime in ms");
    }

    // Same size, different bytes: only SHA-256 can tell.
    let new_raw = pattern(42, 99);
    ds.mark_dirty(&rel(RAW)).await.unwrap();
    cache.write(RAW, &new_raw);
    let before = env.objects().await;
    let report = ds.push(&opts()).await.unwrap();
    assert_eq!(report.files, 1);
    assert_eq!(
        written_between(&before, &env.objects().await),
        [RAW, INDEX, ABC_PARTITION, META],
        "data, monolith first, then the touched partition, then the meta"
    );

    // The remote monolith.
    let remote = assert_compact(&env.must_get(INDEX).await, "remote monolith");
    assert_eq!(keys_of(&remote), ["version", "lastPulled", "entries"]);
    assert_eq!(remote["version"], 1);
    assert!(is_js_iso(remote["lastPulled"].as_str().unwrap()));
    assert_eq!(keys_of(&remote["entries"]), keys_of(&ts["entries"]));
    let entry_fields = keys_of(&ts["entries"][RAW]);
    assert_eq!(
        entry_fields,
        ["key", "size", "lastModified", "localMtime", "sha256"]
    );
    for (key, entry) in ts["entries"].as_object().unwrap() {
        if key != RAW {
            assert_eq!(
                &remote["entries"][key], entry,
                "TS entry {key} kept verbatim"
            );
        }
    }
    let raw = &remote["entries"][RAW];
    assert_eq!(keys_of(raw), entry_fields);
    assert_eq!(raw["key"], RAW);
    assert_eq!(raw["size"], 42);
    assert!(is_js_iso(raw["lastModified"].as_str().unwrap()));
    assert_eq!(raw["localMtime"], mtime_iso(&cache, RAW));
    assert_eq!(raw["sha256"], sha256_hex(&new_raw));

    // The partition.
    let ts_part = fixture_json("partition-data--aws--ec2--vpc--abc.json");
    let part = assert_compact(&env.must_get(ABC_PARTITION).await, "partition");
    assert_eq!(keys_of(&part), keys_of(&ts_part));
    assert_eq!(part["version"], 1);
    assert_eq!(keys_of(&part["entries"]), keys_of(&ts_part["entries"]));
    assert_eq!(
        part["entries"][METADATA_YAML],
        ts_part["entries"][METADATA_YAML]
    );
    assert_eq!(&part["entries"][RAW], raw);

    // The meta: byte for byte.
    assert_eq!(
        String::from_utf8(env.must_get(META).await).unwrap(),
        String::from_utf8(fixture("meta-v1.json")).unwrap()
    );

    // The sidecar.
    let s = assert_pretty(&cache.read(SIDECAR), "sidecar");
    assert_fields_in_ts_order(
        &s,
        &keys_of(&fixture_json("sidecar-v2-full.json")),
        "sidecar",
    );
    for field in keys_of(&fixture_json("sidecar-v2.json")) {
        assert!(
            s.get(&field).is_some(),
            "sidecar lacks the seed field {field}"
        );
    }
    assert_eq!(s["version"], 2);
    assert_eq!(
        s["remoteIndexGeneration"],
        env.generation(INDEX).await.unwrap().as_str()
    );
    assert!(is_js_iso(s["lastVerifiedAt"].as_str().unwrap()));
    assert_eq!(s["localDirty"], false);
    assert_eq!(s["dirtyPaths"], serde_json::json!([]));
    assert_eq!(s["bulkInvalidated"], false);

    // The local index after the push: pretty, the remote's entries as this cache holds
    // them (its own `localMtime`, everything else as the remote).
    let local = assert_pretty(&cache.read(INDEX), "local index after push");
    assert_eq!(keys_of(&local["entries"]), keys_of(&remote["entries"]));
    for (key, entry) in remote["entries"].as_object().unwrap() {
        let mut mine = local["entries"][key].clone();
        assert_eq!(mine["localMtime"], mtime_iso(&cache, key), "{key}");
        match entry.get("localMtime") {
            Some(theirs) => mine["localMtime"] = theirs.clone(),
            None => {
                mine.as_object_mut().unwrap().remove("localMtime");
            }
        }
        assert_eq!(&mine, entry, "{key}");
    }
}

/// Index keys, object names and partition keys are the raw rel paths (no escaping, like
/// the TS client), whatever the characters: spaces, unicode, URL metacharacters, `%`.
/// Pushed from one cache, pulled (plain and scoped) into another.
async fn keys_are_raw_rel_paths_whatever_the_characters(mut env: Env) {
    let names = [
        "audit/plus+amp&eq=q?hash#pct%25.json",
        "data/t/m ü/d/1/raw",
        "data/t/m ü/d/1/with space.json",
        "data/t/m ü/d/1/日本語 ファイル.json",
        "files/@swamp/model@1.0/data.json",
    ];
    let a = Cache::new();
    for (i, name) in names.iter().enumerate() {
        a.write(name, &pattern(50 + i, i as u8));
    }
    assert_eq!(env.open(&a, "").await.push(&opts()).await.unwrap().files, 5);
    let mut keys = env.index_keys().await;
    keys.sort();
    assert_eq!(keys, names);
    for name in names {
        assert_eq!(env.must_get(name).await, a.read(name), "{name:?}");
        assert_eq!(env.json(INDEX).await["entries"][name]["key"], name);
    }
    let shard = env.json("_index/data--t--m ü.json").await;
    assert_eq!(keys_of(&shard["entries"]).len(), 3);
    let mut partitions: Vec<String> = env.json(META).await["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    partitions.sort();
    assert_eq!(partitions, ["audit", "data--t--m ü", "files"]);

    let b = Cache::new();
    assert_eq!(env.open(&b, "").await.pull(&opts()).await.unwrap().files, 5);
    assert_eq!(data_files(&b), data_files(&a));
    for name in names {
        assert_eq!(b.read(name), a.read(name), "{name:?}");
    }
    let c = Cache::new();
    let report = env
        .open(&c, "")
        .await
        .pull(&models(&[("t", "m ü")]))
        .await
        .unwrap();
    assert_eq!(report.files, 3);
    assert_eq!(data_files(&c), &data_files(&a)[1..4]);
}
