//! An OAuth 2.0 token endpoint and a GCE metadata server in one loopback HTTP server, for
//! driving the guest's credential code end to end.
//!
//! `POST /token` serves both grants the guest uses, checking them the way Google does:
//! - JWT bearer (`urn:ietf:params:oauth:grant-type:jwt-bearer`): the assertion's RS256
//!   signature is verified with the configured public key, then its header (`alg`, `typ`,
//!   `kid`) and claims (`iss`, `aud`, `scope`, `iat`, `exp`). Any failure is a 400
//!   `invalid_grant`, as Google answers.
//! - refresh token: `client_id`, `client_secret` and `refresh_token` must match.
//!
//! `GET /computeMetadata/v1/instance/service-accounts/default/token` answers like the
//! metadata server: 403 without `Metadata-Flavor: Google`, and the same header on success.
//!
//! Every issued token is recorded, so a fake GCS can check bearer tokens and tests can
//! assert which grant was used and how often.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rand::Rng as _;
use rsa::pkcs8::DecodePublicKey as _;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// The JWT bearer grant type (RFC 7523).
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Path of the metadata server's token.
const METADATA_TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";

/// Google refuses assertions that live longer than an hour.
const MAX_ASSERTION_LIFETIME_S: i64 = 3600;

/// Clock skew tolerated on `iat` (the guest and this server share a clock, but a real
/// endpoint allows some too).
const IAT_SKEW_S: i64 = 60;

/// Request bodies are small forms; anything bigger is a bug in the client.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the server accepts and how it answers.
#[derive(Debug, Clone)]
pub struct TokenServerConfig {
    /// SPKI PEM (`BEGIN PUBLIC KEY`) of the service account's key. JWT assertions are
    /// verified with it; `None` refuses every JWT grant.
    pub public_key_pem: Option<String>,
    /// The expected `iss` of JWT assertions; `None` accepts any issuer.
    pub client_email: Option<String>,
    /// `(client_id, client_secret, refresh_token)` accepted by the refresh grant; `None`
    /// refuses every refresh grant.
    pub refresh_token: Option<(String, String, String)>,
    /// `expires_in` of issued tokens, in seconds.
    pub expires_in: u64,
    /// Answer every `POST /token` with 400 `invalid_grant` (revoked login). The metadata
    /// endpoint is unaffected.
    pub reject_with_invalid_grant: bool,
}

impl Default for TokenServerConfig {
    /// Nothing accepted on `/token`, one-hour tokens, no forced rejection.
    fn default() -> Self {
        TokenServerConfig {
            public_key_pem: None,
            client_email: None,
            refresh_token: None,
            expires_in: 3600,
            reject_with_invalid_grant: false,
        }
    }
}

/// Which way a token was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// `POST /token` with a JWT assertion (service account).
    JwtBearer,
    /// `POST /token` with a refresh token (authorized_user).
    RefreshToken,
    /// `GET` of the metadata server's token.
    Metadata,
}

/// One token the server handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// How it was obtained.
    pub grant: Grant,
    /// The access token (`tok-<random hex>`).
    pub access_token: String,
    /// Its `expires_in`, in seconds.
    pub expires_in: u64,
}

/// Server state shared with the connection tasks.
struct Shared {
    public_key: Option<RsaPublicKey>,
    client_email: Option<String>,
    refresh_token: Option<(String, String, String)>,
    expires_in: u64,
    /// `http://127.0.0.1:PORT/token`: the only accepted JWT audience.
    token_uri: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    requests: usize,
    issued: Vec<IssuedToken>,
    reject_with_invalid_grant: bool,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panicking handler must not take every later assertion down with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running token server on 127.0.0.1. It stops (and drops its open connections) when
/// the handle is dropped.
pub struct TokenServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection task.
        self.task.abort();
    }
}

impl TokenServer {
    /// Bind 127.0.0.1 on a free port and start serving. Fails if the public key does not
    /// parse.
    pub async fn start(cfg: TokenServerConfig) -> anyhow::Result<TokenServer> {
        let public_key = cfg
            .public_key_pem
            .as_deref()
            .map(RsaPublicKey::from_public_key_pem)
            .transpose()
            .context("public_key_pem is not an SPKI PEM RSA public key")?;
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding the token server")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            public_key,
            client_email: cfg.client_email,
            refresh_token: cfg.refresh_token,
            expires_in: cfg.expires_in,
            token_uri: format!("http://{addr}/token"),
            state: Mutex::new(State {
                reject_with_invalid_grant: cfg.reject_with_invalid_grant,
                ..State::default()
            }),
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(TokenServer { addr, shared, task })
    }

    /// Base URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token endpoint, `endpoint() + "/token"`: the `token_uri` to write into key
    /// files, and the audience assertions must carry.
    pub fn token_uri(&self) -> String {
        self.shared.token_uri.clone()
    }

    /// `127.0.0.1:PORT`, the value for `GCE_METADATA_HOST`.
    pub fn metadata_host(&self) -> String {
        self.addr.to_string()
    }

    /// Every token issued so far, in order.
    pub fn issued(&self) -> Vec<IssuedToken> {
        self.shared.state().issued.clone()
    }

    /// Just the access tokens issued so far, in order (for a fake GCS to accept).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared
            .state()
            .issued
            .iter()
            .map(|t| t.access_token.clone())
            .collect()
    }

    /// Whether `token` was issued by this server.
    pub fn is_issued(&self, token: &str) -> bool {
        self.shared
            .state()
            .issued
            .iter()
            .any(|t| t.access_token == token)
    }

    /// Requests received so far, accepted or not, on any path.
    pub fn requests(&self) -> usize {
        self.shared.state().requests
    }

    /// Switch the forced `invalid_grant` answer on or off while running (a login revoked
    /// mid-session, then restored).
    pub fn set_reject_with_invalid_grant(&self, on: bool) {
        self.shared.state().reject_with_invalid_grant = on;
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = Arc::clone(&shared);
                        async move { Ok::<_, std::convert::Infallible>(handle(&shared, req).await) }
                    });
                    // A client hanging up mid-request is its business, not a server failure.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            // Reap finished connections so the set does not grow for the server's life.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    shared.state().requests += 1;
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "body too large or cut short",
            )
        }
    };
    match (&parts.method, parts.uri.path()) {
        (&Method::POST, "/token") => {
            let form_ok = parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            if !form_ok {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "content-type must be application/x-www-form-urlencoded",
                );
            }
            token_grant(shared, &parse_form(&body))
        }
        (&Method::GET, METADATA_TOKEN_PATH) => {
            let flavored = parts
                .headers
                .get("metadata-flavor")
                .is_some_and(|v| v.as_bytes() == b"Google");
            if !flavored {
                // What the real server says, more or less: it refuses requests that a
                // proxy may have forwarded without the caller meaning to.
                return text(
                    StatusCode::FORBIDDEN,
                    "Missing Metadata-Flavor:Google header.",
                );
            }
            let mut resp = issue(shared, Grant::Metadata);
            resp.headers_mut()
                .insert("metadata-flavor", http::HeaderValue::from_static("Google"));
            resp
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}

/// `POST /token`.
fn token_grant(shared: &Shared, form: &[(String, String)]) -> Response<Full<Bytes>> {
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if shared.state().reject_with_invalid_grant {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Token has been expired or revoked.",
        );
    }
    match field("grant_type") {
        Some(JWT_BEARER) => {
            let Some(assertion) = field("assertion") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "missing assertion",
                );
            };
            match verify_assertion(shared, assertion, unix_now()) {
                Ok(()) => issue(shared, Grant::JwtBearer),
                Err(why) => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &why),
            }
        }
        Some("refresh_token") => {
            let Some((id, secret, refresh)) = &shared.refresh_token else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "no refresh token configured",
                );
            };
            if field("client_id") != Some(id.as_str())
                || field("client_secret") != Some(secret.as_str())
            {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "The OAuth client was not found.",
                );
            }
            if field("refresh_token") != Some(refresh.as_str()) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request");
            }
            issue(shared, Grant::RefreshToken)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type",
        ),
    }
}

/// Check a JWT assertion as Google does: signature first, then header and claims. The
/// error text becomes the `error_description`.
fn verify_assertion(shared: &Shared, jwt: &str, now_s: i64) -> Result<(), String> {
    let key = shared
        .public_key
        .as_ref()
        .ok_or("no service account key configured")?;
    let mut parts = jwt.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("Invalid JWT: not three segments".into());
    };
    // URL_SAFE_NO_PAD refuses `=` padding, which RFC 7515 forbids.
    let decode = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| format!("Invalid JWT: {what} is not base64url without padding"))
    };
    let signature = decode(s, "signature")?;
    let digest = Sha256::digest(format!("{h}.{c}").as_bytes());
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &signature)
        .map_err(|_| "Invalid JWT Signature.".to_string())?;

    let json = |bytes: Vec<u8>, what: &str| {
        serde_json::from_slice::<Value>(&bytes)
            .map_err(|_| format!("Invalid JWT: {what} is not JSON"))
    };
    let header = json(decode(h, "header")?, "header")?;
    if header["alg"] != "RS256" {
        return Err("Invalid JWT: alg must be RS256".into());
    }
    if header["typ"] != "JWT" {
        return Err("Invalid JWT: typ must be JWT".into());
    }
    if header["kid"].as_str().is_none_or(str::is_empty) {
        return Err("Invalid JWT: missing kid".into());
    }

    let claims = json(decode(c, "claims")?, "claims")?;
    if let Some(email) = &shared.client_email {
        if claims["iss"].as_str() != Some(email.as_str()) {
            return Err("Invalid JWT: iss does not match the service account".into());
        }
    }
    if claims["aud"].as_str() != Some(shared.token_uri.as_str()) {
        return Err("Invalid JWT: aud must be the token endpoint".into());
    }
    if claims["scope"].as_str().is_none_or(|s| s.trim().is_empty()) {
        return Err("Invalid JWT: no scope".into());
    }
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return Err("Invalid JWT: iat and exp must be integers".into());
    };
    if exp <= now_s {
        return Err("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe (expired)".into());
    }
    if iat > now_s + IAT_SKEW_S {
        return Err("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe (iat in the future)".into());
    }
    if exp <= iat || exp - iat > MAX_ASSERTION_LIFETIME_S {
        return Err("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe (exp - iat over 3600 s)".into());
    }
    Ok(())
}

/// Mint, record and answer a token.
fn issue(shared: &Shared, grant: Grant) -> Response<Full<Bytes>> {
    let access_token = format!("tok-{:032x}", rand::thread_rng().gen::<u128>());
    shared.state().issued.push(IssuedToken {
        grant,
        access_token: access_token.clone(),
        expires_in: shared.expires_in,
    });
    json_response(
        StatusCode::OK,
        &json!({"access_token": access_token, "expires_in": shared.expires_in, "token_type": "Bearer"}),
    )
}

/// Decode `application/x-www-form-urlencoded` (`+` is a space, then percent-decoding).
fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response<Full<Bytes>> {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::DecodePrivateKey as _;
    use rsa::RsaPrivateKey;
    use std::io::{Read as _, Write as _};
    use std::net::TcpStream;

    /// The committed throw-away test key (fixtures/auth/README.md). TEST KEY, not a secret.
    const TEST_KEY_PEM: &str = include_str!("../../fixtures/auth/test-sa-key.pem");
    const TEST_PUBLIC_KEY_PEM: &str = include_str!("../../fixtures/auth/test-sa-key.pub.pem");
    const EMAIL: &str = "sa@test-project.iam.gserviceaccount.com";
    const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.full_control";

    struct Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Reply {
        fn json(&self) -> Value {
            serde_json::from_str(&self.body).expect("JSON body")
        }
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// A minimal HTTP/1.1 client (one request per connection): the crate has no HTTP client
    /// dependency, and these tests want to see the exact bytes anyway.
    async fn call(
        server: &TokenServer,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-length: {}\r\n",
            server.addr,
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        // Blocking std I/O on a blocking thread: the crate's tokio has no `io-util`, and a
        // test client needs nothing fancier.
        let addr = server.addr;
        let raw = tokio::task::spawn_blocking(move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            stream.write_all(req.as_bytes()).unwrap();
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).unwrap();
            raw
        })
        .await
        .unwrap();
        let raw = String::from_utf8(raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Reply {
            status,
            headers,
            body: body.to_string(),
        }
    }

    async fn post_form(server: &TokenServer, body: &str) -> Reply {
        call(
            server,
            "POST",
            "/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            body,
        )
        .await
    }

    fn sa_config() -> TokenServerConfig {
        TokenServerConfig {
            public_key_pem: Some(TEST_PUBLIC_KEY_PEM.into()),
            client_email: Some(EMAIL.into()),
            ..TokenServerConfig::default()
        }
    }

    fn sign(header: &Value, claims: &Value) -> String {
        let key = RsaPrivateKey::from_pkcs8_pem(TEST_KEY_PEM).unwrap();
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = key
            .sign(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(input.as_bytes()),
            )
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn header() -> Value {
        json!({"alg":"RS256","typ":"JWT","kid":"test-key-id-0001"})
    }

    fn claims(aud: &str) -> Value {
        let now = unix_now();
        json!({"iss": EMAIL, "scope": SCOPE, "aud": aud, "iat": now, "exp": now + 3600})
    }

    fn jwt_form(assertion: &str) -> String {
        format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}")
    }

    #[tokio::test]
    async fn token_valid_assertion_is_exchanged() {
        let server = TokenServer::start(sa_config()).await.unwrap();
        let jwt = sign(&header(), &claims(&server.token_uri()));
        let reply = post_form(&server, &jwt_form(&jwt)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let v = reply.json();
        let token = v["access_token"].as_str().unwrap();
        assert!(token.starts_with("tok-"));
        assert_eq!(v["expires_in"], 3600);
        assert_eq!(v["token_type"], "Bearer");
        assert_eq!(server.issued_tokens(), vec![token.to_string()]);
        assert_eq!(server.issued()[0].grant, Grant::JwtBearer);
        assert!(server.is_issued(token));
        assert_eq!(server.requests(), 1);
    }

    #[tokio::test]
    async fn token_tampered_signature_is_invalid_grant() {
        let server = TokenServer::start(sa_config()).await.unwrap();
        let jwt = sign(&header(), &claims(&server.token_uri()));
        // Swap the claims for others signed by nobody.
        let (h, rest) = jwt.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let mut forged = claims(&server.token_uri());
        forged["iss"] = json!("attacker@example.com");
        let tampered = format!("{h}.{}.{sig}", URL_SAFE_NO_PAD.encode(forged.to_string()));
        let reply = post_form(&server, &jwt_form(&tampered)).await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json()["error"], "invalid_grant");
        assert_eq!(reply.json()["error_description"], "Invalid JWT Signature.");
        assert!(server.issued().is_empty());
    }

    #[tokio::test]
    async fn token_wrong_aud_is_invalid_grant() {
        let server = TokenServer::start(sa_config()).await.unwrap();
        let jwt = sign(&header(), &claims("https://oauth2.googleapis.com/token"));
        let reply = post_form(&server, &jwt_form(&jwt)).await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json()["error"], "invalid_grant");
        assert!(reply.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("aud"));
    }

    #[tokio::test]
    async fn token_bad_claims_and_header_are_refused() {
        let server = TokenServer::start(sa_config()).await.unwrap();
        let aud = server.token_uri();
        let now = unix_now();
        let cases = [
            (
                header(),
                json!({"iss":"other@x","scope":SCOPE,"aud":aud,"iat":now,"exp":now+3600}),
                "iss",
            ),
            (
                header(),
                json!({"iss":EMAIL,"aud":aud,"iat":now,"exp":now+3600}),
                "scope",
            ),
            (
                header(),
                json!({"iss":EMAIL,"scope":SCOPE,"aud":aud,"iat":now-7200,"exp":now-3600}),
                "expired",
            ),
            (
                header(),
                json!({"iss":EMAIL,"scope":SCOPE,"aud":aud,"iat":now,"exp":now+7200}),
                "3600",
            ),
            (json!({"alg":"RS256","typ":"JWT"}), claims(&aud), "kid"),
            (
                json!({"alg":"HS256","typ":"JWT","kid":"k"}),
                claims(&aud),
                "alg",
            ),
        ];
        for (h, c, expect) in cases {
            let reply = post_form(&server, &jwt_form(&sign(&h, &c))).await;
            assert_eq!(reply.status, 400, "{expect}: {}", reply.body);
            let desc = reply.json()["error_description"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(desc.contains(expect), "{expect}: {desc}");
        }
        assert!(server.issued().is_empty());
    }

    #[tokio::test]
    async fn token_refresh_grant() {
        let server = TokenServer::start(TokenServerConfig {
            refresh_token: Some(("cid".into(), "csecret".into(), "1//rt".into())),
            expires_in: 120,
            ..TokenServerConfig::default()
        })
        .await
        .unwrap();
        let ok = post_form(
            &server,
            "grant_type=refresh_token&client_id=cid&client_secret=csecret&refresh_token=1%2F%2Frt",
        )
        .await;
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert_eq!(ok.json()["expires_in"], 120);
        assert_eq!(server.issued()[0].grant, Grant::RefreshToken);

        let wrong = post_form(
            &server,
            "grant_type=refresh_token&client_id=cid&client_secret=csecret&refresh_token=other",
        )
        .await;
        assert_eq!(wrong.status, 400);
        assert_eq!(wrong.json()["error"], "invalid_grant");

        let bad_client = post_form(
            &server,
            "grant_type=refresh_token&client_id=x&client_secret=csecret&refresh_token=1%2F%2Frt",
        )
        .await;
        assert_eq!(bad_client.status, 401);
        assert_eq!(bad_client.json()["error"], "invalid_client");
        assert_eq!(server.issued().len(), 1);
        assert_eq!(server.requests(), 3);
    }

    #[tokio::test]
    async fn token_invalid_grant_mode_rejects_everything_until_switched_off() {
        let mut cfg = sa_config();
        cfg.reject_with_invalid_grant = true;
        let server = TokenServer::start(cfg).await.unwrap();
        let jwt = sign(&header(), &claims(&server.token_uri()));
        let reply = post_form(&server, &jwt_form(&jwt)).await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json()["error"], "invalid_grant");
        server.set_reject_with_invalid_grant(false);
        let reply = post_form(&server, &jwt_form(&jwt)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    #[tokio::test]
    async fn token_metadata_requires_flavor_header() {
        let server = TokenServer::start(TokenServerConfig::default())
            .await
            .unwrap();
        let denied = call(&server, "GET", METADATA_TOKEN_PATH, &[], "").await;
        assert_eq!(denied.status, 403);
        assert!(server.issued().is_empty());

        let ok = call(
            &server,
            "GET",
            METADATA_TOKEN_PATH,
            &[("Metadata-Flavor", "Google")],
            "",
        )
        .await;
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert_eq!(ok.header("metadata-flavor"), Some("Google"));
        assert!(ok.json()["access_token"]
            .as_str()
            .unwrap()
            .starts_with("tok-"));
        assert_eq!(server.issued()[0].grant, Grant::Metadata);
        assert_eq!(server.metadata_host(), server.addr.to_string());
        assert_eq!(server.token_uri(), format!("{}/token", server.endpoint()));
    }

    #[tokio::test]
    async fn token_form_content_type_and_grant_type_are_checked() {
        let server = TokenServer::start(sa_config()).await.unwrap();
        let reply = call(
            &server,
            "POST",
            "/token",
            &[("content-type", "application/json")],
            "{}",
        )
        .await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json()["error"], "invalid_request");
        let reply = post_form(&server, "grant_type=password").await;
        assert_eq!(reply.json()["error"], "unsupported_grant_type");
    }

    #[tokio::test]
    async fn token_server_stops_on_drop() {
        let server = TokenServer::start(TokenServerConfig::default())
            .await
            .unwrap();
        let addr = server.addr;
        drop(server);
        // The listener is closed once the aborted task has been dropped by the runtime.
        for _ in 0..50 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("server still accepting after drop");
    }
}
