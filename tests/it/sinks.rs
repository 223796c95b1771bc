//! Sink connectors end to end: PostgreSQL → sluice capture → noida-db → sluice sinks →
//! osmem-server (OpenSearch API), Redis and memcached, compared with the source table.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value as Json};

use crate::support::kafka::Noida;
use crate::support::postgres::Pg;
use crate::support::sluice::{self, Sluice};
use crate::support::targets::{self, Server};
use crate::support::{free_port, wait_for};

const TOPIC: &str = "shop.public.customers";

struct World {
    _pg: Pg,
    db: tokio_postgres::Client,
    kafka: Noida,
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

fn sink_yaml(w: &World, group: &str, which: &[&str]) -> String {
    let mut y = format!(
        "service:\n  http_listen_addr: 127.0.0.1:{}\nconnectors:\n",
        free_port()
    );
    let src = |name: &str| {
        format!(
            "    source:\n      type: kafka\n      bootstrap_servers: \"{}\"\n      topics: [{TOPIC}]\n      group_id: {group}-{name}\n      dead_letter_topic: shop.dlq\n",
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
    let pg = Pg::start("logical");
    let db = pg.create_db("shop").await;
    db.batch_execute(
        "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, balance numeric(10,2), seen date); \
         INSERT INTO customers SELECT g, 'name ' || g, g * 1.5, DATE '2024-01-01' + g FROM generate_series(1, 40) g;",
    )
    .await
    .expect("setup");
    let kafka = Noida::start();
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
        search: targets::osmem(),
        redis: targets::redis(),
        memcached: targets::memcached(),
        tmp,
        capture,
    }
}

/// A scripted mix of inserts, updates, deletes and a primary-key change.
async fn churn(db: &tokio_postgres::Client, rounds: i32) {
    for r in 0..rounds {
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
    db.batch_execute("UPDATE customers SET id = 5000 WHERE id = 1")
        .await
        .expect("pk change");
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
                (r.get::<_, String>(1), r.get::<_, Option<f64>>(2).unwrap_or(0.0)),
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

async fn redis_state(w: &World) -> BTreeMap<String, (String, f64)> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", w.redis.port)).expect("url");
    let mut c = client.get_multiplexed_async_connection().await.expect("redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("customers:*")
        .query_async(&mut c)
        .await
        .expect("keys");
    let mut out = BTreeMap::new();
    for k in keys.into_iter().filter(|k| !k.ends_with("#v")) {
        let v: Option<String> = redis::cmd("GET").arg(&k).query_async(&mut c).await.expect("get");
        if let Some(doc) = v.and_then(|v| serde_json::from_str::<Json>(&v).ok()) {
            if let Some(p) = project(&doc) {
                out.insert(k.trim_start_matches("customers:").to_string(), p);
            }
        }
    }
    out
}

fn memcached_state(w: &World, ids: impl Iterator<Item = String>) -> BTreeMap<String, (String, f64)> {
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
    let cfg = sluice::write_raw(w.tmp.path(), "sinks.yaml", &sink_yaml(&w, "g1", &["search", "redis", "memcached"]));
    let _sinks = sluice::spawn(&cfg, &w.tmp.path().join("sinks.log"));
    churn(&w.db, 10).await;
    let want = source_rows(&w.db).await;
    wait_for("search to match the source", Duration::from_secs(60), || async {
        (search_state(&w).await == want).then_some(())
    })
    .await;
    wait_for("redis to match the source", Duration::from_secs(60), || async {
        (redis_state(&w).await == want).then_some(())
    })
    .await;
    wait_for("memcached to match the source", Duration::from_secs(60), || async {
        let ids = (1..6000).map(|i| i.to_string());
        (memcached_state(&w, ids) == want).then_some(())
    })
    .await;
    let docs = targets::search_docs(&w.search.url(), "customers").await;
    assert_eq!(docs["3"]["seen"], json!("2024-01-04"), "{:?}", docs["3"]);
    assert!(docs["3"]["balance"].is_number(), "{:?}", docs["3"]);
    drop(w.capture);
}
