//! Sink targets for tests: a real OpenSearch 2.19 (embedded node, `tests/services/opensearch`),
//! a real Elasticsearch 8.19 (the same, `tests/services/elasticsearch`),
//! osmem-server (OpenSearch API), redis-server, memcached.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// A child process killed on drop.
pub struct Server {
    pub port: u16,
    child: Child,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn osmem_bin() -> PathBuf {
    let out = Command::new("python3")
        .args([
            "-c",
            "import osmem_server,os;print(os.path.dirname(osmem_server.__file__))",
        ])
        .output()
        .expect("python3");
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !dir.is_empty(),
        "osmem-server is not installed: pip install osmem-server==0.1.6"
    );
    PathBuf::from(dir).join("bin").join("osmem-server")
}

/// osmem-server, an in-memory server with the OpenSearch API.
pub fn osmem() -> Server {
    let port = super::free_port();
    let child = Command::new(osmem_bin())
        .args([
            "-addr",
            &format!("127.0.0.1:{port}"),
            "-no-stdin-watch",
            "-no-ja",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start osmem-server");
    wait_port(port, "osmem-server");
    Server {
        port,
        child,
        _dir: None,
    }
}

/// The Java servers' directory, with their classpaths laid out by `tests/services/build.sh`
/// (run once per test process; Maven caches the jars in `~/.m2`).
pub fn services_dir() -> PathBuf {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/services");
    BUILT.get_or_init(|| {
        let ok = Command::new("bash")
            .arg(dir.join("build.sh"))
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "tests/services/build.sh failed: it needs java (17) and mvn with Maven Central"
        );
    });
    dir
}

/// `target/classes` (when built) and every jar of a service, as a Java classpath.
pub fn classpath(service: &str) -> String {
    classpath_in(&services_dir().join(service).join("target"))
}

/// `classes` and every jar of `deps` below `dir`, as a Java classpath.
fn classpath_in(dir: &std::path::Path) -> String {
    let mut parts = vec![dir.join("classes").display().to_string()];
    let mut jars: Vec<_> = std::fs::read_dir(dir.join("deps"))
        .expect("service classpath (tests/services/build.sh)")
        .filter_map(|e| Some(e.ok()?.path().display().to_string()))
        .filter(|p| p.ends_with(".jar"))
        .collect();
    jars.sort();
    parts.extend(jars);
    parts.join(":")
}

/// A real single-node OpenSearch 2.19. `write_queue` shrinks the write thread pool to one
/// thread with that queue, so concurrent bulks get 429s.
pub fn opensearch(write_queue: Option<u32>) -> Server {
    let dir = super::test_dir();
    let port = super::free_port();
    let mut cmd = Command::new("java");
    cmd.args(["-Xms256m", "-Xmx512m", "-XX:+UseSerialGC", "-cp"])
        .arg(classpath("opensearch"))
        .arg("sluice.testing.EmbeddedOpenSearch")
        .arg(dir.path().join("home"))
        .arg(port.to_string())
        .arg(super::free_port().to_string())
        .arg(write_queue.map_or(-1, i64::from).to_string());
    java_node("OpenSearch", cmd, dir, port)
}

/// Start an embedded search node (`cmd`: java with its arguments), its log in `dir`, and wait
/// for its `READY` line.
fn java_node(name: &str, mut cmd: Command, dir: tempfile::TempDir, port: u16) -> Server {
    let log_path = dir.path().join("node.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let child = cmd
        .stdin(Stdio::piped())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start java");
    let server = Server {
        port,
        child,
        _dir: Some(dir),
    };
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.contains("READY") {
            break;
        }
        assert!(
            Instant::now() < deadline && !text.contains("Exception in thread \"main\""),
            "{name} did not start:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

/// A real single-node Elasticsearch 8.19 (`tests/services/elasticsearch`). Elasticsearch
/// refuses to run as root: as root it runs as `nobody` (setpriv), from the copy of its
/// classpath that `build.sh` lays out where any user can read it.
pub fn elasticsearch() -> Server {
    services_dir();
    let laid_out = PathBuf::from(
        std::env::var("SLUICE_SERVICES").unwrap_or_else(|_| "/var/tmp/sluice-services".into()),
    )
    .join("elasticsearch");
    let dir = super::test_dir();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    {
        use std::os::unix::fs::PermissionsExt;
        let open = |p: &std::path::Path, mode| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod")
        };
        open(dir.path(), 0o755);
        open(&home, 0o777);
    }
    let port = super::free_port();
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--reset-env",
            "java",
        ]);
        c
    } else {
        Command::new("java")
    };
    cmd.args(["-Xms256m", "-Xmx512m", "-XX:+UseSerialGC", "-cp"])
        .arg(classpath_in(&laid_out))
        .arg("sluice.testing.EmbeddedElasticsearch")
        .arg(&home)
        .arg(port.to_string())
        .arg(super::free_port().to_string());
    java_node("Elasticsearch", cmd, dir, port)
}

/// redis-server without persistence.
pub fn redis() -> Server {
    redis_with(&[])
}

/// redis-server without persistence that requires `password` (`requirepass`).
pub fn redis_requiring(password: &str) -> Server {
    redis_with(&["--requirepass", password])
}

fn redis_with(extra: &[&str]) -> Server {
    let port = super::free_port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server (apt-get install redis-server)");
    wait_port(port, "redis-server");
    Server {
        port,
        child,
        _dir: None,
    }
}

/// memcached.
pub fn memcached() -> Server {
    let port = super::free_port();
    let child = Command::new("memcached")
        .args([
            "-p",
            &port.to_string(),
            "-l",
            "127.0.0.1",
            "-U",
            "0",
            "-u",
            "root",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start memcached (apt-get install memcached)");
    wait_port(port, "memcached");
    Server {
        port,
        child,
        _dir: None,
    }
}

/// All documents of an index (after a refresh), by `_id`.
pub async fn search_docs(
    base: &str,
    index: &str,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let client = reqwest::Client::new();
    let _ = client.post(format!("{base}/{index}/_refresh")).send().await;
    let resp = client
        .post(format!("{base}/{index}/_search"))
        .header("content-type", "application/json")
        .body(r#"{"size":10000,"query":{"match_all":{}}}"#)
        .send()
        .await;
    let mut out = std::collections::BTreeMap::new();
    let Ok(resp) = resp else { return out };
    let Ok(bytes) = resp.bytes().await else {
        return out;
    };
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return out;
    };
    for hit in body["hits"]["hits"].as_array().cloned().unwrap_or_default() {
        if let Some(id) = hit["_id"].as_str() {
            out.insert(id.to_string(), hit["_source"].clone());
        }
    }
    out
}

/// Read one memcached key.
pub fn memcached_get(port: u16, key: &str) -> Option<String> {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(format!("get {key}\r\n").as_bytes()).ok()?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    if line.starts_with("END") {
        return None;
    }
    let mut value = String::new();
    r.read_line(&mut value).ok()?;
    Some(value.trim_end().to_string())
}

/// GET `path` from the registry at `url` (basic auth optional), as JSON.
pub async fn registry_get(url: &str, path: &str, auth: Option<(&str, &str)>) -> serde_json::Value {
    let mut req = reqwest::Client::new().get(format!("{url}{path}"));
    if let Some((u, p)) = auth {
        req = req.basic_auth(u, Some(p));
    }
    let text = req
        .send()
        .await
        .expect("registry")
        .text()
        .await
        .expect("body");
    serde_json::from_str(&text).expect("json")
}

/// The in-repo Confluent-compatible Schema Registry (`tests/services/registry/registry.py`;
/// no real registry runs on this machine, see README "Tests"), with optional basic auth and
/// a global compatibility level (`BACKWARD`, `NONE`).
pub fn registry(auth: Option<(&str, &str)>, compatibility: &str) -> Server {
    let port = super::free_port();
    let script = services_dir().join("registry").join("registry.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script).args([
        "--port",
        &port.to_string(),
        "--compatibility",
        compatibility,
    ]);
    if let Some((u, p)) = auth {
        cmd.args(["--user", u, "--password", p]);
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the test schema registry");
    wait_port(port, "the test schema registry");
    Server {
        port,
        child,
        _dir: None,
    }
}

/// Decode the Avro topics with confluent-kafka's AvroDeserializer and compare them with the
/// JSON topics (`tests/services/registry/compare.py`): `Ok(report)` when every record
/// matches, `Err(report)` otherwise.
pub fn compare_avro(
    bootstrap: &str,
    registry: &str,
    auth: Option<&str>,
    pairs: &[(String, String)],
) -> Result<String, String> {
    let script = services_dir().join("registry").join("compare.py");
    let arg = serde_json::json!({"bootstrap": bootstrap, "registry": registry, "auth": auth, "pairs": pairs});
    let out = Command::new("python3")
        .arg(script)
        .arg(arg.to_string())
        .output()
        .expect("run compare.py (pip install 'confluent-kafka[avro,schemaregistry]')");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}
