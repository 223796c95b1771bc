//! sluice benchmark harness: real PostgreSQL 15, a real Apache Kafka 4.1 (one KRaft node, from
//! tests/services; `--broker noida` for noida-db, the previous broker) and the release `sluice`
//! binary, each scenario beside its physical limit.
//!
//! ```text
//! bash bench/run.sh [SCENARIO|pg|maria|sinks|all] [--rows N] [--changes N] [--seconds S]
//!                   [--records N] [--broker kafka|noida]
//! ```
//! `pg` runs snapshot, streaming and latency; `maria` runs the three `maria-` scenarios
//! against a throwaway MariaDB 10.11 (the integration tests' server, same settings).
//! Scenarios:
//! - snapshot:  N rows (default 1,000,000) → sluice `initial_only` → broker; beside it the raw
//!   `COPY (SELECT …) TO STDOUT` rate of the same table.
//! - streaming: N changes (default 200,000) in transactions of 100 committed while sluice is
//!   stopped; time until the broker acknowledged all (sluice's acknowledged LSN reaches the
//!   end); beside it `pg_recvlogical` (pgoutput, same publication) draining the same WAL.
//! - latency:   a steady 1,000 and 10,000 changes/s for S seconds (default 60); commit time
//!   (`source.ts_us`) to receipt by a Kafka consumer (an upper bound of commit → broker ack).
//!
//! - maria-snapshot, maria-streaming, maria-latency: the same on MariaDB. Limits: the
//!   `mariadb --quick` client reading the same SELECT over TCP, and `mariadb-binlog
//!   --read-from-remote-server` reading the same binlog range. The binlog's commit time has
//!   whole seconds only, so MariaDB latency runs from the row's `c` column (`NOW(6)` when its
//!   INSERT started).
//!
//! - sink-search, sink-redis (group `sinks`): a backlog of N change records (default 200,000,
//!   the snapshot of the streaming table shape, `schemas_enable: true`) applied by a sluice
//!   sink connector from offset 0 into a real OpenSearch 2.19 (embedded, as in the tests) or
//!   Redis; beside it the target's own limit: the same documents written directly by the
//!   harness (`_bulk` of 4,096 `index` actions; a pipeline of 4,096 `SET`s), one request at a
//!   time as the sink does.
//!
//! - failover (by name only): two cluster workers (`service.cluster`, Kafka offsets store)
//!   share one PostgreSQL connector under a writer at about 200 transactions/s; the owning
//!   worker is SIGKILLed N times (`--kills`, default 20) and the time from the kill to the
//!   first record of a transaction committed after it (only the new owner can write one) is
//!   measured; the killed worker is started again before the next kill.
//!
//! Peak RSS of sluice (VmHWM) and, for drains and snapshots, its CPU time per event (user + system, from `/proc`) are reported; for PostgreSQL latency also sluice's own
//! commit → broker-ack histogram (`sluice_commit_to_ack_seconds`), which excludes the
//! measuring consumer.

#![allow(clippy::print_stdout)] // a command-line report

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message as _;
use rdkafka::ClientConfig;
use tokio_postgres::{Client, NoTls};

// Where the tests' other server versions are laid out (used by the MariaDB helper's MySQL 8).
#[path = "../tests/it/support/databases.rs"]
mod databases;
use databases::database_dir;

// The MariaDB server of the integration tests (same settings); `source_yaml` is unused here.
#[allow(dead_code)]
#[path = "../tests/it/support/mariadb.rs"]
mod mariadb;
use mariadb::Maria;

// The tests' search, Redis and Java-service helpers (real OpenSearch from tests/services).
#[allow(dead_code)]
#[path = "../tests/it/support/targets.rs"]
mod targets;

// The tests' real Apache Kafka (KRaft, tests/services/kafka).
#[allow(dead_code)]
#[path = "../tests/it/support/kafka.rs"]
mod kafka;

/// The broker a scenario runs on: the real Apache Kafka (default) or noida-db (`--broker noida`).
/// Held only to keep it running (dropping it stops it).
#[allow(dead_code)]
enum Broker {
    Kafka(kafka::Kafka),
    Noida(Proc),
}

fn start_broker(root: &Path, which: &str) -> (Broker, String) {
    match which {
        "noida" => {
            let (p, b) = noida(root);
            (Broker::Noida(p), b)
        }
        _ => {
            let k = kafka::Kafka::start();
            let b = k.bootstrap();
            (Broker::Kafka(k), b)
        }
    }
}

fn test_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("sluice-bench-")
        .tempdir()
        .expect("tmp")
}

const PGBIN: &str = "/usr/lib/postgresql/15/bin";

/// The PostgreSQL server version the scenarios run (`--pg-version`, default 15).
static PG_VERSION: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// The server binaries of the chosen version: Debian's 15, or 16–18 as
/// tests/services/databases.sh lays them out. (`pg_recvlogical` stays Debian's 15 client,
/// which reads newer servers; the 16–18 builds have no client tools.)
fn pg_server_bin() -> String {
    match PG_VERSION.get().copied().unwrap_or(15) {
        15 => PGBIN.to_string(),
        v => format!(
            "{}/bin",
            database_dir(&format!("postgresql-{v}"), "bin/initdb")
        ),
    }
}

/// A free port, never one handed out before in this process (see the tests' `free_port`).
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

fn as_postgres(cmd: &str) {
    let ok = Command::new("su")
        .args(["postgres", "-s", "/bin/bash", "-c", cmd])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "`{cmd}` failed");
}

struct Pg {
    port: u16,
    dir: PathBuf,
}

impl Pg {
    fn start(root: &Path) -> Pg {
        let dir = root.join("pg");
        std::fs::create_dir_all(&dir).expect("pg dir");
        Command::new("chown")
            .args(["-R", "postgres:postgres", &root.display().to_string()])
            .status()
            .expect("chown");
        let d = dir.display();
        as_postgres(&format!(
            "{}/initdb -D {d} -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null",
            pg_server_bin()
        ));
        let port = free_port();
        let conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{d}'\nwal_level = logical\n\
             max_replication_slots = 10\nmax_wal_senders = 10\nshared_buffers = 512MB\nmax_wal_size = 4GB\n\
             fsync = off\n"
        );
        std::fs::write(
            dir.join("postgresql.conf"),
            std::fs::read_to_string(dir.join("postgresql.conf")).unwrap_or_default() + &conf,
        )
        .expect("conf");
        std::fs::write(
            dir.join("pg_hba.conf"),
            std::fs::read_to_string(dir.join("pg_hba.conf")).unwrap_or_default()
                + "host replication all 127.0.0.1/32 trust\n",
        )
        .expect("hba");
        as_postgres(&format!(
            "{}/pg_ctl -D {d} -l {d}/server.log -w start >/dev/null",
            pg_server_bin()
        ));
        Pg { port, dir }
    }

    async fn connect(&self, db: &str) -> Client {
        let (c, conn) = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={} user=postgres dbname={db}",
                self.port
            ),
            NoTls,
        )
        .await
        .expect("connect");
        tokio::spawn(conn);
        c
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let d = self.dir.display();
        let _ = Command::new("su")
            .args([
                "postgres",
                "-s",
                "/bin/bash",
                "-c",
                &format!(
                    "{}/pg_ctl -D {d} -m immediate stop >/dev/null 2>&1",
                    pg_server_bin()
                ),
            ])
            .status();
    }
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // SIGTERM first, so a profiler wrapping the process (SLUICE_BENCH_WRAP) writes its data.
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn noida(root: &Path) -> (Proc, String) {
    let out = Command::new("python3")
        .args([
            "-c",
            "import noida_db,os;print(os.path.dirname(noida_db.__file__))",
        ])
        .output()
        .expect("python3");
    let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("noida-db");
    let port = free_port();
    let child = Command::new(bin)
        .args(["start", "--data-dir"])
        .arg(root.join("kafka"))
        .args([
            "--host",
            "127.0.0.1",
            "--only",
            "kafka",
            "--kafka-port",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("noida-db (pip install noida-db==0.2.3)");
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    (Proc(child), format!("127.0.0.1:{port}"))
}

/// The sluice binary measured: this tree's release build, or SLUICE_BENCH_BIN (another
/// build, for a before/after comparison in the same hour).
fn sluice_bin() -> PathBuf {
    match std::env::var_os("SLUICE_BENCH_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/sluice"),
    }
}

struct Sluice {
    proc: Proc,
    http: u16,
    peak_kb: u64,
    /// CPU time sluice used so far (user + system), in clock ticks of 10 ms.
    cpu_ticks: u64,
    /// Where `perf record` writes the run's samples (SLUICE_BENCH_PROFILE=1).
    profile: Option<PathBuf>,
    /// The test Schema Registry with `SLUICE_BENCH_AVRO=1`.
    _registry: Option<Proc>,
    /// Its log file, when it writes one.
    log: Option<PathBuf>,
}

/// The measured sluice process; SLUICE_BENCH_WRAP="perf record -g -o /tmp/perf.data" (or
/// "heaptrack -o /tmp/sink") runs it under a profiler, and SLUICE_BENCH_PROFILE=1 under
/// `perf record` writing `profile` (see [`stage_row`]).
fn sluice_command_profiled(profile: Option<&Path>) -> Command {
    if let Some(out) = profile {
        let mut c = Command::new("perf");
        c.args([
            "record",
            "-q",
            "--call-graph",
            "dwarf,16384",
            "-F",
            "499",
            "-o",
        ])
        .arg(out)
        .arg("--")
        .arg(sluice_bin());
        return c;
    }
    sluice_command()
}

fn sluice_command() -> Command {
    match std::env::var("SLUICE_BENCH_WRAP") {
        Ok(w) if !w.trim().is_empty() => {
            let mut parts = w.split_whitespace();
            let mut c = Command::new(parts.next().unwrap_or("env"));
            c.args(parts).arg(sluice_bin());
            c
        }
        _ => Command::new(sluice_bin()),
    }
}

/// `SLUICE_BENCH_AVRO=1`: Avro keys and values through the in-repo test registry
/// (`tests/services/registry/registry.py`); returns it and the sink's YAML lines.
fn avro_registry() -> (Option<Proc>, String) {
    if !std::env::var("SLUICE_BENCH_AVRO").is_ok_and(|v| v == "1") {
        return (None, String::new());
    }
    let port = free_port();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/services/registry/registry.py");
    let child = Command::new("python3")
        .arg(script)
        .args(["--port", &port.to_string(), "--compatibility", "NONE"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 for the test registry");
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    (
        Some(Proc(child)),
        format!("      key_format: avro\n      value_format: avro\n      schema_registry:\n        url: \"http://127.0.0.1:{port}\"\n"),
    )
}

impl Sluice {
    /// A PostgreSQL connector capturing `public.{table}`.
    fn postgres(root: &Path, pg_port: u16, bootstrap: &str, mode: &str, table: &str) -> Sluice {
        let source = format!(
            "      type: postgres\n      host: 127.0.0.1\n      port: {pg_port}\n      user: postgres\n      database: bench\n      tables: [public.{table}]\n      snapshot_mode: {mode}\n      slot_name: sluice_{table}\n      publication_name: pub_{table}\n"
        );
        Sluice::start(root, &source, bootstrap, table)
    }

    /// A MySQL connector capturing `bench.{table}` on the MariaDB server.
    fn mariadb(root: &Path, maria: &Maria, bootstrap: &str, mode: &str, table: &str) -> Sluice {
        let source = format!(
            "      type: mysql\n      host: 127.0.0.1\n      port: {}\n      user: {}\n      password: {}\n      tables: [bench.{table}]\n      snapshot_mode: {mode}\n",
            maria.port,
            mariadb::USER,
            mariadb::PASSWORD
        );
        Sluice::start(root, &source, bootstrap, table)
    }

    fn start(root: &Path, source: &str, bootstrap: &str, table: &str) -> Sluice {
        let http = free_port();
        let (registry, avro) = avro_registry();
        let cfg = root.join(format!("sluice-{table}.yaml"));
        std::fs::write(
            &cfg,
            format!(
                "service:\n  http_listen_addr: 127.0.0.1:{http}\n  offsets_dir: {off}\nconnectors:\n  bench:\n    source:\n{source}    sink:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n      topic_partitions: 4\n{txn}{avro}{props}{schemas}",
                // SLUICE_BENCH_TRANSACTIONS=1: the sink writes each batch as a transaction.
                txn = if std::env::var("SLUICE_BENCH_TRANSACTIONS").is_ok_and(|v| v == "1") {
                    "      transactions: true\n"
                } else {
                    ""
                },
                props = std::env::var("SLUICE_BENCH_PRODUCER_PROPS")
                    .map(|p| format!("      properties: {{{p}}}\n"))
                    .unwrap_or_default(),
                // SLUICE_BENCH_SCHEMAS=0: JSON without the inline Connect schemas.
                schemas = if std::env::var("SLUICE_BENCH_SCHEMAS").is_ok_and(|v| v == "0") {
                    "      schemas_enable: false\n"
                } else {
                    ""
                },
                off = root.join("offsets").display()
            ),
        )
        .expect("config");
        let log_path = root.join(format!("sluice-{table}.log"));
        let log = std::fs::File::create(&log_path).expect("log");
        let profile = std::env::var("SLUICE_BENCH_PROFILE")
            .is_ok_and(|v| v == "1")
            .then(|| {
                static RUN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                root.join(format!("perf-{table}-{n}.data"))
            });
        let child = sluice_command_profiled(profile.as_deref())
            .args(["run", "--config"])
            .arg(&cfg)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sluice binary (cargo build --release)");
        Sluice {
            proc: Proc(child),
            http,
            peak_kb: 0,
            cpu_ticks: 0,
            profile,
            _registry: registry,
            log: Some(log_path),
        }
    }

    fn sample_rss(&mut self) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.proc.0.id()))
            .unwrap_or_default();
        if let Some(kb) = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
        {
            self.peak_kb = self.peak_kb.max(kb);
        }
        // utime and stime: fields 14 and 15 of /proc/<pid>/stat (after the `(comm)` field).
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.proc.0.id())).unwrap_or_default();
        let ticks: u64 = stat
            .rsplit_once(')')
            .map(|(_, rest)| {
                rest.split_whitespace()
                    .skip(11)
                    .take(2)
                    .filter_map(|v| v.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0);
        self.cpu_ticks = self.cpu_ticks.max(ticks);
    }

    /// CPU time per item so far, in microseconds (`/proc` clock ticks are 10 ms).
    fn cpu_us_per(&self, items: u64) -> f64 {
        self.cpu_ticks as f64 * 10_000.0 / items.max(1) as f64
    }

    /// Wait for the process to exit on its own (`initial_only`), sampling its RSS.
    /// Wait until sluice exits (a snapshot-only run), sampling its RSS; a failed exit
    /// stops the bench, so a run that never started is not reported as an absurd rate.
    async fn wait_exit(&mut self) {
        loop {
            self.sample_rss();
            match self.proc.0.try_wait() {
                Ok(Some(status)) => {
                    let tail = self
                        .log
                        .as_ref()
                        .and_then(|l| std::fs::read_to_string(l).ok())
                        .map(|t| {
                            let lines: Vec<&str> = t.lines().collect();
                            lines[lines.len().saturating_sub(20)..].join("\n")
                        })
                        .unwrap_or_default();
                    assert!(status.success(), "sluice exited with {status}:\n{tail}");
                    return;
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => panic!("waiting for sluice: {e}"),
            }
        }
    }

    /// Wait until sluice acknowledged `target` (`sluice_acknowledged_position`), sampling its
    /// RSS.
    async fn wait_acknowledged(&mut self, target: f64) {
        loop {
            self.sample_rss();
            if self
                .metric("sluice_acknowledged_position")
                .await
                .unwrap_or(0.0)
                >= target
            {
                return;
            }
            assert!(!self.exited(), "sluice exited during the drain");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn exited(&mut self) -> bool {
        matches!(self.proc.0.try_wait(), Ok(Some(_)))
    }

    async fn metrics(&self) -> Option<String> {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.http))
            .await
            .ok()?;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
            .await
            .ok()?;
        let mut body = String::new();
        s.read_to_string(&mut body).await.ok()?;
        Some(body)
    }

    async fn histogram(&self, name: &str) -> Option<(f64, f64)> {
        histogram_quantiles(&self.metrics().await?, name)
    }

    async fn metric(&self, name: &str) -> Option<f64> {
        self.metrics()
            .await?
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.proc.0.id().to_string()])
            .status();
        let _ = self.proc.0.wait();
    }
}

fn lsn_num(s: &str) -> u64 {
    let (a, b) = s.split_once('/').unwrap_or(("0", "0"));
    (u64::from_str_radix(a, 16).unwrap_or(0) << 32) | u64::from_str_radix(b, 16).unwrap_or(0)
}

async fn current_lsn(c: &Client) -> String {
    c.query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .expect("lsn")
        .get(0)
}

const SHAPE: &str =
    "(id bigint PRIMARY KEY, a int, b text, c timestamptz, d numeric(12,2), e jsonb)";
const ROW: &str = "g, (g % 1000)::int, md5(g::text) || md5((g + 1)::text) || 'xxxxxxxxxxxxxxxxx', now(), (g % 100000) / 100.0, jsonb_build_object('k', g, 'tag', md5(g::text), 'list', jsonb_build_array(1, 2, 3), 'flag', true)";

type Row = (String, String);

/// The two snapshot rows: the raw read (`limit`, called `short` in the ratio) and sluice.
fn snapshot_rows(
    scenario: &str,
    (limit, short): (&str, &str),
    rows: u64,
    bytes: u64,
    raw_s: f64,
    sluice_s: f64,
    s: &Sluice,
) -> Vec<Row> {
    let mb = bytes as f64 / 1e6;
    vec![
        (
            format!("{scenario}: {limit} (limit)"),
            format!("{:.0} rows/s, {:.1} MB/s", rows as f64 / raw_s, mb / raw_s),
        ),
        (
            format!("{scenario}: sluice → broker"),
            format!(
                "{:.0} rows/s, {:.1} MB/s ({:.0}% of {short}), peak RSS {} MB, CPU {:.1} µs/row",
                rows as f64 / sluice_s,
                mb / sluice_s,
                100.0 * raw_s / sluice_s,
                s.peak_kb / 1024,
                s.cpu_us_per(rows)
            ),
        ),
    ]
    .into_iter()
    .chain(stage_row(scenario, s))
    .collect()
}

/// The two streaming-drain rows: the raw reader (`limit`, called `short` in the ratio) and
/// sluice.
fn drain_rows(
    scenario: &str,
    (limit, short): (&str, &str),
    events: u64,
    raw_s: f64,
    sluice_s: f64,
    s: &Sluice,
) -> Vec<Row> {
    vec![
        (
            format!("{scenario}: {limit} (limit)"),
            format!("{:.0} events/s", events as f64 / raw_s),
        ),
        (
            format!("{scenario}: sluice → broker"),
            format!(
                "{:.0} events/s ({:.0}% of {short}), peak RSS {} MB, CPU {:.1} µs/event",
                events as f64 / sluice_s,
                100.0 * raw_s / sluice_s,
                s.peak_kb / 1024,
                s.cpu_us_per(events)
            ),
        ),
    ]
    .into_iter()
    .chain(stage_row(scenario, s))
    .collect()
}

/// The stages a sample's call chain is charged to: the first frame, from the leaf up, that
/// a rule names (so an allocation or a copy counts for the stage that asked for it).
const STAGES: &[(&str, &[&str])] = &[
    ("produce", &["rdkafka::", "rd_kafka", "LZ4"]),
    (
        "encode",
        &["sluice::envelope", "sluice::sink::kafka::formats"],
    ),
    (
        "convert",
        &[
            "sluice::source::mysql::types",
            "sluice::source::postgres::types",
            "sluice::event::",
        ],
    ),
    (
        "decode",
        &[
            "sluice::source::mysql::binlog",
            "mysql_common::binlog::value",
            "sluice::source::postgres::pgoutput",
            "sluice::source::postgres::snapshot",
            "sluice::source::mysql::snapshot",
        ],
    ),
    ("parse", &["mysql_common::binlog", "mysql_common::row"]),
    (
        "read",
        &[
            "mysql_async",
            "mysql_common",
            "tokio_postgres",
            "postgres_protocol",
            "tokio::net",
            "tokio::io",
        ],
    ),
    (
        "pipeline and runtime",
        &[
            "sluice::pipeline",
            "sluice::offsets",
            "sluice::source",
            "tokio::",
        ],
    ),
];

/// SLUICE_BENCH_PROFILE=1: the run's CPU by stage, from `perf script` over its samples (each
/// charged as [`STAGES`] says; librdkafka's own threads to produce), with the share of
/// samples in allocation and copies and in the kernel. `None` without a profile.
fn stage_row(scenario: &str, s: &Sluice) -> Option<Row> {
    let data = s.profile.as_ref()?;
    let out = Command::new("perf")
        .args(["script", "-F", "comm,tid,ip,sym,dso", "-i"])
        .arg(data)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut counts: std::collections::BTreeMap<&str, u64> = Default::default();
    let (mut total, mut alloc, mut kernel) = (0u64, 0u64, 0u64);
    for sample in text.split("\n\n") {
        let mut lines = sample.lines().filter(|l| !l.trim().is_empty());
        let Some(head) = lines.next() else { continue };
        let frames: Vec<&str> = lines
            .map(|l| l.trim().split_once(' ').map_or("", |(_, sym)| sym))
            .collect();
        let Some(leaf) = frames.first() else { continue };
        total += 1;
        if [
            "malloc",
            "free",
            "memcpy",
            "memmove",
            "realloc",
            "unlink_chunk",
            "consolidate",
        ]
        .iter()
        .any(|p| leaf.contains(p))
        {
            alloc += 1;
        }
        if leaf.ends_with("([kernel.kallsyms])") {
            kernel += 1;
        }
        let stage = if head.starts_with("rdk:") {
            "produce (librdkafka threads)"
        } else if head.starts_with("producer poll") {
            "produce (delivery reports)"
        } else {
            frames
                .iter()
                .find_map(|f| {
                    STAGES
                        .iter()
                        .find(|(_, pats)| pats.iter().any(|p| f.contains(p)))
                        .map(|(name, _)| *name)
                })
                .unwrap_or("other")
        };
        *counts.entry(stage).or_default() += 1;
    }
    if total == 0 {
        return None;
    }
    let pct = |n: u64| 100.0 * n as f64 / total as f64;
    const ORDER: &[&str] = &[
        "read",
        "parse",
        "decode",
        "convert",
        "encode",
        "produce",
        "produce (librdkafka threads)",
        "produce (delivery reports)",
        "pipeline and runtime",
        "other",
    ];
    assert!(
        STAGES.iter().all(|(name, _)| ORDER.contains(name)),
        "every stage has its place in the row"
    );
    let split = ORDER
        .iter()
        .filter_map(|name| counts.get(name).map(|n| format!("{name} {:.0}%", pct(*n))))
        .collect::<Vec<_>>()
        .join(", ");
    Some((
        format!(
            "{scenario}: CPU by stage (perf, {total} samples; the rate, CPU and RSS above are of the run under perf)"
        ),
        format!(
            "{split}; of all samples, allocation and copies {:.0}%, kernel {:.0}%",
            pct(alloc),
            pct(kernel)
        ),
    ))
}

/// Create and fill `public.snap` with `rows` rows, then time a raw COPY of it (the physical
/// limit): its bytes and seconds.
async fn load_snap(pg: &Pg, rows: u64) -> (u64, f64) {
    let c = pg.connect("bench").await;
    c.batch_execute(&format!("CREATE TABLE snap {SHAPE}"))
        .await
        .expect("create snapshot table");
    c.batch_execute(&format!(
        "INSERT INTO snap SELECT {ROW} FROM generate_series(1, {rows}) g"
    ))
    .await
    .expect("load snapshot table");
    c.batch_execute("VACUUM ANALYZE snap")
        .await
        .expect("vacuum");
    let t = Instant::now();
    let stream = c
        .copy_out("COPY (SELECT id, a, b, c, d, e FROM public.snap) TO STDOUT")
        .await
        .expect("copy");
    use futures_util::StreamExt;
    futures_util::pin_mut!(stream);
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        bytes += chunk.expect("chunk").len() as u64;
    }
    (bytes, t.elapsed().as_secs_f64())
}

async fn snapshot(root: &Path, pg: &Pg, bootstrap: &str, rows: u64) -> Vec<Row> {
    let (bytes, copy_s) = load_snap(pg, rows).await;
    let fair_s = copy_into_kcat(pg, bootstrap, rows);
    // SLUICE_BENCH_SNAPSHOT_THREADS=1,2,4: one run per `snapshot_max_threads` value.
    let threads: Vec<usize> = std::env::var("SLUICE_BENCH_SNAPSHOT_THREADS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![1]);
    let mb = bytes as f64 / 1e6;
    let mut out = vec![
        (
            "snapshot: raw COPY (limit)".to_string(),
            format!(
                "{:.0} rows/s, {:.1} MB/s",
                rows as f64 / copy_s,
                mb / copy_s
            ),
        ),
        (
            "snapshot: COPY | kcat -P into the same broker (fair limit)".to_string(),
            format!(
                "{:.0} rows/s, {:.1} MB/s",
                rows as f64 / fair_s,
                mb / fair_s
            ),
        ),
    ];
    for n in threads {
        let dir = root.join(format!("threads{n}"));
        std::fs::create_dir_all(&dir).expect("dir");
        let source = format!(
            "      type: postgres\n      host: 127.0.0.1\n      port: {}\n      user: postgres\n      database: bench\n      tables: [public.snap]\n      snapshot_mode: initial_only\n      snapshot_max_threads: {n}\n      slot_name: sluice_snap\n      publication_name: pub_snap\n",
            pg.port
        );
        let t = Instant::now();
        let mut s = Sluice::start(&dir, &source, bootstrap, "snap");
        s.wait_exit().await;
        let sluice_s = t.elapsed().as_secs_f64();
        out.push((
            format!("snapshot: sluice → broker, {n} reader(s)"),
            format!(
                "{:.0} rows/s, {:.1} MB/s ({:.0}% of COPY, {:.0}% of COPY | kcat), peak RSS {} MB, CPU {:.1} µs/row",
                rows as f64 / sluice_s,
                mb / sluice_s,
                100.0 * copy_s / sluice_s,
                100.0 * fair_s / sluice_s,
                s.peak_kb / 1024,
                s.cpu_us_per(rows)
            ),
        ));
        out.extend(stage_row(&format!("snapshot, {n} reader(s)"), &s));
    }
    let (floor_s, floor_cpu) = records_into_kcat(root, bootstrap, "bench.public.snap", rows);
    out.push((
        "snapshot: sluice's records from a file | kcat -P, sluice's producer settings (the producer's floor)".to_string(),
        format!(
            "{:.0} rows/s, CPU {:.1} µs/row",
            rows as f64 / floor_s,
            1e6 * floor_cpu / rows as f64
        ),
    ));
    out
}

/// The producer's floor for sluice's own records: the first `n` records of `topic` (as sluice
/// wrote them: same keys, values and sizes) dumped to a file, then produced again by `kcat -P`
/// with sluice's producer settings into the same broker. What librdkafka alone spends on
/// these bytes: seconds and CPU seconds (kcat's user + system time). Tombstones stay
/// tombstones (`-Z`).
fn records_into_kcat(root: &Path, bootstrap: &str, topic: &str, n: u64) -> (f64, f64) {
    // In the bench's directory, so it goes with it whatever happens.
    let file = root.join("records-dump");
    let st = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "kcat -C -b {bootstrap} -t {topic} -o beginning -c {n} -e -q -f '%k\\t%s\\n' > {}",
            file.display()
        ))
        .status()
        .expect("kcat -C");
    assert!(st.success(), "dumping {topic} failed");
    let to = format!("{topic}.kcat");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "TIMEFORMAT='%R %U %S'; time kcat -P -Z -b {bootstrap} -t {to} -K '\\t' \\
             -X compression.codec=lz4 -X batch.size=1000000 -X linger.ms=0 \\
             -X enable.idempotence=true -X acks=all -X max.in.flight.requests.per.connection=5 \\
             -X queue.buffering.max.kbytes=32768 -X partitioner=murmur2_random < {}",
            file.display()
        ))
        .stderr(Stdio::piped())
        .output()
        .expect("kcat -P");
    let _ = std::fs::remove_file(&file);
    assert!(out.status.success(), "kcat -P of sluice's records failed");
    let times: Vec<f64> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    let [wall, user, sys] = times[..] else {
        panic!("no timing from kcat -P")
    };
    assert!(
        topic_records(bootstrap, &to) >= n,
        "kcat delivered fewer records"
    );
    (wall, user + sys)
}

/// The fair limit of a snapshot: PostgreSQL's text `COPY` piped by `kcat -P` into the same
/// broker (one message per row, lz4 as sluice's producer), in seconds for `rows` rows.
fn copy_into_kcat(pg: &Pg, bootstrap: &str, rows: u64) -> f64 {
    let topic = "bench.copy-kcat";
    let t = Instant::now();
    let st = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; {PGBIN}/psql -X -q -h 127.0.0.1 -p {} -U postgres -d bench -c 'COPY (SELECT id, a, b, c, d, e FROM public.snap) TO STDOUT' | kcat -P -b {bootstrap} -t {topic} -X compression.codec=lz4 -X batch.size=1000000 -X linger.ms=5",
            pg.port
        ))
        .status()
        .expect("psql | kcat");
    assert!(st.success(), "COPY | kcat failed");
    let secs = t.elapsed().as_secs_f64();
    assert!(
        topic_records(bootstrap, topic) >= rows,
        "kcat delivered fewer rows"
    );
    secs
}

/// The initial snapshot with `snapshot_consistency: chunked` (issue 24): chunk sizes beside
/// raw COPY, and one run killed (SIGKILL) at half and restarted, its total time beside an
/// uninterrupted run.
async fn chunked_snapshot(root: &Path, pg: &Pg, bootstrap: &str, rows: u64) -> Vec<Row> {
    let (bytes, copy_s) = load_snap(pg, rows).await;
    let topic = "bench.public.snap";
    let source = |run: &str, chunk: u64| {
        format!(
            "      type: postgres\n      host: 127.0.0.1\n      port: {}\n      user: postgres\n      database: bench\n      tables: [public.snap]\n      snapshot_consistency: chunked\n      snapshot_chunk_size: {chunk}\n      slot_name: sluice_{run}\n      publication_name: pub_{run}\n",
            pg.port
        )
    };
    let mut out = Vec::new();
    let mut plain_s = 0.0;
    for chunk in [1024u64, 8192] {
        let run = format!("chunk{chunk}");
        let dir = root.join(&run);
        std::fs::create_dir_all(&dir).expect("dir");
        let base = topic_records(bootstrap, topic);
        let t = Instant::now();
        let mut s = Sluice::start(&dir, &source(&run, chunk), bootstrap, &run);
        while topic_records(bootstrap, topic) < base + rows {
            s.sample_rss();
            assert!(!s.exited(), "sluice exited during the snapshot");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let sluice_s = t.elapsed().as_secs_f64();
        plain_s = sluice_s;
        out.extend(snapshot_rows(
            &format!("chunked snapshot, {chunk}-row chunks"),
            ("raw COPY", "COPY"),
            rows,
            bytes,
            copy_s,
            sluice_s,
            &s,
        ));
    }
    // Interrupted at half (8192-row chunks), restarted from the same offsets.
    let run = "killed";
    let dir = root.join(run);
    std::fs::create_dir_all(&dir).expect("dir");
    let base = topic_records(bootstrap, topic);
    let t = Instant::now();
    let mut s = Sluice::start(&dir, &source(run, 8192), bootstrap, run);
    while topic_records(bootstrap, topic) < base + rows / 2 {
        assert!(!s.exited(), "sluice exited during the snapshot");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = s.proc.0.kill();
    let _ = s.proc.0.wait();
    let at_kill = topic_records(bootstrap, topic) - base;
    let mut s = Sluice::start(&dir, &source(run, 8192), bootstrap, run);
    // Done when the queue is empty again after the restart's first report.
    let mut seen_queue = false;
    loop {
        let remaining = s.metric("sluice_snapshot_tables_remaining").await;
        if remaining.is_some_and(|r| r >= 1.0) {
            seen_queue = true;
        }
        if seen_queue && remaining == Some(0.0) {
            break;
        }
        assert!(!s.exited(), "sluice exited during the resumed snapshot");
        assert!(t.elapsed() < Duration::from_secs(1800), "never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    while topic_records(bootstrap, topic) < base + rows {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total_s = t.elapsed().as_secs_f64();
    let delivered = topic_records(bootstrap, topic) - base;
    out.push((
        "chunked snapshot, SIGKILL at half and restart".to_string(),
        format!(
            "{total_s:.1} s in all ({:.2}× the uninterrupted 8192-row run), {at_kill} rows delivered at the kill, {} read twice",
            total_s / plain_s.max(1e-3),
            delivered.saturating_sub(rows)
        ),
    ));
    out
}

async fn streaming(root: &Path, pg: &Pg, bootstrap: &str, changes: u64) -> Vec<Row> {
    let c = pg.connect("bench").await;
    c.batch_execute(&format!("CREATE TABLE stream {SHAPE}; INSERT INTO stream SELECT {ROW} FROM generate_series(1, 100000) g;"))
        .await
        .expect("table");
    // Create sluice's slot and publication, then stop it.
    let mut s = Sluice::postgres(root, pg.port, bootstrap, "no_data", "stream");
    wait_slot_active(&c, "sluice_stream").await;
    s.stop();
    c.batch_execute("SELECT pg_create_logical_replication_slot('recv_stream', 'pgoutput')")
        .await
        .expect("recv slot");
    // Transactions of 100 changes (`drain_ids`).
    let txns = changes / 100;
    for t in 0..txns as i64 {
        let (base, upd, del) = drain_ids(t);
        c.batch_execute(&format!(
            "BEGIN; INSERT INTO stream SELECT {ROW} FROM generate_series({base}, {}) g; \
             UPDATE stream SET a = a + 1 WHERE id BETWEEN {upd} AND {}; \
             DELETE FROM stream WHERE id BETWEEN {del} AND {}; COMMIT;",
            base + 59,
            upd + 29,
            del + 9
        ))
        .await
        .expect("load");
    }
    let end = current_lsn(&c).await;
    let total_events = txns * 100;
    let t = Instant::now();
    let st = Command::new(format!("{PGBIN}/pg_recvlogical"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &pg.port.to_string(),
            "-U",
            "postgres",
            "-d",
            "bench",
            "--slot",
            "recv_stream",
            "--start",
            "--endpos",
            &end,
            "-o",
            "proto_version=1",
            "-o",
            "publication_names=pub_stream",
            "-f",
            "/dev/null",
        ])
        .status()
        .expect("pg_recvlogical");
    assert!(st.success(), "pg_recvlogical failed");
    let recv_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut s = Sluice::postgres(root, pg.port, bootstrap, "no_data", "stream");
    s.wait_acknowledged(lsn_num(&end) as f64).await;
    let sluice_s = t.elapsed().as_secs_f64();
    let batches = s.metric("sluice_sink_write_seconds_count").await;
    s.stop();
    let mut out = drain_rows(
        "streaming drain",
        ("pg_recvlogical", "pg_recvlogical"),
        total_events,
        recv_s,
        sluice_s,
        &s,
    );
    if let Some(b) = batches.filter(|b| *b > 0.0) {
        out.push((
            "streaming drain: batches written".into(),
            format!("{b:.0} ({:.0} events per batch)", total_events as f64 / b),
        ));
    }
    out
}

/// One transaction of `rows` rows, with protocol 2 streaming (`streaming`) or protocol 1,
/// while small one-row transactions commit every 50 ms from another session: the server's
/// spill and stream bytes for the slot, sluice's peak RSS, the time from the big commit until
/// sluice acknowledged it, and how long the small transactions waited for their
/// acknowledgement (those committed while the big one ran, and the first after its commit).
async fn big_transaction(
    root: &Path,
    pg: &Pg,
    bootstrap: &str,
    rows: u64,
    streaming: bool,
) -> Vec<Row> {
    let table = if streaming { "bigv2" } else { "bigv1" };
    let c = pg.connect("bench").await;
    c.batch_execute(&format!("CREATE TABLE {table} {SHAPE}"))
        .await
        .expect("table");
    let source = format!(
        "      type: postgres\n      host: 127.0.0.1\n      port: {}\n      user: postgres\n      database: bench\n      tables: [public.{table}]\n      snapshot_mode: no_data\n      slot_name: sluice_{table}\n      publication_name: pub_{table}\n      stream_in_progress: {streaming}\n{mem}",
        pg.port,
        mem = std::env::var("SLUICE_BENCH_DECODING_MEM_KB")
            .map(|kb| format!("      logical_decoding_work_mem_kb: {kb}\n"))
            .unwrap_or_default()
    );
    let mut s = Sluice::start(root, &source, bootstrap, table);
    wait_slot_active(&c, &format!("sluice_{table}")).await;
    // The acknowledged position over time, sampled every 10 ms.
    let acks: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (acks, stop, http) = (acks.clone(), stop.clone(), s.http);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let v = metric_at(http, "sluice_acknowledged_position")
                    .await
                    .unwrap_or(0.0);
                acks.lock().expect("acks").push((Instant::now(), v as u64));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    // Small transactions: (committed at, end LSN, during the big one).
    let small = pg.connect("bench").await;
    let big_running = Arc::new(AtomicBool::new(true));
    let smalls = {
        let big_running = big_running.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut out = Vec::new();
            let mut id = 100_000_000i64;
            let mut after = 0;
            while !stop.load(Ordering::Relaxed) && after < 5 {
                let during = big_running.load(Ordering::Relaxed);
                id += 1;
                small
                    .batch_execute(&format!(
                        "INSERT INTO {table} SELECT {ROW} FROM generate_series({id}, {id}) g"
                    ))
                    .await
                    .expect("small");
                let lsn = lsn_num(&current_lsn(&small).await);
                out.push((Instant::now(), lsn, during));
                if !during {
                    after += 1;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            out
        })
    };
    c.batch_execute(&format!(
        "BEGIN; INSERT INTO {table} SELECT {ROW} FROM generate_series(1, {rows}) g; COMMIT;"
    ))
    .await
    .expect("big");
    big_running.store(false, Ordering::Relaxed);
    let committed = Instant::now();
    let end = lsn_num(&current_lsn(&c).await);
    s.wait_acknowledged(end as f64).await;
    let big_s = committed.elapsed().as_secs_f64();
    let smalls = smalls.await.expect("smalls");
    let last = smalls.last().map_or(0, |x| x.1);
    s.wait_acknowledged(last as f64).await;
    // Let the sampler see the last acknowledgement too.
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    sampler.await.expect("sampler");
    let acks = acks.lock().expect("acks").clone();
    let wait_ms = |at: Instant, lsn: u64| {
        acks.iter()
            .find(|(t, a)| *t >= at && *a >= lsn)
            .map_or(f64::NAN, |(t, _)| (*t - at).as_secs_f64() * 1000.0)
    };
    let mut during: Vec<f64> = smalls
        .iter()
        .filter(|x| x.2)
        .map(|x| wait_ms(x.0, x.1))
        .collect();
    during.sort_by(f64::total_cmp);
    let first_after = smalls
        .iter()
        .find(|x| !x.2)
        .map_or(f64::NAN, |x| wait_ms(x.0, x.1));
    let stats = c
        .query_one(
            "SELECT spill_bytes, stream_bytes FROM pg_stat_replication_slots WHERE slot_name = $1",
            &[&format!("sluice_{table}")],
        )
        .await
        .ok()
        .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)))
        .unwrap_or((-1, -1));
    s.sample_rss();
    s.stop();
    let q = |p: f64| {
        during
            .get(((during.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    vec![(
        format!(
            "{}k-row transaction, {}",
            rows / 1000,
            if streaming { "protocol 2 (streaming)" } else { "protocol 1" }
        ),
        format!(
            "server spill {:.0} MB, streamed {:.0} MB; big commit → acknowledged {:.1} s; small transactions while it ran: {} acknowledged in p50 {:.0} ms, max {:.0} ms; first after its commit {:.0} ms; peak RSS {} MB, CPU {:.1} µs/row",
            stats.0 as f64 / 1e6,
            stats.1 as f64 / 1e6,
            big_s,
            during.len(),
            q(0.5),
            q(1.0),
            first_after,
            s.peak_kb / 1024,
            s.cpu_us_per(rows)
        ),
    )]
}

/// Until the replication slot `slot` is in use (its sluice streams).
async fn wait_slot_active(c: &Client, slot: &str) {
    loop {
        let r = c
            .query(
                "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active",
                &[&slot],
            )
            .await
            .expect("slots");
        if !r.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A metric's value on the API at `port`.
async fn metric_at(port: u16, name: &str) -> Option<f64> {
    http_get(port, "/metrics")
        .await?
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// `GET path` on the API at `port`: the body, if the worker answered.
async fn http_get(port: u16, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).await.ok()?;
    text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// A cluster worker (`service.cluster`) running the one connector `fo`.
fn worker(root: &Path, pg_port: u16, bootstrap: &str, id: &str, http: u16) -> Proc {
    let cfg = root.join(format!("worker-{id}.yaml"));
    std::fs::write(
        &cfg,
        format!(
            "service:\n  http_listen_addr: 127.0.0.1:{http}\n  offsets: {{store: kafka, topic: fo-offsets}}\n  \
             cluster: {{group_id: bench-workers, bootstrap_servers: \"{bootstrap}\", worker_id: {id}}}\n\
             connectors:\n  fo:\n    source:\n      type: postgres\n      host: 127.0.0.1\n      port: {pg_port}\n      \
             user: postgres\n      database: bench\n      tables: [public.fo]\n      status_interval_ms: 200\n    \
             sink:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n"
        ),
    )
    .expect("config");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join("workers.log"))
        .expect("log");
    Proc(
        sluice_command()
            .args(["run", "--config"])
            .arg(&cfg)
            .env("RUST_LOG", "info,librdkafka=warn,rdkafka=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sluice binary (cargo build --release)"),
    )
}

/// The worker that runs `fo`, as the group says (asked on `port`).
async fn owner_of_fo(port: u16) -> Option<String> {
    let body: serde_json::Value = serde_json::from_str(&http_get(port, "/cluster").await?).ok()?;
    body["workers"].as_array()?.iter().find_map(|w| {
        w["connectors"]
            .as_array()?
            .iter()
            .any(|c| c == "fo")
            .then(|| w["worker_id"].as_str().map(str::to_string))?
    })
}

/// The failover scenarios' table `fo`: 100 rows.
async fn fo_table(pg: &Pg) {
    pg.connect("bench")
        .await
        .batch_execute(
            "CREATE TABLE fo (id int PRIMARY KEY, v bigint NOT NULL); \
             INSERT INTO fo SELECT g, 0 FROM generate_series(1, 100) g;",
        )
        .await
        .expect("table");
}

/// A writer updating `fo` about 200 times a second until the flag is set.
async fn fo_writer(
    pg: &Pg,
) -> (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    tokio::task::JoinHandle<()>,
) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let c = pg.connect("bench").await;
    let flag = stop.clone();
    let writer = tokio::spawn(async move {
        let mut n = 0i64;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            n += 1;
            let _ = c
                .execute(
                    "UPDATE fo SET v = $1 WHERE id = $2",
                    &[&n, &((n % 100 + 1) as i32)],
                )
                .await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    (stop, writer)
}

/// Wait (at most `within`) for the first record of a transaction committed after `killed_us`,
/// which only a connector's new owner can write.
async fn first_record_after(consumer: &StreamConsumer, killed_us: i64, within: Duration) {
    loop {
        let m = tokio::time::timeout(within, consumer.recv())
            .await
            .expect("a record from the new owner in time")
            .expect("record");
        if m.payload()
            .and_then(pg_commit_us)
            .is_some_and(|ts| ts > killed_us)
        {
            return;
        }
    }
}

/// Failover of a cluster worker (issue 25): two workers, one connector, a writer at ~200
/// transactions/s; SIGKILL the owner `kills` times and measure the time from the kill to the
/// first record of a transaction committed after it (which only the new owner can write).
async fn failover(root: &Path, pg: &Pg, bootstrap: &str, kills: u64) -> Vec<Row> {
    fo_table(pg).await;
    let ids = ["a", "b"];
    let ports: Vec<u16> = ids.iter().map(|_| free_port()).collect();
    let mut procs: Vec<Option<Proc>> = ids
        .iter()
        .zip(&ports)
        .map(|(id, http)| Some(worker(root, pg.port, bootstrap, id, *http)))
        .collect();
    let (stop, writer) = fo_writer(pg).await;
    let consumer = warm_consumer(bootstrap, "fo.public.fo").await;
    let mut times_ms = Vec::new();
    for _ in 0..kills {
        // Both workers in the group, one running the connector.
        let owner = loop {
            let mut found = None;
            for p in &ports {
                if let Some(o) = owner_of_fo(*p).await {
                    found = Some(o);
                }
            }
            let both = match http_get(ports[0], "/cluster").await {
                Some(b) => b.matches("\"worker_id\"").count() >= 3,
                None => false,
            };
            if let (Some(o), true) = (found, both) {
                break o;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        tokio::time::sleep(Duration::from_secs(2)).await;
        let i = ids.iter().position(|id| *id == owner).expect("owner id");
        let killed_us = now_us();
        let killed = Instant::now();
        if let Some(mut p) = procs[i].take() {
            let _ = p.0.kill();
            let _ = p.0.wait();
        }
        first_record_after(&consumer, killed_us, Duration::from_secs(120)).await;
        let ms = killed.elapsed().as_secs_f64() * 1000.0;
        println!("failover {}: {ms:.0} ms", times_ms.len() + 1);
        times_ms.push(ms);
        procs[i] = Some(worker(root, pg.port, bootstrap, ids[i], ports[i]));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = writer.await;
    times_ms.sort_by(f64::total_cmp);
    let median = times_ms[times_ms.len() / 2];
    let max = times_ms.last().copied().unwrap_or_default();
    vec![(
        format!("failover: SIGKILL of the owning worker → first record from the new owner ({kills} kills)"),
        format!(
            "median {median:.0} ms, max {max:.0} ms, min {:.0} ms (session timeout 6 s)",
            times_ms.first().copied().unwrap_or_default()
        ),
    )]
}

/// One Kafka Connect worker in distributed mode (group `dbz-cluster`), REST on `port`;
/// `delay_ms` sets `scheduled.rebalance.max.delay.ms` (Connect's default, five minutes, when
/// `None`).
fn connect_worker(
    root: &Path,
    bootstrap: &str,
    id: &str,
    port: u16,
    delay_ms: Option<u64>,
) -> Proc {
    let mut worker = format!(
        "bootstrap.servers={bootstrap}\ngroup.id=dbz-cluster\n\
         key.converter=org.apache.kafka.connect.json.JsonConverter\nvalue.converter=org.apache.kafka.connect.json.JsonConverter\n\
         key.converter.schemas.enable=false\nvalue.converter.schemas.enable=false\n\
         config.storage.topic=dbz-configs\noffset.storage.topic=dbz-offsets\nstatus.storage.topic=dbz-status\n\
         config.storage.replication.factor=1\noffset.storage.replication.factor=1\nstatus.storage.replication.factor=1\n\
         offset.flush.interval.ms=1000\nplugin.path=\nlisteners=http://127.0.0.1:{port}\nrest.advertised.host.name=127.0.0.1\n\
         rest.advertised.port={port}\n"
    );
    if let Some(d) = delay_ms {
        worker.push_str(&format!("scheduled.rebalance.max.delay.ms={d}\n"));
    }
    for (k, v) in VS_PRODUCER {
        worker.push_str(&format!("producer.{k}={v}\n"));
    }
    let props = root.join(format!("connect-{id}.properties"));
    std::fs::write(&props, worker).expect("worker");
    write_connect_log4j(root);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join(format!("connect-{id}.log")))
        .expect("log");
    let child = Command::new("java")
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            root.join("log4j2.properties").display()
        ))
        .args(["-Xms256m", "-Xmx1g", "-cp"])
        .arg(connect_classpath())
        .arg("org.apache.kafka.connect.cli.ConnectDistributed")
        .arg(&props)
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("java (Kafka Connect distributed)");
    Proc(child)
}

/// The Connect worker (`host:port`) whose task 0 of `dbz` is running, asked on `port`.
async fn connect_task_owner(port: u16) -> Option<String> {
    let body: serde_json::Value =
        serde_json::from_str(&http_get(port, "/connectors/dbz/status").await?).ok()?;
    let task = body["tasks"].as_array()?.first()?;
    (task["state"] == "RUNNING").then(|| task["worker_id"].as_str().map(str::to_string))?
}

/// The same failover as [`failover`], for Debezium's PostgreSQL connector in Kafka Connect's
/// distributed mode (two workers, one task): SIGKILL the worker running the task and measure
/// the time to the first record of a transaction committed after the kill.
async fn failover_connect(
    root: &Path,
    pg: &Pg,
    bootstrap: &str,
    kills: u64,
    delay_ms: Option<u64>,
) -> Vec<Row> {
    fo_table(pg).await;
    let ids = ["a", "b"];
    let ports: Vec<u16> = ids.iter().map(|_| free_port()).collect();
    let mut procs: Vec<Option<Proc>> = ids
        .iter()
        .zip(&ports)
        .map(|(id, port)| Some(connect_worker(root, bootstrap, id, *port, delay_ms)))
        .collect();
    let connector = serde_json::json!({
        "name": "dbz",
        "config": {
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "tasks.max": "1",
            "plugin.name": "pgoutput",
            "database.hostname": "127.0.0.1",
            "database.port": pg.port.to_string(),
            "database.user": "postgres",
            "database.password": "x",
            "database.dbname": "bench",
            "topic.prefix": "dbz",
            "table.include.list": "public.fo",
            "slot.name": "dbz_fo",
            "publication.name": "dbz_fo",
            "publication.autocreate.mode": "filtered",
            "snapshot.mode": "initial",
            "topic.creation.default.partitions": "4",
            "topic.creation.default.replication.factor": "1",
        }
    });
    let http = reqwest::Client::new();
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let r = http
            .post(format!("http://127.0.0.1:{}/connectors", ports[0]))
            .header("content-type", "application/json")
            .body(connector.to_string())
            .send()
            .await;
        if r.as_ref().is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(
            Instant::now() < until,
            "Connect accepted the connector within 2 minutes: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (stop, writer) = fo_writer(pg).await;
    let consumer = warm_consumer(bootstrap, "dbz.public.fo").await;
    let mut times_ms = Vec::new();
    for _ in 0..kills {
        // The task running, and a record received since (the worker is past its start).
        let owner = loop {
            let mut found = None;
            for (i, p) in ports.iter().enumerate() {
                if procs[i].is_some() {
                    if let Some(o) = connect_task_owner(*p).await {
                        found = Some(o);
                    }
                }
            }
            if let Some(o) = found {
                break o;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        // Both workers up and in the group: each answers on its REST port.
        for p in &ports {
            while http_get(*p, "/connectors").await.is_none() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
        let i = ports
            .iter()
            .position(|p| owner.ends_with(&format!(":{p}")))
            .expect("owner is one of the workers");
        let leader = connect_is_leader(root, ids[i], ports[i]);
        let killed_us = now_us();
        let killed = Instant::now();
        if let Some(mut p) = procs[i].take() {
            let _ = p.0.kill();
            let _ = p.0.wait();
        }
        first_record_after(&consumer, killed_us, Duration::from_secs(900)).await;
        let ms = killed.elapsed().as_secs_f64() * 1000.0;
        let role = if leader { "leader" } else { "follower" };
        println!(
            "Connect failover {}: {ms:.0} ms (the killed worker was the group's {role})",
            times_ms.len() + 1
        );
        times_ms.push((ms, role));
        procs[i] = Some(connect_worker(root, bootstrap, ids[i], ports[i], delay_ms));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = writer.await;
    let delay = delay_ms.map_or_else(|| "default 300000".to_string(), |d| d.to_string());
    // Connect's leader remembers the assignment it made: a follower's lost task waits for
    // the delay, a lost leader's is reassigned by the new leader at once. Apart, then.
    ["leader", "follower"]
        .into_iter()
        .filter_map(|role| {
            let mut t: Vec<f64> = times_ms
                .iter()
                .filter(|(_, r)| *r == role)
                .map(|(ms, _)| *ms)
                .collect();
            t.sort_by(f64::total_cmp);
            let median = *t.get(t.len() / 2)?;
            Some((
                format!("failover-connect: Debezium 3.6.1 in Connect distributed (2 workers, scheduled.rebalance.max.delay.ms {delay}), SIGKILL of the task's worker, the group's {role} → first record from the new one ({} of {kills} kills)", t.len()),
                format!(
                    "median {median:.0} ms, max {:.0} ms, min {:.0} ms (session.timeout.ms 10 s, Connect's default)",
                    t.last().copied().unwrap_or_default(),
                    t.first().copied().unwrap_or_default()
                ),
            ))
        })
        .collect()
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// A consumer subscribed to `topic` that has received its first record (the warm-up row the
/// caller wrote), so topic creation and the group join are not counted as latency.
async fn warm_consumer(bootstrap: &str, topic: &str) -> StreamConsumer {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("bench-{topic}"))
        .set("auto.offset.reset", "earliest")
        .set(
            "fetch.wait.max.ms",
            std::env::var("SLUICE_BENCH_FETCH_WAIT_MS").unwrap_or_else(|_| "5".into()),
        )
        .set("fetch.min.bytes", "1")
        .set("topic.metadata.refresh.interval.ms", "200")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let warm_deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await {
            return consumer;
        }
        assert!(
            Instant::now() < warm_deadline,
            "the consumer never saw the warm-up row"
        );
    }
}

/// The fields the latency scenarios read, deserialized without building a whole JSON tree
/// (the measuring consumer shares the 2 cores with everything else).
#[derive(serde::Deserialize)]
struct PgRecord {
    source: PgSource,
}

#[derive(serde::Deserialize)]
struct PgSource {
    ts_us: i64,
}

fn pg_commit_us(payload: &[u8]) -> Option<i64> {
    serde_json::from_slice::<PgRecord>(payload)
        .ok()
        .map(|r| r.source.ts_us)
}

#[derive(serde::Deserialize)]
struct MariaRecord<'a> {
    #[serde(borrow)]
    after: MariaAfter<'a>,
}

#[derive(serde::Deserialize)]
struct MariaAfter<'a> {
    c: &'a str,
}

fn maria_commit_us(payload: &[u8]) -> Option<i64> {
    iso_utc_us(
        serde_json::from_slice::<MariaRecord<'_>>(payload)
            .ok()?
            .after
            .c,
    )
}

/// Receive `total` records (or give up `seconds + 60` s from now); each record's latency is
/// its receipt time minus `commit_us(record)`, in µs. `sample` runs before each receive (the
/// callers sample peak memory there).
async fn collect_latencies(
    consumer: &StreamConsumer,
    total: u64,
    seconds: u64,
    commit_us: fn(&[u8]) -> Option<i64>,
    mut sample: impl FnMut(),
) -> Vec<Latency> {
    let mut lat: Vec<Latency> = Vec::with_capacity(total as usize);
    let deadline = Instant::now() + Duration::from_secs(seconds + 60);
    while (lat.len() as u64) < total && Instant::now() < deadline {
        sample();
        let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await
        else {
            continue;
        };
        let now = now_us();
        let Some(payload) = m.payload() else {
            continue;
        };
        if let Some(ts) = commit_us(payload) {
            let encoded = serde_json::from_slice::<Encoded>(payload)
                .ok()
                .map(|e| e.ts_us);
            lat.push(Latency {
                total: now - ts,
                to_encode: encoded.map(|e| e - ts),
            });
        }
    }
    lat
}

/// One record's latency: commit → received by the bench's consumer, and commit → the
/// envelope's `ts_us` (the time sluice encoded the record), both in µs.
#[derive(Clone, Copy)]
struct Latency {
    total: i64,
    to_encode: Option<i64>,
}

/// A change record's envelope time (`ts_us` beside `source`: when it was encoded).
#[derive(serde::Deserialize)]
struct Encoded {
    ts_us: i64,
}

/// Upper bounds of the p50 and p99 of a Prometheus histogram, from its cumulative buckets.
fn histogram_quantiles(metrics: &str, name: &str) -> Option<(f64, f64)> {
    let prefix = format!("{name}_bucket{{");
    let buckets: Vec<(f64, f64)> = metrics
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, l.rsplit(' ').next()?.parse().ok()?))
        })
        .collect();
    let count = buckets.iter().map(|b| b.1).fold(0.0, f64::max);
    if count == 0.0 {
        return None;
    }
    let q = |p: f64| {
        buckets
            .iter()
            .find(|(_, c)| *c >= p * count)
            .map(|(le, _)| *le)
            .unwrap_or(f64::INFINITY)
    };
    Some((q(0.5), q(0.99)))
}

/// The `p` quantile (index `len × p`, the last at most) of sorted µs values, in ms; 0 if none.
fn percentile_ms(sorted: &[i64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0) as f64
        / 1000.0
}

fn latency_row(label: String, all: Vec<Latency>, s: &Sluice, ack: &[(&str, f64, f64)]) -> Row {
    // p50/p99 in ms of µs values.
    let p50_p99 = |mut v: Vec<i64>| {
        v.sort_unstable();
        (percentile_ms(&v, 0.5), percentile_ms(&v, 0.99))
    };
    // Where the time goes: commit → encoded (the server sending, sluice reading, decoding and
    // batching), encoded → received (producer, broker, the consumer's fetch).
    let split = if all.iter().all(|l| l.to_encode.is_some()) && !all.is_empty() {
        let (e50, e99) = p50_p99(all.iter().filter_map(|l| l.to_encode).collect());
        let (r50, r99) = p50_p99(
            all.iter()
                .filter_map(|l| Some(l.total - l.to_encode?))
                .collect(),
        );
        format!(
            "; commit→encoded p50 {e50:.1} ms, p99 {e99:.1} ms; encoded→consumer p50 {r50:.1} ms, p99 {r99:.1} ms"
        )
    } else {
        String::new()
    };
    let mut lat: Vec<i64> = all.iter().map(|l| l.total).collect();
    lat.sort_unstable();
    let pct = |p: f64| percentile_ms(&lat, p);
    let ack: String = ack
        .iter()
        .map(|(what, p50, p99)| {
            format!(
                "; sluice commit→{what} p50 ≤ {:.1} ms, p99 ≤ {:.1} ms",
                p50 * 1e3,
                p99 * 1e3
            )
        })
        .collect();
    (
        label,
        format!(
            "{} events, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms, peak RSS {} MB{ack}{split}",
            lat.len(),
            pct(0.50),
            pct(0.95),
            pct(0.99),
            lat.last().copied().unwrap_or(0) as f64 / 1000.0,
            s.peak_kb / 1024
        ),
    )
}

async fn latency(root: &Path, pg: &Pg, bootstrap: &str, rate: u64, seconds: u64) -> Vec<Row> {
    latency_beside(root, pg, bootstrap, rate, seconds, 0).await
}

/// Streaming latency at `rate` changes/s; with `snapshot_rows` > 0, while an incremental
/// snapshot (asked for through the API when the load starts) reads a table of that many
/// rows on the same connector.
async fn latency_beside(
    root: &Path,
    pg: &Pg,
    bootstrap: &str,
    rate: u64,
    seconds: u64,
    snapshot_rows: u64,
) -> Vec<Row> {
    let table = format!("lat{rate}");
    let c = pg.connect("bench").await;
    c.batch_execute(&format!("CREATE TABLE {table} {SHAPE}"))
        .await
        .expect("table");
    let mut s = if snapshot_rows > 0 {
        c.batch_execute(&format!(
            "CREATE TABLE snapbig {SHAPE}; INSERT INTO snapbig SELECT {ROW} FROM generate_series(1, {snapshot_rows}) g"
        ))
        .await
        .expect("snapshot table");
        c.batch_execute("VACUUM ANALYZE snapbig")
            .await
            .expect("vacuum");
        let source = format!(
            "      type: postgres\n      host: 127.0.0.1\n      port: {}\n      user: postgres\n      database: bench\n      tables: [public.{table}, public.snapbig]\n      snapshot_mode: no_data\n      slot_name: sluice_{table}\n      publication_name: pub_{table}\n",
            pg.port
        );
        Sluice::start(root, &source, bootstrap, &table)
    } else {
        Sluice::postgres(root, pg.port, bootstrap, "no_data", &table)
    };
    loop {
        let r = c.query(&format!("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'sluice_{table}' AND active"), &[]).await.expect("slots");
        if !r.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.batch_execute(&format!(
        "INSERT INTO {table} SELECT {ROW} FROM generate_series(0, 0) g"
    ))
    .await
    .expect("warm-up row");
    // SLUICE_BENCH_ACK_ONLY=1: no measuring consumer (its fetches load the broker too);
    // only sluice's own commit→ack histogram is reported.
    let ack_only = std::env::var("SLUICE_BENCH_ACK_ONLY").is_ok_and(|v| v == "1");
    let consumer = if ack_only {
        while s
            .metric("sluice_commit_to_ack_seconds_count")
            .await
            .unwrap_or(0.0)
            < 1.0
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    } else {
        Some(warm_consumer(bootstrap, &format!("bench.public.{table}")).await)
    };
    let per_tick = (rate / 100).max(1) as i64; // a transaction every 10 ms
    let ticks = seconds * 100;
    let total = per_tick as u64 * ticks;
    let snapshot_started = Instant::now();
    if snapshot_rows > 0 {
        let resp = reqwest::Client::new()
            .post(format!(
                "http://127.0.0.1:{}/connectors/bench/snapshot",
                s.http
            ))
            .body(r#"{"tables": ["public.snapbig"]}"#)
            .send()
            .await
            .expect("snapshot request");
        assert_eq!(resp.status(), 202, "snapshot request refused");
    }
    let load = tokio::spawn(async move {
        let mut iv = tokio::time::interval(Duration::from_millis(10));
        for t in 0..ticks as i64 {
            iv.tick().await;
            let first = t * per_tick + 1;
            c.batch_execute(&format!(
                "INSERT INTO {table} SELECT {ROW} FROM generate_series({first}, {}) g",
                first + per_tick - 1
            ))
            .await
            .expect("insert");
        }
    });
    let lat = match &consumer {
        Some(consumer) => {
            collect_latencies(consumer, total, seconds, pg_commit_us, || s.sample_rss()).await
        }
        None => {
            while !load.is_finished() {
                s.sample_rss();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            Vec::new()
        }
    };
    let _ = load.await;
    let snapshot_note = if snapshot_rows > 0 {
        let read = s.metric("sluice_snapshot_rows_total").await.unwrap_or(0.0);
        let rows_s = read / snapshot_started.elapsed().as_secs_f64().max(1e-3);
        format!(
            ", while an incremental snapshot read {read:.0} of {snapshot_rows} rows ({rows_s:.0} rows/s)"
        )
    } else {
        String::new()
    };
    let mut ack = Vec::new();
    for (what, metric) in [
        ("sink", "sluice_commit_to_sink_seconds"),
        ("ack", "sluice_commit_to_ack_seconds"),
    ] {
        if let Some((p50, p99)) = s.histogram(metric).await {
            ack.push((what, p50, p99));
        }
    }
    s.stop();
    vec![latency_row(
        format!("latency at {rate}/s for {seconds}s{snapshot_note}"),
        lat,
        &s,
        &ack,
    )]
}

/// The broker's own latency floor (issue 27): a producer in the harness with sluice's
/// producer settings writes `rate` records/s (a batch every 10 ms, each record carrying its
/// send time) to the same kind of broker, and the same consumer as the latency scenario
/// measures send → receipt. No database and no sluice: what Kafka alone costs on this box.
async fn latency_floor(bootstrap: &str, rate: u64, seconds: u64) -> Vec<Row> {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", "lz4")
        .set("batch.size", "1000000")
        .set("linger.ms", "0")
        .create()
        .expect("producer");
    let topic = format!("floor{rate}");
    let send = |ts: i64| {
        let payload = format!(r#"{{"source":{{"ts_us":{ts}}}}}"#);
        let _ = producer.send_result(FutureRecord::<(), _>::to(&topic).payload(&payload));
    };
    send(now_us());
    let consumer = warm_consumer(bootstrap, &topic).await;
    let per_tick = (rate / 100).max(1);
    let ticks = seconds * 100;
    let total = per_tick * ticks;
    let writer = {
        let producer = producer.clone();
        let topic = topic.clone();
        tokio::spawn(async move {
            let mut iv = tokio::time::interval(Duration::from_millis(10));
            for _ in 0..ticks {
                iv.tick().await;
                for _ in 0..per_tick {
                    let payload = format!(r#"{{"source":{{"ts_us":{}}}}}"#, now_us());
                    let _ =
                        producer.send_result(FutureRecord::<(), _>::to(&topic).payload(&payload));
                }
            }
        })
    };
    let mut lat: Vec<i64> = collect_latencies(&consumer, total, seconds, pg_commit_us, || {})
        .await
        .iter()
        .map(|l| l.total)
        .collect();
    let _ = writer.await;
    let n = lat.len();
    vec![(
        format!("latency floor: the broker alone at {rate}/s for {seconds}s (harness producer with sluice's settings → consumer)"),
        format!(
            "{n} records, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            quantile_ms(&mut lat, 0.5),
            quantile_ms(&mut lat, 0.99),
            quantile_ms(&mut lat, 1.0)
        ),
    )]
}

// ---- MariaDB ----

const MARIA_SHAPE: &str =
    "(id bigint PRIMARY KEY, a int, b text, c timestamp(6), d decimal(12,2), e json)";

/// Rows `from..=to` of the bench shape, from MariaDB's sequence engine; `c` is the time the
/// statement runs.
fn maria_rows(from: i64, to: i64) -> String {
    format!(
        "SELECT seq, seq % 1000, CONCAT(MD5(seq), MD5(seq + 1), 'xxxxxxxxxxxxxxxxx'), NOW(6), \
         (seq % 100000) / 100.0, JSON_OBJECT('k', seq, 'tag', MD5(seq), 'list', JSON_ARRAY(1, 2, 3), 'flag', true) \
         FROM seq_{from}_to_{to}"
    )
}

fn start_maria() -> Maria {
    let m = Maria::start();
    m.sql("CREATE DATABASE bench");
    m
}

async fn maria_conn(m: &Maria) -> mysql_async::Conn {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(m.port)
        .user(Some(mariadb::USER))
        .pass(Some(mariadb::PASSWORD))
        .db_name(Some("bench"));
    mysql_async::Conn::new(opts)
        .await
        .expect("connect to MariaDB")
}

/// The server's current binlog file and position.
fn maria_position(m: &Maria) -> (String, u64) {
    let out = m.sql("SHOW MASTER STATUS");
    let mut f = out.split_whitespace();
    let file = f.next().expect("binlog file").to_string();
    let pos = f.next().and_then(|p| p.parse().ok()).expect("binlog pos");
    (file, pos)
}

/// Start sluice with `no_data` and wait until it saved its first position.
async fn maria_started(root: &Path, m: &Maria, bootstrap: &str, table: &str) -> Sluice {
    let s = Sluice::mariadb(root, m, bootstrap, "no_data", table);
    let off = root.join("offsets").join("bench.json");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !off.exists() {
        assert!(Instant::now() < deadline, "sluice never saved a position");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s
}

async fn maria_snapshot(root: &Path, m: &Maria, bootstrap: &str, rows: u64) -> Vec<Row> {
    m.sql(&format!(
        "USE bench; CREATE TABLE bench.snap {MARIA_SHAPE}; INSERT INTO bench.snap {}; ANALYZE TABLE bench.snap;",
        maria_rows(1, rows as i64)
    ));
    // Physical limit: the mariadb client reading the same SELECT over TCP, unbuffered.
    let t = Instant::now();
    let mut child = Command::new("mariadb")
        .args([
            "-h127.0.0.1",
            &format!("-P{}", m.port),
            &format!("-u{}", mariadb::USER),
            &format!("-p{}", mariadb::PASSWORD),
            "--quick",
            "-N",
            "-B",
            "-e",
            "SELECT id, a, b, c, d, e FROM bench.snap",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mariadb client");
    let bytes = std::io::copy(
        &mut child.stdout.take().expect("stdout"),
        &mut std::io::sink(),
    )
    .expect("read");
    assert!(child.wait().expect("mariadb").success(), "raw read failed");
    let raw_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut s = Sluice::mariadb(root, m, bootstrap, "initial_only", "snap");
    s.wait_exit().await;
    let sluice_s = t.elapsed().as_secs_f64();
    snapshot_rows(
        "MariaDB snapshot",
        ("raw `mariadb --quick` SELECT", "the raw read"),
        rows,
        bytes,
        raw_s,
        sluice_s,
        &s,
    )
}

/// The ids of drain transaction `t` (both engines' drains; the table holds ids 1 to 100,000):
/// 60 inserts from `base`, 30 updates from `upd`, 10 deletes from `del`. The deletes take
/// rows the transaction before inserted (the first, rows of the table), so each of them
/// deletes a row however many transactions run (they used to wrap around after 5,000
/// transactions and delete nothing: 950,000 row changes for `--changes 1000000`). The first
/// transaction deletes rows no update reaches (updates take ids 1 to 50,020; the first
/// deletes used to take 50,001 to 50,010, so updates crossing 50,000 changed fewer rows:
/// 999,960 row changes for `--changes 1000000`).
fn drain_ids(t: i64) -> (i64, i64, i64) {
    let base = 1_000_000 + t * 60;
    let upd = (t * 30) % 50_000 + 1;
    let del = if t == 0 { 90_001 } else { base - 60 };
    (base, upd, del)
}

async fn maria_streaming(root: &Path, m: &Maria, bootstrap: &str, changes: u64) -> Vec<Row> {
    m.sql(&format!(
        "USE bench; CREATE TABLE bench.stream {MARIA_SHAPE}; INSERT INTO bench.stream {};",
        maria_rows(1, 100_000)
    ));
    let mut s = maria_started(root, m, bootstrap, "stream").await;
    s.stop();
    let (file, start) = maria_position(m);
    // Transactions of 100 changes (`drain_ids`).
    let txns = changes / 100;
    let mut script = String::from("USE bench;\n");
    for t in 0..txns as i64 {
        let (base, upd, del) = drain_ids(t);
        script.push_str(&format!(
            "BEGIN; INSERT INTO stream {}; UPDATE stream SET a = a + 1 WHERE id BETWEEN {upd} AND {}; \
             DELETE FROM stream WHERE id BETWEEN {del} AND {}; COMMIT;\n",
            maria_rows(base, base + 59),
            upd + 29,
            del + 9
        ));
    }
    m.sql(&script);
    let (end_file, end) = maria_position(m);
    assert_eq!(file, end_file, "the binlog rotated during the load");
    let total_events = txns * 100;
    // Limit: the server streaming the same binlog range to mariadb-binlog.
    let t = Instant::now();
    let st = Command::new("mariadb-binlog")
        .args([
            "--read-from-remote-server",
            "-h127.0.0.1",
            &format!("-P{}", m.port),
            &format!("-u{}", mariadb::USER),
            &format!("-p{}", mariadb::PASSWORD),
            &format!("--start-position={start}"),
            &format!("--stop-position={end}"),
            &file,
        ])
        .stdout(Stdio::null())
        .status()
        .expect("mariadb-binlog");
    assert!(st.success(), "mariadb-binlog failed");
    let raw_s = t.elapsed().as_secs_f64();
    // The fair limit through the same broker (issue 27): the same reader decoding the rows
    // (`-v`), one message per row change (awk joins a change's `###` lines), into kcat.
    let topic = "bench.binlog-kcat";
    let t = Instant::now();
    let st = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; mariadb-binlog --read-from-remote-server -h127.0.0.1 -P{port} -u{user} -p{password} \
             --start-position={start} --stop-position={end} --base64-output=decode-rows -v {file} \
             | awk '/^### (INSERT|UPDATE|DELETE)/ {{ if (r != \"\") print r; r = $0; next }} /^###/ {{ r = r \" \" $0 }} END {{ if (r != \"\") print r }}' \
             | kcat -P -b {bootstrap} -t {topic} -X compression.codec=lz4 -X batch.size=1000000 -X linger.ms=5",
            port = m.port,
            user = mariadb::USER,
            password = mariadb::PASSWORD,
        ))
        .status()
        .expect("mariadb-binlog | kcat");
    assert!(st.success(), "mariadb-binlog | kcat failed");
    let kcat_s = t.elapsed().as_secs_f64();
    let kcat_n = topic_records(bootstrap, topic);
    let t = Instant::now();
    let mut s = Sluice::mariadb(root, m, bootstrap, "no_data", "stream");
    s.wait_acknowledged(end as f64).await;
    let sluice_s = t.elapsed().as_secs_f64();
    s.stop();
    let mut out = drain_rows(
        "MariaDB streaming drain",
        ("mariadb-binlog --read-from-remote-server", "mariadb-binlog"),
        total_events,
        raw_s,
        sluice_s,
        &s,
    );
    out.push((
        "MariaDB streaming drain: mariadb-binlog -v | kcat -P (fair limit through the same broker)"
            .into(),
        format!(
            "{:.0} events/s ({kcat_n} messages for {total_events} row changes); sluice at {:.0}% of it",
            kcat_n as f64 / kcat_s,
            100.0 * kcat_s / sluice_s * total_events as f64 / kcat_n.max(1) as f64
        ),
    ));
    // Every change's record, and a tombstone after each delete.
    let records = topic_records(bootstrap, "bench.bench.stream");
    let (floor_s, floor_cpu) = records_into_kcat(root, bootstrap, "bench.bench.stream", records);
    out.push((
        "MariaDB streaming drain: sluice's records from a file | kcat -P, sluice's producer settings (the producer's floor)"
            .into(),
        format!(
            "{:.0} events/s, CPU {:.1} µs/event ({records} records)",
            total_events as f64 / floor_s,
            1e6 * floor_cpu / total_events as f64
        ),
    ));
    out
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` to µs since the epoch.
fn iso_utc_us(s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (h, mi, se) = (t.next()??, t.next()??, t.next()??);
    let micros = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").get(..6)?.parse::<i64>().ok()?
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + se) * 1_000_000) + micros)
}

async fn maria_latency(
    root: &Path,
    m: &Maria,
    bootstrap: &str,
    rate: u64,
    seconds: u64,
) -> Vec<Row> {
    let table = format!("lat{rate}");
    m.sql(&format!("CREATE TABLE bench.{table} {MARIA_SHAPE}"));
    let mut s = maria_started(root, m, bootstrap, &table).await;
    let mut c = maria_conn(m).await;
    use mysql_async::prelude::Queryable;
    c.query_drop(format!("INSERT INTO {table} {}", maria_rows(0, 0)))
        .await
        .expect("warm-up row");
    let consumer = warm_consumer(bootstrap, &format!("bench.bench.{table}")).await;
    let per_tick = (rate / 100).max(1) as i64; // a transaction every 10 ms
    let ticks = seconds * 100;
    let total = per_tick as u64 * ticks;
    let load = tokio::spawn(async move {
        let mut iv = tokio::time::interval(Duration::from_millis(10));
        for t in 0..ticks as i64 {
            iv.tick().await;
            let first = t * per_tick + 1;
            c.query_drop(format!(
                "INSERT INTO {table} {}",
                maria_rows(first, first + per_tick - 1)
            ))
            .await
            .expect("insert");
        }
    });
    // The binlog's commit time has whole seconds only: latency is measured from the row's
    // `c` (NOW(6) when its INSERT started, so slightly before the commit: an upper bound).
    let lat = collect_latencies(&consumer, total, seconds, maria_commit_us, || {
        s.sample_rss()
    })
    .await;
    let _ = load.await;
    s.stop();
    vec![latency_row(
        format!("MariaDB latency at {rate}/s for {seconds}s"),
        lat,
        &s,
        // sluice's commit→ack histograms use the binlog's whole-second commit time: too
        // coarse to print here.
        &[],
    )]
}

/// Every record of `topic` (all partitions) as (key text, `payload.after` text).
async fn topic_documents(bootstrap: &str, topic: &str, n: u64) -> Vec<(String, String)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "bench-documents")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut docs = Vec::with_capacity(n as usize);
    while (docs.len() as u64) < n {
        let m = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("records keep coming")
            .expect("record");
        let (Some(k), Some(v)) = (m.key(), m.payload()) else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_slice(v).expect("value");
        let k: serde_json::Value = serde_json::from_slice(k).expect("key");
        docs.push((
            k["payload"]["id"].to_string(),
            v["payload"]["after"].to_string(),
        ));
    }
    docs
}

/// A sluice sink connector reading `topic` from offset 0 into `sink`.
fn sink_connector(root: &Path, bootstrap: &str, topic: &str, sink: &str) -> Sluice {
    let http = free_port();
    let cfg = root.join("sluice-sink.yaml");
    std::fs::write(
        &cfg,
        format!(
            "service:\n  http_listen_addr: 127.0.0.1:{http}\nconnectors:\n  apply:\n{batch}    source:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n      topics: [{topic}]\n      group_id: bench-apply\n{props}    sink:\n{sink}",
            batch = std::env::var("SLUICE_BENCH_SINK_BATCH")
                .map(|b| format!("    max_batch_events: {b}\n"))
                .unwrap_or_default(),
            props = std::env::var("SLUICE_BENCH_CONSUMER_PROPS")
                .map(|p| format!("      properties: {{{p}}}\n"))
                .unwrap_or_default(),
        ),
    )
    .expect("config");
    let log = std::fs::File::create(root.join("sluice-sink.log")).expect("log");
    let child = sluice_command()
        .args(["run", "--config"])
        .arg(&cfg)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("sluice binary (cargo build --release)");
    Sluice {
        proc: Proc(child),
        http,
        peak_kb: 0,
        cpu_ticks: 0,
        profile: None,
        _registry: None,
        log: None,
    }
}

/// The sink connector's start-up (process start to its first applied record: the group join)
/// and the time from its first applied record to the `n`th, sampling its RSS and CPU.
async fn wait_applied(s: &mut Sluice, n: u64) -> (f64, f64) {
    let t = Instant::now();
    let mut first: Option<(Instant, f64)> = None;
    loop {
        s.sample_rss();
        let applied = s
            .metric("sluice_sink_records_applied_total")
            .await
            .unwrap_or(0.0);
        if applied > 0.0 && first.is_none() {
            first = Some((Instant::now(), applied));
        }
        if applied >= n as f64 {
            let (at, already) = first.unwrap_or((t, 0.0));
            // The records applied before the first sample count at the measured rate.
            let rest = at.elapsed().as_secs_f64();
            let per = rest / (n as f64 - already).max(1.0);
            return ((at - t).as_secs_f64() - already * per, rest + already * per);
        }
        assert!(!s.exited(), "the sink connector exited");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn sink_apply(root: &Path, pg: &Pg, bootstrap: &str, target: &str, n: u64) -> Vec<Row> {
    let c = pg.connect("bench").await;
    c.batch_execute(&format!(
        "CREATE TABLE docs {SHAPE}; INSERT INTO docs SELECT {ROW} FROM generate_series(1, {n}) g;"
    ))
    .await
    .expect("table");
    // The backlog: sluice's snapshot of the table, with schemas (the sink converts types).
    let http = free_port();
    let cfg = root.join("sluice-docs.yaml");
    std::fs::write(
        &cfg,
        format!(
            "service:\n  http_listen_addr: 127.0.0.1:{http}\n  offsets_dir: {off}\nconnectors:\n  bench:\n    source:\n      type: postgres\n      host: 127.0.0.1\n      port: {port}\n      user: postgres\n      database: bench\n      tables: [public.docs]\n      snapshot_mode: initial_only\n    sink:\n      type: kafka\n      bootstrap_servers: \"{bootstrap}\"\n      schemas_enable: true\n      topic_partitions: 4\n",
            off = root.join("offsets").display(),
            port = pg.port
        ),
    )
    .expect("config");
    let mut capture = Sluice {
        proc: Proc(
            Command::new(sluice_bin())
                .args(["run", "--config"])
                .arg(&cfg)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("sluice"),
        ),
        http,
        peak_kb: 0,
        cpu_ticks: 0,
        profile: None,
        _registry: None,
        log: None,
    };
    capture.wait_exit().await;
    let topic = "bench.public.docs";
    let docs = topic_documents(bootstrap, topic, n).await;
    let client = reqwest::Client::new();
    match target {
        "search" => {
            let os = targets::opensearch(None);
            // Limit: the same documents, `_bulk` of 4,096, one request at a time.
            let t = Instant::now();
            for chunk in docs.chunks(4096) {
                let mut body = String::with_capacity(chunk.len() * 400);
                for (id, doc) in chunk {
                    body.push_str(&format!(
                        "{{\"index\":{{\"_index\":\"limit\",\"_id\":{id}}}}}\n{doc}\n"
                    ));
                }
                let r = client
                    .post(format!("{}/_bulk", os.url()))
                    .header("content-type", "application/x-ndjson")
                    .body(body)
                    .send()
                    .await
                    .expect("bulk");
                assert!(r.status().is_success(), "bulk: {}", r.status());
            }
            let limit_s = t.elapsed().as_secs_f64();
            let mut s = sink_connector(
                root,
                bootstrap,
                topic,
                &format!(
                    "      type: search\n      url: {}\n      index: \"{{table}}\"\n",
                    os.url()
                ),
            );
            let (startup_s, sluice_s) = wait_applied(&mut s, n).await;
            apply_rows(
                "search (OpenSearch 2.19)",
                "_bulk of the same documents",
                n,
                limit_s,
                (startup_s, sluice_s),
                &s,
            )
        }
        _ => {
            let redis = targets::redis();
            let rc =
                redis::Client::open(format!("redis://127.0.0.1:{}/0", redis.port)).expect("url");
            let mut conn = rc.get_multiplexed_async_connection().await.expect("redis");
            let t = Instant::now();
            for chunk in docs.chunks(4096) {
                let mut pipe = redis::pipe();
                for (id, doc) in chunk {
                    pipe.cmd("SET").arg(format!("limit:{id}")).arg(doc).ignore();
                }
                let () = pipe.query_async(&mut conn).await.expect("pipeline");
            }
            let limit_s = t.elapsed().as_secs_f64();
            // The limit with the version guard: the same documents through sluice's script.
            let sha: String = redis::cmd("SCRIPT")
                .arg("LOAD")
                .arg(sluice::sink::cache::GUARD_SCRIPT)
                .query_async(&mut conn)
                .await
                .expect("script");
            let t = Instant::now();
            for chunk in docs.chunks(4096) {
                let mut pipe = redis::pipe();
                for (i, (id, doc)) in chunk.iter().enumerate() {
                    pipe.cmd("EVALSHA")
                        .arg(&sha)
                        .arg(2)
                        .arg(format!("guarded:{id}"))
                        .arg(format!("guarded:{id}#v"))
                        .arg(i)
                        .arg("set")
                        .arg(doc)
                        .arg(0)
                        .arg(86_400_000)
                        .ignore();
                }
                let () = pipe.query_async(&mut conn).await.expect("pipeline");
            }
            let guard_s = t.elapsed().as_secs_f64();
            let mut s = sink_connector(
                root,
                bootstrap,
                topic,
                &format!(
                    "      type: redis\n      url: redis://127.0.0.1:{}/0\n",
                    redis.port
                ),
            );
            let (startup_s, sluice_s) = wait_applied(&mut s, n).await;
            let mut rows = apply_rows(
                "Redis 7",
                "pipelined SET of the same documents",
                n,
                limit_s,
                (startup_s, sluice_s),
                &s,
            );
            rows.insert(
                1,
                (
                    "sink apply → Redis 7: pipelined EVALSHA of sluice's version guard, same documents (limit with the guard)".into(),
                    format!("{:.0} docs/s (sluice's rate is {:.0}% of it)", n as f64 / guard_s, 100.0 * guard_s / sluice_s),
                ),
            );
            rows
        }
    }
}

fn apply_rows(
    target: &str,
    limit: &str,
    n: u64,
    limit_s: f64,
    (startup_s, sluice_s): (f64, f64),
    s: &Sluice,
) -> Vec<Row> {
    vec![
        (
            format!("sink apply → {target}: {limit} (limit)"),
            format!("{:.0} docs/s", n as f64 / limit_s),
        ),
        (
            format!("sink apply → {target}: sluice, {n} records from offset 0"),
            format!(
                "{:.0} records/s ({:.0}% of the limit) after a start-up (group join) of {:.1} s, {:.1} µs CPU/record, peak RSS {} MB",
                n as f64 / sluice_s,
                100.0 * limit_s / sluice_s,
                startup_s,
                s.cpu_us_per(n),
                s.peak_kb / 1024
            ),
        ),
    ]
}

// ---- Debezium beside sluice (`vs-debezium`) ----

/// Peak RSS (VmHWM) of a process, sampled.
struct Peak {
    pid: u32,
    kb: u64,
}

impl Peak {
    fn sample(&mut self) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        if let Some(kb) = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
        {
            self.kb = self.kb.max(kb);
        }
    }
}

/// Records in `topic` (sum of high watermarks over its partitions; 0 before it exists).
fn topic_records(bootstrap: &str, topic: &str) -> u64 {
    use rdkafka::consumer::BaseConsumer;
    let Ok(c) = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create::<BaseConsumer>()
    else {
        return 0;
    };
    let Ok(m) = c.fetch_metadata(Some(topic), Duration::from_secs(5)) else {
        return 0;
    };
    let Some(t) = m.topics().first() else {
        return 0;
    };
    t.partitions()
        .iter()
        .filter_map(|p| {
            c.fetch_watermarks(topic, p.id(), Duration::from_secs(5))
                .ok()
                .map(|(_, high)| high.max(0) as u64)
        })
        .sum()
}

/// Wait until `topic` holds `n` records (it held `base` at `t`), sampling `peak`: seconds from
/// `t` to the first new record (start-up), and from that record to the `n`th (the rate).
async fn wait_records(
    bootstrap: &str,
    topic: &str,
    base: u64,
    n: u64,
    peak: &mut Peak,
    t: Instant,
) -> (f64, f64) {
    let mut first: Option<Instant> = None;
    loop {
        peak.sample();
        let have = topic_records(bootstrap, topic);
        if have > base && first.is_none() {
            first = Some(Instant::now());
        }
        if have >= n {
            let f = first.unwrap_or_else(Instant::now);
            return (
                f.duration_since(t).as_secs_f64(),
                f.elapsed().as_secs_f64().max(1e-3),
            );
        }
        assert!(
            t.elapsed() < Duration::from_secs(1800),
            "{topic} never reached {n} records"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The producer settings both sides use (sluice's defaults, given to Connect's producer).
const VS_PRODUCER: [(&str, &str); 3] = [
    ("compression.type", "lz4"),
    ("batch.size", "1000000"),
    ("linger.ms", "0"),
];

/// Debezium's settings for latency (`SLUICE_BENCH_DEBEZIUM_TUNED=1`): a 10 ms poll instead
/// of 500 ms, and four times the batch and queue.
const DEBEZIUM_TUNED: &str = "poll.interval.ms=10\nmax.batch.size=8192\nmax.queue.size=32768\n";

/// Whether `SLUICE_BENCH_DEBEZIUM_TUNED=1` asks for [`DEBEZIUM_TUNED`].
fn debezium_tuned() -> bool {
    std::env::var("SLUICE_BENCH_DEBEZIUM_TUNED").is_ok_and(|v| v == "1")
}

/// Kafka Connect's and Debezium's jars (bench/debezium), as one class path.
fn connect_classpath() -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/debezium/target/deps");
    let mut cp: Vec<String> = std::fs::read_dir(&dir)
        .expect("bench/debezium/target/deps (bash bench/run.sh builds it)")
        .filter_map(|e| Some(e.ok()?.path().display().to_string()))
        .filter(|p| p.ends_with(".jar"))
        .collect();
    cp.sort();
    cp.join(":")
}

/// Connect's log settings (warnings only) as `root/log4j2.properties`.
fn write_connect_log4j(root: &Path) {
    std::fs::write(
        root.join("log4j2.properties"),
        "status = warn\nappender.out.type = Console\nappender.out.name = out\nappender.out.layout.type = PatternLayout\nappender.out.layout.pattern = %d %p %c{1} %m%n\nrootLogger.level = warn\nrootLogger.appenderRef.out.ref = out\n\
         logger.herder.name = org.apache.kafka.connect.runtime.distributed.DistributedHerder\nlogger.herder.level = info\n",
    )
    .expect("log4j2");
}

/// Whether the Connect worker on `port` was its group's leader at its last assignment (the
/// herder logs `leaderUrl='http://host:port/'` with every assignment it gets).
fn connect_is_leader(root: &Path, id: &str, port: u16) -> bool {
    let log = std::fs::read_to_string(root.join(format!("connect-{id}.log"))).unwrap_or_default();
    log.rsplit("leaderUrl='")
        .next()
        .is_some_and(|rest| rest.starts_with(&format!("http://127.0.0.1:{port}/")))
}

/// Debezium 3.6.1's PostgreSQL connector in connect-standalone (bench/debezium).
fn start_debezium(root: &Path, pg: &Pg, bootstrap: &str, table: &str) -> Proc {
    let cp = connect_classpath();
    let mut worker = format!(
        "bootstrap.servers={bootstrap}\nkey.converter=org.apache.kafka.connect.json.JsonConverter\nvalue.converter=org.apache.kafka.connect.json.JsonConverter\nkey.converter.schemas.enable=false\nvalue.converter.schemas.enable=false\noffset.storage.file.filename={}\noffset.flush.interval.ms=1000\nplugin.path=\nlisteners=http://127.0.0.1:{}\n",
        root.join("dbz.offsets").display(),
        free_port()
    );
    for (k, v) in VS_PRODUCER {
        worker.push_str(&format!("producer.{k}={v}\n"));
    }
    let connector = format!(
        "name=dbz\nconnector.class=io.debezium.connector.postgresql.PostgresConnector\nplugin.name=pgoutput\ndatabase.hostname=127.0.0.1\ndatabase.port={}\ndatabase.user=postgres\ndatabase.password=x\ndatabase.dbname=bench\ntopic.prefix=dbz\ntable.include.list=public.{table}\nslot.name=dbz_{table}\npublication.name=dbz_{table}\npublication.autocreate.mode=filtered\nsnapshot.mode=initial\ntopic.creation.default.partitions=4\ntopic.creation.default.replication.factor=1\n{}",
        pg.port,
        if debezium_tuned() { DEBEZIUM_TUNED } else { "" }
    );
    std::fs::write(root.join("worker.properties"), worker).expect("worker");
    std::fs::write(root.join("dbz.properties"), connector).expect("connector");
    write_connect_log4j(root);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join("debezium.log"))
        .expect("log");
    let child = Command::new("java")
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            root.join("log4j2.properties").display()
        ))
        .args(["-Xms256m", "-Xmx2g", "-cp"])
        .arg(&cp)
        .arg("org.apache.kafka.connect.cli.ConnectStandalone")
        .arg(root.join("worker.properties"))
        .arg(root.join("dbz.properties"))
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("java (Debezium connect-standalone)");
    Proc(child)
}

/// One engine's three measurements on `table`: snapshot, backlog drain, latency at 1,000/s.
struct Engine {
    start_s: f64,
    snapshot_s: f64,
    restart_s: f64,
    drain_s: f64,
    lat: Vec<i64>,
    peak_kb: u64,
}

async fn updates(c: &Client, table: &str, changes: u64, rows: u64) {
    let tx = 100;
    for b in 0..changes / tx {
        let first = (b * tx) % rows + 1;
        c.batch_execute(&format!(
            "UPDATE {table} SET a = a + 1 WHERE id BETWEEN {first} AND {}",
            first + tx - 1
        ))
        .await
        .expect("updates");
    }
}

async fn measure_engine(
    root: &Path,
    pg: &Pg,
    bootstrap: &str,
    debezium: bool,
    rows: u64,
    changes: u64,
    seconds: u64,
) -> Engine {
    std::fs::create_dir_all(root).expect("engine dir");
    let table = if debezium { "vs_dbz" } else { "vs_sluice" };
    let topic = if debezium {
        format!("dbz.public.{table}")
    } else {
        format!("bench.public.{table}")
    };
    let c = pg.connect("bench").await;
    c.batch_execute(&format!(
        "CREATE TABLE {table} {SHAPE}; INSERT INTO {table} SELECT {ROW} FROM generate_series(1, {rows}) g;"
    ))
    .await
    .expect("table");
    c.batch_execute(&format!("VACUUM ANALYZE {table}"))
        .await
        .expect("vacuum");
    let start = |root: &Path| -> (Proc, Option<Sluice>, u32) {
        if debezium {
            let p = start_debezium(root, pg, bootstrap, table);
            let pid = p.0.id();
            (p, None, pid)
        } else {
            let s = Sluice::postgres(root, pg.port, bootstrap, "initial", table);
            let pid = s.proc.0.id();
            (
                Proc(Command::new("true").spawn().expect("true")),
                Some(s),
                pid,
            )
        }
    };
    // Snapshot.
    let t = Instant::now();
    let (p, mut s, pid) = start(root);
    let mut peak = Peak { pid, kb: 0 };
    let (start_s, snapshot_s) = wait_records(bootstrap, &topic, 0, rows, &mut peak, t).await;
    // Backlog drain: stop, commit `changes` updates, start, time until all are in the topic.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = topic_records(bootstrap, &topic);
    let stop = |p: Proc, s: &mut Option<Sluice>| {
        if let Some(s) = s.as_mut() {
            s.stop();
        }
        let _ = Command::new("kill")
            .args(["-TERM", &p.0.id().to_string()])
            .status();
        drop(p);
    };
    stop(p, &mut s);
    tokio::time::sleep(Duration::from_secs(1)).await;
    updates(&c, table, changes, rows).await;
    let t = Instant::now();
    let (p, mut s, pid) = start(root);
    peak.pid = pid;
    let (restart_s, drain_s) =
        wait_records(bootstrap, &topic, before, before + changes, &mut peak, t).await;
    // Latency at a steady 1,000 changes/s (a 10-row transaction every 10 ms).
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("vs-{table}"))
        .set("auto.offset.reset", "latest")
        .set("fetch.wait.max.ms", "5")
        .set("fetch.min.bytes", "1")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    // Wait for the assignment: one marker change must arrive first.
    loop {
        c.batch_execute(&format!("UPDATE {table} SET a = a + 1 WHERE id = 1"))
            .await
            .expect("marker");
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(2), consumer.recv()).await {
            break;
        }
    }
    let ticks = seconds * 100;
    let total = ticks * 10;
    let c2 = pg.connect("bench").await;
    let table_owned = table.to_string();
    let load = tokio::spawn(async move {
        let mut iv = tokio::time::interval(Duration::from_millis(10));
        for t in 0..ticks {
            iv.tick().await;
            let first = (t * 10) % rows + 1;
            c2.batch_execute(&format!(
                "UPDATE {table_owned} SET a = a + 1 WHERE id BETWEEN {first} AND {}",
                first + 9
            ))
            .await
            .expect("load");
        }
    });
    let lat: Vec<i64> =
        collect_latencies(&consumer, total, seconds, pg_commit_us, || peak.sample())
            .await
            .iter()
            .map(|l| l.total)
            .collect();
    let _ = load.await;
    stop(p, &mut s);
    Engine {
        start_s,
        snapshot_s,
        restart_s,
        drain_s,
        lat,
        peak_kb: peak.kb,
    }
}

fn quantile_ms(lat: &mut [i64], q: f64) -> f64 {
    if lat.is_empty() {
        return f64::NAN;
    }
    lat.sort_unstable();
    let i = ((lat.len() as f64 - 1.0) * q).round() as usize;
    lat[i] as f64 / 1000.0
}

async fn vs_debezium(
    root: &Path,
    pg: &Pg,
    bootstrap: &str,
    rows: u64,
    changes: u64,
    seconds: u64,
) -> Vec<Row> {
    let d = measure_engine(
        &root.join("dbz"),
        pg,
        bootstrap,
        true,
        rows,
        changes,
        seconds,
    )
    .await;
    let s = measure_engine(
        &root.join("sluice"),
        pg,
        bootstrap,
        false,
        rows,
        changes,
        seconds,
    )
    .await;
    let mut rows_out = Vec::new();
    let line = |e: &mut Engine| {
        format!(
            "snapshot {:.0} rows/s (first record after {:.1} s); backlog drain {:.0} events/s (first after {:.1} s); latency at 1,000/s p50 {:.1} ms, p99 {:.1} ms ({} received); peak RSS {} MB",
            rows as f64 / e.snapshot_s,
            e.start_s,
            changes as f64 / e.drain_s,
            e.restart_s,
            quantile_ms(&mut e.lat, 0.5),
            quantile_ms(&mut e.lat, 0.99),
            e.lat.len(),
            e.peak_kb / 1024
        )
    };
    let (mut d, mut s) = (d, s);
    rows_out.push((
        format!(
            "vs-debezium: Debezium 3.6.1 (connect-standalone, pgoutput{}), {rows} rows, {changes} changes",
            if debezium_tuned() {
                ", tuned: poll.interval.ms=10, max.batch.size=8192, max.queue.size=32768"
            } else {
                ", its defaults"
            }
        ),
        line(&mut d),
    ));
    rows_out.push((
        "vs-debezium: sluice, same table shape, broker and producer settings".to_string(),
        line(&mut s),
    ));
    rows_out.push((
        "vs-debezium: sluice ÷ Debezium".into(),
        format!(
            "snapshot rate ×{:.1}, drain rate ×{:.1}, p50 ×{:.3}, p99 ×{:.3}, RSS ×{:.3} (rates: higher is better; latency and RSS: lower)",
            d.snapshot_s / s.snapshot_s,
            d.drain_s / s.drain_s,
            quantile_ms(&mut s.lat, 0.5) / quantile_ms(&mut d.lat, 0.5),
            quantile_ms(&mut s.lat, 0.99) / quantile_ms(&mut d.lat, 0.99),
            s.peak_kb as f64 / d.peak_kb.max(1) as f64
        ),
    ));
    rows_out.push((
        "vs-debezium: producer settings (both)".into(),
        VS_PRODUCER
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
            + "; JSON without schemas; 4 partitions; acks=all; idempotence on",
    ));
    rows_out
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args.first().cloned().unwrap_or_else(|| "all".into());
    let opt = |name: &str, default: u64| {
        args.windows(2)
            .find(|w| w[0] == name)
            .and_then(|w| w[1].parse().ok())
            .unwrap_or(default)
    };
    let rows = opt("--rows", 1_000_000);
    let _ = PG_VERSION.set(opt("--pg-version", 15) as u32);
    let changes = opt("--changes", 200_000);
    let seconds = opt("--seconds", 60);
    let broker = args
        .windows(2)
        .find(|w| w[0] == "--broker")
        .map_or_else(|| "kafka".to_string(), |w| w[1].clone());
    // Each scenario gets a fresh PostgreSQL and broker, so one scenario's background work
    // (WAL checkpoints, topic compaction) does not disturb the next.
    let mut results: Vec<Row> = Vec::new();
    for scenario in [
        "snapshot",
        "chunked-snapshot",
        "incremental-latency",
        "streaming",
        "latency",
        "latency-floor",
        "maria-snapshot",
        "maria-streaming",
        "maria-latency",
        "sink-search",
        "sink-redis",
        "vs-debezium",
        "failover",
        "failover-connect",
        "big-transaction",
    ] {
        let maria = scenario.starts_with("maria-");
        let group = if maria {
            "maria"
        } else if scenario.starts_with("sink-") {
            "sinks"
        } else if scenario == "vs-debezium"
            || scenario.starts_with("failover")
            || scenario == "big-transaction"
        {
            // Only when asked for by name: it needs bench/debezium or takes minutes.
            "by-name-only"
        } else {
            "pg"
        };
        if (what != "all" || group == "by-name-only") && what != scenario && what != group {
            continue;
        }
        let root = tempfile::Builder::new()
            .prefix("sluice-bench-")
            .tempdir()
            .expect("tmp");
        let (_broker, bootstrap) = start_broker(root.path(), &broker);
        if maria {
            let m = start_maria();
            let r = root.path();
            match scenario {
                "maria-snapshot" => results.extend(maria_snapshot(r, &m, &bootstrap, rows).await),
                "maria-streaming" => {
                    results.extend(maria_streaming(r, &m, &bootstrap, changes).await)
                }
                _ => {
                    results.extend(maria_latency(r, &m, &bootstrap, 1000, seconds).await);
                    results.extend(maria_latency(r, &m, &bootstrap, 10_000, seconds).await);
                }
            }
            continue;
        }
        if scenario == "latency-floor" {
            for rate in [1000, 10_000] {
                results.extend(latency_floor(&bootstrap, rate, seconds).await);
            }
            continue;
        }
        let pg = Pg::start(root.path());
        pg.connect("postgres")
            .await
            .batch_execute("CREATE DATABASE bench")
            .await
            .expect("db");
        match scenario {
            "snapshot" => results.extend(snapshot(root.path(), &pg, &bootstrap, rows).await),
            "incremental-latency" => results
                .extend(latency_beside(root.path(), &pg, &bootstrap, 1000, seconds, rows).await),
            "chunked-snapshot" => {
                results.extend(chunked_snapshot(root.path(), &pg, &bootstrap, rows).await)
            }
            "streaming" => results.extend(streaming(root.path(), &pg, &bootstrap, changes).await),
            "failover" => {
                results.extend(failover(root.path(), &pg, &bootstrap, opt("--kills", 20)).await)
            }
            "failover-connect" => {
                let delay = args
                    .windows(2)
                    .find(|w| w[0] == "--delay-ms")
                    .and_then(|w| w[1].parse().ok());
                results.extend(
                    failover_connect(root.path(), &pg, &bootstrap, opt("--kills", 3), delay).await,
                )
            }
            "big-transaction" => {
                for streaming in [false, true] {
                    results.extend(
                        big_transaction(root.path(), &pg, &bootstrap, rows, streaming).await,
                    );
                }
            }
            "vs-debezium" => results.extend(
                vs_debezium(
                    root.path(),
                    &pg,
                    &bootstrap,
                    opt("--rows", 200_000),
                    opt("--changes", 100_000),
                    opt("--seconds", 30),
                )
                .await,
            ),
            "sink-search" | "sink-redis" => results.extend(
                sink_apply(
                    root.path(),
                    &pg,
                    &bootstrap,
                    scenario.trim_start_matches("sink-"),
                    opt("--records", 200_000),
                )
                .await,
            ),
            _ => {
                results.extend(latency(root.path(), &pg, &bootstrap, 1000, seconds).await);
                results.extend(latency(root.path(), &pg, &bootstrap, 10_000, seconds).await);
            }
        }
    }
    let mut table = String::from("| scenario | result |\n|---|---|\n");
    for (k, v) in &results {
        table.push_str(&format!("| {k} | {v} |\n"));
    }
    // Every SLUICE_BENCH_* setting of the run (but the binary, named below), so a results
    // file says what it measured.
    let mut settings: Vec<String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("SLUICE_BENCH_") && k != "SLUICE_BENCH_BIN")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    settings.sort();
    let meta: BTreeMap<&str, String> = BTreeMap::from([
        ("command", format!("bench/run.sh {}", args.join(" "))),
        (
            "settings",
            if settings.is_empty() {
                "defaults".to_string()
            } else {
                settings.join(", ")
            },
        ),
        (
            "cores",
            std::thread::available_parallelism()
                .map(|n| n.to_string())
                .unwrap_or_default(),
        ),
        (
            "sluice",
            match std::env::var("SLUICE_BENCH_BIN") {
                Ok(bin) => format!("{} ({bin})", env!("CARGO_PKG_VERSION")),
                Err(_) => env!("CARGO_PKG_VERSION").to_string(),
            },
        ),
        (
            "broker",
            if broker == "noida" {
                "noida-db 0.2.3".to_string()
            } else {
                "Apache Kafka 4.1.1 (KRaft, one combined node, 512 MB heap)".to_string()
            },
        ),
    ]);
    let report = format!(
        "{table}\n{}\n",
        meta.iter()
            .map(|(k, v)| format!("- {k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    println!("{report}");
    let stamp = now_us() / 1_000_000;
    let out =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("bench/results/{stamp}-{what}.md"));
    let _ = std::fs::write(&out, &report);
    println!("written to {}", out.display());
}
