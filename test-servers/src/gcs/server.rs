//! The HTTP/1.1 server: accept loop, per-connection tasks, body collection and the request
//! log. Handlers are synchronous (the whole body is read first), which keeps every state
//! change under one short mutex hold.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::errors::GcsError;
use super::reply::Reply;
use super::request::{decode_path, ApiRequest, Query};
use super::routes;
use super::store::Shared;
use super::RequestRecord;

/// Runs until aborted. Connection tasks live in a `JoinSet` owned by this future, so
/// aborting the accept task also drops (and aborts) every open connection.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Transient (e.g. out of file descriptors): back off instead of spinning.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let service = service_fn(move |req| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(respond(&shared, req).await) }
            });
            // A client hanging up mid-request is not the server's problem.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn respond(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let raw_path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().unwrap_or_default().to_owned();
    let body = body.collect().await.map(|c| c.to_bytes());

    let decoded = decode_path(&raw_path);
    let logged_path = decoded
        .as_ref()
        .map_or_else(|_| raw_path.clone(), |segs| format!("/{}", segs.join("/")));
    let reply = match (decoded, Query::parse(&raw_query), body) {
        (_, _, Err(_)) => Reply::from(GcsError::invalid("Could not read the request body.")),
        (Err(e), _, _) | (_, Err(e), _) => Reply::from(e),
        (Ok(segments), Ok(query), Ok(body)) => routes::handle(
            shared,
            &ApiRequest {
                method: parts.method.clone(),
                segments,
                query,
                headers: parts.headers,
                body,
            },
        ),
    };
    shared.log().push(RequestRecord {
        method: parts.method.to_string(),
        path: logged_path,
        query: raw_query,
        status: reply.status.as_u16(),
    });
    reply.into_response()
}
