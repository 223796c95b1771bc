//! The wire contract: Debezium-compatible JSON keys and values for Kafka records.
//!
//! ```text
//! ChangeEvent ──► EnvelopeEncoder::encode ──► Record { topic, key, value }
//!                     │  (schemas.enable = true: {"schema":…,"payload":…})
//!                     └─ rendered schemas cached per (table, schema version)
//! ```
//! Invariants: the key is a deterministic function of the primary-key values (compaction-safe);
//! the value layout follows Debezium 3.x (`before`, `after`, `source`, `transaction`, `op`,
//! `ts_ms`, `ts_us`, `ts_ns`); a delete is followed by a tombstone record (value `None`).

pub mod avro;
mod ddl;
mod decimal;
mod java_float;
pub(crate) mod json;
mod schema;
mod transaction;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::event::{
    ChangeEvent, ColumnType, LogicalMessage, Marker, Op, Position, SchemaChange, SnapshotMarker,
    TableId, Value,
};
use avro::AvroShape;
use transaction::OpenTx;

pub(crate) use decimal::{
    civil_from_days, days_from_civil, format_instant, format_tod, unscaled_bytes,
};

/// The value Debezium writes for a column whose value the source did not send.
pub const UNAVAILABLE_VALUE: &str = "__debezium_unavailable_value";

/// Header of the delete half of a primary-key change: the new key (Debezium's name).
pub const NEW_KEY_HEADER: &str = "__debezium.newkey";
/// Header of the create half of a primary-key change: the old key (Debezium's name).
pub const OLD_KEY_HEADER: &str = "__debezium.oldkey";

/// The Kafka key of a truncate event of a keyed table: JSON `null`.
const TRUNCATE_KEY: &[u8] = b"null";
/// The same with `schemas.enable`.
const TRUNCATE_KEY_WITH_SCHEMA: &[u8] = br#"{"schema":null,"payload":null}"#;

/// Which Debezium connector the `source` block imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// `io.debezium.connector.postgresql.Source`.
    Postgres,
    /// `io.debezium.connector.mysql.Source` (MySQL and MariaDB).
    Mysql,
}

impl SourceKind {
    fn connector(self) -> &'static str {
        match self {
            SourceKind::Postgres => "postgresql",
            SourceKind::Mysql => "mysql",
        }
    }
}

mode_names!(DecimalHandling { "precise" => Precise, "double" => Double, "string" => String });
mode_names!(BinaryHandling {
    "bytes" => Bytes,
    "base64" => Base64,
    "base64-url-safe" => Base64UrlSafe,
    "hex" => Hex,
});
mode_names!(BigintUnsigned { "long" => Long, "precise" => Precise });
mode_names!(TimePrecision {
    "adaptive" => Adaptive,
    "adaptive_time_microseconds" => AdaptiveTimeMicroseconds,
    "connect" => Connect,
});

/// Debezium's `decimal.handling.mode`: how decimal columns are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum DecimalHandling {
    /// Connect `Decimal` (bytes of the unscaled value) and `VariableScaleDecimal`.
    #[default]
    Precise,
    /// A `double` (may round).
    Double,
    /// The exact decimal text as a `string`.
    String,
}

/// Debezium's `binary.handling.mode`: how binary columns are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum BinaryHandling {
    /// Connect `bytes` (base64 in JSON).
    #[default]
    Bytes,
    /// A `string` of standard base64.
    Base64,
    /// A `string` of URL-safe base64 (with padding).
    Base64UrlSafe,
    /// A `string` of lowercase hex digits.
    Hex,
}

/// Debezium's `hstore.handling.mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum HstoreHandling {
    /// `io.debezium.data.Json`: the map as a JSON string.
    #[default]
    Json,
    /// A Connect map of strings: the JSON object itself.
    Map,
}

mode_names!(HstoreHandling { "json" => Json, "map" => Map });

/// Debezium's `interval.handling.mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum IntervalHandling {
    /// `MicroDuration`: microseconds, months counted as 365.25/12 days.
    #[default]
    Numeric,
    /// `io.debezium.time.Interval`: `P<y>Y<m>M<d>DT<h>H<m>M<s>S`.
    String,
}

mode_names!(IntervalHandling { "numeric" => Numeric, "string" => String });

/// Debezium's ISO-8601 form of an interval: every part written, seconds with their fraction
/// (trailing zeros dropped).
fn iso_duration(p: &[i64; 6]) -> String {
    let us = p[5];
    let sign = if us < 0 { "-" } else { "" };
    let (s, f) = (us.unsigned_abs() / 1_000_000, us.unsigned_abs() % 1_000_000);
    let secs = if f == 0 {
        format!("{sign}{s}")
    } else {
        let frac = format!("{f:06}");
        format!("{sign}{s}.{}", frac.trim_end_matches('0'))
    };
    format!("P{}Y{}M{}DT{}H{}M{secs}S", p[0], p[1], p[2], p[3], p[4])
}

/// Debezium's `bigint.unsigned.handling.mode` (MySQL `BIGINT UNSIGNED`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum BigintUnsigned {
    /// An `int64`: values above `i64::MAX` wrap to negative numbers, as in Debezium.
    #[default]
    Long,
    /// A Connect `Decimal` of precision 20: every value exact.
    Precise,
}

/// Debezium's `time.precision.mode`: how `date`, `time` and `timestamp` are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum TimePrecision {
    /// `Time`/`Timestamp` (ms) up to precision 3, `MicroTime`/`MicroTimestamp` above.
    #[default]
    Adaptive,
    /// As `adaptive`, but every `time` is `MicroTime`.
    AdaptiveTimeMicroseconds,
    /// Kafka Connect's own `Date`, `Time` (ms) and `Timestamp` (ms).
    Connect,
}

/// Output options a source connector sets (Debezium's names in the comments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueModes {
    /// `decimal.handling.mode`.
    pub decimal: DecimalHandling,
    /// `binary.handling.mode`.
    pub binary: BinaryHandling,
    /// `time.precision.mode`.
    pub time: TimePrecision,
    /// `bigint.unsigned.handling.mode`.
    pub unsigned: BigintUnsigned,
    /// `interval.handling.mode`.
    pub interval: IntervalHandling,
    /// `hstore.handling.mode`.
    pub hstore: HstoreHandling,
    /// `tombstones.on.delete`.
    pub tombstones_on_delete: bool,
    /// `skipped.operations`: one bit per op (`c`, `u`, `d`, `t`).
    pub skipped: SkippedOps,
}

impl Default for ValueModes {
    fn default() -> Self {
        Self {
            decimal: DecimalHandling::default(),
            binary: BinaryHandling::default(),
            time: TimePrecision::default(),
            unsigned: BigintUnsigned::default(),
            interval: IntervalHandling::default(),
            hstore: HstoreHandling::default(),
            tombstones_on_delete: true,
            skipped: SkippedOps::default(),
        }
    }
}

impl ValueModes {
    /// Whether every value is written as its own type's JSON (no mode changes a value).
    fn plain(self) -> bool {
        self.decimal == DecimalHandling::Precise
            && self.binary == BinaryHandling::Bytes
            && self.unsigned == BigintUnsigned::Long
    }
}

/// Operations not written at all (Debezium's `skipped.operations`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkippedOps(u8);

impl SkippedOps {
    /// From Debezium's op codes (`c`, `u`, `d`, `t`); other codes are ignored (the config
    /// validates them).
    pub fn from_codes<'a>(codes: impl IntoIterator<Item = &'a str>) -> Self {
        let mut bits = 0;
        for c in codes {
            bits |= match c {
                "c" => 1,
                "u" => 2,
                "d" => 4,
                "t" => 8,
                _ => 0,
            };
        }
        SkippedOps(bits)
    }

    fn skips(self, op: Op) -> bool {
        let bit = match op {
            Op::Create => 1,
            Op::Update => 2,
            Op::Delete => 4,
            Op::Truncate => 8,
            Op::Read => 0,
        };
        self.0 & bit != 0
    }
}

/// Debezium's `column.include.list` / `column.exclude.list`: regular expressions matched,
/// whole and case-insensitively as Debezium does, against `<schema>.<table>.<column>`
/// (`<database>.<table>.<column>` for MySQL). Key columns are always kept.
#[derive(Debug, Clone, Default)]
pub struct ColumnFilter {
    include: Option<Vec<regex::Regex>>,
    exclude: Vec<regex::Regex>,
}

impl ColumnFilter {
    /// Compile the lists (an empty include list means "every column").
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, regex::Error> {
        let compile = |list: &[String]| -> Result<Vec<regex::Regex>, regex::Error> {
            list.iter()
                .map(|p| {
                    regex::RegexBuilder::new(&format!("^(?:{p})$"))
                        .case_insensitive(true)
                        .build()
                })
                .collect()
        };
        Ok(Self {
            include: (!include.is_empty())
                .then(|| compile(include))
                .transpose()?,
            exclude: compile(exclude)?,
        })
    }

    fn keeps(&self, table: &TableId, column: &str) -> bool {
        let name = format!("{}.{}.{column}", table.namespace, table.name);
        self.include
            .as_ref()
            .is_none_or(|inc| inc.iter().any(|r| r.is_match(&name)))
            && !self.exclude.iter().any(|r| r.is_match(&name))
    }
}

/// Encoder settings.
#[derive(Debug, Clone)]
pub struct EnvelopeOptions {
    /// Debezium's `topic.prefix`; also `source.name`.
    pub topic_prefix: String,
    /// Wrap keys and values in `{"schema":…,"payload":…}`.
    pub schemas_enable: bool,
    /// Which `source` block to write.
    pub source_kind: SourceKind,
    /// Decimal and binary handling.
    pub modes: ValueModes,
    /// Which columns are written.
    pub columns: ColumnFilter,
    /// Debezium's `unavailable.value.placeholder` (default [`UNAVAILABLE_VALUE`]).
    pub placeholder: Arc<str>,
    /// Debezium's `provide.transaction.metadata`: BEGIN/END records on
    /// `<prefix>.transaction` and a `transaction` block in every streamed event.
    pub transaction_metadata: bool,
    /// The record parts the sink writes as Avro (none by default).
    pub avro: AvroParts,
}

/// The parts of change-event records written as Avro. With any set, the encoder writes
/// change events in their final form ([`Form::Final`]: Avro parts straight from the event,
/// JSON parts with or without schemas as `schemas_enable` says), and everything else (markers,
/// and an event its Avro schema does not fit) as JSON with schemas ([`Form::Envelope`]) for
/// the sink to rewrite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AvroParts {
    /// The key is Avro.
    pub key: bool,
    /// The value is Avro.
    pub value: bool,
}

impl AvroParts {
    fn any(self) -> bool {
        self.key || self.value
    }
}

/// How a capture source wants its records written (its part of [`EnvelopeOptions`]).
#[derive(Debug, Clone)]
pub struct SourceOutput {
    /// Which `source` block to write.
    pub kind: SourceKind,
    /// Value-handling modes.
    pub modes: ValueModes,
    /// Which columns are written.
    pub columns: ColumnFilter,
    /// Debezium's `unavailable.value.placeholder`.
    pub placeholder: Arc<str>,
    /// Debezium's `provide.transaction.metadata`.
    pub transaction_metadata: bool,
}

impl SourceOutput {
    /// Debezium's defaults for a `kind` source.
    pub fn new(kind: SourceKind) -> Self {
        Self {
            kind,
            modes: ValueModes::default(),
            columns: ColumnFilter::default(),
            placeholder: UNAVAILABLE_VALUE.into(),
            transaction_metadata: false,
        }
    }
}

impl EnvelopeOptions {
    /// The options of a sink with `topic_prefix` and `schemas_enable` for a source's output.
    pub fn new(topic_prefix: String, schemas_enable: bool, out: SourceOutput) -> Self {
        Self {
            topic_prefix,
            schemas_enable,
            source_kind: out.kind,
            modes: out.modes,
            columns: out.columns,
            placeholder: out.placeholder,
            transaction_metadata: out.transaction_metadata,
            avro: AvroParts::default(),
        }
    }
}

/// The type a column is written as under the handling modes (its own type by default).
fn effective_type(ty: &ColumnType, modes: ValueModes) -> ColumnType {
    match ty {
        ColumnType::Decimal { .. } | ColumnType::VariableDecimal => match modes.decimal {
            DecimalHandling::Precise => ty.clone(),
            DecimalHandling::Double => ColumnType::Float64,
            DecimalHandling::String => ColumnType::String,
        },
        ColumnType::Bytes if modes.binary != BinaryHandling::Bytes => ColumnType::String,
        ColumnType::UInt64 if modes.unsigned == BigintUnsigned::Precise => ColumnType::Decimal {
            precision: Some(20),
            scale: 0,
        },
        ColumnType::Time { .. } => match modes.time {
            TimePrecision::Adaptive => ty.clone(),
            TimePrecision::AdaptiveTimeMicroseconds => ColumnType::Time { millis: false },
            TimePrecision::Connect => ColumnType::Time { millis: true },
        },
        ColumnType::StringMap if modes.hstore == HstoreHandling::Json => ColumnType::Json,
        ColumnType::Interval if modes.interval == IntervalHandling::String => {
            ColumnType::NamedString("io.debezium.time.Interval")
        }
        ColumnType::Timestamp { .. } if modes.time == TimePrecision::Connect => {
            ColumnType::Timestamp { millis: true }
        }
        ColumnType::Array(inner) => ColumnType::Array(Box::new(effective_type(inner, modes))),
        other => other.clone(),
    }
}

/// The value a required column's missing value is written as (see `Rendered::fallback`), as
/// Debezium writes it: the column default, else the type's zero value.
fn shown_fallbacks(
    t: &crate::event::TableSchema,
    types: &[ColumnType],
    modes: ValueModes,
) -> Vec<Option<Value>> {
    t.columns
        .iter()
        .zip(types)
        .map(|(c, ty)| {
            if c.nullable {
                return None;
            }
            if let Some(d) = &c.default {
                return Some(moded_value(ty, d.clone(), modes));
            }
            Some(match ty {
                ColumnType::Bool => Value::Bool(false),
                ColumnType::Int16
                | ColumnType::Int32
                | ColumnType::Int64
                | ColumnType::UInt64
                | ColumnType::Year => Value::Int(0),
                ColumnType::Float32 => Value::Float32(0.0),
                ColumnType::Float64 => Value::Float64(0.0),
                ColumnType::Decimal { .. } | ColumnType::VariableDecimal => Value::Decimal {
                    unscaled: "0".into(),
                    scale: 0,
                },
                ColumnType::Bytes | ColumnType::Bits { .. } => Value::Bytes(Vec::new()),
                ColumnType::Date => Value::Date(0),
                ColumnType::Time { .. } => Value::Time(0),
                // Debezium writes the zoned zeros as fixed texts, without fraction digits
                // whatever the column's precision (recorded case `pg_markers_zero`).
                ColumnType::ZonedTime => Value::String("00:00:00Z".into()),
                ColumnType::ZonedTimestamp { .. } => Value::String("1970-01-01T00:00:00Z".into()),
                ColumnType::Timestamp { .. } => Value::Timestamp(0),
                ColumnType::Interval => Value::Interval {
                    micros: 0,
                    parts: [0; 6],
                },
                ColumnType::Array(_) => Value::Array(Vec::new()),
                ColumnType::String
                | ColumnType::Text
                | ColumnType::Json
                | ColumnType::Uuid
                | ColumnType::NamedString(_)
                | ColumnType::Enum { .. }
                | ColumnType::EnumSet { .. } => Value::String(String::new()),
                // Debezium's zero point (recorded case `pg_gen_domains`).
                ColumnType::Point => Value::Point {
                    x: 0.0,
                    y: 0.0,
                    srid: None,
                },
                ColumnType::StringMap | ColumnType::Geometry => return None,
            })
        })
        .collect()
}

/// The plain text of `unscaled × 10^-scale` (`-1234`, 3 → `-1.234`).
fn decimal_plain(unscaled: &str, scale: u32) -> String {
    let (sign, digits) = match unscaled.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", unscaled),
    };
    let scale = scale as usize;
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
    } else {
        digits.to_string()
    };
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// `v` as a value that [`write_value`] writes for effective type `ty` the way
/// [`write_moded`] would (for schema defaults, written once per schema).
fn moded_value(ty: &ColumnType, v: Value, modes: ValueModes) -> Value {
    match (ty, v) {
        (ColumnType::Decimal { .. }, Value::Int(i)) => Value::Decimal {
            unscaled: (i as u64).to_string(),
            scale: 0,
        },
        (ColumnType::Float64, Value::Decimal { unscaled, scale }) => {
            Value::Float64(decimal_plain(&unscaled, scale).parse().unwrap_or(f64::NAN))
        }
        (ColumnType::String, Value::Decimal { unscaled, scale }) => {
            Value::String(decimal_plain(&unscaled, scale))
        }
        (ColumnType::String, Value::Bytes(b)) => Value::String(binary_text(&b, modes.binary)),
        (_, v) => v,
    }
}

/// Bytes as the text `binary.handling.mode` writes them (hex, URL-safe base64, else
/// standard base64).
fn binary_text(b: &[u8], mode: BinaryHandling) -> String {
    use base64::Engine as _;
    match mode {
        BinaryHandling::Hex => {
            let mut h = String::with_capacity(b.len() * 2);
            for byte in b {
                h.push_str(&format!("{byte:02x}"));
            }
            h
        }
        BinaryHandling::Base64UrlSafe => base64::engine::general_purpose::URL_SAFE.encode(b),
        _ => base64::engine::general_purpose::STANDARD.encode(b),
    }
}

/// A variable-scale decimal as Debezium writes it: trailing fraction zeros dropped (42.000
/// is 42 at scale 0).
fn trimmed_decimal(unscaled: &str, scale: u32) -> (&str, u32) {
    let (mut digits, mut scale) = (unscaled, scale);
    while scale > 0 && digits.len() > 1 && digits.ends_with('0') {
        digits = &digits[..digits.len() - 1];
        scale -= 1;
    }
    (digits, scale)
}

/// Write `v` as a column of effective type `ty` (see [`effective_type`]).
fn write_moded(out: &mut Vec<u8>, ty: &ColumnType, v: &Value, modes: ValueModes) {
    match (ty, v) {
        // BIGINT UNSIGNED in precise mode: the bits read back as u64.
        (ColumnType::Decimal { .. }, Value::Int(i)) => json::base64(
            out,
            &unscaled_bytes(&(*i as u64).to_string()).unwrap_or_default(),
        ),
        (ColumnType::Float64, Value::Decimal { unscaled, scale }) => json::float64(
            out,
            decimal_plain(unscaled, *scale).parse().unwrap_or(f64::NAN),
        ),
        (ColumnType::String, Value::Decimal { unscaled, scale }) => {
            json::string(out, &decimal_plain(unscaled, *scale))
        }
        (ColumnType::String, Value::Bytes(b)) => match modes.binary {
            BinaryHandling::Hex | BinaryHandling::Base64UrlSafe => {
                json::string(out, &binary_text(b, modes.binary))
            }
            _ => json::base64(out, b),
        },
        (ColumnType::Array(inner), Value::Array(items)) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_moded(out, inner, item, modes);
            }
            out.push(b']');
        }
        _ => write_value(out, ty, v),
    }
}

/// One Kafka record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Destination topic.
    pub topic: Arc<str>,
    /// Record key (`None` for tables without a primary key and for truncates).
    pub key: Option<Vec<u8>>,
    /// Record value (`None` for a tombstone).
    pub value: Option<Vec<u8>>,
    /// Kafka record headers (heartbeats carry the acknowledged position).
    pub headers: Vec<(&'static str, Vec<u8>)>,
    /// How key and value are written.
    pub form: Form,
}

/// How a record's parts are written.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Form {
    /// JSON: with schemas whenever the sink writes some part as Avro (the sink then rewrites
    /// each part into its format), else final.
    #[default]
    Envelope,
    /// Each part in its final format. An Avro part (wire header, then the datum) carries its
    /// shape here; its schema id (bytes 1..5, zero as written) is the sink's to fill in.
    Final {
        /// The key's Avro shape, when the key is Avro.
        key: Option<Arc<AvroShape>>,
        /// The value's Avro shape, when the value is Avro.
        value: Option<Arc<AvroShape>>,
    },
}

/// The Avro shapes of a table's key and value parts (`None` where the part is JSON, the
/// table has no key, or the schema cannot become Avro: such records take the JSON path).
#[derive(Debug)]
struct AvroShapes {
    key: Option<Arc<AvroShape>>,
    value: Option<Arc<AvroShape>>,
}

#[derive(Debug)]
struct Rendered {
    table: TableId,
    /// Each column's type as written under the handling modes.
    types: Vec<ColumnType>,
    /// Whether each column is written (the column filter; key columns always are).
    kept: Vec<bool>,
    /// For required (NOT NULL) columns, what a missing value is written as: the column's
    /// default, else its type's zero value. A null there would break the schema; it happens
    /// only for the unsent non-key columns of a delete's before image.
    fallback: Vec<Option<Value>>,
    /// `"column":` for every column, pre-escaped.
    col_keys: Vec<Vec<u8>>,
    topic: Arc<str>,
    key_schema: String,
    value_schema: String,
    /// Set when some part is Avro.
    avro: Option<AvroShapes>,
}

impl Rendered {
    /// The written cells of a row: each kept column's index, type as written and value (a
    /// required column's missing value replaced by its fallback).
    fn cells<'a>(
        &'a self,
        row: &'a [Value],
    ) -> impl Iterator<Item = (usize, &'a ColumnType, &'a Value)> + 'a {
        self.types
            .iter()
            .zip(row)
            .zip(&self.kept)
            .zip(&self.fallback)
            .enumerate()
            .filter_map(|(i, (((ty, v), kept), fallback))| {
                if !kept {
                    return None;
                }
                let v = match (v, fallback) {
                    (Value::Null, Some(f)) => f,
                    _ => v,
                };
                Some((i, ty, v))
            })
    }
}

/// Encodes change events into Debezium JSON records. Cheap to keep per connector.
#[derive(Debug)]
pub struct EnvelopeEncoder {
    opts: EnvelopeOptions,
    /// Processing time for `ts_*`, fixed per batch by [`EnvelopeEncoder::set_now`].
    now_ns: Option<i64>,
    /// The payload's closing `,"ts_ms":…,"ts_us":…,"ts_ns":…}` for `now_ns`, when set.
    now_tail: Vec<u8>,
    /// Keyed by schema version, which is unique per process.
    rendered: HashMap<u64, Arc<Rendered>>,
    /// Capacity for the next value buffer: the last value's size plus slack, so a typical
    /// value is written without regrowing its buffer.
    value_capacity: usize,
    /// The source transaction being written (with transaction metadata on).
    tx: Option<OpenTx>,
    /// `<prefix>.transaction`.
    transaction_topic: Arc<str>,
    /// `<prefix>.message`.
    message_topic: Arc<str>,
    /// `<prefix>`.
    schema_change_topic: Arc<str>,
    /// `__debezium-heartbeat.<prefix>`.
    heartbeat_topic: Arc<str>,
    /// Whether records in [`Form::Envelope`] carry schemas: as `schemas_enable` says, and
    /// always when some part is Avro (the sink derives the Avro schema from them).
    wrap: bool,
    /// The last snapshot read's `source` block as JSON, with what it was written from: the
    /// rows of a snapshot share it (streamed changes each have their own position, so they
    /// are neither looked up nor kept).
    last_source: std::sync::Mutex<Option<SourceBlock>>,
    /// Buffers of records already handed to the producer (see [`EnvelopeEncoder::recycle`]),
    /// written into again instead of allocating a buffer per key and value: those under
    /// [`SPARE_SMALL`] bytes (keys, mostly), then the others.
    spare: [Vec<Vec<u8>>; 2],
    /// The capacity held in `spare`, at most [`SPARE_BYTES`].
    spare_bytes: usize,
}

/// The most buffer capacity an encoder keeps for reuse.
const SPARE_BYTES: usize = 4 << 20;
/// Buffers larger than this are freed, not kept.
const SPARE_LARGEST: usize = 64 << 10;
/// The capacity that divides small spare buffers from large ones.
const SPARE_SMALL: usize = 1024;

/// Which spare list holds buffers of `capacity`.
fn spare_class(capacity: usize) -> usize {
    usize::from(capacity >= SPARE_SMALL)
}

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
struct SourceBlock {
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
fn same_but_row(a: &Position, b: &Position) -> bool {
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
fn source_key(key: &[u8]) -> &[u8] {
    key.get(2..key.len().saturating_sub(2)).unwrap_or_default()
}

/// One scalar of the envelope's own fields (the `source` block, `op`, `ts_*`).
#[derive(Debug, Clone, Copy)]
enum Scalar<'a> {
    Null,
    Str(&'a str),
    Int(i64),
}

/// A written event's place in its transaction: id, `total_order`, `data_collection_order`.
type TxBlock = (String, i64, i64);

impl EnvelopeEncoder {
    /// Create an encoder.
    pub fn new(opts: EnvelopeOptions) -> Self {
        let topic = |suffix: &str| -> Arc<str> {
            Arc::from(sanitize_topic(&format!("{}.{suffix}", opts.topic_prefix)))
        };
        Self {
            transaction_topic: topic("transaction"),
            message_topic: topic("message"),
            schema_change_topic: Arc::from(sanitize_topic(&opts.topic_prefix)),
            heartbeat_topic: Arc::from(sanitize_topic(&format!(
                "__debezium-heartbeat.{}",
                opts.topic_prefix
            ))),
            wrap: opts.schemas_enable || opts.avro.any(),
            last_source: std::sync::Mutex::new(None),
            opts,
            now_ns: None,
            now_tail: Vec::new(),
            rendered: HashMap::new(),
            value_capacity: 256,
            tx: None,
            spare: [Vec::new(), Vec::new()],
            spare_bytes: 0,
        }
    }

    /// Give back a record the producer has copied: its key and value buffers are written
    /// into again by later records (up to [`SPARE_BYTES`] of them), which saves an
    /// allocation and a free per part.
    pub fn recycle(&mut self, record: Record) {
        for mut buf in [record.key, record.value].into_iter().flatten() {
            let cap = buf.capacity();
            if cap > SPARE_LARGEST || self.spare_bytes + cap > SPARE_BYTES {
                continue;
            }
            buf.clear();
            self.spare_bytes += cap;
            self.spare[spare_class(cap)].push(buf);
        }
    }

    /// An empty buffer of at least `capacity`: a recycled one when there is one.
    fn buffer(&mut self, capacity: usize) -> Vec<u8> {
        match self.spare[spare_class(capacity)].pop() {
            Some(mut buf) => {
                self.spare_bytes -= buf.capacity();
                buf.reserve(capacity);
                buf
            }
            None => Vec::with_capacity(capacity),
        }
    }

    /// The topic of transaction BEGIN/END records (`<prefix>.transaction`).
    pub fn transaction_topic(&self) -> &str {
        &self.transaction_topic
    }

    /// Whether transaction BEGIN/END records are written at all
    /// (`provide_transaction_metadata`).
    pub fn writes_transactions(&self) -> bool {
        self.opts.transaction_metadata
    }

    /// The topic of logical decoding messages (`<prefix>.message`).
    pub fn message_topic(&self) -> &str {
        &self.message_topic
    }

    /// Count a written event in the open transaction (writing BEGIN before its first one):
    /// its transaction block, or `None` without transaction metadata or outside one.
    fn in_transaction(
        &mut self,
        position: &Position,
        collection: &str,
        out: &mut Vec<Record>,
    ) -> Option<TxBlock> {
        if !self.opts.transaction_metadata {
            return None;
        }
        let id = transaction::transaction_id(position)?;
        let tx = self.tx.as_mut()?;
        if !tx.begun {
            tx.begun = true;
            let ts = tx.commit_ts_us;
            let (key, value) = self.wrap_tx(&id, |id, v| transaction::begin_payload(id, ts, v));
            out.push(Record {
                topic: Arc::clone(&self.transaction_topic),
                key: Some(key),
                value: Some(value),
                headers: Vec::new(),
                form: Form::Envelope,
            });
        }
        let tx = self.tx.as_mut()?;
        let (total, in_collection) = tx.count(collection);
        Some((id, total, in_collection))
    }

    /// A BEGIN/END record's key and value, with schemas when enabled.
    fn wrap_tx(&self, id: &str, payload: impl FnOnce(&str, &mut Vec<u8>)) -> (Vec<u8>, Vec<u8>) {
        let mut key = Vec::with_capacity(64);
        let mut value = Vec::with_capacity(128);
        if self.wrap {
            key.extend_from_slice(b"{\"schema\":");
            key.extend_from_slice(transaction::KEY_SCHEMA.as_bytes());
            key.extend_from_slice(b",\"payload\":");
            value.extend_from_slice(b"{\"schema\":");
            value.extend_from_slice(transaction::VALUE_SCHEMA.as_bytes());
            value.extend_from_slice(b",\"payload\":");
        }
        transaction::key_payload(id, &mut key);
        payload(id, &mut value);
        if self.wrap {
            key.push(b'}');
            value.push(b'}');
        }
        (key, value)
    }

    /// Encode a transaction boundary or message into its records (none for a boundary
    /// without transaction metadata, or for a transaction nothing was written for).
    pub fn encode_marker(&mut self, m: &Marker, out: &mut Vec<Record>) {
        match m {
            Marker::Begin { commit_ts_us } => self.tx = Some(OpenTx::new(*commit_ts_us)),
            Marker::End { position, .. } => {
                let Some(tx) = self.tx.take() else { return };
                if !tx.begun {
                    return;
                }
                let Some(id) = transaction::transaction_id(position) else {
                    return;
                };
                let (key, value) = self.wrap_tx(&id, |id, v| tx.end_payload(id, v));
                out.push(Record {
                    topic: Arc::clone(&self.transaction_topic),
                    key: Some(key),
                    value: Some(value),
                    headers: Vec::new(),
                    form: Form::Envelope,
                });
            }
            Marker::Message(msg) => self.encode_message(msg, out),
            Marker::SchemaChange(c) => self.encode_schema_change(c, out),
            Marker::Heartbeat(cp) => self.encode_heartbeat(cp, out),
        }
    }

    /// The topic of heartbeat records (`__debezium-heartbeat.<prefix>`).
    pub fn heartbeat_topic(&self) -> &str {
        &self.heartbeat_topic
    }

    /// Debezium's heartbeat: key `{"serverName": prefix}`, value `{"ts_ms": now}`, plus the
    /// acknowledged position as the `sluice.position` header (the checkpoint's JSON).
    fn encode_heartbeat(&mut self, cp: &crate::event::Checkpoint, out: &mut Vec<Record>) {
        let mut key = Vec::with_capacity(128);
        let mut value = Vec::with_capacity(128);
        if self.wrap {
            key.extend_from_slice(br#"{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"serverName"}],"optional":false,"name":"io.debezium.connector.common.ServerNameKey","version":1},"payload":"#);
            value.extend_from_slice(br#"{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,"name":"io.debezium.connector.common.Heartbeat","version":1},"payload":"#);
        }
        key.extend_from_slice(br#"{"serverName":"#);
        json::string(&mut key, &self.opts.topic_prefix);
        key.push(b'}');
        value.extend_from_slice(br#"{"ts_ms":"#);
        json::int(&mut value, self.now_ns() / 1_000_000);
        value.push(b'}');
        if self.wrap {
            key.push(b'}');
            value.push(b'}');
        }
        out.push(Record {
            topic: Arc::clone(&self.heartbeat_topic),
            key: Some(key),
            value: Some(value),
            headers: vec![(
                "sluice.position",
                serde_json::to_vec(cp).unwrap_or_default(),
            )],
            form: Form::Envelope,
        });
    }

    /// The topic of schema-change records (`<prefix>`).
    pub fn schema_change_topic(&self) -> &str {
        &self.schema_change_topic
    }

    fn encode_schema_change(&mut self, c: &SchemaChange, out: &mut Vec<Record>) {
        let mut key = Vec::with_capacity(64);
        let mut value = Vec::with_capacity(1024 + c.ddl.len());
        if self.wrap {
            key.extend_from_slice(br#"{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"databaseName"}],"optional":false,"name":"io.debezium.connector.mysql.SchemaChangeKey","version":1},"payload":"#);
            value.extend_from_slice(br#"{"schema":"#);
            value.extend_from_slice(schema::schema_change_schema().as_bytes());
            value.extend_from_slice(br#","payload":"#);
        }
        key.extend_from_slice(br#"{"databaseName":"#);
        json::string(&mut key, &c.database);
        key.push(b'}');
        value.extend_from_slice(br#"{"source":"#);
        let table = TableId::new(c.database.as_str(), c.table.as_deref().unwrap_or(""));
        let snapshot = c.snapshot.then_some(SnapshotMarker::True);
        let at = SourceAt {
            position: &c.position,
            commit_ts_us: c.ts_us,
            snapshot,
            table: &table,
        };
        self.write_source(at, &mut value);
        value.extend_from_slice(br#","ts_ms":"#);
        json::int(&mut value, self.now_ns() / 1_000_000);
        value.extend_from_slice(br#","databaseName":"#);
        json::string(&mut value, &c.database);
        value.extend_from_slice(br#","schemaName":null,"ddl":"#);
        json::string(&mut value, &c.ddl);
        value.extend_from_slice(br#","tableChanges":["#);
        for (i, ch) in c.changes.iter().enumerate() {
            if i > 0 {
                value.push(b',');
            }
            ddl::write_change(&mut value, ch);
        }
        value.extend_from_slice(b"]}");
        if self.wrap {
            key.push(b'}');
            value.push(b'}');
        }
        out.push(Record {
            topic: Arc::clone(&self.schema_change_topic),
            key: Some(key),
            value: Some(value),
            headers: Vec::new(),
            form: Form::Envelope,
        });
    }

    fn encode_message(&mut self, msg: &LogicalMessage, out: &mut Vec<Record>) {
        let tx = self.in_transaction(&msg.position, "message", out);
        let mut key = Vec::with_capacity(32 + msg.prefix.len());
        let mut value = Vec::with_capacity(512 + msg.content.len() * 4 / 3);
        let content_ty = effective_type(&ColumnType::Bytes, self.opts.modes);
        if self.wrap {
            key.extend_from_slice(br#"{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"field":"prefix"}],"optional":false,"name":"io.debezium.connector.postgresql.MessageKey","version":1},"payload":"#);
            value.extend_from_slice(br#"{"schema":"#);
            value.extend_from_slice(
                schema::message_schema(self.opts.source_kind, &content_ty).as_bytes(),
            );
            value.extend_from_slice(br#","payload":"#);
        }
        key.extend_from_slice(br#"{"prefix":"#);
        json::string(&mut key, &msg.prefix);
        key.push(b'}');
        value.extend_from_slice(br#"{"op":"m","ts_ms":"#);
        json::int(&mut value, self.now_ns() / 1_000_000);
        value.extend_from_slice(br#","source":"#);
        let table = TableId::new("", "");
        let at = SourceAt {
            position: &msg.position,
            commit_ts_us: msg.commit_ts_us,
            snapshot: None,
            table: &table,
        };
        self.write_source(at, &mut value);
        value.extend_from_slice(br#","transaction":"#);
        write_tx_block(&mut value, tx.as_ref());
        value.extend_from_slice(br#","message":{"prefix":"#);
        json::string(&mut value, &msg.prefix);
        value.extend_from_slice(br#","content":"#);
        write_moded(
            &mut value,
            &content_ty,
            &Value::Bytes(msg.content.clone()),
            self.opts.modes,
        );
        value.extend_from_slice(b"}}");
        if self.wrap {
            key.push(b'}');
            value.push(b'}');
        }
        out.push(Record {
            topic: Arc::clone(&self.message_topic),
            key: Some(key),
            value: Some(value),
            headers: Vec::new(),
            form: Form::Envelope,
        });
    }

    fn now_ns(&self) -> i64 {
        self.now_ns.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as i64)
                .unwrap_or(0)
        })
    }

    /// Use one processing timestamp for the following events (one clock read per batch);
    /// `None` reads the clock per event.
    pub fn set_now(&mut self, now_ns: Option<i64>) {
        self.now_ns = now_ns;
        self.now_tail.clear();
        if let Some(now) = now_ns {
            write_now(&mut self.now_tail, now);
        }
    }

    /// The topic a table's events go to: `<prefix>.<namespace>.<table>` with characters Kafka
    /// does not accept replaced by `_`.
    pub fn topic_for(&self, table: &TableId) -> String {
        topic_name(&self.opts.topic_prefix, table)
    }

    fn rendered(&mut self, ev: &ChangeEvent) -> Arc<Rendered> {
        if let Some(r) = self.rendered.get(&ev.schema.version) {
            return Arc::clone(r);
        }
        // Old versions of the same table are no longer needed once a newer one is seen.
        self.rendered.retain(|_, r| r.table != ev.schema.table);
        let modes = self.opts.modes;
        let types: Vec<ColumnType> = ev
            .schema
            .columns
            .iter()
            .map(|c| effective_type(&c.ty, modes))
            .collect();
        let kept: Vec<bool> = ev
            .schema
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                ev.schema.key_columns.contains(&i)
                    || self.opts.columns.keeps(&ev.schema.table, &c.name)
            })
            .collect();
        // The schemas describe the columns as written.
        let mut shown = (*ev.schema).clone();
        for (c, t) in shown.columns.iter_mut().zip(&types) {
            if let Some(d) = c.default.take() {
                c.default = Some(moded_value(t, d, modes));
            }
            c.ty = t.clone();
        }
        if kept.iter().any(|k| !k) {
            let new_index: Vec<usize> = kept
                .iter()
                .scan(0, |n, &k| {
                    let i = *n;
                    *n += usize::from(k);
                    Some(i)
                })
                .collect();
            shown.key_columns = shown.key_columns.iter().map(|&k| new_index[k]).collect();
            let mut keep = kept.iter();
            shown
                .columns
                .retain(|_| keep.next().copied().unwrap_or(true));
        }
        let fallback = shown_fallbacks(&ev.schema, &types, modes);
        // The effective types are already the millisecond ones; only their names differ.
        let connect_time = modes.time == TimePrecision::Connect;
        let key_schema = schema::key_schema(&self.opts.topic_prefix, &shown, connect_time);
        let value_schema = schema::envelope_schema(
            &self.opts.topic_prefix,
            &shown,
            self.opts.source_kind,
            connect_time,
        );
        let parts = self.opts.avro;
        let avro = parts.any().then(|| {
            let shape = |text: &str| {
                let connect = serde_json::from_str(text).ok()?;
                AvroShape::from_connect(&connect).ok().map(Arc::new)
            };
            AvroShapes {
                key: (parts.key && !shown.key_columns.is_empty())
                    .then(|| shape(&key_schema))
                    .flatten(),
                value: parts.value.then(|| shape(&value_schema)).flatten(),
            }
        });
        let r = Arc::new(Rendered {
            table: ev.schema.table.clone(),
            types,
            kept,
            fallback,
            col_keys: ev
                .schema
                .columns
                .iter()
                .map(|c| {
                    let mut k = Vec::with_capacity(c.name.len() + 3);
                    json::string(&mut k, &c.name);
                    k.push(b':');
                    k
                })
                .collect(),
            topic: Arc::from(self.topic_for(&ev.schema.table)),
            key_schema,
            value_schema,
            avro,
        });
        self.rendered.insert(ev.schema.version, Arc::clone(&r));
        r
    }

    /// Encode one event into its record, plus a tombstone when the event is a delete.
    pub fn encode(&mut self, ev: &ChangeEvent, out: &mut Vec<Record>) {
        if self.opts.modes.skipped.skips(ev.op) {
            return;
        }
        let r = self.rendered(ev);
        let tx = if self.tx.is_some() {
            let collection = format!("{}.{}", ev.schema.table.namespace, ev.schema.table.name);
            self.in_transaction(&ev.position, &collection, out)
        } else {
            None
        };
        let (key, value, form) = match self.encode_final(ev, &r, tx.as_ref()) {
            Some(done) => done,
            None => {
                // `key_json` reserves what the key needs: a fresh key buffer is allocated
                // once, at that size.
                let key_buf = self.buffer(0);
                let value_buf = self.buffer(self.value_capacity);
                (
                    self.encode_key(ev, &r, self.wrap, key_buf),
                    self.json_value(ev, &r, tx.as_ref(), self.wrap, value_buf),
                    Form::Envelope,
                )
            }
        };
        self.value_capacity = (value.len() + 64).clamp(256, 64 * 1024);
        // The tombstone's null value needs no schema id: its form is the record's.
        let tombstone = if ev.needs_tombstone() && self.opts.modes.tombstones_on_delete {
            let copy = key.as_ref().map(|k| {
                let mut c = self.buffer(k.len());
                c.extend_from_slice(k);
                c
            });
            Some((copy, form.clone()))
        } else {
            None
        };
        // A primary-key change: Debezium's headers name the other half's key (as JSON, with
        // its schema when schemas are on, whatever the key format).
        let headers = match (&ev.moved_key, ev.op) {
            (Some(k), Op::Delete) => self
                .key_json(ev, k, &r, self.wrap, Vec::new())
                .map(|v| vec![(NEW_KEY_HEADER, v)])
                .unwrap_or_default(),
            (Some(k), Op::Create) => self
                .key_json(ev, k, &r, self.wrap, Vec::new())
                .map(|v| vec![(OLD_KEY_HEADER, v)])
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        out.push(Record {
            topic: Arc::clone(&r.topic),
            key,
            value: Some(value),
            headers,
            form,
        });
        if let Some((key, form)) = tombstone {
            out.push(Record {
                topic: Arc::clone(&r.topic),
                key,
                value: None,
                headers: Vec::new(),
                form,
            });
        }
    }

    /// Key and value in their final formats when some part is Avro (see [`AvroParts`]);
    /// `None` where the JSON path must write the record: a truncate, or an event its Avro
    /// schema does not fit (the sink's JSON-through-Avro writer then names the mismatch).
    #[allow(clippy::type_complexity)]
    fn encode_final(
        &self,
        ev: &ChangeEvent,
        r: &Rendered,
        tx: Option<&TxBlock>,
    ) -> Option<(Option<Vec<u8>>, Vec<u8>, Form)> {
        let shapes = r.avro.as_ref()?;
        if ev.op == Op::Truncate {
            return None;
        }
        let parts = self.opts.avro;
        let (key, key_shape) = if ev.key.is_empty() {
            (None, None)
        } else if parts.key {
            let shape = shapes.key.as_ref()?;
            let mut k = Vec::with_capacity(32);
            k.extend_from_slice(&[0; 5]);
            self.avro_key(ev, r, shape, &mut k).ok()?;
            (Some(k), Some(Arc::clone(shape)))
        } else {
            (
                self.encode_key(ev, r, self.opts.schemas_enable, Vec::new()),
                None,
            )
        };
        let (value, value_shape) = if parts.value {
            let shape = shapes.value.as_ref()?;
            let mut v = Vec::with_capacity(self.value_capacity / 2);
            v.extend_from_slice(&[0; 5]);
            self.avro_value(ev, r, tx, shape, &mut v).ok()?;
            (v, Some(Arc::clone(shape)))
        } else {
            (
                self.json_value(
                    ev,
                    r,
                    tx,
                    self.opts.schemas_enable,
                    Vec::with_capacity(self.value_capacity),
                ),
                None,
            )
        };
        Some((
            key,
            value,
            Form::Final {
                key: key_shape,
                value: value_shape,
            },
        ))
    }

    /// An event's JSON value, with its schema when `schemas` is set, written into `value`
    /// (empty).
    fn json_value(
        &self,
        ev: &ChangeEvent,
        r: &Rendered,
        tx: Option<&TxBlock>,
        schemas: bool,
        mut value: Vec<u8>,
    ) -> Vec<u8> {
        if schemas {
            value.extend_from_slice(b"{\"schema\":");
            value.extend_from_slice(r.value_schema.as_bytes());
            value.extend_from_slice(b",\"payload\":");
        }
        self.write_payload(ev, r, tx, &mut value);
        if schemas {
            value.push(b'}');
        }
        value
    }

    fn encode_key(
        &self,
        ev: &ChangeEvent,
        r: &Rendered,
        schemas: bool,
        out: Vec<u8>,
    ) -> Option<Vec<u8>> {
        if ev.op == Op::Truncate && !ev.schema.key_columns.is_empty() {
            // A keyed table's topic is compacted, and a compacted topic refuses a null key.
            // The JSON null (what JsonConverter writes for a null key when it writes one at
            // all) decodes to a null key for Debezium consumers, and the broker accepts it.
            return Some(if schemas {
                TRUNCATE_KEY_WITH_SCHEMA.to_vec()
            } else {
                TRUNCATE_KEY.to_vec()
            });
        }
        if ev.op == Op::Truncate {
            return None;
        }
        self.key_json(ev, &ev.key, r, schemas, out)
    }

    /// The JSON key of `ev`'s table for the key values `key`, written into `out` (empty);
    /// `None` for a key-less table.
    fn key_json(
        &self,
        ev: &ChangeEvent,
        key: &[Value],
        r: &Rendered,
        schemas: bool,
        mut out: Vec<u8>,
    ) -> Option<Vec<u8>> {
        if key.is_empty() {
            return None;
        }
        out.reserve(if schemas { r.key_schema.len() + 64 } else { 32 });
        if schemas {
            out.extend_from_slice(b"{\"schema\":");
            out.extend_from_slice(r.key_schema.as_bytes());
            out.extend_from_slice(b",\"payload\":");
        }
        out.push(b'{');
        for (n, (&ci, v)) in ev.schema.key_columns.iter().zip(key).enumerate() {
            if n > 0 {
                out.push(b',');
            }
            match r.col_keys.get(ci) {
                Some(k) => out.extend_from_slice(k),
                None => {
                    json::string(&mut out, &ev.schema.columns[ci].name);
                    out.push(b':');
                }
            }
            write_moded(&mut out, &r.types[ci], v, self.opts.modes);
        }
        out.push(b'}');
        if schemas {
            out.push(b'}');
        }
        Some(out)
    }

    fn write_payload(
        &self,
        ev: &ChangeEvent,
        r: &Rendered,
        tx: Option<&TxBlock>,
        out: &mut Vec<u8>,
    ) {
        let modes = self.opts.modes;
        out.extend_from_slice(b"{\"before\":");
        let placeholder = &self.opts.placeholder;
        write_row(out, r, ev.before.as_deref(), modes, placeholder);
        out.extend_from_slice(b",\"after\":");
        write_row(out, r, ev.after.as_deref(), modes, placeholder);
        out.extend_from_slice(b",\"source\":");
        self.write_source(SourceAt::of(ev), out);
        out.extend_from_slice(b",\"transaction\":");
        write_tx_block(out, tx);
        out.extend_from_slice(b",\"op\":");
        json::string(out, ev.op.code());
        if self.now_ns.is_some() {
            out.extend_from_slice(&self.now_tail);
        } else {
            write_now(out, self.now_ns());
        }
    }

    /// The `source` block as JSON (its fields from [`Self::source_fields`]).
    ///
    /// The last block is kept: snapshot reads share one, and so do a MySQL transaction's
    /// changes to one table (all but the `row` index, which is written in). A PostgreSQL
    /// change has its own LSN, so its block is rendered each time.
    fn write_source(&self, at: SourceAt<'_>, out: &mut Vec<u8>) {
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
    fn render_source(&self, at: SourceAt<'_>, out: &mut Vec<u8>) -> Option<(usize, usize)> {
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
    fn source_fields(&self, at: SourceAt<'_>, mut f: impl FnMut(&'static [u8], Scalar<'_>)) {
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

/// The payload's processing timestamps and its closing brace.
fn write_now(out: &mut Vec<u8>, now: i64) {
    out.extend_from_slice(b",\"ts_ms\":");
    json::int(out, now / 1_000_000);
    out.extend_from_slice(b",\"ts_us\":");
    json::int(out, now / 1_000);
    out.extend_from_slice(b",\"ts_ns\":");
    json::int(out, now);
    out.push(b'}');
}

/// An event's `transaction` block (`null` outside transaction metadata).
fn write_tx_block(out: &mut Vec<u8>, tx: Option<&TxBlock>) {
    let Some((id, total, in_collection)) = tx else {
        out.extend_from_slice(b"null");
        return;
    };
    out.extend_from_slice(br#"{"id":"#);
    json::string(out, id);
    out.extend_from_slice(br#","total_order":"#);
    json::int(out, *total);
    out.extend_from_slice(br#","data_collection_order":"#);
    json::int(out, *in_collection);
    out.push(b'}');
}

/// Kafka topic for a table under `prefix`.
pub fn topic_name(prefix: &str, table: &TableId) -> String {
    sanitize_topic(&format!("{prefix}.{}.{}", table.namespace, table.name))
}

/// `name` with the characters Kafka does not accept in topic names replaced by `_`.
fn sanitize_topic(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn write_row(
    out: &mut Vec<u8>,
    r: &Rendered,
    row: Option<&[Value]>,
    modes: ValueModes,
    placeholder: &str,
) {
    let Some(row) = row else {
        out.extend_from_slice(b"null");
        return;
    };
    out.push(b'{');
    let plain = modes.plain();
    for (n, (i, ty, v)) in r.cells(row).enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&r.col_keys[i]);
        if matches!(v, Value::Unavailable) {
            write_unavailable(out, ty, placeholder);
        } else if plain {
            write_value(out, ty, v);
        } else {
            write_moded(out, ty, v, modes);
        }
    }
    out.push(b'}');
}

/// A value the source did not send (an unchanged TOASTed column), as Debezium writes it: the
/// placeholder in string and bytes columns (and string arrays), null elsewhere.
fn write_unavailable(out: &mut Vec<u8>, ty: &ColumnType, placeholder: &str) {
    match ty {
        ColumnType::Bytes => json::base64(out, placeholder.as_bytes()),
        ColumnType::String
        | ColumnType::Text
        | ColumnType::Json
        | ColumnType::Uuid
        | ColumnType::NamedString(_)
        | ColumnType::Enum { .. } => json::string(out, placeholder),
        ColumnType::Array(inner) if matches!(**inner, ColumnType::String | ColumnType::Text) => {
            out.push(b'[');
            json::string(out, placeholder);
            out.push(b']');
        }
        _ => out.extend_from_slice(b"null"),
    }
}

/// Write one value as Kafka Connect's JsonConverter would, given its column type.
pub(crate) fn write_value(out: &mut Vec<u8>, ty: &ColumnType, v: &Value) {
    match (ty, v) {
        (_, Value::Null) => out.extend_from_slice(b"null"),
        (_, Value::Unavailable) => write_unavailable(out, ty, UNAVAILABLE_VALUE),
        (ColumnType::Time { millis: true }, Value::Time(us)) => json::int(out, us / 1000),
        (ColumnType::Timestamp { millis: true }, Value::Timestamp(us)) => {
            json::int(out, us.div_euclid(1000))
        }
        (ColumnType::ZonedTimestamp { fraction_digits }, Value::Timestamp(us)) => {
            out.push(b'"');
            decimal::write_instant(out, *us, *fraction_digits);
            out.push(b'"');
        }
        (ColumnType::VariableDecimal, Value::Decimal { unscaled, scale }) => {
            let (digits, scale) = trimmed_decimal(unscaled, *scale);
            out.extend_from_slice(b"{\"scale\":");
            json::int(out, i64::from(scale));
            out.extend_from_slice(b",\"value\":");
            json::base64(out, &unscaled_bytes(digits).unwrap_or_default());
            out.push(b'}');
        }
        (ColumnType::Array(inner), Value::Array(items)) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, inner, item);
            }
            out.push(b']');
        }
        // Everything else is decided by the value alone.
        (ColumnType::Bits { .. }, Value::Bool(b)) => json::base64(out, &[u8::from(*b)]),
        (_, Value::Bool(b)) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        (_, Value::Int(i)) => json::int(out, *i),
        (_, Value::Float32(f)) => json::float32(out, *f),
        (_, Value::Float64(f)) => json::float64(out, *f),
        (_, Value::Decimal { unscaled, .. }) => {
            json::base64(out, &unscaled_bytes(unscaled).unwrap_or_default())
        }
        // A map of strings: the JSON object text itself (the source built it compact).
        (ColumnType::StringMap, Value::Json(s)) => out.extend_from_slice(s.as_bytes()),
        (_, Value::String(s) | Value::Json(s)) => json::string(out, s),
        (_, Value::Bytes(b)) => json::base64(out, b),
        (_, Value::Geometry { wkb, srid }) => {
            out.extend_from_slice(b"{\"wkb\":");
            json::base64(out, wkb);
            out.extend_from_slice(b",\"srid\":");
            match srid {
                Some(s) => json::int(out, i64::from(*s)),
                None => out.extend_from_slice(b"null"),
            }
            out.push(b'}');
        }
        (_, Value::Point { x, y, srid }) => {
            out.extend_from_slice(b"{\"x\":");
            json::float64(out, *x);
            out.extend_from_slice(b",\"y\":");
            json::float64(out, *y);
            // Well-known binary, little-endian: byte order 1, type 1 (point), x, y.
            let mut wkb = Vec::with_capacity(21);
            wkb.push(1u8);
            wkb.extend_from_slice(&1u32.to_le_bytes());
            wkb.extend_from_slice(&x.to_le_bytes());
            wkb.extend_from_slice(&y.to_le_bytes());
            out.extend_from_slice(b",\"wkb\":");
            json::base64(out, &wkb);
            out.extend_from_slice(b",\"srid\":");
            match srid {
                Some(s) => json::int(out, i64::from(*s)),
                None => out.extend_from_slice(b"null"),
            }
            out.push(b'}');
        }
        (_, Value::Date(d)) => json::int(out, i64::from(*d)),
        (_, Value::Time(us) | Value::Timestamp(us)) => json::int(out, *us),
        (ColumnType::NamedString(_), Value::Interval { parts, .. }) => {
            json::string(out, &iso_duration(parts))
        }
        (_, Value::Interval { micros, .. }) => json::int(out, *micros),
        (_, Value::ZonedTime(us)) => {
            let mut s = decimal::format_tod(*us, None);
            s.push('Z');
            json::string(out, &s)
        }
        (_, Value::Array(items)) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, &ColumnType::Text, item);
            }
            out.push(b']');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Column, ColumnType, Op, SnapshotMarker, TableSchema};

    /// A MySQL transaction's changes to one table share a cached `source` block with the row
    /// index written in: every record equals what a fresh encoder (nothing cached) writes,
    /// across tables, transactions, GTIDs, commit times and snapshot reads.
    #[test]
    fn cached_mysql_source_blocks_equal_fresh_ones() {
        let schema = |name: &str, version| {
            Arc::new(TableSchema {
                table: TableId::new("db", name),
                columns: vec![Column {
                    name: "id".into(),
                    ty: ColumnType::Int64,
                    nullable: false,
                    default: None,
                }],
                key_columns: vec![0],
                version,
            })
        };
        let (a, b) = (schema("a", 9_001), schema("b", 9_002));
        let at = |pos: u64, row: u32, gtid: Option<&str>| Position::Mysql {
            db: "db".into(),
            server_id: 1,
            file: "mysql-bin.000001".into(),
            pos,
            row,
            gtid: gtid.map(Into::into),
        };
        let cases = [
            (&a, at(4, 0, None), 1, None),
            (&a, at(4, 1, None), 1, None),
            (&a, at(4, 123_456, None), 1, None),
            (&b, at(4, 2, None), 1, None),
            (&a, at(4, 3, None), 1, None),
            (&a, at(900, 0, Some("0-1-2")), 2, None),
            (&a, at(900, 1, Some("0-1-2")), 2, None),
            (&a, at(900, 1, Some("0-1-3")), 2, None),
            (&a, at(900, 2, Some("0-1-3")), 3, None),
            (&a, at(900, 0, None), 3, Some(SnapshotMarker::True)),
            (&a, at(900, 0, None), 3, Some(SnapshotMarker::Last)),
            (&a, at(900, 7, None), 3, None),
        ];
        let opts = || {
            EnvelopeOptions::new(
                "p".into(),
                true,
                SourceOutput::new(crate::envelope::SourceKind::Mysql),
            )
        };
        let mut cached = EnvelopeEncoder::new(opts());
        cached.set_now(Some(1_000_000_007));
        for (i, (schema, position, commit_ts_us, snapshot)) in cases.into_iter().enumerate() {
            let mut ev = ChangeEvent::new(
                Op::Create,
                Arc::clone(schema),
                None,
                Some(vec![Value::Int(i as i64)]),
                position,
                commit_ts_us,
            )
            .expect("event");
            ev.snapshot = snapshot;
            let mut fresh = EnvelopeEncoder::new(opts());
            fresh.set_now(Some(1_000_000_007));
            let (mut got, mut want) = (Vec::new(), Vec::new());
            cached.encode(&ev, &mut got);
            fresh.encode(&ev, &mut want);
            let text = |r: &[Record]| -> Vec<String> {
                r.iter()
                    .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into())
                    .collect()
            };
            assert_eq!(text(&got), text(&want), "case {i}");
        }
    }
}
