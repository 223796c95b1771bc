//! Kafka-protocol brokers for tests (librdkafka's in-process mock cluster, and noida-db as an
//! external broker) and a reader that uses `kcat`, a client sluice did not write.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One record as kcat prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct KRecord {
    pub partition: i32,
    pub key: Option<serde_json::Value>,
    /// `None` for a tombstone.
    pub value: Option<serde_json::Value>,
}

/// `topic` from the beginning with kcat, each record as `format` says (`extra`: more kcat
/// arguments, e.g. `-c 1`).
pub fn kcat_format(bootstrap: &str, topic: &str, extra: &[&str], format: &str) -> String {
    let out = Command::new("kcat")
        .args([
            "-C",
            "-b",
            bootstrap,
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
        ])
        // At the end of a partition the broker holds a fetch this long before it answers
        // (librdkafka's default is 500 ms, paid by every read that reaches the end). Reads of
        // committed records keep the default: the two tests that read that way timed out
        // waiting for their snapshot once with it (cause not found).
        .args(if extra.contains(&"isolation.level=read_committed") {
            &[][..]
        } else {
            &["-X", "fetch.wait.max.ms=5"][..]
        })
        .args(extra)
        .args(["-f", format])
        .output()
        .expect("run kcat (apt-get install kcat)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `topic` read with `read_committed` (records of aborted or open transactions left out):
/// `(id, op, after.v)` of each change record of an `items`-like table, in partition order.
pub fn committed_changes(bootstrap: &str, topic: &str) -> Vec<(i64, String, i64)> {
    kcat_format(
        bootstrap,
        topic,
        &["-X", "isolation.level=read_committed"],
        "%k\t%s\n",
    )
    .lines()
    .filter_map(|l| {
        let (k, v) = l.split_once('\t')?;
        let k: serde_json::Value = serde_json::from_str(k).ok()?;
        let v: serde_json::Value = serde_json::from_str(v).ok()?;
        Some((
            k["id"].as_i64()?,
            v["op"].as_str()?.to_string(),
            v["after"]["v"].as_i64()?,
        ))
    })
    .collect()
}

/// Read every record of `topic` from the beginning with kcat.
pub fn kcat_read(bootstrap: &str, topic: &str) -> Vec<KRecord> {
    let text = kcat_format(bootstrap, topic, &["-Z"], "%p\t%K\t%k\t%S\t%s\n");
    let mut records = Vec::new();
    for line in text.lines() {
        let mut f = line.splitn(5, '\t');
        let partition: i32 = f.next().and_then(|p| p.parse().ok()).unwrap_or(-1);
        let key_len: i64 = f.next().and_then(|p| p.parse().ok()).unwrap_or(-1);
        let key = f.next().unwrap_or("");
        let size: i64 = f.next().and_then(|p| p.parse().ok()).unwrap_or(-1);
        let value = f.next().unwrap_or("");
        records.push(KRecord {
            partition,
            key: (key_len >= 0).then(|| serde_json::from_str(key).expect("key is json")),
            value: (size >= 0).then(|| {
                serde_json::from_str(value)
                    .unwrap_or_else(|e| panic!("value is not json ({e}): {value}"))
            }),
        });
    }
    records
}

/// noida-db, a Kafka-protocol broker with compaction and persistence.
pub struct Noida {
    pub port: u16,
    /// Elasticsearch-API port, when started with it.
    pub es_port: Option<u16>,
    child: Child,
    _tmp: tempfile::TempDir,
}

fn noida_bin() -> PathBuf {
    let out = Command::new("python3")
        .args([
            "-c",
            "import noida_db,os;print(os.path.dirname(noida_db.__file__))",
        ])
        .output()
        .expect("python3");
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !dir.is_empty(),
        "noida-db is not installed: pip install noida-db==0.2.3"
    );
    PathBuf::from(dir).join("noida-db")
}

impl Noida {
    pub fn start() -> Noida {
        Self::start_with(false)
    }

    /// Kafka plus the Elasticsearch-compatible endpoint.
    pub fn start_with_elasticsearch() -> Noida {
        Self::start_with(true)
    }

    fn start_with(es: bool) -> Noida {
        let tmp = tempfile::tempdir().expect("temp dir");
        let port = super::free_port();
        let es_port = es.then(super::free_port);
        let mut cmd = Command::new(noida_bin());
        cmd.args(["start", "--data-dir"])
            .arg(tmp.path())
            .args(["--host", "127.0.0.1", "--kafka-port"])
            .arg(port.to_string());
        match es_port {
            Some(p) => cmd
                .args(["--only", "kafka,elasticsearch", "--elasticsearch-port"])
                .arg(p.to_string()),
            None => cmd.args(["--only", "kafka"]),
        };
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start noida-db");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "noida-db did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(p) = es_port {
            while std::net::TcpStream::connect(("127.0.0.1", p)).is_err() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "noida-db elasticsearch did not start"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Noida {
            port,
            es_port,
            child,
            _tmp: tmp,
        }
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stop with `signal` (`TERM`, `KILL`), wait `down`, and start again on the same data
    /// dir and port (noida-db "saves and stops" on SIGTERM, yet can lose recently
    /// acknowledged records; on SIGKILL it loses what it had not saved).
    pub fn restart(&mut self, signal: &str, down: Duration) {
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        std::thread::sleep(down);
        let child = Command::new(noida_bin())
            .args(["start", "--data-dir"])
            .arg(self._tmp.path())
            .args(["--host", "127.0.0.1", "--kafka-port"])
            .arg(self.port.to_string())
            .args(["--only", "kafka"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("restart noida-db");
        self.child = child;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "noida-db did not restart"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Noida {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The names of the topics the brokers at `bootstrap` hold.
pub fn topic_names(bootstrap: &str) -> Vec<String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("consumer");
    let meta = consumer
        .fetch_metadata(None, Duration::from_secs(10))
        .expect("metadata");
    meta.topics().iter().map(|t| t.name().to_string()).collect()
}

/// Copy `from` (every partition) to `to` as a log cleaner would leave it after cleaning the
/// offsets below `cut`: there only the last record of each key, the rest (the dirty head) as
/// it is; in offset order, headers kept (sluice's tombstone version survives compaction).
pub async fn compact_copy(bootstrap: &str, from: &str, to: &str, cut: i64) -> usize {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
    use rdkafka::producer::{FutureProducer, FutureRecord};
    use rdkafka::{ClientConfig, Offset, TopicPartitionList};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "compact-copy")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let meta = consumer
        .fetch_metadata(Some(from), Duration::from_secs(10))
        .expect("metadata");
    let partitions = meta.topics()[0].partitions().len() as i32;
    let mut kept = Vec::new();
    for p in 0..partitions {
        let (_, high) = consumer
            .fetch_watermarks(from, p, Duration::from_secs(10))
            .expect("watermarks");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(from, p, Offset::Beginning)
            .expect("tpl");
        consumer.assign(&tpl).expect("assign");
        let mut last: std::collections::HashMap<Vec<u8>, usize> = Default::default();
        let mut records = Vec::new();
        while records.len() < high as usize {
            let Some(m) = consumer.poll(Duration::from_secs(10)) else {
                panic!("no record from {from}:{p} after {}", records.len());
            };
            let m = m.expect("record").detach();
            let key = m.key().map(<[u8]>::to_vec).unwrap_or_default();
            if m.offset() < cut {
                last.insert(key, records.len());
            } else {
                last.insert(format!("head-{}", m.offset()).into_bytes(), records.len());
            }
            records.push(m);
            if m_offset_reached(&records, high) {
                break;
            }
        }
        let mut keep: Vec<usize> = last.into_values().collect();
        keep.sort_unstable();
        kept.extend(keep.into_iter().map(|i| (p, records[i].clone())));
    }
    // The copy has the same partitions (records keep theirs).
    let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> =
        ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .create()
            .expect("admin");
    let _ = admin
        .create_topics(
            &[rdkafka::admin::NewTopic::new(
                to,
                partitions,
                rdkafka::admin::TopicReplication::Fixed(1),
            )],
            &rdkafka::admin::AdminOptions::new(),
        )
        .await;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("producer");
    for (p, m) in &kept {
        let mut headers = OwnedHeaders::new();
        if let Some(h) = m.headers() {
            for h in h.iter() {
                headers = headers.insert(Header {
                    key: h.key,
                    value: h.value,
                });
            }
        }
        let mut r: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(to).partition(*p).headers(headers);
        if let Some(k) = m.key() {
            r = r.key(k);
        }
        if let Some(v) = m.payload() {
            r = r.payload(v);
        }
        producer
            .send(r, Duration::from_secs(10))
            .await
            .expect("produce");
    }
    kept.len()
}

fn m_offset_reached(records: &[rdkafka::message::OwnedMessage], high: i64) -> bool {
    use rdkafka::message::Message;
    records.last().is_some_and(|m| m.offset() + 1 >= high)
}

/// A real Apache Kafka (KRaft, combined broker + controller nodes) from
/// `tests/services/kafka`: one node, or a 3-node cluster (replication factor 3,
/// `min.insync.replicas=2`, no unclean leader election). Nodes can be killed and restarted on
/// their data dirs.
pub struct Kafka {
    nodes: Vec<KafkaNode>,
    dir: tempfile::TempDir,
}

struct KafkaNode {
    port: u16,
    /// The SASL_PLAINTEXT listener (PLAIN, user `sluice` / [`SASL_PASSWORD`]), if any.
    sasl_port: Option<u16>,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

fn kafka_java(dir: &std::path::Path) -> Command {
    let mut c = Command::new("java");
    c.args([
        "-Xms128m",
        "-Xmx512m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
    ])
    .arg(format!(
        "-Dlog4j2.configurationFile={}",
        dir.join("log4j2.properties").display()
    ))
    .arg("-cp")
    .arg(super::targets::classpath("kafka"));
    c
}

/// The KRaft cluster id of every test cluster (16 bytes in base64url).
const CLUSTER_ID: &str = "c2x1aWNlLXRlc3RzLTAxMg";

/// Format the data dir of the node configured in `config` (a JVM start of the storage tool).
fn format_storage(dir: &std::path::Path, config: &std::path::Path) {
    let out = kafka_java(dir)
        .args(["kafka.tools.StorageTool", "format", "-t", CLUSTER_ID, "-c"])
        .arg(config)
        .output()
        .expect("java (kafka StorageTool)");
    assert!(
        out.status.success(),
        "kafka storage format failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The data dir of node 1 of a one-node cluster with a static quorum, formatted once for these
/// Kafka jars and kept in Cargo's test temp dir (the bench's: the system's): it names no port
/// or path, so every one-node broker starts from a copy rather than from another run of the
/// storage tool.
fn formatted_one_node() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        use std::hash::{Hash, Hasher};
        let classpath = super::targets::classpath("kafka");
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (CLUSTER_ID, &classpath).hash(&mut h);
        // Cargo's temp dir of integration tests; the bench (an example) has none.
        let root = option_env!("CARGO_TARGET_TMPDIR")
            .map_or_else(|| std::env::temp_dir().join("sluice-kafka"), PathBuf::from);
        std::fs::create_dir_all(&root).expect("temp root");
        let done = root.join(format!("kafka-one-node-{:016x}", h.finish()));
        if done.join("meta.properties").exists() {
            return done;
        }
        let work = tempfile::Builder::new()
            .prefix("kafka-format-")
            .tempdir_in(&root)
            .expect("temp dir");
        let data = work.path().join("data");
        let config = work.path().join("server.properties");
        std::fs::write(
            &config,
            format!(
                "process.roles=broker,controller\nnode.id=1\n\
                 listeners=PLAINTEXT://127.0.0.1:1,CONTROLLER://127.0.0.1:2\n\
                 controller.listener.names=CONTROLLER\n\
                 listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
                 controller.quorum.voters=1@127.0.0.1:2\nlog.dirs={}\n",
                data.display()
            ),
        )
        .expect("server.properties");
        std::fs::write(
            work.path().join("log4j2.properties"),
            "rootLogger.level = warn\n",
        )
        .expect("log4j2 config");
        format_storage(work.path(), &config);
        // Another test process may have made it meanwhile: either copy serves.
        let _ = std::fs::rename(&data, &done);
        done
    })
}

/// Copy the files of `from` (and its folders) into `to`.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("data dir");
    for e in std::fs::read_dir(from).expect("formatted data dir") {
        let e = e.expect("dir entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy a formatted file");
        }
    }
}

/// The password of the SASL user `sluice` on [`Kafka::start_sasl`].
pub const SASL_PASSWORD: &str = "sluice-secret";

impl Kafka {
    /// One combined node.
    pub fn start() -> Kafka {
        Self::cluster(1)
    }

    /// `n` combined nodes, formatted with one cluster id.
    pub fn cluster(n: usize) -> Kafka {
        Self::build(n, false)
    }

    /// One node that also listens with SASL_PLAINTEXT (mechanism PLAIN, user `sluice`,
    /// password [`SASL_PASSWORD`]) on [`Kafka::sasl_bootstrap`]; the plain listener stays
    /// for the harness's own reads.
    pub fn start_sasl() -> Kafka {
        Self::build(1, true)
    }

    /// The SASL listener's `host:port`.
    pub fn sasl_bootstrap(&self) -> String {
        format!(
            "127.0.0.1:{}",
            self.nodes[0].sasl_port.expect("a SASL node")
        )
    }

    fn build(n: usize, sasl: bool) -> Kafka {
        let dir = super::test_dir();
        std::fs::write(
            dir.path().join("log4j2.properties"),
            "status = warn\nappender.out.type = Console\nappender.out.name = out\nappender.out.layout.type = PatternLayout\nappender.out.layout.pattern = %d %p %c{1} %m%n\nrootLogger.level = warn\nrootLogger.appenderRef.out.ref = out\nlogger.raft.name = org.apache.kafka.raft\nlogger.raft.level = info\n",
        )
        .expect("log4j2 config");
        let ports: Vec<(u16, u16)> = (0..n)
            .map(|_| (super::free_port(), super::free_port()))
            .collect();
        let voters = ports
            .iter()
            .enumerate()
            .map(|(i, (_, c))| format!("{}@127.0.0.1:{c}", i + 1))
            .collect::<Vec<_>>()
            .join(",");
        let rf = n.min(3);
        let isr = if n >= 3 { 2 } else { 1 };
        let mut nodes = Vec::new();
        for (i, (port, cport)) in ports.iter().enumerate() {
            let config = dir.path().join(format!("server-{}.properties", i + 1));
            let data = dir.path().join(format!("data-{}", i + 1));
            let sasl_port = sasl.then(super::free_port);
            let (listeners, advertised, protocols, sasl_props) = match sasl_port {
                Some(sp) => (
                    format!("PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sp},CONTROLLER://127.0.0.1:{cport}"),
                    format!("PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sp}"),
                    "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
                    format!(
                        "inter.broker.listener.name=PLAINTEXT
                         listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN
                         listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_sluice=\"{SASL_PASSWORD}\";\n"
                    ),
                ),
                None => (
                    format!("PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}"),
                    format!("PLAINTEXT://127.0.0.1:{port}"),
                    "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    String::new(),
                ),
            };
            // A static quorum (no voters in the formatted data, so a one-node broker's data
            // dir can be a copy of one formatted once: see `formatted_one_node`).
            let quorum = format!("controller.quorum.voters={voters}\n");
            std::fs::write(
                &config,
                format!(
                    "process.roles=broker,controller\nnode.id={id}\n\
                     listeners={listeners}\n\
                     advertised.listeners={advertised}\n\
                     controller.listener.names=CONTROLLER\n\
                     listener.security.protocol.map={protocols}\n\
                     {sasl_props}{quorum}log.dirs={data}\n\
                     num.partitions=1\ndefault.replication.factor={rf}\nmin.insync.replicas={isr}\n\
                     offsets.topic.replication.factor={rf}\noffsets.topic.num.partitions=4\n\
                     transaction.state.log.replication.factor={rf}\ntransaction.state.log.min.isr={isr}\n\
                     transaction.state.log.num.partitions=4\n\
                     share.coordinator.state.topic.replication.factor={rf}\nshare.coordinator.state.topic.min.isr={isr}\n\
                     unclean.leader.election.enable=false\ngroup.initial.rebalance.delay.ms=0\n\
                     broker.session.timeout.ms=3000\nbroker.heartbeat.interval.ms=500\n\
                     log.cleaner.backoff.ms=500\nlog.retention.check.interval.ms=1000\n\
                     auto.create.topics.enable=true\n",
                    id = i + 1,
                    data = data.display(),
                ),
            )
            .expect("server.properties");
            if n == 1 {
                copy_dir(formatted_one_node(), &data);
            } else {
                format_storage(dir.path(), &config);
            }
            nodes.push(KafkaNode {
                port: *port,
                sasl_port,
                config,
                log: dir.path().join(format!("kafka-{}.log", i + 1)),
                child: None,
            });
        }
        let mut k = Kafka { nodes, dir };
        for i in 0..n {
            k.start_node(i);
        }
        k.wait_ready(n);
        k
    }

    /// Start node `i` (0-based) on its data dir (no wait).
    pub fn start_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .expect("kafka log");
        let child = kafka_java(self.dir.path())
            .arg("kafka.Kafka")
            .arg(&node.config)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("java (kafka)");
        node.child = Some(child);
    }

    /// SIGKILL node `i` (0-based).
    pub fn kill_node(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Wait until `brokers` brokers are in the cluster's metadata.
    pub fn wait_ready(&self, brokers: usize) {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .expect("metadata client");
        loop {
            if let Ok(m) = consumer.fetch_metadata(None, Duration::from_secs(2)) {
                if m.brokers().len() >= brokers {
                    return;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "kafka did not start; see {}",
                self.nodes[0].log.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The node (0-based) leading a topic partition.
    pub fn leader_of(&self, topic: &str, partition: i32) -> Option<usize> {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .ok()?;
        let m = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .ok()?;
        let leader = m
            .topics()
            .first()?
            .partitions()
            .get(partition as usize)?
            .leader();
        usize::try_from(leader).ok()?.checked_sub(1)
    }

    /// The node (0-based) that last became the KRaft quorum leader (the active controller),
    /// from the nodes' logs.
    pub fn active_controller(&self) -> Option<usize> {
        let mut best: Option<(u64, usize)> = None;
        for (i, n) in self.nodes.iter().enumerate() {
            let text = std::fs::read_to_string(&n.log).unwrap_or_default();
            for line in text.lines().filter(|l| l.contains("to Leader")) {
                let epoch = line
                    .split("epoch=")
                    .nth(1)
                    .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|e| e.parse().ok())
                    .unwrap_or(0);
                if best.is_none_or(|(e, _)| epoch >= e) {
                    best = Some((epoch, i));
                }
            }
        }
        best.map(|(_, i)| i)
    }

    pub fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Drop for Kafka {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill_node(i);
        }
    }
}
