//! Sink connectors end to end: PostgreSQL → sluice capture → a real Apache Kafka → sluice
//! sinks → a real OpenSearch or osmem-server (OpenSearch API), noida-db's Elasticsearch
//! endpoint, Redis and memcached, compared with the source table.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value as Json};

use crate::support::kafka::{Kafka, Noida};
use crate::support::postgres::Pg;
use crate::support::sluice::{self, Sluice};
use crate::support::targets::{self, Server};
use crate::support::{free_port, metric, wait_for};

const TOPIC: &str = "shop.public.customers";

struct World {
    _pg: Pg,
    db: tokio_postgres::Client,
    kafka: Kafka,
    search: Server,
    redis: Server,
    memcached: Server,
    tmp: tempfile::TempDir,
    capture: Sluice,
}

fn capture_yaml(dir: &Path, pg_port: u16, bootstrap: &str, partitions: u32) -> String {
    format!(
        "service:\n  http_listen_addr: 127.0.0.1:{http}\n  offsets_dir: {off}\nconnectors:\n  shop:\n    source:\n      type: postgres\n      host: 127.0.0.1\n      port: {pg_port}\n      user: postgres\n      database: shop\n      tables: [public.customers]\n      status_interval_ms: 200\n    sink:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n      schemas_enable: true\n      topic_partitions: {partitions}\n",
        http = free_port(),
        off = dir.join("capture-offsets").display(),
    )
}

fn sink_yaml(w: &World, group: &str, which: &[&str], http: u16) -> String {
    sink_yaml_on(w, TOPIC, group, which, http)
}

fn sink_yaml_on(w: &World, topic: &str, group: &str, which: &[&str], http: u16) -> String {
    let mut y = format!("service:\n  http_listen_addr: 127.0.0.1:{http}\nconnectors:\n");
    let src = |name: &str| {
        format!(
            "    source:\n      type: kafka\n      bootstrap_servers: \"{}\"\n      topics: [{topic}]\n      group_id: {group}-{name}\n      dead_letter_topic: shop.dlq\n",
            w.kafka.bootstrap()
        )
    };
    for t in which {
        match *t {
            "search" => y += &format!(
                "  to_search:\n{}    sink:\n      type: search\n      url: {}\n      index: \"{{table}}\"\n",
                src("search"),
                w.search.url()
            ),
            "redis" => y += &format!(
                "  to_redis:\n{}    sink:\n      type: redis\n      url: redis://127.0.0.1:{}/0\n      key: \"{{table}}:{{key}}\"\n",
                src("redis"),
                w.redis.port
            ),
            "memcached" => y += &format!(
                "  to_memcached:\n{}    sink:\n      type: memcached\n      server: 127.0.0.1:{}\n",
                src("memcached"),
                w.memcached.port
            ),
            _ => {}
        }
    }
    y
}

async fn world(partitions: u32) -> World {
    world_on(partitions, targets::osmem()).await
}

/// The world with a given search server (osmem-server or a real OpenSearch).
async fn world_on(partitions: u32, search: Server) -> World {
    let pg = Pg::start("logical");
    let db = pg.create_db("shop").await;
    db.batch_execute(
        "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, balance numeric(10,2), seen date); \
         INSERT INTO customers SELECT g, 'name ' || g, g * 1.5, DATE '2024-01-01' + g FROM generate_series(1, 40) g;",
    )
    .await
    .expect("setup");
    let kafka = Kafka::start();
    let tmp = crate::support::test_dir();
    let cfg = sluice::write_raw(
        tmp.path(),
        "capture.yaml",
        &capture_yaml(tmp.path(), pg.port, &kafka.bootstrap(), partitions),
    );
    let capture = sluice::spawn(&cfg, &tmp.path().join("capture.log"));
    World {
        _pg: pg,
        db,
        kafka,
        search,
        redis: targets::redis(),
        memcached: targets::memcached(),
        tmp,
        capture,
    }
}

/// A scripted mix of inserts, updates, deletes and a primary-key change.
async fn churn(db: &tokio_postgres::Client, rounds: i32) {
    churn_from(db, 0, rounds).await;
    db.batch_execute("UPDATE customers SET id = 5000 WHERE id = 1")
        .await
        .expect("pk change");
}

/// Rounds `first..first + rounds` of inserts, updates and deletes (no key change).
async fn churn_from(db: &tokio_postgres::Client, first: i32, rounds: i32) {
    for r in first..first + rounds {
        db.batch_execute(&format!(
            "INSERT INTO customers VALUES ({a}, 'new {a}', {r}.25, NULL); \
             UPDATE customers SET name = name || ' u{r}', balance = balance + 1 WHERE id % 7 = {m}; \
             DELETE FROM customers WHERE id = {d};",
            a = 1000 + r,
            m = r % 7,
            d = 2 + r * 3,
        ))
        .await
        .expect("churn");
    }
}

/// The source table as id → (name, balance as a number).
async fn source_rows(db: &tokio_postgres::Client) -> BTreeMap<String, (String, f64)> {
    db.query("SELECT id, name, balance::float8 FROM customers", &[])
        .await
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r.get::<_, i32>(0).to_string(),
                (
                    r.get::<_, String>(1),
                    r.get::<_, Option<f64>>(2).unwrap_or(0.0),
                ),
            )
        })
        .collect()
}

fn project(doc: &Json) -> Option<(String, f64)> {
    let balance = match &doc["balance"] {
        Json::Number(n) => n.as_f64()?,
        Json::String(s) => s.parse().ok()?,
        _ => 0.0,
    };
    Some((doc["name"].as_str()?.to_string(), balance))
}

async fn search_state(w: &World) -> BTreeMap<String, (String, f64)> {
    targets::search_docs(&w.search.url(), "customers")
        .await
        .iter()
        .filter_map(|(id, d)| Some((id.clone(), project(d)?)))
        .collect()
}

/// Every key matching `pattern` in the test Redis, with its value (`None` if it vanished
/// between KEYS and GET).
async fn redis_get_matching<T: redis::FromRedisValue>(
    w: &World,
    pattern: &str,
) -> Vec<(String, Option<T>)> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", w.redis.port)).expect("url");
    let mut c = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut c)
        .await
        .expect("keys");
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let v: Option<T> = redis::cmd("GET")
            .arg(&k)
            .query_async(&mut c)
            .await
            .expect("get");
        out.push((k, v));
    }
    out
}

async fn redis_state(w: &World) -> BTreeMap<String, (String, f64)> {
    let mut out = BTreeMap::new();
    for (k, v) in redis_get_matching::<String>(w, "customers:*").await {
        if k.ends_with("#v") {
            continue;
        }
        if let Some(doc) = v.and_then(|v| serde_json::from_str::<Json>(&v).ok()) {
            if let Some(p) = project(&doc) {
                out.insert(k.trim_start_matches("customers:").to_string(), p);
            }
        }
    }
    out
}

fn memcached_state(
    w: &World,
    ids: impl Iterator<Item = String>,
) -> BTreeMap<String, (String, f64)> {
    ids.filter_map(|id| {
        let v = targets::memcached_get(w.memcached.port, &format!("customers:{id}"))?;
        Some((id, project(&serde_json::from_str(&v).ok()?)?))
    })
    .collect()
}

/// PostgreSQL → Kafka → search + Redis + memcached: after inserts, updates, deletes and a
/// primary-key change, every target holds exactly the source table's rows; the search
/// documents carry converted types (decimal as number, date as ISO string).
#[tokio::test(flavor = "multi_thread")]
async fn end_to_end_targets_match_source() {
    let w = world(1).await;
    let cfg = sluice::write_raw(
        w.tmp.path(),
        "sinks.yaml",
        &sink_yaml(&w, "g1", &["search", "redis", "memcached"], free_port()),
    );
    let _sinks = sluice::spawn(&cfg, &w.tmp.path().join("sinks.log"));
    churn(&w.db, 10).await;
    let want = source_rows(&w.db).await;
    wait_for(
        "search to match the source",
        Duration::from_secs(60),
        || async { (search_state(&w).await == want).then_some(()) },
    )
    .await;
    wait_for(
        "redis to match the source",
        Duration::from_secs(60),
        || async { (redis_state(&w).await == want).then_some(()) },
    )
    .await;
    wait_for(
        "memcached to match the source",
        Duration::from_secs(60),
        || async {
            let ids = (1..6000).map(|i| i.to_string());
            (memcached_state(&w, ids) == want).then_some(())
        },
    )
    .await;
    let docs = targets::search_docs(&w.search.url(), "customers").await;
    assert_eq!(docs["3"]["seen"], json!("2024-01-04"), "{:?}", docs["3"]);
    assert!(docs["3"]["balance"].is_number(), "{:?}", docs["3"]);
    drop(w.capture);
}

async fn redis_versions(w: &World) -> BTreeMap<String, i64> {
    redis_get_matching::<i64>(w, "customers:*#v")
        .await
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect()
}

/// Replaying the whole topic (a new consumer group starts from the beginning), and then a
/// compacted copy of it (deletes gone, tombstones left), leaves every target unchanged: while
/// each replay runs, no key shows an older value or version, and no key the table has
/// vanishes — also keys deleted and inserted again, and keys changed by a key update.
#[tokio::test(flavor = "multi_thread")]
async fn replay_from_the_beginning_changes_nothing() {
    replay_changes_nothing(world(1).await).await;
}

/// The same on a real OpenSearch: external versions, 409s and deleted-version records as the
/// engine keeps them (`index.gc_deletes`, 60 s by default, longer than the test).
#[tokio::test(flavor = "multi_thread")]
async fn replay_changes_nothing_on_opensearch() {
    replay_changes_nothing(world_on(1, targets::opensearch(None)).await).await;
}

/// The same on a real Elasticsearch 8.19.
#[tokio::test(flavor = "multi_thread")]
async fn replay_changes_nothing_on_elasticsearch() {
    replay_changes_nothing(world_on(1, targets::elasticsearch()).await).await;
}

async fn replay_changes_nothing(w: World) {
    // The snapshot first, so that the churn is streamed (records to compact).
    wait_for(
        "the snapshot in the topic",
        Duration::from_secs(60),
        || async {
            (crate::support::kafka::kcat_read(&w.kafka.bootstrap(), TOPIC).len() >= 40)
                .then_some(())
        },
    )
    .await;
    churn(&w.db, 8).await;
    let cut = wait_for(
        "the churn in the topic",
        Duration::from_secs(60),
        || async {
            let r = crate::support::kafka::kcat_read(&w.kafka.bootstrap(), TOPIC);
            r.iter()
                .any(|r| {
                    r.value
                        .as_ref()
                        .is_some_and(|v| v["payload"]["after"]["id"] == 5000)
                })
                .then_some(r.len() as i64)
        },
    )
    .await;
    // Deleted, then inserted again (their tombstones sit before newer values; 5 and 8 were
    // deleted before the cut, so their tombstones are in the cleaned part); a key moved away
    // and back.
    w.db.batch_execute(
        "DELETE FROM customers WHERE id IN (3, 4, 1000); \
         INSERT INTO customers VALUES (3, 'back 3', 3.5, NULL), (1000, 'back 1000', 9.75, NULL), \
         (5, 'back 5', 5.5, NULL), (8, 'back 8', 8.5, NULL); \
         UPDATE customers SET id = 6000 WHERE id = 6; UPDATE customers SET id = 6 WHERE id = 6000; \
         UPDATE customers SET name = 'last' WHERE id = 3;",
    )
    .await
    .expect("reinserts");
    let want = source_rows(&w.db).await;
    let cfg = sluice::write_raw(
        w.tmp.path(),
        "a.yaml",
        &sink_yaml(&w, "first", &["search", "redis"], free_port()),
    );
    let mut first = sluice::spawn(&cfg, &w.tmp.path().join("a.log"));
    wait_for("first pass", Duration::from_secs(60), || async {
        (search_state(&w).await == want && redis_state(&w).await == want).then_some(())
    })
    .await;
    first.kill();
    let versions = redis_versions(&w).await;
    let total = crate::support::kafka::kcat_read(&w.kafka.bootstrap(), TOPIC).len();
    let compacted = "compacted.public.customers";
    let kept =
        crate::support::kafka::compact_copy(&w.kafka.bootstrap(), TOPIC, compacted, cut).await;
    assert!(
        kept < total,
        "compaction removed records ({kept} of {total}, cut {cut})"
    );
    for (n, (topic, records)) in [(TOPIC, total), (compacted, kept)].into_iter().enumerate() {
        let http = free_port();
        let cfg = sluice::write_raw(
            w.tmp.path(),
            &format!("replay{n}.yaml"),
            &sink_yaml_on(&w, topic, &format!("replay{n}"), &["search", "redis"], http),
        );
        let _replay = sluice::spawn(&cfg, &w.tmp.path().join(format!("replay{n}.log")));
        // While the replay runs, both targets must keep exactly the final state.
        let mut checks = 0;
        loop {
            assert_eq!(
                redis_state(&w).await,
                want,
                "{topic}: an older value appeared or a key vanished in Redis during the replay"
            );
            assert_eq!(
                redis_versions(&w).await,
                versions,
                "{topic}: a version went backwards"
            );
            assert_eq!(
                search_state(&w).await,
                want,
                "{topic}: an older value appeared or a key vanished in search during the replay"
            );
            checks += 1;
            let done = metric(http, "sluice_sink_records_applied_total").await
                + metric(http, "sluice_sink_records_ignored_total").await;
            if done >= 2.0 * records as f64 || checks > 600 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(checks <= 600, "{topic}: the replay did not finish");
    }
}

/// SIGKILL of the sink process mid-stream, then a restart: the targets still end exact.
#[tokio::test(flavor = "multi_thread")]
async fn sink_crash_and_restart() {
    let w = world(1).await;
    let cfg = sluice::write_raw(
        w.tmp.path(),
        "s.yaml",
        &sink_yaml(&w, "c", &["search", "redis"], free_port()),
    );
    let log = w.tmp.path().join("s.log");
    let mut sink = sluice::spawn(&cfg, &log);
    churn_from(&w.db, 0, 5).await;
    sink.kill();
    churn_from(&w.db, 5, 5).await;
    let _sink = sluice::spawn(&cfg, &log);
    churn_from(&w.db, 10, 3).await;
    let want = source_rows(&w.db).await;
    wait_for(
        "targets after the crash",
        Duration::from_secs(60),
        || async {
            (search_state(&w).await == want && redis_state(&w).await == want).then_some(())
        },
    )
    .await;
}

/// Two sink processes in one consumer group share a 4-partition topic and together apply
/// everything.
#[tokio::test(flavor = "multi_thread")]
async fn two_processes_share_partitions() {
    let w = world(4).await;
    let (h1, h2) = (free_port(), free_port());
    let c1 = sluice::write_raw(
        w.tmp.path(),
        "p1.yaml",
        &sink_yaml(&w, "shared", &["redis"], h1),
    );
    let c2 = sluice::write_raw(
        w.tmp.path(),
        "p2.yaml",
        &sink_yaml(&w, "shared", &["redis"], h2),
    );
    let _p1 = sluice::spawn(&c1, &w.tmp.path().join("p1.log"));
    let _p2 = sluice::spawn(&c2, &w.tmp.path().join("p2.log"));
    // Let both join before the changes flow, so the group splits the partitions.
    wait_for("both members assigned", Duration::from_secs(60), || async {
        let l1 = std::fs::read_to_string(w.tmp.path().join("p1.log")).unwrap_or_default();
        let l2 = std::fs::read_to_string(w.tmp.path().join("p2.log")).unwrap_or_default();
        (l1.contains("partitions assigned") && l2.contains("partitions assigned")).then_some(())
    })
    .await;
    churn(&w.db, 12).await;
    let want = source_rows(&w.db).await;
    wait_for("redis to match", Duration::from_secs(90), || async {
        (redis_state(&w).await == want).then_some(())
    })
    .await;
    // The applied counters move right after each apply: wait for both.
    let (a1, a2) = wait_for(
        "both members' applied counters",
        Duration::from_secs(30),
        || async {
            let a = (
                metric(h1, "sluice_sink_records_applied_total").await,
                metric(h2, "sluice_sink_records_applied_total").await,
            );
            (a.0 > 0.0 && a.1 > 0.0).then_some(a)
        },
    )
    .await;
    assert!(
        a1 > 0.0 && a2 > 0.0,
        "both members applied records: {a1} and {a2}"
    );
}

/// A record that can never be applied goes to the dead-letter topic with the error in its
/// headers; the records around it are still applied.
#[tokio::test(flavor = "multi_thread")]
async fn poison_record_goes_to_dead_letter_topic() {
    let w = world(1).await;
    let cfg = sluice::write_raw(
        w.tmp.path(),
        "s.yaml",
        &sink_yaml(&w, "p", &["search"], free_port()),
    );
    let _sink = sluice::spawn(&cfg, &w.tmp.path().join("s.log"));
    wait_for(
        "the snapshot in the topic",
        Duration::from_secs(60),
        || async {
            (crate::support::kafka::kcat_read(&w.kafka.bootstrap(), TOPIC).len() >= 40)
                .then_some(())
        },
    )
    .await;
    let mut p = std::process::Command::new("kcat")
        .args(["-P", "-b", &w.kafka.bootstrap(), "-t", TOPIC, "-K", "\t"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("kcat producer");
    std::io::Write::write_all(
        p.stdin.as_mut().expect("stdin"),
        b"not-json-key\t{\"op\":\"c\"}\n",
    )
    .expect("write poison");
    drop(p.stdin.take());
    assert!(p.wait().expect("kcat").success());
    churn(&w.db, 3).await;
    let want = source_rows(&w.db).await;
    wait_for(
        "search to match despite the poison record",
        Duration::from_secs(60),
        || async { (search_state(&w).await == want).then_some(()) },
    )
    .await;
    // The dead-letter write follows the apply of its batch: wait for it.
    let text = wait_for(
        "the poison record in the dead-letter topic",
        Duration::from_secs(30),
        || async {
            let out = std::process::Command::new("kcat")
                .args([
                    "-C",
                    "-b",
                    &w.kafka.bootstrap(),
                    "-t",
                    "shop.dlq",
                    "-o",
                    "beginning",
                    "-e",
                    "-q",
                    "-X",
                    "fetch.wait.max.ms=5",
                    "-f",
                    "%k|%h\n",
                ])
                .output()
                .expect("kcat");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.contains("not-json-key").then_some(text)
        },
    )
    .await;
    assert!(text.contains("not-json-key"), "{text}");
    assert!(text.contains("sluice.error=key is not JSON"), "{text}");
    assert!(text.contains(&format!("sluice.topic={TOPIC}")), "{text}");
}

/// Records written by Debezium itself (the reference samples, both schema settings) are
/// applied: the index ends with the reference table's final rows, values converted.
#[tokio::test(flavor = "multi_thread")]
async fn debezium_written_topic_is_applied() {
    let kafka = Kafka::start();
    let search = targets::osmem();
    debezium_topics(&kafka, &search.url()).await;
}

/// The same against noida-db's Elasticsearch-compatible endpoint (a second search server).
#[tokio::test(flavor = "multi_thread")]
async fn debezium_written_topic_on_noida_elasticsearch() {
    let noida = Noida::start_with_elasticsearch();
    let url = format!("http://127.0.0.1:{}", noida.es_port.expect("es port"));
    let kafka = Kafka::start();
    debezium_topics(&kafka, &url).await;
}

async fn debezium_topics(kafka: &Kafka, search_url: &str) {
    let tmp = crate::support::test_dir();
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/golden/debezium-3.6.3");
    for (file, topic) in [
        ("pg_types.schemas-true.jsonl", "dbz_true"),
        ("pg_types.schemas-false.jsonl", "dbz_false"),
    ] {
        let mut input = Vec::new();
        for line in std::fs::read_to_string(format!("{golden}/{file}"))
            .expect("golden")
            .lines()
        {
            let r: Json = serde_json::from_str(line).expect("json");
            input.extend_from_slice(r["key"].to_string().as_bytes());
            input.push(b'\t');
            if !r["value"].is_null() {
                input.extend_from_slice(r["value"].to_string().as_bytes());
            }
            input.push(b'\n');
        }
        let mut p = std::process::Command::new("kcat")
            .args([
                "-P",
                "-b",
                &kafka.bootstrap(),
                "-t",
                topic,
                "-K",
                "\t",
                "-Z",
            ])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("kcat producer");
        std::io::Write::write_all(p.stdin.as_mut().expect("stdin"), &input).expect("produce");
        drop(p.stdin.take());
        assert!(p.wait().expect("kcat").success());
        let yaml = format!(
            "service:\n  http_listen_addr: 127.0.0.1:{}\nconnectors:\n  dbz:\n    source:\n      type: kafka\n      bootstrap_servers: \"{}\"\n      topics: [{topic}]\n      group_id: g-{topic}\n      dead_letter_topic: {topic}.dlq\n    sink:\n      type: search\n      url: {}\n      index: \"{topic}\"\n",
            free_port(),
            kafka.bootstrap(),
            search_url
        );
        let cfg = sluice::write_raw(tmp.path(), &format!("{topic}.yaml"), &yaml);
        let _s = sluice::spawn(&cfg, &tmp.path().join(format!("{topic}.log")));
        // Without schemas, the row with NaN/-Infinity floats cannot be indexed (the field
        // is mapped as a number): it goes to the dead-letter topic. With schemas they are null.
        let want: &[&str] = if topic == "dbz_true" {
            &["1", "40", "5", "6"]
        } else {
            &["1", "5", "6"]
        };
        let docs = wait_for("the reference rows", Duration::from_secs(60), || async {
            let d = targets::search_docs(search_url, topic).await;
            let ids: Vec<&str> = d.keys().map(String::as_str).collect();
            (ids == want && d["5"]["c_int"] == json!(56)).then_some(d)
        })
        .await;
        assert_eq!(docs["6"]["c_added"], json!(7));
        if topic == "dbz_true" {
            assert_eq!(
                docs["40"]["c_text"]
                    .as_str()
                    .map(|s| s.contains("backslash")),
                Some(true)
            );
            assert_eq!(docs["40"]["c_date"], json!("1900-01-01"));
            assert_eq!(docs["40"]["c_numeric"], json!(-9999999.999));
            assert_eq!(docs["40"]["c_double"], Json::Null);
            assert_eq!(docs["1"]["c_jsonb"], json!({"s": 1}));
        } else {
            // Without schemas values pass through as Debezium wrote them.
            assert_eq!(docs["1"]["c_date"], json!(18262));
            // The dead-letter write follows the batch's apply: wait for it.
            wait_for(
                "rows 4 and 40 in the dead-letter topic",
                Duration::from_secs(30),
                || async {
                    let dlq = crate::support::kafka::kcat_read(
                        &kafka.bootstrap(),
                        &format!("{topic}.dlq"),
                    );
                    let keys: Vec<_> = dlq
                        .iter()
                        .filter_map(|r| r.key.as_ref()?["id"].as_i64())
                        .collect();
                    (keys == vec![4, 40]).then_some(())
                },
            )
            .await;
        }
    }
}

/// A document the search server rejects carries a distinctive value: the value and the id
/// appear in no log line (with a dead-letter topic, and in the halting error without one);
/// the engine's own words travel only in the dead-letter record's headers.
#[tokio::test(flavor = "multi_thread")]
async fn rejected_values_stay_out_of_logs() {
    rejections_stay_out_of_logs(targets::osmem()).await;
}

/// The same on a real OpenSearch, whose reasons quote the value and the id.
#[tokio::test(flavor = "multi_thread")]
async fn rejected_values_stay_out_of_logs_on_opensearch() {
    rejections_stay_out_of_logs(targets::opensearch(None)).await;
}

async fn rejections_stay_out_of_logs(search: Server) {
    let kafka = Kafka::start();
    let tmp = crate::support::test_dir();
    const SECRET: &str = "ZEBRA-SECRET-4711";
    const ID: &str = "id-Q9X7";
    for (n, dlq) in [(0, true), (1, false)] {
        let topic = format!("logs{n}.public.t");
        let records = format!(
            "{{\"id\":\"a{n}\"}}\t{{\"op\":\"c\",\"source\":{{\"lsn\":10}},\"after\":{{\"id\":\"a{n}\",\"n\":5}}}}\n\
             {{\"id\":\"{ID}\"}}\t{{\"op\":\"c\",\"source\":{{\"lsn\":11}},\"after\":{{\"id\":\"{ID}\",\"n\":\"{SECRET}\"}}}}\n"
        );
        let mut p = std::process::Command::new("kcat")
            .args(["-P", "-b", &kafka.bootstrap(), "-t", &topic, "-K", "\t"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("kcat producer");
        std::io::Write::write_all(p.stdin.as_mut().expect("stdin"), records.as_bytes())
            .expect("produce");
        drop(p.stdin.take());
        assert!(p.wait().expect("kcat").success());
        let dlq_line = if dlq {
            format!("      dead_letter_topic: {topic}.dlq\n")
        } else {
            String::new()
        };
        let yaml = format!(
            "service:\n  http_listen_addr: 127.0.0.1:{}\nconnectors:\n  logs:\n    source:\n      type: kafka\n      bootstrap_servers: \"{}\"\n      topics: [{topic}]\n      group_id: g{n}\n{dlq_line}    sink:\n      type: search\n      url: {}\n      index: \"logs{n}\"\n",
            free_port(),
            kafka.bootstrap(),
            search.url()
        );
        let cfg = sluice::write_raw(tmp.path(), &format!("logs{n}.yaml"), &yaml);
        let log = tmp.path().join(format!("logs{n}.log"));
        let mut s = sluice::spawn(&cfg, &log);
        if dlq {
            let headers = wait_for(
                "the dead-letter record",
                Duration::from_secs(60),
                || async {
                    let out = std::process::Command::new("kcat")
                        .args([
                            "-C",
                            "-b",
                            &kafka.bootstrap(),
                            "-t",
                            &format!("{topic}.dlq"),
                            "-o",
                            "beginning",
                            "-e",
                            "-q",
                            "-X",
                            "fetch.wait.max.ms=5",
                            "-f",
                            "%h\n",
                        ])
                        .output()
                        .expect("kcat");
                    let text = String::from_utf8_lossy(&out.stdout).into_owned();
                    text.contains("sluice.error=").then_some(text)
                },
            )
            .await;
            assert!(headers.contains("sluice.error.detail="), "{headers}");
        } else {
            wait_for("the halting error", Duration::from_secs(60), || async {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                text.contains("cannot be applied").then_some(())
            })
            .await;
        }
        s.kill();
        let text = std::fs::read_to_string(&log).expect("log");
        assert!(
            text.contains("document_parsing_exception")
                || text.contains("mapper_parsing_exception")
                || text.contains("illegal_argument_exception"),
            "the rejection's class is logged: {text}"
        );
        for line in text.lines() {
            assert!(
                !line.contains(SECRET) && !line.contains(ID),
                "a row value reached the log: {line}"
            );
        }
    }
}

/// Back-pressure from a real OpenSearch whose write pool has one thread and a one-slot queue: four
/// connectors' concurrent bulks get 429s (counted by the engine), are retried, and every
/// index still ends exactly like the table.
#[tokio::test(flavor = "multi_thread")]
async fn opensearch_back_pressure_is_retried() {
    // One write thread and a one-slot queue: concurrent bulks beyond that are refused.
    let w = world_on(1, targets::opensearch(Some(1))).await;
    w.db.batch_execute(
        "INSERT INTO customers SELECT g, 'bulk ' || g, g * 0.5, NULL FROM generate_series(100, 6099) g",
    )
    .await
    .expect("rows");
    let want = source_rows(&w.db).await;
    let mut y = format!(
        "service:\n  http_listen_addr: 127.0.0.1:{}\nconnectors:\n",
        free_port()
    );
    for c in ["a", "b", "c", "d"] {
        y += &format!(
            "  to_{c}:\n    max_batch_events: 50\n    source:\n      type: kafka\n      bootstrap_servers: \"{}\"\n      topics: [{TOPIC}]\n      group_id: bp-{c}\n    sink:\n      type: search\n      url: {}\n      index: \"{c}_{{table}}\"\n",
            w.kafka.bootstrap(),
            w.search.url()
        );
    }
    let cfg = sluice::write_raw(w.tmp.path(), "bp.yaml", &y);
    let _s = sluice::spawn(&cfg, &w.tmp.path().join("bp.log"));
    for c in ["a", "b", "c", "d"] {
        let index = format!("{c}_customers");
        wait_for(
            &format!("{index} to match the table"),
            Duration::from_secs(120),
            || async {
                let docs = targets::search_docs(&w.search.url(), &index).await;
                let got: BTreeMap<String, (String, f64)> = docs
                    .iter()
                    .filter_map(|(id, d)| Some((id.clone(), project(d)?)))
                    .collect();
                (got == want).then_some(())
            },
        )
        .await;
    }
    let stats = reqwest::get(format!("{}/_nodes/stats/thread_pool", w.search.url()))
        .await
        .expect("stats")
        .bytes()
        .await
        .expect("body");
    let stats: Json = serde_json::from_slice(&stats).expect("json");
    let rejected: u64 = stats["nodes"]
        .as_object()
        .expect("nodes")
        .values()
        .filter_map(|n| n["thread_pool"]["write"]["rejected"].as_u64())
        .sum();
    // Under a loaded CI machine the bulks can fail to overlap; the property that matters (every
    // index exact despite refusals) is asserted above, and this says whether 429s happened.
    eprintln!("write rejections counted by the engine: {rejected}");
}

/// Numbers reach the targets with every digit the table holds: jsonb numbers with many
/// digits, numeric(40,20) in number mode, bigints beyond 2^53, doubles with 17 digits. Read
/// back as raw text from a real OpenSearch's `_source` and from Redis.
#[tokio::test(flavor = "multi_thread")]
async fn numbers_arrive_exactly() {
    numbers_exact(targets::opensearch(None)).await;
}

/// The same into a real Elasticsearch 8.19.
#[tokio::test(flavor = "multi_thread")]
async fn numbers_arrive_exactly_on_elasticsearch() {
    numbers_exact(targets::elasticsearch()).await;
}

async fn numbers_exact(search: Server) {
    let pg = Pg::start("logical");
    let db = pg.create_db("shop").await;
    db.batch_execute(
        "CREATE TABLE nums (id int PRIMARY KEY, j jsonb, n numeric(40,20), b bigint, d float8); \
         INSERT INTO nums VALUES (1, '{\"x\": 0.14285714285714285714, \"y\": 1234567890123456789}', \
           12345678901234567890.12345678901234567890, 9007199254740993, 0.30000000000000004);",
    )
    .await
    .expect("setup");
    let kafka = Kafka::start();
    let redis = targets::redis();
    let tmp = crate::support::test_dir();
    let yaml = format!(
        "service:\n  http_listen_addr: 127.0.0.1:{http}\n  offsets_dir: {off}\nconnectors:\n  shop:\n    source:\n      type: postgres\n      host: 127.0.0.1\n      port: {pg}\n      user: postgres\n      database: shop\n      tables: [public.nums]\n    sink:\n      type: kafka\n      bootstrap_servers: \"{b}\"\n      schemas_enable: true\n  to_search:\n    source:\n      type: kafka\n      bootstrap_servers: \"{b}\"\n      topics: [shop.public.nums]\n    sink:\n      type: search\n      url: {url}\n      index: \"{{table}}\"\n  to_redis:\n    source:\n      type: kafka\n      bootstrap_servers: \"{b}\"\n      topics: [shop.public.nums]\n    sink:\n      type: redis\n      url: redis://127.0.0.1:{rp}/0\n",
        http = free_port(),
        off = tmp.path().join("off").display(),
        pg = pg.port,
        b = kafka.bootstrap(),
        url = search.url(),
        rp = redis.port,
    );
    let cfg = sluice::write_raw(tmp.path(), "n.yaml", &yaml);
    let _s = sluice::spawn(&cfg, &tmp.path().join("n.log"));
    db.batch_execute(
        "INSERT INTO nums VALUES (2, '{\"x\": 1.00000000000000000001, \"y\": 5}', -0.00000000000000000001, -9223372036854775808, 2.2250738585072014e-308)",
    )
    .await
    .expect("insert");
    let source = wait_for(
        "both rows in the index",
        Duration::from_secs(60),
        || async {
            let client = reqwest::Client::new();
            let _ = client
                .post(format!("{}/nums/_refresh", search.url()))
                .send()
                .await;
            let mut texts = Vec::new();
            for id in [1, 2] {
                let r = client
                    .get(format!("{}/nums/_source/{id}", search.url()))
                    .send()
                    .await
                    .ok()?;
                if !r.status().is_success() {
                    return None;
                }
                texts.push(r.text().await.ok()?);
            }
            Some(texts)
        },
    )
    .await;
    let redis_text = wait_for("both rows in redis", Duration::from_secs(30), || async {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", redis.port)).ok()?;
        let mut c = client.get_multiplexed_async_connection().await.ok()?;
        let mut texts = Vec::new();
        for id in [1, 2] {
            let v: Option<String> = redis::cmd("GET")
                .arg(format!("nums:{id}"))
                .query_async(&mut c)
                .await
                .ok()?;
            texts.push(v?);
        }
        Some(texts)
    })
    .await;
    for (i, want) in [
        (0, "0.14285714285714285714"),
        (0, "1234567890123456789"),
        (0, "9007199254740993"),
        (0, "0.30000000000000004"),
        (1, "1.00000000000000000001"),
        (1, "-9223372036854775808"),
        (1, "2.2250738585072014E-308"),
    ] {
        assert!(
            source[i].contains(want),
            "search row {}: {want} in {}",
            i + 1,
            source[i]
        );
        assert!(
            redis_text[i].contains(want),
            "redis row {}: {want} in {}",
            i + 1,
            redis_text[i]
        );
    }
    // Decimals: a number with every digit in search, an exact string in Redis.
    assert!(
        source[0].contains(r#""n":12345678901234567890.12345678901234567890"#),
        "{}",
        source[0]
    );
    assert!(
        redis_text[0].contains(r#""n":"12345678901234567890.12345678901234567890""#),
        "{}",
        redis_text[0]
    );
    assert!(
        source[1].contains(r#""n":-0.00000000000000000001"#),
        "{}",
        source[1]
    );
}
