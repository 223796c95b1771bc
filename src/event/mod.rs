//! The one change-event model every source converts to at its boundary.
//!
//! Sources (PostgreSQL today) translate their wire formats into [`ChangeEvent`]s made of
//! source-agnostic [`Value`]s typed by a [`TableSchema`]; the envelope, pipeline and sinks see
//! nothing else. Invariants enforced by the constructors:
//! - `c`/`r` carry `after`, `d` carries `before` (at least the key columns), `u` carries `after`;
//! - every row has exactly one value per column of its schema, in schema order;
//! - `key` holds the primary-key values in key-column order (empty when the table has none).

mod ddl;
mod document;
mod marker;
mod position;
mod value;

use std::sync::Arc;

pub use ddl::{DdlColumn, SchemaChange, TableChange, TableChangeKind, TableDdl};
pub(crate) use document::Fields;
pub use document::{doc_id, DocAction, DocChange, Document, Origin};
pub use marker::{LogicalMessage, Marker};
pub use position::{Checkpoint, IncrementalTable, Lsn, Position, SnapshotProgress};
pub use value::{ColumnType, Value};

/// The kind of change, with Debezium's one-letter codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// A row read by the initial snapshot (`r`).
    Read,
    /// An inserted row (`c`).
    Create,
    /// An updated row (`u`).
    Update,
    /// A deleted row (`d`).
    Delete,
    /// A truncated table (`t`).
    Truncate,
}

impl Op {
    /// Debezium's code for the operation.
    pub fn code(self) -> &'static str {
        match self {
            Op::Read => "r",
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Truncate => "t",
        }
    }
}

/// A fully qualified table name: PostgreSQL schema (or MySQL database) and table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId {
    /// Namespace: the PostgreSQL schema or the MySQL database.
    pub namespace: String,
    /// Table name.
    pub name: String,
}

impl TableId {
    /// Build a table id from its two parts.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for TableId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.namespace, self.name)
    }
}

/// What a sink needs to know about a captured table before its first event (sources
/// announce it; the Kafka sink sets up topics from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableShape {
    /// The table.
    pub table: TableId,
    /// Whether its records carry a key (primary key, configured or fallback key columns).
    pub keyed: bool,
}

/// One column of a table as the envelope needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Column name as in the database.
    pub name: String,
    /// Source-agnostic type that decides the value's encoding.
    pub ty: ColumnType,
    /// Whether the column accepts NULL (Connect's `optional`).
    pub nullable: bool,
    /// Constant default value, when the database declares a literal one.
    pub default: Option<Value>,
}

/// The shape of a table at one point in its history. Shared (`Arc`) by all events of that
/// shape; a schema change produces a new `TableSchema` with a higher `version`.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    /// The table this schema describes.
    pub table: TableId,
    /// Columns in table order.
    pub columns: Vec<Column>,
    /// Indexes into `columns` of the primary-key columns, in key order.
    pub key_columns: Vec<usize>,
    /// Monotonic per process; lets encoders cache rendered schemas.
    pub version: u64,
}

impl TableSchema {
    /// Extract the key values of `row` (which must match this schema).
    pub fn key_of(&self, row: &[Value]) -> Vec<Value> {
        self.key_columns
            .iter()
            .map(|&i| row.get(i).cloned().unwrap_or(Value::Null))
            .collect()
    }
}

/// One row change, source-agnostic.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    /// What happened.
    pub op: Op,
    /// The table's shape for `before`, `after` and `key`.
    pub schema: Arc<TableSchema>,
    /// Primary-key values in key order; empty for tables without a key and for truncates.
    pub key: Vec<Value>,
    /// Row image before the change (`d`, and `u` when the source logged it).
    pub before: Option<Vec<Value>>,
    /// Row image after the change (`c`, `r`, `u`).
    pub after: Option<Vec<Value>>,
    /// Where the change sits in the source's log, and what may be acknowledged after it.
    pub position: Position,
    /// Commit (or snapshot) time of the change in the source, microseconds since the epoch.
    pub commit_ts_us: i64,
    /// Snapshot marker for `r` events (Debezium's `source.snapshot`); `None` while streaming.
    pub snapshot: Option<SnapshotMarker>,
    /// For the two halves of a primary-key change (a delete of the old key, then a create
    /// of the new one): the other half's key. Written as Debezium's `__debezium.newkey` /
    /// `__debezium.oldkey` headers; sinks use it to carry values the create lacks.
    pub moved_key: Option<Vec<Value>>,
}

/// Debezium's `source.snapshot` values for snapshot reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMarker {
    /// The first record of the snapshot.
    First,
    /// The first record of a table other than the first.
    FirstInDataCollection,
    /// A record in the middle of the snapshot.
    True,
    /// The last record of one table.
    LastInDataCollection,
    /// The very last record of the snapshot.
    Last,
    /// A row read by an incremental snapshot while streaming went on.
    Incremental,
}

impl SnapshotMarker {
    /// The string Debezium writes.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotMarker::First => "first",
            SnapshotMarker::FirstInDataCollection => "first_in_data_collection",
            SnapshotMarker::True => "true",
            SnapshotMarker::LastInDataCollection => "last_in_data_collection",
            SnapshotMarker::Last => "last",
            SnapshotMarker::Incremental => "incremental",
        }
    }
}

/// Why a [`ChangeEvent`] could not be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EventError {
    /// The row image does not have one value per column.
    #[error("row of table {table} has {got} values but the schema has {want} columns")]
    RowShape {
        /// Table of the row.
        table: TableId,
        /// Values in the row.
        got: usize,
        /// Columns in the schema.
        want: usize,
    },
    /// The operation needs an image that is missing.
    #[error("{op:?} event for table {table} lacks its {image} image")]
    MissingImage {
        /// The operation.
        op: Op,
        /// The table.
        table: TableId,
        /// `before` or `after`.
        image: &'static str,
    },
}

impl ChangeEvent {
    /// Build an event, checking the invariants listed in the module docs.
    pub fn new(
        op: Op,
        schema: Arc<TableSchema>,
        before: Option<Vec<Value>>,
        after: Option<Vec<Value>>,
        position: Position,
        commit_ts_us: i64,
    ) -> Result<Self, EventError> {
        let want = schema.columns.len();
        for row in before.iter().chain(after.iter()) {
            if row.len() != want {
                return Err(EventError::RowShape {
                    table: schema.table.clone(),
                    got: row.len(),
                    want,
                });
            }
        }
        let missing = |image| EventError::MissingImage {
            op,
            table: schema.table.clone(),
            image,
        };
        let key = match op {
            Op::Read | Op::Create | Op::Update => {
                schema.key_of(after.as_deref().ok_or_else(|| missing("after"))?)
            }
            Op::Delete => schema.key_of(before.as_deref().ok_or_else(|| missing("before"))?),
            Op::Truncate => Vec::new(),
        };
        Ok(Self {
            op,
            schema,
            key,
            before,
            after,
            position,
            commit_ts_us,
            snapshot: None,
            moved_key: None,
        })
    }

    /// Whether a tombstone must follow this event. Every delete gets one, as in Debezium
    /// (`tombstones.on.delete`); a key-less table's tombstone has a null key too.
    pub fn needs_tombstone(&self) -> bool {
        self.op == Op::Delete
    }
}

static SCHEMA_VERSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A fresh, process-unique schema version.
pub fn next_schema_version() -> u64 {
    SCHEMA_VERSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Arc<TableSchema> {
        Arc::new(TableSchema {
            table: TableId::new("public", "t"),
            columns: vec![
                Column {
                    name: "id".into(),
                    ty: ColumnType::Int32,
                    nullable: false,
                    default: None,
                },
                Column {
                    name: "v".into(),
                    ty: ColumnType::String,
                    nullable: true,
                    default: None,
                },
            ],
            key_columns: vec![0],
            version: 1,
        })
    }

    /// Insert and delete events derive their key from the right image.
    #[test]
    fn key_from_images() {
        let pos = Position::default();
        let c = ChangeEvent::new(
            Op::Create,
            schema(),
            None,
            Some(vec![Value::Int(7), Value::Null]),
            pos.clone(),
            0,
        )
        .expect("valid insert");
        assert_eq!(c.key, vec![Value::Int(7)]);
        let d = ChangeEvent::new(
            Op::Delete,
            schema(),
            Some(vec![Value::Int(8), Value::Null]),
            None,
            pos,
            0,
        )
        .expect("valid delete");
        assert_eq!(d.key, vec![Value::Int(8)]);
        assert!(d.needs_tombstone());
    }

    /// A row with the wrong number of values and a delete without before are rejected.
    #[test]
    fn invariants_enforced() {
        let pos = Position::default();
        let bad = ChangeEvent::new(
            Op::Create,
            schema(),
            None,
            Some(vec![Value::Int(7)]),
            pos.clone(),
            0,
        );
        assert!(matches!(
            bad,
            Err(EventError::RowShape {
                got: 1,
                want: 2,
                ..
            })
        ));
        let bad = ChangeEvent::new(Op::Delete, schema(), None, None, pos, 0);
        assert!(matches!(
            bad,
            Err(EventError::MissingImage {
                image: "before",
                ..
            })
        ));
    }
}
