//! Kill -9 mid-stream under writes, restart: every committed change is in the topic, in
//! per-key commit order (duplicates allowed).

use std::collections::HashMap;
use std::time::Duration;

use crate::support::kafka::{kcat_read, KRecord, Kafka};
use crate::support::postgres::Pg;
use crate::support::{sluice, wait_for};

/// SIGKILL while changes stream, then restart: no committed change is lost, and each key's
/// committed values appear in commit order.
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_and_restart_loses_nothing() {
    sigkill_and_restart(15).await;
}

/// The same on PostgreSQL 16.
#[tokio::test(flavor = "multi_thread")]
async fn pg16_sigkill_and_restart_loses_nothing() {
    sigkill_and_restart(16).await;
}

/// The same on PostgreSQL 17.
#[tokio::test(flavor = "multi_thread")]
async fn pg17_sigkill_and_restart_loses_nothing() {
    sigkill_and_restart(17).await;
}

/// The same on PostgreSQL 18.
#[tokio::test(flavor = "multi_thread")]
async fn pg18_sigkill_and_restart_loses_nothing() {
    sigkill_and_restart(18).await;
}

/// Snapshot, stream (single-row and multi-row transactions), SIGKILL mid-stream, restart
/// from the offsets on PostgreSQL `version`.
async fn sigkill_and_restart(version: u32) {
    let pg = Pg::start_version("logical", version);
    let c = items_table(&pg, 50).await;
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let config = crate::support::config::PgConnector::new("crash", pg.port, "app", &bootstrap)
        .table("public.items")
        .sink("topic_partitions", 3)
        .write(tmp.path())
        .path;
    let log = tmp.path().join("sluice.log");
    let mut child = sluice::spawn(&config, &log);
    let topic = "crash.public.items";
    wait_for("the snapshot", Duration::from_secs(60), || async {
        (kcat_read(&bootstrap, topic).len() >= 50).then_some(())
    })
    .await;

    // Committed values per key, in commit order.
    let mut committed: HashMap<i64, Vec<i64>> = HashMap::new();
    let total = 1500i64;
    for n in 1..=total {
        let id = (n * 7) % 50 + 1;
        if n % 100 == 0 {
            c.batch_execute(&format!("BEGIN; UPDATE items SET v = {n} WHERE id = {id}; UPDATE items SET v = {n} + 1 WHERE id = {}; COMMIT;", id % 50 + 1))
                .await
                .expect("multi-row transaction");
            committed.entry(id).or_default().push(n);
            committed.entry(id % 50 + 1).or_default().push(n + 1);
        } else {
            c.execute("UPDATE items SET v = $1 WHERE id = $2", &[&n, &(id as i32)])
                .await
                .expect("update");
            committed.entry(id).or_default().push(n);
        }
        if n == total / 3 {
            child.kill();
        }
        if n == total / 2 {
            child = sluice::spawn(&config, &log);
        }
    }
    let final_rows = items_values(&c).await;
    // Wait until the topic's last value per key equals the table's final state.
    let records = wait_for_final_values(&bootstrap, topic, &final_rows).await;
    child.kill();
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        logs.matches("snapshot of table started").count(),
        1,
        "the restart must resume from offsets, not snapshot again:\n{logs}"
    );
    assert!(logs.contains("resuming replication"), "{logs}");

    assert_committed_in_order(&records, &committed);
}

/// Database `app` with `items (id int primary key, v bigint not null)` holding `rows` rows
/// (ids 1..=rows, v 0).
pub(crate) async fn items_table(pg: &Pg, rows: i32) -> tokio_postgres::Client {
    let c = pg.create_db("app").await;
    c.batch_execute(&format!(
        "CREATE TABLE items (id int primary key, v bigint not null); \
         INSERT INTO items SELECT g, 0 FROM generate_series(1, {rows}) g;"
    ))
    .await
    .expect("setup");
    c
}

/// `items` as `id → v`.
pub(crate) async fn items_values(c: &tokio_postgres::Client) -> HashMap<i64, i64> {
    c.query("SELECT id, v FROM items", &[])
        .await
        .expect("final state")
        .iter()
        .map(|r| (i64::from(r.get::<_, i32>(0)), r.get::<_, i64>(1)))
        .collect()
}

/// Wait until the last value of `v` per key `id` in `topic` equals `final_rows`; return the
/// topic's records.
pub(crate) async fn wait_for_final_values(
    bootstrap: &str,
    topic: &str,
    final_rows: &HashMap<i64, i64>,
) -> Vec<KRecord> {
    wait_for("every final value", Duration::from_secs(120), || async {
        let r = kcat_read(bootstrap, topic);
        let mut last: HashMap<i64, i64> = HashMap::new();
        for rec in &r {
            if let (Some(k), Some(v)) = (&rec.key, &rec.value) {
                last.insert(k["id"].as_i64()?, v["after"]["v"].as_i64()?);
            }
        }
        (last == *final_rows).then_some(r)
    })
    .await
}

/// Every key stays on one partition, and each key's committed values (`committed`, in commit
/// order) appear among its update events as a subsequence: replays may repeat values, never
/// skip or reorder one.
pub(crate) fn assert_committed_in_order(records: &[KRecord], committed: &HashMap<i64, Vec<i64>>) {
    let mut seen: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut partition_of: HashMap<i64, i32> = HashMap::new();
    for rec in records {
        let (Some(k), Some(v)) = (&rec.key, &rec.value) else {
            continue;
        };
        let id = k["id"].as_i64().expect("id");
        assert_eq!(
            *partition_of.entry(id).or_insert(rec.partition),
            rec.partition,
            "key {id} moved between partitions"
        );
        if v["op"] == "u" {
            seen.entry(id)
                .or_default()
                .push(v["after"]["v"].as_i64().expect("v"));
        }
    }
    for (id, want) in committed {
        let got = seen.get(id).cloned().unwrap_or_default();
        let mut it = got.iter();
        for w in want {
            assert!(
                it.any(|g| g == w),
                "key {id}: committed value {w} missing or out of order in {got:?}"
            );
        }
    }
}

/// `transactions: true`: an instance that hangs (SIGSTOP) while a new one starts with the
/// same connector is fenced by it. When the stale one wakes up and gets the slot back (the
/// new one stopped), its first write fails as fenced: it stops (`failed`, with a hint) and
/// writes nothing, instead of fencing the new instance back or interleaving stale writes.
/// Every change is in the topic exactly once, in order (the stale instance's batches are
/// never committed).
#[tokio::test(flavor = "multi_thread")]
async fn transactional_producer_fences_a_stale_instance() {
    let pg = Pg::start("logical");
    let c = pg.create_db("app").await;
    c.batch_execute(
        "CREATE TABLE t (id int primary key); \
         INSERT INTO t SELECT g FROM generate_series(1, 10) g;",
    )
    .await
    .expect("setup");
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let config_a = crate::support::config::PgConnector::new("fence", pg.port, "app", &bootstrap)
        .table("public.t")
        .sink("transactions", true)
        .write(tmp.path())
        .path;
    // The same connector and offsets, another HTTP port: a second instance.
    let text = std::fs::read_to_string(&config_a).expect("config");
    let text_b = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("http_listen_addr:") {
                format!(
                    "  http_listen_addr: 127.0.0.1:{}",
                    crate::support::free_port()
                )
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let config_b = sluice::write_raw(tmp.path(), "fence-b.yaml", &text_b);
    let (log_a, log_b) = (tmp.path().join("a.log"), tmp.path().join("b.log"));
    let topic = "fence.public.t";
    let ids = |b: &str| fence_ids(b, topic);
    let mut a = sluice::spawn(&config_a, &log_a);
    wait_fence_ids(&bootstrap, topic, 10).await;
    let pid_a = a.0.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-STOP", &pid_a])
        .status()
        .expect("kill")
        .success());
    c.batch_execute("INSERT INTO t SELECT g FROM generate_series(11, 20) g")
        .await
        .expect("insert");
    // A hung instance's replication connection ends (as wal_sender_timeout would end it).
    c.batch_execute(
        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE active",
    )
    .await
    .expect("terminate the stale walsender");
    let mut b = sluice::spawn(&config_b, &log_b);
    wait_fence_ids(&bootstrap, topic, 20).await;
    // The stale instance wakes up: the slot is the new one's, so it only retries.
    assert!(std::process::Command::new("kill")
        .args(["-CONT", &pid_a])
        .status()
        .expect("kill")
        .success());
    c.batch_execute("INSERT INTO t SELECT g FROM generate_series(21, 25) g")
        .await
        .expect("insert");
    wait_fence_ids(&bootstrap, topic, 25).await;
    // The new instance stops cleanly; the stale one gets the slot and tries to write.
    assert!(
        b.terminate().success(),
        "the new instance shuts down cleanly"
    );
    c.batch_execute("INSERT INTO t VALUES (26)")
        .await
        .expect("insert");
    wait_for(
        "the stale instance to report itself fenced",
        Duration::from_secs(120),
        || {
            let log = log_a.clone();
            async move {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                text.contains("this kafka producer was fenced")
                    .then_some(())
            }
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = ids(&bootstrap);
    assert_eq!(
        got,
        (1..=25).collect::<Vec<i64>>(),
        "every change once, in order; nothing from the fenced instance"
    );
    a.kill();
    let text_b = std::fs::read_to_string(&log_b).unwrap_or_default();
    assert!(
        !text_b.contains("fenced:"),
        "the new instance was never fenced back"
    );
}

fn fence_ids(bootstrap: &str, topic: &str) -> Vec<i64> {
    kcat_read(bootstrap, topic)
        .iter()
        .filter_map(|r| r.key.as_ref().and_then(|k| k["id"].as_i64()))
        .collect()
}

async fn wait_fence_ids(bootstrap: &str, topic: &str, n: usize) -> Vec<i64> {
    let (b, t) = (bootstrap.to_string(), topic.to_string());
    wait_for(
        &format!("{n} records on {topic}"),
        Duration::from_secs(90),
        move || {
            let (b, t) = (b.clone(), t.clone());
            async move {
                let got = tokio::task::spawn_blocking(move || fence_ids(&b, &t))
                    .await
                    .expect("kcat");
                (got.len() >= n).then_some(got)
            }
        },
    )
    .await
}
