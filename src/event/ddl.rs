//! Schema changes as Debezium's MySQL connector reports them (`include.schema.changes`): the
//! DDL text and the shape of each table it changed, in Debezium's generic table model
//! (`io.debezium.connector.schema.Table` / `Column`, with JDBC type codes).
//!
//! Invariants: `columns` are in table order with `position` counting from 1; a `Drop` change
//! has no shape, `Create` and `Alter` have one.

use std::sync::Arc;

use super::{Position, TableId};

/// One schema-change record.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaChange {
    /// The database the statement applies to (the record key); empty for server settings.
    pub database: String,
    /// The DDL statement.
    pub ddl: String,
    /// The table named in `source.table` (`None` for database-level statements).
    pub table: Option<String>,
    /// The tables the statement changed.
    pub changes: Vec<TableChange>,
    /// Where the statement sits (the snapshot's position for snapshot records).
    pub position: Position,
    /// When it was written (the snapshot's start for snapshot records), µs since the epoch.
    pub ts_us: i64,
    /// Whether it is part of the initial snapshot.
    pub snapshot: bool,
}

/// What a statement did to one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableChangeKind {
    /// `CREATE`.
    Create,
    /// `ALTER`.
    Alter,
    /// `DROP`.
    Drop,
}

impl TableChangeKind {
    /// Debezium's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TableChangeKind::Create => "CREATE",
            TableChangeKind::Alter => "ALTER",
            TableChangeKind::Drop => "DROP",
        }
    }
}

/// One table's change.
#[derive(Debug, Clone, PartialEq)]
pub struct TableChange {
    /// Create, alter or drop.
    pub kind: TableChangeKind,
    /// The table.
    pub table: TableId,
    /// Its shape after the change (`None` for a drop).
    pub shape: Option<Arc<TableDdl>>,
}

/// A table's shape in Debezium's generic model (serialized in the MySQL schema history kept
/// with the offsets).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct TableDdl {
    /// The table's default character set.
    pub default_charset: Option<String>,
    /// Primary-key column names in key order (empty without a primary key).
    pub primary_key: Vec<String>,
    /// Columns in table order.
    pub columns: Vec<DdlColumn>,
}

/// One column in Debezium's generic model.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct DdlColumn {
    /// Column name.
    pub name: String,
    /// `java.sql.Types` code Debezium assigns.
    pub jdbc_type: i32,
    /// Upper-case type name with `UNSIGNED` / `ZEROFILL` (also Debezium's `typeExpression`).
    pub type_name: String,
    /// Character set of a character column.
    pub charset: Option<String>,
    /// Length, display width or fractional-second precision, when the type states one.
    pub length: Option<i32>,
    /// Decimal scale, when stated.
    pub scale: Option<i32>,
    /// 1-based position.
    pub position: i32,
    /// Accepts NULL.
    pub optional: bool,
    /// Debezium's `autoIncremented`: `AUTO_INCREMENT`, or `ON UPDATE CURRENT_TIMESTAMP`.
    pub auto_incremented: bool,
    /// Debezium's `generated`: set with `autoIncremented` (a generated column, virtual or
    /// stored, is not marked).
    pub generated: bool,
    /// The default as Debezium writes it (string literals unquoted), none for `NULL`.
    pub default: Option<String>,
    /// ENUM / SET labels, quoted as in the DDL (`'a'`).
    pub enum_values: Option<Vec<String>>,
    /// The server's column type text (`int(11) unsigned`), to tell whether it changed.
    pub column_type: String,
}
