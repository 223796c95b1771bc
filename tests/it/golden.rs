//! End to end: PostgreSQL → sluice (the real binary) → broker → kcat, compared record by
//! record with real Debezium 3.6.3 output for the same SQL.

use std::path::Path;
use std::time::Duration;

use serde_json::Value as Json;

use crate::support::kafka::{kcat_read, KRecord, Kafka};
use crate::support::postgres::Pg;
use crate::support::{sluice, wait_for};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/golden/debezium-3.6.3");

/// Split a SQL script into statements (each ends with `;` at the end of a line).
pub fn statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in script.lines() {
        if line.trim_start().starts_with("--") || line.trim().is_empty() {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if line.trim_end().ends_with(';') {
            out.push(std::mem::take(&mut cur));
        }
    }
    out
}

/// Source fields that differ from run to run for MySQL/MariaDB (besides the PostgreSQL ones).
pub const MYSQL_RUN_FIELDS: &[&str] = &["file", "pos", "row", "thread", "gtid", "server_id"];

/// `v` without the run-dependent fields, and without the `extra` source fields.
pub fn strip_with(mut v: Json, extra: &[&str]) -> Json {
    if let Some(obj) = v.as_object_mut() {
        if let Some(p) = obj.get_mut("payload") {
            let inner = std::mem::take(p);
            *p = strip_with(inner, extra);
            return v;
        }
        for k in ["ts_ms", "ts_us", "ts_ns"] {
            obj.remove(k);
        }
        // Transaction ids are `<txId>:<lsn>` (or a GTID): run-dependent, in the transaction
        // block of an event and in the BEGIN/END records.
        if let Some(id) = obj.get_mut("transaction").and_then(|t| t.get_mut("id")) {
            *id = Json::from("<v>");
        }
        if obj.contains_key("status") {
            if let Some(id) = obj.get_mut("id") {
                *id = Json::from("<v>");
            }
        }
        if let Some(src) = obj.get_mut("source").and_then(Json::as_object_mut) {
            for k in [
                "ts_ms", "ts_us", "ts_ns", "txId", "lsn", "sequence", "xmin", "version",
            ] {
                src.remove(k);
            }
            for k in extra {
                src.remove(*k);
            }
        }
    }
    v
}

fn compare(got: &[KRecord], golden_file: &Path) {
    let golden: Vec<Json> = std::fs::read_to_string(golden_file)
        .expect("golden file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("golden json"))
        .collect();
    compare_records(got, &golden, &[]);
}

/// Compare records with golden `{"key","value"}` lines, ignoring run-dependent fields plus
/// the `extra` source fields.
pub fn compare_records(got: &[KRecord], golden: &[Json], extra: &[&str]) {
    let strip = |v| strip_with(v, extra);
    assert_eq!(got.len(), golden.len(), "record count");
    for (i, (g, w)) in got.iter().zip(golden).enumerate() {
        assert_eq!(g.key.as_ref(), Some(&w["key"]), "key of record {i}");
        let gv = strip(g.value.clone().unwrap_or(Json::Null));
        let wv = strip(w["value"].clone());
        if gv != wv {
            let gs = serde_json::to_string_pretty(&gv).unwrap_or_default();
            let ws = serde_json::to_string_pretty(&wv).unwrap_or_default();
            for (n, (a, b)) in gs.lines().zip(ws.lines()).enumerate() {
                assert_eq!(a, b, "record {i}: first difference at line {n}");
            }
            panic!("record {i} differs:\n{gs}\n---\n{ws}");
        }
    }
}

async fn run_golden(bootstrap: &str, schemas_enable: bool, create_topics: bool, golden: &str) {
    let pg = Pg::start("logical");
    let client = pg.create_db("anchor").await;
    let setup = std::fs::read_to_string(format!("{GOLDEN}/pg_types_setup.sql")).expect("setup");
    for s in statements(&setup) {
        client.batch_execute(&s).await.expect("setup statement");
    }
    let tmp = crate::support::test_dir();
    let config = crate::support::config::PgConnector::new("anchor", pg.port, "anchor", bootstrap)
        .table("public.golden_types")
        .sink("schemas_enable", schemas_enable)
        .sink("create_topics", create_topics)
        .write(tmp.path())
        .path;
    let log = tmp.path().join("sluice.log");
    let child = sluice::spawn(&config, &log);
    let topic = "anchor.public.golden_types";
    wait_for("the snapshot record", Duration::from_secs(60), || async {
        (kcat_read(bootstrap, topic).len() == 1).then_some(())
    })
    .await;
    let dml = std::fs::read_to_string(format!("{GOLDEN}/pg_types_dml.sql")).expect("dml");
    for s in statements(&dml) {
        client.batch_execute(&s).await.expect("dml statement");
    }
    let records = wait_for("all 17 records", Duration::from_secs(60), || async {
        let r = kcat_read(bootstrap, topic);
        (r.len() >= 17).then_some(r)
    })
    .await;
    terminate_cleanly(child, &log).await;
    compare(&records, Path::new(&format!("{GOLDEN}/{golden}")));
}

/// SIGTERM: a clean shutdown exits 0, and the log holds no row values.
pub(crate) async fn terminate_cleanly(mut child: sluice::Sluice, log: &Path) {
    let status = tokio::task::spawn_blocking(move || child.terminate())
        .await
        .expect("join");
    let logs = std::fs::read_to_string(log).unwrap_or_default();
    assert!(status.success(), "sluice exit {status:?}\n{logs}");
    assert!(
        !logs.contains("snapshot row"),
        "row values must not be logged"
    );
}

/// The reference SQL through sluice into a real Apache Kafka, read with kcat, equals Debezium's
/// `schemas.enable=false` output: snapshot, every type, NULLs, PK change, TOAST, ADD COLUMN,
/// REPLICA IDENTITY FULL, deletes with tombstones, in order.
#[tokio::test(flavor = "multi_thread")]
async fn golden_kafka_schemas_false() {
    let broker = Kafka::start();
    run_golden(
        &broker.bootstrap(),
        false,
        true,
        "pg_types.schemas-false.jsonl",
    )
    .await;
}

/// The same through librdkafka's mock cluster with `schemas_enable: true`.
#[tokio::test(flavor = "multi_thread")]
async fn golden_mock_schemas_true() {
    let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    // One partition, so the topic's global order is the source order.
    cluster
        .create_topic("anchor.public.golden_types", 1, 1)
        .expect("create topic");
    run_golden(
        &cluster.bootstrap_servers(),
        true,
        false,
        "pg_types.schemas-true.jsonl",
    )
    .await;
}
