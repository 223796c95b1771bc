//! Behaviour that depends on the PostgreSQL version: `origin: none` (16+) and virtual
//! generated columns (18).

use std::time::Duration;

use serde_json::Value;

use crate::support::config::PgConnector;
use crate::support::kafka::{kcat_read, KRecord, Kafka};
use crate::support::postgres::{wait_active_slots, Pg};
use crate::support::{sluice, wait_for};

/// PostgreSQL 16: rows a subscription replicates into the server carry an origin. A
/// connector with `origin: none` captures only the rows written on the server itself; one
/// with the default captures both.
#[tokio::test(flavor = "multi_thread")]
async fn pg16_origin_none_skips_replicated_changes() {
    let upstream = Pg::start_version("logical", 16);
    let pg = Pg::start_version("logical", 16);
    let table = "CREATE TABLE items (id int primary key, v bigint not null)";
    let up = upstream.create_db("app").await;
    up.batch_execute(table).await.expect("upstream table");
    up.batch_execute("CREATE PUBLICATION up FOR TABLE items")
        .await
        .expect("publication");
    let c = pg.create_db("app").await;
    c.batch_execute(table).await.expect("table");
    c.batch_execute(&format!(
        "CREATE SUBSCRIPTION down CONNECTION 'host=127.0.0.1 port={} user=postgres dbname=app' PUBLICATION up",
        upstream.port
    ))
    .await
    .expect("subscription");
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let local = PgConnector::new("local", pg.port, "app", &bootstrap)
        .table("public.items")
        .source("origin", "none")
        .write(tmp.path());
    let all = PgConnector::new("all", pg.port, "app", &bootstrap)
        .table("public.items")
        .write(tmp.path());
    let _l = sluice::spawn(&local.path, &tmp.path().join("local.log"));
    let _a = sluice::spawn(&all.path, &tmp.path().join("all.log"));
    // Both connectors stream (the subscription's slot is on the upstream server).
    wait_active_slots(&c, 2).await;
    up.batch_execute("INSERT INTO items SELECT g, g FROM generate_series(1001, 1010) g")
        .await
        .expect("upstream rows");
    wait_for("the replicated rows", Duration::from_secs(60), || async {
        let r = c
            .query_one("SELECT count(*) FROM items WHERE id > 1000", &[])
            .await
            .ok()?;
        (r.get::<_, i64>(0) == 10).then_some(())
    })
    .await;
    c.batch_execute(
        "INSERT INTO items SELECT g, g FROM generate_series(1, 10) g; \
         INSERT INTO items VALUES (999999, 0);",
    )
    .await
    .expect("local rows");
    let ids = |records: Vec<KRecord>| {
        let mut ids: Vec<i64> = records
            .iter()
            .filter_map(|r| r.value.as_ref()?["after"]["id"].as_i64())
            .collect();
        ids.sort_unstable();
        ids
    };
    let got_all = ids(wait_for_marker(&bootstrap, "all.public.items").await);
    let got_local = ids(wait_for_marker(&bootstrap, "local.public.items").await);
    let mut want_local: Vec<i64> = (1..=10).collect();
    want_local.push(999_999);
    assert_eq!(got_local, want_local, "origin: none");
    let mut want_all: Vec<i64> = (1..=10).chain(1001..=1010).collect();
    want_all.push(999_999);
    assert_eq!(got_all, want_all, "origin: any");
}

/// PostgreSQL 18: a virtual generated column (computed when read, never stored) and a
/// stored one beside it. Both are in snapshot rows (the snapshot reads them, the virtual one
/// computed) and absent from streamed rows (pgoutput sends neither: PostgreSQL 18's
/// `publish_generated_columns` is not set), as stored ones were on earlier versions.
#[tokio::test(flavor = "multi_thread")]
async fn pg18_virtual_generated_columns() {
    let pg = Pg::start_version("logical", 18);
    let c = pg.create_db("app").await;
    c.batch_execute(
        "CREATE TABLE g (id int primary key, a int not null, \
         twice int GENERATED ALWAYS AS (a * 2) VIRTUAL, \
         plus int GENERATED ALWAYS AS (a + 1) STORED); \
         INSERT INTO g (id, a) VALUES (1, 10);",
    )
    .await
    .expect("table");
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let cfg = PgConnector::new("gen", pg.port, "app", &bootstrap)
        .table("public.g")
        .write(tmp.path());
    let _s = sluice::spawn(&cfg.path, &tmp.path().join("sluice.log"));
    wait_for("the snapshot", Duration::from_secs(60), || async {
        (!kcat_read(&bootstrap, "gen.public.g").is_empty()).then_some(())
    })
    .await;
    c.batch_execute("INSERT INTO g (id, a) VALUES (2, 20); UPDATE g SET a = 11 WHERE id = 1;")
        .await
        .expect("changes");
    let records = wait_for("the changes", Duration::from_secs(60), || async {
        let r = kcat_read(&bootstrap, "gen.public.g");
        (r.len() >= 3).then_some(r)
    })
    .await;
    let after: Vec<Value> = records
        .iter()
        .filter_map(|r| r.value.as_ref().map(|v| v["after"].clone()))
        .collect();
    let logs = std::fs::read_to_string(tmp.path().join("sluice.log")).unwrap_or_default();
    assert!(!logs.contains("ERROR"), "{logs}");
    assert_eq!(
        after[0],
        serde_json::json!({"id": 1, "a": 10, "twice": 20, "plus": 11}),
        "the snapshot row"
    );
    assert_eq!(
        after[1],
        serde_json::json!({"id": 2, "a": 20}),
        "a streamed insert"
    );
    assert_eq!(
        after[2],
        serde_json::json!({"id": 1, "a": 11}),
        "a streamed update"
    );
}

/// The records of `topic` once one holds the marker row (id 999999).
async fn wait_for_marker(bootstrap: &str, topic: &str) -> Vec<KRecord> {
    wait_for(topic, Duration::from_secs(60), || async {
        let r = kcat_read(bootstrap, topic);
        r.iter()
            .any(|r| {
                r.value
                    .as_ref()
                    .is_some_and(|v| v["after"]["id"] == 999_999)
            })
            .then_some(r)
    })
    .await
}

/// PostgreSQL 15+ `publication_filter`: the snapshot and the stream carry only matching rows;
/// an update that makes a row stop matching arrives as a delete (and its tombstone), one that
/// makes a row match as a create. A filter on a column outside the replica identity is
/// refused at start, and the table's own UPDATEs keep working (the publication was not
/// changed).
#[tokio::test(flavor = "multi_thread")]
async fn publication_row_filters() {
    let pg = Pg::start("logical");
    let c = pg.create_db("app").await;
    c.batch_execute(
        "CREATE TABLE a (id int primary key, v int); \
         INSERT INTO a SELECT g, g FROM generate_series(1, 10) g; \
         CREATE TABLE b (id int primary key, region text, v int); \
         ALTER TABLE b REPLICA IDENTITY FULL; \
         INSERT INTO b VALUES (1, 'eu', 1), (2, 'us', 2), (3, 'eu', 3); \
         CREATE TABLE c (id int primary key, region text); INSERT INTO c VALUES (1, 'eu');",
    )
    .await
    .expect("tables");
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let cfg = PgConnector::new("rf", pg.port, "app", &bootstrap)
        .table("public.a")
        .table("public.b")
        .source(
            "publication_filter",
            "{public.a: 'id % 2 = 0', public.b: \"region = 'eu'\"}",
        )
        .write(tmp.path());
    let _s = sluice::spawn(&cfg.path, &tmp.path().join("rf.log"));
    wait_for("the snapshot", Duration::from_secs(60), || async {
        (kcat_read(&bootstrap, "rf.public.a").len() >= 5
            && kcat_read(&bootstrap, "rf.public.b").len() >= 2)
            .then_some(())
    })
    .await;
    c.batch_execute(
        "INSERT INTO a VALUES (11, 11), (12, 12); \
         UPDATE b SET region = 'us' WHERE id = 1; UPDATE b SET region = 'eu' WHERE id = 2; \
         INSERT INTO b VALUES (4, 'us', 4); INSERT INTO a VALUES (100, 0);",
    )
    .await
    .expect("changes");
    let a = wait_for("the end marker", Duration::from_secs(60), || async {
        let r = kcat_read(&bootstrap, "rf.public.a");
        r.iter()
            .any(|r| r.value.as_ref().is_some_and(|v| v["after"]["id"] == 100))
            .then_some(r)
    })
    .await;
    let ops = |records: &[KRecord]| -> Vec<(String, i64)> {
        records
            .iter()
            .map(|r| match &r.value {
                Some(v) => (
                    v["op"].as_str().unwrap_or_default().to_string(),
                    v["after"]["id"]
                        .as_i64()
                        .or_else(|| v["before"]["id"].as_i64())
                        .unwrap_or(-1),
                ),
                None => (
                    "tombstone".into(),
                    r.key.as_ref().and_then(|k| k["id"].as_i64()).unwrap_or(-1),
                ),
            })
            .collect()
    };
    let want_a: Vec<(String, i64)> = [2, 4, 6, 8, 10]
        .iter()
        .map(|i| ("r".to_string(), *i))
        .chain([("c".to_string(), 12), ("c".to_string(), 100)])
        .collect();
    assert_eq!(ops(&a), want_a);
    let b = kcat_read(&bootstrap, "rf.public.b");
    let want_b: Vec<(String, i64)> = vec![
        ("r".into(), 1),
        ("r".into(), 3),
        ("d".into(), 1),
        ("tombstone".into(), 1),
        ("c".into(), 2),
    ];
    assert_eq!(ops(&b), want_b);

    // A filter the replica identity does not cover.
    let bad = PgConnector::new("bad", pg.port, "app", &bootstrap)
        .table("public.c")
        .source("publication_filter", "{public.c: \"region = 'eu'\"}")
        .write(tmp.path());
    let (code, stderr) = sluice::run_to_end(&["run", "--fail-fast"], &bad.path);
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr.contains("uses region outside the table's replica identity"),
        "{stderr}"
    );
    c.batch_execute("UPDATE c SET region = 'us' WHERE id = 1")
        .await
        .expect("the table's own updates still work");
}
