//! Incremental snapshots on a real MariaDB 10.11 and MySQL 8.0.31 with Kafka: a table added
//! to the configuration is read in chunks of 10 rows while a writer updates, deletes and
//! re-inserts its rows; no `r` record is ever older than a change of its key emitted before
//! it, and the topic ends equal to the table. MariaDB fences each chunk by its snapshot's
//! exact binlog position, MySQL by its GTIDs. Then an API request with a filter reads just
//! the rows it names, and a SIGKILL in the middle of a snapshot resumes after the last
//! acknowledged chunk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mysql_async::prelude::Queryable;

use crate::incremental::{assert_versions_never_go_back, wait_topic_equals};
use crate::support::kafka::{kcat_read, KRecord, Kafka};
use crate::support::mariadb::{Maria, PASSWORD, USER};
use crate::support::{sluice, wait_for};

const TOPIC: &str = "inc.app.items";

fn config(dir: &Path, maria: &Maria, http: u16, tables: &[&str], bootstrap: &str) -> PathBuf {
    config_with(dir, maria, http, tables, bootstrap, "")
}

fn config_with(
    dir: &Path,
    maria: &Maria,
    http: u16,
    tables: &[&str],
    bootstrap: &str,
    extra: &str,
) -> PathBuf {
    let off = dir.join("offsets").display().to_string();
    let yaml = format!(
        "service:\n  http_listen_addr: 127.0.0.1:{http}\n  offsets_dir: {off}\nconnectors:\n  inc:\n{}    sink:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n",
        maria.source_yaml(tables, &format!("      snapshot_chunk_size: 10\n{extra}"))
    );
    sluice::write_raw(dir, "inc.yaml", &yaml)
}

async fn connect(maria: &Maria) -> mysql_async::Conn {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(maria.port)
        .user(Some(USER))
        .pass(Some(PASSWORD))
        .db_name(Some("app"));
    mysql_async::Conn::new(opts).await.expect("connect")
}

async fn table(c: &mut mysql_async::Conn) -> HashMap<i64, i64> {
    let rows: Vec<(i64, i64)> = c
        .query("SELECT id, version FROM items")
        .await
        .expect("table");
    rows.into_iter().collect()
}

/// The latest record per key equals the table's `id → version` (deleted keys end deleted).
async fn wait_equal(bootstrap: &str, c: &mut mysql_async::Conn) -> Vec<KRecord> {
    let want = table(c).await;
    wait_topic_equals(bootstrap, TOPIC, &want).await
}

/// The server of [`create`] and a first sluice run that captured `other` only, so `items`
/// is added afterwards.
async fn prepare(mysql8: bool, rows: i64, dir: &Path, bootstrap: &str) -> Maria {
    let maria = create(mysql8, rows);
    let http = crate::support::free_port();
    let cfg = config(dir, &maria, http, &["app.other"], bootstrap);
    let log = dir.join("sluice-first.log");
    let mut child = sluice::spawn(&cfg, &log);
    wait_for(
        "the first run's snapshot",
        Duration::from_secs(90),
        || async { (!kcat_read(bootstrap, "inc.app.other").is_empty()).then_some(()) },
    )
    .await;
    assert!(child.terminate().success(), "clean stop");
    maria
}

/// A server with `app.other` (one row) and `app.items` (`rows` rows at version 1).
fn create(mysql8: bool, rows: i64) -> Maria {
    let maria = if mysql8 {
        Maria::start_mysql8()
    } else {
        Maria::start()
    };
    let depth = if mysql8 {
        "cte_max_recursion_depth"
    } else {
        "max_recursive_iterations"
    };
    maria.sql(&format!(
        "CREATE DATABASE app; USE app; \
         CREATE TABLE other (id int primary key); INSERT INTO other VALUES (1); \
         CREATE TABLE items (id int primary key, version int not null, pad varchar(60)); \
         SET SESSION {depth} = 1000000; \
         INSERT INTO items WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {rows}) \
         SELECT n, 1, REPEAT('x', 50) FROM g;"
    ));
    maria
}

/// MariaDB: a table added to `tables` is snapshotted in chunks while a writer aims at the
/// rows being read.
#[tokio::test(flavor = "multi_thread")]
async fn maria_added_table_is_snapshotted_incrementally_under_writes() {
    under_writes(false).await;
}

/// The same on MySQL 8.0 (GTID watermarks).
#[tokio::test(flavor = "multi_thread")]
async fn mysql8_added_table_is_snapshotted_incrementally_under_writes() {
    under_writes(true).await;
}

async fn under_writes(mysql8: bool) {
    const ROWS: i64 = 1500;
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let maria = prepare(mysql8, ROWS, tmp.path(), &bootstrap).await;
    let mut c = connect(&maria).await;
    let http = crate::support::free_port();
    let cfg = config(
        tmp.path(),
        &maria,
        http,
        &["app.other", "app.items"],
        &bootstrap,
    );
    let log = tmp.path().join("sluice.log");
    let mut child = sluice::spawn(&cfg, &log);
    let mut version: HashMap<i64, i64> = (1..=ROWS).map(|i| (i, 1)).collect();
    let mut deleted: Vec<i64> = Vec::new();
    let mut n: i64 = 0;
    let mut hot: i64 = 0;
    let started = std::time::Instant::now();
    loop {
        n += 1;
        if n % 20 == 0 {
            if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{http}/connectors/inc")).await {
                let text = r.text().await.unwrap_or_default();
                let st: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                if let Some(rows) = st["incremental_snapshots"]["tables"][0]["rows"].as_i64() {
                    hot = rows;
                }
            }
        }
        let id = if n % 4 == 0 {
            (n * 7919) % ROWS + 1
        } else {
            (hot + n * 7919 % 40).clamp(1, ROWS)
        };
        let v = version.get(&id).copied().unwrap_or(1) + 1;
        version.insert(id, v);
        if n % 13 == 0 && !deleted.contains(&id) {
            c.exec_drop("DELETE FROM items WHERE id = ?", (id,))
                .await
                .expect("delete");
            deleted.push(id);
        } else if deleted.contains(&id) {
            c.exec_drop("INSERT INTO items VALUES (?, ?, 'back')", (id, v))
                .await
                .expect("re-insert");
            deleted.retain(|d| *d != id);
        } else {
            c.exec_drop("UPDATE items SET version = ? WHERE id = ?", (v, id))
                .await
                .expect("update");
        }
        let logs = std::fs::read_to_string(&log).unwrap_or_default();
        if n % 50 == 0 && logs.contains("incremental snapshot of table finished") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(150),
            "the incremental snapshot did not finish:\n{logs}"
        );
    }
    let records = wait_equal(&bootstrap, &mut c).await;
    let reads = assert_versions_never_go_back(&records);
    assert!(reads > 0, "no incremental read");
    eprintln!("{n} writes during the snapshot; {reads} incremental reads kept");

    // An API request with a filter: the rows with id <= 40 that exist, read again.
    let before = records.len();
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{http}/connectors/inc/snapshot"))
        .body(r#"{"tables": ["app.items"], "filter": {"app.items": "id <= 40"}}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 202, "{:?}", resp.text().await);
    let existing: Option<i64> = c
        .query_first("SELECT count(*) FROM items WHERE id <= 40")
        .await
        .expect("count");
    let existing = existing.unwrap_or_default();
    let new_reads: Vec<i64> = wait_for(
        "the requested snapshot",
        Duration::from_secs(60),
        || async {
            let r = kcat_read(&bootstrap, TOPIC);
            let new: Vec<i64> = r[before.min(r.len())..]
                .iter()
                .filter(|r| r.value.as_ref().is_some_and(|v| v["op"] == "r"))
                .filter_map(|r| r.key.as_ref()?["id"].as_i64())
                .collect();
            (new.len() as i64 >= existing).then_some(new)
        },
    )
    .await;
    assert!(new_reads.iter().all(|id| *id <= 40), "{new_reads:?}");
    child.kill();
}

/// SIGKILL in the middle of a MariaDB incremental snapshot: the restart resumes after the
/// last acknowledged chunk; every row arrives, and few are read twice.
#[tokio::test(flavor = "multi_thread")]
async fn maria_interrupted_incremental_snapshot_resumes() {
    interrupted(false, false).await;
}

/// The same for a chunked initial snapshot (`snapshot_consistency: chunked`) on MySQL 8.
#[tokio::test(flavor = "multi_thread")]
async fn mysql8_interrupted_chunked_initial_snapshot_resumes() {
    interrupted(true, true).await;
}

async fn interrupted(mysql8: bool, initial: bool) {
    const ROWS: i64 = 40_000;
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let maria = if initial {
        create(mysql8, ROWS)
    } else {
        prepare(mysql8, ROWS, tmp.path(), &bootstrap).await
    };
    let http = crate::support::free_port();
    let extra = if initial {
        "      snapshot_consistency: chunked\n"
    } else {
        ""
    };
    let cfg = config_with(
        tmp.path(),
        &maria,
        http,
        &["app.other", "app.items"],
        &bootstrap,
        extra,
    );
    let log = tmp.path().join("sluice.log");
    let mut child = sluice::spawn(&cfg, &log);
    // The progress the API shows (cheaper to poll than the topic).
    let shown = wait_for(
        "a quarter of the rows",
        Duration::from_secs(120),
        || async {
            let r = reqwest::get(format!("http://127.0.0.1:{http}/connectors/inc"))
                .await
                .ok()?;
            let st: serde_json::Value = serde_json::from_str(&r.text().await.ok()?).ok()?;
            let rows = st["incremental_snapshots"]["tables"][0]["rows"].as_i64()?;
            (rows >= ROWS / 4).then_some(st)
        },
    )
    .await;
    child.kill();
    // Rows, the catalog's estimate, the rate and the time left.
    let running = &shown["incremental_snapshots"]["tables"][0];
    assert!(
        running["estimated_rows"].is_u64()
            && running["rows_per_s"].is_u64()
            && running["eta_s"].is_u64(),
        "{shown}"
    );
    let at_kill = kcat_read(&bootstrap, TOPIC).len() as i64;
    assert!(at_kill < ROWS, "the snapshot ended before the kill");
    let mut child = sluice::spawn(&cfg, &log);
    let records = wait_for("every row", Duration::from_secs(120), || async {
        let r = kcat_read(&bootstrap, TOPIC);
        let keys: std::collections::HashSet<i64> = r
            .iter()
            .filter_map(|r| r.key.as_ref()?["id"].as_i64())
            .collect();
        (keys.len() as i64 == ROWS).then_some(r)
    })
    .await;
    child.kill();
    let again = records.len() as i64 - ROWS;
    // At most the chunks in flight at the kill (read ahead and unacknowledged) come twice.
    assert!(again <= 10 * 6, "{again} rows read twice");
    eprintln!("killed at {at_kill} of {ROWS} rows; {again} read twice");
}

/// MariaDB table patterns (`table_include_list` / `table_exclude_list`): a matching table is
/// snapshotted; one created while sluice streams is captured from its CREATE TABLE, with
/// every row; excluded and other tables are not; one created while sluice is stopped arrives
/// after the restart.
#[tokio::test(flavor = "multi_thread")]
async fn maria_table_patterns_capture_matching_tables_also_created_later() {
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let maria = Maria::start();
    maria.sql(
        "CREATE DATABASE app; USE app; \
         CREATE TABLE p_a (id int primary key, v int); INSERT INTO p_a VALUES (1, 1), (2, 2); \
         CREATE TABLE other (id int primary key); INSERT INTO other VALUES (1);",
    );
    let http = crate::support::free_port();
    let off = tmp.path().join("offsets").display().to_string();
    let yaml = format!(
        "service:\n  http_listen_addr: 127.0.0.1:{http}\n  offsets_dir: {off}\nconnectors:\n  inc:\n{}    sink:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n",
        maria.source_yaml(
            &[],
            "      table_include_list: ['app\\.p_.*']\n      table_exclude_list: ['app\\.p_skip']\n"
        )
        .replace("      tables: []\n", "")
    );
    let cfg = sluice::write_raw(tmp.path(), "inc.yaml", &yaml);
    let log = tmp.path().join("sluice.log");
    let mut child = sluice::spawn(&cfg, &log);
    let count = |topic: &str| kcat_read(&bootstrap, topic).len();
    wait_for(
        "the matching table's snapshot",
        Duration::from_secs(90),
        || async { (count("inc.app.p_a") == 2).then_some(()) },
    )
    .await;
    maria.sql(
        "USE app; CREATE TABLE p_new (id int primary key, v int); INSERT INTO p_new VALUES (1, 10), (2, 20); \
         CREATE TABLE p_skip (id int primary key); INSERT INTO p_skip VALUES (1); \
         INSERT INTO other VALUES (2); INSERT INTO p_a VALUES (3, 3);",
    );
    wait_for(
        "the created table's rows",
        Duration::from_secs(60),
        || async { (count("inc.app.p_new") == 2 && count("inc.app.p_a") == 3).then_some(()) },
    )
    .await;
    assert!(child.terminate().success(), "clean stop");
    maria.sql("USE app; CREATE TABLE p_late (id int primary key); INSERT INTO p_late VALUES (1), (2), (3);");
    let mut child = sluice::spawn(&cfg, &log);
    // Its CREATE TABLE and rows are in the binlog after the saved position: streamed (and,
    // as a table new to the connector, read by an incremental snapshot too).
    wait_for(
        "the later table's rows",
        Duration::from_secs(60),
        || async {
            let keys: std::collections::HashSet<i64> = kcat_read(&bootstrap, "inc.app.p_late")
                .iter()
                .filter_map(|r| r.key.as_ref()?["id"].as_i64())
                .collect();
            (keys.len() == 3).then_some(())
        },
    )
    .await;
    child.kill();
    let topics = crate::support::kafka::topic_names(&bootstrap);
    assert!(
        !topics
            .iter()
            .any(|t| t == "inc.app.p_skip" || t == "inc.app.other"),
        "excluded and unmatched tables are not captured: {topics:?}"
    );
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logs.contains("a table matching table_include_list appeared"),
        "{logs}"
    );
}
