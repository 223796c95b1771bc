//! What an encoder is asked to write: the source kind, Debezium's value handling modes
//! (`decimal.handling.mode` and its siblings), skipped operations, the column filter and the
//! [`EnvelopeOptions`] that carry them. Plain data, checked by the config layer; nothing here
//! encodes.

use std::sync::Arc;

use super::UNAVAILABLE_VALUE;
use crate::event::{Op, TableId};

/// Which Debezium connector the `source` block imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// `io.debezium.connector.postgresql.Source`.
    Postgres,
    /// `io.debezium.connector.mysql.Source` (MySQL and MariaDB).
    Mysql,
}

impl SourceKind {
    pub(super) fn connector(self) -> &'static str {
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
    pub(super) fn plain(self) -> bool {
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

    pub(super) fn skips(self, op: Op) -> bool {
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

    pub(super) fn keeps(&self, table: &TableId, column: &str) -> bool {
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
/// change events in their final form ([`super::Form::Final`]: Avro parts straight from the event,
/// JSON parts with or without schemas as `schemas_enable` says), and everything else (markers,
/// and an event its Avro schema does not fit) as JSON with schemas ([`super::Form::Envelope`]) for
/// the sink to rewrite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AvroParts {
    /// The key is Avro.
    pub key: bool,
    /// The value is Avro.
    pub value: bool,
}

impl AvroParts {
    pub(super) fn any(self) -> bool {
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
