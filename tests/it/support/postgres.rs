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

    /// Start a cluster of PostgreSQL `version` (15 to 18) with `wal_level`. Its
    /// `logical_decoding_work_mem` is the minimum (64 kB), so every transaction larger than
    /// that reaches sluice while it runs (protocol 2 streaming) in every test: the
    /// differential cases then check that path against Debezium's protocol-1 recordings.
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
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nwal_sender_timeout = 30s\n\
             logical_decoding_work_mem = 64kB\n"
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

    /// A physical standby of this server (PostgreSQL 17+), a copy of its data directory
    /// taken while it is stopped for a moment: it streams from the physical slot `sb`
    /// (`hot_standby_feedback`) and synchronizes failover logical slots
    /// (`sync_replication_slots`); this server waits for it before sending logical changes
    /// (`synchronized_standby_slots`), so nothing a logical consumer saw is missing on it.
    pub async fn start_standby(&self) -> Pg {
        let c = self.connect("postgres").await;
        c.batch_execute("SELECT pg_create_physical_replication_slot('sb')")
            .await
            .expect("physical slot");
        c.batch_execute("ALTER SYSTEM SET synchronized_standby_slots = 'sb'")
            .await
            .expect("synchronized_standby_slots");
        drop(c);
        let d = self.dir.display();
        as_postgres(&format!(
            "{} -D {d} -m fast -w stop >/dev/null",
            self.bin_pg_ctl()
        ));
        let tmp = tempfile::Builder::new()
            .prefix("sluice-pg-")
            .tempdir()
            .expect("temp dir");
        let dir = tmp.path().join("data");
        Command::new("chown")
            .args(["postgres:postgres", &tmp.path().display().to_string()])
            .status()
            .expect("chown");
        as_postgres(&format!("cp -a {d} {}", dir.display()));
        let port = super::free_port();
        let sd = dir.display();
        let conf = format!(
            "port = {port}\nunix_socket_directories = '{sd}'\nhot_standby = on\n\
             hot_standby_feedback = on\nsync_replication_slots = on\nprimary_slot_name = 'sb'\n\
             primary_conninfo = 'host=127.0.0.1 port={} user=postgres dbname=postgres'\n",
            self.port
        );
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("postgresql.conf"))
            .and_then(|mut f| std::io::Write::write_all(&mut f, conf.as_bytes()))
            .expect("standby postgresql.conf");
        // The copy is not the primary: no `synchronized_standby_slots` (after a promotion
        // its logical walsenders would wait for a standby it does not have) and no copy of
        // the physical slot.
        let auto = dir.join("postgresql.auto.conf");
        let kept: String = std::fs::read_to_string(&auto)
            .expect("postgresql.auto.conf")
            .lines()
            .filter(|l| !l.starts_with("synchronized_standby_slots"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&auto, kept).expect("postgresql.auto.conf");
        as_postgres(&format!(
            "rm -rf {sd}/pg_replslot/sb && touch {sd}/standby.signal"
        ));
        as_postgres(&format!(
            "{} -D {d} -l {d}/server.log -w start >/dev/null",
            self.bin_pg_ctl()
        ));
        as_postgres(&format!(
            "{} -D {sd} -l {sd}/server.log -w start >/dev/null",
            self.bin_pg_ctl()
        ));
        Pg {
            port,
            bin: self.bin.clone(),
            dir,
            _tmp: tmp,
        }
    }

    /// Make this standby a primary.
    pub fn promote(&self) {
        as_postgres(&format!(
            "{} -D {} -w promote >/dev/null",
            self.bin_pg_ctl(),
            self.dir.display()
        ));
    }

    /// Stop at once (no shutdown checkpoint), as a crash would.
    pub fn crash(&self) {
        as_postgres(&format!(
            "{} -D {} -m immediate stop >/dev/null",
            self.bin_pg_ctl(),
            self.dir.display()
        ));
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

/// Until `n` replication slots of the server behind `c` are active (their sluice streams).
pub async fn wait_active_slots(c: &Client, n: i64) {
    super::wait_for(
        "streaming slots",
        std::time::Duration::from_secs(60),
        || async {
            let row = c
                .query_one(
                    "SELECT count(*) FROM pg_replication_slots WHERE active",
                    &[],
                )
                .await
                .ok()?;
            (row.get::<_, i64>(0) >= n).then_some(())
        },
    )
    .await;
}
