//! The lock object's body: what a holder writes into the lock object and what `inspect`
//! reports (docs/formats.md#lock-body; swamp core's `LockInfo`,
//! docs/swamp-contract.md#lock).
//!
//! Writing follows the TypeScript client byte for byte (`JSON.stringify(body, null, 2)`:
//! two-space indent, fields in the order holder, hostname, pid, acquiredAt, ttlMs, nonce,
//! no trailing newline), so a Rust and a TS holder produce indistinguishable objects and
//! the fixture `fixtures/formats/lock-body.json` pins the format.
//!
//! Reading is tolerant because the body may come from any client version or be garbage:
//! unknown fields are ignored, a missing or ill-typed `nonce` is simply absent, and any
//! other missing or ill-typed field makes the whole body unreadable (`None`), never a panic.

use serde_json::Value;

/// The body of a lock object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockBody {
    /// `user@hostname` of the holder.
    pub holder: String,
    /// Host name of the holder.
    pub hostname: String,
    /// Process id of the holder.
    pub pid: u32,
    /// When the lock was acquired or last extended (ISO-8601, milliseconds, `Z`).
    pub acquired_at: String,
    /// The holder's time to live in milliseconds: staleness is judged with the holder's
    /// TTL, not the reader's.
    pub ttl_ms: u64,
    /// Fencing token of one acquisition (a UUID v4); absent in bodies of old clients.
    pub nonce: Option<String>,
}

impl LockBody {
    /// The body as the TypeScript client writes it (`JSON.stringify(body, null, 2)`).
    ///
    /// A `None` nonce is left out, as `JSON.stringify` leaves out `undefined` fields.
    pub fn to_json(&self) -> String {
        let mut fields = vec![
            ("holder", js_string(&self.holder)),
            ("hostname", js_string(&self.hostname)),
            ("pid", self.pid.to_string()),
            ("acquiredAt", js_string(&self.acquired_at)),
            ("ttlMs", self.ttl_ms.to_string()),
        ];
        if let Some(nonce) = &self.nonce {
            fields.push(("nonce", js_string(nonce)));
        }
        let lines: Vec<String> = fields
            .iter()
            .map(|(name, value)| format!("  \"{name}\": {value}"))
            .collect();
        format!("{{\n{}\n}}", lines.join(",\n"))
    }

    /// Read a body written by any client; `None` when it is not a lock body.
    pub fn parse(bytes: &[u8]) -> Option<LockBody> {
        let value: Value = serde_json::from_slice(bytes).ok()?;
        let obj = value.as_object()?;
        let text = |name: &str| obj.get(name)?.as_str().map(String::from);
        Some(LockBody {
            holder: text("holder")?,
            hostname: text("hostname")?,
            pid: whole_number(obj.get("pid")?, u64::from(u32::MAX))?
                .try_into()
                .ok()?,
            acquired_at: text("acquiredAt")?,
            ttl_ms: whole_number(obj.get("ttlMs")?, MAX_SAFE_INTEGER)?,
            // The nonce only matters for `force_release`; a body without a usable one is
            // still a live lock and must not be reported as "free".
            nonce: text("nonce"),
        })
    }
}

/// Largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A non-negative whole JSON number up to `max`. JS has only doubles, so `12345.0` is the
/// same value as `12345` and is accepted; fractions and negatives are not.
fn whole_number(v: &Value, max: u64) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return (n <= max).then_some(n);
    }
    let f = v.as_f64()?;
    // The range check comes first so the cast below cannot saturate.
    (f >= 0.0 && f <= max as f64 && f.fract() == 0.0).then_some(f as u64)
}

/// A JSON string literal exactly as `JSON.stringify` writes it: `"` and `\` escaped, the
/// five short escapes, other control characters as lowercase `\u00xx`, everything else
/// (including non-ASCII and `/`) verbatim.
fn js_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../fixtures/formats/lock-body.json");

    fn fixture_body() -> LockBody {
        LockBody {
            holder: "alice@build-7".into(),
            hostname: "build-7".into(),
            pid: 12345,
            acquired_at: "2026-08-01T10:00:00.000Z".into(),
            ttl_ms: 30000,
            nonce: Some("a1b2c3d4-e5f6-4890-abcd-ef1234567890".into()),
        }
    }

    #[test]
    fn serialises_the_fixture_byte_for_byte() {
        assert_eq!(fixture_body().to_json(), FIXTURE);
        assert_eq!(LockBody::parse(FIXTURE.as_bytes()), Some(fixture_body()));
    }

    #[test]
    fn missing_nonce_is_left_out_and_read_back() {
        let body = LockBody {
            nonce: None,
            ..fixture_body()
        };
        let json = body.to_json();
        assert!(json.ends_with("\"ttlMs\": 30000\n}"), "{json}");
        assert_eq!(LockBody::parse(json.as_bytes()), Some(body));
    }

    #[test]
    fn strings_are_escaped_like_json_stringify() {
        let table = [
            ("plain", r#""plain""#),
            ("quo\"te", r#""quo\"te""#),
            ("back\\slash", r#""back\\slash""#),
            ("a/b", r#""a/b""#),
            ("tab\tnl\ncr\r", r#""tab\tnl\ncr\r""#),
            ("\u{8}\u{c}", r#""\b\f""#),
            ("\u{1}\u{1f}\u{7f}", "\"\\u0001\\u001f\u{7f}\""),
            ("ünï 雪", "\"ünï 雪\""),
        ];
        for (input, want) in table {
            assert_eq!(js_string(input), want, "{input:?}");
        }
        let odd = LockBody {
            holder: "x\"y\n@h".into(),
            ..fixture_body()
        };
        assert_eq!(LockBody::parse(odd.to_json().as_bytes()), Some(odd));
    }

    #[test]
    fn tolerant_parsing() {
        let ok = |json: &str| LockBody::parse(json.as_bytes());
        let base = r#""holder":"h","hostname":"n","acquiredAt":"t""#;
        // Accepted shapes.
        let b = ok(&format!(r#"{{{base},"pid":1,"ttlMs":2,"extra":[1,2]}}"#)).unwrap();
        assert_eq!((b.pid, b.ttl_ms, b.nonce), (1, 2, None));
        let b = ok(&format!(r#"{{{base},"pid":7.0,"ttlMs":3e4,"nonce":5}}"#)).unwrap();
        assert_eq!((b.pid, b.ttl_ms, b.nonce), (7, 30000, None));
        let b = ok(&format!(
            r#"{{{base},"pid":4294967295,"ttlMs":0,"nonce":null}}"#
        ))
        .unwrap();
        assert_eq!(b.pid, u32::MAX);
        // Rejected shapes.
        let rejected = [
            String::new(),
            "null".into(),
            "[]".into(),
            "\"text\"".into(),
            "{".into(),
            format!(r#"{{{base},"pid":"1","ttlMs":2}}"#),
            format!(r#"{{{base},"pid":-1,"ttlMs":2}}"#),
            format!(r#"{{{base},"pid":1.5,"ttlMs":2}}"#),
            format!(r#"{{{base},"pid":4294967296,"ttlMs":2}}"#),
            format!(r#"{{{base},"pid":1,"ttlMs":1e300}}"#),
            format!(r#"{{{base},"pid":1}}"#),
            r#"{"holder":1,"hostname":"n","acquiredAt":"t","pid":1,"ttlMs":2}"#.into(),
        ];
        for json in rejected {
            assert_eq!(ok(&json), None, "{json}");
        }
    }

    #[test]
    fn hostile_input_never_panics() {
        let deep = "[".repeat(100_000);
        assert_eq!(LockBody::parse(deep.as_bytes()), None);
        let huge = format!(
            r#"{{"holder":"{}","hostname":"n","pid":1,"acquiredAt":"t","ttlMs":2}}"#,
            "a".repeat(5_000_000)
        );
        assert_eq!(
            LockBody::parse(huge.as_bytes()).unwrap().holder.len(),
            5_000_000
        );
        assert_eq!(LockBody::parse(&[0xff, 0xfe, 0x00]), None);
    }
}
