//! A throwaway PostgreSQL cluster (initdb as user `postgres`), configured for CDC: Debian's
//! PostgreSQL 15 by default, or 16, 17 or 18 (zonky's binaries, laid out by
//! `tests/services/databases.sh`).

use std::path::PathBuf;
use std::process::Command;

use tokio_postgres::{Client, NoTls};

/// The server binaries of PostgreSQL `version`.
fn bin(version: u32) -> String {
    if version == 15 {
        return "/usr/lib/postgresql/15/bin".into();
    }
    format!(
        "{}/bin",
        super::database_dir(&format!("postgresql-{version}"), "bin/initdb")
    )
}

/// A running cluster; stopped and deleted on drop.
pub struct Pg {
    pub port: u16,
    bin: String,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

fn as_postgres(cmd: &str) -> std::process::Output {
    let out = Command::new("su")
        .args(["postgres", "-s", "/bin/bash", "-c", cmd])
        .output()
        .expect("run su postgres");
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Pg {
    /// Start a PostgreSQL 15 cluster with `wal_level` (`logical` for CDC).
    pub fn start(wal_level: &str) -> Pg {
        Pg::start_version(wal_level, 15)
    }

    /// Start a cluster of PostgreSQL `version` (15 to 18) with `wal_level`.
    pub fn start_version(wal_level: &str, version: u32) -> Pg {
        let bin = bin(version);
        let tmp = tempfile::Builder::new()
            .prefix("sluice-pg-")
            .tempdir()
            .expect("temp dir");
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).expect("data dir");
        Command::new("chown")
            .args(["-R", "postgres:postgres", &tmp.path().display().to_string()])
            .status()
            .expect("chown");
        let d = dir.display();
        as_postgres(&format!(
            "{bin}/initdb -D {d} -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null"
        ));
        let port = super::free_port();
        let conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{d}'\n\
             wal_level = {wal_level}\nmax_replication_slots = 20\nmax_wal_senders = 20\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nwal_sender_timeout = 30s\n"
        );
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("postgresql.conf"))
            .and_then(|mut f| std::io::Write::write_all(&mut f, conf.as_bytes()))
            .expect("write postgresql.conf");
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("pg_hba.conf"))
            .and_then(|mut f| {
                std::io::Write::write_all(&mut f, b"host replication all 127.0.0.1/32 trust\n")
            })
            .expect("write pg_hba.conf");
        as_postgres(&format!(
            "{bin}/pg_ctl -D {d} -l {d}/server.log -w start >/dev/null"
        ));
        Pg {
            port,
            bin,
            dir,
            _tmp: tmp,
        }
    }

    fn bin_pg_ctl(&self) -> String {
        format!("{}/pg_ctl", self.bin)
    }

    /// Connect to `db` as the superuser.
    pub async fn connect(&self, db: &str) -> Client {
        let (client, conn) = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={} user=postgres dbname={db}",
                self.port
            ),
            NoTls,
        )
        .await
        .expect("connect to test postgres");
        tokio::spawn(conn);
        client
    }

    /// Create a fresh database and return a client for it.
    pub async fn create_db(&self, db: &str) -> Client {
        let admin = self.connect("postgres").await;
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .expect("create database");
        self.connect(db).await
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
                    "{} -D {d} -m immediate stop >/dev/null 2>&1",
                    self.bin_pg_ctl()
                ),
            ])
            .status();
    }
}
