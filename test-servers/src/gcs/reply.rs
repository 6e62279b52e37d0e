//! What handlers return, and its conversion to a hyper response.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde_json::Value;

use super::errors::GcsError;

pub(crate) const JSON_CONTENT_TYPE: &str = "application/json; charset=UTF-8";

pub(crate) enum Body {
    Empty,
    Json(Value),
    Bytes(Bytes),
}

pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Body,
}

impl Reply {
    pub fn json(value: Value) -> Reply {
        Reply {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Body::Json(value),
        }
    }

    pub fn empty(status: StatusCode) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: Body::Empty,
        }
    }

    /// Adds a header. Values that cannot be a header (a content type with a newline stored
    /// from a JSON resource, say) are dropped rather than failing the whole response.
    pub fn header(mut self, name: &'static str, value: impl AsRef<str>) -> Reply {
        if let Ok(v) = HeaderValue::from_str(value.as_ref()) {
            self.headers.append(HeaderName::from_static(name), v);
        }
        self
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.headers.contains_key(name)
    }

    pub fn into_response(self) -> Response<Full<Bytes>> {
        let (bytes, content_type) = match self.body {
            Body::Empty => (Bytes::new(), None),
            Body::Json(v) => (Bytes::from(v.to_string()), Some(JSON_CONTENT_TYPE)),
            Body::Bytes(b) => (b, None),
        };
        // hyper derives Content-Length from the full body (and omits it for 204/304).
        let mut response = Response::new(Full::new(bytes));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        if let Some(ct) = content_type {
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        response
    }
}

impl From<GcsError> for Reply {
    fn from(err: GcsError) -> Reply {
        Reply {
            status: err.status,
            headers: HeaderMap::new(),
            body: err.body().map_or(Body::Empty, Body::Json),
        }
    }
}
