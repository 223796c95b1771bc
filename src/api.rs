//! The HTTP API: metrics, health and the management endpoints.
//!
//! | endpoint | answer |
//! |---|---|
//! | `GET /health/live` | 200 while the process serves requests (never needs the token) |
//! | `GET /health` | every connector's state; 200 when none is failing or retrying, else 503 |
//! | `GET /ready` | 200 when every connector is snapshotting, streaming or finished, else 503 |
//! | `GET /metrics` | Prometheus text |
//! | `GET /connectors`, `GET /connectors/{name}` | state, acknowledged position, lag, events, last error, snapshot rows |
//! | `POST /connectors/{name}/pause` \| `resume` \| `restart` | 202; the connector drains and stops, runs again, or restarts (also after a definite error) |
//!
//! Invariants: with `service.http_auth_token` set, every endpoint but `/health/live` needs
//! `Authorization: Bearer <token>` (compared in constant time); a client gets 5 s to send a
//! request's headers and 60 s per connection; at most [`MAX_CONNECTIONS`] connections are
//! served at once (more are closed at once); errors are JSON, never a crash.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use secrecy::{ExposeSecret, SecretString};

use crate::pipeline::control::{Action, Controls};
use crate::telemetry::{Health, Telemetry};

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// Time a client has to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest life of one connection (keep-alive included).
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone)]
struct Api {
    telemetry: Telemetry,
    controls: Controls,
    token: Option<Arc<SecretString>>,
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    json(status, serde_json::json!({ "error": message.into() }))
}

async fn metrics(State(a): State<Api>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        a.telemetry.render(),
    )
}

async fn live() -> Response {
    json(StatusCode::OK, serde_json::json!({ "status": "alive" }))
}

async fn health(State(a): State<Api>) -> Response {
    let h = a.telemetry.health();
    let ok = h
        .values()
        .all(|s| !matches!(s, Health::Failed { .. } | Health::Retrying { .. }));
    let body = serde_json::json!({ "status": if ok { "up" } else { "down" }, "connectors": h });
    json(
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        body,
    )
}

async fn ready(State(a): State<Api>) -> Response {
    let h = a.telemetry.health();
    let ready = h.values().all(|s| {
        matches!(
            s,
            Health::Snapshotting | Health::Streaming | Health::Stopped
        )
    });
    json(
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        serde_json::json!({ "ready": ready, "connectors": h }),
    )
}

async fn connectors(State(a): State<Api>) -> Response {
    let list: Vec<serde_json::Value> = a
        .controls
        .names()
        .iter()
        .filter_map(|n| a.telemetry.status(n))
        .collect();
    json(StatusCode::OK, serde_json::json!({ "connectors": list }))
}

async fn connector(State(a): State<Api>, Path(name): Path<String>) -> Response {
    match a.telemetry.status(&name) {
        Some(s) => json(StatusCode::OK, s),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no connector named `{name}`"),
        ),
    }
}

async fn act(State(a): State<Api>, Path((name, action)): Path<(String, String)>) -> Response {
    let act = match action.as_str() {
        "pause" => Action::Pause,
        "resume" => Action::Resume,
        "restart" => Action::Restart,
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                format!("no action `{action}`: use pause, resume or restart"),
            )
        }
    };
    if !a.controls.apply(&name, act) {
        return error(
            StatusCode::NOT_FOUND,
            format!("no connector named `{name}`"),
        );
    }
    tracing::info!(connector = %name, action = %action, "operator request");
    json(
        StatusCode::ACCEPTED,
        serde_json::json!({ "connector": name, "action": action }),
    )
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint")
}

/// Whether two byte strings are equal, in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn authorize(State(a): State<Api>, req: Request, next: Next) -> Response {
    let Some(token) = &a.token else {
        return next.run(req).await;
    };
    if req.uri().path() == "/health/live" {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(g) if same(g.as_bytes(), token.expose_secret().as_bytes()) => next.run(req).await,
        Some(_) => error(StatusCode::UNAUTHORIZED, "wrong bearer token"),
        None => {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "this API needs `Authorization: Bearer <service.http_auth_token>`",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            r
        }
    }
}

fn router(api: Api) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/health/live", get(live))
        .route("/ready", get(ready))
        .route("/connectors", get(connectors))
        .route("/connectors/{name}", get(connector))
        .route("/connectors/{name}/{action}", post(act))
        .fallback(not_found)
        .method_not_allowed_fallback(|| async {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
        })
        .layer(middleware::from_fn_with_state(api.clone(), authorize))
        .with_state(api)
}

/// Serve the API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    telemetry: Telemetry,
    controls: Controls,
    token: Option<SecretString>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(Api {
        telemetry,
        controls,
        token: token.map(Arc::new),
    });
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "http api: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, conn).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Token comparison: equal only when every byte is.
    #[test]
    fn token_compare() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
