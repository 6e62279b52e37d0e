//! Keeping credentials out of messages: a wrapper whose `Debug` never shows its value, and a
//! sanitizer for token-endpoint bodies before any of it reaches an error message.

use std::fmt;

/// A string that must never be printed: an access token, refresh token, client secret or
/// private key. `Debug` shows only its length, so deriving `Debug` on a struct that holds
/// one is safe.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    /// Wrap a value.
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that must send it (a header or a form field).
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {} bytes>", self.0.len())
    }
}

/// How much of an error body an error message may quote. Short because these messages are
/// one line and the useful part (`{"error":"…","error_description":"…"}`) is small.
const PREVIEW_CHARS: usize = 200;

/// How much of the body is looked at at all. Redaction runs on this window before the
/// preview is cut, so a token that starts inside the preview is seen whole and replaced.
const SCAN_BYTES: usize = 1024;

/// A token-ish run of at least this many characters that mixes letters and digits is
/// replaced. Access tokens (`ya29.…`), JWT segments and refresh tokens (`1//0g…`) all are;
/// the words of an `error_description` are not.
const MIXED_RUN_MIN: usize = 20;

/// Any token-ish run this long is replaced, digits or not.
const ANY_RUN_MIN: usize = 40;

/// A one-line, shortened and redacted preview of an error body. Every value in `known` (the
/// assertion, refresh token and client secret that were sent) is removed first, in case a
/// proxy echoed the request; then anything that looks like a token.
pub(crate) fn body_preview(body: &[u8], known: &[&str]) -> String {
    let window = &body[..body.len().min(SCAN_BYTES)];
    let mut text: String = String::from_utf8_lossy(window)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    for secret in known.iter().filter(|s| s.len() >= 4) {
        text = text.replace(secret, "[redacted]");
    }
    let text = redact_token_runs(&text);
    let mut out: String = text.chars().take(PREVIEW_CHARS).collect();
    if out.len() < text.len() || body.len() > window.len() {
        out.push_str(&format!("…({} bytes)", body.len()));
    }
    out.trim().to_string()
}

/// Characters that appear in OAuth tokens, JWTs and base64.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '=')
}

/// Replace every run of token characters that looks like a credential with `[redacted]`.
fn redact_token_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let letters = run.chars().any(|c| c.is_ascii_alphabetic());
        let digits = run.chars().any(|c| c.is_ascii_digit());
        let n = run.chars().count();
        if n >= ANY_RUN_MIN || (n >= MIXED_RUN_MIN && letters && digits) {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if is_token_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// `application/x-www-form-urlencoded` encoding of one value: everything but the unreserved
/// characters is percent-encoded, so refresh tokens (`1//0g…`) and secrets survive intact.
pub(crate) fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A form body from already-decided field names and raw values.
pub(crate) fn form_body(fields: &[(&str, &str)]) -> Vec<u8> {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_hides_value() {
        let s = Secret::new("ya29.very-secret");
        assert_eq!(format!("{s:?}"), "<redacted 16 bytes>");
    }

    #[test]
    fn preview_keeps_oauth_error_and_drops_tokens() {
        let body = br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature.","access_token":"ya29.a0AfH6SMBx3jLh8Qk2pZ"}"#;
        let p = body_preview(body, &[]);
        assert!(p.contains("invalid_grant"), "{p}");
        assert!(p.contains("Invalid JWT Signature."), "{p}");
        assert!(!p.contains("ya29"), "{p}");
        assert!(p.contains("[redacted]"), "{p}");
    }

    #[test]
    fn preview_removes_known_secrets_even_when_short() {
        let p = body_preview(b"bad refresh token abcd-1/x sent", &["abcd-1/x"]);
        assert!(!p.contains("abcd-1/x"), "{p}");
    }

    #[test]
    fn preview_is_one_line_and_short() {
        let body = format!("line one\nline two {}", "word ".repeat(400));
        let p = body_preview(body.as_bytes(), &[]);
        assert!(!p.contains('\n'));
        assert!(p.chars().count() <= PREVIEW_CHARS + 20, "{p}");
        assert!(p.ends_with(&format!("…({} bytes)", body.len())), "{p}");
    }

    #[test]
    fn form_encoding_escapes_reserved_characters() {
        assert_eq!(form_encode("1//0g+a b=c&d"), "1%2F%2F0g%2Ba%20b%3Dc%26d");
        assert_eq!(
            String::from_utf8(form_body(&[("grant_type", "refresh_token"), ("x", "a.b")])).unwrap(),
            "grant_type=refresh_token&x=a.b"
        );
    }
}
