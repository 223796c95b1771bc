//! MySQL/MariaDB incremental snapshots with read-only watermarks: sluice writes nothing to
//! the database, so they work on a replica and with a read-only user.
//!
//! ```text
//! reader task (own connection), per chunk:
//!   MariaDB: START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY
//!            SHOW STATUS LIKE 'binlog_snapshot_%'  ─► P: the read saw exactly the
//!                                                     transactions ending at or before P
//!   MySQL:   SELECT @@global.gtid_executed         ─► L: committed in the engine, so seen
//!            START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY
//!   SELECT … WHERE key > last ORDER BY key LIMIT n
//!   high watermark: MariaDB P; MySQL the binlog position after the read
//! stream (the shared runner, source/incremental/runner.rs):
//!   every committed transaction not seen by the read ─► its keys leave the chunk
//!   stream at or past the high watermark ─► the rest is emitted as op "r"
//! ```
//! Why MySQL needs GTIDs: a MySQL transaction is in the binlog (and may be streamed) before
//! it is visible to reads, so a binlog position cannot tell what a read saw; a GTID enters
//! `gtid_executed` only after the engine committed it. MySQL without GTIDs cannot snapshot
//! incrementally read-only (Debezium's read-only mode needs them too): the table's snapshot
//! is dropped with a warning that says so.
//!
//! Incremental chunk rows take the types the stream's schema history states (a column a
//! streamed statement declared `BOOL` reads as a boolean, as the stream's rows do), as
//! Debezium's incremental snapshot reads with its in-memory schema (a blocking snapshot reads
//! the catalog's, as Debezium's re-reads the table's structure): the stream publishes its
//! shapes on a `watch` channel after every DDL, and a chunk read before a DDL on its table is
//! read again after it.

use std::cmp::Ordering;
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value as MyValue};
use tokio::sync::{mpsc, watch};

use super::catalog::{self, qualified, quote_ident, ServerInfo, Table};
use super::error::MySourceError;
use super::gtid::GtidSet;
use super::history::Shapes;
use crate::event::{ChangeEvent, Op, Position, SnapshotMarker, SnapshotProgress, TableSchema};
use crate::source::incremental::{ChunkRequest, Fence, Reader};
use crate::source::keys::KeyOverrides;

/// A binlog position, ordered as the server writes (file sequence, then offset).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Coord {
    pub file: Arc<str>,
    pub pos: u64,
}

impl Ord for Coord {
    fn cmp(&self, other: &Self) -> Ordering {
        // `mysql-bin.000009` < `mysql-bin.000010` < `mysql-bin.1000000`: longer names are
        // later files (the sequence grew a digit).
        (self.file.len(), &*self.file, self.pos).cmp(&(other.file.len(), &*other.file, other.pos))
    }
}

impl PartialOrd for Coord {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A committed transaction as the stream saw it.
#[derive(Debug, Clone)]
pub(super) struct MyTxn {
    /// Where it ends (the next transaction starts).
    pub end: Coord,
    /// MySQL's `uuid:gno` (MariaDB's GTIDs are not needed: its fence is a position).
    pub gtid: Option<Arc<str>>,
}

/// What a read saw.
#[derive(Debug)]
enum Seen {
    /// MariaDB: exactly the transactions ending at or before this position.
    UpTo(Coord),
    /// MySQL: at least these (read before the snapshot; one committing meanwhile counts as
    /// unseen, which only drops a key the stream carries anyway).
    Gtids(GtidSet),
}

/// A MySQL/MariaDB chunk's fence.
#[derive(Debug)]
pub(super) struct MyFence {
    seen: Seen,
    high: Coord,
}

impl Fence for MyFence {
    type Txn = MyTxn;
    type At = Coord;
    fn sees(&self, txn: &MyTxn) -> bool {
        match &self.seen {
            Seen::UpTo(p) => &txn.end <= p,
            Seen::Gtids(set) => txn.gtid.as_deref().is_some_and(|g| set.contains(g)),
        }
    }
    fn high(&self) -> &Coord {
        &self.high
    }
    fn stamp(at: &Coord, ev: &mut ChangeEvent) {
        if let Position::Mysql { file, pos, .. } = &mut ev.position {
            *file = Arc::clone(&at.file);
            *pos = at.pos;
        }
    }
}

type ChunkRead = crate::source::incremental::ChunkRead<MyFence>;
pub(super) type Answer = crate::source::incremental::Answer<MyFence, MySourceError>;
/// The MySQL/MariaDB incremental snapshotter of one stream.
pub(super) type Runner = crate::source::incremental::Runner<MyFence, MySourceError>;

/// What the chunk reader reads with.
pub(super) struct ChunkSource {
    /// A connection of its own.
    pub conn: Conn,
    pub info: ServerInfo,
    pub keys: KeyOverrides,
    /// The stream's schema history, published after every DDL.
    pub declared: watch::Receiver<Arc<Shapes>>,
}

/// A runner reading from `source`.
pub(super) fn runner(
    connector: &str,
    source: ChunkSource,
    progress: SnapshotProgress,
    chunk_size: usize,
    telemetry: crate::telemetry::Telemetry,
) -> Runner {
    let reader = Reader::spawn(move |requests, answers| serve(source, requests, answers));
    Runner::new(connector, reader, progress, chunk_size, telemetry)
}

/// The error for a reader task that ended.
pub(super) fn reader_stopped() -> MySourceError {
    MySourceError::Precondition {
        problem: "the incremental snapshot reader stopped".into(),
        hint: "restart sluice".into(),
    }
}

/// A table's shape as last read, reused while the catalog says the same.
struct Shape {
    table: crate::event::TableId,
    columns: Vec<String>,
    key_names: Vec<String>,
    /// The stream's schema history of the table when the shape was built.
    declared: Option<Arc<crate::event::TableDdl>>,
    t: Table,
    schema: Arc<TableSchema>,
}

async fn serve(
    ChunkSource {
        mut conn,
        info,
        keys,
        declared,
    }: ChunkSource,
    mut requests: mpsc::Receiver<ChunkRequest>,
    answers: mpsc::Sender<Answer>,
) {
    let mut shape: Option<Shape> = None;
    let mut ready = false;
    while let Some(req) = requests.recv().await {
        // Taken before the read, never held across it. A blocking snapshot reads the
        // catalog's types, as Debezium's re-reads the table's structure.
        let stated = if req.blocking {
            None
        } else {
            declared.borrow().get(&req.table).cloned()
        };
        let answer = match read_chunk(
            &mut conn,
            &info,
            &keys,
            (&mut shape, stated),
            &mut ready,
            &req,
        )
        .await
        {
            Ok(read) => crate::source::incremental::Answer::Read(read),
            Err(e) => {
                // Whatever failed, the next chunk starts outside any transaction.
                let _ = conn.query_drop("ROLLBACK").await;
                match skip_reason(&e) {
                    Some(reason) => crate::source::incremental::Answer::Skip(reason),
                    None => crate::source::incremental::Answer::Failed(e),
                }
            }
        };
        if answers.send(answer).await.is_err() {
            break;
        }
    }
}

/// A failure that no retry fixes and that concerns this table alone: the table is gone, the
/// filter is not valid SQL, the user may not read it, a value does not convert. The reason
/// names the server's error code, never its text (which can quote values).
fn skip_reason(e: &MySourceError) -> Option<String> {
    match e {
        MySourceError::Precondition { problem, .. } => Some(problem.clone()),
        MySourceError::Value { .. } | MySourceError::Decode { .. } => Some(e.to_string()),
        MySourceError::Sql {
            source: mysql_async::Error::Server(s),
            ..
        } => {
            // No such table or column, syntax (a filter), ambiguous column, no privilege,
            // a filter's bad value.
            const TABLE_ALONE: &[u16] = &[
                1044, 1049, 1052, 1054, 1064, 1109, 1142, 1143, 1146, 1292, 1366, 1367,
            ];
            TABLE_ALONE
                .contains(&s.code)
                .then(|| format!("the chunk query failed with server error {}", s.code))
        }
        _ => None,
    }
}

/// A key value as text for the saved progress: typed, so it binds back exactly.
fn key_text(v: &MyValue) -> Option<String> {
    Some(match v {
        MyValue::NULL => return None,
        MyValue::Int(i) => format!("i:{i}"),
        MyValue::UInt(u) => format!("u:{u}"),
        MyValue::Float(f) => format!("f:{f}"),
        MyValue::Double(d) => format!("d:{d}"),
        MyValue::Bytes(b) => {
            let mut s = String::with_capacity(2 + b.len() * 2);
            s.push_str("b:");
            for x in b {
                s.push_str(&format!("{x:02x}"));
            }
            s
        }
        MyValue::Date(y, mo, d, h, mi, s, us) => format!("t:{y} {mo} {d} {h} {mi} {s} {us}"),
        MyValue::Time(neg, d, h, m, s, us) => format!("T:{} {d} {h} {m} {s} {us}", u8::from(*neg)),
    })
}

/// The value of a saved key text (`None`: not one sluice wrote).
fn key_value(text: &str) -> Option<MyValue> {
    let (tag, rest) = text.split_once(':')?;
    let nums = |n: usize| -> Option<Vec<u64>> {
        let v: Vec<u64> = rest
            .split(' ')
            .map(|x| x.parse().ok())
            .collect::<Option<_>>()?;
        (v.len() == n).then_some(v)
    };
    Some(match tag {
        "i" => MyValue::Int(rest.parse().ok()?),
        "u" => MyValue::UInt(rest.parse().ok()?),
        "f" => MyValue::Float(rest.parse().ok()?),
        "d" => MyValue::Double(rest.parse().ok()?),
        "b" => {
            if rest.len() % 2 != 0 {
                return None;
            }
            let bytes = (0..rest.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(rest.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()?;
            MyValue::Bytes(bytes)
        }
        "t" => {
            let v = nums(7)?;
            MyValue::Date(
                u16::try_from(v[0]).ok()?,
                u8::try_from(v[1]).ok()?,
                u8::try_from(v[2]).ok()?,
                u8::try_from(v[3]).ok()?,
                u8::try_from(v[4]).ok()?,
                u8::try_from(v[5]).ok()?,
                u32::try_from(v[6]).ok()?,
            )
        }
        "T" => {
            let v = nums(6)?;
            MyValue::Time(
                v[0] == 1,
                u32::try_from(v[1]).ok()?,
                u8::try_from(v[2]).ok()?,
                u8::try_from(v[3]).ok()?,
                u8::try_from(v[4]).ok()?,
                u32::try_from(v[5]).ok()?,
            )
        }
        _ => return None,
    })
}

/// `WHERE` text and parameters for "key after `after`" in key order: `(k1 > ?) OR (k1 = ?
/// AND k2 > ?) OR …` (MariaDB does not use an index for row-constructor comparisons).
fn after_clause(keys: &[String], after: &[MyValue]) -> (String, Vec<MyValue>) {
    let mut ors = Vec::with_capacity(keys.len());
    let mut params = Vec::new();
    for i in 0..keys.len() {
        let mut ands = Vec::with_capacity(i + 1);
        for (k, v) in keys.iter().zip(after).take(i) {
            ands.push(format!("{} = ?", quote_ident(k)));
            params.push(v.clone());
        }
        ands.push(format!("{} > ?", quote_ident(&keys[i])));
        params.push(after[i].clone());
        ors.push(format!("({})", ands.join(" AND ")));
    }
    (format!("({})", ors.join(" OR ")), params)
}

fn q(context: &'static str) -> impl FnOnce(mysql_async::Error) -> MySourceError {
    MySourceError::sql(context)
}

async fn read_chunk(
    conn: &mut Conn,
    info: &ServerInfo,
    keys: &KeyOverrides,
    (cached, stated): (&mut Option<Shape>, Option<Arc<crate::event::TableDdl>>),
    ready: &mut bool,
    req: &ChunkRequest,
) -> Result<ChunkRead, MySourceError> {
    if !*ready {
        conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .await
            .map_err(q("preparing the incremental snapshot reader"))?;
        if !info.mariadb {
            let mode: Option<String> = conn
                .query_first("SELECT @@global.gtid_mode")
                .await
                .map_err(q("reading gtid_mode"))?;
            if !mode.is_some_and(|m| m.eq_ignore_ascii_case("ON")) {
                return Err(MySourceError::Precondition {
                    problem: "MySQL incremental snapshots need gtid_mode=ON (without GTIDs a binlog position cannot tell what a read saw)".into(),
                    hint: "set gtid_mode=ON and enforce_gtid_consistency=ON on the server".into(),
                });
            }
        }
        *ready = true;
    }
    let Some((cols, key)) = catalog::table_columns(conn, &req.table, keys).await? else {
        return Err(MySourceError::Precondition {
            problem: format!("table {} does not exist (any more)", req.table),
            hint: "nothing to do: its snapshot is dropped".into(),
        });
    };
    let names: Vec<String> = catalog::names(&cols).map(str::to_string).collect();
    let same_history = |s: &Shape| match (&s.declared, &stated) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    };
    let fresh = !matches!(cached, Some(s) if s.table == req.table && s.columns == names && s.key_names == key && same_history(s));
    if fresh {
        let mut t = catalog::build_table(req.table.clone(), &cols, &key);
        if let Some(h) = &stated {
            super::binlog::declared_types(&mut t, h);
        }
        let schema = super::snapshot::read_schema(&t);
        *cached = Some(Shape {
            table: req.table.clone(),
            columns: names,
            key_names: key,
            declared: stated,
            t,
            schema,
        });
    }
    let Some(shape) = cached.as_ref() else {
        return Err(MySourceError::Precondition {
            problem: "no table shape".into(),
            hint: "report a bug".into(),
        });
    };
    let table_name = req.table.to_string();
    let keyed = !shape.key_names.is_empty();
    if !keyed && req.after.is_none() {
        tracing::warn!(table = %table_name, "table has no key: its incremental snapshot is one chunk of every row (no window filter can apply to rows without a key)");
    }
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<MyValue> = Vec::new();
    if let Some(f) = &req.filter {
        conds.push(format!("({f})"));
    }
    if let (Some(after), true) = (&req.after, keyed) {
        let values: Option<Vec<MyValue>> = after.iter().map(|t| key_value(t)).collect();
        let values = values
            .filter(|v| v.len() == shape.key_names.len())
            .ok_or_else(|| MySourceError::Precondition {
                problem: format!(
                    "the saved snapshot position of {table_name} does not fit its key (the key changed?)"
                ),
                hint: "ask for a new snapshot of the table".into(),
            })?;
        let (clause, p) = after_clause(&shape.key_names, &values);
        conds.push(clause);
        params = p;
    }
    let select: Vec<String> = shape
        .t
        .schema
        .columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect();
    let mut sql = format!(
        "SELECT {} FROM {}",
        select.join(", "),
        qualified(&req.table)
    );
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    if keyed {
        let order: Vec<String> = shape.key_names.iter().map(|k| quote_ident(k)).collect();
        sql.push_str(&format!(
            " ORDER BY {} LIMIT {}",
            order.join(", "),
            req.size
        ));
    }
    let estimate = if req.after.is_none() {
        conn.exec_first::<Option<u64>, _, _>(
            "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (&req.table.namespace, &req.table.name),
        )
        .await
        .ok()
        .flatten()
        .flatten()
    } else {
        None
    };
    // MySQL: what is committed in the engine before the read starts.
    let low = if info.mariadb {
        None
    } else {
        let text: Option<String> = conn
            .query_first("SELECT @@global.gtid_executed")
            .await
            .map_err(q("reading the chunk's low watermark"))?;
        Some(text.as_deref().and_then(GtidSet::parse).ok_or_else(|| {
            MySourceError::Precondition {
                problem: "gtid_executed could not be read as a GTID set".into(),
                hint: "report a bug with the server version".into(),
            }
        })?)
    };
    conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        .await
        .map_err(q("starting an incremental snapshot chunk"))?;
    let snapshot_at = if info.mariadb {
        let rows: Vec<(String, String)> = conn
            .query("SHOW STATUS LIKE 'binlog_snapshot_%'")
            .await
            .map_err(q("reading the chunk's binlog position"))?;
        let get = |n: &str| {
            rows.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.clone())
        };
        let file = get("binlog_snapshot_file").unwrap_or_default();
        let pos: Option<u64> = get("binlog_snapshot_position").and_then(|p| p.parse().ok());
        match (file.is_empty(), pos) {
            (false, Some(pos)) => Some(Coord {
                file: Arc::from(file.as_str()),
                pos,
            }),
            _ => {
                return Err(MySourceError::Precondition {
                    problem: "the server reports no binlog position for the chunk's snapshot"
                        .into(),
                    hint: "enable the binary log (log_bin)".into(),
                })
            }
        }
    } else {
        None
    };
    let position = Position::Mysql {
        db: Arc::from(req.table.namespace.as_str()),
        server_id: 0,
        file: Arc::from(""),
        pos: 0,
        row: 0,
        gtid: None,
    };
    let mut rows = Vec::new();
    let mut last: Option<Vec<MyValue>> = None;
    {
        let mut result = conn
            .exec_iter(sql.as_str(), params)
            .await
            .map_err(q("reading an incremental snapshot chunk"))?;
        while let Some(mut row) = result
            .next()
            .await
            .map_err(q("reading an incremental snapshot chunk"))?
        {
            if keyed {
                last = Some(
                    shape
                        .t
                        .schema
                        .key_columns
                        .iter()
                        .map(|&i| row.as_ref(i).cloned().unwrap_or(MyValue::NULL))
                        .collect(),
                );
            }
            let values =
                super::snapshot::convert_row(&shape.t, &shape.schema, &mut row, &table_name)?;
            let mut ev = ChangeEvent::new(
                Op::Read,
                Arc::clone(&shape.schema),
                None,
                Some(values),
                position.clone(),
                0,
            )
            .map_err(|e| MySourceError::Decode {
                event: "incremental snapshot row".into(),
                file: String::new(),
                pos: 0,
                reason: e.to_string(),
            })?;
            ev.snapshot = Some(SnapshotMarker::Incremental);
            rows.push(ev);
        }
    }
    let high = match &snapshot_at {
        Some(p) => p.clone(),
        None => {
            // Every transaction the read saw is in the binlog before it became visible.
            let p = super::snapshot::current_position(conn, info).await?;
            Coord {
                file: Arc::from(p.file.as_str()),
                pos: p.pos,
            }
        }
    };
    conn.query_drop("COMMIT")
        .await
        .map_err(q("ending an incremental snapshot chunk"))?;
    let last = match last {
        Some(values) => Some(
            // A NULL in a configured key column: the chunk cannot say where the next one
            // starts, so the table's snapshot is dropped (with this reason).
            values
                .iter()
                .map(key_text)
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| MySourceError::Precondition {
                    problem: format!(
                        "a row of {table_name} has a NULL in a key column; chunks cannot continue after it"
                    ),
                    hint: "give the table key_columns that are NOT NULL, or a primary key".into(),
                })?,
        ),
        None => None,
    };
    let seen = match (snapshot_at, low) {
        (Some(p), _) => Seen::UpTo(p),
        (None, Some(l)) => Seen::Gtids(l),
        (None, None) => Seen::Gtids(GtidSet::default()),
    };
    Ok(ChunkRead {
        complete: !keyed || rows.len() < req.size,
        rows,
        last,
        fence: MyFence { seen, high },
        estimate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(file: &str, pos: u64) -> Coord {
        Coord {
            file: Arc::from(file),
            pos,
        }
    }

    /// Binlog positions order by file sequence (also when it grows a digit), then offset.
    #[test]
    fn coordinates_order() {
        assert!(c("b.000001", 900) < c("b.000002", 4));
        assert!(c("b.999999", 900) < c("b.1000000", 4));
        assert!(c("b.000002", 4) < c("b.000002", 5));
        assert!(Coord::default() < c("b.000001", 4));
    }

    /// Key values survive the saved text exactly, whatever their type.
    #[test]
    fn key_texts_round_trip() {
        for v in [
            MyValue::Int(-5),
            MyValue::UInt(u64::MAX),
            MyValue::Double(0.1),
            MyValue::Float(1.5),
            MyValue::Bytes(b"a'b\0\xff".to_vec()),
            MyValue::Date(2024, 2, 29, 23, 59, 58, 123_456),
            MyValue::Time(true, 34, 1, 2, 3, 4),
        ] {
            let t = key_text(&v).expect("text");
            assert_eq!(key_value(&t), Some(v), "{t}");
        }
        assert_eq!(key_text(&MyValue::NULL), None);
        for bad in ["x", "i:x", "b:abc", "t:1 2", "q:1"] {
            assert_eq!(key_value(bad), None, "{bad}");
        }
    }

    /// Composite keys continue after the last key in key order.
    #[test]
    fn after_clauses() {
        let (sql, params) = after_clause(
            &["a".into(), "b".into()],
            &[MyValue::Int(1), MyValue::Int(2)],
        );
        assert_eq!(sql, "((`a` > ?) OR (`a` = ? AND `b` > ?))");
        assert_eq!(
            params,
            vec![MyValue::Int(1), MyValue::Int(1), MyValue::Int(2)]
        );
    }

    /// MariaDB's fence is exact; MySQL's sees what gtid_executed held before the read.
    #[test]
    fn fences() {
        let f = MyFence {
            seen: Seen::UpTo(c("b.000001", 500)),
            high: c("b.000001", 500),
        };
        let t = |file: &str, pos: u64, gtid: Option<&str>| MyTxn {
            end: c(file, pos),
            gtid: gtid.map(Arc::from),
        };
        assert!(f.sees(&t("b.000001", 500, None)));
        assert!(!f.sees(&t("b.000001", 501, None)));
        let u = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let g = MyFence {
            seen: Seen::Gtids(GtidSet::parse(&format!("{u}:1-7")).expect("set")),
            high: c("b.000001", 900),
        };
        assert!(g.sees(&t("b.000001", 100, Some(&format!("{u}:7")))));
        assert!(!g.sees(&t("b.000001", 100, Some(&format!("{u}:8")))));
        assert!(!g.sees(&t("b.000001", 100, None)));
    }
}
