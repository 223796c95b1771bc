//! The management API on a running process: the bearer token on every endpoint but the
//! liveness probe, connector status, pause/resume/restart without losing a change, JSON
//! errors for bad requests, a slow client cut off; and connectors isolated from each other:
//! a definite error stops that connector only, `--fail-fast` stops the process.

use std::time::Duration;

use serde_json::Value as Json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::kafka::{kcat_read, Kafka};
use crate::support::postgres::Pg;
use crate::support::sluice::{self, Sluice};
use crate::support::{free_port, wait_for};

const TOKEN: &str = "t0ken-for-tests";

/// (status, JSON body) of a request, with or without the token.
async fn call(method: &str, http: u16, path: &str, token: Option<&str>) -> (u16, Json) {
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{http}{path}");
    let mut req = match method {
        "POST" => client.post(&url),
        _ => client.get(&url),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    match req.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Json::String(text)),
            )
        }
        Err(_) => (0, Json::Null),
    }
}

async fn state(http: u16, name: &str) -> Json {
    call("GET", http, &format!("/connectors/{name}"), Some(TOKEN))
        .await
        .1
}

async fn wait_state(http: u16, name: &str, want: &str) -> Json {
    wait_for(
        &format!("{name} {want}"),
        Duration::from_secs(60),
        || async {
            let s = state(http, name).await;
            (s["state"] == want).then_some(s)
        },
    )
    .await
}

/// Wait until the record of key `id` is on `topic`.
async fn wait_id(bootstrap: &str, topic: &str, id: i64, what: &str) {
    wait_for(what, Duration::from_secs(60), || async {
        ids(bootstrap, topic).contains(&id).then_some(())
    })
    .await
}

fn ids(bootstrap: &str, topic: &str) -> Vec<i64> {
    kcat_read(bootstrap, topic)
        .iter()
        .filter_map(|r| r.key.as_ref()?.get("id")?.as_i64())
        .collect()
}

struct Setup {
    _pg: Pg,
    db: tokio_postgres::Client,
    _kafka: Kafka,
    bootstrap: String,
    tmp: tempfile::TempDir,
    http: u16,
}

async fn setup(connectors: &dyn Fn(u16, &str) -> String, service_extra: &str) -> Setup {
    let pg = Pg::start("logical");
    let db = pg.create_db("app").await;
    db.batch_execute(
        "CREATE TABLE items (id int primary key, v text); INSERT INTO items VALUES (1, 'a');",
    )
    .await
    .expect("setup");
    let kafka = Kafka::start();
    let bootstrap = kafka.bootstrap();
    let tmp = crate::support::test_dir();
    let http = free_port();
    let yaml = format!(
        "service:\n  http_listen_addr: 127.0.0.1:{http}\n  offsets_dir: {off}\n{service_extra}connectors:\n{}",
        connectors(pg.port, &bootstrap),
        off = tmp.path().join("offsets").display(),
    );
    sluice::write_raw(tmp.path(), "api.yaml", &yaml);
    Setup {
        _pg: pg,
        db,
        _kafka: kafka,
        bootstrap,
        tmp,
        http,
    }
}

fn connector(name: &str, port: u16, bootstrap: &str, table: &str) -> String {
    format!(
        "  {name}:\n    source:\n      type: postgres\n      host: 127.0.0.1\n      port: {port}\n      user: postgres\n      database: app\n      tables: [{table}]\n      slot_name: {name}_slot\n      publication_name: {name}_pub\n      status_interval_ms: 200\n    sink:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n      topic_prefix: {name}\n"
    )
}

fn start(s: &Setup) -> Sluice {
    sluice::spawn(
        &s.tmp.path().join("api.yaml"),
        &s.tmp.path().join("sluice.log"),
    )
}

/// The token guards everything but `/health/live`; status, pause (nothing delivered while
/// paused), resume (everything delivered), restart; bad requests get JSON errors; a client
/// that never finishes its headers is cut off.
#[tokio::test(flavor = "multi_thread")]
async fn management_api_with_token() {
    let s = setup(
        &|port, b| connector("ap", port, b, "public.items"),
        &format!("  http_auth_token: {TOKEN}\n"),
    )
    .await;
    let _child = start(&s);
    let http = s.http;
    wait_for("the API", Duration::from_secs(30), || async {
        (call("GET", http, "/health/live", None).await.0 == 200).then_some(())
    })
    .await;
    for path in [
        "/metrics",
        "/health",
        "/ready",
        "/connectors",
        "/connectors/ap",
    ] {
        let (status, body) = call("GET", http, path, None).await;
        assert_eq!(status, 401, "{path} without a token: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains("Bearer")),
            "{body}"
        );
        assert_eq!(
            call("GET", http, path, Some("wrong")).await.0,
            401,
            "{path}"
        );
    }
    let st = wait_state(http, "ap", "streaming").await;
    assert!(st["acknowledged"]["lsn"].is_string(), "{st}");
    assert_eq!(st["snapshot_rows"]["public.items"], 1, "{st}");
    assert_eq!(call("GET", http, "/ready", Some(TOKEN)).await.0, 200);
    // The operator's metrics: state, snapshot progress, slot lag (after a keepalive).
    let metrics = wait_for("slot lag in /metrics", Duration::from_secs(30), || async {
        let m = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{http}/metrics"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        m.contains("sluice_replication_slot_lag_bytes{connector=\"ap\"}")
            .then_some(m)
    })
    .await;
    for line in [
        "sluice_connector_state{connector=\"ap\",state=\"streaming\"} 1",
        "sluice_connector_state{connector=\"ap\",state=\"failed\"} 0",
        "sluice_snapshot_tables_remaining{connector=\"ap\"} 0",
        "sluice_snapshot_rows_total{connector=\"ap\",table=\"public.items\"} 1",
        "sluice_snapshot_rows_estimated{connector=\"ap\",table=\"public.items\"}",
    ] {
        assert!(metrics.contains(line), "{line} not in /metrics:\n{metrics}");
    }
    let (status, list) = call("GET", http, "/connectors", Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(list["connectors"][0]["name"], "ap", "{list}");
    // Bad requests: JSON errors, and the process keeps serving.
    let (status, body) = call("GET", http, "/connectors/nope", Some(TOKEN)).await;
    assert_eq!((status, body["error"].is_string()), (404, true), "{body}");
    let (status, body) = call("POST", http, "/connectors/ap/explode", Some(TOKEN)).await;
    assert_eq!((status, body["error"].is_string()), (404, true), "{body}");
    let (status, body) = call("GET", http, "/connectors/ap/pause", Some(TOKEN)).await;
    assert_eq!((status, body["error"].is_string()), (405, true), "{body}");
    let (status, body) = call("POST", http, "/nothing/here", Some(TOKEN)).await;
    assert_eq!((status, body["error"].is_string()), (404, true), "{body}");
    // Pause: the connector drains and stops; nothing written meanwhile is delivered.
    let (status, _) = call("POST", http, "/connectors/ap/pause", Some(TOKEN)).await;
    assert_eq!(status, 202);
    let st = wait_state(http, "ap", "stopped").await;
    assert_eq!(st["paused"], true, "{st}");
    s.db.execute("INSERT INTO items VALUES (2, 'while paused')", &[])
        .await
        .expect("insert");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !ids(&s.bootstrap, "ap.public.items").contains(&2),
        "delivered while paused"
    );
    // Resume: it picks up from its acknowledged position.
    assert_eq!(
        call("POST", http, "/connectors/ap/resume", Some(TOKEN))
            .await
            .0,
        202
    );
    wait_id(
        &s.bootstrap,
        "ap.public.items",
        2,
        "the row written while paused",
    )
    .await;
    wait_state(http, "ap", "streaming").await;
    // Restart: stops and starts again, nothing lost.
    assert_eq!(
        call("POST", http, "/connectors/ap/restart", Some(TOKEN))
            .await
            .0,
        202
    );
    s.db.execute("INSERT INTO items VALUES (3, 'around a restart')", &[])
        .await
        .expect("insert");
    wait_id(
        &s.bootstrap,
        "ap.public.items",
        3,
        "the row written around the restart",
    )
    .await;
    wait_state(http, "ap", "streaming").await;
    // A client that never finishes its request headers is cut off.
    let mut slow = tokio::net::TcpStream::connect(("127.0.0.1", http))
        .await
        .expect("connect");
    slow.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("half a request");
    let mut buf = [0u8; 256];
    let cut = tokio::time::timeout(Duration::from_secs(15), slow.read(&mut buf)).await;
    assert!(
        matches!(cut, Ok(Ok(_)) | Ok(Err(_))),
        "a half-sent request was still open after 15 s"
    );
    assert_eq!(call("GET", http, "/health/live", None).await.0, 200);
}

/// Two connectors in one process: one fails definitively (its listed table is a view), the
/// other keeps streaming; the failed one is `failed` with its hint until an operator
/// restarts it (after the view was replaced by a table). With `--fail-fast` the same failure stops
/// the process with a non-zero status.
#[tokio::test(flavor = "multi_thread")]
async fn one_connector_fails_alone() {
    let s = setup(
        &|port, b| {
            connector("good", port, b, "public.items") + &connector("bad", port, b, "public.later")
        },
        "",
    )
    .await;
    s.db.batch_execute("CREATE VIEW later AS SELECT 1 AS id; CREATE VIEW never AS SELECT 1 AS id;")
        .await
        .expect("views");
    let mut child = start(&s);
    let http = s.http;
    let bad = wait_state(http, "bad", "failed").await;
    assert!(
        bad["error"]
            .as_str()
            .is_some_and(|e| e.contains("public.later")),
        "{bad}"
    );
    assert!(bad["hint"].as_str().is_some_and(|h| !h.is_empty()), "{bad}");
    assert_eq!(bad["last_error"]["definite"], true, "{bad}");
    wait_state(http, "good", "streaming").await;
    s.db.execute("INSERT INTO items VALUES (2, 'after the failure')", &[])
        .await
        .expect("insert");
    wait_id(
        &s.bootstrap,
        "good.public.items",
        2,
        "the good connector's change",
    )
    .await;
    let (status, _) = call("GET", http, "/health", None).await;
    assert_eq!(status, 503, "a failed connector makes /health 503");
    assert!(
        child.0.try_wait().expect("wait").is_none(),
        "the process exited"
    );
    // Fixed by the operator: create the table, restart the connector.
    s.db.batch_execute(
        "DROP VIEW later; CREATE TABLE later (id int primary key); INSERT INTO later VALUES (7);",
    )
    .await
    .expect("create");
    assert_eq!(
        call("POST", http, "/connectors/bad/restart", None).await.0,
        202
    );
    wait_state(http, "bad", "streaming").await;
    assert!(ids(&s.bootstrap, "bad.public.later").contains(&7));
    let status = child.terminate();
    assert_eq!(status.code(), Some(0), "a clean stop after the restart");

    // --fail-fast: the first definite failure stops every connector.
    s.db.batch_execute("DROP TABLE later").await.expect("drop");
    let yaml = std::fs::read_to_string(s.tmp.path().join("api.yaml"))
        .expect("config")
        .replace("public.later", "public.never")
        .replace("bad_slot", "bad2_slot")
        .replace("bad_pub", "bad2_pub");
    let cfg = sluice::write_raw(s.tmp.path(), "fast.yaml", &yaml);
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["run", "--fail-fast", "--config"])
            .arg(&cfg)
            .output()
            .expect("run")
    });
    let out = tokio::time::timeout(Duration::from_secs(90), out)
        .await
        .expect("--fail-fast exits by itself")
        .expect("join");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("public.never"), "{stderr}");
}

/// A broker that requires SASL (PLAIN): with the right password sluice delivers; with a
/// wrong one the connector is `failed` with an authentication error and a SASL hint (not
/// "unreachable", not retried forever), and the password appears in no log line.
#[tokio::test(flavor = "multi_thread")]
async fn kafka_sasl_login_and_refusal() {
    let kafka = Kafka::start_sasl();
    let redis = crate::support::targets::redis();
    let pg = Pg::start("logical");
    let db = pg.create_db("app").await;
    db.batch_execute(
        "CREATE TABLE items (id int primary key, v text); INSERT INTO items VALUES (1, 'a');",
    )
    .await
    .expect("setup");
    for (password, good) in [
        (crate::support::kafka::SASL_PASSWORD, true),
        ("Wr0ngPassw0rd", false),
    ] {
        let tmp = crate::support::test_dir();
        let http = free_port();
        let name = if good { "sasl_ok" } else { "sasl_bad" };
        let sasl = format!("{{mechanism: PLAIN, username: sluice, password: \"{password}\"}}");
        // With the wrong password, a sink connector's consumer too.
        let consumer = if good {
            String::new()
        } else {
            format!(
                "  sasl_sink:\n    source:\n      type: kafka\n      bootstrap_servers: \"{}\"\n      topics: [sasl_ok.public.items]\n      sasl: {sasl}\n    sink:\n      type: redis\n      url: redis://127.0.0.1:{}/0\n",
                kafka.sasl_bootstrap(),
                redis.port
            )
        };
        let yaml = format!(
            "service:\n  http_listen_addr: 127.0.0.1:{http}\n  offsets_dir: {off}\nconnectors:\n{}      sasl: {sasl}\n{consumer}",
            connector(name, pg.port, &kafka.sasl_bootstrap(), "public.items"),
            off = tmp.path().join("offsets").display(),
        );
        let cfg = sluice::write_raw(tmp.path(), "sasl.yaml", &yaml);
        let log = tmp.path().join("sluice.log");
        let _child = sluice::spawn(&cfg, &log);
        if good {
            wait_for("records over SASL", Duration::from_secs(60), || async {
                ids(&kafka.bootstrap(), "sasl_ok.public.items")
                    .contains(&1)
                    .then_some(())
            })
            .await;
            wait_state(http, name, "streaming").await;
        } else {
            let st = wait_state(http, name, "failed").await;
            let error = st["error"].as_str().unwrap_or_default();
            assert!(error.contains("refused the login"), "{st}");
            assert!(!error.contains("unreachable"), "{st}");
            assert!(
                st["hint"].as_str().is_some_and(|h| h.contains("sink.sasl")),
                "{st}"
            );
            let st = wait_state(http, "sasl_sink", "failed").await;
            assert!(
                st["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("refused the consumer's login")),
                "{st}"
            );
            assert!(
                st["hint"]
                    .as_str()
                    .is_some_and(|h| h.contains("source.sasl")),
                "{st}"
            );
            let logs = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(!logs.contains(password), "the password is in the log");
        }
    }
}

/// Heartbeats (`heartbeat_interval_ms`, 1 s: slower than kcat's fetch wait, so it sees the
/// end of the topic): Debezium's records on
/// `__debezium-heartbeat.<prefix>` with the acknowledged position in a header; and while only
/// an uncaptured table is written, the slot's confirmed position still advances.
#[tokio::test(flavor = "multi_thread")]
async fn heartbeats_and_idle_slot_advance() {
    let s = setup(
        &|port, b| {
            connector("hb", port, b, "public.items").replace(
                "    source:",
                "    heartbeat_interval_ms: 1000\n    source:",
            )
        },
        "",
    )
    .await;
    s.db.batch_execute("CREATE TABLE other (id int primary key)")
        .await
        .expect("uncaptured table");
    let _child = start(&s);
    wait_state(s.http, "hb", "streaming").await;
    let topic = "__debezium-heartbeat.hb";
    let beats = wait_for("three heartbeats", Duration::from_secs(30), || async {
        let r = kcat_read(&s.bootstrap, topic);
        (r.len() >= 3).then_some(r)
    })
    .await;
    for b in &beats {
        assert_eq!(b.key, Some(serde_json::json!({"serverName": "hb"})));
        let v = b.value.as_ref().expect("value");
        assert!(
            v["ts_ms"].as_i64().is_some_and(|t| t > 1_600_000_000_000),
            "{v}"
        );
        assert_eq!(v.as_object().map(|o| o.len()), Some(1), "{v}");
    }
    let headers = crate::support::kafka::kcat_format(&s.bootstrap, topic, &["-c", "1"], "%h\n");
    assert!(
        headers.contains("sluice.position=") && headers.contains("\"lsn\""),
        "{headers}"
    );
    // Only the uncaptured table changes: the slot still moves past those writes.
    for i in 0..50 {
        s.db.execute("INSERT INTO other VALUES ($1)", &[&i])
            .await
            .expect("insert");
    }
    let lsn = |s: &str| {
        let (a, b) = s.split_once('/').expect("lsn");
        (u64::from_str_radix(a, 16).expect("hex") << 32) | u64::from_str_radix(b, 16).expect("hex")
    };
    let written: String =
        s.db.query_one("SELECT pg_current_wal_lsn()::text", &[])
            .await
            .expect("lsn")
            .get(0);
    wait_for("the slot to pass the uncaptured writes", Duration::from_secs(60), || async {
        let confirmed: String = s
            .db
            .query_one(
                "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'hb_slot'",
                &[],
            )
            .await
            .ok()?
            .get(0);
        (lsn(&confirmed) >= lsn(&written)).then_some(())
    })
    .await;
}

/// Broken servers, each in its own connector of one process: PostgreSQL not listening and
/// Redis not listening are `retrying` with the OS's cause; a wrong Redis password is
/// `failed` with a credentials hint and the password in no log line; the process keeps
/// running and a healthy connector keeps streaming.
#[tokio::test(flavor = "multi_thread")]
async fn broken_servers_reported_with_their_cause() {
    let closed = free_port();
    let redis = crate::support::targets::redis_requiring("rightpass");
    let redis_port = redis.port;
    let sink = |name: &str, bootstrap: &str, url: &str| {
        format!("  {name}:\n    source:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n      topics: [good.public.items]\n    sink:\n      type: redis\n      url: {url}\n")
    };
    let s = setup(
        &|port, b| {
            connector("good", port, b, "public.items")
                + &connector("pg_down", closed, b, "public.items")
                + &sink("redis_down", b, &format!("redis://127.0.0.1:{closed}/0"))
                + &sink(
                    "redis_auth",
                    b,
                    &format!("redis://:Wr0ngRedisPw@127.0.0.1:{redis_port}/0"),
                )
        },
        "",
    )
    .await;
    let mut child = start(&s);
    let http = s.http;
    wait_state(http, "good", "streaming").await;
    wait_for(
        "pg_down retrying with its cause",
        Duration::from_secs(60),
        || async {
            let pg = state(http, "pg_down").await;
            let e = pg["error"].as_str().unwrap_or_default();
            (pg["state"] == "retrying" && e.contains("while connecting") && e.contains("refused"))
                .then_some(())
        },
    )
    .await;
    // `retrying` may first say the attempt is slow to start (5 s), then the attempt's cause.
    wait_for(
        "redis_down retrying with its cause",
        Duration::from_secs(60),
        || async {
            let rd = state(http, "redis_down").await;
            (rd["state"] == "retrying"
                && rd["error"]
                    .as_str()
                    .is_some_and(|e| e.to_lowercase().contains("refused")))
            .then_some(())
        },
    )
    .await;
    let ra = wait_state(http, "redis_auth", "failed").await;
    assert!(
        ra["hint"].as_str().is_some_and(|h| h.contains("password")),
        "{ra}"
    );
    assert!(
        child.0.try_wait().expect("wait").is_none(),
        "the process exited"
    );
    s.db.execute("INSERT INTO items VALUES (9, 'still streaming')", &[])
        .await
        .expect("insert");
    wait_id(
        &s.bootstrap,
        "good.public.items",
        9,
        "the healthy connector's change",
    )
    .await;
    let logs = std::fs::read_to_string(s.tmp.path().join("sluice.log")).unwrap_or_default();
    assert!(
        !logs.contains("Wr0ngRedisPw"),
        "the Redis password is in the log"
    );
    drop(redis);
}

/// Issue 22: with the broker (and a sink's search server) down from the start, `/health`
/// sampled every 250 ms for 30 s never answers 200; after the first seconds each connector
/// is `retrying` with a reason, never back to `starting` between attempts.
#[tokio::test(flavor = "multi_thread")]
async fn health_is_never_200_while_nothing_works() {
    let pg = Pg::start("logical");
    let db = pg.create_db("app").await;
    db.batch_execute("CREATE TABLE items (id int primary key, v text)")
        .await
        .expect("setup");
    let dead_broker = format!("127.0.0.1:{}", free_port());
    let dead_search = free_port();
    let tmp = crate::support::test_dir();
    let http = free_port();
    let yaml = format!(
        "service:\n  http_listen_addr: 127.0.0.1:{http}\n  offsets_dir: {off}\nconnectors:\n{}  apply:\n    source:\n      type: kafka\n      bootstrap_servers: \"{dead_broker}\"\n      topics: [down.public.items]\n    sink:\n      type: search\n      url: http://127.0.0.1:{dead_search}\n",
        connector("down", pg.port, &dead_broker, "public.items"),
        off = tmp.path().join("offsets").display(),
    );
    let cfg = sluice::write_raw(tmp.path(), "down.yaml", &yaml);
    let _child = sluice::spawn(&cfg, &tmp.path().join("sluice.log"));
    let started = std::time::Instant::now();
    let mut answered = 0;
    let mut retrying_seen = std::collections::BTreeSet::new();
    while started.elapsed() < Duration::from_secs(30) {
        let (status, body) = call("GET", http, "/health", None).await;
        assert_ne!(status, 200, "after {:?}: {body}", started.elapsed());
        if status != 0 {
            answered += 1;
            for (name, st) in body["connectors"].as_object().into_iter().flatten() {
                if st["state"] == "retrying" {
                    assert!(st["error"].as_str().is_some_and(|e| !e.is_empty()), "{st}");
                    retrying_seen.insert(name.clone());
                } else if started.elapsed() > Duration::from_secs(8) {
                    panic!("{name} after {:?}: {st}", started.elapsed());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // About 120 samples on an idle machine; fewer when the suite loads it.
    assert!(answered > 50, "{answered}");
    assert_eq!(retrying_seen.len(), 2, "{retrying_seen:?}");
}
