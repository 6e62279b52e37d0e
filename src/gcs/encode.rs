//! Percent-encoding for object names and query values.
//!
//! GCS takes an object name as ONE path segment, so `/` must become `%2F`; everything but
//! RFC 3986 unreserved characters is encoded, which is always accepted.

/// Encode `s` so it is safe as a single path segment or a query value.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(HEX[(b >> 4) as usize]));
            out.push(char::from(HEX[(b & 15) as usize]));
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Build a query string from pairs, skipping `None` values.
pub fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if let Some(v) = v {
            out.push(if out.is_empty() { '?' } else { '&' });
            out.push_str(k);
            out.push('=');
            out.push_str(&encode_component(v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_one_segment() {
        let table = [
            ("a/b/c.txt", "a%2Fb%2Fc.txt"),
            ("user@host", "user%40host"),
            ("with space", "with%20space"),
            ("ünï", "%C3%BCn%C3%AF"),
            ("a+b=c&d?e#f%", "a%2Bb%3Dc%26d%3Fe%23f%25"),
            ("safe-._~09AZaz", "safe-._~09AZaz"),
        ];
        for (input, want) in table {
            assert_eq!(encode_component(input), want, "{input}");
        }
    }

    #[test]
    fn query_skips_absent_values() {
        assert_eq!(
            query(&[
                ("alt", Some("media")),
                ("generation", None),
                ("name", Some("a/b"))
            ]),
            "?alt=media&name=a%2Fb"
        );
        assert_eq!(query(&[("x", None)]), "");
    }
}
