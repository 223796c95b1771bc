//! Offsets in Kafka (`service.offsets.store: kafka`) on a real broker: a SIGKILL mid-stream
//! and a lost offsets directory resume from the compacted offsets topic (no new snapshot,
//! nothing lost, per-key order kept); a topic that is not compacted is refused at start with
//! the fix.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::crash::{assert_committed_in_order, wait_for_final_values};
use crate::support::kafka::{kcat_read, Kafka};
use crate::support::postgres::Pg;
use crate::support::{sluice, wait_for};

/// The usual one-table config, with the Kafka offsets store on `topic`.
fn config(dir: &Path, pg: u16, bootstrap: &str, topic: &str) -> PathBuf {
    let path = sluice::write_config(dir, "ko", pg, "app", &["public.items"], bootstrap, "", "");
    let text = std::fs::read_to_string(&path).expect("config");
    let text = text.replacen(
        "service:\n",
        &format!("service:\n  offsets:\n    store: kafka\n    topic: {topic}\n"),
        1,
    );
    std::fs::write(&path, text).expect("write config");
    path
}

/// SIGKILL mid-stream, the offsets directory deleted, restart: the connector resumes from
/// the offsets topic; the topic is created compacted, and the file store was never used.
#[tokio::test(flavor = "multi_thread")]
async fn kafka_offsets_resume_after_sigkill_without_files() {
    use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
    use rdkafka::client::DefaultClientContext;
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
    let cfg = config(tmp.path(), pg.port, &bootstrap, "ko-offsets");
    let log = tmp.path().join("sluice.log");
    let mut child = sluice::spawn(&cfg, &log);
    let topic = "ko.public.items";
    wait_for("the snapshot", Duration::from_secs(60), || async {
        (kcat_read(&bootstrap, topic).len() >= 50).then_some(())
    })
    .await;
    let mut committed: HashMap<i64, Vec<i64>> = HashMap::new();
    let total = 600i64;
    for n in 1..=total {
        let id = (n * 7) % 50 + 1;
        c.execute("UPDATE items SET v = $1 WHERE id = $2", &[&n, &(id as i32)])
            .await
            .expect("update");
        committed.entry(id).or_default().push(n);
        if n == total / 3 {
            child.kill();
            // Whatever a file store would have written is gone.
            let _ = std::fs::remove_dir_all(tmp.path().join("offsets"));
        }
        if n == total / 2 {
            child = sluice::spawn(&cfg, &log);
        }
    }
    let final_rows: HashMap<i64, i64> = c
        .query("SELECT id, v FROM items", &[])
        .await
        .expect("final state")
        .iter()
        .map(|r| (i64::from(r.get::<_, i32>(0)), r.get::<_, i64>(1)))
        .collect();
    let records = wait_for_final_values(&bootstrap, topic, &final_rows).await;
    child.kill();
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        logs.matches("snapshot of table started").count(),
        1,
        "the restart must resume from the offsets topic, not snapshot again:\n{logs}"
    );
    assert_committed_in_order(&records, &committed);
    assert!(
        !tmp.path().join("offsets").join("ko.json").exists(),
        "no offsets file with the Kafka store"
    );
    // The checkpoint records are keyed by the connector, on a compacted topic.
    let stored = kcat_read(&bootstrap, "ko-offsets");
    assert!(!stored.is_empty(), "checkpoints in the offsets topic");
    assert!(
        stored
            .iter()
            .all(|r| r.key.as_ref().and_then(|k| k.as_str()) == Some("ko") || r.key.is_none()),
        "keyed by the connector name"
    );
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("admin");
    let described = admin
        .describe_configs(
            [&ResourceSpecifier::Topic("ko-offsets")],
            &AdminOptions::new(),
        )
        .await
        .expect("describe");
    let policy = described
        .into_iter()
        .filter_map(Result::ok)
        .find_map(|r| r.get("cleanup.policy").and_then(|e| e.value.clone()));
    assert_eq!(policy.as_deref(), Some("compact"));
}

/// An offsets topic that exists with `cleanup.policy=delete` is refused at start: the
/// connector fails with the topic, its policy and the fix, and writes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn kafka_offsets_refuse_a_topic_that_is_not_compacted() {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let pg = Pg::start("logical");
    let c = pg.create_db("app").await;
    c.batch_execute("CREATE TABLE items (id int primary key, v bigint not null);")
        .await
        .expect("setup");
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("admin");
    let t = NewTopic::new("plain-offsets", 1, TopicReplication::Fixed(1))
        .set("cleanup.policy", "delete");
    let res = admin
        .create_topics([&t], &AdminOptions::new())
        .await
        .expect("create topic");
    assert!(res.iter().all(Result::is_ok), "{res:?}");
    let tmp = crate::support::test_dir();
    let cfg = config(tmp.path(), pg.port, &bootstrap, "plain-offsets");
    let (code, stderr) = tokio::time::timeout(
        Duration::from_secs(90),
        tokio::task::spawn_blocking(move || sluice::run_to_end(&["run", "--fail-fast"], &cfg)),
    )
    .await
    .expect("sluice stops by itself")
    .expect("join");
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr.contains("plain-offsets")
            && stderr.contains("cleanup.policy=delete")
            && stderr.contains("cleanup.policy=compact"),
        "the error names the topic, its policy and the fix: {stderr}"
    );
    assert!(kcat_read(&bootstrap, "plain-offsets").is_empty());
}
