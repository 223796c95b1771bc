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

/// Read every record of `topic` from the beginning with kcat.
pub fn kcat_read(bootstrap: &str, topic: &str) -> Vec<KRecord> {
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
            "-Z",
            "-f",
            "%p\t%K\t%k\t%S\t%s\n",
        ])
        .output()
        .expect("run kcat (apt-get install kcat)");
    let text = String::from_utf8_lossy(&out.stdout);
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
}

impl Drop for Noida {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
