//! A throwaway MariaDB 10.11 server (`mariadb-install-db` + `mariadbd`), or a real MySQL
//! 8.0.31 (laid out by `tests/services/databases.sh`, with GTIDs on), configured for CDC:
//! `log_bin`, `binlog_format=ROW`, `binlog_row_image=FULL`, `binlog_row_metadata=FULL`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// User with every privilege, reachable over TCP.
pub const USER: &str = "sluice";
/// Its password.
pub const PASSWORD: &str = "sluice-pw";

/// A running server; killed and deleted on drop.
pub struct Maria {
    pub port: u16,
    /// MySQL 8.0 rather than MariaDB.
    pub mysql8: bool,
    dir: PathBuf,
    child: Option<Child>,
    _tmp: tempfile::TempDir,
}

/// Where `tests/services/databases.sh` laid out MySQL 8.0.
fn mysql8_base() -> String {
    super::database_dir("mysql-8.0", "bin/mysqld")
}

impl Maria {
    /// Initialise a data dir and start MariaDB.
    pub fn start() -> Maria {
        Maria::start_flavor(false)
    }

    /// Initialise a data dir and start a real MySQL 8.0.31 (GTIDs on; sluice's user
    /// authenticates with MySQL 8's default, `caching_sha2_password`).
    pub fn start_mysql8() -> Maria {
        Maria::start_flavor(true)
    }

    fn start_flavor(mysql8: bool) -> Maria {
        let tmp = tempfile::Builder::new()
            .prefix("sluice-maria-")
            .tempdir()
            .expect("temp dir");
        let dir = tmp.path().to_path_buf();
        let d = dir.display().to_string();
        Command::new("chown")
            .args(["-R", "mysql:mysql", &d])
            .status()
            .expect("chown");
        // Parallel installs would share /tmp for their temporary tables: give each its own.
        std::fs::create_dir(format!("{d}/tmp")).expect("tmp dir");
        Command::new("chown")
            .args(["-R", "mysql:mysql", &d])
            .status()
            .expect("chown");
        let out = if mysql8 {
            let base = mysql8_base();
            Command::new(format!("{base}/bin/mysqld"))
                .env("LD_LIBRARY_PATH", format!("{base}/bin:{base}/lib/private"))
                .args([
                    "--no-defaults",
                    "--initialize-insecure",
                    "--user=mysql",
                    &format!("--basedir={base}"),
                    &format!("--datadir={d}/data"),
                    &format!("--tmpdir={d}/tmp"),
                ])
                .output()
                .expect("run mysqld --initialize-insecure")
        } else {
            Command::new("mariadb-install-db")
                .args([
                    "--no-defaults",
                    &format!("--datadir={d}/data"),
                    &format!("--tmpdir={d}/tmp"),
                    "--user=mysql",
                    "--skip-test-db",
                ])
                .output()
                .expect("run mariadb-install-db")
        };
        assert!(
            out.status.success(),
            "initialising the data dir: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut m = Maria {
            port: super::free_port(),
            mysql8,
            dir,
            child: None,
            _tmp: tmp,
        };
        m.launch();
        m.sql(&format!(
            "CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'; \
             GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%';"
        ));
        m
    }

    fn launch(&mut self) {
        let d = self.dir.display().to_string();
        let mut cmd = if self.mysql8 {
            let base = mysql8_base();
            let mut c = Command::new(format!("{base}/bin/mysqld"));
            c.env("LD_LIBRARY_PATH", format!("{base}/bin:{base}/lib/private"));
            c
        } else {
            Command::new("/usr/sbin/mariadbd")
        };
        // `--no-defaults` must come first.
        cmd.arg("--no-defaults");
        if self.mysql8 {
            cmd.args([
                format!("--basedir={}", mysql8_base()),
                "--gtid-mode=ON".into(),
                "--enforce-gtid-consistency=ON".into(),
                "--mysqlx=OFF".into(),
            ]);
        }
        let child = cmd
            .args([
                "--user=mysql",
                &format!("--datadir={d}/data"),
                &format!("--tmpdir={d}/tmp"),
                &format!("--port={}", self.port),
                "--bind-address=127.0.0.1",
                &format!("--socket={d}/mysqld.sock"),
                &format!("--pid-file={d}/mysqld.pid"),
                &format!("--log-error={d}/error.log"),
                "--skip-name-resolve",
                "--server-id=1",
                "--log-bin=mysql-bin",
                "--binlog-format=ROW",
                "--binlog-row-image=FULL",
                "--binlog-row-metadata=FULL",
                "--innodb-flush-log-at-trx-commit=2",
                "--sync-binlog=0",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = Command::new("mariadb-admin")
                .args([
                    "--protocol=socket",
                    "-S",
                    &format!("{d}/mysqld.sock"),
                    "-uroot",
                    "ping",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "mariadbd did not start; see {d}/error.log"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's data directory (MySQL 8 writes its generated `ca.pem` there).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Run SQL (one or many statements, one session) as root through the socket.
    pub fn sql(&self, script: &str) -> String {
        let sock = format!("{}/mysqld.sock", self.dir.display());
        let mut child = Command::new("mariadb")
            // utf8mb4, as the Debezium oracle's client runs the same SQL.
            .args([
                "--protocol=socket",
                "-S",
                &sock,
                "-uroot",
                "-N",
                "-B",
                "--default-character-set=utf8mb4",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run mariadb client");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(script.as_bytes())
            .expect("write script");
        let out = child.wait_with_output().expect("mariadb client");
        assert!(
            out.status.success(),
            "SQL failed: {}\n{script}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The YAML `source:` block for a sluice connector capturing `tables`.
    pub fn source_yaml(&self, tables: &[&str], extra: &str) -> String {
        let tables = tables
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "    source:\n      type: mysql\n      host: 127.0.0.1\n      port: {}\n      user: {USER}\n      password: {PASSWORD}\n      tables: [{tables}]\n      heartbeat_interval_ms: 1000\n{extra}",
            self.port
        )
    }
}

impl Drop for Maria {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
