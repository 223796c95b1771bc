//! Sink targets for tests: osmem-server (OpenSearch API), redis-server, memcached.

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
    Server { port, child }
}

/// redis-server without persistence.
pub fn redis() -> Server {
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
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server (apt-get install redis-server)");
    wait_port(port, "redis-server");
    Server { port, child }
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
    Server { port, child }
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
