//! The invariants every hostile case asserts, whatever its documented outcome.

use crate::common::Cache;
use crate::sync::support::{INDEX, SIDECAR};
use gcs_host::{CallError, CallResult};
use std::collections::BTreeMap;

/// The call returned (success or a guest error): the component did not trap. A trap or
/// panic inside the guest surfaces as `CallError::Host`, and leaves the store unusable.
#[track_caller]
pub fn no_trap<T>(r: &CallResult<T>, what: &str) {
    if let Err(CallError::Host(e)) = r {
        panic!("{what}: the component trapped instead of answering: {e:?}");
    }
}

/// The call failed with a guest error of `kind` (and did not trap).
#[track_caller]
pub fn typed_err<T: std::fmt::Debug>(r: CallResult<T>, kind: &str, what: &str) -> CallError {
    no_trap(&r, what);
    match r {
        Ok(v) => panic!("{what}: expected a `{kind}` error, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "{what}: {e}");
            e
        }
    }
}

/// The call succeeded (and did not trap).
#[track_caller]
pub fn ok<T>(r: CallResult<T>, what: &str) -> T {
    no_trap(&r, what);
    r.unwrap_or_else(|e| panic!("{what}: expected success, got `{}`: {e}", e.kind()))
}

/// Every synced file of the cache with its bytes (the sidecar and the local index are
/// the component's own and may be rewritten).
pub fn contents(cache: &Cache) -> BTreeMap<String, Vec<u8>> {
    cache
        .files()
        .into_iter()
        .filter(|f| f != INDEX && f != SIDECAR)
        .filter(|f| std::fs::symlink_metadata(cache.file(f)).is_ok_and(|m| m.is_file()))
        .map(|f| {
            let bytes = cache.read(&f);
            (f, bytes)
        })
        .collect()
}

/// Every file of `before` is still in the cache with the same bytes: nothing the user
/// did not remove was deleted or overwritten.
#[track_caller]
pub fn nothing_lost(cache: &Cache, before: &BTreeMap<String, Vec<u8>>, what: &str) {
    let now = contents(cache);
    for (rel, bytes) in before {
        match now.get(rel) {
            None => panic!("{what}: the local file {rel} disappeared"),
            Some(b) => assert!(b == bytes, "{what}: the local file {rel} was changed"),
        }
    }
}

/// Nothing was created next to the cache: the parent directory holds exactly `expected`
/// (normally just `cache`).
#[track_caller]
pub fn sealed(cache: &Cache, expected: &[&str], what: &str) {
    assert_eq!(
        cache.outside_names(),
        expected,
        "{what}: something was written outside the cache"
    );
}
