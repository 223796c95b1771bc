//! Binlog decoding: TABLE_MAP events to [`Table`]s, rows events to [`ChangeEvent`]s, MariaDB's
//! own GTID events, and DDL detection.
//!
//! Invariants:
//! - a table's shape comes from the catalog only while the catalog still describes the table
//!   map (same column names, binlog types that fit); otherwise from the table map's full row
//!   metadata, so events before and after a DDL each carry the shape they were written with;
//! - an update that changes the primary key becomes a delete (+ tombstone) and a create;
//! - nothing here panics on malformed input: every failure is a [`DecodeFail`].

use std::sync::Arc;

use mysql_async::binlog::events::{
    ColumnCharsets, DefaultCharset, OptionalMetadataField, RowsEventData, TableMapEvent,
};
use mysql_async::binlog::value::BinlogValue;
use mysql_async::consts::ColumnType as MyType;
use mysql_async::Value as MyValue;
use mysql_common::proto::MySerialize;

use super::catalog::{self, CatalogTable, Table};
use super::types::{Charset, Kind, Origin};
use crate::event::{next_schema_version, ChangeEvent, Column, Op, Position, TableId, TableSchema};
use crate::source::keys::KeyOverrides;

/// Why an event could not be decoded (the caller adds table and position).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DecodeFail {
    /// The event's bytes are malformed.
    Malformed(String),
    /// A column value did not fit its kind.
    Value {
        /// Column name.
        column: String,
        /// Why.
        source: super::types::TypeError,
    },
}

impl DecodeFail {
    /// The source error for a rows event of `table` ending at `file:pos`.
    pub(crate) fn into_source_error(
        self,
        table: &Table,
        file: &str,
        pos: u64,
    ) -> super::MySourceError {
        match self {
            DecodeFail::Value { column, source } => super::MySourceError::Value {
                table: table.schema.table.to_string(),
                column,
                position: format!("{file}:{pos}"),
                source,
            },
            DecodeFail::Malformed(reason) => super::MySourceError::Decode {
                event: "ROWS".into(),
                file: file.into(),
                pos,
                reason: format!("{}: {reason}", table.schema.table),
            },
        }
    }
}

/// A MariaDB GTID event (type 0xa2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MariaGtid {
    /// Sequence number.
    pub seq: u64,
    /// Replication domain.
    pub domain: u32,
    /// The transaction is a single statement without BEGIN (e.g. DDL).
    pub standalone: bool,
}

/// MariaDB's GTID event type code.
pub(crate) const MARIADB_GTID_EVENT: u8 = 0xa2;

/// MySQL 8's compressed transaction (`binlog_transaction_compression=ON`), which sluice does
/// not read: refused by type, before any parsing.
pub(crate) const TRANSACTION_PAYLOAD_EVENT: u8 = 0x28;

/// Whether sluice needs the body of an event of this type (everything else is skipped
/// unparsed: the third-party parser is not safe on hostile bytes of types sluice never
/// uses, e.g. PREVIOUS_GTIDS with a huge count). Types: QUERY 2, ROTATE 4, FORMAT_DESCRIPTION
/// 15, XID 16, TABLE_MAP 19, ROWS v1 23–25, ROWS v2 30–32, GTID 33, PARTIAL_UPDATE_ROWS 39.
pub(crate) fn needed(event_type: u8) -> bool {
    matches!(event_type, 2 | 4 | 15 | 16 | 19 | 23..=25 | 30..=33 | 39)
}

/// The events inside a compressed transaction (MySQL 8.0.20+ `binlog_transaction_compression`:
/// a TRANSACTION_PAYLOAD event holding the whole transaction, zstd-compressed), read one at
/// a time: memory holds the compressed payload and one inner event, never the transaction.
/// Every inner event's size is checked against the payload's declared uncompressed size and
/// [`MAX_INNER_EVENT`] before anything is allocated; the third-party parser runs under a
/// panic guard.
pub(crate) struct PayloadEvents {
    reader: Box<dyn std::io::Read + Send>,
    /// Declared uncompressed bytes not read yet.
    remaining: u64,
    /// Parses inner events (no checksums, as MySQL writes them) and keeps their table maps.
    events: mysql_common::binlog::EventStreamReader,
}

impl std::fmt::Debug for PayloadEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayloadEvents")
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

/// The largest inner event of a compressed transaction: MySQL's largest event (1 GiB,
/// `max_allowed_packet`'s ceiling).
const MAX_INNER_EVENT: u64 = 1 << 30;

impl PayloadEvents {
    /// Open a TRANSACTION_PAYLOAD event.
    pub(crate) fn open(ev: &mysql_common::binlog::events::Event) -> Result<Self, String> {
        use mysql_common::binlog::consts::TransactionPayloadCompressionType as Compression;
        use mysql_common::binlog::events::TransactionPayloadEvent;
        let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ev.read_event::<TransactionPayloadEvent<'_>>().map(|p| {
                (
                    p.algorithm(),
                    p.uncompressed_size(),
                    p.payload_size(),
                    p.payload_raw().to_vec(),
                )
            })
        }));
        let (algorithm, declared, size, raw) = match parsed {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return Err(format!("malformed compressed transaction: {e}")),
            Err(_) => {
                return Err(
                    "malformed compressed transaction (unknown compression or fields)".into(),
                )
            }
        };
        if raw.is_empty() || size != raw.len() as u64 {
            return Err(format!(
                "malformed compressed transaction: its payload claims {size} bytes and holds {}",
                raw.len()
            ));
        }
        let reader: Box<dyn std::io::Read + Send> = match algorithm {
            Compression::ZSTD => Box::new(
                zstd::stream::read::Decoder::new(std::io::Cursor::new(raw))
                    .map_err(|e| format!("zstd: {e}"))?,
            ),
            Compression::NONE => Box::new(std::io::Cursor::new(raw)),
        };
        Ok(Self {
            reader,
            remaining: declared,
            events: mysql_common::binlog::EventStreamReader::new(
                mysql_common::binlog::consts::BinlogVersion::Version4,
            ),
        })
    }

    /// The next inner event; `None` after the last. A compressed transaction inside one is
    /// an error (MySQL never writes one).
    pub(crate) fn next_event(
        &mut self,
    ) -> Result<Option<mysql_common::binlog::events::Event>, String> {
        use std::io::Read;
        let mut head = [0u8; 19];
        let mut got = 0;
        while got < head.len() {
            match self.reader.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("decompressing: {e}")),
            }
        }
        if got == 0 {
            return Ok(None);
        }
        if got < head.len() {
            return Err("a compressed transaction ends inside an event header".into());
        }
        if head[4] == TRANSACTION_PAYLOAD_EVENT {
            return Err("a compressed transaction inside a compressed transaction".into());
        }
        let size = u64::from(u32::from_le_bytes([head[9], head[10], head[11], head[12]]));
        if size < 19 || size > self.remaining || size > MAX_INNER_EVENT {
            return Err(format!(
                "an inner event of {size} bytes in a compressed transaction with {} bytes left",
                self.remaining
            ));
        }
        self.remaining -= size;
        let mut buf = Vec::with_capacity(size as usize);
        buf.extend_from_slice(&head);
        (&mut self.reader)
            .take(size - 19)
            .read_to_end(&mut buf)
            .map_err(|e| format!("decompressing: {e}"))?;
        if buf.len() as u64 != size {
            return Err("a compressed transaction ends inside an event".into());
        }
        let events = &mut self.events;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            events.read_decompressed(&buf[..])
        }))
        .map_err(|_| "the binlog parser rejected an inner event's bytes".to_string())?
        .map_err(|e| format!("inner event: {e}"))
    }

    /// The table map an inner rows event refers to.
    pub(crate) fn tme(&self, table_id: u64) -> Option<&TableMapEvent<'static>> {
        self.events.get_tme(table_id)
    }
}

/// Parse a MariaDB GTID event body: seq_no u64 LE, domain_id u32 LE, flags u8, ….
pub(crate) fn mariadb_gtid(data: &[u8]) -> Option<MariaGtid> {
    let seq = u64::from_le_bytes(data.get(0..8)?.try_into().ok()?);
    let domain = u32::from_le_bytes(data.get(8..12)?.try_into().ok()?);
    let flags = *data.get(12)?;
    Some(MariaGtid {
        seq,
        domain,
        standalone: flags & 1 != 0,
    })
}

/// What a QUERY event's statement means for the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Statement {
    /// `BEGIN`: a transaction starts.
    Begin,
    /// `COMMIT` (non-transactional engines log it as a query).
    Commit,
    /// `ROLLBACK`, `SAVEPOINT`, `XA …`: nothing to do.
    Other,
    /// Anything else is treated as DDL.
    Ddl,
}

/// Classify a statement from a QUERY event.
pub(crate) fn classify(sql: &str) -> Statement {
    let head: String = sql
        .trim_start()
        .chars()
        .take(12)
        .collect::<String>()
        .to_ascii_uppercase();
    if head.starts_with("BEGIN") {
        Statement::Begin
    } else if head.starts_with("COMMIT") {
        Statement::Commit
    } else if head.starts_with("ROLLBACK")
        || head.starts_with("SAVEPOINT")
        || head.starts_with("XA ")
        || head.starts_with("RELEASE")
    {
        Statement::Other
    } else {
        Statement::Ddl
    }
}

/// Whether a DDL statement may concern `table` (its name appears, any case). False
/// positives only cost a catalog re-read.
pub(crate) fn mentions(sql: &str, table: &TableId) -> bool {
    sql.to_ascii_lowercase()
        .contains(&table.name.to_ascii_lowercase())
}

/// Column types a table map may declare (what current MySQL and MariaDB servers log).
fn decodable(ty: MyType) -> bool {
    use MyType::*;
    matches!(
        ty,
        MYSQL_TYPE_TINY
            | MYSQL_TYPE_SHORT
            | MYSQL_TYPE_INT24
            | MYSQL_TYPE_LONG
            | MYSQL_TYPE_LONGLONG
            | MYSQL_TYPE_FLOAT
            | MYSQL_TYPE_DOUBLE
            | MYSQL_TYPE_NEWDECIMAL
            | MYSQL_TYPE_BIT
            | MYSQL_TYPE_YEAR
            | MYSQL_TYPE_DATE
            | MYSQL_TYPE_NEWDATE
            | MYSQL_TYPE_TIME
            | MYSQL_TYPE_TIME2
            | MYSQL_TYPE_DATETIME
            | MYSQL_TYPE_DATETIME2
            | MYSQL_TYPE_TIMESTAMP
            | MYSQL_TYPE_TIMESTAMP2
            | MYSQL_TYPE_ENUM
            | MYSQL_TYPE_SET
            | MYSQL_TYPE_JSON
            | MYSQL_TYPE_STRING
            | MYSQL_TYPE_VARCHAR
            | MYSQL_TYPE_BLOB
            | MYSQL_TYPE_TINY_BLOB
            | MYSQL_TYPE_MEDIUM_BLOB
            | MYSQL_TYPE_LONG_BLOB
            | MYSQL_TYPE_GEOMETRY
    )
}

/// Metadata within the server's limits (the value decoder's arithmetic assumes them).
fn metadata_sane(ty: MyType, m: &[u8]) -> bool {
    use MyType::*;
    let b = |i: usize| m.get(i).copied().unwrap_or(0);
    match ty {
        MYSQL_TYPE_NEWDECIMAL => (1..=65).contains(&b(0)) && b(1) <= 30 && b(1) <= b(0),
        MYSQL_TYPE_BIT => b(0) <= 7 && (1..=64).contains(&(u32::from(b(1)) * 8 + u32::from(b(0)))),
        MYSQL_TYPE_TIME2 | MYSQL_TYPE_DATETIME2 | MYSQL_TYPE_TIMESTAMP2 => b(0) <= 6,
        _ => true,
    }
}

fn fits(kind: &Kind, ty: MyType) -> bool {
    use MyType::*;
    match kind {
        Kind::Int { bytes: 1, .. } | Kind::Bool => ty == MYSQL_TYPE_TINY,
        Kind::Int { bytes: 2, .. } => ty == MYSQL_TYPE_SHORT,
        Kind::Int { bytes: 3, .. } => ty == MYSQL_TYPE_INT24,
        Kind::Int { bytes: 4, .. } => ty == MYSQL_TYPE_LONG,
        Kind::Int { .. } => ty == MYSQL_TYPE_LONGLONG,
        Kind::Float | Kind::FloatAsDouble => ty == MYSQL_TYPE_FLOAT,
        Kind::Geometry { .. } => matches!(ty, MYSQL_TYPE_GEOMETRY | MYSQL_TYPE_BLOB),
        Kind::Double => ty == MYSQL_TYPE_DOUBLE,
        Kind::Decimal { .. } => ty == MYSQL_TYPE_NEWDECIMAL,
        Kind::Bit { .. } => ty == MYSQL_TYPE_BIT,
        Kind::Year => ty == MYSQL_TYPE_YEAR,
        Kind::Date => matches!(ty, MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE),
        Kind::Time => matches!(ty, MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2),
        Kind::DateTime { .. } => matches!(ty, MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2),
        Kind::Timestamp { .. } => matches!(ty, MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2),
        Kind::Enum(_) => ty == MYSQL_TYPE_ENUM,
        Kind::Set(_) => ty == MYSQL_TYPE_SET,
        Kind::Json => ty == MYSQL_TYPE_JSON,
        Kind::Text { .. } | Kind::Binary { .. } | Kind::Uuid | Kind::Inet6 => matches!(
            ty,
            MYSQL_TYPE_STRING
                | MYSQL_TYPE_VARCHAR
                | MYSQL_TYPE_VAR_STRING
                | MYSQL_TYPE_BLOB
                | MYSQL_TYPE_TINY_BLOB
                | MYSQL_TYPE_MEDIUM_BLOB
                | MYSQL_TYPE_LONG_BLOB
                | MYSQL_TYPE_GEOMETRY
        ),
    }
}

/// What the table map's optional metadata says, gathered in one pass.
#[derive(Debug, Default)]
struct MapMeta {
    names: Vec<String>,
    unsigned: Vec<bool>,
    /// The collations of the character columns.
    text: Collations,
    /// Each ENUM's and each SET's labels, as the column's charset encodes them.
    enums: Vec<Vec<Vec<u8>>>,
    sets: Vec<Vec<Vec<u8>>>,
    /// The collations of the ENUM and SET columns (counted together, in column order).
    enum_set: Collations,
    key: Vec<usize>,
}

/// The collations of one kind of column, as a table map lists them: a default and the
/// exceptions (`DEFAULT_CHARSET`), or one per column (`COLUMN_CHARSET`).
#[derive(Debug, Default)]
struct Collations {
    default: Option<u16>,
    exceptions: Vec<(u64, u16)>,
    per_column: Vec<u16>,
}

impl Collations {
    fn read_default(&mut self, d: &DefaultCharset<'_>) -> Result<(), DecodeFail> {
        self.default = Some(d.default_charset());
        for nd in d.iter_non_default() {
            let nd = nd.map_err(bad)?;
            self.exceptions.push((nd.column_index(), nd.charset()));
        }
        Ok(())
    }

    fn read_per_column(&mut self, c: &ColumnCharsets<'_>) -> Result<(), DecodeFail> {
        for cs in c.iter_charsets() {
            self.per_column.push(cs.map_err(bad)?);
        }
        Ok(())
    }

    /// The collation of the `i`-th column of this kind (0-based).
    fn of(&self, i: usize) -> Option<u16> {
        self.per_column
            .get(i)
            .copied()
            .or_else(|| {
                self.exceptions
                    .iter()
                    .find(|(c, _)| *c == i as u64)
                    .map(|(_, cs)| *cs)
            })
            .or(self.default)
    }
}

fn bad(e: impl std::fmt::Display) -> DecodeFail {
    DecodeFail::Malformed(e.to_string())
}

fn map_meta(tme: &TableMapEvent<'_>) -> Result<MapMeta, DecodeFail> {
    let mut m = MapMeta::default();
    for field in tme.iter_optional_meta() {
        match field.map_err(bad)? {
            OptionalMetadataField::ColumnName(names) => {
                for n in names.iter_names() {
                    m.names.push(n.map_err(bad)?.name().into_owned());
                }
            }
            OptionalMetadataField::Signedness(bits) => {
                m.unsigned = bits.iter().map(|b| *b).collect();
            }
            OptionalMetadataField::DefaultCharset(d) => m.text.read_default(&d)?,
            OptionalMetadataField::ColumnCharset(c) => m.text.read_per_column(&c)?,
            OptionalMetadataField::EnumAndSetDefaultCharset(d) => m.enum_set.read_default(&d)?,
            OptionalMetadataField::EnumAndSetColumnCharset(c) => m.enum_set.read_per_column(&c)?,
            // The parser's own iterator sizes a vector from the claimed label count (2^36
            // labels aborted the process): read the raw bytes, counts checked first.
            OptionalMetadataField::EnumStrValue(e) => {
                let mut raw = Vec::new();
                e.serialize(&mut raw);
                m.enums = labels(&raw, MAX_ENUM_LABELS)?;
            }
            OptionalMetadataField::SetStrValue(s) => {
                let mut raw = Vec::new();
                s.serialize(&mut raw);
                m.sets = labels(&raw, MAX_SET_MEMBERS)?;
            }
            OptionalMetadataField::SimplePrimaryKey(k) => {
                for i in k.iter_indexes() {
                    m.key.push(i.map_err(bad)? as usize);
                }
            }
            OptionalMetadataField::PrimaryKeyWithPrefix(k) => {
                for i in k.iter_keys() {
                    m.key.push(i.map_err(bad)?.column_index() as usize);
                }
            }
            _ => {}
        }
    }
    Ok(m)
}

/// The most labels an ENUM (65535) or members a SET (64) can have.
const MAX_ENUM_LABELS: u64 = 65_535;
const MAX_SET_MEMBERS: u64 = 64;

/// A length-encoded integer at the start of `buf`, and the bytes after it.
fn lenenc(buf: &[u8]) -> Result<(u64, &[u8]), DecodeFail> {
    let truncated = || DecodeFail::Malformed("truncated length in a table map's labels".into());
    let (&first, rest) = buf.split_first().ok_or_else(truncated)?;
    let width = match first {
        0..=0xfa => return Ok((u64::from(first), rest)),
        0xfc => 2,
        0xfd => 3,
        0xfe => 8,
        _ => {
            return Err(DecodeFail::Malformed(format!(
                "bad length byte {first:#04x} in a table map's labels"
            )))
        }
    };
    if rest.len() < width {
        return Err(truncated());
    }
    let mut le = [0u8; 8];
    le[..width].copy_from_slice(&rest[..width]);
    Ok((u64::from_le_bytes(le), &rest[width..]))
}

/// The label lists of a table map's ENUM_STR_VALUE or SET_STR_VALUE field: per column a
/// count, then that many length-encoded strings. Every count and length is checked against
/// `max` and the bytes present before anything is allocated. The labels are the column's
/// charset's bytes, decoded once the column's charset is known.
fn labels(mut buf: &[u8], max: u64) -> Result<Vec<Vec<Vec<u8>>>, DecodeFail> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (count, rest) = lenenc(buf)?;
        // Each label takes at least its one length byte.
        if count > max || count > rest.len() as u64 {
            return Err(DecodeFail::Malformed(format!(
                "a table map claims {count} labels for one column (at most {max}, {} bytes left)",
                rest.len()
            )));
        }
        buf = rest;
        let mut column = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let (len, rest) = lenenc(buf)?;
            if len > rest.len() as u64 {
                return Err(DecodeFail::Malformed(format!(
                    "a table map label claims {len} bytes, {} left",
                    rest.len()
                )));
            }
            let (label, rest) = rest.split_at(len as usize);
            column.push(label.to_vec());
            buf = rest;
        }
        out.push(column);
    }
    Ok(out)
}

/// The collation of the `binary` charset.
const BINARY_COLLATION: u16 = 63;

/// Build the table for a table map: from the catalog when it still describes the map, else
/// from the map's own metadata.
pub(crate) fn table_from_map(
    id: TableId,
    tme: &TableMapEvent<'_>,
    catalog_cols: Option<&CatalogTable>,
    history: Option<(&crate::event::TableDdl, bool)>,
    keys: &KeyOverrides,
) -> Result<Table, DecodeFail> {
    guard(|| {
        let mut t = table_from_map_inner(id, tme, catalog_cols, history, keys)?;
        if let Some((h, _)) = history {
            declared_types(&mut t, h);
        }
        t.row_map = row_map(tme)?.map(Arc::new);
        t.plan = Some(Arc::new(RowPlan::of(
            t.row_map.as_deref().unwrap_or(tme),
            tme,
        )?));
        Ok(t)
    })
}

/// Columns whose type streamed DDL stated as one the server stores as another, typed as
/// Debezium's DDL parser types them: `BOOL`/`BOOLEAN` (`jdbcType` 16 in the schema history;
/// the server's `TINYINT`) are booleans, and MariaDB's `JSON` (its `LONGTEXT`) is
/// `io.debezium.data.Json`. The catalog, and a snapshot's `SHOW CREATE TABLE`, show the
/// server's type, so snapshotted columns keep it, as with Debezium.
pub(super) fn declared_types(t: &mut Table, h: &crate::event::TableDdl) {
    let mut schema = None;
    for (i, k) in t.kinds.iter_mut().enumerate() {
        let Some(name) = t.schema.columns.get(i).map(|c| &c.name) else {
            continue;
        };
        let Some(stated) = h.columns.iter().find(|c| &c.name == name) else {
            continue;
        };
        match k {
            Kind::Int { bytes: 1, .. } if stated.jdbc_type == 16 => *k = Kind::Bool,
            Kind::Text { json, .. } if !*json && stated.type_name == "JSON" => *json = true,
            _ => continue,
        }
        let s: &mut TableSchema = schema.get_or_insert_with(|| (*t.schema).clone());
        s.columns[i].ty = k.column_type();
        s.columns[i].default = stated
            .default
            .as_deref()
            .and_then(|d| history_default(k, d));
    }
    if let Some(s) = schema {
        t.schema = Arc::new(s);
    }
}

/// Run a decoder that calls into mysql_common, whose parsers can panic (or, in debug builds,
/// overflow) on malformed bytes: a panic becomes a [`DecodeFail`], never a crash.
fn guard<T>(f: impl FnOnce() -> Result<T, DecodeFail>) -> Result<T, DecodeFail> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(DecodeFail::Malformed(
            "the binlog parser rejected the event's bytes".into(),
        ))
    })
}

fn table_from_map_inner(
    id: TableId,
    tme: &TableMapEvent<'_>,
    catalog_cols: Option<&CatalogTable>,
    history: Option<(&crate::event::TableDdl, bool)>,
    keys: &KeyOverrides,
) -> Result<Table, DecodeFail> {
    let meta = map_meta(tme)?;
    let n = tme.columns_count() as usize;
    if meta.names.len() != n {
        return Err(DecodeFail::Malformed(format!(
            "table map of {id} carries {} column names for {n} columns (binlog_row_metadata must be FULL)",
            meta.names.len()
        )));
    }
    let mut types = Vec::with_capacity(n);
    for i in 0..n {
        let t = match tme.get_column_type(i) {
            Ok(Some(t)) => t,
            Ok(None) => return Err(DecodeFail::Malformed(format!("no type for column {i}"))),
            Err(e) => return Err(bad(e)),
        };
        // Only types the row decoder handles, each with its complete metadata: the value
        // decoder indexes the metadata bytes and must never see a short slice.
        let sane = tme
            .get_column_metadata(i)
            .is_some_and(|m| metadata_sane(t, m));
        if !decodable(t) || !sane {
            return Err(DecodeFail::Malformed(format!(
                "column {i} of {id} has type {t:?} with metadata the decoder cannot use"
            )));
        }
        types.push(t);
    }
    if let Some((cols, key)) = catalog_cols {
        let same = catalog::names(cols).eq(meta.names.iter().map(String::as_str))
            && catalog::kinds(cols).zip(&types).all(|(k, t)| fits(k, *t));
        // The schema history (the shape as of the last DDL streamed) agrees with the
        // catalog on nullability and defaults: otherwise a later DDL changed only those
        // (`MODIFY a int NULL DEFAULT 11`), and the rows here were written before it.
        let agrees = history.is_none_or(|(h, mariadb)| {
            catalog::names(cols)
                .zip(catalog::facts(cols))
                .all(|(name, (nullable, default))| {
                    h.columns.iter().find(|c| c.name == name).is_none_or(|c| {
                        c.optional == nullable
                            && c.default
                                == super::history::history_form(default, &c.column_type, mariadb)
                    })
                })
        });
        if same {
            let mut t = catalog::build_table(id, cols, key);
            if let (false, Some((h, _))) = (agrees, history) {
                let mut schema = (*t.schema).clone();
                for (c, k) in schema.columns.iter_mut().zip(&t.kinds) {
                    if let Some(stated) = h.columns.iter().find(|s| s.name == c.name) {
                        c.nullable = stated.optional;
                        c.default = stated
                            .default
                            .as_deref()
                            .and_then(|d| history_default(k, d));
                    }
                }
                t.schema = Arc::new(schema);
            }
            return Ok(t);
        }
        tracing::info!(table = %id, "catalog no longer matches the binlog table map (a later DDL); using the binlog's metadata");
    }
    let (mut numeric, mut character, mut enums, mut sets) = (0usize, 0usize, 0usize, 0usize);
    // The labels of the `at`-th ENUM or SET column (counted together, as their charsets are
    // listed), in its charset.
    let labels_of = |raw: Option<&Vec<Vec<u8>>>, at: usize| -> Arc<[String]> {
        let charset = meta
            .enum_set
            .of(at)
            .map_or(Charset::Utf8, Charset::of_collation);
        raw.map(|l| l.iter().map(|b| charset.decode(b.clone())).collect())
            .unwrap_or_default()
    };
    let mut kinds = Vec::with_capacity(n);
    for (i, ty) in types.iter().enumerate() {
        let md = tme.get_column_metadata(i).unwrap_or(&[]);
        let b = |j: usize| md.get(j).copied().unwrap_or(0);
        let unsigned = if ty.is_numeric_type() {
            numeric += 1;
            meta.unsigned.get(numeric - 1).copied().unwrap_or(false)
        } else {
            false
        };
        let charset = if ty.is_character_type() {
            character += 1;
            meta.text.of(character - 1)
        } else {
            None
        };
        use MyType::*;
        let kind = match *ty {
            MYSQL_TYPE_TINY => Kind::Int { bytes: 1, unsigned },
            MYSQL_TYPE_SHORT => Kind::Int { bytes: 2, unsigned },
            MYSQL_TYPE_INT24 => Kind::Int { bytes: 3, unsigned },
            MYSQL_TYPE_LONG => Kind::Int { bytes: 4, unsigned },
            MYSQL_TYPE_LONGLONG => Kind::Int { bytes: 8, unsigned },
            MYSQL_TYPE_FLOAT => Kind::Float,
            MYSQL_TYPE_DOUBLE => Kind::Double,
            MYSQL_TYPE_NEWDECIMAL => Kind::Decimal {
                precision: u32::from(b(0)),
                scale: u32::from(b(1)),
            },
            MYSQL_TYPE_BIT => Kind::Bit {
                bits: (u32::from(b(1)) * 8 + u32::from(b(0))).max(1),
            },
            MYSQL_TYPE_YEAR => Kind::Year,
            MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => Kind::Date,
            MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => Kind::Time,
            MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2 => Kind::DateTime { fsp: b(0).min(6) },
            MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => Kind::Timestamp { fsp: b(0).min(6) },
            MYSQL_TYPE_ENUM => {
                enums += 1;
                Kind::Enum(labels_of(meta.enums.get(enums - 1), enums + sets - 1))
            }
            MYSQL_TYPE_SET => {
                sets += 1;
                Kind::Set(labels_of(meta.sets.get(sets - 1), enums + sets - 1))
            }
            MYSQL_TYPE_JSON => Kind::Json,
            MYSQL_TYPE_STRING if charset == Some(BINARY_COLLATION) => {
                // Field length from the metadata (see mysql_common's STRING decoding).
                let (b0, b1) = (usize::from(b(0)), usize::from(b(1)));
                let len = if b0 & 0x30 != 0x30 {
                    b1 | (((b0 & 0x30) ^ 0x30) << 4)
                } else {
                    b1
                };
                Kind::Binary { pad_to: Some(len) }
            }
            _ if charset == Some(BINARY_COLLATION) || charset.is_none() => {
                Kind::Binary { pad_to: None }
            }
            _ => Kind::Text {
                charset: charset.map_or(Charset::Utf8, Charset::of_collation),
                json: false,
            },
        };
        kinds.push(kind);
    }
    // The catalog already shows a later DDL: nullability comes from the table map itself,
    // and defaults (and nullability) from the schema history, which is the shape as of the
    // last DDL streamed, i.e. the shape these rows were written with.
    let nulls = tme.null_bitmask();
    let columns = meta
        .names
        .iter()
        .zip(&kinds)
        .enumerate()
        .map(|(i, (name, k))| {
            let stated = history.and_then(|(h, _)| h.columns.iter().find(|c| &c.name == name));
            Column {
                name: name.clone(),
                ty: k.column_type(),
                nullable: stated.map_or_else(|| nulls.get(i).is_none_or(|b| *b), |c| c.optional),
                default: stated
                    .and_then(|c| c.default.as_deref())
                    .and_then(|d| history_default(k, d)),
            }
        })
        .collect();
    // The binlog knows the primary key only; configured key columns still apply.
    let primary: Vec<String> = meta
        .key
        .iter()
        .filter_map(|&k| meta.names.get(k).cloned())
        .collect();
    let key_names = keys
        .choose(
            &id,
            meta.names.iter().map(String::as_str),
            primary,
            Vec::new,
        )
        .unwrap_or_default();
    let key_columns = key_names
        .iter()
        .filter_map(|k| meta.names.iter().position(|n| n == k))
        .collect();
    Ok(Table {
        schema: Arc::new(TableSchema {
            table: id,
            columns,
            key_columns,
            version: next_schema_version(),
        }),
        kinds,
        row_map: None,
        plan: None,
    })
}

/// A default as the schema history writes it (Debezium's `defaultValueExpression`: string
/// literals unquoted), typed for the column like a catalog default.
fn history_default(kind: &Kind, text: &str) -> Option<crate::event::Value> {
    let numeric = matches!(
        kind,
        Kind::Int { .. }
            | Kind::Bool
            | Kind::Year
            | Kind::Decimal { .. }
            | Kind::Float
            | Kind::FloatAsDouble
            | Kind::Double
    );
    if numeric {
        super::types::literal_default(kind, text)
    } else {
        super::types::literal_default(kind, &format!("'{}'", text.replace('\'', "''")))
    }
}

/// Where the rows of one rows event sit.
#[derive(Debug, Clone)]
pub(crate) struct RowsAt {
    /// Database name (shared).
    pub db: Arc<str>,
    /// Originating server id.
    pub server_id: u32,
    /// Binlog file.
    pub file: Arc<str>,
    /// Start of the transaction.
    pub pos: u64,
    /// GTID of the transaction.
    pub gtid: Option<Arc<str>>,
    /// Event time, microseconds since the epoch.
    pub ts_us: i64,
}

/// `name` (the tail of `ev`'s data) without its last 4 bytes when they are the event's CRC32
/// checksum (computed over the header and the data before them), else as it is.
pub(crate) fn without_checksum<'a>(
    ev: &mysql_async::binlog::events::Event,
    name: &'a [u8],
) -> &'a [u8] {
    let mut header = Vec::with_capacity(19);
    ev.header().serialize(&mut header);
    let data = ev.data();
    checksummed_tail(&header, data, name)
}

/// [`without_checksum`] on raw parts.
fn checksummed_tail<'a>(header: &[u8], data: &[u8], name: &'a [u8]) -> &'a [u8] {
    let (Some(body), Some(tail)) = (
        data.len().checked_sub(4).map(|n| &data[..n]),
        data.last_chunk::<4>(),
    ) else {
        return name;
    };
    let mut crc = crc32fast::Hasher::new();
    crc.update(header);
    crc.update(body);
    if name.len() > 4 && name.ends_with(tail) && crc.finalize() == u32::from_le_bytes(*tail) {
        &name[..name.len() - 4]
    } else {
        name
    }
}

/// Bytes a `TIME2` value of `fsp` fractional digits takes in a row.
fn time2_len(fsp: u8) -> u8 {
    3 + fsp.div_ceil(2)
}

/// Whether column `i` of the table map is a `TIME2` (`TIME` in MySQL 5.6+ and MariaDB's
/// default format); its fractional digits.
fn time2_fsp(tme: &TableMapEvent<'_>, i: usize) -> Option<u8> {
    match tme.get_raw_column_type(i) {
        Ok(Some(MyType::MYSQL_TYPE_TIME2)) => tme.get_column_metadata(i)?.first().copied(),
        _ => None,
    }
}

/// The table map the rows of `tme` are parsed with: every `TIME2` column retyped as a bit
/// string of the same width, so the row parser hands its bytes over as they are and
/// [`time2_value`] decodes them. mysql_common 0.37 decodes negative `TIME(1)`/`TIME(2)`
/// values wrong (an unsigned subtraction that wraps, and panics with overflow checks on), so
/// sluice does not let it: debug and release builds decode the same way (issue 22). `None`
/// when the table has no `TIME2` column (the map is used as it is).
pub(crate) fn row_map(
    tme: &TableMapEvent<'_>,
) -> Result<Option<TableMapEvent<'static>>, DecodeFail> {
    let n = tme.columns_count() as usize;
    if !(0..n).any(|i| time2_fsp(tme, i).is_some()) {
        return Ok(None);
    }
    let short = || DecodeFail::Malformed("table map shorter than its fields".into());
    let mut raw = Vec::new();
    tme.serialize(&mut raw);
    // Table id (6), flags (2), database and table names (length, bytes, NUL each), column
    // count, types, metadata (length-prefixed), then the rest as it is.
    let mut at = 8;
    for _ in 0..2 {
        at += 2 + usize::from(*raw.get(at).ok_or_else(short)?);
    }
    let (_, rest) = lenenc(raw.get(at..).ok_or_else(short)?)?;
    let types_at = raw.len() - rest.len();
    let (meta_len, rest) = lenenc(raw.get(types_at + n..).ok_or_else(short)?)?;
    let meta_end = (raw.len() - rest.len())
        .checked_add(usize::try_from(meta_len).map_err(|_| short())?)
        .filter(|&e| e <= raw.len())
        .ok_or_else(short)?;
    let mut out = raw[..types_at].to_vec();
    let mut meta = Vec::new();
    for i in 0..n {
        let m = tme.get_column_metadata(i).ok_or_else(short)?;
        match time2_fsp(tme, i) {
            Some(fsp) => {
                out.push(MyType::MYSQL_TYPE_BIT as u8);
                meta.extend_from_slice(&[0, time2_len(fsp)]);
            }
            None => {
                out.push(*raw.get(types_at + i).ok_or_else(short)?);
                meta.extend_from_slice(m);
            }
        }
    }
    // Metadata is at most 2 bytes a column: a one-byte length below 251, else 0xfc + u16.
    if meta.len() < 251 {
        out.push(meta.len() as u8);
    } else {
        out.push(0xfc);
        out.extend_from_slice(&u16::try_from(meta.len()).map_err(bad)?.to_le_bytes());
    }
    out.extend_from_slice(&meta);
    out.extend_from_slice(&raw[meta_end..]);
    let fde = mysql_async::binlog::events::FormatDescriptionEvent::new(
        mysql_async::binlog::BinlogVersion::Version4,
    );
    let ctx = mysql_common::binlog::BinlogCtx::new(
        out.len(),
        &fde,
        mysql_async::binlog::EventType::TABLE_MAP_EVENT as u8,
    );
    let parsed: TableMapEvent<'_> = mysql_common::io::ParseBuf(&out).parse(ctx).map_err(bad)?;
    Ok(Some(parsed.into_owned()))
}

/// A `TIME2` value from its row bytes, as MySQL's `my_time_packed_from_binary` and
/// `TIME_from_longlong_time_packed` read it: a 3-byte integer part offset by 2^23, then 0, 1,
/// 2 or 3 bytes of fraction (negative values keep their fraction in reverse order); 5 and 6
/// digits store the whole packed value offset by 2^47.
fn time2_value(b: &[u8], fsp: u8) -> Option<MyValue> {
    let be = |b: &[u8]| b.iter().fold(0i64, |a, &x| (a << 8) | i64::from(x));
    let packed = match fsp {
        1 | 2 => {
            let (mut int, mut frac) = (be(b.get(..3)?) - 0x80_0000, be(b.get(3..4)?));
            if int < 0 && frac != 0 {
                int += 1;
                frac -= 0x100;
            }
            (int << 24) + frac * 10_000
        }
        3 | 4 => {
            let (mut int, mut frac) = (be(b.get(..3)?) - 0x80_0000, be(b.get(3..5)?));
            if int < 0 && frac != 0 {
                int += 1;
                frac -= 0x1_0000;
            }
            (int << 24) + frac * 100
        }
        5 | 6 => be(b.get(..6)?) - 0x8000_0000_0000,
        _ => (be(b.get(..3)?) - 0x80_0000) << 24,
    };
    let (neg, abs) = (packed < 0, packed.unsigned_abs());
    let hms = abs >> 24;
    let hour = ((hms >> 12) % (1 << 10)) as u32;
    Some(MyValue::Time(
        neg,
        hour / 24,
        (hour % 24) as u8,
        ((hms >> 6) % (1 << 6)) as u8,
        (hms % (1 << 6)) as u8,
        (abs % (1 << 24)) as u32,
    ))
}

/// How each column of a table's rows events is read: its binlog type, metadata and
/// signedness, taken from the table map once (not for every row, as mysql_common's row
/// parser does, with a column descriptor allocated per column and row).
#[derive(Debug, Default)]
pub(crate) struct RowPlan {
    columns: Vec<PlanColumn>,
}

#[derive(Debug)]
struct PlanColumn {
    ty: MyType,
    meta: Vec<u8>,
    unsigned: bool,
    /// A `TIME2` column's fractional digits: its bytes arrive as a bit string (see
    /// [`row_map`]) and [`time2_value`] decodes them.
    time2: Option<u8>,
}

impl RowPlan {
    /// The plan of the table map `map` the rows are parsed with (see [`row_map`]); `tme` is
    /// the table map as logged.
    pub(crate) fn of(
        map: &TableMapEvent<'_>,
        tme: &TableMapEvent<'_>,
    ) -> Result<RowPlan, DecodeFail> {
        let extractor =
            mysql_async::binlog::events::OptionalMetaExtractor::new(map.iter_optional_meta())
                .map_err(bad)?;
        let mut signedness = extractor.iter_signedness();
        let n = map.columns_count() as usize;
        let mut columns = Vec::with_capacity(n);
        for i in 0..n {
            let ty = match map.get_column_type(i) {
                Ok(Some(ty)) => ty,
                Ok(None) => return Err(DecodeFail::Malformed(format!("column {i} has no type"))),
                Err(e) => return Err(bad(e)),
            };
            // The signedness list has one entry per numeric column, in column order.
            let unsigned = ty
                .is_numeric_type()
                .then(|| signedness.next())
                .flatten()
                .unwrap_or_default();
            columns.push(PlanColumn {
                ty,
                meta: map.get_column_metadata(i).unwrap_or_default().to_vec(),
                unsigned,
                time2: time2_fsp(tme, i),
            });
        }
        Ok(RowPlan { columns })
    }

    /// One row image at the start of `buf`, converted: the columns `present` marks, each a
    /// value (SQL NULL per the image's null bitmap); the others
    /// [`Value::Unavailable`](crate::event::Value::Unavailable).
    fn values<'a>(
        &'a self,
        table: &Table,
        buf: &mut mysql_common::io::ParseBuf<'a>,
        present: &[bool],
        event_bytes: usize,
    ) -> Result<Vec<crate::event::Value>, DecodeFail> {
        let in_image = present.iter().filter(|&&p| p).count();
        let nulls: &[u8] = buf.parse(in_image.div_ceil(8)).map_err(bad)?;
        let mut out = Vec::with_capacity(self.columns.len());
        let mut at = 0;
        for (i, ((c, &p), kind)) in self
            .columns
            .iter()
            .zip(present)
            .zip(&table.kinds)
            .enumerate()
        {
            if !p {
                out.push(crate::event::Value::Unavailable);
                continue;
            }
            let null = nulls.get(at / 8).is_none_or(|b| b & (1 << (at % 8)) != 0);
            at += 1;
            if null {
                out.push(crate::event::Value::Null);
                continue;
            }
            let column = &table.schema.columns[i];
            let fail = |source| DecodeFail::Value {
                column: column.name.clone(),
                source,
            };
            if let Some(v) = direct(c, kind, buf)? {
                out.push(kind.settle(v.map_err(fail)?, column));
                continue;
            }
            let v = buf
                .parse::<BinlogValue<'a>>((c.ty, c.meta.as_slice(), c.unsigned, false))
                .map_err(bad)?;
            let v = match v {
                // A TIME2 column, parsed as raw bytes through `row_map`.
                BinlogValue::Value(MyValue::Bytes(b)) if c.time2.is_some() => {
                    let fsp = c.time2.unwrap_or(0);
                    time2_value(&b, fsp).ok_or_else(|| {
                        DecodeFail::Malformed(format!(
                            "TIME value of column {} is {} bytes, {} expected",
                            column.name,
                            b.len(),
                            time2_len(fsp)
                        ))
                    })?
                }
                BinlogValue::Value(v) => v,
                BinlogValue::Jsonb(j) => {
                    // The parser's conversion recurses per level and follows offsets as
                    // given: bound both before it runs.
                    jsonb_bounded(&j, 0, &mut JsonBudget::new(event_bytes)).map_err(|reason| {
                        DecodeFail::Malformed(format!(
                            "JSON value of column {}: {reason}",
                            column.name
                        ))
                    })?;
                    MyValue::try_from(BinlogValue::Jsonb(j)).map_err(bad)?
                }
                other => MyValue::try_from(other).map_err(bad)?,
            };
            out.push(
                kind.convert_column(v, Origin::Binlog, column)
                    .map_err(fail)?,
            );
        }
        Ok(out)
    }
}

/// A value decoded straight from the event's bytes, for the (binlog type, kind) pairs where
/// mysql_common's decoder would write text that [`Kind::convert`] parses again: `TIMESTAMP2`
/// (`seconds[.micros]`) and `NEWDECIMAL` (the decimal's text). Both give exactly what that
/// path gives, errors included. `None`: the column takes the general path, nothing read.
#[allow(clippy::type_complexity)]
fn direct(
    c: &PlanColumn,
    kind: &Kind,
    buf: &mut mysql_common::io::ParseBuf<'_>,
) -> Result<Option<Result<crate::event::Value, super::types::TypeError>>, DecodeFail> {
    match (c.ty, kind) {
        (MyType::MYSQL_TYPE_TIMESTAMP2, Kind::Timestamp { .. }) => {
            let Some(&fsp) = c.meta.first().filter(|&&f| f <= 6) else {
                return Ok(None);
            };
            let bytes: &[u8] = buf.parse(4 + usize::from(fsp.div_ceil(2))).map_err(bad)?;
            Ok(Some(kind.timestamp2(bytes, fsp)))
        }
        (MyType::MYSQL_TYPE_NEWDECIMAL, Kind::Decimal { precision, scale }) => {
            let [p, s] = c.meta[..] else {
                return Ok(None);
            };
            if u32::from(p) != *precision || u32::from(s) != *scale || s > p {
                return Ok(None);
            }
            let bytes: &[u8] = buf
                .parse(super::types::decimal_bin_len(p, s))
                .map_err(bad)?;
            Ok(Some(kind.decimal_bin(bytes, p, s)))
        }
        _ => Ok(None),
    }
}

/// MySQL's own limit on a JSON document's nesting.
const JSON_MAX_DEPTH: usize = 100;

/// What converting one binary JSON value may cost, measured before it is converted.
///
/// MySQL writes every node, string and key of a document once, so a well-formed value has
/// no more nodes, and no more string, key and opaque bytes, than the event has bytes.
/// Crafted offsets that point many entries at one child (or one long string) would
/// otherwise multiply the output: 10,000 entries sharing a 100 kB string become 1 GB.
struct JsonBudget {
    /// Nodes seen so far.
    nodes: usize,
    /// String, key and opaque bytes the converted value will hold so far.
    bytes: usize,
    /// The event's size: the bound of both counts.
    limit: usize,
}

impl JsonBudget {
    fn new(event_bytes: usize) -> JsonBudget {
        JsonBudget {
            nodes: 0,
            bytes: 0,
            limit: event_bytes,
        }
    }

    fn take_bytes(&mut self, n: usize) -> Result<(), String> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > self.limit {
            return Err(format!(
                "its strings would expand past the event's {} bytes (entries share data)",
                self.limit
            ));
        }
        Ok(())
    }
}

/// Check a binary JSON value before it is converted: at most [`JSON_MAX_DEPTH`] levels (the
/// conversion recurses per level, so deeper input would overflow the stack), and within its
/// [`JsonBudget`] of nodes and bytes.
fn jsonb_bounded(
    v: &mysql_async::binlog::jsonb::Value<'_>,
    depth: usize,
    budget: &mut JsonBudget,
) -> Result<(), String> {
    use mysql_async::binlog::jsonb::Value as J;
    budget.nodes += 1;
    if budget.nodes > budget.limit {
        return Err(format!(
            "more nodes than the event's {} bytes",
            budget.limit
        ));
    }
    if depth > JSON_MAX_DEPTH {
        return Err(format!("nested deeper than {JSON_MAX_DEPTH} levels"));
    }
    let e = |e: std::io::Error| e.to_string();
    match v {
        J::SmallArray(a) => {
            for c in a.iter() {
                jsonb_bounded(&c.map_err(e)?, depth + 1, budget)?;
            }
        }
        J::LargeArray(a) => {
            for c in a.iter() {
                jsonb_bounded(&c.map_err(e)?, depth + 1, budget)?;
            }
        }
        J::SmallObject(o) => {
            for c in o.iter() {
                let (k, c) = c.map_err(e)?;
                budget.take_bytes(k.value_raw().len())?;
                jsonb_bounded(&c, depth + 1, budget)?;
            }
        }
        J::LargeObject(o) => {
            for c in o.iter() {
                let (k, c) = c.map_err(e)?;
                budget.take_bytes(k.value_raw().len())?;
                jsonb_bounded(&c, depth + 1, budget)?;
            }
        }
        J::String(s) => budget.take_bytes(s.str_raw().len())?,
        J::Opaque(o) => budget.take_bytes(o.data_raw().len())?,
        _ => {}
    }
    Ok(())
}

/// Decode every row of a rows event into change events (all or nothing).
pub(crate) fn decode_rows(
    table: &Table,
    rows: &RowsEventData<'_>,
    tme: &TableMapEvent<'_>,
    at: &RowsAt,
    out: &mut Vec<ChangeEvent>,
) -> Result<(), DecodeFail> {
    let n0 = out.len();
    let r = guard(|| decode_rows_inner(table, rows, tme, at, out));
    if r.is_err() {
        out.truncate(n0);
    }
    r
}

fn decode_rows_inner(
    table: &Table,
    rows: &RowsEventData<'_>,
    tme: &TableMapEvent<'_>,
    at: &RowsAt,
    out: &mut Vec<ChangeEvent>,
) -> Result<(), DecodeFail> {
    let kind = match rows {
        RowsEventData::WriteRowsEvent(_) | RowsEventData::WriteRowsEventV1(_) => Op::Create,
        RowsEventData::UpdateRowsEvent(_) | RowsEventData::UpdateRowsEventV1(_) => Op::Update,
        RowsEventData::DeleteRowsEvent(_) | RowsEventData::DeleteRowsEventV1(_) => Op::Delete,
        RowsEventData::PartialUpdateRowsEvent(_) => {
            return Err(DecodeFail::Malformed(
                "partial JSON update rows event (set binlog_row_value_options = '')".into(),
            ))
        }
    };
    if rows.num_columns() as usize != table.kinds.len() {
        return Err(DecodeFail::Malformed(format!(
            "rows event has {} columns, table map {}",
            rows.num_columns(),
            table.kinds.len()
        )));
    }
    let computed;
    let plan = match &table.plan {
        Some(p) => p.as_ref(),
        None => {
            computed = RowPlan::of(table.row_map.as_deref().unwrap_or(tme), tme)?;
            &computed
        }
    };
    let n = table.kinds.len();
    if plan.columns.len() != n {
        return Err(DecodeFail::Malformed(format!(
            "table map has {} columns, table {n}",
            plan.columns.len()
        )));
    }
    // Which columns each image holds.
    let before_cols: Option<Vec<bool>> = rows
        .columns_before_image()
        .map(|b| (0..n).map(|i| b.get(i).is_some_and(|x| *x)).collect());
    let after_cols: Option<Vec<bool>> = rows
        .columns_after_image()
        .map(|b| (0..n).map(|i| b.get(i).is_some_and(|x| *x)).collect());
    let data = rows.rows_data();
    let max_rows = data.len();
    let mut buf = mysql_common::io::ParseBuf(data);
    let mut i = 0;
    while !buf.is_empty() {
        let left = buf.len();
        let before = match &before_cols {
            Some(p) => Some(plan.values(table, &mut buf, p, max_rows)?),
            None => None,
        };
        let after = match &after_cols {
            Some(p) => Some(plan.values(table, &mut buf, p, max_rows)?),
            None => None,
        };
        // Every real row consumes at least one byte; a malformed event whose rows consume
        // none would otherwise repeat forever.
        if buf.len() >= left {
            return Err(DecodeFail::Malformed(
                "rows event does not advance (malformed column bitmap)".into(),
            ));
        }
        let position = Position::Mysql {
            db: Arc::clone(&at.db),
            server_id: at.server_id,
            file: Arc::clone(&at.file),
            pos: at.pos,
            row: i as u32,
            gtid: at.gtid.clone(),
        };
        let schema = &table.schema;
        let new = |op, b, a| {
            ChangeEvent::new(op, Arc::clone(schema), b, a, position.clone(), at.ts_us).map_err(bad)
        };
        match kind {
            Op::Update => {
                let key_changed = match (&before, &after) {
                    (Some(b), Some(a)) => {
                        !schema.key_columns.is_empty() && schema.key_of(b) != schema.key_of(a)
                    }
                    _ => false,
                };
                if key_changed {
                    let mut delete = new(Op::Delete, before, None)?;
                    let mut create = new(Op::Create, None, after)?;
                    delete.moved_key = Some(create.key.clone());
                    create.moved_key = Some(delete.key.clone());
                    out.push(delete);
                    out.push(create);
                } else {
                    out.push(new(Op::Update, before, after)?);
                }
            }
            Op::Create => out.push(new(Op::Create, None, after)?),
            _ => out.push(new(Op::Delete, before, None)?),
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inner events of a compressed transaction: a nested compressed transaction, an
    /// event claiming more bytes than the payload declared, and a cut header are clean
    /// errors, checked before the body is read; an empty payload has no events.
    #[test]
    fn payload_inner_events_are_checked() {
        let payload = |bytes: Vec<u8>, declared: u64| PayloadEvents {
            reader: Box::new(std::io::Cursor::new(bytes)),
            remaining: declared,
            events: mysql_common::binlog::EventStreamReader::new(
                mysql_common::binlog::consts::BinlogVersion::Version4,
            ),
        };
        let header = |ty: u8, size: u32| {
            let mut h = vec![0u8; 19];
            h[4] = ty;
            h[9..13].copy_from_slice(&size.to_le_bytes());
            h
        };
        let err = |mut p: PayloadEvents| p.next_event().expect_err("refused");
        assert!(err(payload(header(TRANSACTION_PAYLOAD_EVENT, 19), 19)).contains("inside"));
        assert!(err(payload(header(2, 4_000_000), 100)).contains("4000000 bytes"));
        assert!(err(payload(header(2, 19)[..10].to_vec(), 100)).contains("header"));
        assert!(payload(Vec::new(), 0)
            .next_event()
            .expect("empty")
            .is_none());
    }

    /// MariaDB GTID bodies parse; short ones are rejected, never panic.
    #[test]
    fn mariadb_gtid_events() {
        let mut b = 42u64.to_le_bytes().to_vec();
        b.extend_from_slice(&7u32.to_le_bytes());
        b.push(1);
        assert_eq!(
            mariadb_gtid(&b),
            Some(MariaGtid {
                seq: 42,
                domain: 7,
                standalone: true
            })
        );
        for n in 0..b.len() {
            assert_eq!(mariadb_gtid(&b[..n]), None);
        }
    }

    /// Statements classify by their first word.
    #[test]
    fn statements() {
        assert_eq!(classify("BEGIN"), Statement::Begin);
        assert_eq!(classify("  commit"), Statement::Commit);
        assert_eq!(classify("XA END 'x'"), Statement::Other);
        assert_eq!(classify("ALTER TABLE t ADD c int"), Statement::Ddl);
        assert!(mentions(
            "alter table `Golden_Types` add x int",
            &TableId::new("d", "golden_types")
        ));
    }
}

/// Arbitrary bytes into the decoders: table maps built from random column types, metadata
/// and optional metadata (mutated and truncated at random), then random rows events against
/// them, plus random MariaDB GTID bodies and statements. Nothing may panic.
#[cfg(test)]
mod fuzz {
    use super::*;
    use mysql_async::binlog::events::{Event, EventData, FormatDescriptionEvent};
    use mysql_async::binlog::BinlogVersion;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    fn event(type_code: u8, body: &[u8]) -> Vec<u8> {
        let mut e = Vec::with_capacity(19 + body.len());
        e.extend_from_slice(&0u32.to_le_bytes());
        e.push(type_code);
        e.extend_from_slice(&1u32.to_le_bytes());
        e.extend_from_slice(&((19 + body.len()) as u32).to_le_bytes());
        e.extend_from_slice(&0u32.to_le_bytes());
        e.extend_from_slice(&0u16.to_le_bytes());
        e.extend_from_slice(body);
        e
    }

    fn lenenc_str(out: &mut Vec<u8>, s: &[u8]) {
        out.push(s.len() as u8);
        out.extend_from_slice(s);
    }

    fn table_map(r: &mut Rng) -> Vec<u8> {
        const TYPES: &[u8] = &[
            1, 2, 3, 4, 5, 8, 9, 10, 13, 15, 16, 17, 18, 19, 245, 246, 247, 248, 252, 253, 254,
        ];
        let n = 1 + r.below(6) as usize;
        let mut b = vec![1, 0, 0, 0, 0, 0, 0, 0];
        lenenc_str(&mut b, b"db");
        b.push(0);
        lenenc_str(&mut b, b"t");
        b.push(0);
        b.push(n as u8);
        for _ in 0..n {
            b.push(TYPES[r.below(TYPES.len() as u64) as usize]);
        }
        let len = r.below(3 * n as u64 + 1) as usize;
        let meta = r.bytes(len);
        b.push(meta.len() as u8);
        b.extend_from_slice(&meta);
        b.extend(r.bytes(n.div_ceil(8)));
        // Optional metadata: names, signedness, then maybe garbage.
        let mut names = Vec::new();
        for i in 0..n {
            lenenc_str(&mut names, format!("c{i}").as_bytes());
        }
        b.push(4);
        b.push(names.len() as u8);
        b.extend_from_slice(&names);
        b.push(1);
        b.push(1);
        b.push(r.next() as u8);
        if r.below(3) == 0 {
            let len = r.below(12) as usize;
            let g = r.bytes(len);
            b.push(r.below(13) as u8);
            b.push(g.len() as u8);
            b.extend_from_slice(&g);
        }
        // Mutate and truncate now and then.
        for _ in 0..r.below(3) {
            let i = r.below(b.len() as u64) as usize;
            b[i] = r.next() as u8;
        }
        if r.below(4) == 0 {
            let keep = r.below(b.len() as u64) as usize;
            b.truncate(keep);
        }
        b
    }

    fn rows_body(r: &mut Rng, n: usize) -> Vec<u8> {
        let mut b = vec![1, 0, 0, 0, 0, 0, 0, 0, 2, 0];
        b.push(n as u8);
        b.extend(std::iter::repeat_n(0xff, n.div_ceil(8)));
        if r.below(2) == 0 {
            b.extend(std::iter::repeat_n(0xff, n.div_ceil(8)));
        }
        let len = r.below(64) as usize;
        b.extend(r.bytes(len));
        b
    }

    /// The column kinds of the table map event `raw` (of table `db.t`), as read from it.
    fn map_kinds(raw: &[u8]) -> Result<Vec<Kind>, DecodeFail> {
        let fde = FormatDescriptionEvent::new(BinlogVersion::Version4);
        let ev = Event::read(&fde, raw).expect("event");
        let Ok(Some(EventData::TableMapEvent(tme))) = ev.read_data() else {
            panic!("a table map");
        };
        table_from_map(
            TableId::new("db", "t"),
            &tme,
            None,
            None,
            &KeyOverrides::default(),
        )
        .map(|t| t.kinds.clone())
    }

    /// A table map whose ENUM label list claims 2^36 labels (the third-party iterator
    /// allocated that many and aborted the process): a clean error, nothing allocated.
    #[test]
    fn absurd_label_counts_are_refused() {
        // One ENUM column (type 254, metadata: real type 247, pack length 1).
        let mut b = vec![1, 0, 0, 0, 0, 0, 0, 0];
        lenenc_str(&mut b, b"db");
        b.push(0);
        lenenc_str(&mut b, b"t");
        b.push(0);
        b.extend_from_slice(&[1, 254, 2, 247, 1, 0]);
        b.extend_from_slice(&[4, 2, 1, b'e']);
        let labels = |claim: &[u8], body: &[u8]| {
            let mut b = b.clone();
            b.push(6); // ENUM_STR_VALUE
            b.push((claim.len() + body.len()) as u8);
            b.extend_from_slice(claim);
            b.extend_from_slice(body);
            event(19, &b)
        };
        let decode = |raw: Vec<u8>| map_kinds(&raw);
        let mut claim = vec![0xfe];
        claim.extend_from_slice(&(1u64 << 36).to_le_bytes());
        match decode(labels(&claim, b"\x01a")) {
            Err(DecodeFail::Malformed(m)) => assert!(m.contains("68719476736 labels"), "{m}"),
            other => panic!("{other:?}"),
        }
        // A label longer than what is left, and a truncated count.
        assert!(decode(labels(&[1, 9], b"ab")).is_err());
        assert!(decode(labels(&[0xfc, 1], b"")).is_err());
        // The well-formed list still reads.
        let kinds = decode(labels(&[2], b"\x01a\x02bc")).expect("table");
        assert!(
            matches!(&kinds[0], Kind::Enum(l) if l[..] == ["a".to_string(), "bc".to_string()]),
            "{kinds:?}"
        );
    }

    /// ENUM and SET labels are read in their column's charset (a table map carries them as
    /// the column stores them): latin1 `é` is one byte, not UTF-8.
    #[test]
    fn enum_and_set_labels_in_their_charset() {
        // An ENUM (metadata: real type 247, pack length 1) and a SET (248, 1).
        let mut b = vec![1, 0, 0, 0, 0, 0, 0, 0];
        lenenc_str(&mut b, b"db");
        b.push(0);
        lenenc_str(&mut b, b"t");
        b.push(0);
        b.extend_from_slice(&[2, 254, 254, 4, 247, 1, 248, 1, 0]);
        let field = |b: &mut Vec<u8>, kind: u8, body: &[u8]| {
            b.push(kind);
            b.push(body.len() as u8);
            b.extend_from_slice(body);
        };
        field(&mut b, 4, b"\x01e\x01s"); // COLUMN_NAME
        field(&mut b, 6, b"\x02\x04caf\xe9\x01a"); // ENUM_STR_VALUE
        field(&mut b, 5, b"\x01\x05na\xefve"); // SET_STR_VALUE
        let kinds = |charsets: &[u8]| {
            let mut b = b.clone();
            b.extend_from_slice(charsets);
            map_kinds(&event(19, &b)).expect("table")
        };
        let labels = |k: &Kind| match k {
            Kind::Enum(l) | Kind::Set(l) => l.to_vec(),
            other => panic!("{other:?}"),
        };
        // ENUM_AND_SET_DEFAULT_CHARSET: latin1_swedish_ci (8) for both.
        let k = kinds(&[10, 1, 8]);
        assert_eq!(labels(&k[0]), ["café", "a"]);
        assert_eq!(labels(&k[1]), ["naïve"]);
        // ENUM_AND_SET_COLUMN_CHARSET: latin1 for the ENUM, utf8mb4 (45) for the SET, whose
        // bytes are then not UTF-8 (replaced, never an error).
        let k = kinds(&[11, 2, 8, 45]);
        assert_eq!(labels(&k[0]), ["café", "a"]);
        assert_eq!(labels(&k[1]), ["na\u{fffd}ve"]);
        // No charset field: UTF-8, as before.
        let k = kinds(&[]);
        assert_eq!(labels(&k[0]), ["caf\u{fffd}", "a"]);
    }

    /// Binary JSON nested 3000 levels deep (the conversion recursed until the stack
    /// overflowed) and JSON whose entries share one child 40 levels down (2^40 nodes from
    /// a few hundred bytes): clean errors; a normal document passes.
    #[test]
    fn hostile_json_is_bounded() {
        use mysql_common::io::ParseBuf;
        // A small array: count, size, then entries (type, offset), then the children.
        fn array(children: &[&[u8]]) -> Vec<u8> {
            let header = 4 + 3 * children.len();
            let size = header + children.iter().map(|c| c.len()).sum::<usize>();
            let mut b = Vec::new();
            b.extend_from_slice(&(children.len() as u16).to_le_bytes());
            b.extend_from_slice(&(size as u16).to_le_bytes());
            let mut at = header;
            for c in children {
                b.push(0x02);
                b.extend_from_slice(&(at as u16).to_le_bytes());
                at += c.len();
            }
            for c in children {
                b.extend_from_slice(c);
            }
            b
        }
        let check = |body: &[u8]| {
            let mut raw = vec![0x02];
            raw.extend_from_slice(body);
            let v: mysql_async::binlog::jsonb::Value<'_> = ParseBuf(&raw).parse(()).expect("jsonb");
            jsonb_bounded(&v, 0, &mut JsonBudget::new(raw.len()))
        };
        let mut deep = array(&[]);
        for _ in 0..3000 {
            deep = array(&[&deep]);
        }
        let r = check(&deep);
        assert!(r.as_ref().is_err_and(|m| m.contains("deeper")), "{r:?}");
        // Two entries pointing at the same child, level after level.
        let mut shared = array(&[]);
        for _ in 0..40 {
            let header = 4 + 3 * 2;
            let mut b = Vec::new();
            b.extend_from_slice(&2u16.to_le_bytes());
            b.extend_from_slice(&((header + shared.len()) as u16).to_le_bytes());
            for _ in 0..2 {
                b.push(0x02);
                b.extend_from_slice(&(header as u16).to_le_bytes());
            }
            b.extend_from_slice(&shared);
            shared = b;
        }
        let r = check(&shared);
        assert!(r.as_ref().is_err_and(|m| m.contains("nodes")), "{r:?}");
        let mut normal = array(&[]);
        for _ in 0..50 {
            normal = array(&[&normal, &array(&[])]);
        }
        assert_eq!(check(&normal), Ok(()));
        // A large array whose 1,000 entries all point at one 10 kB string: 10 MB of text
        // from 15 kB (issue 22; 10,000 entries and 100 kB made 1 GB and aborted).
        let shared_string = |entries: usize, len: usize| {
            let header = 8 + 5 * entries;
            let mut string = vec![(len & 0x7f) as u8 | 0x80, (len >> 7) as u8];
            string.resize(2 + len, b'x');
            let mut b = vec![0x03];
            b.extend_from_slice(&(entries as u32).to_le_bytes());
            b.extend_from_slice(&((header + string.len()) as u32).to_le_bytes());
            for _ in 0..entries {
                b.push(0x0c);
                b.extend_from_slice(&(header as u32).to_le_bytes());
            }
            b.extend_from_slice(&string);
            let v: mysql_async::binlog::jsonb::Value<'_> = ParseBuf(&b).parse(()).expect("jsonb");
            jsonb_bounded(&v, 0, &mut JsonBudget::new(b.len()))
        };
        let r = shared_string(1000, 10_000);
        assert!(r.as_ref().is_err_and(|m| m.contains("expand")), "{r:?}");
        // One entry pointing at its string is the normal case.
        assert_eq!(shared_string(1, 10_000), Ok(()));
    }

    /// Issue 28: the rotate event a server sends before its format description ends with a
    /// CRC32 on MariaDB and not on MySQL 8: only a real checksum is trimmed off the file name.
    #[test]
    fn rotate_checksum_trimmed_only_when_real() {
        let header = [0u8; 19];
        let name = b"mysql-bin.000001";
        let mut data = 4u64.to_le_bytes().to_vec();
        data.extend_from_slice(name);
        // MySQL 8: no checksum; the name's last four bytes stay.
        assert_eq!(checksummed_tail(&header, &data, &data[8..]), name);
        // MariaDB: the CRC32 of header and data follows the name.
        let mut crc = crc32fast::Hasher::new();
        crc.update(&header);
        crc.update(&data);
        data.extend_from_slice(&crc.finalize().to_le_bytes());
        assert_eq!(checksummed_tail(&header, &data, &data[8..]), name);
    }

    /// The general path for one value: mysql_common's decoder, then [`Kind::convert`].
    fn general_path(
        kind: &Kind,
        ty: MyType,
        meta: &[u8],
        b: &[u8],
    ) -> Result<crate::event::Value, super::super::types::TypeError> {
        let mut buf = mysql_common::io::ParseBuf(b);
        match buf.parse::<BinlogValue<'_>>((ty, meta, false, false)) {
            Ok(BinlogValue::Value(v)) => kind.convert(v, Origin::Binlog),
            other => panic!("general decoder: {other:?}"),
        }
    }

    /// `TIMESTAMP2` straight from the bytes gives what mysql_common's text of it converts
    /// to, for every fraction width and any bytes (negative and oversized fractions are
    /// errors both ways).
    #[test]
    fn direct_timestamp2_equals_the_general_path() {
        let mut r = Rng(0x7153_2a2b_9c1d_0e55);
        for fsp in 0..=6u8 {
            let kind = Kind::Timestamp { fsp };
            let len = 4 + usize::from(fsp.div_ceil(2));
            for n in 0..4000 {
                let mut b = r.bytes(len);
                if n % 2 == 0 {
                    // A valid fraction, as MySQL writes it.
                    let digits = [1, 100, 100, 10_000, 10_000, 1_000_000, 1_000_000];
                    let f = (r.below(digits[usize::from(fsp)]) as u32).to_be_bytes();
                    b[4..].copy_from_slice(&f[4 - (len - 4)..]);
                }
                let direct = kind.timestamp2(&b, fsp);
                let general = general_path(&kind, MyType::MYSQL_TYPE_TIMESTAMP2, &[fsp], &b);
                assert_eq!(direct, general, "fsp {fsp}, bytes {b:?}");
            }
        }
    }

    /// MySQL's `decimal2bin` of the digits `int` and `frac` (no sign, `frac` exactly `s`
    /// digits, `int` at most `p - s`).
    fn decimal2bin(neg: bool, int: &str, frac: &str, p: usize, s: usize) -> Vec<u8> {
        const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
        let intg = p - s;
        let int = format!("{int:0>intg$}");
        let mut out = Vec::new();
        let mut put = |digits: &str| {
            let v: u32 = digits.parse().unwrap_or(0);
            let n = DIG2BYTES[digits.len()];
            out.extend_from_slice(&v.to_be_bytes()[4 - n..]);
        };
        let (head, rest) = int.split_at(intg % 9);
        if !head.is_empty() {
            put(head);
        }
        for g in rest.as_bytes().chunks(9) {
            put(std::str::from_utf8(g).unwrap_or("0"));
        }
        for g in frac.as_bytes().chunks(9) {
            put(std::str::from_utf8(g).unwrap_or("0"));
        }
        if let Some(first) = out.first_mut() {
            *first ^= 0x80;
        }
        if neg {
            for x in &mut out {
                *x = !*x;
            }
        }
        out
    }

    /// `NEWDECIMAL` straight from the bytes gives what mysql_common's text of it converts
    /// to, for precisions and scales up to 65 and 30, zero, negative and leading-zero
    /// values; any bytes decode without a panic, and where they decode, as the general path.
    #[test]
    fn direct_decimal_equals_the_general_path() {
        let mut r = Rng(0x0dec_1a1b_2c3d_4e5f);
        for _ in 0..20_000 {
            let p = 1 + r.below(65) as usize;
            let s = r.below(p.min(30) as u64 + 1) as usize;
            let kind = Kind::Decimal {
                precision: p as u32,
                scale: s as u32,
            };
            let meta = [p as u8, s as u8];
            let digits = |r: &mut Rng, n: usize| -> String {
                let zeros = r.below(3) == 0;
                (0..n)
                    .map(|_| {
                        if zeros {
                            '0'
                        } else {
                            char::from(b'0' + r.below(10) as u8)
                        }
                    })
                    .collect()
            };
            let int_len = r.below((p - s) as u64 + 1) as usize;
            let (int, frac) = (digits(&mut r, int_len), digits(&mut r, s));
            let b = decimal2bin(r.below(2) == 0, &int, &frac, p, s);
            assert_eq!(
                b.len(),
                super::super::types::decimal_bin_len(p as u8, s as u8)
            );
            let direct = kind.decimal_bin(&b, p as u8, s as u8);
            let general = general_path(&kind, MyType::MYSQL_TYPE_NEWDECIMAL, &meta, &b);
            assert_eq!(direct, general, "DECIMAL({p},{s}) {int}.{frac}");
            assert!(direct.is_ok());
            let noise = r.bytes(b.len());
            if let Ok(v) = kind.decimal_bin(&noise, p as u8, s as u8) {
                let g = general_path(&kind, MyType::MYSQL_TYPE_NEWDECIMAL, &meta, &noise);
                assert_eq!(Ok(v), g, "DECIMAL({p},{s}) bytes {noise:?}");
            }
        }
    }

    /// `TIME2` bytes as MySQL writes them (`my_time_packed_to_binary`) for every precision,
    /// both signs, fractions that borrow and that do not, and the ends of the range, decode
    /// to the value written (issue 22: decoded by sluice, not by mysql_common, whose
    /// negative `TIME(1)`/`TIME(2)` were wrong in release builds and a panic in debug ones).
    #[test]
    fn time2_bytes_decode_exactly() {
        fn encode(micros: i64, fsp: u8) -> Vec<u8> {
            let abs = micros.unsigned_abs() as i64;
            let (secs, us) = (abs / 1_000_000, abs % 1_000_000);
            let hms = ((secs / 3600) << 12) | (((secs / 60) % 60) << 6) | (secs % 60);
            let mut nr = (hms << 24) + us;
            if micros < 0 {
                nr = -nr;
            }
            // C's `>>` on a signed value floors; `%` takes the dividend's sign.
            let (int, frac) = (nr >> 24, nr % (1 << 24));
            let be = |v: i64, n: usize| v.to_be_bytes()[8 - n..].to_vec();
            let mut out = be(int + 0x80_0000, 3);
            match fsp {
                1 | 2 => out.push((frac / 10_000) as i8 as u8),
                3 | 4 => out.extend(be(i64::from((frac / 100) as i16 as u16), 2)),
                5 | 6 => out = be(nr + 0x8000_0000_0000, 6),
                _ => {}
            }
            out
        }
        let col = crate::event::Column {
            name: "t".into(),
            ty: crate::event::ColumnType::Time { millis: false },
            nullable: true,
            default: None,
        };
        let mut gen = crate::testing::Gen(0x7132);
        let max = 3_020_399_000_000i64; // 838:59:59
        for fsp in 0..=6u8 {
            let unit = 10i64.pow(6 - u32::from(fsp));
            let mut values = vec![
                0,
                unit,
                -unit,
                max,
                -max,
                -500_000,
                -1_990_000,
                -2_249_999_990_000,
            ];
            values.extend((0..400).map(|_| gen.below(2 * max as u64) as i64 - max));
            for v in values {
                // A value of this precision: the fraction truncated to `fsp` digits.
                let v = v / unit * unit;
                let bytes = encode(v, fsp);
                assert_eq!(bytes.len(), usize::from(time2_len(fsp)));
                let decoded = time2_value(&bytes, fsp).expect("decodes");
                let got = Kind::Time
                    .convert_column(decoded.clone(), Origin::Binlog, &col)
                    .expect("converts");
                assert_eq!(
                    got,
                    crate::event::Value::Time(v),
                    "{v} µs at TIME({fsp}): {decoded:?}"
                );
            }
        }
        assert!(
            time2_value(&[0x80, 0], 0).is_none(),
            "short bytes are an error"
        );
    }

    #[test]
    fn decoders_never_panic() {
        let fde = FormatDescriptionEvent::new(BinlogVersion::Version4);
        let mut r = Rng(0x9E37_79B9_7F4A_7C15);
        let at = RowsAt {
            db: Arc::from("db"),
            server_id: 1,
            file: Arc::from("f"),
            pos: 4,
            gtid: None,
            ts_us: 0,
        };
        let mut decoded_tables = 0;
        for _ in 0..4000 {
            let raw = event(19, &table_map(&mut r));
            let Ok(ev) = Event::read(&fde, &raw[..]) else {
                continue;
            };
            let Ok(Some(EventData::TableMapEvent(tme))) = ev.read_data() else {
                continue;
            };
            let Ok(table) = table_from_map(
                TableId::new("db", "t"),
                &tme,
                None,
                None,
                &KeyOverrides::default(),
            ) else {
                continue;
            };
            decoded_tables += 1;
            for type_code in [30u8, 31, 32, 23, 24, 25] {
                let raw = event(type_code, &rows_body(&mut r, table.kinds.len()));
                let Ok(ev) = Event::read(&fde, &raw[..]) else {
                    continue;
                };
                if let Ok(Some(EventData::RowsEvent(rows))) = ev.read_data() {
                    let mut out = Vec::new();
                    let _ = decode_rows(&table, &rows, &tme, &at, &mut out);
                }
            }
        }
        assert!(
            decoded_tables > 100,
            "the generator reaches the row decoder: {decoded_tables}"
        );
        for _ in 0..20_000 {
            let len = r.below(20) as usize;
            let b = r.bytes(len);
            let _ = mariadb_gtid(&b);
            let _ = classify(&String::from_utf8_lossy(&b));
        }
    }
}
