//! A `multipart/related` body parser, just enough for `uploadType=multipart`: the parts and
//! each part's `Content-Type`. Malformed bodies are a 400, never a panic.

use super::errors::GcsError;

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Part<'a> {
    pub content_type: Option<String>,
    pub body: &'a [u8],
}

/// The boundary from `multipart/related; boundary=...`, unquoted.
pub(crate) fn boundary(content_type: &str) -> Result<String, GcsError> {
    let mut params = content_type.split(';');
    let media_type = params.next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("multipart/related") {
        return Err(GcsError::invalid(format!(
            "Multipart uploads must use Content-Type multipart/related, got {media_type:?}."
        )));
    }
    params
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|b| !b.is_empty())
        .ok_or_else(|| GcsError::invalid("Missing multipart boundary."))
}

pub(crate) fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, GcsError> {
    let malformed = || GcsError::invalid("Malformed multipart body.");
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let mut pos = find(body, delimiter.as_bytes(), 0).ok_or_else(malformed)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        let rest = body.get(pos..).ok_or_else(malformed)?;
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        if !rest.starts_with(b"\r\n") {
            return Err(malformed());
        }
        let start = pos + 2;
        let end = find(body, next_delimiter.as_bytes(), start).ok_or_else(malformed)?;
        parts.push(parse_part(body.get(start..end).ok_or_else(malformed)?)?);
        pos = end + next_delimiter.len();
    }
}

fn parse_part(raw: &[u8]) -> Result<Part<'_>, GcsError> {
    let (head, body) = if let Some(body) = raw.strip_prefix(b"\r\n") {
        (&[][..], body)
    } else {
        let split = find(raw, b"\r\n\r\n", 0)
            .ok_or_else(|| GcsError::invalid("Malformed multipart part headers."))?;
        (&raw[..split], &raw[split + 4..])
    };
    let head = std::str::from_utf8(head)
        .map_err(|_| GcsError::invalid("Multipart part headers are not valid UTF-8."))?;
    let content_type = head
        .split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.trim().to_owned());
    Ok(Part { content_type, body })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_boundary() {
        let b = boundary("multipart/related; boundary=\"abc 123\"").expect("boundary");
        assert_eq!(b, "abc 123");
        assert!(boundary("multipart/form-data; boundary=x").is_err());
        assert!(boundary("multipart/related").is_err());
    }

    #[test]
    fn parses_two_parts() {
        let body = b"--XX\r\nContent-Type: application/json\r\n\r\n{\"name\":\"a\"}\r\n\
--XX\r\ncontent-type: text/plain\r\n\r\nline1\r\nline2\r\n--XX--\r\n";
        let parts = parse(body, "XX").expect("parses");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].content_type.as_deref(), Some("application/json"));
        assert_eq!(parts[0].body, b"{\"name\":\"a\"}");
        assert_eq!(parts[1].content_type.as_deref(), Some("text/plain"));
        assert_eq!(parts[1].body, b"line1\r\nline2");
    }

    #[test]
    fn part_without_headers_and_empty_media() {
        let body = b"--b\r\n\r\n{}\r\n--b\r\n\r\n\r\n--b--";
        let parts = parse(body, "b").expect("parses");
        assert_eq!(parts[0].content_type, None);
        assert_eq!(parts[1].body, b"");
    }

    #[test]
    fn malformed_bodies_are_400() {
        for body in [
            &b""[..],
            b"--b",
            b"--b\r\nno end",
            b"--bxx",
            b"--b\r\nheader-only\r\n--b--",
        ] {
            let err = parse(body, "b").expect_err("malformed");
            assert_eq!(err.status.as_u16(), 400);
        }
    }
}
