//! A typed builder for the configs tests run sluice with: one PostgreSQL connector into
//! Kafka, its settings as typed calls instead of YAML text, the HTTP port known to the test.
//!
//! ```ignore
//! let cfg = PgConnector::new("v2", pg.port, "app", &bootstrap)
//!     .table("public.big")
//!     .source("in_progress_memory_bytes", 200_000)
//!     .write(dir);
//! let child = sluice::spawn(&cfg.path, &dir.join("v2.log"));
//! metric(cfg.http, "…").await;
//! ```

use std::fmt::Display;
use std::path::{Path, PathBuf};

/// One PostgreSQL → Kafka connector and its service.
pub struct PgConnector {
    name: String,
    port: u16,
    database: String,
    bootstrap: String,
    tables: Vec<String>,
    service: Vec<(String, String)>,
    connector: Vec<(String, String)>,
    source: Vec<(String, String)>,
    sink: Vec<(String, String)>,
}

/// A written config.
pub struct Written {
    /// The file.
    pub path: PathBuf,
    /// The HTTP API's port on 127.0.0.1.
    pub http: u16,
}

impl PgConnector {
    /// Connector `name` on database `database` of the server at `port`, into `bootstrap`;
    /// the topic prefix is `name`, the status interval 200 ms.
    pub fn new(name: &str, port: u16, database: &str, bootstrap: &str) -> Self {
        Self {
            name: name.into(),
            port,
            database: database.into(),
            bootstrap: bootstrap.into(),
            tables: Vec::new(),
            service: Vec::new(),
            connector: Vec::new(),
            source: vec![("status_interval_ms".into(), "200".into())],
            sink: Vec::new(),
        }
    }

    /// Capture `table` (`schema.table`).
    pub fn table(mut self, table: &str) -> Self {
        self.tables.push(table.into());
        self
    }

    /// A service setting (`service.<key>`; a nested value starts with a line end and is
    /// indented by four spaces).
    pub fn service(mut self, key: &str, value: impl Display) -> Self {
        set(&mut self.service, key, value);
        self
    }

    /// A connector setting beside its source and sink (`max_batch_events`, …).
    pub fn connector(mut self, key: &str, value: impl Display) -> Self {
        set(&mut self.connector, key, value);
        self
    }

    /// A source setting (the value as YAML; strings are quoted by the caller when needed; a
    /// nested value starts with a line end and is indented by eight spaces).
    pub fn source(mut self, key: &str, value: impl Display) -> Self {
        set(&mut self.source, key, value);
        self
    }

    /// A sink setting.
    pub fn sink(mut self, key: &str, value: impl Display) -> Self {
        set(&mut self.sink, key, value);
        self
    }

    /// Write `<dir>/<name>.yaml`, offsets under `<dir>/offsets-<name>`.
    pub fn write(self, dir: &Path) -> Written {
        let http = super::free_port();
        let tables = self
            .tables
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let mut text = format!(
            "service:\n  http_listen_addr: 127.0.0.1:{http}\n  offsets_dir: {off}\n",
            off = dir.join(format!("offsets-{}", self.name)).display()
        );
        for (k, v) in &self.service {
            text.push_str(&format!("  {k}: {v}\n"));
        }
        text.push_str(&format!("connectors:\n  {}:\n", self.name));
        for (k, v) in &self.connector {
            text.push_str(&format!("    {k}: {v}\n"));
        }
        text.push_str(&format!(
            "    source:\n      type: postgres\n      host: 127.0.0.1\n      port: {port}\n      \
             user: postgres\n      database: {db}\n      tables: [{tables}]\n",
            port = self.port,
            db = self.database,
        ));
        for (k, v) in &self.source {
            text.push_str(&format!("      {k}: {v}\n"));
        }
        text.push_str(&format!(
            "    sink:\n      type: kafka\n      bootstrap_servers: \"{}\"\n",
            self.bootstrap
        ));
        for (k, v) in &self.sink {
            text.push_str(&format!("      {k}: {v}\n"));
        }
        let path = dir.join(format!("{}.yaml", self.name));
        std::fs::write(&path, text).expect("write config");
        Written { path, http }
    }
}

/// `key` set to `value` in `settings` (a later setting replaces an earlier one).
fn set(settings: &mut Vec<(String, String)>, key: &str, value: impl Display) {
    settings.retain(|(k, _)| k != key);
    settings.push((key.into(), value.to_string()));
}
