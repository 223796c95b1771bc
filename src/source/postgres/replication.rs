//! Streaming: pgoutput messages → change events, grouped into batches at commit boundaries.
//!
//! ```text
//! ReplicationClient.recv ─► Begin ─► XLogData(Relation|Insert|Update|Delete|Truncate)* ─► Commit
//!        │                                 │ StreamDecoder (pure)                        │
//!        │                                 ▼                                             ▼
//!        │                          ChangeEvents ──────────────► Batch{events, checkpoint=end_lsn}
//!        └── KeepAlive while idle ─► checkpoint-only batch (lets the slot advance)
//! acks (watch) ─► update_applied_lsn: only positions the pipeline made durable
//! ```
//! Invariants: a checkpoint is a commit's end LSN (or an idle keepalive's), emitted after all
//! of that transaction's events; a primary-key change becomes delete + tombstone + create, as
//! Debezium emits it; an unchanged TOASTed column is `Value::Unavailable`.

use std::collections::HashMap;
use std::sync::Arc;

use super::catalog::{self, ColumnKinds};
use super::error::PgSourceError;
use super::pgoutput::{Message, OldTuple, TupleValue};
use super::types::{parse_text, TypeRegistry};
use crate::event::{
    next_schema_version, ChangeEvent, LogicalMessage, Lsn, Marker, Op, Position, TableId,
    TableSchema, Value,
};

/// Microseconds between 1970-01-01 and PostgreSQL's epoch, 2000-01-01.
pub(crate) const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

#[derive(Debug)]
struct Relation {
    schema: Arc<TableSchema>,
    kinds: ColumnKinds,
}

/// Turns decoded pgoutput messages into change events. Catalog lookups happen outside,
/// in [`StreamDecoder::relation_needs`] / [`StreamDecoder::add_relation`], so the rest is pure.
#[derive(Debug)]
pub(crate) struct StreamDecoder {
    db: Arc<str>,
    emit_truncate: bool,
    relations: HashMap<u32, Relation>,
    pub(crate) registry: TypeRegistry,
    xid: Option<u32>,
    commit_ts_us: i64,
    last_commit_lsn: Option<Lsn>,
    /// `reselect_unavailable`: note which events need their unchanged TOAST values read.
    pub(crate) reselect: bool,
    pending: Vec<Reselect>,
}

/// An event whose unchanged TOAST values are to be read back by its key
/// (`reselect_unavailable`), and how.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reselect {
    /// The event's index in the `out` vector it was appended to.
    pub(crate) index: usize,
    oid: u32,
    /// The columns to read (indexes into the row).
    columns: Vec<usize>,
    /// The key columns' values as the server wrote them (text), in key order.
    key: Vec<(usize, String)>,
    lsn: Lsn,
}

impl StreamDecoder {
    pub(crate) fn new(db: &str, emit_truncate: bool) -> Self {
        Self {
            db: Arc::from(db),
            emit_truncate,
            relations: HashMap::new(),
            registry: TypeRegistry::default(),
            xid: None,
            commit_ts_us: 0,
            last_commit_lsn: None,
            reselect: false,
            pending: Vec::new(),
        }
    }

    /// The reselects noted since the last call (empty unless `reselect` is set).
    pub(crate) fn take_reselects(&mut self) -> Vec<Reselect> {
        std::mem::take(&mut self.pending)
    }

    /// The query reading a reselect's columns by key, as text (the simple protocol: the
    /// server's output format, as pgoutput sends values); `None` for an unknown relation.
    pub(crate) fn reselect_sql(&self, r: &Reselect) -> Option<String> {
        let rel = self.relations.get(&r.oid)?;
        let col = |i: usize| Some(catalog::quote_ident(&rel.schema.columns.get(i)?.name));
        let columns: Option<Vec<String>> = r.columns.iter().map(|&i| col(i)).collect();
        let filter: Option<Vec<String>> = r
            .key
            .iter()
            .map(|(i, text)| {
                // An E'' literal (its type comes from the column it is compared with), with
                // backslashes and quotes escaped: the same under any standard_conforming_strings.
                let lit = text.replace('\\', "\\\\").replace('\'', "''");
                Some(format!("{} = E'{lit}'", col(*i)?))
            })
            .collect();
        Some(format!(
            "SELECT {} FROM {} WHERE {}",
            columns?.join(", "),
            catalog::qualified(&rel.schema.table),
            filter?.join(" AND ")
        ))
    }

    /// Put the values a reselect read (one row, as text; `None` = NULL) into its event.
    pub(crate) fn apply_reselect(
        &self,
        r: &Reselect,
        row: &[Option<&str>],
        ev: &mut ChangeEvent,
    ) -> Result<(), PgSourceError> {
        let Some(rel) = self.relations.get(&r.oid) else {
            return Ok(());
        };
        let Some(after) = ev.after.as_mut() else {
            return Ok(());
        };
        for (&i, text) in r.columns.iter().zip(row) {
            let value = match text {
                None => Value::Null,
                Some(text) => {
                    let (kind, typmod) = &rel.kinds[i];
                    parse_text(kind, *typmod, text).map_err(|source| PgSourceError::Value {
                        table: rel.schema.table.to_string(),
                        column: rel.schema.columns[i].name.clone(),
                        position: format!("LSN {} (reselected)", r.lsn),
                        source,
                    })?
                }
            };
            if let Some(slot) = after.get_mut(i) {
                *slot = value;
            }
        }
        Ok(())
    }

    /// Note a reselect for the event just appended to `out` when its row has unchanged TOAST
    /// values and every key column's text is known.
    fn note_reselect(&mut self, oid: u32, new: &[TupleValue], lsn: Lsn, out: &[ChangeEvent]) {
        let (Some(ev), Some(rel)) = (out.last(), self.relations.get(&oid)) else {
            return;
        };
        let Some(after) = &ev.after else { return };
        let columns: Vec<usize> = after
            .iter()
            .enumerate()
            .filter(|(_, v)| **v == Value::Unavailable)
            .map(|(i, _)| i)
            .collect();
        if columns.is_empty() || rel.schema.key_columns.is_empty() {
            return;
        }
        let key: Option<Vec<(usize, String)>> = rel
            .schema
            .key_columns
            .iter()
            .map(|&i| match new.get(i)? {
                TupleValue::Text(b) => Some((i, std::str::from_utf8(b).ok()?.to_string())),
                _ => None,
            })
            .collect();
        if let Some(key) = key {
            self.pending.push(Reselect {
                index: out.len() - 1,
                oid,
                columns,
                key,
                lsn,
            });
        }
    }

    /// A transaction begins; its marker.
    pub(crate) fn begin(&mut self, xid: u32, commit_ts_pg_us: i64) -> Marker {
        self.xid = Some(xid);
        self.commit_ts_us = commit_ts_pg_us + PG_EPOCH_OFFSET_US;
        Marker::Begin {
            commit_ts_us: self.commit_ts_us,
        }
    }

    /// The current transaction committed at `lsn`, its commit record ending at `end_lsn`;
    /// its marker.
    pub(crate) fn commit(&mut self, lsn: Lsn, end_lsn: Lsn) -> Marker {
        let end = Marker::End {
            position: self.position(end_lsn),
            commit_ts_us: self.commit_ts_us,
        };
        self.xid = None;
        self.last_commit_lsn = Some(lsn);
        end
    }

    /// A logical decoding message at `lsn`: inside the open transaction when
    /// `transactional`, else on its own (then it has no transaction id, and its time is
    /// when it was read: the WAL records none).
    pub(crate) fn message(
        &self,
        transactional: bool,
        lsn: Lsn,
        prefix: String,
        content: Vec<u8>,
    ) -> Marker {
        let mut position = self.position(lsn);
        let commit_ts_us = if transactional {
            self.commit_ts_us
        } else {
            if let Position::Postgres { tx_id, .. } = &mut position {
                *tx_id = None;
            }
            crate::clock::now_us()
        };
        Marker::Message(LogicalMessage {
            prefix,
            content,
            position,
            commit_ts_us,
        })
    }

    /// Register a relation's shape (catalog columns already looked up by the caller).
    pub(crate) fn add_relation(
        &mut self,
        oid: u32,
        table: TableId,
        cols: &[(String, u32, i32)],
        catalog_cols: &[catalog::CatalogColumn],
    ) {
        let (schema, kinds) = catalog::build_schema(
            table,
            cols,
            catalog_cols,
            &self.registry,
            next_schema_version(),
        );
        self.relations.insert(
            oid,
            Relation {
                schema: Arc::new(schema),
                kinds,
            },
        );
    }

    fn position(&self, lsn: Lsn) -> Position {
        Position::Postgres {
            db: self.db.clone(),
            lsn,
            tx_id: self.xid,
            last_commit_lsn: self.last_commit_lsn,
        }
    }

    fn relation(&self, oid: u32, lsn: Lsn) -> Result<&Relation, PgSourceError> {
        self.relations
            .get(&oid)
            .ok_or(PgSourceError::UnknownRelation { oid, lsn })
    }

    fn row(rel: &Relation, tuple: &[TupleValue], lsn: Lsn) -> Result<Vec<Value>, PgSourceError> {
        if tuple.len() != rel.kinds.len() {
            return Err(PgSourceError::TupleShape {
                table: rel.schema.table.to_string(),
                lsn,
                got: tuple.len(),
                want: rel.kinds.len(),
            });
        }
        tuple
            .iter()
            .zip(&rel.kinds)
            .enumerate()
            .map(|(i, (v, (kind, typmod)))| match v {
                TupleValue::Null => Ok(Value::Null),
                TupleValue::Unchanged => Ok(Value::Unavailable),
                TupleValue::Text(b) | TupleValue::Binary(b) => {
                    let conv = |source| PgSourceError::Value {
                        table: rel.schema.table.to_string(),
                        column: rel.schema.columns[i].name.clone(),
                        position: format!("LSN {lsn}"),
                        source,
                    };
                    let text = std::str::from_utf8(b).map_err(|_| {
                        conv(super::types::TypeError {
                            type_name: "text".into(),
                            detail: "value is not utf-8",
                        })
                    })?;
                    parse_text(kind, *typmod, text).map_err(conv)
                }
            })
            .collect()
    }

    fn event(
        &self,
        op: Op,
        rel: &Relation,
        before: Option<Vec<Value>>,
        after: Option<Vec<Value>>,
        lsn: Lsn,
    ) -> Result<ChangeEvent, PgSourceError> {
        ChangeEvent::new(
            op,
            Arc::clone(&rel.schema),
            before,
            after,
            self.position(lsn),
            self.commit_ts_us,
        )
        .map_err(|_| PgSourceError::TupleShape {
            table: rel.schema.table.to_string(),
            lsn,
            got: 0,
            want: rel.kinds.len(),
        })
    }

    /// Convert a data message at `lsn` into events appended to `out`.
    pub(crate) fn change(
        &mut self,
        msg: Message,
        lsn: Lsn,
        out: &mut Vec<ChangeEvent>,
    ) -> Result<(), PgSourceError> {
        match msg {
            Message::Insert { oid, new } => {
                let rel = self.relation(oid, lsn)?;
                let after = Self::row(rel, &new, lsn)?;
                out.push(self.event(Op::Create, rel, None, Some(after), lsn)?);
            }
            Message::Update { oid, old, new } => {
                let rel = self.relation(oid, lsn)?;
                let mut after = Self::row(rel, &new, lsn)?;
                let before = match &old {
                    Some(OldTuple { values, .. }) => Some(Self::row(rel, values, lsn)?),
                    None => None,
                };
                let full_old = matches!(
                    old,
                    Some(OldTuple {
                        key_only: false,
                        ..
                    })
                );
                if let (Some(b), true) = (&before, full_old) {
                    // Unchanged TOAST values in the new row are known from a full old row
                    // (REPLICA IDENTITY FULL) only. A key-only old row (the default identity,
                    // on a key change) holds nulls for every other column: those are not the
                    // values, so the placeholder stays (issue 23: they were emitted as null).
                    for (a, bv) in after.iter_mut().zip(b) {
                        if *a == Value::Unavailable && *bv != Value::Unavailable {
                            *a = bv.clone();
                        }
                    }
                }
                let key_changed = match &before {
                    Some(b) => {
                        !rel.schema.key_columns.is_empty()
                            && rel.schema.key_of(b) != rel.schema.key_of(&after)
                    }
                    None => false,
                };
                if key_changed {
                    let mut delete = self.event(Op::Delete, rel, before, None, lsn)?;
                    let mut create = self.event(Op::Create, rel, None, Some(after), lsn)?;
                    delete.moved_key = Some(create.key.clone());
                    create.moved_key = Some(delete.key.clone());
                    out.push(delete);
                    out.push(create);
                    if self.reselect {
                        self.note_reselect(oid, &new, lsn, out);
                    }
                } else {
                    // With REPLICA IDENTITY DEFAULT the old key image alone is not a before image.
                    let before = match old {
                        Some(OldTuple {
                            key_only: false, ..
                        }) => before,
                        _ => None,
                    };
                    out.push(self.event(Op::Update, rel, before, Some(after), lsn)?);
                    if self.reselect {
                        self.note_reselect(oid, &new, lsn, out);
                    }
                }
            }
            Message::Delete { oid, old } => {
                let rel = self.relation(oid, lsn)?;
                let before = Self::row(rel, &old.values, lsn)?;
                out.push(self.event(Op::Delete, rel, Some(before), None, lsn)?);
            }
            Message::Truncate { oids, .. } if self.emit_truncate => {
                for oid in oids {
                    let rel = self.relation(oid, lsn)?;
                    out.push(self.event(Op::Truncate, rel, None, None, lsn)?);
                }
            }
            // Begin/Commit arrive as typed events; Relation is handled by the caller;
            // Type, Origin and logical messages carry nothing sluice emits.
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::postgres::pgoutput::{decode, tests as enc};
    use bytes::Bytes;

    fn decoder() -> StreamDecoder {
        let mut d = StreamDecoder::new("db", false);
        let cat = vec![
            catalog::CatalogColumn {
                name: "id".into(),
                type_oid: 23,
                typmod: -1,
                not_null: true,
                default: None,
                in_pk: Some(0),
            },
            catalog::CatalogColumn {
                name: "v".into(),
                type_oid: 25,
                typmod: -1,
                not_null: false,
                default: None,
                in_pk: None,
            },
        ];
        d.add_relation(
            9,
            TableId::new("public", "t"),
            &[("id".into(), 23, -1), ("v".into(), 25, -1)],
            &cat,
        );
        d.begin(5, 0);
        d
    }

    /// Inserts become `c` events keyed by the primary key, with commit time and xid.
    #[test]
    fn insert_event() {
        let mut d = decoder();
        let mut out = Vec::new();
        let msg = decode(enc::insert(9, &[Some("1"), Some("x")])).expect("decodes");
        d.change(msg, Lsn(100), &mut out).expect("converts");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].op, Op::Create);
        assert_eq!(out[0].key, vec![Value::Int(1)]);
        assert_eq!(out[0].commit_ts_us, PG_EPOCH_OFFSET_US);
        assert!(matches!(
            out[0].position,
            Position::Postgres {
                tx_id: Some(5),
                lsn: Lsn(100),
                ..
            }
        ));
    }

    /// A primary-key change becomes delete (+ tombstone downstream) then create.
    #[test]
    fn key_change_is_delete_create() {
        let mut d = decoder();
        let mut b = vec![b'U'];
        b.extend_from_slice(&9u32.to_be_bytes());
        b.push(b'K');
        enc::tuple(&mut b, &[Some("4"), None]);
        b.push(b'N');
        enc::tuple(&mut b, &[Some("40"), Some("x")]);
        let mut out = Vec::new();
        d.change(decode(Bytes::from(b)).expect("decodes"), Lsn(1), &mut out)
            .expect("converts");
        let ops: Vec<_> = out.iter().map(|e| (e.op, e.key.clone())).collect();
        assert_eq!(
            ops,
            vec![
                (Op::Delete, vec![Value::Int(4)]),
                (Op::Create, vec![Value::Int(40)])
            ]
        );
        assert!(out[0].needs_tombstone());
    }

    /// Issue 23: a key change under the default identity (a key-only old row: nulls for the
    /// other columns) whose new row leaves a TOASTed column unchanged: the create record
    /// carries the placeholder, never the key-only image's null; a full old row (REPLICA
    /// IDENTITY FULL) still supplies the real value.
    #[test]
    fn key_change_keeps_unchanged_toast_unavailable() {
        let mut d = decoder();
        for (identity, want) in [
            (b'K', Value::Unavailable),
            (b'O', Value::String("large".into())),
        ] {
            let mut b = vec![b'U'];
            b.extend_from_slice(&9u32.to_be_bytes());
            b.push(identity);
            if identity == b'K' {
                enc::tuple(&mut b, &[Some("4"), None]);
            } else {
                enc::tuple(&mut b, &[Some("4"), Some("large")]);
            }
            b.push(b'N');
            // Column count, the new key, then `u` (unchanged TOAST) for v.
            b.extend_from_slice(&2u16.to_be_bytes());
            b.push(b't');
            b.extend_from_slice(&2u32.to_be_bytes());
            b.extend_from_slice(b"40");
            b.push(b'u');
            let mut out = Vec::new();
            d.change(decode(Bytes::from(b)).expect("decodes"), Lsn(1), &mut out)
                .expect("converts");
            assert_eq!(out[1].op, Op::Create);
            let after = out[1].after.as_ref().expect("after");
            assert_eq!(after[1], want, "old tuple {}", identity as char);
        }
    }

    /// With `reselect` on, an update with an unchanged TOAST value (and a key change's
    /// create) notes a read-back by its key; the query quotes identifiers and the key's text,
    /// and the values read replace the placeholder.
    #[test]
    fn reselect_reads_unchanged_values_by_key() {
        let mut d = decoder();
        d.reselect = true;
        let mut b = vec![b'U'];
        b.extend_from_slice(&9u32.to_be_bytes());
        b.push(b'N');
        b.extend_from_slice(&2u16.to_be_bytes());
        b.push(b't');
        b.extend_from_slice(&1u32.to_be_bytes());
        b.extend_from_slice(b"4");
        b.push(b'u');
        let mut out = vec![];
        d.change(decode(Bytes::from(b)).expect("decodes"), Lsn(7), &mut out)
            .expect("converts");
        let pending = d.take_reselects();
        assert_eq!(pending.len(), 1);
        let r = &pending[0];
        assert_eq!((r.index, r.columns.as_slice()), (0, &[1][..]));
        assert_eq!(
            d.reselect_sql(r).as_deref(),
            Some(r#"SELECT "v" FROM "public"."t" WHERE "id" = E'4'"#)
        );
        let quoted = Reselect {
            key: vec![(0, r"a'b\c".into())],
            ..pending[0].clone()
        };
        assert_eq!(
            d.reselect_sql(&quoted).as_deref(),
            Some(r#"SELECT "v" FROM "public"."t" WHERE "id" = E'a''b\\c'"#)
        );
        let ev = &mut out[0];
        d.apply_reselect(r, &[Some("large")], ev).expect("applies");
        assert_eq!(
            ev.after.as_ref().expect("after")[1],
            Value::String("large".into())
        );
        d.apply_reselect(r, &[None], ev).expect("applies");
        assert_eq!(ev.after.as_ref().expect("after")[1], Value::Null);
        // Off: nothing noted.
        d.reselect = false;
        let mut out = vec![];
        let mut b = vec![b'U'];
        b.extend_from_slice(&9u32.to_be_bytes());
        b.push(b'N');
        enc::tuple(&mut b, &[Some("5"), Some("x")]);
        d.change(decode(Bytes::from(b)).expect("decodes"), Lsn(8), &mut out)
            .expect("converts");
        assert!(d.take_reselects().is_empty());
    }

    /// Changes for relations never described, and wrong tuple widths, are errors.
    #[test]
    fn unknown_relation_and_shape() {
        let mut d = decoder();
        let mut out = Vec::new();
        let msg = decode(enc::insert(10, &[Some("1")])).expect("decodes");
        assert!(matches!(
            d.change(msg, Lsn(1), &mut out),
            Err(PgSourceError::UnknownRelation { oid: 10, .. })
        ));
        let msg = decode(enc::insert(9, &[Some("1")])).expect("decodes");
        assert!(matches!(
            d.change(msg, Lsn(1), &mut out),
            Err(PgSourceError::TupleShape {
                got: 1,
                want: 2,
                ..
            })
        ));
        let msg = decode(enc::insert(9, &[Some("x1"), None])).expect("decodes");
        let err = d.change(msg, Lsn(7), &mut out).expect_err("bad int");
        let text = err.to_string();
        assert!(
            text.contains("column id") && text.contains("public.t") && text.contains("0/7"),
            "{text}"
        );
    }
}
