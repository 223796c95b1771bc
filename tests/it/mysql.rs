//! MariaDB → sluice (the real binary) → broker → kcat: the Debezium reference samples, a DDL
//! in the middle of a write stream, SIGKILL and restart, and purged binlogs.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use serde_json::Value as Json;

use crate::crash::{assert_committed_in_order, wait_for_final_values};
use crate::golden::{compare_records, terminate_cleanly, MYSQL_RUN_FIELDS};
use crate::support::kafka::{kcat_read, Kafka};
use crate::support::mariadb::Maria;
use crate::support::{sluice, wait_for};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/golden/debezium-3.6.3");

fn config(
    dir: &Path,
    maria: &Maria,
    tables: &[&str],
    extra_source: &str,
    sink: &str,
) -> std::path::PathBuf {
    let http = crate::support::free_port();
    let off = dir.join("offsets").display().to_string();
    let yaml = format!(
        "service:\n  http_listen_addr: 127.0.0.1:{http}\n  offsets_dir: {off}\nconnectors:\n  anchor:\n{}    sink:\n      type: kafka\n{sink}",
        maria.source_yaml(tables, extra_source)
    );
    sluice::write_raw(dir, "anchor.yaml", &yaml)
}

fn golden(file: &str) -> Vec<Json> {
    std::fs::read_to_string(format!("{GOLDEN}/{file}"))
        .expect("golden file")
        .lines()
        .map(|l| serde_json::from_str::<Json>(l).expect("golden json"))
        .filter(|r| r["topic"] != "anchor")
        .collect()
}

async fn run_golden(bootstrap: &str, schemas_enable: bool, create_topics: bool, file: &str) {
    let maria = Maria::start();
    let setup = std::fs::read_to_string(format!("{GOLDEN}/maria_types_setup.sql")).expect("setup");
    maria.sql(&format!(
        "CREATE DATABASE anchor_golden; USE anchor_golden;\n{setup}"
    ));
    let tmp = crate::support::test_dir();
    let cfg = config(
        tmp.path(),
        &maria,
        &["anchor_golden.golden_types"],
        "",
        &format!(
            "      bootstrap_servers: \"{bootstrap}\"\n      schemas_enable: {schemas_enable}\n      create_topics: {create_topics}\n"
        ),
    );
    let log = tmp.path().join("sluice.log");
    let child = sluice::spawn(&cfg, &log);
    let topic = "anchor.anchor_golden.golden_types";
    wait_for("the snapshot record", Duration::from_secs(60), || async {
        (kcat_read(bootstrap, topic).len() == 1).then_some(())
    })
    .await;
    let dml = std::fs::read_to_string(format!("{GOLDEN}/maria_types_dml.sql")).expect("dml");
    maria.sql(&format!("USE anchor_golden;\n{dml}"));
    let want = golden(file);
    let records = wait_for("all records", Duration::from_secs(60), || async {
        let r = kcat_read(bootstrap, topic);
        (r.len() >= want.len()).then_some(r)
    })
    .await;
    terminate_cleanly(child, &log).await;
    compare_records(&records, &want, MYSQL_RUN_FIELDS);
}

/// The MariaDB reference SQL through sluice into a real Apache Kafka equals Debezium's
/// `schemas.enable=false` output: snapshot, every type (signed/unsigned, decimal, bit, enum,
/// set, json, zero-padded binary, time ranges), a PK change, deletes with tombstones, and an
/// ADD COLUMN in the middle of the stream.
#[tokio::test(flavor = "multi_thread")]
async fn maria_golden_kafka_schemas_false() {
    let broker = Kafka::start();
    run_golden(
        &broker.bootstrap(),
        false,
        true,
        "maria_types.schemas-false.jsonl",
    )
    .await;
}

/// The same through librdkafka's mock cluster with `schemas_enable: true`.
#[tokio::test(flavor = "multi_thread")]
async fn maria_golden_mock_schemas_true() {
    let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    cluster
        .create_topic("anchor.anchor_golden.golden_types", 1, 1)
        .expect("create topic");
    run_golden(
        &cluster.bootstrap_servers(),
        true,
        false,
        "maria_types.schemas-true.jsonl",
    )
    .await;
}

async fn conn(maria: &Maria, db: &str) -> mysql_async::Conn {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(maria.port)
        .user(Some(crate::support::mariadb::USER))
        .pass(Some(crate::support::mariadb::PASSWORD))
        .db_name(Some(db))
        .prefer_socket(false);
    mysql_async::Conn::new(opts)
        .await
        .expect("connect to test mariadb")
}

fn kafka_sink(bootstrap: &str) -> String {
    format!("      bootstrap_servers: \"{bootstrap}\"\n      topic_partitions: 3\n")
}

/// SIGKILL while changes stream, then restart: no committed change is lost, each key's
/// committed values appear in commit order, and the restart resumes (no second snapshot).
#[tokio::test(flavor = "multi_thread")]
async fn maria_sigkill_and_restart_loses_nothing() {
    sigkill_and_restart(Maria::start(), false).await;
}

/// The same on a real MySQL 8.0.31 (issue 28: there every restart halted, the binlog file
/// name having lost four characters), with GTIDs on and sluice's user on MySQL 8's default
/// `caching_sha2_password`.
#[tokio::test(flavor = "multi_thread")]
async fn mysql8_sigkill_and_restart_loses_nothing() {
    sigkill_and_restart(Maria::start_mysql8(), false).await;
}

/// The same with every write in a compressed transaction (MySQL 8's
/// `binlog_transaction_compression`: one zstd TRANSACTION_PAYLOAD event per transaction,
/// which used to stop the connector): every change arrives, in order, across a SIGKILL.
#[tokio::test(flavor = "multi_thread")]
async fn mysql8_compressed_transactions_lose_nothing() {
    sigkill_and_restart(Maria::start_mysql8(), true).await;
}

/// MySQL 8 authentication as users meet it: with `require_secure_transport`, sluice's user
/// (`caching_sha2_password`) connects over TLS verified against the server's own CA
/// (`tls.mode: verify_ca`) and streams; then without TLS, after `FLUSH PRIVILEGES` empties
/// the server's cache of fast logins, a second connector completes the full
/// `caching_sha2_password` exchange (the password RSA-encrypted with the server's public key)
/// and streams too.
#[tokio::test(flavor = "multi_thread")]
async fn mysql8_tls_and_rsa_authentication() {
    let maria = Maria::start_mysql8();
    maria.sql(
        "CREATE DATABASE app; CREATE TABLE app.t (id int primary key, v int); \
         INSERT INTO app.t VALUES (1, 1); SET GLOBAL require_secure_transport = ON;",
    );
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let ca = maria.data_dir().join("ca.pem");
    let cfg = config(
        tmp.path(),
        &maria,
        &["app.t"],
        &format!(
            "      tls: {{mode: verify_ca, ca_file: \"{}\"}}\n",
            ca.display()
        ),
        &kafka_sink(&bootstrap),
    );
    let log = tmp.path().join("sluice.log");
    let mut child = sluice::spawn(&cfg, &log);
    maria.sql("INSERT INTO app.t VALUES (2, 2);");
    wait_for(
        "snapshot and stream over tls",
        Duration::from_secs(60),
        || async { (kcat_read(&bootstrap, "anchor.app.t").len() >= 2).then_some(()) },
    )
    .await;
    child.kill();
    let plain = tmp.path().join("plain");
    std::fs::create_dir(&plain).expect("dir");
    maria.sql("SET GLOBAL require_secure_transport = OFF; FLUSH PRIVILEGES;");
    let yaml = std::fs::read_to_string(&cfg)
        .expect("config")
        .replace("anchor:", "plain:")
        .lines()
        .filter(|l| !l.contains("tls:"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .replace(
            &tmp.path().join("offsets").display().to_string(),
            &plain.display().to_string(),
        );
    let cfg2 = sluice::write_raw(tmp.path(), "plain.yaml", &yaml);
    let mut child = sluice::spawn(&cfg2, &tmp.path().join("plain.log"));
    maria.sql("INSERT INTO app.t VALUES (3, 3);");
    wait_for(
        "snapshot and stream without tls",
        Duration::from_secs(60),
        || async { (kcat_read(&bootstrap, "plain.app.t").len() >= 3).then_some(()) },
    )
    .await;
    child.kill();
}

/// MySQL 8-only column kinds: an INVISIBLE column (left out of `SELECT *` but written to the
/// binlog) and a functional index (a hidden virtual column the server adds). Snapshot and
/// stream give the same columns: the invisible one with its value, the index's hidden one
/// in neither.
#[tokio::test(flavor = "multi_thread")]
async fn mysql8_invisible_columns_and_functional_indexes() {
    let maria = Maria::start_mysql8();
    maria.sql(
        "CREATE DATABASE app; CREATE TABLE app.t (id int primary key, name varchar(20), \
         secret int INVISIBLE, INDEX lower_name ((lower(name)))); \
         INSERT INTO app.t (id, name, secret) VALUES (1, 'A', 10);",
    );
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let cfg = config(tmp.path(), &maria, &["app.t"], "", &kafka_sink(&bootstrap));
    let log = tmp.path().join("sluice.log");
    let _child = sluice::spawn(&cfg, &log);
    wait_for("the snapshot", Duration::from_secs(60), || async {
        (!kcat_read(&bootstrap, "anchor.app.t").is_empty()).then_some(())
    })
    .await;
    maria.sql("INSERT INTO app.t (id, name, secret) VALUES (2, 'B', 20);");
    let records = wait_for("the stream", Duration::from_secs(60), || async {
        let r = kcat_read(&bootstrap, "anchor.app.t");
        (r.len() >= 2).then_some(r)
    })
    .await;
    let after: Vec<Json> = records
        .iter()
        .filter_map(|r| r.value.as_ref().map(|v| v["after"].clone()))
        .collect();
    assert_eq!(
        after[0],
        serde_json::json!({"id": 1, "name": "A", "secret": 10})
    );
    assert_eq!(
        after[1],
        serde_json::json!({"id": 2, "name": "B", "secret": 20})
    );
}

async fn sigkill_and_restart(maria: Maria, compressed: bool) {
    use mysql_async::prelude::Queryable;
    let rows: Vec<String> = (1..=50).map(|i| format!("({i}, 0)")).collect();
    maria.sql(&format!(
        "CREATE DATABASE app; USE app; CREATE TABLE items (id int primary key, v bigint not null); \
         INSERT INTO items VALUES {};",
        rows.join(", ")
    ));
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let cfg = config(
        tmp.path(),
        &maria,
        &["app.items"],
        "",
        &kafka_sink(&bootstrap),
    );
    let log = tmp.path().join("sluice.log");
    let mut child = sluice::spawn(&cfg, &log);
    let topic = "anchor.app.items";
    wait_for("the snapshot", Duration::from_secs(60), || async {
        (kcat_read(&bootstrap, topic).len() >= 50).then_some(())
    })
    .await;
    let mut c = conn(&maria, "app").await;
    if compressed {
        c.query_drop("SET SESSION binlog_transaction_compression = ON")
            .await
            .expect("compression on");
    }
    let mut committed: HashMap<i64, Vec<i64>> = HashMap::new();
    let total = 1500i64;
    for n in 1..=total {
        let id = (n * 7) % 50 + 1;
        if n % 100 == 0 {
            let other = id % 50 + 1;
            c.query_drop(format!(
                "BEGIN; UPDATE items SET v = {n} WHERE id = {id}; UPDATE items SET v = {n} + 1 WHERE id = {other}; COMMIT;"
            ))
            .await
            .expect("multi-row transaction");
            committed.entry(id).or_default().push(n);
            committed.entry(other).or_default().push(n + 1);
        } else {
            c.exec_drop("UPDATE items SET v = ? WHERE id = ?", (n, id))
                .await
                .expect("update");
            committed.entry(id).or_default().push(n);
        }
        if n == total / 3 {
            child.kill();
        }
        if n == total / 2 {
            child = sluice::spawn(&cfg, &log);
        }
    }
    let final_rows: HashMap<i64, i64> = c
        .query::<(i64, i64), _>("SELECT id, v FROM items")
        .await
        .expect("final state")
        .into_iter()
        .collect();
    if compressed {
        let n: Option<i64> = c
            .query_first(
                "SELECT SUM(TRANSACTION_COUNTER) FROM performance_schema.binary_log_transaction_compression_stats \
                 WHERE LOG_TYPE = 'BINARY' AND COMPRESSION_TYPE = 'ZSTD'",
            )
            .await
            .expect("compression stats");
        assert!(
            n.unwrap_or(0) >= total,
            "the writes were not compressed transactions: {n:?}"
        );
    }
    let records = wait_for_final_values(&bootstrap, topic, &final_rows).await;
    child.kill();
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        logs.matches("snapshot started").count(),
        1,
        "the restart must resume from offsets, not snapshot again:\n{logs}"
    );
    if maria.mysql8 {
        // MySQL (GTIDs on) resumes by its executed GTID set, not by file and position.
        let resumed = logs
            .lines()
            .filter(|l| l.contains("binlog streaming started"))
            .nth(1)
            .unwrap_or_default();
        assert!(resumed.contains("by_gtid=true"), "{resumed}");
    }
    assert_committed_in_order(&records, &committed);
}

/// ALTER TABLE (add, rename, drop column) while a writer inserts: every row arrives once at
/// least, each event carries the shape its row was written with, and shapes only move forward.
#[tokio::test(flavor = "multi_thread")]
async fn maria_ddl_during_writes() {
    use mysql_async::prelude::Queryable;
    let maria = Maria::start();
    maria.sql("CREATE DATABASE app; CREATE TABLE app.t (id int primary key, a int);");
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let cfg = config(tmp.path(), &maria, &["app.t"], "", &kafka_sink(&bootstrap));
    let log = tmp.path().join("sluice.log");
    let _child = sluice::spawn(&cfg, &log);
    let topic = "anchor.app.t";
    // The empty snapshot is done once the offsets file exists.
    let off = tmp.path().join("offsets").join("anchor.json");
    wait_for(
        "the snapshot checkpoint",
        Duration::from_secs(60),
        || async { off.exists().then_some(()) },
    )
    .await;
    let mut w = conn(&maria, "app").await;
    let mut d = conn(&maria, "app").await;
    // The writer keeps inserting until every DDL has been applied and then writes a tail of
    // rows, so rows of every shape exist however the DDLs and inserts interleave.
    let ddl_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = tokio::spawn({
        let ddl_done = ddl_done.clone();
        async move {
            let mut id = 0i64;
            let mut tail = 0;
            while tail < 40 {
                id += 1;
                w.exec_drop("INSERT INTO t (id) VALUES (?)", (id,))
                    .await
                    .expect("insert");
                if ddl_done.load(std::sync::atomic::Ordering::SeqCst) {
                    tail += 1;
                }
            }
            id
        }
    });
    for (after, stmt) in [
        (
            60,
            "ALTER TABLE t ADD COLUMN b varchar(10) NOT NULL DEFAULT 'x'",
        ),
        (140, "ALTER TABLE t RENAME COLUMN a TO a2"),
        (220, "ALTER TABLE t DROP COLUMN a2"),
    ] {
        loop {
            let n: Option<i64> = d
                .query_first("SELECT COUNT(*) FROM t")
                .await
                .expect("count");
            if n.unwrap_or(0) >= after {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        d.query_drop(stmt).await.expect("ddl");
    }
    ddl_done.store(true, std::sync::atomic::Ordering::SeqCst);
    let total = writer.await.expect("writer");
    let records = wait_for("every written row", Duration::from_secs(60), || async {
        let r = kcat_read(&bootstrap, topic);
        let ids: HashSet<i64> = r
            .iter()
            .filter_map(|x| x.value.as_ref()?["after"]["id"].as_i64())
            .collect();
        (ids.len() as i64 == total).then_some(r)
    })
    .await;
    let shape = |v: &Json| -> Vec<String> {
        v["after"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let shapes = [
        vec!["id".to_string(), "a".into()],
        vec!["id".to_string(), "a".into(), "b".into()],
        vec!["id".to_string(), "a2".into(), "b".into()],
        vec!["id".to_string(), "b".into()],
    ];
    // Within a partition, shapes never go back.
    let mut stage: HashMap<i32, usize> = HashMap::new();
    let mut seen = [0usize; 4];
    for r in &records {
        let Some(v) = &r.value else { continue };
        let s = shape(v);
        let i = shapes
            .iter()
            .position(|x| *x == s)
            .unwrap_or_else(|| panic!("unexpected shape {s:?}"));
        let cur = stage.entry(r.partition).or_insert(0);
        assert!(
            i >= *cur,
            "shape went back from {cur} to {i} in partition {}",
            r.partition
        );
        *cur = i;
        seen[i] += 1;
        if i >= 1 {
            assert_eq!(v["after"]["b"], "x", "default of the added column");
        }
    }
    assert!(seen.iter().all(|&n| n > 0), "every shape seen: {seen:?}");
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        logs.matches("schema change on a captured table").count(),
        3,
        "{logs}"
    );
}

/// Binlog purged while sluice was stopped: a clear, definite error naming the file by
/// default; with `snapshot_mode: when_needed` a new snapshot instead.
#[tokio::test(flavor = "multi_thread")]
async fn maria_purged_binlog() {
    let maria = Maria::start();
    maria.sql("CREATE DATABASE app; CREATE TABLE app.t (id int primary key); INSERT INTO app.t VALUES (1);");
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let cfg = config(tmp.path(), &maria, &["app.t"], "", &kafka_sink(&bootstrap));
    let log = tmp.path().join("sluice.log");
    let topic = "anchor.app.t";
    let mut child = sluice::spawn(&cfg, &log);
    wait_for("the snapshot", Duration::from_secs(60), || async {
        (kcat_read(&bootstrap, topic).len() == 1).then_some(())
    })
    .await;
    maria.sql("INSERT INTO app.t VALUES (2);");
    wait_for("the insert", Duration::from_secs(60), || async {
        (kcat_read(&bootstrap, topic).len() == 2).then_some(())
    })
    .await;
    assert!(child.terminate().success());
    let saved = std::fs::read_to_string(tmp.path().join("offsets").join("anchor.json"))
        .expect("offsets file");
    maria.sql("INSERT INTO app.t VALUES (3); FLUSH BINARY LOGS; FLUSH BINARY LOGS;");
    let current = maria.sql("SHOW MASTER STATUS;");
    let current = current
        .split_whitespace()
        .next()
        .expect("current binlog")
        .to_string();
    // MariaDB keeps a file until its binlog checkpoint has passed (InnoDB flushed): retry.
    wait_for("the purge", Duration::from_secs(30), || async {
        maria.sql(&format!("FLUSH LOGS; PURGE BINARY LOGS TO '{current}';"));
        let first = maria.sql("SHOW BINARY LOGS;");
        (!first.contains("mysql-bin.000001")).then_some(())
    })
    .await;

    let (code, stderr) = sluice::run_to_end(&["run"], &cfg);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no longer on the server"), "{stderr}");
    assert!(stderr.contains("when_needed"), "{stderr}");
    let file: Json = serde_json::from_str(&saved).expect("offsets json");
    let file = file["checkpoint"]["file"]
        .as_str()
        .expect("file")
        .to_string();
    assert_eq!(
        file, "mysql-bin.000001",
        "a clean binlog file name was saved"
    );
    assert!(stderr.contains(&file), "the error names {file}: {stderr}");

    let cfg = config(
        tmp.path(),
        &maria,
        &["app.t"],
        "      snapshot_mode: when_needed\n",
        &kafka_sink(&bootstrap),
    );
    let _child = sluice::spawn(&cfg, &log);
    let records = wait_for("the new snapshot", Duration::from_secs(60), || async {
        let r = kcat_read(&bootstrap, topic);
        (r.len() >= 5).then_some(r)
    })
    .await;
    let mut reads: Vec<i64> = records
        .iter()
        .filter_map(|r| r.value.as_ref())
        .filter(|v| v["op"] == "r")
        .filter_map(|v| v["after"]["id"].as_i64())
        .collect();
    reads.sort_unstable();
    assert_eq!(
        reads,
        vec![1, 1, 2, 3],
        "first snapshot (1) and the re-snapshot (1, 2, 3)"
    );
}

/// MariaDB's UUID and INET6 columns (which Debezium cannot read) arrive in their text form,
/// from the snapshot and from the binlog alike, NULLs included.
#[tokio::test(flavor = "multi_thread")]
async fn maria_uuid_and_inet6() {
    let maria = Maria::start();
    maria.sql(
        "CREATE DATABASE app; CREATE TABLE app.n (id int primary key, u uuid, ip inet6, b binary(4)); \
         INSERT INTO app.n VALUES (1, '123e4567-e89b-12d3-a456-426614174000', '2001:db8::1', x'01'), \
         (2, NULL, NULL, NULL);",
    );
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let cfg = config(tmp.path(), &maria, &["app.n"], "", &kafka_sink(&bootstrap));
    let log = tmp.path().join("sluice.log");
    let _child = sluice::spawn(&cfg, &log);
    let topic = "anchor.app.n";
    wait_for("the snapshot", Duration::from_secs(60), || async {
        (kcat_read(&bootstrap, topic).len() == 2).then_some(())
    })
    .await;
    maria.sql(
        "INSERT INTO app.n VALUES (3, '123e4567-e89b-12d3-a456-426614174000', '::ffff:192.0.2.1', x'0100'), \
         (4, '00000000-0000-0000-0000-000000000000', '::', x'00000000');",
    );
    let records = wait_for("the inserts", Duration::from_secs(60), || async {
        let r = kcat_read(&bootstrap, topic);
        (r.len() >= 4).then_some(r)
    })
    .await;
    let after: HashMap<i64, Json> = records
        .iter()
        .filter_map(|r| {
            let v = r.value.as_ref()?;
            Some((v["after"]["id"].as_i64()?, v["after"].clone()))
        })
        .collect();
    let uuid = "123e4567-e89b-12d3-a456-426614174000";
    assert_eq!(after[&1]["u"], uuid);
    assert_eq!(after[&1]["ip"], "2001:db8::1");
    assert_eq!(after[&1]["b"], "AQAAAA==");
    assert_eq!(after[&2]["u"], Json::Null);
    assert_eq!(after[&2]["ip"], Json::Null);
    assert_eq!(after[&3]["u"], uuid, "binlog UUID");
    assert_eq!(after[&3]["ip"], "::ffff:192.0.2.1", "binlog INET6");
    assert_eq!(
        after[&3]["b"], "AQAAAA==",
        "binlog BINARY(4) keeps its zero bytes"
    );
    assert_eq!(after[&4]["u"], "00000000-0000-0000-0000-000000000000");
    assert_eq!(after[&4]["ip"], "::");
    assert_eq!(after[&4]["b"], "AAAAAA==");
}

/// A listed table that does not exist at start does not stop the connector (issue 26 item 5):
/// the others are snapshotted and streamed, and the missing one is captured from its CREATE
/// TABLE on, keyed, with every row written after it.
#[tokio::test(flavor = "multi_thread")]
async fn maria_table_created_later_is_captured() {
    let maria = Maria::start();
    maria.sql(
        "CREATE DATABASE app; CREATE TABLE app.items (id int primary key, v int); \
         INSERT INTO app.items VALUES (1, 1);",
    );
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let cfg = config(
        tmp.path(),
        &maria,
        &["app.items", "app.later"],
        "",
        &kafka_sink(&bootstrap),
    );
    let log = tmp.path().join("sluice.log");
    let _child = sluice::spawn(&cfg, &log);
    let started = std::time::Instant::now();
    while kcat_read(&bootstrap, "anchor.app.items").is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no snapshot of the existing table:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    maria.sql(
        "CREATE TABLE app.later (id int primary key, s varchar(10)); \
         INSERT INTO app.later VALUES (1, 'a'), (2, 'b'); \
         UPDATE app.later SET s = 'c' WHERE id = 2; \
         INSERT INTO app.items VALUES (2, 2);",
    );
    let later = wait_for("the new table's rows", Duration::from_secs(60), || async {
        let r = kcat_read(&bootstrap, "anchor.app.later");
        (r.len() >= 3).then_some(r)
    })
    .await;
    let after: Vec<(Json, Json)> = later
        .iter()
        .filter_map(|r| {
            let v = r.value.as_ref()?;
            Some((r.key.clone()?, v["after"]["s"].clone()))
        })
        .collect();
    assert_eq!(
        after,
        [
            (serde_json::json!({"id": 1}), Json::from("a")),
            (serde_json::json!({"id": 2}), Json::from("b")),
            (serde_json::json!({"id": 2}), Json::from("c")),
        ]
    );
    wait_for(
        "the existing table's new row",
        Duration::from_secs(30),
        || async { (kcat_read(&bootstrap, "anchor.app.items").len() >= 2).then_some(()) },
    )
    .await;
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(logs.contains("does not exist"), "no warning:\n{logs}");
}

/// The schema history survives a restart (issue 25 item 3): a DDL made while sluice is down
/// is streamed after the rows before it, and those rows keep the shape their checkpoint saw
/// (here the column default in the row schema), not the catalog's, which already shows the
/// DDL. Before, the history started empty at each restart.
#[tokio::test(flavor = "multi_thread")]
async fn maria_schema_history_survives_restart() {
    maria_schema_history_restart(Maria::start()).await;
}

/// The same on MySQL 8.
#[tokio::test(flavor = "multi_thread")]
async fn mysql8_schema_history_survives_restart() {
    maria_schema_history_restart(Maria::start_mysql8()).await;
}

async fn maria_schema_history_restart(maria: Maria) {
    maria.sql(
        "CREATE DATABASE app; USE app; \
         CREATE TABLE t (id int primary key, v int not null default 1); \
         INSERT INTO t VALUES (1, 10);",
    );
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let cfg = config(
        tmp.path(),
        &maria,
        &["app.t"],
        "",
        &format!("      bootstrap_servers: \"{bootstrap}\"\n      schemas_enable: true\n"),
    );
    let log = tmp.path().join("sluice.log");
    let mut child = sluice::spawn(&cfg, &log);
    let topic = "anchor.app.t";
    wait_for("the snapshot", Duration::from_secs(60), || async {
        (!kcat_read(&bootstrap, topic).is_empty()).then_some(())
    })
    .await;
    // The snapshot's checkpoint is durable once the offsets file says so.
    let offsets = tmp.path().join("offsets").join("anchor.json");
    wait_for(
        "the snapshot's checkpoint",
        Duration::from_secs(30),
        || async {
            std::fs::read_to_string(&offsets)
                .ok()
                .filter(|t| t.contains("\"snapshot_done\": true"))
        },
    )
    .await;
    child.kill();
    maria.sql(
        "USE app; INSERT INTO t VALUES (2, 20); \
         ALTER TABLE t ALTER v SET DEFAULT 7; \
         INSERT INTO t VALUES (3, 30);",
    );
    let mut child = sluice::spawn(&cfg, &log);
    let records = wait_for(
        "the rows around the DDL",
        Duration::from_secs(60),
        || async {
            let r = kcat_read(&bootstrap, topic);
            (r.len() >= 3).then_some(r)
        },
    )
    .await;
    child.kill();
    let default_of = |id: i64| -> Json {
        let v = records
            .iter()
            .filter_map(|r| r.value.as_ref())
            .find(|v| v["payload"]["after"]["id"] == id)
            .unwrap_or_else(|| panic!("no record of row {id}"));
        let after = v["schema"]["fields"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["field"] == "after"))
            .expect("after field");
        after["fields"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["field"] == "v"))
            .map(|f| f["default"].clone())
            .expect("column v")
    };
    assert_eq!(default_of(1), 1, "the snapshot row");
    assert_eq!(
        default_of(2),
        1,
        "the row before the DDL keeps the shape it was written with"
    );
    assert_eq!(default_of(3), 7, "the row after the DDL");
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logs.contains("schema history restored"),
        "the restart used the kept history"
    );
}

/// The source-side fencing a cluster relies on (issue 25): a binlog reader that registers
/// with the `server_id` of a running one ends it, on MariaDB and on MySQL 8, and one with
/// another `server_id` does not. sluice derives the `server_id` from the connector's name,
/// so a connector's new owner ends a stale owner's reader.
#[tokio::test(flavor = "multi_thread")]
async fn a_binlog_reader_with_the_same_server_id_ends_the_older() {
    for maria in [Maria::start(), Maria::start_mysql8()] {
        for (second, ends) in [(4243, false), (4242, true)] {
            assert_eq!(
                older_reader_ended(&maria, second).await,
                ends,
                "mysql8={} second server_id {second}",
                maria.mysql8
            );
        }
    }
}

/// Start a binlog reader with server_id 4242, then one with `second`: whether the first
/// stream ended within 5 s.
async fn older_reader_ended(maria: &Maria, second: u32) -> bool {
    use futures_util::StreamExt as _;
    use mysql_async::prelude::Queryable;
    maria.sql(
        "CREATE DATABASE IF NOT EXISTS fence; USE fence; \
         CREATE TABLE IF NOT EXISTS t (id int primary key); REPLACE INTO t VALUES (1);",
    );
    let mut c = conn(maria, "fence").await;
    let status: mysql_async::Row = c
        .query_first("SHOW MASTER STATUS")
        .await
        .expect("status")
        .expect("binlog on");
    let (file, pos): (String, u64) = (
        status.get(0).expect("file"),
        status.get(1).expect("position"),
    );
    let reader = |server_id: u32| {
        let file = file.clone();
        async move {
            let mut c = conn(maria, "fence").await;
            c.query_drop("SET @master_binlog_checksum = @@global.binlog_checksum")
                .await
                .expect("checksum");
            c.get_binlog_stream(
                mysql_async::BinlogStreamRequest::new(server_id)
                    .with_filename(file.as_bytes())
                    .with_pos(pos)
                    .with_hostname(b"fence-test"),
            )
            .await
            .expect("binlog stream")
        }
    };
    let mut first = reader(4242).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _second = reader(second).await;
    maria.sql("USE fence; REPLACE INTO t VALUES (2);");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(500), first.next()).await {
            Ok(None) | Ok(Some(Err(_))) => return true,
            _ => {}
        }
    }
    false
}
