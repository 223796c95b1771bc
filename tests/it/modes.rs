//! Snapshot modes, in process (library API) against the mock cluster.

use std::sync::Arc;
use std::time::Duration;

use sluice::telemetry::Telemetry;
use tokio::sync::watch;

use crate::support::kafka::kcat_read;
use crate::support::postgres::Pg;
use crate::support::wait_for;

fn settings(pg_port: u16, bootstrap: &str, mode: &str) -> sluice::config::Settings {
    let text = format!(
        "connectors:\n  m:\n    source:\n      type: postgres\n      host: 127.0.0.1\n      port: {pg_port}\n      user: postgres\n      database: app\n      tables: [public.t]\n      snapshot_mode: {mode}\n      status_interval_ms: 200\n    sink:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n      create_topics: false\n"
    );
    let s = sluice::config::parse(&text, "test", |_| None).expect("config parses");
    s.validate().expect("config valid");
    s
}

async fn setup(pg: &Pg) -> tokio_postgres::Client {
    let c = pg.create_db("app").await;
    c.batch_execute(
        "CREATE TABLE t (id int primary key, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 50) g;",
    )
    .await
    .expect("setup");
    c
}

fn ids(records: &[crate::support::kafka::KRecord], op: &str) -> Vec<i64> {
    records
        .iter()
        .filter(|r| r.value.as_ref().is_some_and(|v| v["op"] == op))
        .map(|r| r.key.as_ref().expect("key")["id"].as_i64().expect("id"))
        .collect()
}

/// `initial_only` delivers every row as `r` (first/last markers set) and then the connector
/// finishes on its own without creating a replication slot.
#[tokio::test(flavor = "multi_thread")]
async fn initial_only_snapshots_then_stops() {
    let pg = Pg::start("logical");
    let c = setup(&pg).await;
    let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    cluster
        .create_topic("m.public.t", 1, 1)
        .expect("create topic");
    let s = settings(pg.port, &cluster.bootstrap_servers(), "initial_only");
    let dir = tempfile::tempdir().expect("tmp");
    let (_stop_tx, stop_rx) = watch::channel(false);
    let (name, conn) = s.connectors.into_iter().next().expect("one connector");
    tokio::time::timeout(
        Duration::from_secs(60),
        sluice::pipeline::run_connector(
            name,
            Arc::new(conn),
            &sluice::config::ServiceSettings {
                offsets_dir: dir.path().to_path_buf(),
                ..Default::default()
            },
            Telemetry::new(),
            stop_rx,
            sluice::pipeline::control::Controls::default().register("m"),
        ),
    )
    .await
    .expect("finishes by itself")
    .expect("no error");
    let records = kcat_read(&cluster.bootstrap_servers(), "m.public.t");
    let mut got = ids(&records, "r");
    got.sort();
    assert_eq!(got, (1..=50).collect::<Vec<_>>());
    let markers: Vec<_> = records
        .iter()
        .map(|r| r.value.as_ref().expect("value")["source"]["snapshot"].clone())
        .collect();
    assert_eq!(markers.first().and_then(|m| m.as_str()), Some("first"));
    assert_eq!(markers.last().and_then(|m| m.as_str()), Some("last"));
    let slots = c
        .query("SELECT 1 FROM pg_replication_slots", &[])
        .await
        .expect("slots");
    assert!(
        slots.is_empty(),
        "initial_only must not leave a slot behind"
    );
}

/// `no_data` streams changes made after start and never reads existing rows; a graceful
/// shutdown leaves the slot confirmed up to the delivered changes.
#[tokio::test(flavor = "multi_thread")]
async fn no_data_streams_only() {
    let pg = Pg::start("logical");
    let c = setup(&pg).await;
    let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    cluster
        .create_topic("m.public.t", 1, 1)
        .expect("create topic");
    let bootstrap = cluster.bootstrap_servers();
    let s = settings(pg.port, &bootstrap, "no_data");
    let dir = tempfile::tempdir().expect("tmp");
    let (stop_tx, stop_rx) = watch::channel(false);
    let (name, conn) = s.connectors.into_iter().next().expect("one connector");
    let service = sluice::config::ServiceSettings {
        offsets_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    let telemetry = Telemetry::new();
    let t = telemetry.clone();
    let task = tokio::spawn(async move {
        let control = sluice::pipeline::control::Controls::default().register("m");
        sluice::pipeline::run_connector(name, Arc::new(conn), &service, t, stop_rx, control).await
    });
    wait_for("the slot", Duration::from_secs(30), || async {
        let r = c
            .query("SELECT 1 FROM pg_replication_slots WHERE active", &[])
            .await
            .expect("slots");
        (!r.is_empty()).then_some(())
    })
    .await;
    c.batch_execute("INSERT INTO t VALUES (100, 'new'); UPDATE t SET v = 'x' WHERE id = 1; DELETE FROM t WHERE id = 2;")
        .await
        .expect("changes");
    let records = wait_for("3 changes + tombstone", Duration::from_secs(30), || async {
        let r = kcat_read(&bootstrap, "m.public.t");
        (r.len() >= 4).then_some(r)
    })
    .await;
    assert!(ids(&records, "r").is_empty(), "no snapshot rows");
    let ops: Vec<_> = records
        .iter()
        .map(|r| {
            r.value
                .as_ref()
                .map(|v| v["op"].as_str().unwrap_or("").to_string())
        })
        .collect();
    assert_eq!(
        ops,
        vec![Some("c".into()), Some("u".into()), Some("d".into()), None],
        "one transaction, in order, tombstone after delete"
    );
    // The end-to-end latency histogram saw the streamed transaction, and so did its source
    // share, which cannot exceed it.
    wait_for(
        "a commit-to-ack sample",
        Duration::from_secs(10),
        || async {
            let n = telemetry
                .commit_to_ack_seconds
                .with_label_values(&["m"])
                .get_sample_count();
            (n >= 1).then_some(())
        },
    )
    .await;
    let to_sink = telemetry.commit_to_sink_seconds.with_label_values(&["m"]);
    let to_ack = telemetry.commit_to_ack_seconds.with_label_values(&["m"]);
    assert!(to_sink.get_sample_count() >= to_ack.get_sample_count());
    if to_sink.get_sample_count() == to_ack.get_sample_count() {
        assert!(to_sink.get_sample_sum() <= to_ack.get_sample_sum());
    }
    let lsn_before: String = c
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .expect("lsn")
        .get(0);
    stop_tx.send(true).expect("stop");
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("stops")
        .expect("join")
        .expect("no error");
    let confirmed: String = c
        .query_one(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots",
            &[],
        )
        .await
        .expect("slot")
        .get(0);
    let parse = |s: &str| {
        let (a, b) = s.split_once('/').expect("lsn");
        (u64::from_str_radix(a, 16).expect("hex") << 32) | u64::from_str_radix(b, 16).expect("hex")
    };
    assert!(
        parse(&confirmed) >= parse(&lsn_before) - 1024,
        "slot confirmed {confirmed}, wal was at {lsn_before} before shutdown"
    );
}
