//! Streamed DDL → schema-change records, as Debezium's MySQL connector writes them, and the
//! table shapes they leave behind.
//!
//! ```text
//! statement ─► ddl::statement (kind, tables, per-clause text)
//!   ├─ RENAME TABLE ─► renames in order; one record per clause (its table as the whole
//!   │                  statement left it; empty where a later clause renamed it away)
//!   ├─ ALTER … RENAME TO u ─► one record, an ALTER of u with the old shape altered
//!   ├─ DROP TABLE   ─► one record per captured table (`DROP TABLE [IF EXISTS] `db`.`t``)
//!   └─ CREATE/ALTER ─► one record: the statement applied to the last shape (as Debezium's
//!                      parser applies it), else the catalog's shape once the commit is visible
//! ```
//! Invariants: records name captured tables only (`source.table` lists every table the
//! statement names, in Debezium's order). Shapes are tracked for every table of a database
//! that holds a captured table, captured or not, so a table swapped in under a captured name
//! by an online schema-change tool (`CREATE TABLE t_new LIKE t; ALTER TABLE t_new …; RENAME
//! TABLE t TO t_old, t_new TO t`) keeps the shape its statements gave it. The catalog is read
//! only after the statement's commit is visible (`history::ddl_committed`). A catalog error
//! on a table that is not captured forgets that table's shape; it never stops the stream.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use mysql_async::Conn;

use super::ddl;
use super::error::MySourceError;
use super::history::{self, Shapes};
use crate::event::{
    Marker, Position, SchemaChange, TableChange, TableChangeKind, TableDdl, TableId,
};

/// A DDL statement read from the binlog.
pub(super) struct Streamed<'a> {
    /// The statement as logged.
    pub(super) sql: &'a str,
    /// The session's default database when it ran.
    pub(super) default_db: &'a str,
    /// The statement's position, for a record keyed by the given database.
    pub(super) at: &'a (dyn Fn(&str) -> Position + Sync),
    /// When it was written, µs since the epoch.
    pub(super) ts_us: i64,
}

/// The schema-change records of a streamed DDL statement (none when it changes no captured
/// table), with `shapes` updated to what the statement left.
pub(super) async fn records(
    conn: &mut Conn,
    mariadb: bool,
    ddl: &Streamed<'_>,
    shapes: &mut Shapes,
    captured: &HashSet<TableId>,
) -> Result<Vec<Marker>, MySourceError> {
    let Some(st) = ddl::statement(ddl.sql) else {
        return Ok(Vec::new());
    };
    // The database of each table, in order.
    let dbs: Vec<String> = st
        .tables
        .iter()
        .map(|t| t.id(ddl.default_db).namespace)
        .collect();
    let db = dbs.first().map_or(ddl.default_db, String::as_str);
    if dbs.iter().all(|d| d == db) {
        return records_in(conn, mariadb, ddl, shapes, captured, db.to_string(), &st).await;
    }
    // Tables of several databases: a record per table, in statement order, as Debezium
    // writes them.
    let mut out = Vec::new();
    for (part, db) in st.per_table().iter().zip(dbs) {
        out.extend(records_in(conn, mariadb, ddl, shapes, captured, db, part).await?);
    }
    Ok(out)
}

/// The records of a statement (or of one table of it) whose tables are all in `db`.
async fn records_in(
    conn: &mut Conn,
    mariadb: bool,
    ddl: &Streamed<'_>,
    shapes: &mut Shapes,
    captured: &HashSet<TableId>,
    db: String,
    st: &ddl::Statement,
) -> Result<Vec<Marker>, MySourceError> {
    if !captured.iter().any(|t| t.namespace == db) {
        return Ok(Vec::new());
    }
    let gtid = match (ddl.at)(&db) {
        Position::Mysql { gtid, .. } => gtid,
        _ => None,
    };
    let key = db.clone();
    let record = |ddl_text: String, changes: Vec<TableChange>, table: String| {
        Marker::SchemaChange(SchemaChange {
            table: Some(table),
            position: (ddl.at)(&key),
            database: key.clone(),
            ddl: ddl_text,
            changes,
            ts_us: ddl.ts_us,
            snapshot: false,
        })
    };
    let mut ctx = Ctx {
        conn,
        mariadb,
        gtid,
        committed: None,
        captured,
        db,
        default_db: ddl.default_db,
    };
    if !st.renamed_from.is_empty() {
        return ctx.renames(st, shapes, record).await;
    }
    if let (TableChangeKind::Alter, Some(to), Some(from)) =
        (st.kind, &st.renamed_to, st.tables.first())
    {
        let to = TableId::new(to.0.clone().unwrap_or_else(|| ctx.db.clone()), to.1.clone());
        let from = ctx.id(from);
        return ctx.alter_rename(ddl.sql, from, to, shapes, record).await;
    }
    let mut changes = Vec::new();
    for name in &st.tables {
        let id = ctx.id(name);
        let captured = ctx.captured.contains(&id);
        if (!captured && st.temporary) || (st.if_not_exists && shapes.contains_key(&id)) {
            continue;
        }
        let shape = if st.kind == TableChangeKind::Drop {
            shapes.remove(&id);
            None
        } else {
            let shape = match ctx.shape_after(ddl.sql, st, &id, captured, shapes).await {
                Ok(s) => s,
                Err(_) if !captured => {
                    tracing::debug!(table = %id, "shape of a table that is not captured not read; forgotten");
                    None
                }
                Err(e) => return Err(e),
            };
            let Some(shape) = shape else {
                shapes.remove(&id);
                continue;
            };
            let shape = Arc::new(shape);
            shapes.insert(id.clone(), Arc::clone(&shape));
            Some(shape)
        };
        if captured {
            changes.push(TableChange {
                kind: st.kind,
                table: id,
                shape,
            });
        }
    }
    if st.kind == TableChangeKind::Drop {
        let table = ddl::java_set_order(&ctx.db, &st.tables);
        return Ok(changes
            .into_iter()
            .map(|c| record(st.drop_ddl(&c.table), vec![c], table.clone()))
            .collect());
    }
    let Some(first) = changes.first() else {
        return Ok(Vec::new());
    };
    let table = first.table.name.clone();
    Ok(vec![record(ddl.sql.to_string(), changes, table)])
}

/// One statement's work: its database, and whether its commit is visible (asked at most
/// once, before the first catalog read).
struct Ctx<'a> {
    conn: &'a mut Conn,
    mariadb: bool,
    gtid: Option<Arc<str>>,
    committed: Option<bool>,
    captured: &'a HashSet<TableId>,
    /// The database whose tables this part of the statement names.
    db: String,
    /// The session's default database: where unqualified names are.
    default_db: &'a str,
}

impl Ctx<'_> {
    fn id(&self, name: &ddl::Name) -> TableId {
        name.id(self.default_db)
    }

    /// [`history::ddl_committed`], asked at most once per statement.
    async fn committed(&mut self) -> bool {
        if let Some(c) = self.committed {
            return c;
        }
        let c = history::ddl_committed(self.conn, self.gtid.as_deref(), self.mariadb).await;
        self.committed = Some(c);
        c
    }

    /// A table's shape after a `CREATE` or `ALTER`: the statement applied to the last shape
    /// (or, for `CREATE … LIKE`, the source's), as Debezium's parser does; else (no shape
    /// yet, or a clause not modelled) the catalog's shape, which may already show later
    /// statements. `None`: the table is not there. A table that is not captured is looked
    /// up once: only a captured table's `CREATE` waits for the catalog to show it.
    async fn shape_after(
        &mut self,
        sql: &str,
        st: &ddl::Statement,
        id: &TableId,
        captured: bool,
        shapes: &Shapes,
    ) -> Result<Option<TableDdl>, MySourceError> {
        let old = shapes.get(id).cloned();
        let old = old.as_deref();
        let stated = match (st.kind, old, &st.like) {
            (TableChangeKind::Alter, Some(old), _) => ddl::apply_alter(sql, old),
            (TableChangeKind::Create, _, Some((db, name))) => {
                let source = TableId::new(db.as_deref().unwrap_or(self.default_db), name.as_str());
                shapes.get(&source).map(|s| (**s).clone())
            }
            (TableChangeKind::Create, _, None) => {
                ddl::parse_create(sql, None).filter(|t| t.default_charset.is_some())
            }
            _ => None,
        };
        if stated.is_some() {
            return Ok(stated);
        }
        let seen = self.committed().await || !captured;
        if st.kind != TableChangeKind::Create {
            let new = history::describe(self.conn, id, self.mariadb).await?;
            return Ok(new.map(|new| ddl::merge(sql, new, old)));
        }
        match history::describe_created(self.conn, id, self.mariadb, seen).await? {
            Some(new) => Ok(Some(ddl::merge(sql, new, old))),
            // Gone again (a later statement dropped it): the statement itself, with the
            // database's character set, as Debezium's parser reads it.
            None => {
                let (cs, _) = history::database_defaults(self.conn, &self.db).await?;
                Ok(ddl::parse_create(sql, cs.as_deref()))
            }
        }
    }

    /// `ALTER TABLE t … RENAME TO u`: `u` takes `t`'s shape with the other clauses applied
    /// (else the catalog's); one record, an `ALTER` of `u`, when `u` is captured.
    async fn alter_rename(
        &mut self,
        sql: &str,
        from: TableId,
        to: TableId,
        shapes: &mut Shapes,
        record: impl Fn(String, Vec<TableChange>, String) -> Marker,
    ) -> Result<Vec<Marker>, MySourceError> {
        let old = shapes.remove(&from);
        let captured = self.captured.contains(&to);
        let mut shape = old.as_deref().and_then(|o| ddl::apply_alter(sql, o));
        if shape.is_none() {
            self.committed().await;
            match history::describe(self.conn, &to, self.mariadb).await {
                Ok(new) => shape = new.map(|new| ddl::merge(sql, new, old.as_deref())),
                Err(_) if !captured => {}
                Err(e) => return Err(e),
            }
        }
        let Some(shape) = shape.map(Arc::new) else {
            return Ok(Vec::new());
        };
        if self.captured.iter().any(|t| t.namespace == to.namespace) {
            shapes.insert(to.clone(), Arc::clone(&shape));
        }
        if !captured {
            return Ok(Vec::new());
        }
        let table = to.name.clone();
        let change = TableChange {
            kind: TableChangeKind::Alter,
            table: to,
            shape: Some(shape),
        };
        Ok(vec![record(sql.to_string(), vec![change], table)])
    }

    /// `RENAME TABLE`: the renames in order, each new name taking the table the old name had
    /// at that point; then one record per clause, as Debezium writes them: its table as the
    /// whole statement left it, or an empty record where a later clause renamed it away
    /// (clauses ending on a table that is not captured write none; a statement naming no
    /// captured table as a new name writes none).
    async fn renames(
        &mut self,
        st: &ddl::Statement,
        shapes: &mut Shapes,
        record: impl Fn(String, Vec<TableChange>, String) -> Marker,
    ) -> Result<Vec<Marker>, MySourceError> {
        // Ends holding the table at every new name that still has one.
        let mut moving: HashMap<TableId, Option<Arc<TableDdl>>> = HashMap::new();
        for (old, new) in st.renamed_from.iter().zip(&st.tables) {
            let old = self.id(old);
            let shape = match moving.remove(&old) {
                Some(s) => s,
                None => shapes.remove(&old),
            };
            moving.insert(self.id(new), shape);
        }
        for (id, shape) in &moving {
            let id = id.clone();
            let shape = match shape {
                Some(s) => Arc::clone(s),
                None if self.captured.contains(&id) => {
                    let seen = self.committed().await;
                    match history::describe_created(self.conn, &id, self.mariadb, seen).await? {
                        Some(s) => Arc::new(s),
                        None => continue,
                    }
                }
                None => continue,
            };
            shapes.insert(id, shape);
        }
        if !st
            .tables
            .iter()
            .any(|t| self.captured.contains(&self.id(t)))
        {
            return Ok(Vec::new());
        }
        let table = ddl::java_set_order(&self.db, &st.tables);
        let mut out = Vec::new();
        for (new, ddl) in st.tables.iter().zip(&st.rename_ddl) {
            let id = self.id(new);
            let changes = if !moving.contains_key(&id) {
                Vec::new()
            } else if let Some(shape) = shapes.get(&id).filter(|_| self.captured.contains(&id)) {
                vec![TableChange {
                    kind: TableChangeKind::Alter,
                    table: id,
                    shape: Some(Arc::clone(shape)),
                }]
            } else {
                continue;
            };
            out.push(record(ddl.clone(), changes, table.clone()));
        }
        Ok(out)
    }
}
