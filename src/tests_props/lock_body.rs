//! The lock body: any bytes are either a body or `None`, never a panic; the load rules
//! hold over the raw JSON; and the hand-written `JSON.stringify` writer agrees with
//! serde's and reads back exactly.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::{config, hostile, lit, number, shaped_object, text};
use crate::lock::LockBody;
use crate::sync::core::json_text::{js_safe_uint, to_pretty, MAX_SAFE_INTEGER};

fn body() -> impl Strategy<Value = LockBody> {
    (
        text(),
        text(),
        any::<u32>(),
        text(),
        prop_oneof![0u64..100_000, 0..=MAX_SAFE_INTEGER],
        prop::option::of(text()),
    )
        .prop_map(
            |(holder, hostname, pid, acquired_at, ttl_ms, nonce)| LockBody {
                holder,
                hostname,
                pid,
                acquired_at,
                ttl_ms,
                nonce,
            },
        )
}

fn shaped_body() -> BoxedStrategy<String> {
    let string = || text().prop_map(|s| lit(&s)).boxed();
    let whole = || {
        prop_oneof![
            2 => prop_oneof![any::<u32>().prop_map(u64::from), 0..=MAX_SAFE_INTEGER]
                .prop_map(|n| n.to_string()),
            1 => number(),
        ]
        .boxed()
    };
    shaped_object(vec![
        ("holder", string()),
        ("hostname", string()),
        ("pid", whole()),
        ("acquiredAt", string()),
        ("ttlMs", whole()),
        ("nonce", string()),
    ])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn lock_body_write_then_read_is_identity(body in body()) {
        prop_assert_eq!(LockBody::parse(body.to_json().as_bytes()), Some(body));
    }

    /// `to_json` escapes by hand; serde's pretty writer is the crate's reference for
    /// `JSON.stringify(x, null, 2)` (pinned by the golden fixtures), so they must agree.
    #[test]
    fn lock_body_writer_matches_serde(body in body()) {
        let mut map = Map::new();
        map.insert("holder".into(), body.holder.clone().into());
        map.insert("hostname".into(), body.hostname.clone().into());
        map.insert("pid".into(), body.pid.into());
        map.insert("acquiredAt".into(), body.acquired_at.clone().into());
        map.insert("ttlMs".into(), body.ttl_ms.into());
        if let Some(nonce) = &body.nonce {
            map.insert("nonce".into(), nonce.clone().into());
        }
        prop_assert_eq!(body.to_json(), to_pretty(&Value::Object(map)).unwrap());
    }

    #[test]
    fn lock_body_hostile_input_follows_the_load_rules(
        bytes in hostile(body().prop_map(|b| b.to_json()).boxed(), shaped_body()),
    ) {
        let parsed = LockBody::parse(&bytes);
        // Exactly the JSON the reader sees (it does not skip a byte-order mark).
        let value = serde_json::from_slice::<Value>(&bytes).ok();
        let field = |name: &str| value.as_ref().and_then(|v| v.get(name));
        let string = |name: &str| field(name).and_then(Value::as_str);
        let accepted = value.as_ref().is_some_and(Value::is_object)
            && ["holder", "hostname", "acquiredAt"].into_iter().all(|f| string(f).is_some())
            && field("pid").and_then(js_safe_uint).is_some_and(|p| p <= u64::from(u32::MAX))
            && field("ttlMs").and_then(js_safe_uint).is_some();
        prop_assert_eq!(parsed.is_some(), accepted);
        let Some(body) = parsed else { return Ok(()) };
        prop_assert_eq!(string("holder"), Some(body.holder.as_str()));
        prop_assert_eq!(field("pid").and_then(js_safe_uint), Some(u64::from(body.pid)));
        prop_assert_eq!(field("ttlMs").and_then(js_safe_uint), Some(body.ttl_ms));
        prop_assert_eq!(string("nonce"), body.nonce.as_deref());
        prop_assert_eq!(LockBody::parse(body.to_json().as_bytes()), Some(body));
    }
}
