//! Run the real `sluice` binary on a config written for the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running sluice process, killed (SIGKILL) when dropped so a failing test leaves nothing.
pub struct Sluice(pub Child);

impl Sluice {
    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// SIGTERM and wait for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.0.wait().expect("wait for sluice")
    }
}

impl Drop for Sluice {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Start `sluice run --config path`, logs to `dir/sluice.log`.
pub fn spawn(config: &Path, log: &Path) -> Sluice {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "--config"])
        .arg(config)
        .env(
            "RUST_LOG",
            std::env::var("SLUICE_TEST_LOG")
                .unwrap_or_else(|_| "info,librdkafka=warn,rdkafka=warn".into()),
        )
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map(Sluice)
        .expect("start sluice")
}

/// Run sluice to completion and capture its exit status and stderr.
pub fn run_to_end(args: &[&str], config: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run sluice");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Write a config file from YAML text (for sink connectors and multi-connector setups).
pub fn write_raw(dir: &Path, file: &str, yaml: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, yaml).expect("write config");
    path
}
