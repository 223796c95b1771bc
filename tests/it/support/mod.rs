//! Test harness: real servers on free ports in temp dirs, stopped when dropped.
//! Waits are conditions with deadlines, never fixed sleeps.

pub mod config;
mod databases;
pub mod kafka;
pub mod mariadb;
pub mod postgres;
pub mod sluice;
pub mod targets;

pub use databases::database_dir;

use std::time::{Duration, Instant};

/// A temp dir for a test; kept (and printed) when `SLUICE_KEEP_TEST_DIRS` is set.
pub fn test_dir() -> tempfile::TempDir {
    let mut d = tempfile::Builder::new()
        .prefix("sluice-test-")
        .tempdir()
        .expect("temp dir");
    if std::env::var_os("SLUICE_KEEP_TEST_DIRS").is_some() {
        d.disable_cleanup(true);
        eprintln!("test dir kept: {}", d.path().display());
    }
    d
}

/// A free TCP port on 127.0.0.1, never one handed out before in this process (the OS can
/// return the same ephemeral port to two calls in a row once the first listener closed, and a
/// server given the same port twice fails to start).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
        let port = l.local_addr().expect("local addr").port();
        let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Poll `f` until it returns `Some` or `timeout` passes.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sum of a counter over all label sets in a sluice process's /metrics whose line starts with
/// `name` (a name, or a name with its label set); 0 when the process does not answer.
pub async fn metric(http: u16, name: &str) -> f64 {
    let Ok(resp) = reqwest::get(format!("http://127.0.0.1:{http}/metrics")).await else {
        return 0.0;
    };
    let text = resp.text().await.unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
