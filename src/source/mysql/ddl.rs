//! The DDL statement reader: what a streamed statement does to which tables (`statement`),
//! the column types it states, and the table shape it leaves (`parse_create`,
//! `apply_alter`, `merge` with a catalog description). A tokenizer and a clause reader, not
//! a full SQL grammar: a statement it cannot read is `None`, and the caller then asks the
//! catalog. Invariant: nothing here touches a connection or decides how rows decode.

use std::collections::HashMap;

use super::catalog::qualified;
use super::history::type_attrs;
use crate::event::{DdlColumn, TableChangeKind, TableDdl, TableId};

/// A table as a statement names it: its database as written (`None`: the session's default
/// database) and its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Name {
    pub(crate) db: Option<String>,
    pub(crate) table: String,
}

impl Name {
    /// The table, unqualified names taken to be in `default_db`.
    pub(crate) fn id(&self, default_db: &str) -> TableId {
        TableId::new(
            self.db.as_deref().unwrap_or(default_db),
            self.table.as_str(),
        )
    }
}

/// A DDL statement's effect on tables: the kind and the tables, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement {
    pub(crate) kind: TableChangeKind,
    pub(crate) tables: Vec<Name>,
    /// `RENAME TABLE`: the old name of each of `tables` (an `ALTER` of the new name, as
    /// Debezium records it, with the old table's shape).
    pub(crate) renamed_from: Vec<Name>,
    /// `DROP TABLE`: the statement's text before its table list (`DROP TABLE IF EXISTS `, as
    /// written) and the ` RESTRICT`/` CASCADE` after it. Debezium writes one record per
    /// table: this prefix, the qualified name, this suffix ([`Statement::drop_ddl`]).
    pub(crate) drop_text: (String, String),
    /// `RENAME TABLE`: each clause's record `ddl`, as Debezium writes it
    /// (`RENAME TABLE db.a TO db.b` for each `db.a TO db.b` of the statement).
    pub(crate) rename_ddl: Vec<String>,
    /// `CREATE TABLE t LIKE src` (or `(LIKE src)`): the source table (database as written).
    pub(crate) like: Option<(Option<String>, String)>,
    /// `CREATE`/`DROP TEMPORARY TABLE` (not in the catalog).
    pub(crate) temporary: bool,
    /// `CREATE TABLE IF NOT EXISTS` (a table that exists is left as it is).
    pub(crate) if_not_exists: bool,
    /// `ALTER TABLE t … RENAME [TO|AS] u`: the new name (database as written).
    pub(crate) renamed_to: Option<(Option<String>, String)>,
}

impl Statement {
    /// The statement split into one statement per table (with its rename clause), in the
    /// order written. Debezium writes a statement that names tables of several databases
    /// that way: a record per table, in statement order, each naming only its own table
    /// (recorded cases `maria_two_dbs`, `mysql8_two_dbs`).
    pub(crate) fn per_table(&self) -> Vec<Statement> {
        (0..self.tables.len())
            .map(|i| {
                let mut one = self.clone();
                one.tables = self.tables[i..=i].to_vec();
                one.renamed_from = self.renamed_from.get(i).cloned().into_iter().collect();
                one.rename_ddl = self.rename_ddl.get(i).cloned().into_iter().collect();
                one
            })
            .collect()
    }

    /// The `ddl` of the record for one table of a `DROP TABLE` (Debezium's form:
    /// ``DROP TABLE IF EXISTS `db`.`t` `` for any number of tables, without the server's
    /// comments).
    pub(crate) fn drop_ddl(&self, table: &TableId) -> String {
        format!(
            "{}{}{}",
            self.drop_text.0,
            qualified(table),
            self.drop_text.1
        )
    }
}

/// The `source.table` of a streamed schema-change record: the names of all tables the
/// statement names in the database (captured or not), in the order Debezium's MySQL
/// connector lists them. It collects them in a `java.util.HashSet` of table ids
/// (`db.table`), whose order is that of the hash buckets: Java's `String.hashCode` of the
/// id, spread as `HashMap` does, masked by the table size (16, doubled past 3/4 full);
/// ties in insertion order.
pub(crate) fn java_set_order(database: &str, tables: &[Name]) -> String {
    let mut unique: Vec<(&str, u32)> = Vec::new();
    for t in tables.iter().map(|n| n.table.as_str()) {
        if unique.iter().any(|(u, _)| *u == t) {
            continue;
        }
        let id = format!("{database}.{t}");
        let h = id
            .encode_utf16()
            .fold(0u32, |h, c| h.wrapping_mul(31).wrapping_add(u32::from(c)));
        unique.push((t, h ^ (h >> 16)));
    }
    let mut capacity = 16u32;
    while unique.len() as u64 * 4 > u64::from(capacity) * 3 {
        capacity *= 2;
    }
    // Stable: equal buckets keep insertion order.
    unique.sort_by_key(|(_, h)| h & (capacity - 1));
    unique.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(",")
}

/// Strip backquotes from an identifier.
fn ident(s: &str) -> String {
    let s = s.trim();
    match s.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        Some(inner) => inner.replace("``", "`"),
        None => s.to_string(),
    }
}

/// Words of a statement outside quotes and comments, identifiers kept whole (backquotes
/// included), punctuation as single-character words.
fn tokens(sql: &str) -> Vec<String> {
    spanned_tokens(sql).into_iter().map(|(_, w)| w).collect()
}

/// [`tokens`], each with the byte offset where it starts in `sql`.
fn spanned_tokens(sql: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let b: Vec<char> = sql.chars().collect();
    let at: Vec<usize> = sql.char_indices().map(|(o, _)| o).collect();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && b.get(i + 1) == Some(&'*') {
            i += 2;
            while i < b.len() && !(b[i] == '*' && b.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if c == '`' || c == '\'' || c == '"' {
            let start = i;
            i += 1;
            while i < b.len() {
                if b[i] == c {
                    if b.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                if b[i] == '\\' && c != '`' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(b.len());
            out.push((at[start], b[start..i].iter().collect()));
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let start = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_' || b[i] == '$') {
                i += 1;
            }
            out.push((at[start], b[start..i].iter().collect()));
        } else {
            out.push((at[i], c.to_string()));
            i += 1;
        }
    }
    out
}

/// A table name at `t[i..]` (`db`.`t` or `t`): (database, table, tokens used).
fn table_name(t: &[String], i: usize) -> Option<(Option<String>, String, usize)> {
    let first = t.get(i)?;
    if t.get(i + 1).map(String::as_str) == Some(".") {
        let second = t.get(i + 2)?;
        Some((Some(ident(first)), ident(second), 3))
    } else {
        Some((None, ident(first), 1))
    }
}

fn is(t: &[String], i: usize, word: &str) -> bool {
    t.get(i).is_some_and(|w| w.eq_ignore_ascii_case(word))
}

/// What a DDL statement does to tables: `ALTER TABLE`, `CREATE TABLE`, `DROP TABLE`,
/// `RENAME TABLE` (an `ALTER` of the new name); other statements (indexes, views, routines,
/// `TRUNCATE`) write no record, as in Debezium's recordings.
pub(crate) fn statement(sql: &str) -> Option<Statement> {
    let spanned = spanned_tokens(sql);
    let t: Vec<String> = spanned.iter().map(|(_, w)| w.clone()).collect();
    if is(&t, 0, "RENAME") && is(&t, 1, "TABLE") {
        return rename(sql, &spanned, &t);
    }
    let mut i = 0;
    let kind = if is(&t, 0, "ALTER") {
        TableChangeKind::Alter
    } else if is(&t, 0, "CREATE") {
        TableChangeKind::Create
    } else if is(&t, 0, "DROP") {
        TableChangeKind::Drop
    } else {
        return None;
    };
    i += 1;
    let mut temporary = false;
    while ["ONLINE", "IGNORE", "OR", "REPLACE", "TEMPORARY"]
        .iter()
        .any(|w| is(&t, i, w))
    {
        temporary |= is(&t, i, "TEMPORARY");
        i += 1;
    }
    if !is(&t, i, "TABLE") {
        return None;
    }
    i += 1;
    let if_not_exists = is(&t, i, "IF") && is(&t, i + 1, "NOT");
    if is(&t, i, "IF") {
        i += if is(&t, i + 1, "NOT") { 3 } else { 2 };
    }
    let mut tables = Vec::new();
    let list_start = spanned.get(i).map_or(sql.len(), |(o, _)| *o);
    let prefix = sql
        .get(spanned.first().map_or(0, |(o, _)| *o)..list_start)
        .unwrap_or_default()
        .to_string();
    loop {
        let (db, table, used) = table_name(&t, i)?;
        tables.push(Name { db, table });
        i += used;
        if kind == TableChangeKind::Drop && t.get(i).map(String::as_str) == Some(",") {
            i += 1;
            continue;
        }
        break;
    }
    let like = match (kind, t.get(i).map(String::as_str)) {
        (TableChangeKind::Create, Some("(")) if is(&t, i + 1, "LIKE") => table_name(&t, i + 2),
        (TableChangeKind::Create, _) if is(&t, i, "LIKE") => table_name(&t, i + 1),
        _ => None,
    }
    .map(|(db, name, _)| (db, name));
    let suffix = match t.get(i) {
        Some(w)
            if kind == TableChangeKind::Drop && (is(&t, i, "RESTRICT") || is(&t, i, "CASCADE")) =>
        {
            format!(" {w}")
        }
        _ => String::new(),
    };
    Some(Statement {
        kind,
        tables,
        renamed_from: Vec::new(),
        drop_text: (prefix, suffix),
        rename_ddl: Vec::new(),
        like,
        temporary,
        if_not_exists,
        renamed_to: (kind == TableChangeKind::Alter)
            .then(|| alter_renamed_to(&t))
            .flatten(),
    })
}

/// `RENAME TABLE a TO b[, c TO d]`. Each clause's `ddl` is Debezium's: the statement's text
/// before its first clause and the clause as written.
fn rename(sql: &str, spanned: &[(usize, String)], t: &[String]) -> Option<Statement> {
    let mut i = 2;
    let (mut tables, mut renamed_from, mut clauses) = (Vec::new(), Vec::new(), Vec::new());
    let start = |i: usize| spanned.get(i).map_or(sql.len(), |(o, _)| *o);
    let prefix = sql.get(start(0)..start(2)).unwrap_or_default();
    loop {
        let clause_start = start(i);
        let (old_db, old, used) = table_name(t, i)?;
        i += used;
        if !is(t, i, "TO") {
            return None;
        }
        let (db, new, used) = table_name(t, i + 1)?;
        i += used + 1;
        let clause_end = spanned.get(i - 1).map_or(sql.len(), |(o, w)| o + w.len());
        tables.push(Name { db, table: new });
        renamed_from.push(Name {
            db: old_db,
            table: old,
        });
        clauses.push(format!(
            "{prefix}{}",
            sql.get(clause_start..clause_end).unwrap_or_default()
        ));
        if t.get(i).map(String::as_str) != Some(",") {
            break;
        }
        i += 1;
    }
    Some(Statement {
        kind: TableChangeKind::Alter,
        tables,
        renamed_from,
        drop_text: Default::default(),
        rename_ddl: clauses,
        like: None,
        temporary: false,
        if_not_exists: false,
        renamed_to: None,
    })
}

/// The new name an `ALTER TABLE` gives its table (`RENAME [TO|AS] u`, among its clauses).
fn alter_renamed_to(t: &[String]) -> Option<(Option<String>, String)> {
    clauses(t, alter_body_start(t), false)
        .into_iter()
        .find_map(|cl| {
            if !is(cl, 0, "RENAME") || ["COLUMN", "INDEX", "KEY"].iter().any(|w| is(cl, 1, w)) {
                return None;
            }
            let at = if is(cl, 1, "TO") || is(cl, 1, "AS") {
                2
            } else {
                1
            };
            table_name(cl, at).map(|(db, name, _)| (db, name))
        })
}

/// A default that is the current time (`CURRENT_TIMESTAMP`, `NOW()`, with or without a
/// precision) is written as the epoch, as Debezium writes it; others as they are.
pub(super) fn time_default(expr: String) -> String {
    let head = expr
        .split('(')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    if matches!(
        head.as_str(),
        "CURRENT_TIMESTAMP" | "NOW" | "LOCALTIME" | "LOCALTIMESTAMP"
    ) {
        "1970-01-01 00:00:00".to_string()
    } else {
        expr
    }
}

/// The column type texts a statement states, by column name (lower case): the definitions
/// of `ADD`, `MODIFY` and `CHANGE` clauses of an `ALTER TABLE`, or every column of a `CREATE
/// TABLE`.
pub(crate) fn stated_types(sql: &str) -> HashMap<String, String> {
    const NOT_COLUMNS: &[&str] = &[
        "INDEX",
        "KEY",
        "PRIMARY",
        "UNIQUE",
        "CONSTRAINT",
        "FOREIGN",
        "FULLTEXT",
        "SPATIAL",
        "CHECK",
        "PARTITION",
        "PERIOD",
        "SYSTEM",
        "LIKE",
    ];
    let t = tokens(sql);
    let defs: Vec<&[String]> = if is(&t, 0, "CREATE") {
        match t.iter().position(|w| w == "(") {
            Some(open) => clauses(&t, open + 1, true),
            None => Vec::new(),
        }
    } else if statement(sql).is_some() {
        clauses(&t, alter_body_start(&t), false)
            .into_iter()
            .filter_map(|cl| {
                // ADD|MODIFY [COLUMN] [IF [NOT] EXISTS] name …, CHANGE … old new ….
                let names = if is(cl, 0, "ADD") || is(cl, 0, "MODIFY") {
                    1
                } else if is(cl, 0, "CHANGE") {
                    2
                } else {
                    return None;
                };
                let mut k = 1;
                if is(cl, k, "COLUMN") {
                    k += 1;
                }
                if is(cl, k, "IF") {
                    k += if is(cl, k + 1, "NOT") { 3 } else { 2 };
                }
                cl.get(k + names - 1..)
            })
            .collect()
    } else {
        Vec::new()
    };
    defs.into_iter()
        .filter(|d| {
            d.first().is_some_and(|n| {
                n.starts_with('`')
                    || !(NOT_COLUMNS.iter().any(|w| n.eq_ignore_ascii_case(w))
                        || ["(", ",", ")"].contains(&n.as_str()))
            })
        })
        .filter_map(|d| name_and_type(d).map(|(name, text, _)| (name.to_lowercase(), text)))
        .collect()
}

/// The name and the type text (`decimal(8,2) unsigned`) of a column definition at `t[0..]`,
/// and the index of the token after the type.
fn name_and_type(t: &[String]) -> Option<(String, String, usize)> {
    let name = ident(t.first()?);
    let mut text = t.get(1)?.clone();
    let mut i = 2;
    if t.get(i).map(String::as_str) == Some("(") {
        text.push('(');
        i += 1;
        loop {
            let w = t.get(i)?;
            i += 1;
            if w == ")" {
                break;
            }
            text.push_str(w);
        }
        text.push(')');
    }
    // `double precision`, `national varchar`: not modelled.
    while let Some(w) = t.get(i) {
        if ["UNSIGNED", "SIGNED", "ZEROFILL"]
            .iter()
            .any(|k| w.eq_ignore_ascii_case(k))
        {
            text.push(' ');
            text.push_str(&w.to_ascii_lowercase());
            i += 1;
        } else {
            break;
        }
    }
    Some((name, text, i))
}

/// The index of the first clause of `ALTER [ONLINE|IGNORE] TABLE [IF EXISTS] name …`.
fn alter_body_start(t: &[String]) -> usize {
    let mut i = 1;
    while i < t.len() && !is(t, i, "TABLE") {
        i += 1;
    }
    i += 1;
    if is(t, i, "IF") {
        i += 2;
    }
    i + if t.get(i + 1).map(String::as_str) == Some(".") {
        3
    } else {
        1
    }
}

/// The shape to write after a streamed statement: the catalog's, with the lengths and
/// scales of the columns the statement states taken from its text, and those of untouched
/// columns (same name and type) kept from the last record.
pub(crate) fn merge(sql: &str, mut new: TableDdl, old: Option<&TableDdl>) -> TableDdl {
    let stated = stated_types(sql);
    for c in &mut new.columns {
        if let Some(text) = stated.get(&c.name.to_lowercase()) {
            let a = type_attrs(text);
            if a.jdbc_type == c.jdbc_type {
                c.length = a.length;
                c.scale = a.scale;
            } else if a.jdbc_type == 16 && c.type_name == "TINYINT" {
                // Stated BOOL/BOOLEAN, which the catalog shows as tinyint(1).
                c.jdbc_type = a.jdbc_type;
                c.type_name = a.type_name;
                c.length = None;
                c.scale = None;
            }
        } else if let Some(prev) = old.and_then(|o| {
            // The same column, unchanged: the same server type, or (a shape parsed from a
            // statement says `int` where MariaDB's catalog says `int(11)`) the same type.
            o.columns.iter().find(|p| {
                p.name == c.name
                    && (p.column_type == c.column_type
                        || (p.jdbc_type == c.jdbc_type && p.type_name == c.type_name))
            })
        }) {
            c.length = prev.length;
            c.scale = prev.scale;
        }
    }
    new
}

/// A column definition at `t[0..]` (`name type [attributes]`), and where it goes (`FIRST`,
/// `AFTER x`); `None` when it is not understood.
fn column_def(t: &[String], table_charset: Option<&str>) -> Option<(DdlColumn, Place, bool)> {
    let base = t.get(1)?;
    if !base.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let (name, text, mut i) = name_and_type(t)?;
    let attrs = type_attrs(&text);
    if attrs.jdbc_type == 1111
        && attrs.type_name != "JSON"
        && !GEOMETRY.contains(&attrs.type_name.as_str())
    {
        return None;
    }
    let mut c = DdlColumn {
        name,
        jdbc_type: attrs.jdbc_type,
        type_name: attrs.type_name,
        length: attrs.length,
        scale: attrs.scale,
        optional: true,
        enum_values: attrs.enum_values,
        column_type: text,
        ..DdlColumn::default()
    };
    let mut place = Place::Keep;
    let mut primary = false;
    let mut charset: Option<String> = None;
    // Skip a parenthesised group starting at `t[i]`; the index after it.
    let skip_group = |mut i: usize| -> Option<usize> {
        if t.get(i).map(String::as_str) != Some("(") {
            return Some(i);
        }
        let mut depth = 0;
        loop {
            match t.get(i)?.as_str() {
                "(" => depth += 1,
                ")" => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
            i += 1;
        }
    };
    while let Some(w) = t.get(i) {
        let u = w.to_ascii_uppercase();
        i += 1;
        match u.as_str() {
            "NOT" if is(t, i, "NULL") => {
                c.optional = false;
                i += 1;
            }
            "NULL" => c.optional = true,
            "DEFAULT" => {
                let v = t.get(i)?;
                i += 1;
                let bits = t
                    .get(i)
                    .filter(|_| v.eq_ignore_ascii_case("b"))
                    .and_then(|n| n.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')));
                c.default = if v.eq_ignore_ascii_case("NULL") {
                    None
                } else if let Some(bits) = bits {
                    // A BIT literal (`b'1'`) is its digits, as Debezium writes it.
                    i += 1;
                    Some(bits.to_string())
                } else if let Some(inner) = v.strip_prefix('\'').and_then(|r| r.strip_suffix('\''))
                {
                    // As written between the quotes: Debezium's parser keeps a doubled
                    // quote doubled (`'it''s'` is `it''s`, recorded `*_ddl_defaults`).
                    Some(inner.to_string())
                } else if v == "(" {
                    // An expression default (`(uuid())`): none, as Debezium's parser has it.
                    i = skip_group(i - 1)?;
                    None
                } else if v == "-" || v == "+" {
                    let mut n = t.get(i)?.clone();
                    i += 1;
                    if t.get(i).map(String::as_str) == Some(".") {
                        n.push('.');
                        n.push_str(t.get(i + 1)?);
                        i += 2;
                    }
                    Some(format!("{}{n}", if v == "-" { "-" } else { "" }))
                } else {
                    let mut expr = v.clone();
                    if t.get(i).map(String::as_str) == Some("(") {
                        let end = skip_group(i)?;
                        expr.push_str(&t[i..end].concat());
                        i = end;
                    } else if t.get(i).map(String::as_str) == Some(".") {
                        // A decimal written `1.50` tokenizes as `1` `.` `50`.
                        expr.push('.');
                        expr.push_str(t.get(i + 1)?);
                        i += 2;
                    }
                    Some(time_default(expr))
                };
            }
            "AUTO_INCREMENT" => {
                c.auto_incremented = true;
                c.generated = true;
            }
            "CHARACTER" if is(t, i, "SET") => {
                charset = Some(ident(t.get(i + 1)?));
                i += 2;
            }
            "CHARSET" => {
                charset = Some(ident(t.get(i)?));
                i += 1;
            }
            "COLLATE" => {
                let coll = ident(t.get(i)?);
                i += 1;
                if charset.is_none() {
                    charset = coll.split('_').next().map(str::to_string);
                }
            }
            "PRIMARY" if is(t, i, "KEY") => {
                primary = true;
                c.optional = false;
                i += 1;
            }
            "KEY" => primary = true,
            "UNIQUE" => {
                if is(t, i, "KEY") {
                    i += 1;
                }
            }
            "COMMENT" => i += 1,
            "GENERATED" if is(t, i, "ALWAYS") => i += 1,
            // A generated column: Debezium does not mark it `generated`.
            "AS" => i = skip_group(i)?,
            "CHECK" => i = skip_group(i)?,
            "ON" if is(t, i, "UPDATE") => {
                // ON UPDATE CURRENT_TIMESTAMP[(n)]: Debezium marks the column both.
                c.auto_incremented = true;
                c.generated = true;
                i += 2;
                i = skip_group(i)?;
            }
            "FIRST" => place = Place::First,
            "AFTER" => {
                place = Place::After(ident(t.get(i)?));
                i += 1;
            }
            "VIRTUAL" | "STORED" | "PERSISTENT" | "INVISIBLE" | "BINARY" | "ASCII" | "UNICODE"
            | "ZEROFILL" | "UNSIGNED" | "SIGNED" => {}
            _ => return None,
        }
    }
    if matches!(c.jdbc_type, 1 | 12) {
        c.charset = charset.or_else(|| table_charset.map(str::to_string));
    }
    Some((c, place, primary))
}

/// Spatial type names Debezium keeps as `OTHER` (1111).
const GEOMETRY: &[&str] = &[
    "GEOMETRY",
    "POINT",
    "LINESTRING",
    "POLYGON",
    "MULTIPOINT",
    "MULTILINESTRING",
    "MULTIPOLYGON",
    "GEOMETRYCOLLECTION",
];

/// Where an added or modified column goes.
#[derive(Debug, Clone, PartialEq)]
enum Place {
    Keep,
    First,
    After(String),
}

fn place_column(cols: &mut Vec<DdlColumn>, c: DdlColumn, place: Place, at: Option<usize>) {
    let i = match place {
        Place::First => 0,
        Place::After(name) => cols
            .iter()
            .position(|p| p.name.eq_ignore_ascii_case(&name))
            .map_or(cols.len(), |p| p + 1),
        Place::Keep => at.unwrap_or(cols.len()).min(cols.len()),
    };
    cols.insert(i, c);
}

/// The clauses of a statement: token ranges split at top-level commas, from `start`.
fn clauses(t: &[String], start: usize, inner: bool) -> Vec<&[String]> {
    let mut out = Vec::new();
    let base = i32::from(inner);
    let mut depth = base;
    let mut from = start;
    for (i, w) in t.iter().enumerate().skip(start) {
        match w.as_str() {
            "(" => depth += 1,
            ")" => {
                depth -= 1;
                if inner && depth == 0 {
                    out.push(&t[from..i]);
                    return out;
                }
            }
            "," if depth == base => {
                out.push(&t[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    if !inner && from < t.len() {
        out.push(&t[from..]);
    }
    out
}

fn names_in_group(t: &[String]) -> Option<Vec<String>> {
    let open = t.iter().position(|w| w == "(")?;
    let close = t.iter().position(|w| w == ")")?;
    Some(
        t.get(open + 1..close)?
            .iter()
            .filter(|w| *w != ",")
            .map(|w| ident(w))
            .collect(),
    )
}

fn renumber(cols: &mut [DdlColumn]) {
    for (i, c) in cols.iter_mut().enumerate() {
        c.position = i as i32 + 1;
    }
}

/// `old` with an `ALTER TABLE` statement applied, as Debezium's DDL parser applies it;
/// `None` when a clause is not understood (the caller then reads the catalog).
pub(crate) fn apply_alter(sql: &str, old: &TableDdl) -> Option<TableDdl> {
    let t = tokens(sql);
    let i = alter_body_start(&t);
    let mut new = old.clone();
    let charset = new.default_charset.clone();
    let find = |cols: &[DdlColumn], name: &str| {
        cols.iter()
            .position(|c| c.name.eq_ignore_ascii_case(&ident(name)))
    };
    for cl in clauses(&t, i, false) {
        let w = |k: usize| {
            cl.get(k)
                .map(|s| s.to_ascii_uppercase())
                .unwrap_or_default()
        };
        let mut k = 1;
        match w(0).as_str() {
            "ADD" => {
                if w(1) == "COLUMN" {
                    k += 1;
                }
                if w(k) == "IF" {
                    k += 3;
                }
                match w(k).as_str() {
                    "PRIMARY" => new.primary_key = names_in_group(cl)?,
                    "CONSTRAINT" if cl.iter().any(|x| x.eq_ignore_ascii_case("PRIMARY")) => {
                        new.primary_key = names_in_group(cl)?
                    }
                    "INDEX" | "KEY" | "UNIQUE" | "FULLTEXT" | "SPATIAL" | "CONSTRAINT"
                    | "FOREIGN" | "CHECK" | "PERIOD" | "SYSTEM"
                        if !cl[k].starts_with('`') => {}
                    "(" => return None,
                    _ => {
                        let (c, place, primary) = column_def(&cl[k..], charset.as_deref())?;
                        if primary {
                            new.primary_key = vec![c.name.clone()];
                        }
                        place_column(&mut new.columns, c, place, None);
                    }
                }
            }
            "MODIFY" | "CHANGE" => {
                if w(1) == "COLUMN" {
                    k += 1;
                }
                if w(k) == "IF" {
                    k += 2;
                }
                let old_name = if w(0) == "CHANGE" {
                    k += 1;
                    ident(&cl[k - 1])
                } else {
                    ident(cl.get(k)?)
                };
                let at = find(&new.columns, &old_name)?;
                let (c, place, primary) = column_def(&cl[k..], charset.as_deref())?;
                new.columns.remove(at);
                for p in &mut new.primary_key {
                    if p.eq_ignore_ascii_case(&old_name) {
                        *p = c.name.clone();
                    }
                }
                if primary {
                    new.primary_key = vec![c.name.clone()];
                }
                place_column(&mut new.columns, c, place, Some(at));
            }
            "DROP" => match w(1).as_str() {
                "PRIMARY" => new.primary_key.clear(),
                "INDEX" | "KEY" | "FOREIGN" | "CONSTRAINT" | "CHECK" | "PARTITION" => {}
                _ => {
                    if w(1) == "COLUMN" {
                        k += 1;
                    }
                    if w(k) == "IF" {
                        k += 2;
                    }
                    let at = find(&new.columns, cl.get(k)?)?;
                    let gone = new.columns.remove(at);
                    new.primary_key
                        .retain(|p| !p.eq_ignore_ascii_case(&gone.name));
                }
            },
            "RENAME" if w(1) == "COLUMN" => {
                let at = find(&new.columns, cl.get(2)?)?;
                if w(3) != "TO" {
                    return None;
                }
                let to = ident(cl.get(4)?);
                let from = std::mem::replace(&mut new.columns[at].name, to.clone());
                for p in &mut new.primary_key {
                    if p.eq_ignore_ascii_case(&from) {
                        *p = to.clone();
                    }
                }
            }
            // RENAME INDEX/KEY, and the table's own new name (the caller moves the shape).
            "RENAME" => {}
            "ALTER" => {
                if w(1) == "COLUMN" {
                    k += 1;
                }
                let at = find(&new.columns, cl.get(k)?)?;
                match (w(k + 1).as_str(), w(k + 2).as_str()) {
                    ("SET", "DEFAULT") => {
                        let v = cl.get(k + 3)?;
                        new.columns[at].default =
                            match v.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
                                Some(inner) => Some(inner.to_string()),
                                None if v.eq_ignore_ascii_case("NULL") => None,
                                None => Some(cl[k + 3..].concat()),
                            };
                    }
                    ("DROP", "DEFAULT") => new.columns[at].default = None,
                    _ => return None,
                }
            }
            "ENGINE" | "COMMENT" | "ALGORITHM" | "LOCK" | "FORCE" | "ROW_FORMAT"
            | "AUTO_INCREMENT" | "KEY_BLOCK_SIZE" => {}
            // A table option changing the default character set: Debezium's record keeps
            // the table's charset as it was (recorded on MariaDB and MySQL 8).
            "DEFAULT" | "CHARACTER" | "CHARSET" | "COLLATE" => {}
            // CONVERT TO CHARACTER SET x: the table and every character column take x.
            "CONVERT" if w(1) == "TO" => {
                let p = cl.iter().position(|x| {
                    x.eq_ignore_ascii_case("SET") || x.eq_ignore_ascii_case("CHARSET")
                })?;
                let mut cs = cl.get(p + 1)?;
                if cs == "=" {
                    cs = cl.get(p + 2)?;
                }
                let cs = ident(cs);
                if cs.eq_ignore_ascii_case("DEFAULT") {
                    return None;
                }
                for c in new.columns.iter_mut().filter(|c| c.charset.is_some()) {
                    c.charset = Some(cs.clone());
                }
                new.default_charset = Some(cs);
            }
            _ => return None,
        }
    }
    // Primary-key columns are never optional (Debezium's table editor makes them so).
    for c in &mut new.columns {
        if new
            .primary_key
            .iter()
            .any(|p| p.eq_ignore_ascii_case(&c.name))
        {
            c.optional = false;
        }
    }
    renumber(&mut new.columns);
    Some(new)
}

/// The shape a `CREATE TABLE` statement states; `None` when it is not understood.
pub(crate) fn parse_create(sql: &str, database_charset: Option<&str>) -> Option<TableDdl> {
    let t = tokens(sql);
    let open = t.iter().position(|w| w == "(")?;
    // Table options after the body: DEFAULT CHARSET=x / CHARACTER SET x.
    let mut depth = 0;
    let mut close = open;
    for (i, w) in t.iter().enumerate().skip(open) {
        match w.as_str() {
            "(" => depth += 1,
            ")" => {
                depth -= 1;
                if depth == 0 {
                    close = i;
                    break;
                }
            }
            _ => {}
        }
    }
    let opts = &t[close..];
    let charset = opts
        .iter()
        .position(|w| w.eq_ignore_ascii_case("CHARSET") || w.eq_ignore_ascii_case("SET"))
        .and_then(|p| {
            let v = opts.get(p + 1)?;
            if v == "=" {
                opts.get(p + 2)
            } else {
                Some(v)
            }
        })
        .map(|v| ident(v))
        .or_else(|| database_charset.map(str::to_string));
    let mut new = TableDdl {
        default_charset: charset.clone(),
        ..TableDdl::default()
    };
    for cl in clauses(&t, open + 1, true) {
        let head = cl.first()?.to_ascii_uppercase();
        let quoted = cl[0].starts_with('`');
        match head.as_str() {
            "PRIMARY" if !quoted => new.primary_key = names_in_group(cl)?,
            "CONSTRAINT" if !quoted && cl.iter().any(|x| x.eq_ignore_ascii_case("PRIMARY")) => {
                new.primary_key = names_in_group(cl)?
            }
            "INDEX" | "KEY" | "UNIQUE" | "FULLTEXT" | "SPATIAL" | "CONSTRAINT" | "FOREIGN"
            | "CHECK" | "PERIOD"
                if !quoted => {}
            _ => {
                let (c, _, primary) = column_def(cl, charset.as_deref())?;
                if primary {
                    new.primary_key = vec![c.name.clone()];
                }
                new.columns.push(c);
            }
        }
    }
    renumber(&mut new.columns);
    Some(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(db: Option<&str>, table: &str) -> Name {
        Name {
            db: db.map(str::to_string),
            table: table.to_string(),
        }
    }

    /// Statements are classified by what they do to which table.
    #[test]
    fn statements() {
        let s = statement("ALTER TABLE oracle.items ADD COLUMN p int").expect("alter");
        assert_eq!(s.kind, TableChangeKind::Alter);
        assert_eq!(s.tables, [name(Some("oracle"), "items")]);
        let s =
            statement("DROP TABLE IF EXISTS `a`, `b c` /* generated by server */").expect("drop");
        assert_eq!(s.tables, [name(None, "a"), name(None, "b c")]);
        let s = statement("create or replace table `x`.`y` (id int)").expect("create");
        assert_eq!(s.kind, TableChangeKind::Create);
        let s = statement("CREATE TABLE oracle._b_new LIKE oracle.b").expect("like");
        assert_eq!(s.like, Some((Some("oracle".to_string()), "b".to_string())));
        let s = statement("create table if not exists x (like `y`)").expect("like");
        assert_eq!(s.like, Some((None, "y".to_string())));
        assert!(s.if_not_exists);
        assert!(
            !statement("DROP TABLE IF EXISTS x")
                .expect("drop")
                .if_not_exists
        );
        assert_eq!(
            statement("CREATE TABLE x (id int)").expect("create").like,
            None
        );
        assert_eq!(statement("CREATE INDEX i ON t (a)"), None);
        assert_eq!(statement("TRUNCATE TABLE t"), None);
        assert_eq!(statement("ALTER"), None);
    }

    /// A column the statement does not state keeps the last record's length when MariaDB's
    /// catalog spells the same type with a display width (`int(11)` for a parsed `int`).
    #[test]
    fn merge_keeps_unstated_lengths() {
        let old = parse_create("CREATE TABLE t (id int PRIMARY KEY, v int)", Some("latin1"))
            .expect("create");
        let mut catalog = old.clone();
        for c in &mut catalog.columns {
            c.column_type = "int(11)".into();
            c.length = Some(11);
        }
        let merged = merge("ALTER TABLE t MODIFY v int(5)", catalog, Some(&old));
        let lengths: Vec<Option<i32>> = merged.columns.iter().map(|c| c.length).collect();
        assert_eq!(lengths, vec![None, Some(5)]);
    }

    /// Types as Debezium's parser reads them from a statement: `BOOL` is a boolean without a
    /// length, `ZEROFILL` implies `UNSIGNED`, a `BIT` literal default is its digits.
    #[test]
    fn stated_types_as_debezium_reads_them() {
        let old = parse_create("CREATE TABLE f (id int PRIMARY KEY)", Some("latin1")).expect("f");
        let new = apply_alter(
            "ALTER TABLE f ADD COLUMN a bool NOT NULL DEFAULT false, ADD COLUMN b bit(1) \
             DEFAULT b'1', ADD COLUMN z smallint(3) zerofill",
            &old,
        )
        .expect("alter");
        let got: Vec<(i32, &str, Option<i32>, Option<&str>)> = new.columns[1..]
            .iter()
            .map(|c| {
                (
                    c.jdbc_type,
                    c.type_name.as_str(),
                    c.length,
                    c.default.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (16, "BOOL", None, Some("false")),
                (-7, "BIT", Some(1), Some("1")),
                (5, "SMALLINT UNSIGNED ZEROFILL", Some(3), None)
            ]
        );
    }

    /// A `DROP TABLE` record per table names it qualified after the statement's own prefix,
    /// without the server's comment (Debezium 3.6.3's records in `*_created_dropped`).
    #[test]
    fn drop_records() {
        let s = statement("DROP TABLE IF EXISTS `t2` /* generated by server */").expect("drop");
        let t2 = TableId::new("oracle", "t2");
        assert_eq!(s.drop_ddl(&t2), "DROP TABLE IF EXISTS `oracle`.`t2`");
        let s = statement("drop  table oracle.d1, oracle.d2 CASCADE").expect("drop");
        assert_eq!(s.drop_ddl(&t2), "drop  table `oracle`.`t2` CASCADE");
        let s = statement("/* c */ DROP TABLE `a`,`b`").expect("drop");
        assert_eq!(s.drop_ddl(&t2), "DROP TABLE `oracle`.`t2`");
    }

    /// `source.table` of a multi-table statement lists names in `java.util.HashSet` order.
    #[test]
    fn java_hash_set_order() {
        let names = |v: &[&str]| v.iter().map(|t| name(None, t)).collect::<Vec<_>>();
        // Recorded from Debezium 3.6.3 (`*_created_dropped`).
        assert_eq!(
            java_set_order("oracle", &names(&["d1", "other", "d2"])),
            "d2,d1,other"
        );
        assert_eq!(java_set_order("oracle", &names(&["t2", "t2"])), "t2");
        // 13 names: the set has doubled to 32 buckets (order printed by a Java 17 HashSet).
        let many: Vec<Name> = (0..13).map(|i| name(None, &format!("t{i}"))).collect();
        assert_eq!(
            java_set_order("db", &many),
            "t2,t3,t0,t1,t10,t11,t12,t8,t9,t6,t7,t4,t5"
        );
    }

    /// Column definitions stated by ALTER and CREATE statements are found by name.
    #[test]
    fn stated() {
        let m = stated_types(
            "ALTER TABLE oracle.items ADD COLUMN price decimal(8,2) DEFAULT 1.50, \
             MODIFY COLUMN qty bigint unsigned NOT NULL, CHANGE `name` `Title` varchar(40), \
             ADD INDEX i (qty), DROP COLUMN x",
        );
        assert_eq!(m.get("price").map(String::as_str), Some("decimal(8,2)"));
        assert_eq!(m.get("qty").map(String::as_str), Some("bigint unsigned"));
        assert_eq!(m.get("title").map(String::as_str), Some("varchar(40)"));
        assert_eq!(m.len(), 3, "{m:?}");
        let m = stated_types(
            "CREATE TABLE t (id int NOT NULL, e enum('a','b') DEFAULT 'a', PRIMARY KEY (id))",
        );
        assert_eq!(m.get("id").map(String::as_str), Some("int"));
        assert_eq!(m.get("e").map(String::as_str), Some("enum('a','b')"));
        assert_eq!(m.len(), 2);
    }

    /// ALTER statements apply to the last shape the way Debezium's parser applies them (the
    /// recorded case maria_ddl).
    #[test]
    fn alter_applies() {
        let old = parse_create(
            "CREATE TABLE `items` (\n  `id` int(11) NOT NULL,\n  `name` varchar(20) NOT NULL DEFAULT 'none',\n  `qty` int(11) DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci",
            None,
        )
        .expect("create");
        assert_eq!(old.primary_key, vec!["id".to_string()]);
        assert_eq!(old.columns[1].default.as_deref(), Some("none"));
        assert_eq!(old.columns[1].charset.as_deref(), Some("latin1"));
        assert!(!old.columns[1].optional && old.columns[2].optional);
        let a = apply_alter(
            "ALTER TABLE oracle.items ADD COLUMN price decimal(8,2) DEFAULT 1.50",
            &old,
        )
        .expect("add");
        let p = &a.columns[3];
        assert_eq!((p.length, p.scale, p.position), (Some(8), Some(2), 4));
        assert_eq!(p.default.as_deref(), Some("1.50"));
        let b = apply_alter(
            "ALTER TABLE oracle.items MODIFY COLUMN qty bigint NOT NULL DEFAULT 0",
            &a,
        )
        .expect("modify");
        let q = &b.columns[2];
        assert_eq!((q.jdbc_type, q.length, q.optional), (-5, None, false));
        assert_eq!(q.default.as_deref(), Some("0"));
        let c = apply_alter(
            "ALTER TABLE oracle.items CHANGE COLUMN name title varchar(40) CHARACTER SET latin1 DEFAULT NULL COMMENT 'the title'",
            &b,
        )
        .expect("change");
        assert_eq!(c.columns[1].name, "title");
        assert_eq!(
            (c.columns[1].length, c.columns[1].optional),
            (Some(40), true)
        );
        let d = apply_alter("ALTER TABLE oracle.items DROP COLUMN price", &c).expect("drop");
        assert_eq!(d.columns.len(), 3);
        let e = apply_alter(
            "ALTER TABLE items ADD COLUMN z int FIRST, RENAME COLUMN title TO t2, DROP PRIMARY KEY",
            &d,
        )
        .expect("several");
        assert_eq!(e.columns[0].name, "z");
        assert_eq!(e.columns[2].name, "t2");
        assert!(e.primary_key.is_empty());
        // Columns of an added primary key become required.
        let k = apply_alter(
            "ALTER TABLE items ADD COLUMN n int, ADD PRIMARY KEY (n)",
            &d,
        )
        .expect("key");
        assert!(
            !k.columns
                .iter()
                .find(|c| c.name == "n")
                .expect("n")
                .optional
        );
        // The table's own new name leaves its shape (the caller moves it to the new name).
        assert_eq!(
            apply_alter("ALTER TABLE items RENAME TO other", &d),
            Some(d.clone())
        );
        // CONVERT TO CHARACTER SET changes the table and its character columns; a table
        // option's default character set does not change the record (as recorded).
        let f =
            apply_alter("ALTER TABLE items CONVERT TO CHARACTER SET utf8mb4", &e).expect("convert");
        assert_eq!(f.default_charset.as_deref(), Some("utf8mb4"));
        assert_eq!(f.columns[2].charset.as_deref(), Some("utf8mb4"));
        assert_eq!(f.columns[0].charset, None);
        let g = apply_alter("ALTER TABLE items DEFAULT CHARSET = latin1", &f).expect("option");
        assert_eq!(g.default_charset.as_deref(), Some("utf8mb4"));
    }

    /// RENAME TABLE is an ALTER of the new names; current-time defaults are the epoch;
    /// AUTO_INCREMENT and ON UPDATE mark a column auto-incremented and generated, a
    /// generated column is neither.
    #[test]
    fn renames_defaults_and_flags() {
        let s = statement("RENAME TABLE oracle.a TO oracle.b, c TO d").expect("rename");
        assert_eq!(s.kind, TableChangeKind::Alter);
        assert_eq!(s.tables, [name(Some("oracle"), "b"), name(None, "d")]);
        assert_eq!(s.renamed_from, [name(Some("oracle"), "a"), name(None, "c")]);
        // Split per table, in order, each with its own clause; the databases, in order.
        let s = statement("RENAME TABLE x.a TO x.b, y.c TO y.d, e TO x.f").expect("rename");
        let parts = s.per_table();
        let dbs: Vec<String> = parts
            .iter()
            .map(|p| p.tables[0].id("y").namespace)
            .collect();
        assert_eq!(dbs, ["x", "y", "x"]);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[1].tables, [name(Some("y"), "d")]);
        assert_eq!(parts[1].renamed_from, [name(Some("y"), "c")]);
        assert_eq!(parts[2].renamed_from, [name(None, "e")]);
        assert_eq!(parts[2].rename_ddl, ["RENAME TABLE e TO x.f"]);
        // One `ddl` per clause, each as written after the statement's own prefix.
        let s = statement("rename  table oracle.a TO `oracle`.`_a_old` ,oracle._a_new to a")
            .expect("rename");
        assert_eq!(
            s.rename_ddl,
            vec![
                "rename  table oracle.a TO `oracle`.`_a_old`".to_string(),
                "rename  table oracle._a_new to a".to_string()
            ]
        );
        assert_eq!(statement("RENAME TABLE a"), None);
        let s =
            statement("ALTER TABLE oracle.p2 RENAME TO oracle.p, ADD COLUMN z int").expect("alter");
        assert_eq!(s.renamed_to, Some((Some("oracle".into()), "p".into())));
        let s = statement("alter table p rename `q`").expect("alter");
        assert_eq!(s.renamed_to, Some((None, "q".into())));
        let s =
            statement("ALTER TABLE p RENAME COLUMN a TO b, RENAME INDEX i TO j").expect("alter");
        assert_eq!(s.renamed_to, None);
        assert_eq!(
            time_default("CURRENT_TIMESTAMP(6)".into()),
            "1970-01-01 00:00:00"
        );
        assert_eq!(time_default("now()".into()), "1970-01-01 00:00:00");
        assert_eq!(time_default("5".into()), "5");
        let t = parse_create(
            "CREATE TABLE t (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, q int, \
             g int AS (q * 2) VIRTUAL, \
             ts timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6))",
            Some("latin1"),
        )
        .expect("create");
        let flags: Vec<(bool, bool)> = t
            .columns
            .iter()
            .map(|c| (c.auto_incremented, c.generated))
            .collect();
        assert_eq!(
            flags,
            vec![(true, true), (false, false), (false, false), (true, true)]
        );
        assert_eq!(t.columns[3].default.as_deref(), Some("1970-01-01 00:00:00"));
    }

    /// A CREATE TABLE whose table the catalog no longer shows (dropped again) is read from
    /// the statement with the database's character set, as Debezium records it (the case
    /// mysql8_ddl_more: `CREATE TABLE oracle.old_name (id int PRIMARY KEY, w int)`).
    #[test]
    fn created_table_parses_without_the_catalog() {
        let t = parse_create(
            "CREATE TABLE oracle.old_name (id int PRIMARY KEY, w int)",
            Some("utf8mb4"),
        )
        .expect("create");
        assert_eq!(t.default_charset.as_deref(), Some("utf8mb4"));
        assert_eq!(t.primary_key, vec!["id".to_string()]);
        let cols: Vec<_> = t
            .columns
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.jdbc_type,
                    c.type_name.as_str(),
                    c.charset.clone(),
                    c.length,
                    c.position,
                    c.optional,
                    c.default.clone(),
                )
            })
            .collect();
        assert_eq!(
            cols,
            vec![
                ("id", 4, "INT", None, None, 1, false, None),
                ("w", 4, "INT", None, None, 2, true, None),
            ]
        );
    }
}
