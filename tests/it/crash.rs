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
    let pg = Pg::start("logical");
    let c = pg.create_db("app").await;
    c.batch_execute(
        "CREATE TABLE items (id int primary key, v bigint not null); \
         INSERT INTO items SELECT g, 0 FROM generate_series(1, 50) g;",
    )
    .await
    .expect("setup");
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let config = sluice::write_config(
        tmp.path(),
        "crash",
        pg.port,
        "app",
        &["public.items"],
        &bootstrap,
        "",
        "      topic_partitions: 3\n",
    );
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
    let final_rows: HashMap<i64, i64> = c
        .query("SELECT id, v FROM items", &[])
        .await
        .expect("final state")
        .iter()
        .map(|r| (i64::from(r.get::<_, i32>(0)), r.get::<_, i64>(1)))
        .collect();
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
