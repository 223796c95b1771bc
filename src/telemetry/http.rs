//! The small HTTP API: `GET /metrics` (Prometheus text) and `GET /health` (JSON; 200 when every
//! connector is running or finished, 503 otherwise). Bound to localhost by default.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::{Health, Telemetry};

async fn metrics(State(t): State<Telemetry>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        t.render(),
    )
}

async fn health(State(t): State<Telemetry>) -> impl IntoResponse {
    let h = t.health();
    let ok = h
        .values()
        .all(|s| !matches!(s, Health::Failed { .. } | Health::Retrying { .. }));
    let body = serde_json::json!({ "status": if ok { "up" } else { "down" }, "connectors": h });
    (
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
}

/// Serve the API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    telemetry: Telemetry,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .with_state(telemetry);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
