//! Service-account keys: an RS256-signed JWT assertion exchanged for an access token
//! (the JWT bearer grant, RFC 7523; `docs/gcs.md#service-account-keys`).

use std::fmt;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use super::endpoint::{request_token, Exchange, FetchedToken, Origin, DEFAULT_TOKEN_URI};
use super::secret::{form_body, Secret};
use crate::error::{Error, ErrorKind, Result};
use crate::transport::{HttpRequest, Method, Transport};

/// The scope asked for: full control, because the datastore creates, rewrites and deletes
/// objects and the lock needs preconditions on all of them.
pub(crate) const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.full_control";

/// The JWT bearer grant type (RFC 7523, section 2.1).
pub(crate) const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Assertion lifetime. Google refuses anything longer than an hour.
const ASSERTION_LIFETIME_S: u64 = 3600;

/// The fields of a service-account key file that the grant needs.
#[derive(Clone)]
pub(crate) struct ServiceAccountKey {
    /// `client_email`: the JWT issuer.
    pub(crate) client_email: String,
    /// `private_key_id`: the JWT `kid`, when the file has one.
    pub(crate) private_key_id: Option<String>,
    /// `private_key`: PKCS#8 (or PKCS#1) PEM.
    private_key: Secret,
    /// `token_uri`: where to send the assertion, and its audience.
    pub(crate) token_uri: String,
}

impl fmt::Debug for ServiceAccountKey {
    // Hand-written so the key can never reach a log, even via `{:?}` of a parent struct.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("private_key", &"<redacted>")
            .field("token_uri", &self.token_uri)
            .finish()
    }
}

impl ServiceAccountKey {
    /// Read the fields from a parsed key file.
    pub(crate) fn from_json(v: &Value, origin: &Origin) -> Result<Self> {
        let field = |name: &str| -> Result<String> {
            match v.get(name).and_then(Value::as_str) {
                Some(s) if !s.is_empty() => Ok(s.to_string()),
                _ => Err(bad_file(
                    origin,
                    format!("service_account key has no `{name}`"),
                )),
            }
        };
        let optional = |name: &str| {
            v.get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Ok(ServiceAccountKey {
            client_email: field("client_email")?,
            private_key: Secret::new(field("private_key")?),
            private_key_id: optional("private_key_id"),
            token_uri: optional("token_uri").unwrap_or_else(|| DEFAULT_TOKEN_URI.to_string()),
        })
    }

    /// The signed assertion for `iat_s` (Unix seconds): `header.claims.signature`, each part
    /// base64url without padding.
    pub(crate) fn assertion(&self, iat_s: u64, origin: &Origin) -> Result<Secret> {
        let key = parse_private_key(self.private_key.expose()).ok_or_else(|| {
            // Which parse step failed is of no use to the user and could hint at key
            // contents, so the message stays generic.
            bad_file(
                origin,
                "service_account private_key is not a PEM-encoded RSA private key",
            )
        })?;
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.private_key_id {
            header["kid"] = Value::String(kid.clone());
        }
        let claims = json!({
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": iat_s,
            "exp": iat_s + ASSERTION_LIFETIME_S,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let digest = Sha256::digest(signing_input.as_bytes());
        // Plain (unblinded) PKCS#1 v1.5 signing: the guest has no key-grade randomness
        // source through the Clock seam, and the signer is not a remotely timed oracle (it
        // signs its own claims about once an hour).
        let signature = key
            .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
            .map_err(|_| bad_file(origin, "signing the service_account assertion failed"))?;
        Ok(Secret::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

/// Exchange a fresh assertion for an access token.
pub(crate) async fn fetch<T: Transport>(
    key: &ServiceAccountKey,
    origin: &Origin,
    transport: &T,
    unix_s: u64,
) -> Result<FetchedToken> {
    let assertion = key.assertion(unix_s, origin)?;
    let req = HttpRequest::new(Method::Post, key.token_uri.clone())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[
            ("grant_type", JWT_BEARER_GRANT),
            ("assertion", assertion.expose()),
        ]));
    let ex = Exchange {
        context: "Service account token exchange failed",
        origin,
        sent_secrets: &[assertion.expose()],
    };
    request_token(transport, &req, &ex).await
}

/// An unreadable key file, with the remedy for where it came from.
fn bad_file(origin: &Origin, what: impl fmt::Display) -> Error {
    Error::new(
        ErrorKind::Unauthenticated {
            hint: origin.bad_file_hint().to_string(),
        },
        format!("{origin}: {what}"),
    )
}

/// The DER bytes inside a PEM block: the base64 between the `-----BEGIN` and `-----END`
/// lines. Key files store the PEM with `\n` escapes that JSON parsing already turned into
/// newlines; stray `\r` and spaces are tolerated.
pub(crate) fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let mut inside = false;
    let mut b64 = String::new();
    for line in pem.lines().map(str::trim) {
        if line.starts_with("-----BEGIN ") {
            inside = true;
        } else if line.starts_with("-----END ") {
            return STANDARD.decode(b64.as_bytes()).ok();
        } else if inside {
            b64.extend(line.chars().filter(|c| !c.is_whitespace()));
        }
    }
    None
}

/// PKCS#8 is what Google issues; PKCS#1 (`BEGIN RSA PRIVATE KEY`) costs nothing to accept.
fn parse_private_key(pem: &str) -> Option<RsaPrivateKey> {
    let der = pem_to_der(pem)?;
    RsaPrivateKey::from_pkcs8_der(&der)
        .or_else(|_| RsaPrivateKey::from_pkcs1_der(&der))
        .ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::auth::test_support::{test_key_json, TEST_KEY_PEM, TEST_PUBLIC_KEY_PEM};
    use rsa::pkcs8::DecodePublicKey as _;
    use rsa::RsaPublicKey;

    fn origin() -> Origin {
        Origin::EnvFile("/keys/sa.json".into())
    }

    fn key() -> ServiceAccountKey {
        let v: Value = serde_json::from_str(&test_key_json("https://tok.example/token")).unwrap();
        ServiceAccountKey::from_json(&v, &origin()).unwrap()
    }

    fn decode_part(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn assertion_has_the_documented_header_and_claims() {
        let jwt = key().assertion(1_700_000_000, &origin()).unwrap();
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| !p.contains('=')), "no padding");
        let header = decode_part(parts[0]);
        assert_eq!(
            header,
            json!({"alg":"RS256","typ":"JWT","kid":"test-key-id-0001"})
        );
        let claims = decode_part(parts[1]);
        assert_eq!(claims["iss"], "sa@test-project.iam.gserviceaccount.com");
        assert_eq!(claims["scope"], SCOPE);
        assert_eq!(claims["aud"], "https://tok.example/token");
        assert_eq!(claims["iat"], 1_700_000_000u64);
        assert_eq!(claims["exp"], 1_700_003_600u64);
    }

    #[test]
    fn signature_verifies_with_the_public_key() {
        let jwt = key().assertion(1_700_000_000, &origin()).unwrap();
        let (input, sig) = jwt.expose().rsplit_once('.').unwrap();
        let public =
            RsaPublicKey::from_public_key_der(&pem_to_der(TEST_PUBLIC_KEY_PEM).unwrap()).unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let digest = Sha256::digest(input.as_bytes());
        public
            .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &sig)
            .expect("signature verifies");
        // And a changed claim does not.
        let tampered = Sha256::digest(format!("{input}x").as_bytes());
        assert!(public
            .verify(Pkcs1v15Sign::new::<Sha256>(), &tampered, &sig)
            .is_err());
    }

    #[test]
    fn token_uri_defaults_to_google() {
        let v = json!({"client_email":"a@b","private_key":TEST_KEY_PEM});
        let k = ServiceAccountKey::from_json(&v, &origin()).unwrap();
        assert_eq!(k.token_uri, DEFAULT_TOKEN_URI);
        assert_eq!(k.private_key_id, None);
    }

    #[test]
    fn missing_field_is_named_and_broken_key_is_not_quoted() {
        let v = json!({"private_key": TEST_KEY_PEM});
        let err = ServiceAccountKey::from_json(&v, &origin()).unwrap_err();
        assert!(
            err.message().contains("`client_email`"),
            "{}",
            err.message()
        );

        let v = json!({"client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nQUJDRA==\n-----END PRIVATE KEY-----\n"});
        let k = ServiceAccountKey::from_json(&v, &origin()).unwrap();
        let err = k.assertion(1, &origin()).unwrap_err();
        assert!(!err.message().contains("QUJD"), "{}", err.message());
        assert!(matches!(err.kind(), ErrorKind::Unauthenticated { .. }));
    }

    #[test]
    fn debug_redacts_the_private_key() {
        let dbg = format!("{:?}", key());
        assert!(!dbg.contains("PRIVATE KEY"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }
}
