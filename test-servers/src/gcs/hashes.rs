//! CRC32C and MD5 of object data, in GCS's base64 forms, and checking of hashes a client
//! declared (in an upload's JSON resource or an `X-Goog-Hash` header).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use md5::{Digest as _, Md5};
use serde_json::Value;

use super::errors::GcsError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Digests {
    pub crc32c: u32,
    pub md5: [u8; 16],
}

impl Digests {
    pub fn of(data: &[u8]) -> Digests {
        Digests {
            crc32c: crc32c::crc32c(data),
            md5: Md5::digest(data).into(),
        }
    }

    /// Base64 of the big-endian CRC32C, as in the `crc32c` field.
    pub fn crc32c_b64(&self) -> String {
        B64.encode(self.crc32c.to_be_bytes())
    }

    pub fn md5_b64(&self) -> String {
        B64.encode(self.md5)
    }
}

/// Hashes a client asked the server to verify.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Expected {
    crc32c: Option<u32>,
    md5: Option<[u8; 16]>,
}

impl Expected {
    /// From the `crc32c`/`md5Hash` fields of an object resource.
    pub fn from_resource(resource: &Value) -> Result<Expected, GcsError> {
        let field = |key: &str| -> Result<Option<&str>, GcsError> {
            match resource.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(GcsError::invalid(format!("Invalid value for {key}."))),
            }
        };
        Ok(Expected {
            crc32c: field("crc32c")?.map(parse_crc32c).transpose()?,
            md5: field("md5Hash")?.map(parse_md5).transpose()?,
        })
    }

    /// From every `X-Goog-Hash` header value (`crc32c=<b64>,md5=<b64>`, possibly split
    /// across several headers). Unknown algorithms are ignored.
    pub fn from_goog_hash<'a>(values: impl Iterator<Item = &'a str>) -> Result<Expected, GcsError> {
        let mut expected = Expected::default();
        for item in values.flat_map(|v| v.split(',')) {
            let Some((algo, value)) = item.trim().split_once('=') else {
                continue;
            };
            match algo.trim() {
                "crc32c" => expected.crc32c = Some(parse_crc32c(value.trim())?),
                "md5" => expected.md5 = Some(parse_md5(value.trim())?),
                _ => {}
            }
        }
        Ok(expected)
    }

    /// 400 `invalid` when a declared hash differs from the data's, worded like GCS.
    pub fn verify(&self, actual: &Digests) -> Result<(), GcsError> {
        if let Some(crc) = self.crc32c.filter(|c| *c != actual.crc32c) {
            return Err(GcsError::invalid(format!(
                "Provided CRC32C \"{}\" doesn't match calculated CRC32C \"{}\".",
                B64.encode(crc.to_be_bytes()),
                actual.crc32c_b64()
            )));
        }
        if let Some(md5) = self.md5.filter(|m| *m != actual.md5) {
            return Err(GcsError::invalid(format!(
                "Provided MD5 hash \"{}\" doesn't match calculated MD5 hash \"{}\".",
                B64.encode(md5),
                actual.md5_b64()
            )));
        }
        Ok(())
    }
}

fn parse_crc32c(b64: &str) -> Result<u32, GcsError> {
    B64.decode(b64)
        .ok()
        .and_then(|bytes| <[u8; 4]>::try_from(bytes).ok())
        .map(u32::from_be_bytes)
        .ok_or_else(|| GcsError::invalid(format!("Invalid CRC32C \"{b64}\".")))
}

fn parse_md5(b64: &str) -> Result<[u8; 16], GcsError> {
    B64.decode(b64)
        .ok()
        .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
        .ok_or_else(|| GcsError::invalid(format!("Invalid MD5 hash \"{b64}\".")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_digests() {
        // CRC32C("123456789") is the standard check value 0xE3069283.
        let d = Digests::of(b"123456789");
        assert_eq!(d.crc32c, 0xE306_9283);
        assert_eq!(d.crc32c_b64(), "4waSgw==");
        assert_eq!(Digests::of(b"").md5_b64(), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }

    #[test]
    fn goog_hash_header_round_trips() {
        let d = Digests::of(b"hello");
        let header = format!("crc32c={},md5={}", d.crc32c_b64(), d.md5_b64());
        let e = Expected::from_goog_hash([header.as_str()].into_iter()).expect("parses");
        assert!(e.verify(&d).is_ok());
        assert!(e.verify(&Digests::of(b"hellO")).is_err());
    }

    #[test]
    fn resource_hashes_are_checked() {
        let d = Digests::of(b"data");
        let ok = Expected::from_resource(&json!({"crc32c": d.crc32c_b64()})).expect("parses");
        assert!(ok.verify(&d).is_ok());
        let bad = Expected::from_resource(&json!({"md5Hash": Digests::of(b"x").md5_b64()}))
            .expect("parses");
        let err = bad.verify(&d).expect_err("mismatch");
        assert_eq!((err.status.as_u16(), err.reason), (400, "invalid"));
        assert!(Expected::from_resource(&json!({"crc32c": "not base64!"})).is_err());
    }
}
