//! [`TokenProvider`]: the cached, single-flight access token of one datastore instance.

use std::cell::RefCell;
use std::fmt;

use futures_util::lock::Mutex;

use super::adc;
use super::token_cache::TokenCache;
use super::CredentialEnv;
use crate::error::Result;
use crate::transport::{Clock, Transport};

/// Hands out a bearer token for GCS requests, fetching a new one only when needed.
///
/// One per datastore instance. The guest runs many requests concurrently on one thread, so
/// the provider uses interior mutability and is neither `Send` nor `Sync`.
///
/// * A cached token is reused until [`REFRESH_MARGIN_MS`](super::token_cache::REFRESH_MARGIN_MS) before
///   it expires.
/// * Refreshes are single-flight: callers that find the cache stale while a refresh is
///   running wait for that refresh instead of starting their own.
/// * After a failed fetch, callers get the same error back without a new fetch for a short,
///   growing pause (1 s doubling to 30 s), so a queue of requests cannot stampede the token
///   endpoint.
pub struct TokenProvider {
    source: ProviderSource,
    cache: RefCell<TokenCache>,
    /// Held for the whole of a refresh. An async mutex because the holder awaits HTTP; the
    /// waiters are the other requests of the same instance.
    refresh: Mutex<()>,
}

enum ProviderSource {
    /// Application Default Credentials, read through the host-provided environment.
    Adc(Box<dyn CredentialEnv>),
}

impl fmt::Debug for TokenProvider {
    // Hand-written: shows which kind of source is used, never a token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match self.source {
            ProviderSource::Adc(_) => "adc",
        };
        f.debug_struct("TokenProvider")
            .field("source", &source)
            .field("cache", &self.cache.borrow())
            .finish()
    }
}

impl TokenProvider {
    /// A provider that finds credentials by the ADC rules, reading variables and files only
    /// through `env`. Nothing is read until the first [`token`](Self::token) call.
    pub fn new(env: impl CredentialEnv + 'static) -> Self {
        Self::with_source(ProviderSource::Adc(Box::new(env)))
    }

    fn with_source(source: ProviderSource) -> Self {
        TokenProvider {
            source,
            cache: RefCell::new(TokenCache::default()),
            refresh: Mutex::new(()),
        }
    }

    /// A valid access token for an `Authorization: Bearer` header: the cached one, or a
    /// fresh one from the credential source (each token request bounded to
    /// [`TOKEN_TIMEOUT_MS`](super::endpoint::TOKEN_TIMEOUT_MS)).
    ///
    /// Errors are `ErrorKind::Unauthenticated` with a hint for the user (session expired, no
    /// credentials, unsupported type, unreadable file, endpoint refused), or
    /// `ErrorKind::Timeout` when a token endpoint did not answer in time.
    pub async fn token<T: Transport, C: Clock>(&self, transport: &T, clock: &C) -> Result<String> {
        let ProviderSource::Adc(env) = &self.source;
        let env = env.as_ref();
        if let Some(answer) = self.cached_answer(clock.now_ms()) {
            return answer;
        }
        let _refreshing = self.refresh.lock().await;
        // Whoever held the lock before us may have just refreshed (or just failed): look
        // again before making a request of our own. This is what makes it single-flight.
        if let Some(answer) = self.cached_answer(clock.now_ms()) {
            return answer;
        }
        let requested_at = clock.now_ms();
        let unix_s = u64::try_from(clock.unix_ms() / 1000).unwrap_or(0);
        let fetched = match adc::discover(env) {
            Ok(source) => source.fetch(transport, unix_s).await,
            Err(e) => Err(e),
        };
        // No RefCell borrow is held across the await above: other requests read the cache
        // while this one waits for the endpoint.
        let mut cache = self.cache.borrow_mut();
        match fetched {
            Ok(fetched) => {
                let token = fetched.token.expose().to_string();
                cache.store(fetched.token, requested_at, fetched.lifetime_ms);
                Ok(token)
            }
            Err(e) => {
                cache.record_failure(e.clone(), clock.now_ms());
                Err(e)
            }
        }
    }

    #[cfg(test)]
    /// Forget the cached token, so the next [`token`](Self::token) call fetches a new one.
    /// For a GCS 401: refresh once and retry the request once.
    ///
    /// Prefer [`invalidate_token`](Self::invalidate_token) when several requests may be in
    /// flight: this form also throws away a token another request has just refreshed.
    pub fn invalidate(&self) {
        self.cache.borrow_mut().invalidate();
    }

    /// Forget the cached token only if it is `rejected` (the token the 401'd request
    /// carried). When many in-flight requests get a 401 for the same token, the first call
    /// drops it and the rest are no-ops, so there is one refresh, not one per request.
    pub fn invalidate_token(&self, rejected: &str) {
        self.cache.borrow_mut().invalidate_if(rejected);
    }

    /// The cached answer at `now_ms`: a fresh token, the error of a failed fetch still in
    /// its backoff, or `None` when a fetch is due.
    fn cached_answer(&self, now_ms: u64) -> Option<Result<String>> {
        let cache = self.cache.borrow();
        if let Some(token) = cache.fresh(now_ms) {
            return Some(Ok(token));
        }
        cache.backoff(now_ms).map(Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::endpoint::TOKEN_TIMEOUT_MS;
    use crate::auth::hints;
    use crate::auth::test_support::{
        form_field, run, test_key_json, user_json, FakeClock, FakeEnv, ScriptedTransport,
    };
    use crate::auth::token_cache::REFRESH_MARGIN_MS;
    use crate::error::ErrorKind;
    use crate::transport::{Method, TransportError};
    use futures_util::future::join;

    const GCLOUD: &str = "/users/u/.config/gcloud/application_default_credentials.json";
    const TOKEN_OK: &str = r#"{"access_token":"tok-1","expires_in":3600,"token_type":"Bearer"}"#;
    const TOKEN_OK_2: &str = r#"{"access_token":"tok-2","expires_in":3600,"token_type":"Bearer"}"#;

    fn sa_env() -> FakeEnv {
        FakeEnv::new()
            .var("GOOGLE_APPLICATION_CREDENTIALS", "/k/sa.json")
            .file("/k/sa.json", &test_key_json("https://oauth.test/token"))
    }

    fn hint_of(kind: &ErrorKind) -> &str {
        match kind {
            ErrorKind::Unauthenticated { hint } => hint,
            k => panic!("expected Unauthenticated, got {k:?}"),
        }
    }

    #[test]
    fn service_account_posts_jwt_bearer_form_with_timeout() {
        let p = TokenProvider::new(sa_env());
        let t = ScriptedTransport::new().reply(200, TOKEN_OK);
        let clock = FakeClock::new();
        assert_eq!(run(p.token(&t, &clock)).unwrap(), "tok-1");
        let sent = t.sent();
        assert_eq!(sent.len(), 1);
        let (req, timeout) = &sent[0];
        assert_eq!(*timeout, TOKEN_TIMEOUT_MS);
        assert_eq!(req.method, Method::Post);
        assert_eq!(req.url, "https://oauth.test/token");
        assert_eq!(
            req.header_value("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        let body = String::from_utf8(req.body.clone()).unwrap();
        assert!(
            body.starts_with(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=ey"
            ),
            "{body}"
        );
        assert_eq!(
            form_field(&body, "assertion").unwrap().split('.').count(),
            3
        );
    }

    #[test]
    fn authorized_user_posts_refresh_grant() {
        let env = FakeEnv::new()
            .var("HOME", "/users/u")
            .file(GCLOUD, &user_json("https://oauth.test/token"));
        let p = TokenProvider::new(env);
        let t = ScriptedTransport::new().reply(200, TOKEN_OK);
        assert_eq!(run(p.token(&t, &FakeClock::new())).unwrap(), "tok-1");
        let (req, _) = &t.sent()[0];
        let body = String::from_utf8(req.body.clone()).unwrap();
        assert_eq!(
            form_field(&body, "grant_type").as_deref(),
            Some("refresh_token")
        );
        assert_eq!(form_field(&body, "client_id").as_deref(), Some("cid.apps"));
        assert_eq!(
            form_field(&body, "refresh_token").as_deref(),
            Some("1//refresh-SECRET")
        );
    }

    #[test]
    fn metadata_server_gets_flavor_header() {
        let env = FakeEnv::new().var("GCE_METADATA_HOST", "127.0.0.1:7777");
        let p = TokenProvider::new(env);
        let t = ScriptedTransport::new().reply(200, TOKEN_OK);
        assert_eq!(run(p.token(&t, &FakeClock::new())).unwrap(), "tok-1");
        let (req, timeout) = &t.sent()[0];
        assert_eq!(req.method, Method::Get);
        assert_eq!(
            req.url,
            "http://127.0.0.1:7777/computeMetadata/v1/instance/service-accounts/default/token"
        );
        assert_eq!(req.header_value("Metadata-Flavor"), Some("Google"));
        assert_eq!(*timeout, TOKEN_TIMEOUT_MS);
    }

    #[test]
    fn no_metadata_server_gives_the_no_credentials_hint() {
        let p = TokenProvider::new(FakeEnv::new().var("HOME", "/users/u"));
        let t = ScriptedTransport::new().fail(TransportError::Connection("refused".into()));
        let err = run(p.token(&t, &FakeClock::new())).unwrap_err();
        assert_eq!(hint_of(err.kind()), hints::NO_CREDENTIALS);
        assert!(
            err.message().contains("metadata.google.internal"),
            "{}",
            err.message()
        );
        assert!(t.sent()[0]
            .0
            .url
            .starts_with("http://metadata.google.internal/"));
    }

    #[test]
    fn invalid_grant_from_gcloud_file_is_surfaced_not_swallowed() {
        let env = FakeEnv::new()
            .var("HOME", "/users/u")
            .file(GCLOUD, &user_json("https://oauth.test/token"));
        let p = TokenProvider::new(env);
        // Only one scripted answer: a fall-through to the metadata server would panic in
        // the fake transport with "unexpected request".
        let t = ScriptedTransport::new().reply(
            400,
            r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
        );
        let err = run(p.token(&t, &FakeClock::new())).unwrap_err();
        assert_eq!(hint_of(err.kind()), hints::SESSION_EXPIRED);
        assert!(!err.is_retryable());
        assert!(err
            .message()
            .contains("User credential token refresh failed"));
        assert!(
            err.message().contains("gcloud ADC file"),
            "{}",
            err.message()
        );
        assert!(
            err.message().contains("HTTP 400 invalid_grant"),
            "{}",
            err.message()
        );
        assert!(
            err.message().contains("expired or revoked"),
            "{}",
            err.message()
        );
        assert!(!err.message().contains("SECRET"), "{}", err.message());
        assert_eq!(t.sent().len(), 1);
    }

    #[test]
    fn invalid_grant_for_service_account_also_gets_session_hint() {
        let p = TokenProvider::new(sa_env());
        let t = ScriptedTransport::new().reply(
            400,
            r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#,
        );
        let err = run(p.token(&t, &FakeClock::new())).unwrap_err();
        assert_eq!(hint_of(err.kind()), hints::SESSION_EXPIRED);
        assert!(err
            .message()
            .starts_with("Service account token exchange failed"));
    }

    #[test]
    fn other_endpoint_errors_get_generic_hint_and_5xx_is_retryable() {
        let p = TokenProvider::new(sa_env());
        let t = ScriptedTransport::new().reply(503, "backend unavailable");
        let err = run(p.token(&t, &FakeClock::new())).unwrap_err();
        assert_eq!(hint_of(err.kind()), hints::TOKEN_REFRESH_FAILED);
        assert!(err.is_retryable());
        assert!(err.message().contains("HTTP 503"), "{}", err.message());
        assert!(
            err.message().contains("backend unavailable"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn token_endpoint_timeout_is_a_timeout() {
        let p = TokenProvider::new(sa_env());
        let t = ScriptedTransport::new().fail(TransportError::Timeout);
        let err = run(p.token(&t, &FakeClock::new())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(err.message().contains("2000ms"), "{}", err.message());
    }

    #[test]
    fn errors_never_echo_secrets() {
        let env = FakeEnv::new()
            .var("HOME", "/users/u")
            .file(GCLOUD, &user_json("https://oauth.test/token"));
        let p = TokenProvider::new(env);
        // A misbehaving proxy that echoes the request and leaks a token.
        let t = ScriptedTransport::new().reply(
            502,
            "echo: refresh_token=1//refresh-SECRET client_secret=cs-SECRET ya29.a0AfH6SMBx3jLh8Qk2pZ",
        );
        let err = run(p.token(&t, &FakeClock::new())).unwrap_err();
        assert!(!err.message().contains("SECRET"), "{}", err.message());
        assert!(!err.message().contains("ya29.a0"), "{}", err.message());
        assert!(!format!("{err:?}").contains("SECRET"));
        assert!(!format!("{p:?}").contains("SECRET"));
    }

    #[test]
    fn malformed_success_body_is_not_quoted() {
        let p = TokenProvider::new(sa_env());
        let t = ScriptedTransport::new().reply(200, r#"{"access_token":"","leak":"LEAKED"}"#);
        let err = run(p.token(&t, &FakeClock::new())).unwrap_err();
        assert!(err.message().contains("malformed token response"));
        assert!(!err.message().contains("LEAKED"));
    }

    #[test]
    fn cache_hit_until_margin_then_refresh() {
        let p = TokenProvider::new(sa_env());
        let t = ScriptedTransport::new()
            .reply(200, TOKEN_OK)
            .reply(200, TOKEN_OK_2);
        let clock = FakeClock::new();
        assert_eq!(run(p.token(&t, &clock)).unwrap(), "tok-1");
        clock.advance(3_600_000 - REFRESH_MARGIN_MS - 1);
        assert_eq!(run(p.token(&t, &clock)).unwrap(), "tok-1");
        assert_eq!(t.sent().len(), 1, "cache hit");
        clock.advance(1);
        assert_eq!(run(p.token(&t, &clock)).unwrap(), "tok-2");
        assert_eq!(t.sent().len(), 2, "refreshed inside the margin");
        // The new assertion is dated by the wall clock at refresh time.
        let body = String::from_utf8(t.sent()[1].0.body.clone()).unwrap();
        assert!(form_field(&body, "assertion").is_some());
    }

    #[test]
    fn concurrent_callers_share_one_refresh() {
        let p = TokenProvider::new(sa_env());
        // One scripted answer: a second request would panic.
        let t = ScriptedTransport::new().reply(200, TOKEN_OK);
        let clock = FakeClock::new();
        let (a, b) = run(join(p.token(&t, &clock), p.token(&t, &clock)));
        assert_eq!(a.unwrap(), "tok-1");
        assert_eq!(b.unwrap(), "tok-1");
        assert_eq!(t.sent().len(), 1);
    }

    #[test]
    fn concurrent_callers_share_one_failure_then_back_off() {
        let p = TokenProvider::new(sa_env());
        let t = ScriptedTransport::new()
            .reply(500, "oops")
            .reply(200, TOKEN_OK);
        let clock = FakeClock::new();
        let (a, b) = run(join(p.token(&t, &clock), p.token(&t, &clock)));
        assert!(a.is_err() && b.is_err());
        assert_eq!(t.sent().len(), 1, "the waiter reused the failure");
        // Still inside the 1 s backoff: no request.
        clock.advance(999);
        assert!(run(p.token(&t, &clock)).is_err());
        assert_eq!(t.sent().len(), 1);
        clock.advance(1);
        assert_eq!(run(p.token(&t, &clock)).unwrap(), "tok-1");
        assert_eq!(t.sent().len(), 2);
    }

    #[test]
    fn invalidate_after_401_refreshes_once() {
        let p = TokenProvider::new(sa_env());
        let t = ScriptedTransport::new()
            .reply(200, TOKEN_OK)
            .reply(200, TOKEN_OK_2);
        let clock = FakeClock::new();
        let first = run(p.token(&t, &clock)).unwrap();
        // Two requests carrying tok-1 both got a 401.
        p.invalidate_token(&first);
        let second = run(p.token(&t, &clock)).unwrap();
        p.invalidate_token(&first); // the late 401 must not drop tok-2
        assert_eq!(run(p.token(&t, &clock)).unwrap(), "tok-2");
        assert_eq!(second, "tok-2");
        assert_eq!(t.sent().len(), 2);
    }

    #[test]
    fn plain_invalidate_forces_a_refresh() {
        let p = TokenProvider::new(sa_env());
        let t = ScriptedTransport::new()
            .reply(200, TOKEN_OK)
            .reply(200, TOKEN_OK_2);
        let clock = FakeClock::new();
        run(p.token(&t, &clock)).unwrap();
        p.invalidate();
        assert_eq!(run(p.token(&t, &clock)).unwrap(), "tok-2");
    }

    #[test]
    fn credentials_file_is_reread_on_refresh() {
        // First the user's login is dead; after `gcloud auth application-default login`
        // the file changes and the next refresh (after the backoff) uses it.
        let env = FakeEnv::new()
            .var("HOME", "/users/u")
            .file(GCLOUD, &user_json("https://oauth.test/token"));
        let files = env.files_handle();
        let p = TokenProvider::new(env);
        let t = ScriptedTransport::new()
            .reply(400, r#"{"error":"invalid_grant"}"#)
            .reply(200, TOKEN_OK);
        let clock = FakeClock::new();
        assert!(run(p.token(&t, &clock)).is_err());
        files
            .borrow_mut()
            .insert(GCLOUD.into(), user_json("https://oauth2.test/new"));
        clock.advance(1_000);
        assert_eq!(run(p.token(&t, &clock)).unwrap(), "tok-1");
        assert_eq!(t.sent()[1].0.url, "https://oauth2.test/new");
    }
}
