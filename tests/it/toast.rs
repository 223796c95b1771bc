//! Unchanged TOASTed values (issue 23): under PostgreSQL's default replica identity an update
//! that does not touch a large column carries Debezium's placeholder for it, and so does the
//! create record of a row whose primary key changed. The topic keeps that (it is Debezium's
//! format); the sinks must keep the real value they hold, and move it from the old key to
//! the new one: Redis (JSON and hash), memcached and a search index end equal to the table,
//! and no sample taken while the changes stream ever shows the placeholder.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value as Json;

use crate::support::free_port;
use crate::support::kafka::Kafka;
use crate::support::postgres::Pg;
use crate::support::sluice;
use crate::support::targets::{self, Server};

const PLACEHOLDER: &str = "__debezium_unavailable_value";

/// A row as every target should hold it: (body, meta as JSON, n).
type Row = (String, Json, i64);

async fn table(db: &tokio_postgres::Client) -> BTreeMap<String, Row> {
    db.query("SELECT id, body, meta::text, n FROM docs", &[])
        .await
        .expect("rows")
        .iter()
        .map(|r| {
            let meta: String = r.get(2);
            (
                r.get::<_, i32>(0).to_string(),
                (
                    r.get(1),
                    serde_json::from_str(&meta).expect("jsonb"),
                    i64::from(r.get::<_, i32>(3)),
                ),
            )
        })
        .collect()
}

/// A document as a target holds it → the row it stands for (meta may be JSON text).
fn row_of(doc: &Json) -> Option<Row> {
    let meta = match &doc["meta"] {
        Json::String(s) => serde_json::from_str(s).unwrap_or(Json::String(s.clone())),
        other => other.clone(),
    };
    Some((
        doc["body"].as_str()?.to_string(),
        meta,
        doc["n"]
            .as_i64()
            .or_else(|| doc["n"].as_str()?.parse().ok())?,
    ))
}

struct Targets {
    redis: Server,
    memcached: Server,
    search: Server,
}

impl Targets {
    async fn redis_docs(&self, prefix: &str, hash: bool) -> BTreeMap<String, Json> {
        let client =
            redis::Client::open(format!("redis://127.0.0.1:{}/0", self.redis.port)).expect("url");
        let mut c = client
            .get_multiplexed_async_connection()
            .await
            .expect("redis");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut c)
            .await
            .expect("keys");
        let mut out = BTreeMap::new();
        for k in keys.into_iter().filter(|k| !k.ends_with("#v")) {
            let doc = if hash {
                let m: Option<BTreeMap<String, String>> =
                    redis::cmd("HGETALL").arg(&k).query_async(&mut c).await.ok();
                m.filter(|m| !m.is_empty()).map(|m| {
                    Json::Object(m.into_iter().map(|(f, v)| (f, Json::String(v))).collect())
                })
            } else {
                let v: Option<String> = redis::cmd("GET").arg(&k).query_async(&mut c).await.ok();
                v.and_then(|v| serde_json::from_str(&v).ok())
            };
            if let Some(d) = doc {
                out.insert(k.trim_start_matches(prefix).to_string(), d);
            }
        }
        out
    }

    fn memcached_docs(&self, ids: &[String]) -> BTreeMap<String, Json> {
        ids.iter()
            .filter_map(|id| {
                let v = targets::memcached_get(self.memcached.port, &format!("docs:{id}"))?;
                Some((id.clone(), serde_json::from_str(&v).ok()?))
            })
            .collect()
    }

    /// Every target's documents, by target name.
    async fn all(&self, ids: &[String]) -> BTreeMap<&'static str, BTreeMap<String, Json>> {
        BTreeMap::from([
            ("redis json", self.redis_docs("docs:", false).await),
            ("redis hash", self.redis_docs("h:", true).await),
            ("memcached", self.memcached_docs(ids)),
            (
                "search",
                targets::search_docs(&self.search.url(), "docs").await,
            ),
        ])
    }
}

/// Whether any stored field of any document is (or holds) the placeholder.
fn placeholder_seen(docs: &BTreeMap<&str, BTreeMap<String, Json>>) -> Option<String> {
    for (target, docs) in docs {
        for (id, d) in docs {
            if d.to_string().contains(PLACEHOLDER) {
                return Some(format!("{target} {id}"));
            }
        }
    }
    None
}

/// Every target against the table: a description of the first few differences, if any.
fn differences(
    docs: &BTreeMap<&str, BTreeMap<String, Json>>,
    want: &BTreeMap<String, Row>,
) -> Vec<String> {
    let mut diff = Vec::new();
    for (target, docs) in docs {
        let got: BTreeMap<&String, Option<Row>> =
            docs.iter().map(|(id, d)| (id, row_of(d))).collect();
        let w: BTreeMap<&String, Option<Row>> =
            want.iter().map(|(id, r)| (id, Some(r.clone()))).collect();
        if got != w {
            let bad: Vec<_> = w
                .keys()
                .chain(got.keys())
                .filter(|id| got.get(*id) != w.get(*id))
                .take(3)
                .map(|id| {
                    (
                        id.to_string(),
                        got.get(id).map(|r| r.as_ref().map(|r| (r.0.len(), r.2))),
                    )
                })
                .collect();
            diff.push(format!("{target}: {bad:?}"));
        }
    }
    diff
}

/// `reselect`: the capture reads unchanged TOAST values back by key
/// (`reselect_unavailable`), so records carry them and a compacted copy of the topic alone
/// rebuilds every value in a fresh target.
async fn toast_run(search: Server, reselect: bool) {
    let pg = Pg::start("logical");
    let db = pg.create_db("app").await;
    db.batch_execute(
        "CREATE TABLE docs (id int PRIMARY KEY, body text, meta jsonb, n int NOT NULL); \
         ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL; \
         ALTER TABLE docs ALTER COLUMN meta SET STORAGE EXTERNAL; \
         INSERT INTO docs SELECT g, repeat(md5(g::text), 200), \
           (SELECT jsonb_object_agg('k' || i, g * 1000 + i) FROM generate_series(1, 300) i), 0 \
         FROM generate_series(1, 30) g;",
    )
    .await
    .expect("setup");
    let kafka = Kafka::start();
    let t = Targets {
        redis: targets::redis(),
        memcached: targets::memcached(),
        search,
    };
    let tmp = crate::support::test_dir();
    let bootstrap = kafka.bootstrap();
    let capture = sluice::write_raw(
        tmp.path(),
        "capture.yaml",
        &format!(
            "service:\n  http_listen_addr: 127.0.0.1:{}\n  offsets_dir: {}\nconnectors:\n  tc:\n    source:\n      type: postgres\n      host: 127.0.0.1\n      port: {}\n      user: postgres\n      database: app\n      tables: [public.docs]\n      status_interval_ms: 200\n      reselect_unavailable: {reselect}\n    sink:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n      schemas_enable: true\n      topic_partitions: 2\n",
            free_port(),
            tmp.path().join("offsets").display(),
            pg.port,
        ),
    );
    let src = |name: &str| {
        format!(
            "    source:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n      topics: [tc.public.docs]\n      group_id: toast-{name}\n"
        )
    };
    let sinks = sluice::write_raw(
        tmp.path(),
        "sinks.yaml",
        &format!(
            "service:\n  http_listen_addr: 127.0.0.1:{}\nconnectors:\n  rj:\n{}    sink:\n      type: redis\n      url: redis://127.0.0.1:{rp}/0\n      key: \"docs:{{key}}\"\n  rh:\n{}    sink:\n      type: redis\n      url: redis://127.0.0.1:{rp}/0\n      key: \"h:{{key}}\"\n      value_format: hash\n  mc:\n{}    sink:\n      type: memcached\n      server: 127.0.0.1:{}\n      key: \"docs:{{key}}\"\n  se:\n{}    sink:\n      type: search\n      url: {}\n      index: docs\n",
            free_port(),
            src("rj"),
            src("rh"),
            src("mc"),
            t.memcached.port,
            src("se"),
            t.search.url(),
            rp = t.redis.port,
        ),
    );
    let _capture = sluice::spawn(&capture, &tmp.path().join("capture.log"));
    let _sinks = sluice::spawn(&sinks, &tmp.path().join("sinks.log"));
    let ids: Vec<String> = (1..=60)
        .chain([102, 103, 1004])
        .map(|i| i.to_string())
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let docs = t.all(&ids).await;
        if docs.values().all(|d| d.len() == 30) {
            break;
        }
        if std::time::Instant::now() > deadline {
            let counts: Vec<_> = docs.iter().map(|(k, d)| (k, d.len())).collect();
            let log = std::fs::read_to_string(tmp.path().join("sinks.log")).unwrap_or_default();
            panic!(
                "the snapshot did not reach every target: {counts:?}\n{:.3000}",
                log
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Updates that skip the large columns (each carries the placeholder for both), some
    // that change them, deletes and re-inserts; every target sampled between rounds.
    for round in 1..=12 {
        db.execute(
            "UPDATE docs SET n = n + 1 WHERE id % 3 <> $1",
            &[&(round % 3)],
        )
        .await
        .expect("update n");
        if round % 4 == 0 {
            db.execute(
                "UPDATE docs SET body = repeat(md5(id::text || $1::int::text), 200), n = n + 1 WHERE id % 5 = 0",
                &[&round],
            )
            .await
            .expect("update body");
        }
        // Primary-key changes that leave the large columns alone: the new key's create
        // carries the placeholder; the targets move the values from the old key.
        if round == 3 {
            db.execute("UPDATE docs SET id = id + 100 WHERE id IN (2, 3)", &[])
                .await
                .expect("key change");
        }
        if round == 9 {
            db.execute("UPDATE docs SET id = 1004, n = n + 1 WHERE id = 4", &[])
                .await
                .expect("key change");
        }
        if round == 6 {
            db.batch_execute(
                "DELETE FROM docs WHERE id IN (7, 8); \
                 INSERT INTO docs VALUES (7, repeat('again', 2000), '{\"re\": 1}', 100);",
            )
            .await
            .expect("delete and re-insert");
        }
        let docs = t.all(&ids).await;
        if let Some(at) = placeholder_seen(&docs) {
            panic!("round {round}: the placeholder landed in {at}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let want = table(&db).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let docs = t.all(&ids).await;
        if let Some(at) = placeholder_seen(&docs) {
            panic!("the placeholder landed in {at}");
        }
        let diff = differences(&docs, &want);
        if diff.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "targets differ from the table (id, Some(Some((body length, n))) as held): {}",
            diff.join("; ")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Transactions were committed, but transaction metadata is off: no `<prefix>.transaction`
    // topic (issue 23: an empty one used to be created).
    let topics = crate::support::kafka::topic_names(&bootstrap);
    assert!(
        !topics.iter().any(|t| t.ends_with(".transaction")),
        "{topics:?}"
    );
    // A replay from offset 0 and a compacted copy of the topic, by new groups, into the same
    // version-guarded targets (memcached is last-write-wins, see the README): sampled while
    // they run, every target still equals the table (nothing moves backwards).
    let copied = crate::support::kafka::compact_copy(
        &bootstrap,
        "tc.public.docs",
        "tcc.public.docs",
        i64::MAX,
    )
    .await;
    assert!(copied >= 30, "compacted copy of {copied} records");
    let replay_http = free_port();
    let src = |name: &str| {
        format!(
            "    source:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n      topics: [tc.public.docs, tcc.public.docs]\n      group_id: replay-{name}\n"
        )
    };
    let mut replay_yaml = format!(
        "service:\n  http_listen_addr: 127.0.0.1:{replay_http}\nconnectors:\n  rj:\n{}    sink:\n      type: redis\n      url: redis://127.0.0.1:{rp}/0\n      key: \"docs:{{key}}\"\n  rh:\n{}    sink:\n      type: redis\n      url: redis://127.0.0.1:{rp}/0\n      key: \"h:{{key}}\"\n      value_format: hash\n  se:\n{}    sink:\n      type: search\n      url: {}\n      index: docs\n",
        src("rj"),
        src("rh"),
        src("se"),
        t.search.url(),
        rp = t.redis.port,
    );
    if reselect {
        // The compacted copy alone into a fresh Redis prefix: with the values reselected,
        // the latest record of every key carries them all.
        replay_yaml.push_str(&format!(
            "  fresh:\n    source:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n      topics: [tcc.public.docs]\n      group_id: fresh\n    sink:\n      type: redis\n      url: redis://127.0.0.1:{}/0\n      key: \"fresh:{{key}}\"\n",
            t.redis.port
        ));
    }
    let replay = sluice::write_raw(tmp.path(), "replay.yaml", &replay_yaml);
    let _replay = sluice::spawn(&replay, &tmp.path().join("replay.log"));
    let total = crate::support::kafka::kcat_read(&bootstrap, "tc.public.docs").len() + copied;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let mut docs = t.all(&ids).await;
        docs.remove("memcached");
        let diff = differences(&docs, &want);
        assert!(
            diff.is_empty(),
            "a replay moved a target backwards: {}",
            diff.join("; ")
        );
        let mut done = true;
        for c in ["rj", "rh", "se"] {
            let applied = format!("sluice_sink_records_applied_total{{connector=\"{c}\"}} ");
            done &= crate::support::metric(replay_http, &applied).await >= total as f64;
        }
        if done {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the replay did not finish: {}",
            std::fs::read_to_string(tmp.path().join("replay.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if reselect {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let fresh = BTreeMap::from([("fresh", t.redis_docs("fresh:", false).await)]);
            let diff = differences(&fresh, &want);
            if diff.is_empty() && placeholder_seen(&fresh).is_none() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the compacted copy did not rebuild the table: {}",
                diff.join("; ")
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        // The latest record of every key that still exists carries real values.
        let mut latest: BTreeMap<String, Option<Json>> = BTreeMap::new();
        for r in crate::support::kafka::kcat_read(&bootstrap, "tc.public.docs") {
            latest.insert(r.key.unwrap_or_default().to_string(), r.value);
        }
        for value in latest.values().flatten() {
            assert!(
                !value.to_string().contains(PLACEHOLDER),
                "a key's latest record holds the placeholder with reselect_unavailable on"
            );
        }
    }
}

/// Redis, memcached and osmem-server (OpenSearch API).
#[tokio::test(flavor = "multi_thread")]
async fn toast_values_stay_real_in_every_target() {
    toast_run(targets::osmem(), false).await;
}

/// The same with `reselect_unavailable`: records carry the values, and a compacted copy of
/// the topic alone rebuilds them in a fresh target.
#[tokio::test(flavor = "multi_thread")]
async fn reselected_values_make_a_compacted_copy_complete() {
    toast_run(targets::osmem(), true).await;
}

/// The same with a real OpenSearch 2.19 as the search target.
#[tokio::test(flavor = "multi_thread")]
async fn toast_values_stay_real_on_opensearch() {
    toast_run(targets::opensearch(None), false).await;
}

/// The same with a real Elasticsearch 8.19 as the search target.
#[tokio::test(flavor = "multi_thread")]
async fn toast_values_stay_real_on_elasticsearch() {
    toast_run(targets::elasticsearch(), false).await;
}

/// The guard script's merge on a real Redis: the stored document's members for the left-out
/// names are copied as their exact text, whatever they hold (quotes, braces and commas inside
/// strings, nested arrays, escaped names, long decimals); a name the store lacks returns 2;
/// an older version changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn guard_script_keeps_members_as_text() {
    let r = targets::redis();
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", r.port)).expect("url");
    let mut c = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let stored = r#"{"id":1,"body":"a \"quoted\", {brace} [x] \\ end","meta":{"k":[1,{"s":"}],"}],"n":0.14285714285714285714},"q\"k":-1.5e300,"n":1}"#;
    let _: () = redis::cmd("SET")
        .arg("d")
        .arg(stored)
        .query_async(&mut c)
        .await
        .expect("set");
    let mset = |version: i64, doc: &'static str, names: &'static [&'static str]| {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(::sluice::sink::cache::GUARD_SCRIPT)
            .arg(2)
            .arg("d")
            .arg("d#v")
            .arg(version)
            .arg("mset")
            .arg(doc)
            .arg(0)
            .arg(1000);
        for n in names {
            cmd.arg(*n);
        }
        cmd
    };
    let got: i64 = mset(
        5,
        r#"{"id":1,"n":2}"#,
        &[r#""body""#, r#""meta""#, r#""q\"k""#],
    )
    .query_async(&mut c)
    .await
    .expect("eval");
    assert_eq!(got, 1);
    let text: String = redis::cmd("GET")
        .arg("d")
        .query_async(&mut c)
        .await
        .expect("get");
    let doc: Json = serde_json::from_str(&text).expect("valid JSON");
    let want: Json = serde_json::from_str(stored).expect("json");
    assert_eq!(doc["body"], want["body"]);
    assert_eq!(doc["meta"], want["meta"]);
    assert_eq!(doc["q\"k"], want["q\"k"]);
    assert_eq!(doc["n"], 2);
    assert!(text.contains("0.14285714285714285714"), "{text}");
    // A left-out name with nothing stored: applied, reported.
    let got: i64 = mset(6, r#"{"id":1,"n":3}"#, &[r#""absent""#])
        .query_async(&mut c)
        .await
        .expect("eval");
    assert_eq!(got, 2);
    // Older than the stored version: ignored.
    let got: i64 = mset(4, r#"{"id":1,"n":9}"#, &[])
        .query_async(&mut c)
        .await
        .expect("eval");
    assert_eq!(got, 0);
}
