//! Table shapes and setups that used to stop a connector: a partitioned table across
//! restarts, a key-less table whose topic already exists compacted, and a MariaDB user with
//! exactly the README's least-privilege grant. Each checks the records (read with kcat) and
//! that the connector keeps streaming.

use std::time::Duration;

use crate::golden::terminate_cleanly;
use crate::support::config::PgConnector;
use crate::support::kafka::{kcat_read, KRecord, Kafka};
use crate::support::mariadb::Maria;
use crate::support::postgres::Pg;
use crate::support::{sluice, wait_for};

async fn wait_records(bootstrap: &str, topic: &str, n: usize) -> Vec<KRecord> {
    let (b, t) = (bootstrap.to_string(), topic.to_string());
    wait_for(
        &format!("{n} records on {topic}"),
        Duration::from_secs(60),
        || {
            let (b, t) = (b.clone(), t.clone());
            async move {
                let r = tokio::task::spawn_blocking(move || kcat_read(&b, &t))
                    .await
                    .expect("kcat");
                (r.len() >= n).then_some(r)
            }
        },
    )
    .await
}

fn ops(records: &[KRecord]) -> Vec<(String, Option<i64>)> {
    records
        .iter()
        .map(|r| match &r.value {
            Some(v) => (
                v["op"].as_str().unwrap_or("?").to_string(),
                r.key.as_ref().and_then(|k| k["id"].as_i64()),
            ),
            None => (
                "tombstone".to_string(),
                r.key.as_ref().and_then(|k| k["id"].as_i64()),
            ),
        })
        .collect()
}

/// A partitioned table listed by its parent: the snapshot and every streamed change go to
/// the parent's topic, a cross-partition UPDATE is delete + tombstone + create, and two
/// restarts resume without `already member of publication` and without a new snapshot.
#[tokio::test(flavor = "multi_thread")]
async fn pg_partitioned_table_survives_restarts() {
    let pg = Pg::start("logical");
    let c = pg.create_db("app").await;
    c.batch_execute(
        "CREATE TABLE measure (id int NOT NULL, region text NOT NULL, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
         CREATE TABLE measure_eu PARTITION OF measure FOR VALUES IN ('eu');
         CREATE TABLE measure_us PARTITION OF measure FOR VALUES IN ('us');
         INSERT INTO measure VALUES (1, 'eu'), (2, 'us');",
    )
    .await
    .expect("setup");
    let broker = Kafka::start();
    let tmp = crate::support::test_dir();
    let cfg = PgConnector::new("p", pg.port, "app", &broker.bootstrap())
        .table("public.measure")
        .write(tmp.path())
        .path;
    let log = tmp.path().join("sluice.log");
    let topic = "p.public.measure";
    let child = sluice::spawn(&cfg, &log);
    wait_records(&broker.bootstrap(), topic, 2).await;
    terminate_cleanly(child, &log).await;
    c.batch_execute("INSERT INTO measure VALUES (3, 'eu')")
        .await
        .expect("insert");
    let child = sluice::spawn(&cfg, &log);
    wait_records(&broker.bootstrap(), topic, 3).await;
    terminate_cleanly(child, &log).await;
    c.batch_execute(
        "UPDATE measure SET region = 'us' WHERE id = 1; INSERT INTO measure VALUES (4, 'us');",
    )
    .await
    .expect("cross-partition update");
    let child = sluice::spawn(&cfg, &log);
    let records = wait_records(&broker.bootstrap(), topic, 7).await;
    // Still streaming after the restarts.
    c.batch_execute("INSERT INTO measure VALUES (5, 'eu')")
        .await
        .expect("insert");
    let records = {
        drop(records);
        wait_records(&broker.bootstrap(), topic, 8).await
    };
    terminate_cleanly(child, &log).await;
    let want: Vec<(String, Option<i64>)> = [
        ("r", 1),
        ("r", 2),
        ("c", 3),
        ("d", 1),
        ("tombstone", 1),
        ("c", 1),
        ("c", 4),
        ("c", 5),
    ]
    .iter()
    .map(|(o, k)| (o.to_string(), Some(*k)))
    .collect();
    assert_eq!(ops(&records), want);
    for leaf in ["p.public.measure_eu", "p.public.measure_us"] {
        assert!(
            kcat_read(&broker.bootstrap(), leaf).is_empty(),
            "{leaf} got records"
        );
    }
}

/// A table without any key whose topic already exists compacted: a clear error at start
/// naming the table, the topic and the fix, never a halt at the first record.
#[tokio::test(flavor = "multi_thread")]
async fn keyless_table_refuses_existing_compacted_topic() {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let pg = Pg::start("logical");
    let c = pg.create_db("app").await;
    c.batch_execute("CREATE TABLE nokey (a int, b text); INSERT INTO nokey VALUES (1, 'x');")
        .await
        .expect("setup");
    let broker = Kafka::start();
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .expect("admin");
    let topic = NewTopic::new("k.public.nokey", 1, TopicReplication::Fixed(1))
        .set("cleanup.policy", "compact");
    let res = admin
        .create_topics([&topic], &AdminOptions::new())
        .await
        .expect("create topic");
    assert!(res.iter().all(Result::is_ok), "{res:?}");
    let tmp = crate::support::test_dir();
    let cfg = PgConnector::new("k", pg.port, "app", &broker.bootstrap())
        .table("public.nokey")
        .write(tmp.path())
        .path;
    let (code, stderr) = tokio::time::timeout(
        Duration::from_secs(90),
        tokio::task::spawn_blocking(move || sluice::run_to_end(&["run"], &cfg)),
    )
    .await
    .expect("sluice stops by itself")
    .expect("join");
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr.contains("public.nokey") && stderr.contains("cleanup.policy"),
        "the error names the table and the fix: {stderr}"
    );
    assert!(
        !stderr.contains("max.message.bytes"),
        "no misleading hint: {stderr}"
    );
}

/// MariaDB with a user made from the README's least-privilege grant: the snapshot and the
/// stream work (the replica-list check is skipped with a warning).
#[tokio::test(flavor = "multi_thread")]
async fn maria_least_privilege_user() {
    let maria = Maria::start();
    maria.sql(
        "CREATE DATABASE shop; CREATE TABLE shop.items (id int PRIMARY KEY, v varchar(10));
         INSERT INTO shop.items VALUES (1, 'a');
         CREATE USER 'least'@'%' IDENTIFIED BY 'least-pw';
         GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'least'@'%';",
    );
    let broker = Kafka::start();
    let tmp = crate::support::test_dir();
    let http = crate::support::free_port();
    let off = tmp.path().join("offsets").display().to_string();
    let source = maria
        .source_yaml(&["shop.items"], "")
        .replace(
            &format!("user: {}", crate::support::mariadb::USER),
            "user: least",
        )
        .replace(
            &format!("password: {}", crate::support::mariadb::PASSWORD),
            "password: least-pw",
        );
    assert!(source.contains("user: least"), "{source}");
    let yaml = format!(
        "service:\n  http_listen_addr: 127.0.0.1:{http}\n  offsets_dir: {off}\nconnectors:\n  shop:\n{source}    sink:\n      type: kafka\n      bootstrap_servers: \"{}\"\n",
        broker.bootstrap()
    );
    let cfg = sluice::write_raw(tmp.path(), "shop.yaml", &yaml);
    let log = tmp.path().join("sluice.log");
    let child = sluice::spawn(&cfg, &log);
    let topic = "shop.shop.items";
    wait_records(&broker.bootstrap(), topic, 1).await;
    maria.sql("INSERT INTO shop.items VALUES (2, 'b'); DELETE FROM shop.items WHERE id = 1;");
    let records = wait_records(&broker.bootstrap(), topic, 4).await;
    terminate_cleanly(child, &log).await;
    let want: Vec<(String, Option<i64>)> = [("r", 1), ("c", 2), ("d", 1), ("tombstone", 1)]
        .iter()
        .map(|(o, k)| (o.to_string(), Some(*k)))
        .collect();
    assert_eq!(ops(&records), want);
}

/// `key_columns` names a column that DDL drops while streaming: the stream goes on, keyed by
/// the primary key from then on (a warning names the table and column), instead of halting
/// at the next re-read of the table. A restart with the stale setting is the clear error at
/// start.
#[tokio::test(flavor = "multi_thread")]
async fn pg_key_column_dropped_while_streaming() {
    let pg = Pg::start("logical");
    let c = pg.create_db("app").await;
    c.batch_execute(
        "CREATE TABLE acct (id int PRIMARY KEY, code text NOT NULL, note text);
         INSERT INTO acct VALUES (1, 'a', 'x');",
    )
    .await
    .expect("setup");
    let broker = Kafka::start();
    let tmp = crate::support::test_dir();
    let cfg = PgConnector::new("k", pg.port, "app", &broker.bootstrap())
        .table("public.acct")
        .source("key_columns", "\n        public.acct: [code]")
        .write(tmp.path())
        .path;
    let log = tmp.path().join("sluice.log");
    let topic = "k.public.acct";
    let child = sluice::spawn(&cfg, &log);
    wait_records(&broker.bootstrap(), topic, 1).await;
    c.batch_execute("INSERT INTO acct VALUES (2, 'b', 'y')")
        .await
        .expect("insert");
    // Streamed under the configured key before the DDL (the table's shape is read from the
    // catalog when the stream first describes it: a DDL already committed by then would
    // apply to earlier rows too, see README "Limits").
    wait_records(&broker.bootstrap(), topic, 2).await;
    c.batch_execute(
        "ALTER TABLE acct DROP COLUMN code;
         INSERT INTO acct VALUES (3, 'z');
         UPDATE acct SET note = 'w' WHERE id = 1;",
    )
    .await
    .expect("drop the key column while streaming");
    let records = wait_records(&broker.bootstrap(), topic, 4).await;
    let keys: Vec<serde_json::Value> = records
        .iter()
        .map(|r| r.key.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        keys,
        [
            serde_json::json!({"code": "a"}),
            serde_json::json!({"code": "b"}),
            serde_json::json!({"id": 3}),
            serde_json::json!({"id": 1}),
        ],
        "keyed by code, then by the primary key"
    );
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.contains("source.key_columns names a column the table no longer has")
            && text.contains("code"),
        "a warning names the column"
    );
    terminate_cleanly(child, &log).await;
}
