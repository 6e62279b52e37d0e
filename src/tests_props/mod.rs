//! Property tests (proptest) for the pure core, the "Fuzzing" part of the reliability work: every
//! parser of a persisted format survives any input and reads back exactly what the crate's own
//! writer wrote, partition keys follow `docs/formats.md#partition-keys`, and no path the crate
//! accepts can leave the cache.
//!
//! | file | covers |
//! |---|---|
//! | `formats.rs` | the monolithic index, partition files, `_meta.json`, the sidecar |
//! | `lock_body.rs` | the lock object's body |
//! | `partition_keys.rs` | partition keys, grouping, object keys vs local paths |
//! | `paths.rs` | `normalize_rel`, `safe_index_key`, `check_rel`, `CachePath` |
//!
//! Hostile inputs come in four flavours, because each reaches different code: raw bytes
//! (UTF-8 and JSON syntax errors), byte-level mutations of valid files (truncation, the
//! realistic corruption), arbitrary JSON (type confusion at the top level) and "shaped"
//! objects carrying the format's own field names with mostly-right values (the tolerant
//! per-field rules, which random JSON almost never reaches).
//!
//! Case counts are fixed rather than read from `PROPTEST_CASES` so the set stays a few
//! seconds in release, and failures are not persisted as files: a failing run prints the
//! shrunk input, which then belongs in a plain regression test next to the code.

mod formats;
mod lock_body;
mod partition_keys;
mod paths;

use proptest::prelude::*;
use proptest::sample::Index as Pick;

/// The runner configuration shared by every property here.
pub(crate) fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Fragments that stress JSON escaping and path rules.
const TRICKY: &[&str] = &[
    "\"", "\\", "/", ".", "..", "\0", "\u{1}", "\u{1f}", "\u{7f}", "\n", "\t", "\u{2028}",
    "\u{feff}", "\u{fffd}", "\u{202e}", "😀", "é", "名", "C:", "\\u0041", " ", "a", "0",
];

/// Field names of every format, so arbitrary JSON sometimes hits a real field.
const FIELD_NAMES: &[&str] = &[
    "version",
    "lastPulled",
    "entries",
    "key",
    "size",
    "lastModified",
    "localMtime",
    "sha256",
    "partitions",
    "commitSeq",
    "lastCompacted",
    "remoteIndexGeneration",
    "lastVerifiedAt",
    "localDirty",
    "dirtyPaths",
    "bulkInvalidated",
    "lazyPullActive",
    "dirtyPathsOverflowed",
    "lastCatalogHash",
    "dataKeyMigrated",
    "holder",
    "hostname",
    "pid",
    "acquiredAt",
    "ttlMs",
    "nonce",
    "__proto__",
    "0",
    "",
];

/// Number literals at the edges of the JS-integer rules: negative zero, fractions,
/// exponents, 2^32−1, 2^53−1 and 2^53, u64 overflow, and doubles out of range.
const NUMBER_TOKENS: &[&str] = &[
    "0",
    "-0",
    "1",
    "1.0",
    "2",
    "2.0",
    "1e0",
    "4.2e1",
    "7",
    "-1",
    "1.5",
    "0.1e1",
    "1E2",
    "-0.0",
    "4294967295",
    "4294967296",
    "9007199254740991",
    "9007199254740992",
    "18446744073709551616",
    "1e300",
    "1e999",
];

/// Strings: arbitrary Unicode, path-like ASCII, or concatenated tricky fragments.
pub(crate) fn text() -> BoxedStrategy<String> {
    prop_oneof![
        2 => any::<String>(),
        2 => "[a-z0-9/._-]{0,12}",
        1 => prop::collection::vec(prop::sample::select(TRICKY), 0..8).prop_map(|p| p.concat()),
    ]
    .boxed()
}

/// `s` as a JSON string literal.
pub(crate) fn lit(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serialises")
}

/// A JSON object text from already-encoded values, keys in the given order.
pub(crate) fn object(pairs: &[(String, String)]) -> String {
    let fields: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}:{v}", lit(k)))
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// A JSON number literal from [`NUMBER_TOKENS`].
pub(crate) fn number() -> BoxedStrategy<String> {
    prop::sample::select(NUMBER_TOKENS)
        .prop_map(str::to_string)
        .boxed()
}

/// A field name: usually one of some format's, sometimes anything.
fn field_name() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select(FIELD_NAMES).prop_map(str::to_string),
        1 => text(),
    ]
    .boxed()
}

/// Any JSON text up to a small depth, written directly so number literals
/// `serde_json::Value` could not hold (`1e999`, `-0`) appear too.
pub(crate) fn any_json() -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        number(),
        prop::sample::select(&["null", "true", "false"]).prop_map(str::to_string),
        text().prop_map(|s| lit(&s)),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec((field_name(), inner), 0..5).prop_map(|pairs| object(&pairs)),
        ]
    })
    .boxed()
}

/// A JSON object text: each named field present most of the time, its value well-typed
/// (from the field's own strategy) most of the time and anything at all otherwise, plus
/// a few stray fields, in random order.
pub(crate) fn shaped_object(
    fields: Vec<(&'static str, BoxedStrategy<String>)>,
) -> BoxedStrategy<String> {
    let slots: Vec<BoxedStrategy<Option<(String, String)>>> = fields
        .into_iter()
        .map(|(name, good)| {
            prop::option::weighted(0.9, prop_oneof![6 => good, 1 => any_json()])
                .prop_map(move |value| value.map(|v| (name.to_string(), v)))
                .boxed()
        })
        .collect();
    (
        slots,
        prop::collection::vec((field_name(), any_json()), 0..3),
    )
        .prop_map(|(slots, extra)| slots.into_iter().flatten().chain(extra).collect::<Vec<_>>())
        .prop_shuffle()
        .prop_map(|pairs| object(&pairs))
        .boxed()
}

/// One byte-level edit; positions are relative to the length at the time it applies.
#[derive(Debug, Clone)]
enum Edit {
    Truncate(Pick),
    Replace(Pick, u8),
    Insert(Pick, u8),
    Remove(Pick),
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![
        3 => prop::sample::select(b"{}[]\":,.-+eE019tfnul\\ \n".as_slice()),
        1 => any::<u8>(),
    ];
    prop_oneof![
        1 => any::<Pick>().prop_map(Edit::Truncate),
        3 => (any::<Pick>(), byte.clone()).prop_map(|(at, b)| Edit::Replace(at, b)),
        3 => (any::<Pick>(), byte).prop_map(|(at, b)| Edit::Insert(at, b)),
        2 => any::<Pick>().prop_map(Edit::Remove),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = bytes.len();
        match edit {
            Edit::Insert(at, b) => bytes.insert(at.index(len + 1), *b),
            _ if len == 0 => {}
            Edit::Truncate(at) => bytes.truncate(at.index(len)),
            Edit::Replace(at, b) => bytes[at.index(len)] = *b,
            Edit::Remove(at) => {
                bytes.remove(at.index(len));
            }
        }
    }
    bytes
}

/// `valid` with one to five byte-level edits.
pub(crate) fn mutated(valid: BoxedStrategy<String>) -> BoxedStrategy<Vec<u8>> {
    (valid, prop::collection::vec(edit(), 1..6))
        .prop_map(|(text, edits)| apply(text.into_bytes(), &edits))
        .boxed()
}

/// Everything a parser of one format must survive: raw bytes, arbitrary JSON, deep
/// nesting, the format's shaped objects and mutations of its valid files.
pub(crate) fn hostile(
    valid: BoxedStrategy<String>,
    shaped: BoxedStrategy<String>,
) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..256),
        1 => any_json().prop_map(String::into_bytes),
        1 => (1usize..400, prop::sample::select(&["[", "{\"entries\":"]))
            .prop_map(|(depth, open)| open.repeat(depth).into_bytes()),
        4 => shaped.clone().prop_map(String::into_bytes),
        3 => mutated(valid),
        1 => mutated(shaped),
    ]
    .boxed()
}

/// `bytes` with a UTF-8 byte-order mark in front when `bom`.
pub(crate) fn with_bom(bytes: Vec<u8>, bom: bool) -> Vec<u8> {
    if bom {
        [b"\xEF\xBB\xBF".as_slice(), &bytes].concat()
    } else {
        bytes
    }
}
