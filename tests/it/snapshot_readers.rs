//! `snapshot_max_threads`: several connections read one exported snapshot, a large table in
//! `ctid` ranges, and the output is what one reader writes.

use std::time::Duration;

use crate::support::config::PgConnector;
use crate::support::kafka::{kcat_read, KRecord, Kafka};
use crate::support::postgres::Pg;
use crate::support::{sluice, wait_for};

/// Rows of the large table: about 25 MB, so three readers split it by `ctid` range.
const BIG: i64 = 120_000;

/// One reader (`initial_only`), three readers of an exported snapshot (`initial_only`) and
/// three readers of the slot's snapshot (`initial`, then streaming) write the same snapshot: the same rows in the same order with the same
/// `source.snapshot` markers, every row once; a row inserted afterwards is streamed.
#[tokio::test(flavor = "multi_thread")]
async fn pg17_three_readers_write_what_one_reader_writes() {
    let pg = Pg::start_version("logical", 17);
    let c = pg.create_db("app").await;
    c.batch_execute(&format!(
        "CREATE TABLE a (id int primary key, v text); \
         INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 5) g; \
         CREATE TABLE big (id int primary key, pad text not null); \
         INSERT INTO big SELECT g, repeat('x', 150) || g FROM generate_series(1, {BIG}) g; \
         CREATE TABLE empty (id int primary key); \
         CREATE TABLE c (id int primary key, v text); \
         INSERT INTO c SELECT g, 'c' || g FROM generate_series(1, 3) g;"
    ))
    .await
    .expect("setup");
    let pages: i64 = c
        .query_one(
            "SELECT pg_relation_size('big') / current_setting('block_size')::int8",
            &[],
        )
        .await
        .expect("size")
        .get(0);
    assert!(
        pages >= 2048,
        "the large table must be split: {pages} pages"
    );
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let connector = |name: &str, threads: usize, mode: &str| {
        ["public.a", "public.big", "public.empty", "public.c"]
            .iter()
            .fold(
                PgConnector::new(name, pg.port, "app", &bootstrap),
                |b, t| b.table(t),
            )
            .source("snapshot_mode", mode)
            .source("snapshot_max_threads", threads)
            .source("slot_name", format!("slot_{name}"))
            .source("publication_name", format!("pub_{name}"))
            .sink("topic_partitions", 1)
            .write(tmp.path())
            .path
    };
    let one = connector("one", 1, "initial_only");
    let (code, log) = sluice::run_to_end(&["run"], &one);
    assert_eq!(code, 0, "{log}");
    // `initial_only` with more readers: the snapshot transaction exports its snapshot.
    let exported = connector("exported", 3, "initial_only");
    let (code, log) = sluice::run_to_end(&["run"], &exported);
    assert_eq!(code, 0, "{log}");
    assert!(!log.contains("could not be opened"), "{log}");
    for table in ["a", "big", "empty", "c"] {
        let mine = reads(&kcat_read(&bootstrap, &format!("one.public.{table}")));
        let theirs = reads(&kcat_read(&bootstrap, &format!("exported.public.{table}")));
        assert!(
            mine == theirs,
            "{table}: an exported snapshot read by three readers"
        );
    }

    let three = connector("three", 3, "initial");
    let log = tmp.path().join("three.log");
    let _child = sluice::spawn(&three, &log);
    wait_for(
        "the three readers' snapshot",
        Duration::from_secs(120),
        || async { (kcat_read(&bootstrap, "three.public.c").len() >= 3).then_some(()) },
    )
    .await;
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(logs.contains("snapshot complete; streaming"), "{logs}");
    let split = logs
        .lines()
        .find(|l| l.contains("snapshot of table started") && l.contains("public.big"))
        .unwrap_or_default();
    assert!(
        !split.contains("parts=1") && split.contains("parts="),
        "the large table is read in ctid ranges: {split}"
    );
    c.batch_execute(&format!("INSERT INTO big VALUES ({}, 'late')", BIG + 1))
        .await
        .expect("insert after the snapshot");

    for table in ["a", "big", "empty", "c"] {
        let mine = reads(&kcat_read(&bootstrap, &format!("one.public.{table}")));
        let theirs = wait_for("the streamed row", Duration::from_secs(60), || async {
            let r = kcat_read(&bootstrap, &format!("three.public.{table}"));
            let streamed = r
                .iter()
                .filter(|r| r.value.as_ref().is_some_and(|v| v["op"] == "c"))
                .count();
            (table != "big" || streamed == 1).then(|| reads(&r))
        })
        .await;
        assert_eq!(mine.len(), theirs.len(), "rows of {table}");
        assert!(mine == theirs, "{table}: the same rows, order and markers");
    }
    let big = reads(&kcat_read(&bootstrap, "three.public.big"));
    let mut ids: Vec<i64> = big.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len() as i64, BIG, "every row of the large table once");
    assert_eq!(big[0].1, "first_in_data_collection");
    assert_eq!(big[big.len() - 1].1, "last_in_data_collection");
    let a = reads(&kcat_read(&bootstrap, "three.public.a"));
    assert_eq!(a[0].1, "first");
    let last = reads(&kcat_read(&bootstrap, "three.public.c"));
    assert_eq!(last[last.len() - 1].1, "last");
}

/// The snapshot reads of `records`: `(id, source.snapshot)` in topic order.
fn reads(records: &[KRecord]) -> Vec<(i64, String)> {
    records
        .iter()
        .filter_map(|r| r.value.as_ref())
        .filter(|v| v["op"] == "r")
        .map(|v| {
            (
                v["after"]["id"].as_i64().unwrap_or(-1),
                v["source"]["snapshot"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// MariaDB: three readers (their transactions started under the global read lock) write
/// what one reader writes.
#[tokio::test(flavor = "multi_thread")]
async fn maria_three_readers_write_what_one_reader_writes() {
    mysql_readers(crate::support::mariadb::Maria::start()).await;
}

/// The same on MySQL 8.
#[tokio::test(flavor = "multi_thread")]
async fn mysql8_three_readers_write_what_one_reader_writes() {
    mysql_readers(crate::support::mariadb::Maria::start_mysql8()).await;
}

async fn mysql_readers(maria: crate::support::mariadb::Maria) {
    maria.sql(
        "CREATE DATABASE app; USE app; \
         CREATE TABLE a (id int primary key, v text); \
         INSERT INTO a VALUES (1, 'a1'), (2, 'a2'), (3, 'a3'), (4, 'a4'), (5, 'a5'); \
         CREATE TABLE d (x int); \
         INSERT INTO d VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9); \
         CREATE TABLE big (id int primary key, pad text not null); \
         INSERT INTO big SELECT a.x + 10 * b.x + 100 * c.x + 1000 * e.x + 1, REPEAT('x', 150) \
           FROM d a, d b, d c, d e; \
         CREATE TABLE nothing (id int primary key); \
         CREATE TABLE c (id int primary key, v text); \
         INSERT INTO c VALUES (1, 'c1'), (2, 'c2'), (3, 'c3');",
    );
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let tables = ["app.a", "app.big", "app.nothing", "app.c"];
    let run = |name: &str, threads: usize| {
        let http = crate::support::free_port();
        let off = tmp
            .path()
            .join(format!("offsets-{name}"))
            .display()
            .to_string();
        let yaml = format!(
            "service:\n  http_listen_addr: 127.0.0.1:{http}\n  offsets_dir: {off}\nconnectors:\n  {name}:\n{}    sink:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n      topic_partitions: 1\n",
            maria.source_yaml(
                &tables,
                &format!("      snapshot_mode: initial_only\n      snapshot_max_threads: {threads}\n")
            )
        );
        let cfg = sluice::write_raw(tmp.path(), &format!("{name}.yaml"), &yaml);
        let (code, log) = sluice::run_to_end(&["run"], &cfg);
        assert_eq!(code, 0, "{log}");
        log
    };
    run("one", 1);
    let log = run("three", 3);
    assert!(log.contains("readers=3"), "{log}");
    for table in ["a", "big", "nothing", "c"] {
        let mine = reads(&kcat_read(&bootstrap, &format!("one.app.{table}")));
        let theirs = reads(&kcat_read(&bootstrap, &format!("three.app.{table}")));
        assert_eq!(mine.len(), theirs.len(), "rows of {table}");
        assert!(mine == theirs, "{table}: the same rows, order and markers");
    }
    let big = reads(&kcat_read(&bootstrap, "three.app.big"));
    assert_eq!(big.len(), 10_000);
    assert_eq!(reads(&kcat_read(&bootstrap, "three.app.a"))[0].1, "first");
    let c = reads(&kcat_read(&bootstrap, "three.app.c"));
    assert_eq!(c[c.len() - 1].1, "last");
}
