//! MySQL/MariaDB source: preflight, consistent snapshot, binlog streaming, incremental
//! snapshots.
//!
//! ```text
//! start ─► captured tables (named + table_include_list matches) ─► preflight (log_bin,
//!          ROW/FULL/FULL, privileges, server ids) ─► offsets
//!   ├─ snapshot needed: consistent snapshot (snapshot.rs), or with snapshot_consistency
//!   │    chunked every table queued for the incremental snapshotter
//!   ├─ saved position purged: when_needed ─► snapshot again; otherwise a definite error
//!   └─ otherwise: resume from the saved position (MariaDB GTID, else file + position)
//! stream ─► binlog.rs (table maps, rows, GTIDs, DDL) ─► Batch{events, checkpoint at commit}
//!   ├─ DDL ─► schema_change.rs (records as Debezium writes them, the shapes they leave)
//!   │         and history.rs (DDL parsing, catalog reads; rows read after a later DDL
//!   │         already changed the catalog keep the shape of the last DDL before them)
//!   └─ incremental.rs: chunk reads fenced by the snapshot's binlog position (MariaDB) or
//!        gtid_executed (MySQL), closed by the shared window runner
//! ```
//! Invariants: a checkpoint is only ever a transaction boundary (XID, COMMIT, or a DDL's
//! end), and it is saved by the pipeline only after every earlier event is durable; the
//! binlog itself is never acknowledged to the server (the server keeps it until purged), so
//! the offsets store is the one source of truth for the resume position.

mod binlog;
mod catalog;
mod charset;
mod ddl;
mod error;
mod gtid;
mod history;
mod incremental;
mod kept_history;
mod recorded;
mod schema_change;
mod snapshot;
mod types;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use mysql_async::binlog::events::EventData;
use mysql_async::prelude::Queryable;
use mysql_async::BinlogStreamRequest;
use tokio::time::Instant;

pub use error::MySourceError;
pub use recorded::RecordedBinlog;
pub use types::TypeError;

use self::binlog::Statement;
use self::catalog::{CatalogTable, ServerInfo, Table};
use self::snapshot::BinlogPos;
use crate::config::{MysqlSettings, MysqlSnapshotMode};
use crate::event::{Marker, Position, SnapshotProgress, TableChangeKind, TableId};
use crate::offsets::OffsetStore;
use crate::source::batcher::Batcher;
use crate::source::keys::KeyOverrides;
use crate::source::snapshot::SnapshotEmitter;
use crate::source::{Batch, BatchLimits, Checkpoint, SourceEnd, SourceIo, TableShape};
use crate::telemetry::{Health, Telemetry};

/// The MySQL/MariaDB source of one connector.
#[derive(Debug)]
pub struct MysqlSource {
    connector: String,
    settings: Arc<MysqlSettings>,
    /// The captured tables of this run: the named ones and those the patterns match.
    tables: Vec<TableId>,
    /// The tables named in `tables`.
    named: Vec<TableId>,
    /// `table_include_list` / `table_exclude_list`.
    patterns: crate::config::TableFilter,
    server_id: u32,
    /// Key overrides checked strictly against the catalog at start.
    keys: KeyOverrides,
    /// The same, lenient, for every later read (snapshot, re-reads after DDL): a configured
    /// key column dropped meanwhile falls back to the primary key instead of halting.
    stream_keys: KeyOverrides,
    limits: BatchLimits,
    offsets: OffsetStore,
    telemetry: Telemetry,
    /// Snapshot requests from the management API, and their progress shown back.
    inbox: crate::source::incremental::SnapshotInbox,
    /// Debezium's Kafka signal channel, when configured.
    kafka_signals: Option<crate::source::incremental::KafkaSignalSettings>,
}

impl MysqlSource {
    /// Create the source; nothing connects until [`MysqlSource::run`].
    pub fn new(
        connector: &str,
        settings: Arc<MysqlSettings>,
        limits: BatchLimits,
        offsets: OffsetStore,
        telemetry: Telemetry,
    ) -> Self {
        let tables = crate::source::table_ids(&settings.tables);
        // Validation compiled the patterns already.
        let patterns = crate::config::TableFilter::new(
            &settings.table_include_list,
            &settings.table_exclude_list,
        )
        .unwrap_or_default();
        Self {
            named: tables.clone(),
            patterns,
            server_id: settings.server_id(connector),
            keys: KeyOverrides::new(&settings.key_columns),
            stream_keys: KeyOverrides::new(&settings.key_columns).lenient(),
            connector: connector.to_string(),
            settings,
            tables,
            limits,
            offsets,
            telemetry,
            inbox: Default::default(),
            kafka_signals: None,
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

    /// Take snapshot requests from the management API through `inbox`.
    pub fn with_snapshot_inbox(mut self, inbox: crate::source::incremental::SnapshotInbox) -> Self {
        self.inbox = inbox;
        self
    }

    fn replica_host(&self) -> String {
        format!("sluice-{}", self.connector)
    }

    /// Run until shutdown, completion or error. Call again after a transient error: the
    /// source resumes from the last acknowledged checkpoint.
    pub async fn run(&mut self, io: SourceIo) -> Result<SourceEnd, MySourceError> {
        let opts = catalog::opts(&self.settings, &self.connector)?;
        let mut sql = catalog::connect(&opts).await?;
        // The captured tables: the named ones, then those the patterns match now.
        let mut tables = self.named.clone();
        for t in catalog::matching_tables(&mut sql, &self.patterns).await? {
            if !tables.contains(&t) {
                tables.push(t);
            }
        }
        self.tables = tables;
        let info = catalog::preflight(&mut sql, &self.tables, self.server_id, &self.replica_host())
            .await?;
        // Tell the sink which tables are keyed before any event (topics, cleanup policies);
        // this also checks the configured key columns against the catalog.
        let mut shapes = Vec::with_capacity(self.tables.len());
        for t in &self.tables {
            // A table that does not exist yet is announced by its first event instead (its
            // topic then gets the cleanup policy its key allows).
            if let Some((_, key)) = catalog::table_columns(&mut sql, t, &self.keys).await? {
                shapes.push(TableShape {
                    table: t.clone(),
                    keyed: !key.is_empty(),
                });
            }
        }
        let present: Vec<TableId> = shapes.iter().map(|s| s.table.clone()).collect();
        if !crate::source::announce_tables(&io.tx, shapes).await {
            return Ok(SourceEnd::Stopped);
        }
        let mode = self.settings.snapshot_mode;
        // The checkpoint and the kept schema history, in one read of the offsets.
        let Some(loaded) = self
            .offsets
            .load_or_stop_with(&io.shutdown, &[kept_history::DOC])
            .await?
        else {
            return Ok(SourceEnd::Stopped);
        };
        let mut saved_history = loaded.docs.into_iter().next().flatten();
        let stored = loaded.checkpoint;
        let stored = match stored {
            Some(Checkpoint::Mysql {
                file,
                pos,
                gtid,
                snapshot_done,
                snapshots,
            }) => Some((
                BinlogPos { file, pos, gtid },
                snapshot_done,
                snapshots,
            )),
            Some(other) => {
                return Err(MySourceError::Precondition {
                    problem: format!(
                        "the offsets file holds a non-MySQL position ({other:?})"
                    ),
                    hint: "this connector name was used for another source type; rename the connector or delete its offsets file".into(),
                })
            }
            None => None,
        };
        let snapshots = matches!(
            mode,
            MysqlSnapshotMode::Initial
                | MysqlSnapshotMode::WhenNeeded
                | MysqlSnapshotMode::InitialOnly
        );
        let mut need_snapshot = match &stored {
            _ if mode == MysqlSnapshotMode::InitialOnly => true,
            Some((_, done, _)) => snapshots && !done,
            None => snapshots,
        };
        if let (Some((p, _, _)), false) = (&stored, need_snapshot) {
            if !snapshot::file_exists(&mut sql, &p.file).await? {
                if mode == MysqlSnapshotMode::WhenNeeded {
                    tracing::warn!(connector = %self.connector, file = %p.file, "saved binlog position was purged; taking a new snapshot (snapshot_mode when_needed)");
                    need_snapshot = true;
                } else {
                    return Err(MySourceError::PositionPurged {
                        file: p.file.clone(),
                        pos: p.pos,
                    });
                }
            }
        }

        // The captured tables as saved: a table configured since is new, and gets an
        // incremental snapshot (unless the mode takes no data); unfinished ones go on.
        let names: Vec<String> = self
            .tables
            .iter()
            .map(crate::source::incremental::table_name)
            .collect();
        let saved = match &stored {
            Some((_, _, Some(p))) if !need_snapshot => Some((**p).clone()),
            _ => None,
        };
        let mut progress = crate::source::incremental::plan(
            &self.connector,
            &names,
            saved,
            mode != MysqlSnapshotMode::NoData,
        );
        let mut shapes = history::Shapes::new();
        let mut kept = kept_history::KeptHistory::from_saved(
            &self.offsets,
            &self.connector,
            saved_history.take(),
        );
        let chunked =
            self.settings.snapshot_consistency == crate::config::SnapshotConsistency::Chunked;
        let start = if need_snapshot && chunked {
            // The initial snapshot goes through the incremental snapshotter: streaming starts
            // at once from the current position, every existing table is queued, and the
            // queue with each table's last key is in every checkpoint (resumable).
            self.offsets.clear()?;
            let p = snapshot::current_position(&mut sql, &info).await?;
            {
                // The schema history starts here (kept also without schema-change records:
                // rows streamed before a later DDL take their shape from it).
                let file: Arc<str> = Arc::from(p.file.as_str());
                let position = |db: &str| Position::Mysql {
                    db: Arc::from(db),
                    server_id: 0,
                    file: Arc::clone(&file),
                    pos: p.pos,
                    row: 0,
                    gtid: None,
                };
                let (records, found) = history::snapshot_records(
                    &mut sql,
                    &present,
                    info.mariadb,
                    &position,
                    crate::clock::now_us(),
                )
                .await?;
                shapes = found;
                kept.record((&p.file, p.pos), &shapes, None, true)?;
                let mut emitter = SnapshotEmitter::new(&io.tx, self.limits);
                let records = if self.settings.include_schema_changes {
                    records
                } else {
                    Vec::new()
                };
                for r in records {
                    if emitter.mark(r).await.is_err() {
                        return Ok(SourceEnd::Stopped);
                    }
                }
                if emitter.flush(None).await.is_err() {
                    return Ok(SourceEnd::Stopped);
                }
            }
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
            tracing::info!(connector = %self.connector, tables = present.len(), file = %p.file, pos = p.pos, "chunked initial snapshot: streaming, tables read in key-ordered chunks");
            p
        } else if need_snapshot {
            self.offsets.clear()?;
            self.telemetry
                .set_health(&self.connector, Health::Snapshotting);
            // More readers (`snapshot_max_threads`): their connections, or none (one reader,
            // with a warning) when they cannot be opened.
            let mut readers = Vec::new();
            if self.settings.snapshot_max_threads > 1 {
                for _ in 0..self.settings.snapshot_max_threads {
                    match catalog::connect(&opts).await {
                        Ok(c) => readers.push(c),
                        Err(e) => {
                            tracing::warn!(connector = %self.connector, error = %e, "more snapshot readers could not be opened: one connection reads the snapshot");
                            readers.clear();
                            break;
                        }
                    }
                }
            }
            let mut emitter = SnapshotEmitter::new(&io.tx, self.limits);
            let Some(p) = snapshot::run(
                &mut sql,
                &info,
                &self.tables,
                &self.stream_keys,
                &mut emitter,
                &io.shutdown,
                &self.telemetry,
                &self.connector,
                &mut shapes,
                self.settings.include_schema_changes,
                readers,
            )
            .await?
            else {
                return Ok(SourceEnd::Stopped);
            };
            kept.record((&p.file, p.pos), &shapes, None, true)?;
            let cp = Checkpoint::mysql(p.file.clone(), p.pos, p.gtid.clone(), true);
            if emitter.flush(Some(cp)).await.is_err() {
                return Ok(SourceEnd::Stopped);
            }
            drop(emitter);
            if mode == MysqlSnapshotMode::InitialOnly {
                let SourceIo { tx, mut acks, .. } = io;
                drop(tx);
                while acks.changed().await.is_ok() {}
                tracing::info!(connector = %self.connector, "initial_only snapshot delivered; stopping");
                return Ok(SourceEnd::Finished);
            }
            tracing::info!(connector = %self.connector, "snapshot complete; streaming");
            p
        } else if let Some((p, _, _)) = stored {
            // The shapes the checkpoint saw (the catalog may already show later DDL).
            if let Some(kept_shapes) = kept.shapes_at(&p.file, p.pos) {
                tracing::info!(connector = %self.connector, tables = kept_shapes.len(), "schema history restored from the offsets store");
                shapes = kept_shapes;
            }
            p
        } else {
            let p = snapshot::current_position(&mut sql, &info).await?;
            // Record the starting point so a restart before the first commit resumes here.
            if io
                .tx
                .send(Batch::new(
                    Vec::new(),
                    Some(Checkpoint::mysql(
                        p.file.clone(),
                        p.pos,
                        p.gtid.clone(),
                        true,
                    )),
                ))
                .await
                .is_err()
            {
                return Ok(SourceEnd::Stopped);
            }
            p
        };
        self.stream(opts, sql, &info, start, io, (shapes, kept), progress)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn stream(
        &self,
        opts: mysql_async::Opts,
        sql: mysql_async::Conn,
        info: &ServerInfo,
        start: BinlogPos,
        io: SourceIo,
        shapes: (history::Shapes, kept_history::KeptHistory),
        progress: SnapshotProgress,
    ) -> Result<SourceEnd, MySourceError> {
        let r = self
            .stream_binlog(opts, sql, info, start, io, shapes, progress)
            .await;
        self.inbox.set_accepts(false);
        r
    }

    #[allow(clippy::too_many_arguments)]
    async fn stream_binlog(
        &self,
        opts: mysql_async::Opts,
        mut sql: mysql_async::Conn,
        info: &ServerInfo,
        start: BinlogPos,
        io: SourceIo,
        (mut shapes, mut kept): (history::Shapes, kept_history::KeptHistory),
        progress: SnapshotProgress,
    ) -> Result<SourceEnd, MySourceError> {
        let SourceIo {
            tx,
            mut acks,
            mut shutdown,
        } = io;
        let heartbeat = Duration::from_millis(self.settings.heartbeat_interval_ms);
        let mut conn = catalog::connect(&opts).await?;
        let b = MySourceError::binlog;
        conn.query_drop(format!(
            "SET @master_heartbeat_period = {}",
            heartbeat.as_nanos()
        ))
        .await
        .map_err(b("setting the heartbeat period"))?;
        // MySQL: the executed set saved with the position (none when GTIDs are off, or for
        // offsets written before sluice kept it: then file + position).
        let mut executed = if info.mariadb {
            None
        } else {
            start
                .gtid
                .as_deref()
                .and_then(gtid::GtidSet::parse)
                .filter(|s| !s.is_empty())
        };
        let use_gtid = self.settings.use_gtid
            && if info.mariadb {
                start.gtid.is_some()
            } else {
                executed.is_some()
            };
        if info.mariadb {
            conn.query_drop("SET @mariadb_slave_capability = 4")
                .await
                .map_err(b("announcing MariaDB capabilities"))?;
        }
        if use_gtid && info.mariadb {
            let g = start.gtid.clone().unwrap_or_default();
            conn.exec_drop("SET @slave_connect_state = ?", (g,))
                .await
                .map_err(b("setting the GTID start position"))?;
            conn.query_drop("SET @slave_gtid_strict_mode = 1, @slave_gtid_ignore_duplicates = 0")
                .await
                .map_err(b("setting GTID mode"))?;
        }
        let host = self.replica_host();
        let mut req = BinlogStreamRequest::new(self.server_id).with_hostname(host.as_bytes());
        if !use_gtid {
            req = req.with_filename(start.file.as_bytes()).with_pos(start.pos);
        } else if let Some(set) = &executed {
            // MySQL: the server sends every transaction not in the set.
            req = req.with_gtid().with_gtid_set(set.sids());
        }
        // Incremental snapshots read on a connection of their own, with the shapes the
        // stream's schema history states (published again after every DDL).
        let (declared, declared_rx) = tokio::sync::watch::channel(Arc::new(shapes.clone()));
        let mut inc = incremental::runner(
            &self.connector,
            incremental::ChunkSource {
                conn: catalog::connect(&opts).await?,
                info: info.clone(),
                keys: self.stream_keys.clone(),
                declared: declared_rx,
            },
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
        .map_err(|problem| MySourceError::Precondition {
            problem,
            hint: crate::source::incremental::SIGNAL_TOPIC_HINT.into(),
        })?;
        inc.attach(&self.inbox);
        tracing::info!(connector = %self.connector, file = %start.file, pos = start.pos, gtid = ?start.gtid, by_gtid = use_gtid, "binlog streaming started");
        let mut stream = conn
            .get_binlog_stream(req)
            .await
            .map_err(b("requesting the binlog"))?;
        // The position streaming resumes from is safe to acknowledge: once the pipeline has
        // saved it, the connector reports `streaming` (even when nothing is written).
        // The last commit: where a checkpoint written between transactions points.
        let mut resume = (start.file.clone(), start.pos, start.gtid.clone());
        let cp =
            |resume: &(String, u64, Option<String>), inc: &incremental::Runner| Checkpoint::Mysql {
                file: resume.0.clone(),
                pos: resume.1,
                gtid: resume.2.clone(),
                snapshot_done: true,
                snapshots: Some(inc.progress()),
            };
        if tx
            .send(Batch::new(Vec::new(), Some(cp(&resume, &inc))))
            .await
            .is_err()
        {
            return Ok(SourceEnd::Stopped);
        }
        inc.kick().await;

        // The signal table's rows are decoded (then taken out as signals, never emitted).
        let mut captured: HashSet<TableId> = self.tables.iter().cloned().collect();
        // The signal table's rows are decoded to be read as signals, never emitted.
        let mut decoded: HashSet<TableId> = captured.clone();
        if let Some(sig) = &signal {
            decoded.insert(sig.clone());
        }
        let mut tables: HashMap<u64, Option<Arc<Table>>> = HashMap::new();
        let mut catalog_cache: HashMap<TableId, Option<Arc<CatalogTable>>> = HashMap::new();
        let mut dbs: HashMap<String, Arc<str>> = HashMap::new();
        let mut file: Arc<str> = Arc::from(start.file.as_str());
        let mut next_pos = start.pos;
        let mut tx_start = start.pos;
        let mut gtid: Option<Arc<str>> = None;
        let mut gtid_state: BTreeMap<u32, String> = BTreeMap::new();
        for g in start
            .gtid
            .iter()
            .filter(|_| info.mariadb)
            .flat_map(|s| s.split(','))
        {
            if let Some(domain) = g.trim().split('-').next().and_then(|d| d.parse().ok()) {
                gtid_state.insert(domain, g.trim().to_string());
            }
        }
        let mut in_tx = false;
        let mut fde_seen = false;
        let mut batcher = Batcher::new(self.limits);
        // Commit time of the open transaction, once its begin marker is buffered.
        let mut marked: Option<i64> = None;
        let mut pipeline_gone = false;
        let silent_after = heartbeat * 3 + Duration::from_secs(1);
        // A compressed transaction being read (its inner events come before the stream's
        // next event), and where its TRANSACTION_PAYLOAD event starts and ends: every inner
        // event is at that place in the binlog.
        let mut payload: Option<binlog::PayloadEvents> = None;
        let mut payload_at = (0u64, 0u64);

        loop {
            let inner = payload.is_some();
            let ev = if let Some(p) = payload.as_mut() {
                match p.next_event() {
                    Ok(Some(ev)) => ev,
                    Ok(None) => {
                        payload = None;
                        continue;
                    }
                    Err(reason) => {
                        return Err(MySourceError::Decode {
                            event: "TRANSACTION_PAYLOAD".into(),
                            file: file.to_string(),
                            pos: payload_at.1,
                            reason,
                        })
                    }
                }
            } else {
                tokio::select! {
                biased;
                r = shutdown.changed() => {
                    if r.is_err() || *shutdown.borrow() {
                        break;
                    }
                    continue;
                }
                r = acks.changed() => {
                    if r.is_err() {
                        pipeline_gone = true;
                        break;
                    }
                    let ack = acks.borrow_and_update().clone();
                    if let Some(Checkpoint::Mysql { snapshots: Some(p), .. }) = ack {
                        inc.acknowledged(&p);
                        inc.kick().await;
                    }
                    continue;
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
                    continue;
                }
                requests = self.inbox.next() => {
                    for r in requests {
                        inc.request(r);
                    }
                    inc.kick().await;
                    continue;
                }
                answer = inc.answer() => {
                    // Between transactions (a MySQL GTID event opens one before its BEGIN).
                    let mid = in_tx || gtid.is_some();
                    if let Some(rows) = inc.answered(answer, mid, incremental::reader_stopped)? {
                        let n0 = batcher.len();
                        batcher.events().extend(rows);
                        batcher.counted(n0);
                        if batcher.commit(cp(&resume, &inc)) && tx.send(batcher.take(false)).await.is_err() {
                            pipeline_gone = true;
                            break;
                        }
                    }
                    inc.kick().await;
                    continue;
                }
                _ = tokio::time::sleep_until(batcher.linger().unwrap_or_else(Instant::now)), if batcher.linger().is_some() => {
                    // Inside a transaction the batch holds its first rows: the checkpoint
                    // waits for its commit (it would otherwise cover rows after it).
                    if tx.send(batcher.take(in_tx || gtid.is_some())).await.is_err() {
                        pipeline_gone = true;
                        break;
                    }
                    continue;
                }
                // A blocking snapshot pauses the stream between transactions (a pause
                // longer than the server's net_write_timeout drops the connection, and the
                // connector resumes from its checkpoint).
                r = tokio::time::timeout(silent_after, stream.next()), if in_tx || gtid.is_some() || !inc.blocking() => match r {
                    Err(_) => return Err(MySourceError::Silent { silent_ms: silent_after.as_millis() as u64 }),
                    Ok(None) => return Err(MySourceError::Binlog {
                        context: "reading the binlog",
                        source: mysql_async::Error::Other("the server closed the binlog stream".into()),
                    }),
                    Ok(Some(ev)) => ev.map_err(b("reading the binlog"))?,
                },
                // Nothing else is ready (the branches above are polled first): what lingers
                // goes now. The linger only bounds how long a busy stream holds a batch.
                _ = std::future::ready(()), if batcher.linger().is_some() => {
                    if tx.send(batcher.take(in_tx || gtid.is_some())).await.is_err() {
                        pipeline_gone = true;
                        break;
                    }
                    continue;
                }
                }
            };
            let header = ev.header();
            let (event_start, log_pos) = if inner {
                payload_at
            } else {
                (next_pos, u64::from(header.log_pos()))
            };
            let ts_us = i64::from(header.timestamp()) * 1_000_000;
            let fail = |event: &str, pos: u64, reason: String| MySourceError::Decode {
                event: event.to_string(),
                file: file.to_string(),
                pos,
                reason,
            };
            let mut commit = false;
            if header.event_type_raw() == binlog::MARIADB_GTID_EVENT {
                let g = binlog::mariadb_gtid(ev.data())
                    .ok_or_else(|| fail("MariaDB GTID", log_pos, "truncated".into()))?;
                let text = format!("{}-{}-{}", g.domain, header.server_id(), g.seq);
                gtid_state.insert(g.domain, text.clone());
                gtid = Some(Arc::from(text.as_str()));
                tx_start = event_start;
                in_tx = true;
                if marked.is_none() {
                    marked = Some(ts_us);
                    batcher.mark(Marker::Begin {
                        commit_ts_us: ts_us,
                    });
                }
            } else if header.event_type_raw() == binlog::TRANSACTION_PAYLOAD_EVENT {
                // (Never an inner event: `PayloadEvents` refuses a nested one.) Its events are read next, one at a time, before the stream's next event.
                payload = Some(
                    binlog::PayloadEvents::open(&ev)
                        .map_err(|reason| fail("TRANSACTION_PAYLOAD", log_pos, reason))?,
                );
                payload_at = (event_start, log_pos);
            } else if !binlog::needed(header.event_type_raw()) {
                // Not needed: skipped unparsed (its position still counts below).
            } else {
                let data = ev
                    .read_data()
                    .map_err(|e| fail("header", log_pos, e.to_string()))?;
                match data {
                    Some(EventData::RotateEvent(r)) => {
                        // A rotate sent before the format description may still carry its
                        // checksum (the reader cannot know about checksums yet): MariaDB's
                        // does, MySQL 8's does not (trimming it anyway made `mysql-bin.000001`
                        // `mysql-bin.00`, and every restart halted, issue 28). Trim only a
                        // trailer that is the event's CRC32.
                        let raw = r.name_raw();
                        let raw = if !fde_seen && info.checksums {
                            binlog::without_checksum(&ev, raw)
                        } else {
                            raw
                        };
                        file = Arc::from(String::from_utf8_lossy(raw).as_ref());
                        next_pos = r.position();
                        tables.clear();
                        continue;
                    }
                    Some(EventData::QueryEvent(q)) => {
                        let stmt = q.query();
                        match binlog::classify(&stmt) {
                            Statement::Begin => {
                                in_tx = true;
                                tx_start = event_start;
                                if marked.is_none() {
                                    marked = Some(ts_us);
                                    batcher.mark(Marker::Begin {
                                        commit_ts_us: ts_us,
                                    });
                                }
                            }
                            Statement::Commit => commit = true,
                            Statement::Other => {}
                            Statement::Ddl => {
                                self.on_ddl(
                                    &stmt,
                                    &DdlAt {
                                        default_db: q.schema().as_ref(),
                                        server_id: header.server_id(),
                                        file: &file,
                                        event_start,
                                        log_pos,
                                        gtid: &gtid,
                                        ts_us,
                                        mariadb: info.mariadb,
                                    },
                                    DdlState {
                                        sql: &mut sql,
                                        captured: &mut captured,
                                        decoded: &mut decoded,
                                        tables: &mut tables,
                                        catalog_cache: &mut catalog_cache,
                                        shapes: &mut shapes,
                                        declared: &declared,
                                        kept: &mut kept,
                                        acks: &acks,
                                        inc: &mut inc,
                                        batcher: &mut batcher,
                                    },
                                )
                                .await?;
                                commit = true;
                            }
                        }
                    }
                    Some(EventData::FormatDescriptionEvent(_)) => fde_seen = true,
                    Some(EventData::GtidEvent(g)) => {
                        let text = gtid::text(&g.sid(), g.gno());
                        if let Some(set) = executed.as_mut() {
                            set.add(&text[..36], g.gno());
                        }
                        gtid = Some(Arc::from(text.as_str()));
                        tx_start = event_start;
                    }
                    Some(EventData::XidEvent(_)) => commit = true,
                    Some(EventData::TableMapEvent(tme)) => {
                        let id = TableId::new(tme.database_name(), tme.table_name());
                        if !decoded.contains(&id) {
                            tables.insert(tme.table_id(), None);
                        } else if !tables.get(&tme.table_id()).is_some_and(Option::is_some) {
                            let cat = match catalog_cache.get(&id) {
                                Some(c) => c.clone(),
                                None => {
                                    let c =
                                        catalog::table_columns(&mut sql, &id, &self.stream_keys)
                                            .await?
                                            .map(Arc::new);
                                    catalog_cache.insert(id.clone(), c.clone());
                                    c
                                }
                            };
                            let t = binlog::table_from_map(
                                id.clone(),
                                &tme,
                                cat.as_deref(),
                                shapes.get(&id).map(|h| (&**h, info.mariadb)),
                                &self.stream_keys,
                            )
                            .map_err(|e| fail("TABLE_MAP", log_pos, format!("{id}: {e:?}")))?;
                            tables.insert(tme.table_id(), Some(Arc::new(t)));
                        }
                    }
                    Some(EventData::RowsEvent(rows)) => {
                        let tid = rows.table_id();
                        if let Some(Some(t)) = tables.get(&tid) {
                            let tme = match &payload {
                                Some(p) if inner => p.tme(tid),
                                _ => stream.get_tme(tid),
                            };
                            let Some(tme) = tme else {
                                return Err(fail(
                                    "ROWS",
                                    log_pos,
                                    format!("no table map for table id {tid}"),
                                ));
                            };
                            let ns = &t.schema.table.namespace;
                            let db = match dbs.get(ns) {
                                Some(d) => Arc::clone(d),
                                None => {
                                    let d: Arc<str> = Arc::from(ns.as_str());
                                    dbs.insert(ns.clone(), Arc::clone(&d));
                                    d
                                }
                            };
                            let at = binlog::RowsAt {
                                db,
                                server_id: header.server_id(),
                                file: Arc::clone(&file),
                                pos: tx_start,
                                gtid: gtid.clone(),
                                ts_us,
                            };
                            let n0 = batcher.len();
                            binlog::decode_rows(t, &rows, tme, &at, batcher.events())
                                .map_err(|e| e.into_source_error(t, &file, log_pos))?;
                            if let Some(sig) = &signal {
                                crate::source::incremental::take_signals(
                                    batcher.events(),
                                    n0,
                                    sig,
                                    &mut signals,
                                    &self.connector,
                                );
                            }
                            inc.changes(&batcher.events()[n0..]);
                            batcher.counted(n0);
                            if batcher.full() {
                                // Mid-transaction flush: no checkpoint until the commit.
                                if tx.send(batcher.take(in_tx)).await.is_err() {
                                    pipeline_gone = true;
                                    break;
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            if log_pos > 0 {
                next_pos = log_pos;
            }
            if commit {
                in_tx = false;
                if let Some(commit_ts_us) = marked.take() {
                    batcher.mark(Marker::End {
                        position: Position::Mysql {
                            db: Arc::from(""),
                            server_id: header.server_id(),
                            file: Arc::clone(&file),
                            pos: tx_start,
                            row: 0,
                            gtid: gtid.clone(),
                        },
                        commit_ts_us,
                    });
                }
                let txn_gtid = gtid.take().filter(|_| !info.mariadb);
                let g = match &executed {
                    Some(set) => Some(set.to_string()),
                    None => (!gtid_state.is_empty())
                        .then(|| gtid_state.values().cloned().collect::<Vec<_>>().join(",")),
                };
                for r in signals.drain(..) {
                    inc.request(r);
                }
                let end = incremental::Coord {
                    file: Arc::clone(&file),
                    pos: next_pos,
                };
                let txn = incremental::MyTxn {
                    end: end.clone(),
                    gtid: txn_gtid,
                };
                if let Some(rows) = inc.commit(Some(txn), end) {
                    let n0 = batcher.len();
                    batcher.events().extend(rows);
                    batcher.counted(n0);
                }
                resume = (file.to_string(), next_pos, g);
                let full = batcher.commit(cp(&resume, &inc));
                tx_start = next_pos;
                if full && tx.send(batcher.take(false)).await.is_err() {
                    pipeline_gone = true;
                    break;
                }
                inc.kick().await;
            } else if !in_tx && gtid.is_none() && !inner && inc.waits() {
                // Between transactions (a heartbeat, a rotation, another table's DDL): the
                // stream is here, which may close a chunk's window.
                let at = incremental::Coord {
                    file: Arc::clone(&file),
                    pos: next_pos,
                };
                if let Some(rows) = inc.position(at) {
                    let n0 = batcher.len();
                    batcher.events().extend(rows);
                    batcher.counted(n0);
                    if batcher.commit(cp(&resume, &inc))
                        && tx.send(batcher.take(false)).await.is_err()
                    {
                        pipeline_gone = true;
                        break;
                    }
                    inc.kick().await;
                }
            }
        }
        // Hand over what was read, then wait until the pipeline has saved every checkpoint.
        if !pipeline_gone && !batcher.is_empty() {
            let _ = tx.send(batcher.take(in_tx || gtid.is_some())).await;
        }
        drop(tx);
        while acks.changed().await.is_ok() {}
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.close()).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), sql.disconnect()).await;
        Ok(SourceEnd::Stopped)
    }
}

/// Where a streamed DDL statement is in the binlog.
struct DdlAt<'a> {
    /// The statement's default database (its session's `USE`).
    default_db: &'a str,
    server_id: u32,
    file: &'a Arc<str>,
    /// Where its event starts, and where the next one does.
    event_start: u64,
    log_pos: u64,
    gtid: &'a Option<Arc<str>>,
    ts_us: i64,
    mariadb: bool,
}

/// The stream's state a DDL statement changes.
struct DdlState<'a> {
    /// The catalog connection (for shapes the statement does not state).
    sql: &'a mut mysql_async::Conn,
    captured: &'a mut HashSet<TableId>,
    decoded: &'a mut HashSet<TableId>,
    tables: &'a mut HashMap<u64, Option<Arc<Table>>>,
    catalog_cache: &'a mut HashMap<TableId, Option<Arc<CatalogTable>>>,
    shapes: &'a mut history::Shapes,
    /// Where the incremental snapshot reader reads the shapes.
    declared: &'a tokio::sync::watch::Sender<Arc<history::Shapes>>,
    kept: &'a mut kept_history::KeptHistory,
    acks: &'a tokio::sync::watch::Receiver<Option<Checkpoint>>,
    inc: &'a mut incremental::Runner,
    batcher: &'a mut Batcher,
}

impl MysqlSource {
    /// A streamed DDL statement: the tables it brings into capture, the caches it
    /// invalidates, the shapes it leaves (the schema history, kept in the offsets before the
    /// batch holding it can leave) and its schema-change records.
    async fn on_ddl(
        &self,
        stmt: &str,
        at: &DdlAt<'_>,
        st: DdlState<'_>,
    ) -> Result<(), MySourceError> {
        // A table the patterns match, created or renamed to a matching
        // name: captured from this statement on (every row of it
        // follows in the binlog, so there is nothing to snapshot).
        if self.patterns.is_active() {
            for id in created_tables(stmt, at.default_db) {
                if !st.captured.contains(&id) && self.patterns.matches(&id.to_string()) {
                    tracing::info!(connector = %self.connector, table = %id, "a table matching table_include_list appeared: captured from its DDL on");
                    st.inc.capture(crate::source::incremental::table_name(&id));
                    st.captured.insert(id.clone());
                    st.decoded.insert(id);
                }
            }
        }
        let ours = st.captured.iter().any(|t| {
            (at.default_db.is_empty()
                || at.default_db == t.namespace
                || stmt.contains(&t.namespace))
                && binlog::mentions(stmt, t)
        });
        // Re-read shapes at the next table map; event order keeps
        // older rows on their older shape.
        st.tables.clear();
        st.catalog_cache.clear();
        // A chunk read before a DDL on its table (TRUNCATE, ALTER)
        // is read again after it.
        st.inc.ddl(|t| binlog::mentions(stmt, t));
        // The schema history follows every DDL (rows before a later
        // DDL take their shape from it); its record is written when
        // schema changes are included.
        {
            let position = |db: &str| Position::Mysql {
                db: Arc::from(db),
                server_id: at.server_id,
                file: Arc::clone(at.file),
                pos: at.event_start,
                row: 0,
                gtid: at.gtid.clone(),
            };
            let default_db = at.default_db.to_string();
            let ddl = schema_change::Streamed {
                sql: stmt,
                default_db: &default_db,
                at: &position,
                ts_us: at.ts_us,
            };
            let records =
                schema_change::records(st.sql, at.mariadb, &ddl, st.shapes, st.captured).await?;
            st.declared.send_replace(Arc::new(st.shapes.clone()));
            if !records.is_empty() {
                // Kept before the batch holding this DDL (and the
                // checkpoint after it) can leave.
                let acked = match &*st.acks.borrow() {
                    Some(Checkpoint::Mysql { file, pos, .. }) => Some((file.clone(), *pos)),
                    _ => None,
                };
                st.kept.record(
                    (at.file, at.log_pos),
                    st.shapes,
                    acked.as_ref().map(|(f, p)| (f.as_str(), *p)),
                    false,
                )?;
                if self.settings.include_schema_changes {
                    for m in records {
                        st.batcher.mark(m);
                    }
                    st.batcher.linger_soon();
                }
            }
        }
        let outcome = if ours { "applied" } else { "ignored" };
        self.telemetry
            .schema_changes
            .with_label_values(&[&self.connector, outcome])
            .inc();
        if ours {
            tracing::info!(connector = %self.connector, file = %at.file, pos = at.log_pos, "schema change on a captured table");
        }
        Ok(())
    }
}

/// The tables a DDL statement brings into being: a `CREATE TABLE` and the new names of a
/// `RENAME TABLE` (unqualified names are in `default_db`).
fn created_tables(stmt: &str, default_db: &str) -> Vec<TableId> {
    let Some(st) = ddl::statement(stmt) else {
        return Vec::new();
    };
    if st.kind != TableChangeKind::Create && st.renamed_from.is_empty() {
        return Vec::new();
    }
    st.tables.iter().map(|t| t.id(default_db)).collect()
}
