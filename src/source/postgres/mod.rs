//! PostgreSQL source: preflight, publication and slot, consistent snapshot, WAL streaming.
//!
//! ```text
//! start ─► preflight (wal_level, REPLICATION, tables) ─► publication ─► offsets + slot state
//!   ├─ snapshot needed: drop stale slot ─► CREATE_REPLICATION_SLOT … EXPORT_SNAPSHOT
//!   │       ─► import snapshot (RR txn) ─► START_REPLICATION at consistent point
//!   │       ─► COPY every table (op r) ─► checkpoint {consistent point, snapshot_done}
//!   └─ otherwise: START_REPLICATION from max(stored offset, slot confirmed_flush_lsn)
//! stream ─► replication::StreamDecoder ─► Batch{events, checkpoint = commit end LSN}
//! acks (only durable checkpoints) ─► standby status update (slot confirmed_flush_lsn)
//! ```
//! Invariants: no gap and no duplicate between snapshot and stream (same exported snapshot
//! and consistent point); the slot never advances past what the sink made durable; an
//! interrupted snapshot is redone from scratch with a new slot.

mod catalog;
mod error;
#[cfg(test)]
mod golden_tests;
mod incremental;
mod pgoutput;
mod replication;
mod slot;
mod snapshot;
mod streamed;
mod types;

use std::sync::Arc;
use std::time::Duration;

use pgwire_replication::{ReplicationClient, ReplicationConfig, ReplicationEvent, TlsConfig};
use secrecy::ExposeSecret;
use tokio::time::Instant;

pub use error::PgSourceError;
pub use pgoutput::{decode as decode_pgoutput, DecodeError, Message as PgOutputMessage};
pub use snapshot::CopyText;

use crate::config::{PostgresSettings, SnapshotMode, TlsMode};
use crate::event::{Lsn, SnapshotProgress, TableId};
use crate::offsets::OffsetStore;
use crate::source::batcher::Batcher;
use crate::source::keys::KeyOverrides;
use crate::source::{Batch, BatchLimits, Checkpoint, SourceEnd, SourceIo, TableShape};
use crate::telemetry::{Health, Telemetry};

/// The PostgreSQL source of one connector.
#[derive(Debug)]
pub struct PostgresSource {
    connector: String,
    settings: Arc<PostgresSettings>,
    /// The tables named in `tables`.
    named: Vec<TableId>,
    /// `table_include_list` / `table_exclude_list`.
    patterns: crate::config::TableFilter,
    /// The captured tables of this run: the named ones and those the patterns match.
    tables: Vec<TableId>,
    slot: String,
    publication: String,
    /// Key overrides checked strictly against the catalog at start.
    keys: KeyOverrides,
    /// The same, lenient, for every later read (snapshot, re-reads after DDL): a configured
    /// key column dropped meanwhile falls back to the primary key instead of halting.
    stream_keys: KeyOverrides,
    limits: BatchLimits,
    offsets: OffsetStore,
    telemetry: Telemetry,
    /// Snapshot requests from the management API.
    inbox: crate::source::incremental::SnapshotInbox,
    /// Debezium's Kafka signal channel, when configured.
    kafka_signals: Option<crate::source::incremental::KafkaSignalSettings>,
    /// Cluster mode: the group gave this connector to this worker, so a session that still
    /// holds the slot is a stale owner's (paused, cut off) and is ended.
    take_over_slot: bool,
    /// Protocol 2 with `streaming` (set at each start: configured and the server is 14+).
    streaming: bool,
    /// The server this attempt streams from: `host`/`port` or one of `failover_hosts`.
    endpoint: (String, u16),
    /// Its `server_version_num`.
    server_version: u32,
}

/// What the stream loop passes on with each message of a transaction.
struct Intake<'a> {
    b: &'a mut Batcher,
    inc: &'a mut incremental::Runner,
    signal: Option<&'a TableId>,
    signals: &'a mut Vec<crate::source::incremental::Request>,
}

fn session_options() -> String {
    types::SESSION_SETTINGS
        .iter()
        .map(|(k, v)| format!("-c {k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn to_wire(l: Lsn) -> pgwire_replication::Lsn {
    pgwire_replication::Lsn(l.0)
}

fn from_wire(l: pgwire_replication::Lsn) -> Lsn {
    Lsn(l.0)
}

impl PostgresSource {
    /// Create the source; nothing connects until [`PostgresSource::run`].
    pub fn new(
        connector: &str,
        settings: Arc<PostgresSettings>,
        limits: BatchLimits,
        offsets: OffsetStore,
        telemetry: Telemetry,
    ) -> Self {
        let tables = crate::source::table_ids(&settings.tables);
        // Validated at load; an invalid pattern cannot reach here.
        let patterns = crate::config::TableFilter::new(
            &settings.table_include_list,
            &settings.table_exclude_list,
        )
        .unwrap_or_default();
        Self {
            endpoint: (settings.host.clone(), settings.port),
            named: tables.clone(),
            patterns,
            slot: settings.slot_name(connector),
            publication: settings.publication_name(connector),
            keys: KeyOverrides::new(&settings.key_columns)
                .with_filters(&settings.publication_filter),
            stream_keys: KeyOverrides::new(&settings.key_columns)
                .with_filters(&settings.publication_filter)
                .lenient(),
            connector: connector.to_string(),
            settings,
            tables,
            limits,
            offsets,
            telemetry,
            inbox: Default::default(),
            kafka_signals: None,
            take_over_slot: false,
            streaming: false,
            server_version: 0,
        }
    }

    /// Read Debezium signals from a Kafka topic too.
    pub fn with_kafka_signals(
        mut self,
        s: Option<crate::source::incremental::KafkaSignalSettings>,
    ) -> Self {
        self.kafka_signals = s;
        self
    }

    /// In a cluster (see [`PostgresSource::take_over_slot`]): end a stale owner's session
    /// on the slot instead of waiting for the server's `wal_sender_timeout`.
    pub fn taking_over_slot(mut self, yes: bool) -> Self {
        self.take_over_slot = yes;
        self
    }

    /// Take snapshot requests from the management API through `inbox`.
    pub fn with_snapshot_inbox(mut self, inbox: crate::source::incremental::SnapshotInbox) -> Self {
        self.inbox = inbox;
        self
    }

    async fn sql_connect(&self) -> Result<tokio_postgres::Client, PgSourceError> {
        self.sql_connect_to(&self.endpoint.0, self.endpoint.1).await
    }

    /// `snapshot_max_threads` connections in the exported snapshot `name`. When they cannot
    /// be opened (a connection limit, a server that refuses the import), the snapshot
    /// transaction reads alone, with a warning: more readers are an optimisation.
    async fn snapshot_readers(&self, name: &str) -> snapshot::Readers {
        let mut clients = Vec::with_capacity(self.settings.snapshot_max_threads);
        for _ in 0..self.settings.snapshot_max_threads {
            let opened = match self.sql_connect().await {
                Ok(c) => snapshot::reader(c, name).await,
                Err(e) => Err(e),
            };
            match opened {
                Ok(c) => clients.push(c),
                Err(e) => {
                    tracing::warn!(connector = %self.connector, error = %e, hint = %e.hint(), "more snapshot readers could not be opened: one connection reads the snapshot");
                    clients.clear();
                    break;
                }
            }
        }
        snapshot::Readers {
            clients,
            split: self.server_version >= 140000,
        }
    }

    /// A SQL connection to the first of `host` and `failover_hosts` that accepts one and is
    /// not a standby; later connections of this attempt go to the same server.
    async fn connect_primary(&mut self) -> Result<tokio_postgres::Client, PgSourceError> {
        let endpoints = self.settings.endpoints();
        if endpoints.len() == 1 {
            return self.sql_connect().await;
        }
        let mut tried = Vec::new();
        for (host, port) in endpoints {
            let why = match self.sql_connect_to(&host, port).await {
                Ok(c) => match c.query_one("SELECT pg_is_in_recovery()", &[]).await {
                    Ok(r) if !r.get::<_, bool>(0) => {
                        if self.endpoint != (host.clone(), port) {
                            tracing::info!(connector = %self.connector, server = %format!("{host}:{port}"), "streaming from this server: the first of host and failover_hosts that is a primary");
                        }
                        self.endpoint = (host, port);
                        return Ok(c);
                    }
                    Ok(_) => "a standby",
                    Err(_) => "no answer",
                },
                Err(_) => "no connection",
            };
            tried.push(format!("{host}:{port} ({why})"));
        }
        Err(PgSourceError::NoPrimary {
            tried: tried.join(", "),
        })
    }

    async fn sql_connect_to(
        &self,
        host: &str,
        port: u16,
    ) -> Result<tokio_postgres::Client, PgSourceError> {
        let s = &self.settings;
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(host)
            .port(port)
            .user(&s.user)
            .dbname(&s.database)
            .application_name(format!("sluice-{}", self.connector))
            .options(session_options())
            .connect_timeout(Duration::from_secs(10));
        if let Some(p) = &s.password {
            cfg.password(p.expose_secret());
        }
        let connector = self.connector.clone();
        let log_end = move |r: Result<(), tokio_postgres::Error>| {
            if let Err(e) = r {
                tracing::debug!(connector = %connector, error = %e, "sql connection ended");
            }
        };
        let client = match s.tls.mode {
            TlsMode::Disable => {
                let (client, conn) = cfg
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(PgSourceError::sql("connecting"))?;
                tokio::spawn(async move { log_end(conn.await) });
                client
            }
            mode => {
                let mut b = native_tls::TlsConnector::builder();
                if mode == TlsMode::Require {
                    b.danger_accept_invalid_certs(true);
                }
                if mode != TlsMode::VerifyFull {
                    b.danger_accept_invalid_hostnames(true);
                }
                if let Some(ca) = &s.tls.ca_file {
                    let pem = std::fs::read(ca).map_err(|e| PgSourceError::Precondition {
                        problem: format!("cannot read source.tls.ca_file {}: {e}", ca.display()),
                        hint: "point ca_file at a readable PEM file".into(),
                    })?;
                    let cert =
                        native_tls::Certificate::from_pem(&pem).map_err(PgSourceError::Tls)?;
                    b.add_root_certificate(cert);
                }
                let tls = postgres_native_tls::MakeTlsConnector::new(
                    b.build().map_err(PgSourceError::Tls)?,
                );
                cfg.ssl_mode(tokio_postgres::config::SslMode::Require);
                let (client, conn) = cfg
                    .connect(tls)
                    .await
                    .map_err(PgSourceError::sql("connecting with tls"))?;
                tokio::spawn(async move { log_end(conn.await) });
                client
            }
        };
        Ok(client)
    }

    fn repl_config(&self, start: Lsn, ack: Option<Lsn>) -> ReplicationConfig {
        let s = &self.settings;
        let tls = match s.tls.mode {
            TlsMode::Disable => TlsConfig::disabled(),
            TlsMode::Require => TlsConfig::require(),
            TlsMode::VerifyCa => TlsConfig::verify_ca(s.tls.ca_file.clone()),
            TlsMode::VerifyFull => TlsConfig::verify_full(s.tls.ca_file.clone()),
        };
        let mut cfg = ReplicationConfig::new(
            self.endpoint.0.clone(),
            s.user.clone(),
            s.password
                .as_ref()
                .map(|p| p.expose_secret().to_string())
                .unwrap_or_default(),
            s.database.clone(),
            self.slot.clone(),
            self.publication.clone(),
        )
        .with_port(self.endpoint.1)
        .with_tls(tls)
        .with_options(match s.logical_decoding_work_mem_kb {
            // The walsender's own setting: how large a transaction grows before the server
            // streams (or spills) it.
            Some(kb) => format!("{} -c logical_decoding_work_mem={kb}kB", session_options()),
            None => session_options(),
        })
        .with_application_name(format!("sluice-{}", self.connector))
        .with_status_interval(Duration::from_millis(s.status_interval_ms))
        .with_streaming(self.streaming)
        .with_origin_none(s.origin == crate::config::Origin::None)
        .with_start_lsn(to_wire(start));
        if let Some(a) = ack {
            cfg = cfg.with_ack_lsn(to_wire(a));
        }
        cfg
    }

    /// Run until shutdown, completion or error. Call again after a transient error: the
    /// source resumes from the last acknowledged checkpoint.
    pub async fn run(&mut self, io: SourceIo) -> Result<SourceEnd, PgSourceError> {
        let s = Arc::clone(&self.settings);
        let mut sql = self.connect_primary().await?;
        // The captured tables: the named ones, then those the patterns match.
        let mut tables = self.named.clone();
        for t in catalog::matching_tables(&sql, &self.patterns).await? {
            if !tables.contains(&t) {
                tables.push(t);
            }
        }
        self.tables = tables;
        let missing = catalog::preflight(&sql, &s.user, &self.tables).await?;
        let version = catalog::server_version(&sql).await?;
        self.server_version = version;
        self.streaming = s.stream_in_progress && version >= 140000;
        if s.origin == crate::config::Origin::None && version < 160000 {
            return Err(PgSourceError::Precondition {
                problem: format!(
                    "origin: none needs PostgreSQL 16 or newer; the server is {}",
                    version / 10000
                ),
                hint: "remove source.origin, or upgrade the server".into(),
            });
        }
        if s.slot_failover && version < 170000 {
            return Err(PgSourceError::Precondition {
                problem: format!(
                    "slot_failover needs PostgreSQL 17 or newer; the server is {}",
                    version / 10000
                ),
                hint: "remove source.slot_failover, or upgrade the server".into(),
            });
        }
        for t in &missing {
            tracing::warn!(
                connector = %self.connector,
                table = %t,
                "a listed table does not exist (yet): the others are captured, and it is captured once it is created"
            );
        }
        let present: Vec<TableId> = self
            .tables
            .iter()
            .filter(|t| !missing.contains(t))
            .cloned()
            .collect();
        // Tell the sink which tables are keyed before any event (topics, cleanup policies);
        // this also checks the configured key columns against the catalog.
        let mut shapes = Vec::with_capacity(present.len());
        for t in &present {
            let cols = catalog::table_columns(&sql, t, &self.keys).await?;
            shapes.push(TableShape {
                table: t.clone(),
                keyed: cols.iter().any(|c| c.in_pk.is_some()),
            });
        }
        if !crate::source::announce_tables(&io.tx, shapes).await {
            return Ok(SourceEnd::Stopped);
        }
        let mut decoder = replication::StreamDecoder::new(&s.database, s.emit_truncate);
        decoder.reselect = s.reselect_unavailable;

        if s.snapshot_mode == SnapshotMode::InitialOnly {
            self.telemetry
                .set_health(&self.connector, Health::Snapshotting);
            let row = sql
                .query_one("SELECT pg_current_wal_lsn()::text", &[])
                .await
                .map_err(PgSourceError::sql("reading the current WAL position"))?;
            let lsn = Lsn::parse(row.get::<_, &str>(0)).unwrap_or_default();
            let txn = snapshot::begin(&mut sql, None).await?;
            let readers = if s.snapshot_max_threads > 1 {
                let name = snapshot::export(&txn).await?;
                self.snapshot_readers(&name).await
            } else {
                snapshot::Readers::default()
            };
            let mut emitter = crate::source::snapshot::SnapshotEmitter::new(&io.tx, self.limits);
            let done = snapshot::copy_tables(
                &txn,
                &s.database,
                &present,
                &self.stream_keys,
                lsn,
                &mut decoder.registry,
                &mut emitter,
                &io.shutdown,
                &self.telemetry,
                &self.connector,
                readers,
            )
            .await?;
            if !done {
                return Ok(SourceEnd::Stopped);
            }
            txn.commit()
                .await
                .map_err(PgSourceError::sql("ending the snapshot transaction"))?;
            let cp = Checkpoint::postgres(lsn, true);
            if emitter.flush(Some(cp)).await.is_err() {
                return Ok(SourceEnd::Stopped);
            }
            drop(emitter);
            let SourceIo { tx, mut acks, .. } = io;
            drop(tx);
            while acks.changed().await.is_ok() {}
            tracing::info!(connector = %self.connector, "initial_only snapshot delivered; stopping");
            return Ok(SourceEnd::Finished);
        }

        let signal = s
            .signal_data_collection
            .as_deref()
            .and_then(crate::source::incremental::table_id);
        let mut published = present.clone();
        if let Some(t) = &signal {
            if !published.contains(t) {
                published.push(t.clone());
            }
        }
        // Row filters: checked (in a rolled-back transaction) before a publication uses one.
        let wanted: std::collections::HashMap<TableId, String> = self
            .keys
            .filters()
            .iter()
            .filter(|(t, _)| present.contains(t))
            .map(|(t, f)| (t.clone(), f.clone()))
            .collect();
        if !wanted.is_empty() && version < 150000 {
            return Err(PgSourceError::Precondition {
                problem: format!(
                    "publication_filter needs PostgreSQL 15 or newer; the server is {}",
                    version / 10000
                ),
                hint: "remove source.publication_filter, or upgrade the server".into(),
            });
        }
        let row_filters = catalog::check_row_filters(&sql, &wanted).await?;
        slot::ensure_publication(
            &sql,
            &self.publication,
            &published,
            s.create_publication,
            s.publish_via_partition_root,
            &row_filters,
            version,
        )
        .await?;
        let Some(stored) = self.offsets.load_or_stop(&io.shutdown).await? else {
            return Ok(SourceEnd::Stopped);
        };
        let mut info = slot::slot_info(&sql, &self.slot).await?;
        if let Some(pid) = info
            .as_ref()
            .and_then(|i| i.active_pid)
            .filter(|_| self.take_over_slot)
        {
            tracing::warn!(
                connector = %self.connector,
                slot = %self.slot,
                pid,
                "the replication slot is held by another session (a stale owner of this connector in the cluster?): ending it"
            );
            slot::take_over(&sql, &self.slot, pid).await?;
            info = slot::slot_info(&sql, &self.slot).await?;
        }
        if let Some(i) = &info {
            if i.plugin.as_deref() != Some("pgoutput") {
                return Err(PgSourceError::Precondition {
                    problem: format!(
                        "replication slot {} uses plugin {:?}, not pgoutput",
                        self.slot, i.plugin
                    ),
                    hint: "drop that slot or choose another source.slot_name".into(),
                });
            }
        }
        let (stored_lsn, stored_done) = match &stored {
            Some(Checkpoint::Postgres {
                lsn, snapshot_done, ..
            }) => (Some(*lsn), *snapshot_done),
            Some(other) => {
                return Err(PgSourceError::Precondition {
                    problem: format!("the offsets file holds a non-PostgreSQL position ({other:?})"),
                    hint: "this connector name was used for another source type; rename the connector or delete its offsets file".into(),
                })
            }
            None => (None, false),
        };
        let slot_usable = info.as_ref().is_some_and(|i| !i.lost);
        let need_snapshot =
            s.snapshot_mode == SnapshotMode::Initial && !(stored_done && slot_usable);
        // The captured tables as saved: a table configured since is new, and gets an
        // incremental snapshot (unless the mode takes no data); unfinished ones go on.
        let names: Vec<String> = self
            .tables
            .iter()
            .map(crate::source::incremental::table_name)
            .collect();
        let saved = match &stored {
            Some(Checkpoint::Postgres {
                snapshots: Some(p), ..
            }) if !need_snapshot => Some((**p).clone()),
            _ => None,
        };
        let mut progress = crate::source::incremental::plan(
            &self.connector,
            &names,
            saved,
            s.snapshot_mode != SnapshotMode::NoData,
        );

        let (mut repl, last_cp) = if need_snapshot {
            if let Some(i) = &info {
                tracing::warn!(
                    connector = %self.connector,
                    slot = %self.slot,
                    lost = i.lost,
                    snapshot_done = stored_done,
                    "re-creating the replication slot for a new snapshot (previous snapshot incomplete, offsets missing, or slot lost)"
                );
                if let Some(pid) = i.active_pid {
                    return Err(PgSourceError::SlotBusy {
                        slot: self.slot.clone(),
                        pid,
                    });
                }
                slot::drop_slot(&sql, &self.slot).await?;
            } else if stored_done {
                tracing::warn!(
                    connector = %self.connector,
                    slot = %self.slot,
                    "replication slot is gone although offsets exist; changes may have been missed, taking a new snapshot"
                );
            }
            self.offsets.clear()?;
            catalog::check_free_slot(&sql).await?;
            let mut repl = ReplicationClient::connect_gated(self.repl_config(Lsn(0), None))
                .await
                .map_err(PgSourceError::repl("connecting for replication"))?;
            if s.snapshot_consistency == crate::config::SnapshotConsistency::Chunked {
                // The initial snapshot goes through the incremental snapshotter: streaming
                // starts at once from the new slot, every table is queued, and the queue
                // with each table's last key is in every checkpoint (resumable).
                let created =
                    slot::create_slot(&mut repl, &self.slot, false, s.slot_failover).await?;
                repl.start()
                    .await
                    .map_err(PgSourceError::repl("starting replication"))?;
                progress.queue = present
                    .iter()
                    .map(crate::source::incremental::table_name)
                    .map(|t| crate::event::IncrementalTable {
                        id: "initial".into(),
                        table: t,
                        filter: None,
                        after: None,
                        rows: 0,
                        estimate: None,
                        blocking: false,
                        request_first: false,
                    })
                    .collect();
                tracing::info!(connector = %self.connector, tables = names.len(), "chunked initial snapshot: streaming, tables read in key-ordered chunks");
                (repl, created.consistent_point)
            } else {
                let created =
                    slot::create_slot(&mut repl, &self.slot, true, s.slot_failover).await?;
                self.telemetry
                    .set_health(&self.connector, Health::Snapshotting);
                let txn = snapshot::begin(&mut sql, created.snapshot_name.as_deref()).await?;
                // More readers import the slot's snapshot before replication starts (the
                // replication connection's next command ends the export).
                let readers = match created.snapshot_name.as_deref() {
                    Some(name) if s.snapshot_max_threads > 1 => self.snapshot_readers(name).await,
                    _ => snapshot::Readers::default(),
                };
                repl.start()
                    .await
                    .map_err(PgSourceError::repl("starting replication"))?;
                repl.wait_started()
                    .await
                    .map_err(PgSourceError::repl("starting replication"))?;
                let mut emitter =
                    crate::source::snapshot::SnapshotEmitter::new(&io.tx, self.limits);
                let done = snapshot::copy_tables(
                    &txn,
                    &s.database,
                    &present,
                    &self.stream_keys,
                    created.consistent_point,
                    &mut decoder.registry,
                    &mut emitter,
                    &io.shutdown,
                    &self.telemetry,
                    &self.connector,
                    readers,
                )
                .await?;
                if !done {
                    repl.abort();
                    return Ok(SourceEnd::Stopped);
                }
                txn.commit()
                    .await
                    .map_err(PgSourceError::sql("ending the snapshot transaction"))?;
                let cp = Checkpoint::Postgres {
                    lsn: created.consistent_point,
                    snapshot_done: true,
                    snapshots: Some(Arc::new(SnapshotProgress {
                        tables: names.clone(),
                        ..SnapshotProgress::default()
                    })),
                };
                if emitter.flush(Some(cp)).await.is_err() {
                    repl.abort();
                    return Ok(SourceEnd::Stopped);
                }
                tracing::info!(connector = %self.connector, "snapshot complete; streaming");
                (repl, created.consistent_point)
            }
        } else if info.is_none() {
            catalog::check_free_slot(&sql).await?;
            let mut repl = ReplicationClient::connect_gated(self.repl_config(Lsn(0), None))
                .await
                .map_err(PgSourceError::repl("connecting for replication"))?;
            let created = slot::create_slot(&mut repl, &self.slot, false, s.slot_failover).await?;
            repl.start()
                .await
                .map_err(PgSourceError::repl("starting replication"))?;
            (repl, created.consistent_point)
        } else {
            let slot_lsn = info
                .as_ref()
                .and_then(|i| i.confirmed_flush)
                .unwrap_or_default();
            let start = stored_lsn.unwrap_or_default().max(slot_lsn);
            if s.slot_failover && !slot::has_failover(&sql, &self.slot).await? {
                let mut gated = ReplicationClient::connect_gated(self.repl_config(Lsn(0), None))
                    .await
                    .map_err(PgSourceError::repl("connecting for replication"))?;
                let set = slot::set_failover(&mut gated, &self.slot).await;
                gated.abort();
                set?;
            }
            tracing::info!(connector = %self.connector, start = %start, "resuming replication");
            let repl = ReplicationClient::connect(self.repl_config(start, Some(start)))
                .await
                .map_err(PgSourceError::repl("connecting for replication"))?;
            (repl, start)
        };
        repl.wait_started()
            .await
            .map_err(PgSourceError::repl("starting replication"))?;
        // The position streaming resumes from is safe to acknowledge: once the pipeline has
        // saved it, the connector reports `streaming` (even when nothing is written).
        if io
            .tx
            .send(Batch::new(
                Vec::new(),
                Some(Checkpoint::Postgres {
                    lsn: last_cp,
                    snapshot_done: true,
                    snapshots: Some(Arc::new(progress.clone())),
                }),
            ))
            .await
            .is_err()
        {
            repl.abort();
            return Ok(SourceEnd::Stopped);
        }
        let result = self
            .stream(
                &mut repl,
                &sql,
                &mut decoder,
                io,
                last_cp,
                (progress, missing),
            )
            .await;
        self.inbox.set_accepts(false);
        if result.is_err() {
            repl.abort();
        }
        result
    }

    /// Read an event's unchanged TOAST values back by its key (`reselect_unavailable`). The
    /// row read is at least as new as the change (pgoutput sends committed transactions);
    /// when it is gone (deleted since), the placeholder stays.
    async fn reselect(
        &self,
        sql: &tokio_postgres::Client,
        dec: &replication::StreamDecoder,
        r: &replication::Reselect,
        events: &mut [crate::event::ChangeEvent],
    ) -> Result<(), PgSourceError> {
        let Some(query) = dec.reselect_sql(r) else {
            return Ok(());
        };
        let replies = sql.simple_query(&query).await.map_err(PgSourceError::sql(
            "reading unchanged TOAST values back by key",
        ))?;
        let rows: Vec<&tokio_postgres::SimpleQueryRow> = replies
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => Some(row),
                _ => None,
            })
            .collect();
        let outcome = match (rows.as_slice(), events.get_mut(r.index)) {
            ([row], Some(ev)) => {
                let texts: Vec<Option<&str>> = (0..row.len()).map(|i| row.get(i)).collect();
                dec.apply_reselect(r, &texts, ev)?;
                "found"
            }
            ([], _) => "missing",
            // More than one row: the configured key_columns are not unique.
            _ => "ambiguous",
        };
        self.telemetry
            .source_reselects
            .with_label_values(&[&self.connector, outcome])
            .inc();
        Ok(())
    }

    /// One message of a transaction as protocol 1 sends it: a relation's shape is learnt,
    /// a change becomes events (signals and the snapshot window see them), a logical
    /// message a marker.
    async fn take_message(
        &self,
        sql: &tokio_postgres::Client,
        dec: &mut replication::StreamDecoder,
        msg: pgoutput::Message,
        lsn: Lsn,
        intake: &mut Intake<'_>,
    ) -> Result<(), PgSourceError> {
        let b = &mut *intake.b;
        match msg {
            pgoutput::Message::Relation {
                oid,
                namespace,
                name,
                columns,
                ..
            } => {
                let table = TableId::new(namespace, name);
                let oids: Vec<u32> = columns.iter().map(|c| c.type_oid).collect();
                dec.registry.forget(&oids);
                catalog::learn_types(sql, &mut dec.registry, &oids).await?;
                let cat = catalog::table_columns(sql, &table, &self.stream_keys).await?;
                let cols: Vec<(String, u32, i32)> = columns
                    .into_iter()
                    .map(|c| (c.name, c.type_oid, c.typmod))
                    .collect();
                tracing::debug!(connector = %self.connector, table = %table, "relation described");
                dec.add_relation(oid, table, &cols, &cat);
            }
            pgoutput::Message::LogicalMessage {
                transactional,
                lsn,
                prefix,
                content,
            } => b.mark(dec.message(transactional, Lsn(lsn), prefix, content.to_vec())),
            msg => {
                let n0 = b.len();
                dec.change(msg, lsn, b.events())?;
                for r in dec.take_reselects() {
                    self.reselect(sql, dec, &r, b.events()).await?;
                }
                if let Some(sig) = intake.signal {
                    crate::source::incremental::take_signals(
                        b.events(),
                        n0,
                        sig,
                        intake.signals,
                        &self.connector,
                    );
                }
                intake.inc.changes(&b.events()[n0..]);
                b.counted(n0);
            }
        }
        Ok(())
    }

    async fn stream(
        &self,
        repl: &mut ReplicationClient,
        sql: &tokio_postgres::Client,
        dec: &mut replication::StreamDecoder,
        io: SourceIo,
        mut last_cp: Lsn,
        // The snapshot progress to go on with, and the listed tables that do not exist yet.
        (progress, mut missing): (SnapshotProgress, Vec<TableId>),
    ) -> Result<SourceEnd, PgSourceError> {
        let SourceIo {
            tx,
            mut acks,
            mut shutdown,
        } = io;
        let status_interval = Duration::from_millis(self.settings.status_interval_ms);
        let mut b = Batcher::new(self.limits);
        let mut in_tx = false;
        let mut xid: Option<u32> = None;
        let mut last_idle = Instant::now();
        let mut acked: Option<Lsn> = None;
        // Incremental snapshots read on a connection of their own.
        let mut inc = incremental::runner(
            &self.connector,
            self.sql_connect().await?,
            Arc::from(self.settings.database.as_str()),
            self.stream_keys.clone(),
            progress,
            self.settings.snapshot_chunk_size,
            self.telemetry.clone(),
        );
        let signal = self
            .settings
            .signal_data_collection
            .as_deref()
            .and_then(crate::source::incremental::table_id);
        let mut signals: Vec<crate::source::incremental::Request> = Vec::new();
        let mut kafka_signals = crate::source::incremental::kafka_signals(
            self.kafka_signals.as_ref(),
            inc.progress().signal_offset,
            &self.connector,
        )
        .map_err(|problem| PgSourceError::Precondition {
            problem,
            hint: crate::source::incremental::SIGNAL_TOPIC_HINT.into(),
        })?;
        inc.attach(&self.inbox);
        let cp = |lsn, inc: &incremental::Runner| Checkpoint::Postgres {
            lsn,
            snapshot_done: true,
            snapshots: Some(inc.progress()),
        };
        inc.kick().await;
        // Listed tables that did not exist at the start are looked for every few seconds;
        // one that appears joins the publication and gets an incremental snapshot (the rows
        // written before it joined), so it is captured without a restart.
        let mut captured: std::collections::HashSet<TableId> =
            self.tables.iter().cloned().collect();
        let mut look = tokio::time::interval(Duration::from_secs(2));
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pipeline_gone = false;
        let slot_lag = self
            .telemetry
            .slot_lag_bytes
            .with_label_values(&[&self.connector]);
        // Transactions the server sends while they run (protocol 2), until their commit.
        let mut held = streamed::InProgress::new(
            self.settings
                .spill_dir
                .clone()
                .unwrap_or_else(std::env::temp_dir),
            &self.connector,
            self.settings.in_progress_memory_bytes,
        );
        let mut stream_xid: Option<u32> = None;
        let held_bytes = self
            .telemetry
            .in_progress_bytes
            .with_label_values(&[&self.connector]);
        let spilled = self
            .telemetry
            .in_progress_spilled_bytes
            .with_label_values(&[&self.connector]);
        let spill_err = |(path, source)| PgSourceError::Spill { path, source };
        'events: loop {
            tokio::select! {
                biased;
                r = shutdown.changed() => {
                    if r.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                r = acks.changed() => {
                    if r.is_err() {
                        pipeline_gone = true;
                        break;
                    }
                    let ack = acks.borrow_and_update().clone();
                    if let Some(Checkpoint::Postgres { lsn, snapshots, .. }) = ack {
                        repl.update_applied_lsn(to_wire(lsn));
                        acked = Some(lsn);
                        if let Some(p) = &snapshots {
                            inc.acknowledged(p);
                            inc.kick().await;
                        }
                    }
                }
                (offset, r) = async {
                    match kafka_signals.as_mut() {
                        Some(k) => k.next().await,
                        None => std::future::pending().await,
                    }
                } => {
                    inc.request(r);
                    inc.signal_taken(offset);
                    inc.kick().await;
                }
                _ = look.tick(), if !missing.is_empty() || self.patterns.is_active() => {
                    let mut appeared = catalog::existing(sql, &missing).await?;
                    for t in catalog::matching_tables(sql, &self.patterns).await? {
                        if !captured.contains(&t) && !appeared.contains(&t) {
                            appeared.push(t);
                        }
                    }
                    for t in appeared {
                        missing.retain(|m| m != &t);
                        captured.insert(t.clone());
                        inc.capture(crate::source::incremental::table_name(&t));
                        let filter: std::collections::HashMap<TableId, String> = self
                            .keys
                            .filter(&t)
                            .map(|f| (t.clone(), f.to_string()))
                            .into_iter()
                            .collect();
                        let joined = match catalog::check_row_filters(sql, &filter).await {
                            Ok(filters) => slot::ensure_publication(
                                sql,
                                &self.publication,
                                std::slice::from_ref(&t),
                                self.settings.create_publication,
                                self.settings.publish_via_partition_root,
                                &filters,
                                self.server_version,
                            )
                            .await,
                            Err(e) => Err(e),
                        };
                        if let Err(e) = joined {
                            tracing::warn!(connector = %self.connector, table = %t, error = %e, hint = %e.hint(), "a listed table was created but cannot join the publication; it is not captured");
                            continue;
                        }
                        tracing::info!(connector = %self.connector, table = %t, "a listed table was created: captured from now on, its rows read by an incremental snapshot");
                        inc.request(crate::source::incremental::Request::Execute {
                            id: format!("created-{}", crate::clock::now_us() / 1000),
                            tables: vec![crate::source::incremental::TableRequest {
                                table: crate::source::incremental::table_name(&t),
                                filter: None,
                            }],
                            blocking: false,
                        });
                    }
                    inc.kick().await;
                }
                requests = self.inbox.next() => {
                    for r in requests {
                        inc.request(r);
                    }
                    inc.kick().await;
                }
                answer = inc.answer() => {
                    let rows = inc.answered(answer, in_tx, incremental::reader_stopped)?;
                    if let Some(rows) = rows {
                        let n0 = b.len();
                        b.events().extend(rows);
                        b.counted(n0);
                        if b.commit(cp(last_cp, &inc)) && tx.send(b.take(false)).await.is_err() {
                            pipeline_gone = true;
                            break;
                        }
                    }
                    inc.kick().await;
                }
                _ = tokio::time::sleep_until(b.linger().unwrap_or_else(Instant::now)), if b.linger().is_some() => {
                    // Inside a transaction the batch holds its first rows: the checkpoint
                    // waits for its commit (it would otherwise cover rows after it).
                    if tx.send(b.take(in_tx)).await.is_err() {
                        pipeline_gone = true;
                        break;
                    }
                }
                // A blocking snapshot pauses the stream between transactions (the server
                // keeps the WAL; the client answers its keepalives meanwhile).
                ev = repl.recv(), if in_tx || !inc.blocking() => {
                    let ev = ev.map_err(PgSourceError::repl("receiving"))?;
                    let Some(ev) = ev else {
                        return Err(PgSourceError::Replication {
                            context: "receiving",
                            source: pgwire_replication::PgWireError::Internal(
                                "replication stream ended".into(),
                            ),
                        });
                    };
                    let mut send = None;
                    let mut commit: Option<(Lsn, Lsn)> = None;
                    match ev {
                        ReplicationEvent::Begin { xid: x, commit_time_micros, .. } => {
                            b.mark(dec.begin(x, commit_time_micros));
                            in_tx = true;
                            xid = Some(x);
                        }
                        ReplicationEvent::XLogData { wal_start, data, .. } => {
                            let lsn = from_wire(wal_start);
                            let decode_err = |source| PgSourceError::Decode { lsn, source };
                            if let Some(top) = stream_xid.filter(|_| data.first() != Some(&b'E')) {
                                // Inside a stream block: kept until the transaction commits.
                                let (subxid, msg) = pgoutput::unstream(&data).map_err(decode_err)?;
                                let before = held.spilled();
                                held.push(top, streamed::Held { lsn: lsn.0, subxid, msg }).map_err(spill_err)?;
                                held_bytes.set(held.used() as i64);
                                spilled.inc_by(held.spilled() - before);
                                continue 'events;
                            }
                            let mut intake = Intake {
                                b: &mut b,
                                inc: &mut inc,
                                signal: signal.as_ref(),
                                signals: &mut signals,
                            };
                            match pgoutput::decode(data).map_err(decode_err)? {
                                pgoutput::Message::StreamStart { xid: top, first_segment } => {
                                    held.start(top, first_segment);
                                    stream_xid = Some(top);
                                }
                                pgoutput::Message::StreamStop => stream_xid = None,
                                pgoutput::Message::StreamAbort { xid: top, subxid } => {
                                    held.abort(top, subxid);
                                    held_bytes.set(held.used() as i64);
                                }
                                pgoutput::Message::StreamCommit { xid: top, commit_lsn, end_lsn, commit_ts } => {
                                    // The transaction as protocol 1 sends it at its commit.
                                    let Some(mut replay) = held.commit(top).map_err(spill_err)? else {
                                        return Err(PgSourceError::StreamOrder { xid: top, lsn });
                                    };
                                    held_bytes.set(held.used() as i64);
                                    self.telemetry
                                        .streamed_transactions
                                        .with_label_values(&[&self.connector])
                                        .inc();
                                    intake.b.mark(dec.begin(top, commit_ts));
                                    in_tx = true;
                                    xid = Some(top);
                                    while let Some(h) = replay.next_held().map_err(spill_err)? {
                                        let lsn = Lsn(h.lsn);
                                        let msg = pgoutput::decode(bytes::Bytes::from(h.msg))
                                            .map_err(|source| PgSourceError::Decode { lsn, source })?;
                                        self.take_message(sql, dec, msg, lsn, &mut intake).await?;
                                        if intake.b.full() && tx.send(intake.b.take(true)).await.is_err() {
                                            pipeline_gone = true;
                                            break 'events;
                                        }
                                    }
                                    commit = Some((Lsn(commit_lsn), Lsn(end_lsn)));
                                }
                                msg => {
                                    self.take_message(sql, dec, msg, lsn, &mut intake).await?;
                                    if b.full() {
                                        // Mid-transaction flush: no checkpoint until the commit.
                                        send = Some(b.take(in_tx));
                                    }
                                }
                            }
                        }
                        ReplicationEvent::Commit { lsn, end_lsn, .. } => {
                            commit = Some((from_wire(lsn), from_wire(end_lsn)));
                        }
                        ReplicationEvent::Message { transactional, lsn, prefix, content } => {
                            b.mark(dec.message(transactional, from_wire(lsn), prefix, content.to_vec()));
                            if b.full() {
                                send = Some(b.take(in_tx));
                            } else if !transactional {
                                b.linger_soon();
                            }
                        }
                        ReplicationEvent::KeepAlive { wal_end, .. } => {
                            let wal_end = from_wire(wal_end);
                            if let Some(a) = acked {
                                slot_lag.set(wal_end.0.saturating_sub(a.0) as i64);
                            }
                            if !in_tx {
                                if let Some(rows) = inc.position(wal_end) {
                                    let n0 = b.len();
                                    b.events().extend(rows);
                                    b.counted(n0);
                                    if b.commit(cp(last_cp, &inc)) {
                                        send = Some(b.take(false));
                                    }
                                    inc.kick().await;
                                }
                            }
                            if !in_tx && b.is_empty()
                                && wal_end > last_cp && last_idle.elapsed() >= status_interval
                            {
                                last_cp = wal_end;
                                last_idle = Instant::now();
                                send = Some(Batch::new(Vec::new(), Some(cp(wal_end, &inc))));
                            }
                        }
                        ReplicationEvent::StoppedAt { .. } => break,
                    }
                    if let Some((lsn, end_lsn)) = commit {
                        b.mark(dec.commit(lsn, end_lsn));
                        in_tx = false;
                        last_cp = last_cp.max(end_lsn);
                        for r in signals.drain(..) {
                            inc.request(r);
                        }
                        if let Some(rows) = inc.commit(xid.take(), end_lsn) {
                            let n0 = b.len();
                            b.events().extend(rows);
                            b.counted(n0);
                        }
                        if b.commit(cp(end_lsn, &inc)) {
                            send = Some(b.take(false));
                        }
                        inc.kick().await;
                    }
                    if let Some(batch) = send {
                        if tx.send(batch).await.is_err() {
                            pipeline_gone = true;
                            break;
                        }
                    }
                }
                // Nothing else is ready (the branches above are polled first): what lingers
                // goes now. The linger only bounds how long a busy stream holds a batch.
                _ = std::future::ready(()), if b.linger().is_some() => {
                    if tx.send(b.take(in_tx)).await.is_err() {
                        pipeline_gone = true;
                        break;
                    }
                }
            }
        }
        // Hand over what was read, then wait for the pipeline to acknowledge everything.
        if !pipeline_gone && !b.is_empty() {
            let _ = tx.send(b.take(in_tx)).await;
        }
        drop(tx);
        loop {
            if let Some(Checkpoint::Postgres { lsn, .. }) = acks.borrow_and_update().clone() {
                repl.update_applied_lsn(to_wire(lsn));
                acked = Some(lsn);
            }
            if acks.changed().await.is_err() {
                if let Some(Checkpoint::Postgres { lsn, .. }) = acks.borrow().clone() {
                    repl.update_applied_lsn(to_wire(lsn));
                    acked = Some(lsn);
                }
                break;
            }
        }
        if let Some(lsn) = acked {
            // The last standby status update is only sent on the status interval: wait for it.
            let metrics = repl.metrics();
            let deadline = Instant::now() + status_interval * 3 + Duration::from_secs(2);
            while from_wire(metrics.last_applied_lsn()) < lsn && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tracing::info!(connector = %self.connector, lsn = %lsn, "final position confirmed to the slot");
        }
        repl.stop();
        let _ = tokio::time::timeout(Duration::from_secs(5), repl.shutdown()).await;
        Ok(SourceEnd::Stopped)
    }
}
