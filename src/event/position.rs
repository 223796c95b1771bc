//! Positions in a source's log, and the checkpoints the pipeline may acknowledge.
//!
//! A [`Position`] travels with every event (it fills Debezium's `source` block). An [`Lsn`]
//! orders PostgreSQL WAL; it prints as PostgreSQL does (`16/B374D848`). A [`Checkpoint`] is
//! what a source may acknowledge: the pipeline and the offsets store share it, so it lives
//! here on the ground floor, not in `source`.

use std::fmt;

/// A PostgreSQL log sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl Lsn {
    /// Parse PostgreSQL's `X/Y` hexadecimal form.
    pub fn parse(s: &str) -> Option<Lsn> {
        let (hi, lo) = s.trim().split_once('/')?;
        let hi = u64::from_str_radix(hi, 16).ok()?;
        let lo = u64::from_str_radix(lo, 16).ok()?;
        if hi > u32::MAX as u64 || lo > u32::MAX as u64 {
            return None;
        }
        Some(Lsn((hi << 32) | lo))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// Where an event sits in its source's log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Position {
    /// No position (tests, synthetic events).
    #[default]
    None,
    /// PostgreSQL WAL position of a change.
    Postgres {
        /// Database name (Debezium's `source.db`); shared, cloned per event.
        db: std::sync::Arc<str>,
        /// LSN of the change record (snapshot: the slot's consistent point).
        lsn: Lsn,
        /// Transaction id, when known.
        tx_id: Option<u32>,
        /// LSN of the last transaction committed before this change (`source.sequence[0]`).
        last_commit_lsn: Option<Lsn>,
    },
    /// MySQL/MariaDB binlog position of a change.
    Mysql {
        /// Database of the table (Debezium's `source.db`).
        db: std::sync::Arc<str>,
        /// Server id of the event's origin (0 for snapshot reads).
        server_id: u32,
        /// Binlog file name.
        file: std::sync::Arc<str>,
        /// Binlog position of the transaction (snapshot: the snapshot's position).
        pos: u64,
        /// Index of the row within its rows event.
        row: u32,
        /// GTID of the transaction, when the server logs one.
        gtid: Option<std::sync::Arc<str>>,
    },
}

/// An acknowledgeable source position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Checkpoint {
    /// PostgreSQL: everything up to `lsn` (a commit's end LSN) is durable.
    Postgres {
        /// The LSN up to which everything was delivered.
        lsn: Lsn,
        /// Whether the initial snapshot is complete.
        snapshot_done: bool,
        /// Captured tables and the incremental snapshots under way (absent in offsets
        /// written before incremental snapshots existed: then every configured table counts
        /// as captured).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshots: Option<std::sync::Arc<SnapshotProgress>>,
    },
    /// MySQL/MariaDB: everything before `pos` in `file` (a transaction boundary) is durable.
    Mysql {
        /// Binlog file name.
        file: String,
        /// Position in `file` where the next transaction starts.
        pos: u64,
        /// MariaDB GTID position at that point (`domain-server-seq`, comma-separated).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gtid: Option<String>,
        /// Whether the initial snapshot is complete.
        snapshot_done: bool,
        /// Captured tables and the incremental snapshots under way (as for PostgreSQL).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshots: Option<std::sync::Arc<SnapshotProgress>>,
    },
}

/// What a connector remembers about its tables' snapshots: which tables it captures (a
/// table configured later is new and gets an incremental snapshot) and the incremental
/// snapshots not finished yet, with the key of the last row delivered of each.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SnapshotProgress {
    /// The captured tables (`namespace.name`) as of this checkpoint.
    pub tables: Vec<String>,
    /// Incremental snapshots requested and not finished, in the order they run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queue: Vec<IncrementalTable>,
    /// Whether an operator paused the incremental snapshots.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// The Kafka signal topic's offset of the last signal taken (the next read starts after
    /// it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_offset: Option<i64>,
    /// In memory only: which version of the progress this is within one run (each change
    /// makes a higher one), so an acknowledged checkpoint tells which written chunks are
    /// durable. Not saved (0 when loaded).
    #[serde(skip)]
    pub generation: u64,
    /// Rows per second written of the table at the head of the queue since this process
    /// began it (for the progress display's estimate of the time left). Not saved.
    #[serde(skip)]
    pub rate: Option<u64>,
}

/// One table of an incremental snapshot and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IncrementalTable {
    /// The request's id (the signal's id, the API's answer, or `auto-…`).
    pub id: String,
    /// The table (`namespace.name`).
    pub table: String,
    /// An SQL condition rows must meet (Debezium's `additional-conditions` filter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The key of the last row delivered, as the database's text forms (none: from the
    /// start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Vec<String>>,
    /// Rows delivered so far.
    #[serde(default)]
    pub rows: u64,
    /// The catalog's estimate of the table's rows when its first chunk was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<u64>,
    /// Debezium's `type: blocking`: streaming pauses while the table is read (in physical
    /// order, with Debezium's snapshot markers).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub blocking: bool,
    /// The first table of its blocking request (its first row is `first`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub request_first: bool,
}

impl Checkpoint {
    /// A PostgreSQL checkpoint without snapshot progress.
    pub fn postgres(lsn: Lsn, snapshot_done: bool) -> Self {
        Checkpoint::Postgres {
            lsn,
            snapshot_done,
            snapshots: None,
        }
    }

    /// A MySQL/MariaDB checkpoint without snapshot progress.
    pub fn mysql(file: String, pos: u64, gtid: Option<String>, snapshot_done: bool) -> Self {
        Checkpoint::Mysql {
            file,
            pos,
            gtid,
            snapshot_done,
            snapshots: None,
        }
    }
}

impl serde::Serialize for Lsn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Lsn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Lsn::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid LSN `{s}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// LSNs round-trip through PostgreSQL's text form and reject garbage.
    #[test]
    fn lsn_text_roundtrip() {
        let l = Lsn::parse("16/B374D848").expect("valid lsn");
        assert_eq!(l.0, (0x16 << 32) | 0xB374_D848);
        assert_eq!(l.to_string(), "16/B374D848");
        assert_eq!(Lsn::parse("0/0"), Some(Lsn(0)));
        assert_eq!(Lsn::parse("zz"), None);
        assert_eq!(Lsn::parse("1/FFFFFFFFF"), None);
    }
}
