//! Avro through a Schema Registry, beyond the differential cases (which check every case's
//! Avro records against its JSON ones): schema evolution while streaming registers new
//! versions under BACKWARD compatibility and every record before and after decodes; a
//! registry outage mid-stream loses and reorders nothing; an incompatible change the
//! registry refuses stops the connector with the subject and the registry's message; basic
//! auth. Records are decoded by confluent-kafka's AvroDeserializer
//! (`tests/services/registry/compare.py`).

use std::time::Duration;

use crate::support::kafka::Kafka;
use crate::support::postgres::Pg;
use crate::support::targets::{compare_avro, registry, registry_get};
use crate::support::{sluice, wait_for};

/// Two connectors on one table: `j` JSON with schemas, `a` Avro (keys and values).
fn config(
    dir: &std::path::Path,
    pg: u16,
    bootstrap: &str,
    registry: &str,
    auth: &str,
) -> std::path::PathBuf {
    let http = crate::support::free_port();
    let off = dir.join("offsets").display().to_string();
    let mut yaml = format!(
        "service:\n  http_listen_addr: 127.0.0.1:{http}\n  offsets_dir: {off}\nconnectors:\n"
    );
    for (name, avro) in [("j", false), ("a", true)] {
        let formats = if avro {
            format!("      key_format: avro\n      value_format: avro\n      schema_registry:\n        url: \"{registry}\"\n{auth}")
        } else {
            String::new()
        };
        yaml.push_str(&format!(
            "  {name}:\n    source:\n      type: postgres\n      host: 127.0.0.1\n      port: {pg}\n      user: postgres\n      database: app\n      tables: [public.items]\n      status_interval_ms: 200\n    sink:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n      schemas_enable: true\n{formats}"
        ));
    }
    sluice::write_raw(dir, "avro.yaml", &yaml)
}

const PAIRS: [(&str, &str); 1] = [("j.public.items", "a.public.items")];

async fn wait_match(
    bootstrap: &str,
    registry: &str,
    auth: Option<&str>,
    min_records: usize,
) -> String {
    let pairs: Vec<(String, String)> = PAIRS
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let (b, r, a) = (
        bootstrap.to_string(),
        registry.to_string(),
        auth.map(str::to_string),
    );
    let mut last = String::new();
    for _ in 0..60 {
        let (b2, r2, a2, p2) = (b.clone(), r.clone(), a.clone(), pairs.clone());
        let res = tokio::task::spawn_blocking(move || compare_avro(&b2, &r2, a2.as_deref(), &p2))
            .await
            .expect("compare");
        match res {
            Ok(report) => {
                let v: serde_json::Value = serde_json::from_str(report.trim()).expect("report");
                if v["pairs"][0]["records"].as_u64().unwrap_or(0) as usize >= min_records {
                    return report;
                }
                last = report;
            }
            Err(report) if report.contains("Avro records,") => last = report,
            Err(report) => panic!("Avro records differ: {report:.4000}"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("Avro records never matched {min_records}: {last:.4000}");
}

/// ADD COLUMN, DROP COLUMN and int → bigint while streaming: each shape is a new version of
/// `a.public.items-value` (BACKWARD-compatible), the key subject keeps one, and every record
/// before and after decodes to the JSON record's payload. A registry outage in the middle
/// (10 s of 503 while a new shape needs registering) delays, never loses or reorders.
#[tokio::test(flavor = "multi_thread")]
async fn schema_evolution_and_registry_outage() {
    let pg = Pg::start("logical");
    let c = pg.create_db("app").await;
    c.batch_execute(
        "CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL, note text);
         INSERT INTO items VALUES (1, 1, 'a'), (2, 2, NULL);",
    )
    .await
    .expect("setup");
    let broker = Kafka::start();
    let reg = registry(Some(("sr", "s3cret")), "BACKWARD");
    let auth = "        username: sr\n        password: s3cret\n";
    let tmp = crate::support::test_dir();
    let cfg = config(tmp.path(), pg.port, &broker.bootstrap(), &reg.url(), auth);
    let log = tmp.path().join("sluice.log");
    let child = sluice::spawn(&cfg, &log);
    let sr = Some("sr:s3cret");
    wait_match(&broker.bootstrap(), &reg.url(), sr, 2).await;
    c.batch_execute(
        "ALTER TABLE items ADD COLUMN price numeric(10,2);
         INSERT INTO items VALUES (3, 3, 'c', 9.99);
         ALTER TABLE items DROP COLUMN note;
         INSERT INTO items VALUES (4, 4, 1.50);
         UPDATE items SET qty = 5 WHERE id = 1;",
    )
    .await
    .expect("evolve");
    wait_match(&broker.bootstrap(), &reg.url(), sr, 5).await;
    // Outage while the next shape (qty widened to bigint) needs registering.
    reqwest::Client::new()
        .post(format!("{}/test/outage?seconds=10", reg.url()))
        .send()
        .await
        .expect("start the outage");
    c.batch_execute(
        "ALTER TABLE items ALTER COLUMN qty TYPE bigint;
         INSERT INTO items VALUES (5, 5000000000, 2.00);
         DELETE FROM items WHERE id = 2;
         INSERT INTO items VALUES (6, 6, NULL);",
    )
    .await
    .expect("during the outage");
    // delete + tombstone: 5 + 1 + 2 + 1 records.
    let report = wait_match(&broker.bootstrap(), &reg.url(), sr, 9).await;
    assert!(report.contains("\"differences\": []"), "{report}");
    let auth = Some(("sr", "s3cret"));
    let versions = registry_get(&reg.url(), "/subjects/a.public.items-value/versions", auth).await;
    assert!(
        versions.as_array().is_some_and(|v| v.len() >= 4),
        "a version per shape: {versions}"
    );
    let keys = registry_get(&reg.url(), "/subjects/a.public.items-key/versions", auth).await;
    assert_eq!(
        keys,
        serde_json::json!([1]),
        "the key's shape never changed"
    );
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.contains("schema registry unavailable; retrying"),
        "the outage was seen and retried"
    );
    assert!(
        !text.contains("s3cret"),
        "the registry password is never logged"
    );
    crate::golden::terminate_cleanly(child, &log).await;
}

/// A change the registry refuses (int → text is not BACKWARD-compatible): the Avro
/// connector stops with an error naming the subject and quoting the registry; the JSON
/// connector beside it keeps streaming.
#[tokio::test(flavor = "multi_thread")]
async fn incompatible_change_is_a_clear_error() {
    let pg = Pg::start("logical");
    let c = pg.create_db("app").await;
    c.batch_execute(
        "CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL);
         INSERT INTO items VALUES (1, 1);",
    )
    .await
    .expect("setup");
    let broker = Kafka::start();
    let reg = registry(None, "BACKWARD");
    let tmp = crate::support::test_dir();
    let cfg = config(tmp.path(), pg.port, &broker.bootstrap(), &reg.url(), "");
    let log = tmp.path().join("sluice.log");
    let child = sluice::spawn(&cfg, &log);
    wait_match(&broker.bootstrap(), &reg.url(), None, 1).await;
    c.batch_execute(
        "ALTER TABLE items ALTER COLUMN qty TYPE text;
         INSERT INTO items VALUES (2, 'two');",
    )
    .await
    .expect("incompatible change");
    let line = wait_for(
        "the Avro connector to halt naming the subject",
        Duration::from_secs(60),
        || {
            let log = log.clone();
            async move {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                text.lines()
                    .find(|l| l.contains("connector halted") && l.contains("connector=a"))
                    .map(str::to_string)
            }
        },
    )
    .await;
    assert!(
        line.contains("a.public.items-value") && line.contains("incompatible"),
        "{line}"
    );
    // The JSON connector has the new row.
    wait_for(
        "the JSON connector to go on",
        Duration::from_secs(30),
        || {
            let b = broker.bootstrap();
            async move {
                let r = tokio::task::spawn_blocking(move || {
                    crate::support::kafka::kcat_read(&b, "j.public.items")
                })
                .await
                .expect("kcat");
                (r.len() >= 2).then_some(())
            }
        },
    )
    .await;
    // One connector failed: the process exits non-zero at shutdown; nothing more to check.
    drop(child);
}

/// Every key of a Redis database with its value (JSON text).
async fn redis_db(port: u16, db: u8) -> std::collections::BTreeMap<String, String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/{db}")).expect("url");
    let mut c = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("items:*")
        .query_async(&mut c)
        .await
        .unwrap_or_default();
    let mut out = std::collections::BTreeMap::new();
    // `…#v` keys hold the version guards.
    for k in keys.into_iter().filter(|k| !k.ends_with("#v")) {
        let v: Option<String> = redis::cmd("GET")
            .arg(&k)
            .query_async(&mut c)
            .await
            .unwrap_or(None);
        if let Some(v) = v {
            out.insert(k, v);
        }
    }
    out
}

/// Sink connectors read an Avro topic (schemas fetched from the registry by id) and apply it
/// to Redis and to a real OpenSearch exactly as they apply the JSON topic of the same
/// changes: decimals, times, arrays, NULLs, updates and deletes alike.
#[tokio::test(flavor = "multi_thread")]
async fn sinks_apply_avro_topics_like_json_ones() {
    let pg = Pg::start("logical");
    let c = pg.create_db("app").await;
    c.batch_execute(
        "CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL, note text, price numeric(10,2),
                             at timestamptz, day date, tags text[], ratio double precision);
         INSERT INTO items VALUES (1, 1, 'a', 1.25, '2024-01-02 03:04:05.123456+00', '2024-02-29',
                                   '{x,NULL}', 0.5),
                                  (2, 2, NULL, NULL, NULL, NULL, NULL, 'NaN');",
    )
    .await
    .expect("setup");
    let broker = Kafka::start();
    let reg = registry(None, "BACKWARD");
    let redis = crate::support::targets::redis();
    let search = crate::support::targets::opensearch(None);
    let tmp = crate::support::test_dir();
    let http = crate::support::free_port();
    let off = tmp.path().join("offsets").display().to_string();
    let b = broker.bootstrap();
    let (r, rp, s) = (reg.url(), redis.port, search.url());
    let mut yaml = format!(
        "service:\n  http_listen_addr: 127.0.0.1:{http}\n  offsets_dir: {off}\nconnectors:\n"
    );
    for (name, avro) in [("j", false), ("a", true)] {
        let formats = if avro {
            format!("      key_format: avro\n      value_format: avro\n      schema_registry:\n        url: \"{r}\"\n")
        } else {
            String::new()
        };
        yaml.push_str(&format!(
            "  {name}:\n    source:\n      type: postgres\n      host: 127.0.0.1\n      port: {}\n      user: postgres\n      database: app\n      tables: [public.items]\n      status_interval_ms: 200\n    sink:\n      type: kafka\n      bootstrap_servers: \"{b}\"\n      schemas_enable: true\n{formats}",
            pg.port
        ));
        let registry_line = if avro {
            format!("      schema_registry:\n        url: \"{r}\"\n")
        } else {
            String::new()
        };
        let db = u8::from(avro);
        yaml.push_str(&format!(
            "  {name}_redis:\n    source:\n      type: kafka\n      bootstrap_servers: \"{b}\"\n      topics: [{name}.public.items]\n{registry_line}    sink:\n      type: redis\n      url: redis://127.0.0.1:{rp}/{db}\n      key: \"{{table}}:{{key}}\"\n  {name}_search:\n    source:\n      type: kafka\n      bootstrap_servers: \"{b}\"\n      topics: [{name}.public.items]\n{registry_line}    sink:\n      type: search\n      url: {s}\n      index: \"{name}_{{table}}\"\n"
        ));
    }
    let cfg = sluice::write_raw(tmp.path(), "sinks.yaml", &yaml);
    let log = tmp.path().join("sluice.log");
    let child = sluice::spawn(&cfg, &log);
    c.batch_execute(
        "INSERT INTO items VALUES (3, 3, 'c', -0.01, '1970-01-01 00:00:00+00', '0001-01-01', '{}', -1.5);
         UPDATE items SET note = 'b', qty = 20 WHERE id = 2;
         DELETE FROM items WHERE id = 1;",
    )
    .await
    .expect("changes");
    let want_keys = ["items:2", "items:3"];
    let (json_redis, avro_redis) =
        wait_for("both Redis databases", Duration::from_secs(90), || async {
            let (j, a) = (redis_db(rp, 0).await, redis_db(rp, 1).await);
            let done = |m: &std::collections::BTreeMap<String, String>| {
                m.keys().map(String::as_str).collect::<Vec<_>>() == want_keys
                    && m.get("items:2").is_some_and(|v| v.contains("\"b\""))
            };
            (done(&j) && done(&a)).then_some((j, a))
        })
        .await;
    assert_eq!(
        avro_redis, json_redis,
        "Redis from the Avro topic = from the JSON topic"
    );
    let (json_docs, avro_docs) = wait_for("both indexes", Duration::from_secs(90), || async {
        let (j, a) = (
            crate::support::targets::search_docs(&s, "j_items").await,
            crate::support::targets::search_docs(&s, "a_items").await,
        );
        let done = |m: &std::collections::BTreeMap<String, serde_json::Value>| {
            m.len() == 2 && m.values().any(|d| d["note"] == "b")
        };
        (done(&j) && done(&a)).then_some((j, a))
    })
    .await;
    assert_eq!(
        avro_docs, json_docs,
        "the index from the Avro topic = from the JSON topic"
    );
    assert!(
        json_redis["items:3"].contains("-0.01"),
        "decimals converted: {}",
        json_redis["items:3"]
    );
    crate::golden::terminate_cleanly(child, &log).await;
}
