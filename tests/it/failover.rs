//! A PostgreSQL 17 primary with a physical standby that synchronizes sluice's failover slot:
//! the primary crashes mid-stream, the standby is promoted, and sluice (the standby in its
//! `failover_hosts`) resumes from the synchronized slot with nothing lost.

use std::collections::HashMap;
use std::time::Duration;

use crate::crash::{assert_committed_in_order, items_table, items_values, wait_for_final_values};
use crate::support::config::PgConnector;
use crate::support::kafka::{kcat_read, Kafka};
use crate::support::postgres::Pg;
use crate::support::{sluice, wait_for};

/// `slot_failover: true` and `failover_hosts`: updates stream; the primary stops at once
/// (no shutdown) after the standby has replayed its WAL, the standby is promoted and takes
/// the rest of the updates. sluice connects to the new primary, finds the slot the standby
/// synchronized (it creates none and takes no new snapshot) and every committed change is in
/// the topic, in per-key commit order.
#[tokio::test(flavor = "multi_thread")]
async fn pg17_failover_slot_carries_on_after_a_promotion() {
    let primary = Pg::start_version("logical", 17);
    let standby = primary.start_standby().await;
    let c = items_table(&primary, 50).await;
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let cfg = PgConnector::new("fo", primary.port, "app", &bootstrap)
        .table("public.items")
        .source("slot_failover", true)
        .source(
            "failover_hosts",
            format!("[\"127.0.0.1:{}\"]", standby.port),
        )
        .write(tmp.path());
    let log = tmp.path().join("sluice.log");
    let mut child = sluice::spawn(&cfg.path, &log);
    let topic = "fo.public.items";
    wait_for("the snapshot", Duration::from_secs(60), || async {
        (kcat_read(&bootstrap, topic).len() >= 50).then_some(())
    })
    .await;
    let sc = standby.connect("postgres").await;
    wait_for(
        "the slot on the standby",
        Duration::from_secs(120),
        || async {
            let r = sc
                .query_opt(
                    "SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = 'sluice_fo'",
                    &[],
                )
                .await
                .ok()??;
            r.get::<_, bool>(0).then_some(())
        },
    )
    .await;

    // The harness runs with `synchronous_commit = off`: a commit acknowledged but not yet
    // in the WAL on disk would die with the primary. These commits are flushed.
    c.batch_execute("SET synchronous_commit = on")
        .await
        .expect("synchronous commit");
    let mut committed: HashMap<i64, Vec<i64>> = HashMap::new();
    for n in 1..=300 {
        update(&c, n, &mut committed).await;
    }
    // The standby has every committed change, then the primary is gone.
    let end: String = c
        .query_one("SELECT pg_current_wal_flush_lsn()::text", &[])
        .await
        .expect("lsn")
        .get(0);
    wait_replayed(&sc, &end).await;
    primary.crash();
    standby.promote();
    let c2 = standby.connect("app").await;
    for n in 301..=600 {
        update(&c2, n, &mut committed).await;
    }
    let final_rows = items_values(&c2).await;
    let records = wait_for_final_values(&bootstrap, topic, &final_rows).await;
    assert_committed_in_order(&records, &committed);
    child.kill();
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        logs.matches("replication slot created").count(),
        1,
        "the new primary's slot is the synchronized one:\n{logs}"
    );
    assert_eq!(
        logs.matches("snapshot of table started").count(),
        1,
        "{logs}"
    );
    assert!(
        logs.contains(&format!("127.0.0.1:{}", standby.port)),
        "sluice names the server it moved to:\n{logs}"
    );
}

/// `UPDATE items SET v = n` on the row `n` picks; `committed` records it.
async fn update(c: &tokio_postgres::Client, n: i64, committed: &mut HashMap<i64, Vec<i64>>) {
    let id = (n * 7) % 50 + 1;
    c.execute("UPDATE items SET v = $1 WHERE id = $2", &[&n, &(id as i32)])
        .await
        .expect("update");
    committed.entry(id).or_default().push(n);
}

/// PostgreSQL 16+ decodes on a standby: sluice pointed at a hot standby (with
/// `hot_standby_feedback`) creates its slot there, snapshots and streams the changes written
/// on the primary. The publication comes from the primary (a standby takes no DDL); the
/// slot's creation waits for the primary's next running-transactions record, which the test
/// asks for (`pg_log_standby_snapshot()`).
#[tokio::test(flavor = "multi_thread")]
async fn pg17_decoding_on_a_standby() {
    let primary = Pg::start_version("logical", 17);
    let standby = primary.start_standby().await;
    let c = items_table(&primary, 50).await;
    c.batch_execute(
        "CREATE PUBLICATION sluice_sb FOR TABLE items WITH (publish_via_partition_root = true)",
    )
    .await
    .expect("publication");
    let end: String = c
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
        .await
        .expect("lsn")
        .get(0);
    let sc = standby.connect("postgres").await;
    wait_replayed(&sc, &end).await;
    // Running-transactions records from the primary until the slot exists on the standby.
    let nudge = {
        let pc = primary.connect("postgres").await;
        tokio::spawn(async move {
            loop {
                let _ = pc.batch_execute("SELECT pg_log_standby_snapshot()").await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let cfg = PgConnector::new("sb", standby.port, "app", &bootstrap)
        .table("public.items")
        .write(tmp.path());
    let log = tmp.path().join("sluice.log");
    let _child = sluice::spawn(&cfg.path, &log);
    let topic = "sb.public.items";
    wait_for(
        "the snapshot from the standby",
        Duration::from_secs(60),
        || async { (kcat_read(&bootstrap, topic).len() >= 50).then_some(()) },
    )
    .await;
    let mut committed: HashMap<i64, Vec<i64>> = HashMap::new();
    for n in 1..=100 {
        update(&c, n, &mut committed).await;
    }
    let final_rows = items_values(&c).await;
    let records = wait_for_final_values(&bootstrap, topic, &final_rows).await;
    nudge.abort();
    assert_committed_in_order(&records, &committed);
}

/// Until the standby behind `sc` has replayed the WAL up to `lsn`.
async fn wait_replayed(sc: &tokio_postgres::Client, lsn: &str) {
    wait_for("the standby's replay", Duration::from_secs(60), || async {
        let r = sc
            .query_one(
                "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn",
                &[&lsn],
            )
            .await
            .ok()?;
        r.get::<_, bool>(0).then_some(())
    })
    .await;
}
