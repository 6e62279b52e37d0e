//! JSON text helpers that reproduce JavaScript's `JSON.parse` /
//! `JSON.stringify` observable behaviour where it matters for byte
//! compatibility with the TS client.
//!
//! * Output: `serde_json`'s compact writer equals `JSON.stringify(x)` and its
//!   pretty writer with a two-space indent equals `JSON.stringify(x, null, 2)`
//!   for the values we write (strings, non-negative integers, booleans,
//!   objects, arrays): same `": "` separator, `{}` / `[]` for empty
//!   containers, same escapes (`\"`, `\\`, `\b \f \n \r \t`, other control
//!   characters as lowercase `\u00xx`, nothing else escaped). The golden
//!   fixture tests pin this.
//! * Object key order: JS objects list "array index" keys (`"0"`, `"17"`, …)
//!   first in ascending numeric order, then other keys in insertion order.
//!   [`is_array_index`] lets the ordered maps reproduce that.
//! * Sorting: JS `Array.prototype.sort()` compares UTF-16 code units, which
//!   differs from Rust's UTF-8 byte order above U+FFFF; see [`utf16_cmp`].

use std::cmp::Ordering;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// Largest integer a JS number represents exactly (`Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// `bytes` without a leading UTF-8 byte-order mark (Deno's text decoding
/// drops it before `JSON.parse` sees the text).
pub fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// Parse JSON text (BOM tolerated). Duplicate object keys behave like
/// `JSON.parse`: the last value wins and the key keeps its first position
/// (serde_json's `preserve_order` map replaces in place).
pub fn parse_value(bytes: &[u8]) -> std::result::Result<Value, serde_json::Error> {
    serde_json::from_slice(strip_bom(bytes))
}

/// JavaScript truthiness (`!!value`), used where upstream coerces with `!!`.
pub fn js_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// A JSON number that is an exact non-negative integer a JS number can hold
/// (`42`, `42.0`, `4.2e1`), else `None` (negative, fractional, > 2^53 − 1,
/// or not a number at all).
pub fn js_safe_uint(value: &Value) -> Option<u64> {
    let n = value.as_number()?;
    if let Some(u) = n.as_u64() {
        return (u <= MAX_SAFE_INTEGER).then_some(u);
    }
    if n.is_i64() {
        // Negative integer.
        return None;
    }
    let f = n.as_f64()?;
    let in_range = f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f <= MAX_SAFE_INTEGER as f64;
    // The cast is exact: `f` is an integer within 0..=2^53−1.
    in_range.then_some(f as u64)
}

#[cfg(test)]
/// Whether `key` is a JS "array index" property name: the canonical decimal
/// form of an integer in 0..=2^32−2 (`"0"`, `"42"`; not `"01"`, `"-1"`,
/// `"4294967295"`). Such keys are enumerated first, numerically.
pub fn is_array_index(key: &str) -> bool {
    array_index_value(key).is_some()
}

/// The numeric value of an array-index key (see [`is_array_index`]).
pub fn array_index_value(key: &str) -> Option<u32> {
    let b = key.as_bytes();
    if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if b.len() > 1 && b.first() == Some(&b'0') {
        return None;
    }
    let value: u64 = key.parse().ok()?;
    // 2^32 − 1 is not an array index (it is the maximum array length).
    (value < u64::from(u32::MAX)).then_some(value as u32)
}

#[allow(dead_code)] // kept for shard-first (v2) support, which is not wired in yet
/// Compare two strings the way JS default `sort()` does (by UTF-16 code units).
pub fn utf16_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `JSON.stringify(value)` bytes as a `String`.
pub fn to_compact<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::other(format!("serialising JSON: {e}")))
}

/// `JSON.stringify(value, null, 2)`: two-space indent, no trailing newline.
pub fn to_pretty<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"  ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    value
        .serialize(&mut ser)
        .map_err(|e| Error::other(format!("serialising JSON: {e}")))?;
    String::from_utf8(out).map_err(|e| Error::other(format!("serialising JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truthiness_matches_js() {
        let rows = [
            (json!(null), false),
            (json!(false), false),
            (json!(true), true),
            (json!(0), false),
            (json!(0.0), false),
            (json!(-0.0), false),
            (json!(1), true),
            (json!(-2.5), true),
            (json!(""), false),
            (json!("false"), true),
            (json!([]), true),
            (json!({}), true),
        ];
        for (v, want) in rows {
            assert_eq!(js_truthy(&v), want, "{v}");
        }
    }

    #[test]
    fn safe_uint_accepts_only_exact_js_integers() {
        let parsed = |t: &str| js_safe_uint(&serde_json::from_str::<Value>(t).unwrap());
        assert_eq!(parsed("42"), Some(42));
        assert_eq!(parsed("42.0"), Some(42));
        assert_eq!(parsed("4.2e1"), Some(42));
        assert_eq!(parsed("0"), Some(0));
        assert_eq!(parsed("-0"), Some(0));
        assert_eq!(parsed("9007199254740991"), Some(MAX_SAFE_INTEGER));
        assert_eq!(parsed("9007199254740992"), None);
        assert_eq!(parsed("1e300"), None);
        assert_eq!(parsed("-1"), None);
        assert_eq!(parsed("1.5"), None);
        assert_eq!(parsed("\"42\""), None);
        assert_eq!(parsed("true"), None);
        assert_eq!(parsed("null"), None);
    }

    #[test]
    fn array_index_keys() {
        for yes in ["0", "1", "42", "4294967294"] {
            assert!(is_array_index(yes), "{yes}");
        }
        for no in [
            "",
            "01",
            "-1",
            "1.0",
            "4294967295",
            "99999999999",
            "a1",
            " 1",
            "+1",
        ] {
            assert!(!is_array_index(no), "{no}");
        }
    }

    #[test]
    fn utf16_order_differs_from_utf8_above_the_bmp() {
        // U+FF5E (BMP, high) vs U+1F600 (astral, surrogate pair D83D…).
        let bmp = "\u{FF5E}";
        let astral = "\u{1F600}";
        assert_eq!(bmp.cmp(astral), Ordering::Less);
        assert_eq!(utf16_cmp(bmp, astral), Ordering::Greater);
        assert_eq!(utf16_cmp("a", "b"), Ordering::Less);
    }

    #[test]
    fn duplicate_keys_last_wins_first_position() {
        let v = parse_value(br#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(to_compact(&v).unwrap(), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn escapes_match_json_stringify() {
        let v = json!({"k": "q\"b\\s/\u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f}é\u{2028}😀"});
        assert_eq!(
            to_compact(&v).unwrap(),
            "{\"k\":\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f}é\u{2028}😀\"}"
        );
    }

    #[test]
    fn pretty_matches_json_stringify_indent_2() {
        let v = json!({"a": [], "b": {}, "c": [1, "x"], "d": {"e": true}});
        assert_eq!(
            to_pretty(&v).unwrap(),
            "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1,\n    \"x\"\n  ],\n  \"d\": {\n    \"e\": true\n  }\n}"
        );
    }

    #[test]
    fn bom_is_ignored() {
        assert_eq!(parse_value(b"\xEF\xBB\xBF{}").unwrap(), json!({}));
    }
}
