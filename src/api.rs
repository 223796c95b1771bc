//! The HTTP API: metrics, health and the management endpoints.
//!
//! | endpoint | answer |
//! |---|---|
//! | `GET /health/live` | 200 while the process serves requests (never needs the token) |
//! | `GET /health` | every connector's state; 200 when none is starting, failing or retrying, else 503 |
//! | `GET /ready` | 200 when every connector is snapshotting, streaming, finished or (cluster mode) run elsewhere, else 503 |
//! | `GET /cluster` | cluster mode: this worker, its connectors, and every worker of the group with its connectors |
//! | `GET /metrics` | Prometheus text |
//! | `GET /connectors`, `GET /connectors/{name}` | state, acknowledged position, lag, events, last error, snapshot rows |
//! | `POST /connectors/{name}/pause` \| `resume` \| `restart` | 202; the connector drains and stops, runs again, or restarts (also after a definite error) |
//! | `POST /connectors/{name}/snapshot` | 202 with an id: an incremental snapshot of `{"tables": [...], "filter": {"table": "SQL condition"}, "type": "incremental"}` (PostgreSQL) |
//! | `DELETE /connectors/{name}/snapshot`, `POST …/snapshot/stop` \| `pause` \| `resume` | 202; stop (`{"tables": [...]}` or all), pause or resume the incremental snapshots |
//!
//! Invariants: with `service.http_auth_token` set, every endpoint but `/health/live` needs
//! `Authorization: Bearer <token>` (compared in constant time); a client gets 5 s to send a
//! request's headers and 60 s per connection; errors are JSON, never a crash.
//!
//! At most [`MAX_CONNECTIONS`] connections are open at once, and idle ones cannot keep a new
//! client out: when the table is full, a new connection takes the place of the **oldest
//! connection that is not serving a request** (one still sending its headers, or idle between
//! keep-alive requests), which is closed. A connection younger than [`EVICTION_GRACE`] is
//! never evicted (its client may be about to send its request); during a burst of new
//! connections up to twice the limit are open. Only then, or when every open one is serving a request, is a new
//! connection refused. So a client holding many idle connections, however often
//! it renews them, cannot starve a liveness probe: the probe's fresh connection is the newest
//! and sends its request at once (issue 22).

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
/// How long a new connection is safe from eviction: time for its client to send a request.
pub const EVICTION_GRACE: Duration = Duration::from_millis(500);
/// Longest life of one connection (keep-alive included).
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone)]
struct Api {
    telemetry: Telemetry,
    controls: Controls,
    token: Option<Arc<SecretString>>,
    /// Cluster mode: this worker's view, once it joined.
    cluster: Cluster,
}

/// Where `GET /cluster` finds this worker's view (set once the worker joined its group).
pub type Cluster = Arc<tokio::sync::OnceCell<crate::cluster::ClusterView>>;

/// In cluster mode, a request for a connector another worker runs: 409 naming the worker
/// that runs it (its id and host, as the group coordinator knows them), so the client sends
/// it there.
async fn elsewhere(a: &Api, name: &str) -> Option<Response> {
    let view = a.cluster.get()?;
    let known = a.controls.snapshots(name).is_some() || a.telemetry.health().contains_key(name);
    if view.owns(name) || !known {
        return None;
    }
    let described = view.describe().await;
    let owner = described["workers"].as_array().and_then(|ws| {
        ws.iter()
            .find(|w| {
                w["connectors"]
                    .as_array()
                    .is_some_and(|cs| cs.iter().any(|c| c == name))
            })
            .cloned()
    });
    let message = match &owner {
        Some(w) => format!(
            "connector `{name}` runs on worker {} (host {}): send the request to that worker's API",
            w["worker_id"].as_str().unwrap_or("?"),
            w["host"].as_str().unwrap_or("?")
        ),
        None => format!(
            "connector `{name}` runs on no worker of this cluster right now (a rebalance is under way?): retry shortly"
        ),
    };
    Some(json(
        StatusCode::CONFLICT,
        serde_json::json!({ "error": message, "owner": owner }),
    ))
}

async fn cluster(State(a): State<Api>) -> Response {
    match a.cluster.get() {
        Some(view) => json(StatusCode::OK, view.describe().await),
        None => error(
            StatusCode::NOT_FOUND,
            "this process is not a cluster worker (service.cluster is not set), or it has not joined its group yet",
        ),
    }
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
    // A connector that has not yet acknowledged anything is not known to work: `starting`
    // is 503 too (issue 22: a broker down from the start showed 200 for the whole first
    // attempt).
    let ok = h.values().all(|s| {
        !matches!(
            s,
            Health::Failed { .. } | Health::Retrying { .. } | Health::Starting
        )
    });
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
            Health::Snapshotting | Health::Streaming | Health::Stopped | Health::Elsewhere
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

/// A connector's incremental snapshots as the API shows them (no key values: the position
/// inside a table is a row's key).
fn snapshots_json(p: &crate::event::SnapshotProgress) -> serde_json::Value {
    let tables: Vec<serde_json::Value> = p
        .queue
        .iter()
        .enumerate()
        .map(|(i, t)| {
            serde_json::json!({
                "id": t.id,
                "table": t.table,
                "filter": t.filter,
                "rows": t.rows,
                "estimated_rows": t.estimate,
                "rows_per_s": if i == 0 { p.rate } else { None },
                // The running table's time left at the rate this process reads it (none
                // until two chunks were written, or without an estimate).
                "eta_s": match (i, t.estimate, p.rate) {
                    (0, Some(e), Some(r)) if r > 0 => Some(e.saturating_sub(t.rows).div_ceil(r)),
                    _ => None,
                },
                "state": match (i, p.paused) {
                    (0, false) => "running",
                    (_, true) => "paused",
                    _ => "queued",
                },
            })
        })
        .collect();
    serde_json::json!({ "paused": p.paused, "tables": tables })
}

async fn connector(State(a): State<Api>, Path(name): Path<String>) -> Response {
    match a.telemetry.status(&name) {
        Some(mut s) => {
            if let (Some(p), Some(obj)) = (
                a.controls.snapshots(&name).and_then(|i| i.progress()),
                s.as_object_mut(),
            ) {
                obj.insert("incremental_snapshots".into(), snapshots_json(&p));
            }
            json(StatusCode::OK, s)
        }
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
    if let Some(r) = elsewhere(&a, &name).await {
        return r;
    }
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

/// The body of a snapshot request (Debezium's `execute-snapshot` data, in sluice's words).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotBody {
    #[serde(default)]
    tables: Vec<String>,
    /// Table → SQL condition its rows must meet.
    #[serde(default)]
    filter: std::collections::BTreeMap<String, String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

fn snapshot_inbox(
    a: &Api,
    name: &str,
) -> Result<crate::pipeline::control::SnapshotInbox, Box<Response>> {
    let Some(inbox) = a.controls.snapshots(name) else {
        return Err(Box::new(error(
            StatusCode::NOT_FOUND,
            format!("no connector named `{name}`"),
        )));
    };
    if !inbox.accepts() {
        return Err(Box::new(error(
            StatusCode::CONFLICT,
            format!("connector `{name}` takes no snapshot request now: it is not streaming, or its source has no incremental snapshots (PostgreSQL only so far)"),
        )));
    }
    Ok(inbox)
}

async fn snapshot(
    State(a): State<Api>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = elsewhere(&a, &name).await {
        return r;
    }
    let inbox = match snapshot_inbox(&a, &name) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let req: SnapshotBody = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the body is not a snapshot request ({e}); send {{\"tables\": [\"schema.table\"], \"filter\": {{\"schema.table\": \"condition\"}}, \"type\": \"incremental\"}}"),
            )
        }
    };
    let blocking = match req.kind.as_deref() {
        None | Some("incremental") => false,
        Some("blocking") => true,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("type `{other}` is not one of incremental, blocking"),
            )
        }
    };
    if req.tables.is_empty() {
        return error(StatusCode::BAD_REQUEST, "`tables` names no table");
    }
    if let Some(t) = req.filter.keys().find(|t| !req.tables.contains(t)) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("`filter` names `{t}`, which is not in `tables`"),
        );
    }
    let tables = req
        .tables
        .iter()
        .map(|t| (t.clone(), req.filter.get(t).cloned()))
        .collect();
    let id = inbox.execute(tables, blocking);
    tracing::info!(connector = %name, id = %id, tables = req.tables.len(), "incremental snapshot requested");
    json(
        StatusCode::ACCEPTED,
        serde_json::json!({ "connector": name, "id": id, "tables": req.tables }),
    )
}

async fn snapshot_stop(
    State(a): State<Api>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = elsewhere(&a, &name).await {
        return r;
    }
    snapshot_command(a, name, "stop".into(), body)
}

async fn snapshot_act(
    State(a): State<Api>,
    Path((name, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = elsewhere(&a, &name).await {
        return r;
    }
    snapshot_command(a, name, action, body)
}

fn snapshot_command(a: Api, name: String, action: String, body: axum::body::Bytes) -> Response {
    use crate::pipeline::control::SnapshotCommand;
    let inbox = match snapshot_inbox(&a, &name) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let cmd = match action.as_str() {
        "stop" => {
            let tables = if body.iter().all(u8::is_ascii_whitespace) {
                None
            } else {
                match serde_json::from_slice::<SnapshotBody>(&body) {
                    Ok(b) if !b.tables.is_empty() => Some(b.tables),
                    Ok(_) => None,
                    Err(e) => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            format!("the body is not a stop request ({e}); send {{\"tables\": [\"schema.table\"]}} or nothing (all)"),
                        )
                    }
                }
            };
            SnapshotCommand::Stop(tables)
        }
        "pause" => SnapshotCommand::Pause,
        "resume" => SnapshotCommand::Resume,
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                format!("no snapshot action `{action}`: use stop, pause or resume"),
            )
        }
    };
    inbox.command(cmd);
    tracing::info!(connector = %name, action = %action, "incremental snapshot request");
    json(
        StatusCode::ACCEPTED,
        serde_json::json!({ "connector": name, "snapshot": action }),
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
        .route("/cluster", get(cluster))
        .route("/connectors", get(connectors))
        .route("/connectors/{name}", get(connector))
        .route(
            "/connectors/{name}/snapshot",
            post(snapshot).delete(snapshot_stop),
        )
        .route("/connectors/{name}/snapshot/{action}", post(snapshot_act))
        .route("/connectors/{name}/{action}", post(act))
        .fallback(not_found)
        .method_not_allowed_fallback(|| async {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
        })
        .layer(middleware::from_fn_with_state(api.clone(), authorize))
        .with_state(api)
}

/// One open connection in the [`Connections`] table.
#[derive(Debug)]
struct Entry {
    /// When it was accepted: a connection younger than [`EVICTION_GRACE`] is never evicted
    /// (its client may not have sent its request yet).
    accepted: std::time::Instant,
    /// Serving a request now (headers read, response not yet written).
    busy: bool,
    /// Closes the connection when it is evicted.
    evict: Arc<tokio::sync::Notify>,
}

/// The open connections, oldest first (ids grow with accept order).
#[derive(Debug, Default)]
struct Table {
    next: u64,
    open: std::collections::BTreeMap<u64, Entry>,
}

/// The shared connection table; never locked across an `.await`.
#[derive(Debug, Clone, Default)]
struct Connections(Arc<std::sync::Mutex<Table>>);

/// A connection's place in the table, given back when it is dropped.
#[derive(Debug)]
struct Slot {
    id: u64,
    table: Connections,
    evict: Arc<tokio::sync::Notify>,
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding this lock leaves the table consistent (every update is one
        // map operation), so a poisoned lock is used as it is.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for a new connection: free, or taken from the oldest idle connection (which
    /// is told to close). Connections younger than [`EVICTION_GRACE`] are never evicted (one
    /// may be a client about to send its request), so during a burst of new ones up to
    /// [`MAX_CONNECTIONS`] more are let in; `None` beyond that.
    fn admit(&self) -> Option<Slot> {
        let mut t = self.lock();
        if t.open.len() >= MAX_CONNECTIONS {
            let oldest_idle = t
                .open
                .iter()
                .find(|(_, e)| !e.busy && e.accepted.elapsed() >= EVICTION_GRACE)
                .map(|(&id, _)| id);
            match oldest_idle {
                Some(id) => {
                    if let Some(e) = t.open.remove(&id) {
                        e.evict.notify_one();
                    }
                }
                None if t.open.len() < 2 * MAX_CONNECTIONS => {}
                None => return None,
            }
        }
        let id = t.next;
        t.next += 1;
        let evict = Arc::new(tokio::sync::Notify::new());
        t.open.insert(
            id,
            Entry {
                accepted: std::time::Instant::now(),
                busy: false,
                evict: Arc::clone(&evict),
            },
        );
        Some(Slot {
            id,
            table: self.clone(),
            evict,
        })
    }

    fn set_busy(&self, id: u64, busy: bool) {
        if let Some(e) = self.lock().open.get_mut(&id) {
            e.busy = busy;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.table.lock().open.remove(&self.id);
    }
}

/// Marks its connection idle again when the request's handling ends (or is dropped).
struct Busy<'a>(&'a Connections, u64);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.set_busy(self.1, false);
    }
}

/// Serve the API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    telemetry: Telemetry,
    controls: Controls,
    (token, cluster): (Option<SecretString>, Cluster),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(Api {
        telemetry,
        controls,
        token: token.map(Arc::new),
        cluster,
    });
    let table = Connections::default();
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
        let Some(slot) = table.admit() else {
            drop(stream);
            continue;
        };
        let app = app.clone();
        let evict = Arc::clone(&slot.evict);
        let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let app = app.clone();
            let table = slot.table.clone();
            let id = slot.id;
            // Busy from the moment the request's headers are read (synchronously, inside
            // the poll that read them), not from the handler's first poll.
            table.set_busy(id, true);
            async move {
                let _idle_after = Busy(&table, id);
                tower::ServiceExt::oneshot(app, req.map(axum::body::Body::new)).await
            }
        });
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::select! {
                _ = tokio::time::timeout(CONNECTION_TIMEOUT, conn) => {}
                _ = evict.notified() => {}
            }
        });
        // Give the new connection's task a turn to read before the next accept.
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 22: a client holding more than [`MAX_CONNECTIONS`] idle connections, each
    /// renewed the moment it is cut, while another polls `/health/live` (and, with the
    /// token, `/ready`) every 100 ms: every probe is answered within a second. Before, the
    /// limit was counted before authentication and 0 of 61 probes got in.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_connections_cannot_starve_the_probes() {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            Telemetry::new(),
            Controls::default(),
            (Some(SecretString::from("secret")), Cluster::default()),
            async move {
                let _ = stop_rx.await;
            },
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let renewed = Arc::new(AtomicUsize::new(0));
        // The attacker is another client: its own thread and runtime, as another process
        // would be, so its reconnect loop does not compete with the server for this one.
        let attacker = {
            let (stop, renewed) = (Arc::clone(&stop), Arc::clone(&renewed));
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("attacker runtime");
                rt.block_on(async move {
                    let tasks: Vec<_> = (0..MAX_CONNECTIONS + 16)
                        .map(|_| {
                            let (stop, renewed) = (Arc::clone(&stop), Arc::clone(&renewed));
                            tokio::spawn(async move {
                                while !stop.load(Ordering::Relaxed) {
                                    // Connect, send nothing, hold it until the server cuts
                                    // it; renew at once.
                                    if let Ok(mut c) = tokio::net::TcpStream::connect(addr).await {
                                        let mut b = [0u8; 64];
                                        let _ = tokio::time::timeout(
                                            Duration::from_secs(10),
                                            c.read(&mut b),
                                        )
                                        .await;
                                        renewed.fetch_add(1, Ordering::Relaxed);
                                    }
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        let _ = t.await;
                    }
                });
            })
        };
        // Let the attackers fill the table first.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let probe = |path: &'static str| async move {
            let mut c = tokio::net::TcpStream::connect(addr).await.ok()?;
            let req = format!(
                "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\nConnection: close\r\n\r\n"
            );
            c.write_all(req.as_bytes()).await.ok()?;
            let mut out = Vec::new();
            c.read_to_end(&mut out).await.ok()?;
            let text = String::from_utf8_lossy(&out).into_owned();
            Some(text.lines().next().unwrap_or("").to_string())
        };
        let mut answered = 0;
        for i in 0..40 {
            let path = if i % 2 == 0 { "/health/live" } else { "/ready" };
            let r = tokio::time::timeout(Duration::from_secs(1), probe(path)).await;
            match r {
                Ok(Some(line)) if line.contains(" 200 ") => answered += 1,
                other => panic!("probe {i} of {path}: {other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(answered, 40);
        // The attack was real: idle connections were cut and renewed the whole time.
        assert!(renewed.load(Ordering::Relaxed) >= 40, "{renewed:?}");
        stop.store(true, Ordering::Relaxed);
        let _ = stop_tx.send(());
        let _ = tokio::task::spawn_blocking(move || attacker.join()).await;
        let _ = server.await;
    }

    /// Token comparison: equal only when every byte is.
    #[test]
    fn token_compare() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
