//! sluice as a cluster of workers (`service.cluster`) on a real broker: three workers share
//! six connectors through Kafka's group protocol: three PostgreSQL capture connectors, two
//! MariaDB ones and a sink connector applying one of the change topics to Redis, while a
//! writer commits about 800 transactions/s on every source. The worker running
//! the most connectors is SIGKILLed under writes and its connectors move to the others;
//! then another is paused (SIGSTOP) past its session and woken (it is fenced and stops its
//! connectors), then one is stopped with SIGTERM and hands its connectors over, then the
//! last one is killed and all three start again at once, then each is restarted in turn (a
//! rolling restart). With
//! transactions and the Kafka offsets store, a `read_committed` reader sees every committed
//! change exactly once, in order per key, and Redis ends with every key's last value.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::kafka::{committed_changes, Kafka};
use crate::support::mariadb::Maria;
use crate::support::postgres::Pg;
use crate::support::{free_port, sluice, targets, wait_for};

/// The PostgreSQL connectors (each on its own database).
const CONNECTORS: [&str; 3] = ["c1", "c2", "c3"];
/// The MariaDB connectors and their databases.
const MARIA: [(&str, &str); 2] = [("m1", "app"), ("m2", "app2")];
/// Every capture connector's (name, topic), PostgreSQL's first.
const TOPICS: [(&str, &str); 5] = [
    ("c1", "c1.public.items"),
    ("c2", "c2.public.items"),
    ("c3", "c3.public.items"),
    ("m1", "m1.app.items"),
    ("m2", "m2.app2.items"),
];
/// Every connector: the capture connectors and the sink connector `s1` (c1's topic into
/// Redis).
const ALL: usize = TOPICS.len() + 1;
/// Transactions per second the writer of every source aims at.
const RATE: u64 = 800;

/// Committed values per (database index, key), in commit order.
type Committed = HashMap<(usize, i64), Vec<i64>>;

/// One worker's config: the same connectors on every worker, its own API port and id.
fn worker_config(
    dir: &Path,
    worker: &str,
    http: u16,
    (pg, maria_sources, redis): (u16, &[String], u16),
    bootstrap: &str,
) -> PathBuf {
    let mut y = format!(
        "service:\n  http_listen_addr: 127.0.0.1:{http}\n  offsets_dir: {dir}/offsets-{worker}\n  \
         offsets: {{store: kafka, topic: w-offsets}}\n  \
         cluster: {{group_id: sluice-workers, bootstrap_servers: \"{bootstrap}\", worker_id: {worker}}}\n\
         connectors:\n",
        dir = dir.display()
    );
    for c in CONNECTORS {
        y.push_str(&format!(
            "  {c}:\n    source:\n      type: postgres\n      host: 127.0.0.1\n      port: {pg}\n      \
             user: postgres\n      database: {c}\n      tables: [public.items]\n      status_interval_ms: 200\n    \
             sink:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n      transactions: true\n"
        ));
    }
    for ((m, _), source) in MARIA.iter().zip(maria_sources) {
        y.push_str(&format!(
            "  {m}:\n{source}    sink:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n      transactions: true\n"
        ));
    }
    // The sink connector: leased like the others, so it runs on one worker at a time.
    y.push_str(&format!(
        "  s1:\n    source:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n      topics: [c1.public.items]\n    \
         sink:\n      type: redis\n      url: redis://127.0.0.1:{redis}/0\n"
    ));
    sluice::write_raw(dir, &format!("{worker}.yaml"), &y)
}

/// `GET /cluster` of the worker at `http`: connector → worker id, as the group says.
async fn owners(http: u16) -> Option<BTreeMap<String, String>> {
    let text = reqwest::get(format!("http://127.0.0.1:{http}/cluster"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let body: serde_json::Value = serde_json::from_str(&text).ok()?;
    let mut out = BTreeMap::new();
    for w in body["workers"].as_array()? {
        for c in w["connectors"].as_array()? {
            let prev = out.insert(
                c.as_str()?.to_string(),
                w["worker_id"].as_str()?.to_string(),
            );
            if prev.is_some() {
                return None; // mid-rebalance: a connector listed twice
            }
        }
    }
    Some(out)
}

/// Note that `n` was committed as key `at.1` of connector number `at.0`.
fn remember(log: &Mutex<Committed>, at: (usize, i64), n: i64) {
    log.lock().expect("log").entry(at).or_default().push(n);
}

/// A connection to the test MariaDB's database `db`.
async fn maria_conn(maria: &Maria, db: &str) -> mysql_async::Conn {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(maria.port)
        .user(Some(crate::support::mariadb::USER))
        .pass(Some(crate::support::mariadb::PASSWORD))
        .db_name(Some(db))
        .prefer_socket(false);
    mysql_async::Conn::new(opts)
        .await
        .expect("connect to mariadb")
}

/// A ticker for one writer: `RATE` transactions per second (a missed tick is caught up).
fn pace() -> tokio::time::Interval {
    tokio::time::interval(Duration::from_micros(1_000_000 / RATE))
}

/// `items:<id>` → the document's `v`, for every key the sink connector wrote to Redis.
async fn redis_values(port: u16) -> Option<BTreeMap<i64, i64>> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/0")).ok()?;
    let mut c = client.get_multiplexed_async_connection().await.ok()?;
    let mut out = BTreeMap::new();
    for id in 1..=20i64 {
        let v: Option<String> = redis::cmd("GET")
            .arg(format!("items:{id}"))
            .query_async(&mut c)
            .await
            .ok()?;
        let doc: serde_json::Value = serde_json::from_str(&v?).ok()?;
        out.insert(id, doc["v"].as_i64()?);
    }
    Some(out)
}

/// The worker that runs the most connectors in `owners` (connector → worker); of workers
/// running as many, the one running the sink connector `s1`, so that it moves too.
fn busiest(owners: &BTreeMap<String, String>) -> String {
    let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
    for w in owners.values() {
        *counts.entry(w).or_default() += 1;
    }
    let sink = owners.get("s1");
    counts
        .iter()
        .max_by_key(|(w, n)| (**n, Some(**w) == sink))
        .map(|(w, _)| (*w).clone())
        .expect("a worker")
}

/// Wait until the group, as the worker at `http` describes it, runs every connector on
/// `worker`.
async fn wait_all_on(what: &str, http: u16, worker: &str) {
    wait_for(what, Duration::from_secs(60), || async {
        let o = owners(http).await?;
        (o.len() == ALL && o.values().all(|w| w == worker)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connectors_move_to_surviving_workers_exactly_once() {
    let pg = Pg::start("logical");
    let mut clients = Vec::new();
    for c in CONNECTORS {
        let client = pg.create_db(c).await;
        client
            .batch_execute(
                "CREATE TABLE items (id int primary key, v bigint not null); \
                 INSERT INTO items SELECT g, 0 FROM generate_series(1, 20) g;",
            )
            .await
            .expect("setup");
        clients.push(client);
    }
    let maria = Maria::start();
    for (_, db) in MARIA {
        maria.sql(&format!(
            "CREATE DATABASE {db}; USE {db}; CREATE TABLE items (id int primary key, v bigint not null); \
             INSERT INTO items SELECT seq, 0 FROM seq_1_to_20;"
        ));
    }
    let maria_sources: Vec<String> = MARIA
        .iter()
        .map(|(_, db)| maria.source_yaml(&[&format!("{db}.items")], ""))
        .collect();
    let redis = targets::redis();
    let broker = Kafka::start();
    let bootstrap = broker.bootstrap();
    let tmp = crate::support::test_dir();
    let log = tmp.path().join("sluice.log");
    let mut workers: BTreeMap<String, (u16, Option<sluice::Sluice>)> = BTreeMap::new();
    let start = |w: &str, workers: &mut BTreeMap<String, (u16, Option<sluice::Sluice>)>| {
        let http = free_port();
        let cfg = worker_config(
            tmp.path(),
            w,
            http,
            (pg.port, &maria_sources, redis.port),
            &bootstrap,
        );
        workers.insert(w.to_string(), (http, Some(sluice::spawn(&cfg, &log))));
    };
    let http_of = |w: &str, workers: &BTreeMap<String, (u16, Option<sluice::Sluice>)>| workers[w].0;
    // The first worker runs every connector and takes the snapshots; two more join (a
    // scale-out): the connectors spread, each on exactly one worker.
    start("w1", &mut workers);
    for (_, topic) in TOPICS {
        wait_for("the snapshots", Duration::from_secs(90), || async {
            (committed_changes(&bootstrap, topic).len() >= 20).then_some(())
        })
        .await;
    }
    start("w2", &mut workers);
    start("w3", &mut workers);
    let first = wait_for(
        "three workers sharing the connectors",
        Duration::from_secs(90),
        || async {
            let o = owners(http_of("w1", &workers)).await?;
            let three =
                o.len() == ALL && o.values().collect::<std::collections::BTreeSet<_>>().len() == 3;
            three.then_some(o)
        },
    )
    .await;

    // A request for a connector another worker runs names that worker.
    let (elsewhere, owner) = first
        .iter()
        .find(|(_, w)| *w != "w1")
        .map(|(c, w)| (c.clone(), w.clone()))
        .expect("a connector not on w1");
    let r = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/connectors/{elsewhere}/pause",
            http_of("w1", &workers)
        ))
        .send()
        .await
        .expect("pause request");
    assert_eq!(r.status().as_u16(), 409);
    let body: serde_json::Value =
        serde_json::from_str(&r.text().await.unwrap_or_default()).expect("json");
    assert_eq!(body["owner"]["worker_id"], owner.as_str(), "{body}");

    // Writers: one update after another on every database, until told to stop.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let log_of: Arc<Mutex<Committed>> = Arc::default();
    let mut writers = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        let (stop, log_of) = (stop.clone(), log_of.clone());
        writers.push(tokio::spawn(async move {
            let mut tick = pace();
            let mut n = 0i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                n += 1;
                let id = n % 20 + 1;
                client
                    .execute("UPDATE items SET v = $1 WHERE id = $2", &[&n, &(id as i32)])
                    .await
                    .expect("update");
                remember(&log_of, (i, id), n);
            }
            n
        }));
    }
    for (k, (_, db)) in MARIA.iter().enumerate() {
        use mysql_async::prelude::Queryable;
        let (stop, log_of) = (stop.clone(), log_of.clone());
        let mut c = maria_conn(&maria, db).await;
        let i = CONNECTORS.len() + k;
        writers.push(tokio::spawn(async move {
            let mut tick = pace();
            let mut n = 0i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                n += 1;
                let id = n % 20 + 1;
                c.exec_drop("UPDATE items SET v = ? WHERE id = ?", (n, id))
                    .await
                    .expect("update");
                remember(&log_of, (i, id), n);
            }
            n
        }));
    }
    let writing = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;

    // SIGKILL the worker that runs the most connectors: they move within the session
    // timeout (6 s) plus a start.
    let victim = busiest(&first);
    let moved: Vec<String> = first
        .iter()
        .filter(|(_, w)| **w == victim)
        .map(|(c, _)| c.clone())
        .collect();
    let killed_at = Instant::now();
    if let Some(mut p) = workers.get_mut(&victim).and_then(|w| w.1.take()) {
        p.kill();
    }
    let survivor = workers
        .keys()
        .find(|w| **w != victim)
        .cloned()
        .expect("survivor");
    let after_kill = wait_for(
        "the killed worker's connectors on the others",
        Duration::from_secs(60),
        || async {
            let o = owners(http_of(&survivor, &workers)).await?;
            (o.len() == ALL && o.values().all(|w| *w != victim)).then_some(o)
        },
    )
    .await;
    eprintln!(
        "failover of {moved:?} from {victim}: {:?}",
        killed_at.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    // SIGSTOP a worker past its session: the other takes its connectors (ending the stale
    // session on each slot); SIGCONT: the woken worker is fenced, writes nothing, stops
    // them, and rejoins.
    let paused = busiest(&after_kill);
    let other = workers
        .iter()
        .find(|(w, p)| p.1.is_some() && **w != paused)
        .map(|(w, _)| w.clone())
        .expect("the other worker");
    let pid = workers[&paused]
        .1
        .as_ref()
        .map(|p| p.0.id().to_string())
        .expect("pid");
    let signal = |sig: &str| {
        std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill")
    };
    signal("-STOP");
    wait_all_on(
        "the paused worker's connectors on the other",
        http_of(&other, &workers),
        &other,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    signal("-CONT");
    let after_pause = wait_for(
        "the woken worker back in the group",
        Duration::from_secs(60),
        || async {
            let text = reqwest::get(format!(
                "http://127.0.0.1:{}/cluster",
                http_of(&other, &workers)
            ))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
            let body: serde_json::Value = serde_json::from_str(&text).ok()?;
            let back = body["workers"]
                .as_array()?
                .iter()
                .any(|w| w["worker_id"].as_str() == Some(paused.as_str()));
            let o = owners(http_of(&other, &workers)).await?;
            (back && o.len() == ALL && body["group_state"] == "Stable").then_some(o)
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    eprintln!(
        "the sink connector s1 ran on {} (start), {} (after the kill), {} (after the pause)",
        first["s1"], after_kill["s1"], after_pause["s1"]
    );

    // SIGTERM another worker: it drains its connectors and hands them over.
    let leaving = after_pause.values().next().cloned().expect("an owner");
    let status = workers
        .get_mut(&leaving)
        .and_then(|w| w.1.take())
        .map(|mut p| p.terminate());
    assert!(
        status.is_some_and(|s| s.success()),
        "a worker stopped with SIGTERM exits 0"
    );
    let last = workers
        .iter()
        .find(|(w, p)| p.1.is_some() && **w != leaving)
        .map(|(w, _)| w.clone())
        .expect("the last worker");
    wait_all_on(
        "every connector on the last worker",
        http_of(&last, &workers),
        &last,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // All at once: SIGKILL the last worker, then start all three together; the cluster
    // settles with every connector on one worker and goes on where the checkpoints are.
    if let Some(mut p) = workers.get_mut(&last).and_then(|w| w.1.take()) {
        p.kill();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for w in ["w1", "w2", "w3"] {
        start(w, &mut workers);
    }
    wait_for(
        "the restarted cluster settled",
        Duration::from_secs(90),
        || async {
            let o = owners(http_of("w1", &workers)).await?;
            let spread = o.values().collect::<std::collections::BTreeSet<_>>().len();
            (o.len() == ALL && spread == 3).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // A rolling restart: each worker in turn drains (SIGTERM), starts again and the cluster
    // settles before the next.
    for w in ["w1", "w2", "w3"] {
        let status = workers
            .get_mut(w)
            .and_then(|p| p.1.take())
            .map(|mut p| p.terminate());
        assert!(
            status.is_some_and(|s| s.success()),
            "{w} exits 0 on SIGTERM"
        );
        start(w, &mut workers);
        let asked = if w == "w1" { "w2" } else { "w1" };
        wait_for(
            "the cluster settled after a restart",
            Duration::from_secs(90),
            || async {
                let body: serde_json::Value = serde_json::from_str(
                    &reqwest::get(format!(
                        "http://127.0.0.1:{}/cluster",
                        http_of(asked, &workers)
                    ))
                    .await
                    .ok()?
                    .text()
                    .await
                    .ok()?,
                )
                .ok()?;
                let members = body["workers"].as_array()?.len();
                let o = owners(http_of(asked, &workers)).await?;
                (members == 3 && o.len() == ALL && body["group_state"] == "Stable").then_some(())
            },
        )
        .await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let elapsed = writing.elapsed().as_secs_f64();
    for (w, (c, _)) in writers.into_iter().zip(TOPICS) {
        let n = w.await.expect("writer");
        eprintln!("{c}: {n} transactions, {:.0}/s", n as f64 / elapsed);
    }

    // Exactly once, in order per key, in every connector's topic.
    let log_of = log_of.lock().expect("log").clone();
    for (i, (c, topic)) in TOPICS.iter().enumerate() {
        let want: HashMap<i64, Vec<i64>> = log_of
            .iter()
            .filter(|((db, _), _)| *db == i)
            .map(|((_, id), v)| (*id, v.clone()))
            .collect();
        let total: usize = 20 + want.values().map(Vec::len).sum::<usize>();
        let got = wait_for(
            "every committed change",
            Duration::from_secs(90),
            || async {
                let r = committed_changes(&bootstrap, topic);
                (r.len() >= total).then_some(r)
            },
        )
        .await;
        assert_eq!(got.len(), total, "{c}: duplicates or losses");
        let mut seen: HashMap<i64, Vec<i64>> = HashMap::new();
        for (id, op, v) in &got {
            if op == "u" {
                seen.entry(*id).or_default().push(*v);
            }
        }
        assert_eq!(
            seen, want,
            "{c}: every change once, in commit order per key"
        );
    }
    // The sink connector moved with the others: Redis holds c1's last value of every key
    // (its apply is idempotent and version-guarded, so repeats after a move change nothing).
    let last: BTreeMap<i64, i64> = log_of
        .iter()
        .filter(|((db, _), _)| *db == 0)
        .filter_map(|((_, id), v)| Some((*id, *v.last()?)))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let held = redis_values(redis.port).await;
        if held.as_ref() == Some(&last) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sink connector applied c1's last values: Redis holds {held:?}, want {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!logs.contains("panicked"), "no worker panicked");
}
