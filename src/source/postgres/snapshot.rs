//! Initial snapshot: every configured table read inside one REPEATABLE READ, read-only
//! transaction, on the snapshot the replication slot exported (or a fresh one for
//! `initial_only`), so the stream continues exactly where the snapshot ends.
//!
//! ```text
//! CREATE_REPLICATION_SLOT … EXPORT_SNAPSHOT ──► BEGIN RR READ ONLY; SET TRANSACTION SNAPSHOT
//!   for each table: COPY (SELECT cols FROM t) TO STDOUT ──► rows ──► op "r" events ──► batches
//! final batch: checkpoint { consistent point, snapshot_done }
//! ```
//! Invariants: no checkpoint is emitted before the last row, so an interrupted snapshot is
//! never half-acknowledged (it restarts from scratch); memory is bounded by the batch limits.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio_postgres::Transaction;

use super::catalog::{self, qualified, quote_ident, ColumnKinds};
use super::error::PgSourceError;
use super::types::{parse_text, TypeRegistry};
use crate::event::{next_schema_version, ChangeEvent, Op, Position, TableId, TableSchema, Value};
use crate::source::snapshot::SnapshotEmitter;

/// Begin the snapshot transaction, importing `exported` when given.
pub(crate) async fn begin<'c>(
    client: &'c mut tokio_postgres::Client,
    exported: Option<&str>,
) -> Result<Transaction<'c>, PgSourceError> {
    let txn = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(PgSourceError::sql("starting the snapshot transaction"))?;
    if let Some(name) = exported {
        txn.batch_execute(&format!(
            "SET TRANSACTION SNAPSHOT {}",
            catalog::quote_literal(name)
        ))
        .await
        .map_err(PgSourceError::sql("importing the slot's snapshot"))?;
    }
    Ok(txn)
}

/// Read every table and emit `r` events. Returns `Ok(false)` when the pipeline closed.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn copy_tables(
    txn: &Transaction<'_>,
    db: &str,
    tables: &[TableId],
    keys: &crate::source::keys::KeyOverrides,
    position_lsn: crate::event::Lsn,
    registry: &mut TypeRegistry,
    emitter: &mut SnapshotEmitter<'_>,
    shutdown: &tokio::sync::watch::Receiver<bool>,
    telemetry: &crate::telemetry::Telemetry,
    connector: &str,
) -> Result<bool, PgSourceError> {
    let ts_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    let position = Position::Postgres {
        db: Arc::from(db),
        lsn: position_lsn,
        tx_id: None,
        last_commit_lsn: None,
    };
    let remaining = telemetry.snapshot_remaining.with_label_values(&[connector]);
    remaining.set(tables.len() as i64);
    for (ti, table) in tables.iter().enumerate() {
        let cat = catalog::table_columns(txn, table, keys).await?;
        let oids: Vec<u32> = cat.iter().map(|c| c.type_oid).collect();
        catalog::learn_types(txn, registry, &oids).await?;
        let cols: Vec<(String, u32, i32)> = cat
            .iter()
            .map(|c| (c.name.clone(), c.type_oid, c.typmod))
            .collect();
        let (schema, kinds) =
            catalog::build_schema(table.clone(), &cols, &cat, registry, next_schema_version());
        let schema = Arc::new(schema);
        let select: Vec<String> = cols.iter().map(|(n, _, _)| quote_ident(n)).collect();
        let sql = format!(
            "COPY (SELECT {} FROM {}{}) TO STDOUT",
            select.join(", "),
            qualified(table),
            keys.filter(table)
                .map(|f| format!(" WHERE ({f})"))
                .unwrap_or_default()
        );
        let table_name = table.to_string();
        // Progress: the catalog's estimate beside the rows read (an estimate: -1 or 0 for a
        // table never analyzed).
        let estimate: Option<f32> = txn
            .query_opt(
                &format!(
                    "SELECT reltuples FROM pg_class WHERE oid = to_regclass({})",
                    catalog::quote_literal(&qualified(table))
                ),
                &[],
            )
            .await
            .ok()
            .flatten()
            .map(|r| r.get(0));
        telemetry
            .snapshot_estimated
            .with_label_values(&[connector, &table_name])
            .set(estimate.map_or(0, |e| e.max(0.0) as i64));
        let progress = telemetry
            .snapshot_rows
            .with_label_values(&[connector, &table_name]);
        tracing::info!(connector, table = %table, "snapshot of table started");
        let stream = txn
            .copy_out(sql.as_str())
            .await
            .map_err(PgSourceError::sql("starting COPY for the snapshot"))?;
        futures_util::pin_mut!(stream);
        let mut buf = BytesMut::new();
        let before = emitter.rows;
        let mut counted = before;
        while let Some(chunk) = stream.next().await {
            if *shutdown.borrow() {
                return Ok(false);
            }
            let chunk = chunk.map_err(PgSourceError::sql("reading COPY data"))?;
            // PostgreSQL sends one row per CopyData message: parse it in place.
            let single_row =
                buf.is_empty() && chunk.last() == Some(&b'\n') && memchr_count(&chunk, b'\n') == 1;
            let mut lines: Vec<Bytes> = Vec::new();
            if single_row {
                lines.push(chunk.slice(..chunk.len() - 1));
            } else {
                buf.extend_from_slice(&chunk);
                while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
                    let line = buf.split_to(nl + 1).freeze();
                    lines.push(line.slice(..nl));
                }
            }
            for line in lines {
                let row = parse_copy_row(&line, &schema, &kinds, &table_name)?;
                let ev = ChangeEvent::new(
                    Op::Read,
                    Arc::clone(&schema),
                    None,
                    Some(row),
                    position.clone(),
                    ts_us,
                )
                .map_err(|_| PgSourceError::Copy {
                    table: table_name.clone(),
                    detail: "row does not match the table's columns",
                })?;
                if emitter.push(ev).await.is_err() {
                    return Ok(false);
                }
                if emitter.rows - counted >= 1024 {
                    progress.inc_by(emitter.rows - counted);
                    counted = emitter.rows;
                }
            }
        }
        if !buf.is_empty() {
            return Err(PgSourceError::Copy {
                table: table_name,
                detail: "data ended in the middle of a row",
            });
        }
        if emitter.end_table(ti + 1 == tables.len()).await.is_err() {
            return Ok(false);
        }
        let n = emitter.rows - before;
        progress.inc_by(emitter.rows - counted);
        remaining.set((tables.len() - ti - 1) as i64);
        tracing::info!(connector, table = %table, rows = n, "snapshot of table finished");
    }
    Ok(true)
}

/// Split one COPY text-format line into converted values.
pub(super) fn parse_copy_row(
    line: &Bytes,
    schema: &TableSchema,
    kinds: &ColumnKinds,
    table: &str,
) -> Result<Vec<Value>, PgSourceError> {
    let mut out = Vec::with_capacity(kinds.len());
    let bad = |detail| PgSourceError::Copy {
        table: table.to_string(),
        detail,
    };
    for (i, field) in line.split(|&b| b == b'\t').enumerate() {
        let Some((kind, typmod)) = kinds.get(i) else {
            return Err(bad("more fields than columns"));
        };
        if field == b"\\N" {
            out.push(Value::Null);
            continue;
        }
        let text = unescape(field).ok_or_else(|| bad("invalid escape or utf-8"))?;
        let v =
            parse_text(kind, *typmod, text.as_ref()).map_err(|source| PgSourceError::Value {
                table: table.to_string(),
                column: schema.columns[i].name.clone(),
                position: "snapshot".into(),
                source,
            })?;
        out.push(v);
    }
    if out.len() != kinds.len() {
        return Err(bad("fewer fields than columns"));
    }
    Ok(out)
}

fn memchr_count(haystack: &[u8], needle: u8) -> usize {
    haystack.iter().filter(|&&b| b == needle).count()
}

/// Undo COPY text-format escaping (borrowing when there is nothing to undo).
pub(super) fn unescape(field: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    if !field.contains(&b'\\') {
        return std::str::from_utf8(field)
            .ok()
            .map(std::borrow::Cow::Borrowed);
    }
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let next = *field.get(i + 1)?;
        i += 2;
        match next {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut v = u32::from(next - b'0');
                for _ in 0..2 {
                    match field.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            b'x' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 {
                    match field.get(i).and_then(|d| (*d as char).to_digit(16)) {
                        Some(d) => {
                            v = v * 16 + d;
                            i += 1;
                            n += 1;
                        }
                        None => break,
                    }
                }
                if n == 0 {
                    out.push(b'x');
                } else {
                    out.push(v as u8);
                }
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).ok().map(std::borrow::Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// COPY escapes decode to the original bytes.
    #[test]
    fn copy_unescape() {
        assert_eq!(unescape(b"plain").as_deref(), Some("plain"));
        assert_eq!(unescape(b"a\\tb\\nc\\\\d").as_deref(), Some("a\tb\nc\\d"));
        assert_eq!(unescape(b"\\101\\x42").as_deref(), Some("AB"));
        assert_eq!(unescape(b"\\\\x0102").as_deref(), Some("\\x0102"));
        assert_eq!(unescape(b"trailing\\"), None);
    }
}
