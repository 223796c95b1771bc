//! Debezium's `source` block: its fields in schema order for each source kind (the one
//! description the JSON and the Avro writers both follow) and the JSON block, of which the
//! last is kept. Invariant: a kept block is reused only for the same position (but for a
//! MySQL row index, which is written in), commit time, snapshot marker and table.

use super::{json, EnvelopeEncoder};
use crate::event::{ChangeEvent, Position, SnapshotMarker, TableId};

/// What a `source` block is written from: the change's position, commit time, snapshot
/// marker and table.
#[derive(Clone, Copy)]
pub(crate) struct SourceAt<'a> {
    pub position: &'a Position,
    pub commit_ts_us: i64,
    pub snapshot: Option<SnapshotMarker>,
    pub table: &'a TableId,
}

impl<'a> SourceAt<'a> {
    /// Where a change event's `source` block comes from.
    pub(crate) fn of(ev: &'a ChangeEvent) -> Self {
        Self {
            position: &ev.position,
            commit_ts_us: ev.commit_ts_us,
            snapshot: ev.snapshot,
            table: &ev.schema.table,
        }
    }
}

/// A rendered JSON `source` block and its inputs (see [`EnvelopeEncoder::write_source`]).
#[derive(Debug)]
pub(super) struct SourceBlock {
    /// The position (the block serves every row of a MySQL rows event: the row's index
    /// is written in at `row_value`).
    position: Position,
    commit_ts_us: i64,
    snapshot: Option<SnapshotMarker>,
    table: TableId,
    json: Vec<u8>,
    /// Where in `json` the MySQL `row` value is (start, end), for MySQL positions.
    row_value: Option<(usize, usize)>,
}

/// Whether two positions share a `source` block but for the MySQL `row` index.
pub(super) fn same_but_row(a: &Position, b: &Position) -> bool {
    match (a, b) {
        (
            Position::Mysql {
                db,
                server_id,
                file,
                pos,
                row: _,
                gtid,
            },
            Position::Mysql {
                db: db2,
                server_id: server_id2,
                file: file2,
                pos: pos2,
                row: _,
                gtid: gtid2,
            },
        ) => pos == pos2 && server_id == server_id2 && file == file2 && db == db2 && gtid == gtid2,
        _ => a == b,
    }
}

/// A `source` field's JSON key, `,"name":` (the Avro writer reads the name back with
/// [`source_key`]).
macro_rules! key {
    ($name:literal) => {
        concat!(",\"", $name, "\":").as_bytes()
    };
}

/// The field name in a key made by `key!`.
pub(super) fn source_key(key: &[u8]) -> &[u8] {
    key.get(2..key.len().saturating_sub(2)).unwrap_or_default()
}

/// One scalar of the envelope's own fields (the `source` block, `op`, `ts_*`).
#[derive(Debug, Clone, Copy)]
pub(super) enum Scalar<'a> {
    Null,
    Str(&'a str),
    Int(i64),
}

impl EnvelopeEncoder {
    /// The `source` block as JSON (its fields from [`Self::source_fields`]).
    ///
    /// The last block is kept: snapshot reads share one, and so do a MySQL transaction's
    /// changes to one table (all but the `row` index, which is written in). A PostgreSQL
    /// change has its own LSN, so its block is rendered each time.
    pub(super) fn write_source(&self, at: SourceAt<'_>, out: &mut Vec<u8>) {
        let position = at.position;
        let cached = at.snapshot.is_some() || matches!(position, Position::Mysql { .. });
        if !cached {
            self.render_source(at, out);
            return;
        }
        if let Ok(last) = self.last_source.lock() {
            if let Some(b) = last.as_ref().filter(|b| {
                b.commit_ts_us == at.commit_ts_us
                    && b.snapshot == at.snapshot
                    && same_but_row(&b.position, position)
                    && b.table == *at.table
            }) {
                match (b.row_value, position) {
                    (Some((from, to)), Position::Mysql { row, .. }) => {
                        out.extend_from_slice(b.json.get(..from).unwrap_or_default());
                        json::int(out, i64::from(*row));
                        out.extend_from_slice(b.json.get(to..).unwrap_or_default());
                    }
                    _ => out.extend_from_slice(&b.json),
                }
                return;
            }
        }
        let start = out.len();
        let row_value = self.render_source(at, out);
        if let Ok(mut last) = self.last_source.lock() {
            *last = Some(SourceBlock {
                position: position.clone(),
                commit_ts_us: at.commit_ts_us,
                snapshot: at.snapshot,
                table: at.table.clone(),
                json: out.get(start..).unwrap_or_default().to_vec(),
                row_value: row_value.map(|(a, b)| (a - start, b - start)),
            });
        }
    }

    /// Render the `source` block onto `out`; where in `out` the MySQL `row` value is.
    pub(super) fn render_source(
        &self,
        at: SourceAt<'_>,
        out: &mut Vec<u8>,
    ) -> Option<(usize, usize)> {
        let start = out.len();
        let mut row_value = None;
        self.source_fields(at, |key, v| {
            out.extend_from_slice(key);
            let at = out.len();
            match v {
                Scalar::Null => out.extend_from_slice(b"null"),
                Scalar::Str(s) => json::string(out, s),
                Scalar::Int(i) => json::int(out, i),
            }
            if key == key!("row") {
                row_value = Some((at, out.len()));
            }
        });
        // Every key starts with a comma: the first one opens the object instead.
        if let Some(b) = out.get_mut(start) {
            *b = b'{';
        }
        out.push(b'}');
        row_value
    }

    /// The fields of Debezium's `source` block for this source kind, in schema order: the
    /// one description both the JSON and the Avro writers follow. Each field comes as its
    /// JSON key (`,"name":`, see [`source_key`]) and its value.
    pub(super) fn source_fields(
        &self,
        at: SourceAt<'_>,
        mut f: impl FnMut(&'static [u8], Scalar<'_>),
    ) {
        let SourceAt {
            position,
            commit_ts_us,
            snapshot,
            table,
        } = at;
        use Scalar::{Int, Null, Str};
        let ts_us = commit_ts_us;
        f(key!("version"), Str(crate::VERSION));
        f(key!("connector"), Str(self.opts.source_kind.connector()));
        f(key!("name"), Str(&self.opts.topic_prefix));
        f(key!("ts_ms"), Int(ts_us.div_euclid(1000)));
        f(
            key!("snapshot"),
            Str(snapshot.map_or("false", |s| s.as_str())),
        );
        match position {
            Position::Postgres {
                db,
                lsn,
                tx_id,
                last_commit_lsn,
            } => {
                f(key!("db"), Str(db));
                // An incremental snapshot's read belongs to no transaction: Debezium writes
                // no txId and no lsn, and the stream position it was emitted at, twice, as
                // the sequence.
                let incremental = snapshot == Some(SnapshotMarker::Incremental);
                let last_commit_lsn = if incremental {
                    &Some(*lsn)
                } else {
                    last_commit_lsn
                };
                let mut seq = Vec::with_capacity(32);
                seq.push(b'[');
                match last_commit_lsn {
                    Some(l) => json::string(&mut seq, &l.0.to_string()),
                    None => seq.extend_from_slice(b"null"),
                }
                seq.push(b',');
                json::string(&mut seq, &lsn.0.to_string());
                seq.push(b']');
                f(
                    key!("sequence"),
                    Str(std::str::from_utf8(&seq).unwrap_or("[]")),
                );
                f(key!("ts_us"), Int(ts_us));
                f(key!("ts_ns"), Int(ts_us.saturating_mul(1000)));
                f(key!("schema"), Str(&table.namespace));
                f(key!("table"), Str(&table.name));
                if incremental {
                    f(key!("txId"), Null);
                    f(key!("lsn"), Null);
                } else {
                    f(key!("txId"), tx_id.map_or(Null, |x| Int(i64::from(x))));
                    f(key!("lsn"), Int(lsn.0 as i64));
                }
                f(key!("xmin"), Null);
                f(key!("origin"), Null);
                f(key!("origin_lsn"), Null);
            }
            Position::Mysql {
                db,
                server_id,
                file,
                pos,
                row,
                gtid,
            } => {
                f(key!("db"), Str(db));
                f(key!("sequence"), Null);
                f(key!("ts_us"), Int(ts_us));
                f(key!("ts_ns"), Int(ts_us.saturating_mul(1000)));
                f(
                    key!("table"),
                    if table.name.is_empty() {
                        Null
                    } else {
                        Str(&table.name)
                    },
                );
                f(key!("server_id"), Int(i64::from(*server_id)));
                f(key!("gtid"), gtid.as_deref().map_or(Null, Str));
                f(key!("file"), Str(file));
                f(key!("pos"), Int(*pos as i64));
                f(key!("row"), Int(i64::from(*row)));
                f(key!("thread"), Null);
                f(key!("query"), Null);
            }
            Position::None => {
                f(key!("db"), Str(""));
                f(key!("sequence"), Null);
                f(key!("ts_us"), Int(ts_us));
                f(key!("ts_ns"), Int(ts_us.saturating_mul(1000)));
                f(key!("schema"), Str(&table.namespace));
                f(key!("table"), Str(&table.name));
                f(key!("txId"), Null);
                f(key!("lsn"), Null);
                f(key!("xmin"), Null);
                f(key!("origin"), Null);
                f(key!("origin_lsn"), Null);
            }
        }
    }
}
