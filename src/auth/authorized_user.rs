//! `authorized_user` credentials (what `gcloud auth application-default login` writes): a
//! refresh token exchanged for an access token (`docs/gcs.md#authorized-user-credentials`).

use std::fmt;

use serde_json::Value;

use super::endpoint::{request_token, Exchange, FetchedToken, Origin, DEFAULT_TOKEN_URI};
use super::secret::{form_body, Secret};
use crate::error::{Error, ErrorKind, Result};
use crate::transport::{HttpRequest, Method, Transport};

/// The fields of an `authorized_user` file.
#[derive(Clone)]
pub(crate) struct AuthorizedUser {
    /// OAuth client id (not secret, but kept out of messages anyway: it is noise).
    client_id: String,
    /// OAuth client secret.
    client_secret: Secret,
    /// The long-lived refresh token.
    refresh_token: Secret,
    /// Where to send the grant.
    pub(crate) token_uri: String,
}

impl fmt::Debug for AuthorizedUser {
    // Hand-written so neither secret can reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizedUser")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("token_uri", &self.token_uri)
            .finish()
    }
}

impl AuthorizedUser {
    /// Read the fields from a parsed credential file.
    pub(crate) fn from_json(v: &Value, origin: &Origin) -> Result<Self> {
        let field = |name: &str| -> Result<String> {
            match v.get(name).and_then(Value::as_str) {
                Some(s) if !s.is_empty() => Ok(s.to_string()),
                _ => Err(Error::new(
                    ErrorKind::Unauthenticated {
                        hint: origin.bad_file_hint().to_string(),
                    },
                    format!("{origin}: authorized_user credentials have no `{name}`"),
                )),
            }
        };
        Ok(AuthorizedUser {
            client_id: field("client_id")?,
            client_secret: Secret::new(field("client_secret")?),
            refresh_token: Secret::new(field("refresh_token")?),
            token_uri: v
                .get("token_uri")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or(DEFAULT_TOKEN_URI)
                .to_string(),
        })
    }
}

/// Run the refresh-token grant.
pub(crate) async fn fetch<T: Transport>(
    user: &AuthorizedUser,
    origin: &Origin,
    transport: &T,
) -> Result<FetchedToken> {
    let req = HttpRequest::new(Method::Post, user.token_uri.clone())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[
            ("grant_type", "refresh_token"),
            ("client_id", &user.client_id),
            ("client_secret", user.client_secret.expose()),
            ("refresh_token", user.refresh_token.expose()),
        ]));
    let ex = Exchange {
        context: "User credential token refresh failed",
        origin,
        sent_secrets: &[user.client_secret.expose(), user.refresh_token.expose()],
    };
    request_token(transport, &req, &ex).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn origin() -> Origin {
        Origin::GcloudFile("/users/u/.config/gcloud/application_default_credentials.json".into())
    }

    #[test]
    fn reads_fields_and_defaults_token_uri() {
        let v = json!({"type":"authorized_user","client_id":"cid","client_secret":"cs","refresh_token":"1//rt"});
        let u = AuthorizedUser::from_json(&v, &origin()).unwrap();
        assert_eq!(u.token_uri, DEFAULT_TOKEN_URI);
        let v = json!({"client_id":"cid","client_secret":"cs","refresh_token":"1//rt","token_uri":"http://127.0.0.1:9/token"});
        let u = AuthorizedUser::from_json(&v, &origin()).unwrap();
        assert_eq!(u.token_uri, "http://127.0.0.1:9/token");
    }

    #[test]
    fn missing_refresh_token_names_field_with_gcloud_hint() {
        let v = json!({"client_id":"cid","client_secret":"cs"});
        let err = AuthorizedUser::from_json(&v, &origin()).unwrap_err();
        assert!(
            err.message().contains("`refresh_token`"),
            "{}",
            err.message()
        );
        match err.kind() {
            ErrorKind::Unauthenticated { hint } => assert!(hint.contains("gcloud auth")),
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let v =
            json!({"client_id":"cid","client_secret":"cs-SECRET","refresh_token":"1//RT-SECRET"});
        let dbg = format!("{:?}", AuthorizedUser::from_json(&v, &origin()).unwrap());
        assert!(!dbg.contains("SECRET"), "{dbg}");
    }
}
