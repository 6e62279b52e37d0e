//! The GCE/GKE/Cloud Run metadata server: the last ADC source (`docs/gcs.md#metadata-server`).

use super::endpoint::{request_token, Exchange, FetchedToken, Origin};
use super::CredentialEnv;
use crate::error::Result;
use crate::transport::{HttpRequest, Method, Transport};

/// The metadata server's DNS name on every Google compute platform.
pub(crate) const DEFAULT_METADATA_HOST: &str = "metadata.google.internal";

/// Path of the default service account's access token.
const TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";

/// The metadata host: `GCE_METADATA_HOST`, else the older `GCE_METADATA_ROOT`, else the
/// well-known name. Both variables hold `host[:port]`; a scheme or trailing slash that a
/// user added by habit is dropped rather than producing `http://http://…`.
pub(crate) fn metadata_host(env: &dyn CredentialEnv) -> String {
    ["GCE_METADATA_HOST", "GCE_METADATA_ROOT"]
        .iter()
        .filter_map(|name| env.var(name))
        .map(|v| {
            let v = v.trim();
            let v = v.strip_prefix("http://").unwrap_or(v);
            v.trim_end_matches('/').to_string()
        })
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_METADATA_HOST.to_string())
}

/// Ask the metadata server for the default service account's token.
pub(crate) async fn fetch<T: Transport>(host: &str, transport: &T) -> Result<FetchedToken> {
    // The Metadata-Flavor header is what the server checks to refuse requests forwarded by
    // a confused proxy (SSRF); without it the answer is a 403.
    let req = HttpRequest::new(Method::Get, format!("http://{host}{TOKEN_PATH}"))
        .header("metadata-flavor", "Google");
    let origin = Origin::Metadata(host.to_string());
    let ex = Exchange {
        context: "Metadata server token request failed",
        origin: &origin,
        sent_secrets: &[],
    };
    request_token(transport, &req, &ex).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::test_support::FakeEnv;

    #[test]
    fn host_comes_from_env_in_documented_order() {
        assert_eq!(metadata_host(&FakeEnv::new()), DEFAULT_METADATA_HOST);
        let env = FakeEnv::new().var("GCE_METADATA_ROOT", "legacy:1");
        assert_eq!(metadata_host(&env), "legacy:1");
        let env = env.var("GCE_METADATA_HOST", "http://127.0.0.1:8080/");
        assert_eq!(metadata_host(&env), "127.0.0.1:8080");
    }
}
