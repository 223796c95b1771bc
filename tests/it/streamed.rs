//! Large transactions received while they run (pgoutput protocol 2, `streaming`): the
//! output is the same as protocol 1's, event for event, while the server streams instead of
//! spilling; a rolled-back subtransaction or transaction leaves nothing; a SIGKILL in the
//! middle of a streamed transaction loses nothing.

use std::time::Duration;

use serde_json::Value;

use crate::support::config::PgConnector;
use crate::support::kafka::{kcat_read, KRecord, Kafka};
use crate::support::postgres::{wait_active_slots, Pg};
use crate::support::{metric, sluice, wait_for};

/// The server streams (or spills) a transaction once it outgrows 64 kB.
async fn small_work_mem(c: &tokio_postgres::Client) {
    c.batch_execute("ALTER SYSTEM SET logical_decoding_work_mem = '64kB'")
        .await
        .expect("work mem");
    c.batch_execute("SELECT pg_reload_conf()")
        .await
        .expect("reload");
}

/// PostgreSQL 17: one connector with protocol 2 (its memory for running transactions far
/// below their size, so most goes through files), one with protocol 1, the same workload:
/// a streamed transaction with small ones committed while it runs, a savepoint rolled back,
/// DDL, updates, deletes and a logical message inside it, then a streamed transaction rolled
/// back. Both topics hold the same records in the same order (top-level times and the
/// connector name aside), and the server streamed for the one and spilled for the other.
#[tokio::test(flavor = "multi_thread")]
async fn pg17_streamed_transactions_match_protocol_1() {
    streamed_match_protocol_1(17).await;
}

/// The same on PostgreSQL 15.
#[tokio::test(flavor = "multi_thread")]
async fn streamed_transactions_match_protocol_1() {
    streamed_match_protocol_1(15).await;
}

async fn streamed_match_protocol_1(version: u32) {
    let (pg, c, broker, tmp, spill) = setup(version).await;
    let bootstrap = broker.bootstrap();
    let v2 = PgConnector::new("v2", pg.port, "app", &bootstrap)
        .table("public.big")
        .source("stream_in_progress", true)
        .source("in_progress_memory_bytes", 200_000)
        .source("spill_dir", spill.display())
        .write(tmp.path());
    let v1 = PgConnector::new("v1", pg.port, "app", &bootstrap)
        .table("public.big")
        .source("stream_in_progress", false)
        .write(tmp.path());
    let mut s2 = sluice::spawn(&v2.path, &tmp.path().join("v2.log"));
    let mut s1 = sluice::spawn(&v1.path, &tmp.path().join("v1.log"));
    wait_active_slots(&c, 2).await;

    let small = pg.connect("app").await;
    c.batch_execute(
        "BEGIN; INSERT INTO big SELECT g, repeat('x', 200), g FROM generate_series(1, 20000) g;",
    )
    .await
    .expect("big insert");
    small
        .batch_execute("INSERT INTO big VALUES (100001, 'small', 1)")
        .await
        .expect("small 1");
    c.batch_execute(
        "SAVEPOINT s1; UPDATE big SET n = -1 WHERE id <= 5000; ROLLBACK TO SAVEPOINT s1; \
         UPDATE big SET n = n + 1 WHERE id % 10 = 0;",
    )
    .await
    .expect("big updates");
    small
        .batch_execute("BEGIN; UPDATE big SET n = 2 WHERE id = 100001; INSERT INTO big (id, v) VALUES (100002, 'small'); COMMIT;")
        .await
        .expect("small 2");
    // DDL inside the streamed transaction (it locks the table: no small one after it).
    c.batch_execute(
        "ALTER TABLE big ADD COLUMN extra int DEFAULT 7; \
         UPDATE big SET extra = 8 WHERE id % 1000 = 0; \
         DELETE FROM big WHERE id % 100 = 1; \
         SELECT pg_logical_emit_message(true, 'big', 'inside');",
    )
    .await
    .expect("big rest");
    c.batch_execute("COMMIT").await.expect("big commit");
    c.batch_execute(
        "BEGIN; INSERT INTO big SELECT g, repeat('y', 200), g FROM generate_series(50001, 60000) g; ROLLBACK;",
    )
    .await
    .expect("rolled back");
    small
        .batch_execute("INSERT INTO big (id, v) VALUES (999999, 'end')")
        .await
        .expect("end marker");

    // 20,000 inserts, 2,000 + 20 updates, 200 deletes and their tombstones, three small
    // changes and the end marker.
    let want = 20000 + 2020 + 400 + 3 + 1;
    let r2 = wait_for_end(&bootstrap, "v2.public.big", want).await;
    let r1 = wait_for_end(&bootstrap, "v1.public.big", want).await;
    assert_eq!(r1.len(), r2.len());
    for (i, (a, b)) in r1.iter().zip(&r2).enumerate() {
        assert_eq!(
            comparable(a),
            comparable(b),
            "record {i} differs between protocol 1 and 2"
        );
    }
    assert!(
        !r2.iter().any(|r| r
            .value
            .as_ref()
            .and_then(|v| v["after"]["id"].as_i64())
            .is_some_and(|id| (50001..=60000).contains(&id))),
        "nothing of the rolled-back transaction"
    );
    assert!(!r2
        .iter()
        .any(|r| r.value.as_ref().is_some_and(|v| v["after"]["n"] == -1)));
    let m1 = kcat_read(&bootstrap, "v1.message");
    let m2 = kcat_read(&bootstrap, "v2.message");
    assert_eq!(m1.len(), 1);
    assert_eq!(
        m1.iter().map(comparable).collect::<Vec<_>>(),
        m2.iter().map(comparable).collect::<Vec<_>>()
    );

    // The server streamed for protocol 2 and spilled for protocol 1; sluice held the
    // transactions partly in files, and removes them.
    let (stream_txns, spill2) = wait_for("slot statistics", Duration::from_secs(30), || async {
        let rows = c
            .query(
                "SELECT slot_name::text, stream_txns, spill_bytes FROM pg_stat_replication_slots",
                &[],
            )
            .await
            .expect("slot stats");
        let get = |slot: &str| {
            rows.iter()
                .find(|r| r.get::<_, String>(0) == slot)
                .map(|r| (r.get::<_, i64>(1), r.get::<_, i64>(2)))
        };
        let (st2, sp2) = get("sluice_v2")?;
        let (_, sp1) = get("sluice_v1")?;
        (st2 >= 2 && sp1 > 0).then_some((st2, sp2))
    })
    .await;
    assert_eq!(
        spill2, 0,
        "the server spilled for protocol 2 ({stream_txns} streamed)"
    );
    assert!(metric(v2.http, "sluice_pg_streamed_transactions_total").await >= 1.0);
    assert!(metric(v2.http, "sluice_pg_in_progress_spilled_bytes_total").await > 0.0);
    assert_eq!(
        metric(v1.http, "sluice_pg_streamed_transactions_total").await,
        0.0
    );
    assert!(s2.terminate().success());
    s1.kill();
    assert_eq!(
        std::fs::read_dir(&spill).expect("spill dir").count(),
        0,
        "spill files left behind"
    );
}

/// SIGKILL while a streamed transaction is held (partly in files), then commit it and start
/// again: the server sends it from its start and every row arrives; the dead process's
/// files are removed.
#[tokio::test(flavor = "multi_thread")]
async fn pg17_sigkill_inside_a_streamed_transaction_loses_nothing() {
    let (pg, c, broker, tmp, spill) = setup(17).await;
    let bootstrap = broker.bootstrap();
    let cfg = PgConnector::new("kill", pg.port, "app", &bootstrap)
        .table("public.big")
        .source("stream_in_progress", true)
        .source("in_progress_memory_bytes", 100_000)
        .source("spill_dir", spill.display())
        .write(tmp.path());
    let log = tmp.path().join("sluice.log");
    let mut child = sluice::spawn(&cfg.path, &log);
    wait_active_slots(&c, 1).await;
    c.batch_execute(
        "BEGIN; INSERT INTO big SELECT g, repeat('x', 200), g FROM generate_series(1, 20000) g;",
    )
    .await
    .expect("first half");
    wait_for(
        "the transaction held in files",
        Duration::from_secs(60),
        || async {
            (metric(cfg.http, "sluice_pg_in_progress_spilled_bytes_total").await > 1_000_000.0)
                .then_some(())
        },
    )
    .await;
    child.kill();
    assert_eq!(std::fs::read_dir(&spill).expect("spill").count(), 1);
    c.batch_execute(
        "INSERT INTO big SELECT g, repeat('x', 200), g FROM generate_series(20001, 25000) g; COMMIT; \
         INSERT INTO big VALUES (999999, 'end', 0);",
    )
    .await
    .expect("second half");
    let mut child = sluice::spawn(&cfg.path, &log);
    let records = wait_for_end(&bootstrap, "kill.public.big", 25001).await;
    let mut ids: Vec<i64> = records
        .iter()
        .filter_map(|r| r.value.as_ref()?["after"]["id"].as_i64())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 25001, "every row, after the restart");
    assert!(child.terminate().success());
    assert_eq!(
        std::fs::read_dir(&spill).expect("spill").count(),
        0,
        "the killed process's files are removed"
    );
}

/// PostgreSQL `version` with database `app`, table `big` and a 64 kB
/// `logical_decoding_work_mem`; a broker; a test dir with a `spill` directory.
async fn setup(
    version: u32,
) -> (
    Pg,
    tokio_postgres::Client,
    Kafka,
    tempfile::TempDir,
    std::path::PathBuf,
) {
    let pg = Pg::start_version("logical", version);
    let c = pg.create_db("app").await;
    small_work_mem(&c).await;
    c.batch_execute("CREATE TABLE big (id int primary key, v text not null, n int)")
        .await
        .expect("table");
    let broker = Kafka::start();
    let tmp = crate::support::test_dir();
    let spill = tmp.path().join("spill");
    std::fs::create_dir(&spill).expect("spill dir");
    (pg, c, broker, tmp, spill)
}

/// The topic's records once it holds at least `n` and the end marker (id 999999).
async fn wait_for_end(bootstrap: &str, topic: &str, n: usize) -> Vec<KRecord> {
    wait_for(topic, Duration::from_secs(120), || async {
        let r = kcat_read(bootstrap, topic);
        let end = r.iter().any(|r| {
            r.value
                .as_ref()
                .is_some_and(|v| v["after"]["id"] == 999_999)
        });
        (end && r.len() >= n).then_some(r)
    })
    .await
}

/// A record without what differs between two connectors on the same changes: the
/// top-level processing times and the connector's name.
fn comparable(r: &KRecord) -> (Option<Value>, Option<Value>) {
    let value = r.value.clone().map(|mut v| {
        if let Some(o) = v.as_object_mut() {
            for k in ["ts_ms", "ts_us", "ts_ns"] {
                o.remove(k);
            }
        }
        if let Some(s) = v.get_mut("source").and_then(Value::as_object_mut) {
            s.remove("name");
        }
        v
    });
    (r.key.clone(), value)
}
