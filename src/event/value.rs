//! Column values and column types, independent of any source's wire format.
//!
//! A [`ColumnType`] says how a value is represented to consumers (Debezium's logical types);
//! a [`Value`] is one cell. Time values are integers in a fixed unit so encoders never parse.

/// How a column's values are typed for consumers. Sources map their native types onto these;
/// anything without a faithful mapping becomes [`ColumnType::Text`] (its text form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    /// true/false.
    Bool,
    /// 16-bit signed integer.
    Int16,
    /// 32-bit signed integer.
    Int32,
    /// 64-bit signed integer.
    Int64,
    /// 64-bit unsigned integer (MySQL `BIGINT UNSIGNED`); its [`Value::Int`] holds the bits,
    /// so values above `i64::MAX` read as negative unless the envelope writes them precisely.
    UInt64,
    /// IEEE single precision.
    Float32,
    /// IEEE double precision.
    Float64,
    /// Fixed-scale decimal; `precision` is reported when the source declares it.
    Decimal {
        /// Declared precision (total digits), if any.
        precision: Option<u32>,
        /// Digits after the decimal point.
        scale: u32,
    },
    /// Decimal whose scale varies per value (PostgreSQL `numeric` without a typmod).
    VariableDecimal,
    /// Character data.
    String,
    /// Binary data.
    Bytes,
    /// Days since 1970-01-01.
    Date,
    /// Time of day; `millis` selects millisecond (int32) instead of microsecond (int64) output.
    Time {
        /// Whether the declared precision is ≤ 3 digits.
        millis: bool,
    },
    /// Time of day with a zone, normalised to UTC.
    ZonedTime,
    /// Wall-clock timestamp without zone, read as UTC; `millis` as for [`ColumnType::Time`].
    Timestamp {
        /// Whether the declared precision is ≤ 3 digits.
        millis: bool,
    },
    /// An instant, rendered in UTC with `fraction_digits` fractional second digits.
    ZonedTimestamp {
        /// Digits of fractional seconds to print (0..=6), or [`ColumnType::SHORTEST_FRACTION`].
        fraction_digits: u8,
    },
    /// A calendar year (MySQL `YEAR`).
    Year,
    /// A fixed-length bit string, bytes in little-endian order (Debezium's `Bits`).
    Bits {
        /// Declared length in bits.
        length: u32,
    },
    /// A set of labels (MySQL `SET`), value comma-separated.
    EnumSet {
        /// The allowed labels, comma-separated, in declaration order.
        allowed: String,
    },
    /// A duration in microseconds (months count 365.25/12 days).
    Interval,
    /// RFC 4122 UUID in its text form.
    Uuid,
    /// JSON document in its text form.
    Json,
    /// One of a fixed set of labels (`allowed` comma-separated, in declaration order).
    Enum {
        /// The labels, comma-separated.
        allowed: String,
    },
    /// Array of an element type (elements are always nullable).
    Array(Box<ColumnType>),
    /// A string with a Debezium semantic name (`io.debezium.data.Xml`, `…Tsvector`, `…Ltree`).
    NamedString(&'static str),
    /// A geometric point: Debezium's `io.debezium.data.geometry.Point` struct.
    Point,
    /// A map of strings to optional strings (PostgreSQL `hstore`), its value a JSON object
    /// ([`Value::Json`]); Debezium's `Json` string by default, a Connect map in `map` mode.
    StringMap,
    /// Any geometry as WKB: Debezium's `io.debezium.data.geometry.Geometry` struct.
    Geometry,
    /// A type without a faithful mapping: its source text form, as a plain string.
    Text,
}

impl ColumnType {
    /// `fraction_digits` of [`ColumnType::ZonedTimestamp`] meaning "as few digits as the value
    /// needs" (trailing zeros dropped, no fraction when it is zero).
    pub const SHORTEST_FRACTION: u8 = u8::MAX;
}

/// One cell of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// Boolean.
    Bool(bool),
    /// Any integer that fits in i64.
    Int(i64),
    /// Single-precision float (kept as f32 so it prints like the source wrote it).
    Float32(f32),
    /// Double-precision float.
    Float64(f64),
    /// Exact decimal: `unscaled` is a base-10 integer string with an optional leading `-`,
    /// the value is `unscaled × 10^-scale`.
    Decimal {
        /// Digits of the unscaled integer, optionally prefixed by `-`.
        unscaled: String,
        /// Power of ten to divide by.
        scale: u32,
    },
    /// Text.
    String(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since midnight UTC (zoned time normalised to UTC).
    ZonedTime(i64),
    /// Microseconds since 1970-01-01T00:00:00 (wall clock read as UTC, or an instant).
    Timestamp(i64),
    /// A duration: in microseconds (months counted as 365.25/12 days), and as its calendar
    /// parts (years, months, days, hours, minutes, microseconds of the seconds part), which
    /// Debezium's `interval.handling.mode=string` writes.
    Interval {
        /// The whole duration in microseconds (saturated).
        micros: i64,
        /// Years, months, days, hours, minutes, second-microseconds, as the source stated them.
        parts: [i64; 6],
    },
    /// JSON text.
    Json(String),
    /// Array elements.
    Array(Vec<Value>),
    /// A geometry as well-known binary, with its SRID when not 0.
    Geometry {
        /// WKB.
        wkb: Vec<u8>,
        /// Spatial reference id.
        srid: Option<i32>,
    },
    /// A geometric point.
    Point {
        /// X coordinate.
        x: f64,
        /// Y coordinate.
        y: f64,
        /// Spatial reference id (MySQL's `POINT SRID n`); `None` for 0 or none.
        srid: Option<i32>,
    },
    /// The source did not send this value (e.g. an unchanged TOASTed PostgreSQL column).
    Unavailable,
}

impl Value {
    /// Rough in-memory size, used to bound batches by bytes.
    pub fn approx_size(&self) -> usize {
        match self {
            Value::String(s) | Value::Json(s) => s.len() + 24,
            Value::Decimal { unscaled, .. } => unscaled.len() + 32,
            Value::Bytes(b) => b.len() + 24,
            Value::Array(a) => a.iter().map(Value::approx_size).sum::<usize>() + 24,
            _ => 16,
        }
    }
}
