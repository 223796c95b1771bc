//! Catalog access on the SQL connection: preflight checks, table shapes, custom types.
//!
//! Every check returns a [`PgSourceError`] whose hint tells the operator the exact fix. Table
//! shapes come from `pg_attribute`/`pg_index` (primary key, NOT NULL, literal defaults); the
//! stream's Relation messages stay the truth for column names, order and types.

use std::collections::HashMap;

use tokio_postgres::GenericClient;

use super::error::PgSourceError;
use super::types::{column_type, numeric_typmod, parse_text, CatalogType, PgKind, TypeRegistry};
use crate::event::{Column, TableId, TableSchema};
use crate::source::keys::KeyOverrides;

/// Quote an identifier for SQL (`"a""b"`).
pub(crate) fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Quote a string literal for SQL (`'it''s'`).
pub(crate) fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `"schema"."table"`.
pub(crate) fn qualified(t: &TableId) -> String {
    format!("{}.{}", quote_ident(&t.namespace), quote_ident(&t.name))
}

/// Check each configured row filter (`publication_filter`) before any publication uses it,
/// in a transaction that is rolled back: the server must accept it as a publication row
/// filter, and the columns it uses must be in the table's replica identity (or the identity
/// is FULL), or the server would refuse every UPDATE and DELETE on the table. Returns each
/// filter as the server writes it back (`pg_publication_tables.rowfilter`), to compare
/// with an existing publication's.
pub(crate) async fn check_row_filters(
    client: &tokio_postgres::Client,
    filters: &std::collections::HashMap<TableId, String>,
) -> Result<std::collections::HashMap<TableId, String>, PgSourceError> {
    let mut out = std::collections::HashMap::new();
    for (table, cond) in filters {
        client
            .batch_execute("BEGIN")
            .await
            .map_err(PgSourceError::sql("checking a row filter"))?;
        let checked = check_row_filter(client, table, cond).await;
        // Nothing of the check stays: its publication is rolled back.
        client
            .batch_execute("ROLLBACK")
            .await
            .map_err(PgSourceError::sql("checking a row filter"))?;
        out.insert(table.clone(), checked?);
    }
    Ok(out)
}

/// [`check_row_filters`] for one table, inside its transaction.
async fn check_row_filter(
    client: &tokio_postgres::Client,
    table: &TableId,
    cond: &str,
) -> Result<String, PgSourceError> {
    let field = format!("source.publication_filter.{table}");
    if let Err(e) = client
        .batch_execute(&format!(
            "CREATE PUBLICATION sluice_row_filter_check FOR TABLE {} WHERE ({cond})",
            qualified(table)
        ))
        .await
    {
        let (state, msg) = e
            .as_db_error()
            .map(|d| (d.code().code().to_string(), d.message().to_string()))
            .unwrap_or_default();
        return Err(PgSourceError::Precondition {
            problem: format!(
                "{field}: the server refuses it as a row filter (SQLSTATE {state}: {msg})"
            ),
            hint: "a row filter may use the table's columns, constants and immutable built-in functions and operators".into(),
        });
    }
    let row = client
        .query_one(
            "SELECT rowfilter, \
             (SELECT relreplident::text FROM pg_class WHERE oid = $1::text::regclass), \
             ARRAY(SELECT a.attname::text FROM pg_depend d \
               JOIN pg_publication_rel pr ON d.classid = 'pg_publication_rel'::regclass AND d.objid = pr.oid \
               JOIN pg_publication p ON p.oid = pr.prpubid AND p.pubname = 'sluice_row_filter_check' \
               JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
               WHERE d.refobjsubid > 0), \
             ARRAY(SELECT a.attname::text FROM pg_index i \
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
               JOIN pg_class c ON c.oid = i.indrelid \
               WHERE i.indrelid = $1::text::regclass \
                 AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))) \
             FROM pg_publication_tables WHERE pubname = 'sluice_row_filter_check'",
            &[&qualified(table)],
        )
        .await
        .map_err(PgSourceError::sql("reading a row filter back"))?;
    let deparsed: Option<String> = row.get(0);
    let identity: String = row.get(1);
    let used: Vec<String> = row.get(2);
    let identity_columns: Vec<String> = row.get(3);
    let outside: Vec<&str> = used
        .iter()
        .filter(|c| !identity_columns.contains(c))
        .map(String::as_str)
        .collect();
    if identity != "f" && !outside.is_empty() {
        return Err(PgSourceError::Precondition {
            problem: format!(
                "{field} uses {} outside the table's replica identity: with it in the publication the server refuses every UPDATE and DELETE on {table}",
                outside.join(", ")
            ),
            hint: format!(
                "filter on replica-identity columns only, or run ALTER TABLE {} REPLICA IDENTITY FULL",
                qualified(table)
            ),
        });
    }
    Ok(deparsed.unwrap_or_else(|| cond.to_string()))
}

/// The server's `server_version_num` (e.g. 170012).
pub(crate) async fn server_version(client: &impl GenericClient) -> Result<u32, PgSourceError> {
    let row = client
        .query_one("SELECT current_setting('server_version_num')::int4", &[])
        .await
        .map_err(PgSourceError::sql("reading the server version"))?;
    Ok(u32::try_from(row.get::<_, i32>(0)).unwrap_or(0))
}

/// Verify `wal_level`, the replication privilege and table access. Returns the listed
/// tables that do not exist (yet): the caller captures them once they are created.
pub(crate) async fn preflight(
    client: &impl GenericClient,
    user: &str,
    tables: &[TableId],
) -> Result<Vec<TableId>, PgSourceError> {
    let mut missing = Vec::new();
    let row = client
        .query_one("SELECT current_setting('wal_level')", &[])
        .await
        .map_err(PgSourceError::sql("reading wal_level"))?;
    let wal_level: String = row.get(0);
    if wal_level != "logical" {
        return Err(PgSourceError::Precondition {
            problem: format!("the server runs with wal_level={wal_level}"),
            hint: "set wal_level = logical in postgresql.conf (ALTER SYSTEM SET wal_level = logical) and restart PostgreSQL".into(),
        });
    }
    let row = client
        .query_one(
            "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .map_err(PgSourceError::sql("reading role attributes"))?;
    let can_replicate: bool = row.get(0);
    if !can_replicate {
        return Err(PgSourceError::Precondition {
            problem: format!("user {user} lacks the REPLICATION attribute"),
            hint: format!("run ALTER ROLE {} REPLICATION", quote_ident(user)),
        });
    }
    for t in tables {
        let rows = client
            .query(
                "SELECT c.relkind::text, has_table_privilege(c.oid, 'SELECT') \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relname = $2",
                &[&t.namespace, &t.name],
            )
            .await
            .map_err(PgSourceError::sql("looking up tables"))?;
        let Some(row) = rows.first() else {
            missing.push(t.clone());
            continue;
        };
        let kind: String = row.get(0);
        let readable: bool = row.get(1);
        if kind != "r" && kind != "p" {
            return Err(PgSourceError::Precondition {
                problem: format!("{t} is not an ordinary table (relkind {kind})"),
                hint: "list only tables in source.tables; views cannot be replicated".into(),
            });
        }
        if !readable {
            return Err(PgSourceError::Precondition {
                problem: format!("user {user} cannot SELECT from {t}"),
                hint: format!(
                    "run GRANT SELECT ON {} TO {}",
                    qualified(t),
                    quote_ident(user)
                ),
            });
        }
    }
    Ok(missing)
}

/// The ordinary and partitioned tables (not partitions, not system ones) whose
/// `schema.table` name the patterns capture, sorted by name.
pub(crate) async fn matching_tables(
    client: &impl GenericClient,
    filter: &crate::config::TableFilter,
) -> Result<Vec<TableId>, PgSourceError> {
    if !filter.is_active() {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg\\_%' \
             ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(PgSourceError::sql("listing tables for table_include_list"))?;
    Ok(rows
        .iter()
        .map(|r| TableId::new(r.get::<_, String>(0), r.get::<_, String>(1)))
        .filter(|t| filter.matches(&t.to_string()))
        .collect())
}

/// Which of `tables` exist now.
pub(crate) async fn existing(
    client: &impl GenericClient,
    tables: &[TableId],
) -> Result<Vec<TableId>, PgSourceError> {
    let mut out = Vec::new();
    for t in tables {
        let found = client
            .query_opt(
                "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
                &[&t.namespace, &t.name],
            )
            .await
            .map_err(PgSourceError::sql("looking up tables"))?;
        if found.is_some() {
            out.push(t.clone());
        }
    }
    Ok(out)
}

/// Verify that a replication slot is free (before creating one).
pub(crate) async fn check_free_slot(client: &impl GenericClient) -> Result<(), PgSourceError> {
    let row = client
        .query_one(
            "SELECT current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_replication_slots)::int",
            &[],
        )
        .await
        .map_err(PgSourceError::sql("counting replication slots"))?;
    let free: i32 = row.get(0);
    if free <= 0 {
        return Err(PgSourceError::Precondition {
            problem: "no replication slot is free (max_replication_slots reached)".into(),
            hint: "drop unused slots (SELECT pg_drop_replication_slot(name)) or raise max_replication_slots and restart PostgreSQL".into(),
        });
    }
    Ok(())
}

/// What the catalog says about one column.
#[derive(Debug, Clone)]
pub(crate) struct CatalogColumn {
    pub name: String,
    pub type_oid: u32,
    /// The column's typmod, or its domain's when the column has none of its own.
    pub typmod: i32,
    pub not_null: bool,
    pub default: Option<String>,
    pub in_pk: Option<usize>,
}

/// Current columns of a table in attribute order, STORED generated ones included (a snapshot
/// reads them, as Debezium does; pgoutput's Relation leaves them out, so streamed rows lack
/// them, as Debezium's do; their generation expression is read as a default, as Debezium reads
/// it). `in_pk` marks the key columns as [`KeyOverrides::choose`] picks them: configured, primary key, else the replica-identity
/// index (`REPLICA IDENTITY USING INDEX`), as Debezium keys such tables.
pub(crate) async fn table_columns(
    client: &impl GenericClient,
    t: &TableId,
    keys: &KeyOverrides,
) -> Result<Vec<CatalogColumn>, PgSourceError> {
    let rows = client
        .query(
            "SELECT a.attname::text, a.atttypid, \
                    CASE WHEN a.atttypmod < 0 AND t.typtype = 'd' THEN t.typtypmod \
                         ELSE a.atttypmod END, \
                    a.attnotnull OR (t.typtype = 'd' AND t.typnotnull), \
                    pg_get_expr(d.adbin, d.adrelid), \
                    array_position(i.indkey::int2[], a.attnum) - array_lower(i.indkey::int2[], 1) + 1 \
             FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             LEFT JOIN LATERAL ( \
                 SELECT ix.indkey FROM pg_index ix WHERE ix.indrelid = c.oid \
                   AND (ix.indisprimary OR (ix.indisreplident AND c.relreplident = 'i')) \
                 ORDER BY ix.indisprimary DESC LIMIT 1) i ON true \
             WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            &[&t.namespace, &t.name],
        )
        .await
        .map_err(PgSourceError::sql("reading table columns"))?;
    let mut cols: Vec<CatalogColumn> = rows
        .iter()
        .map(|r| CatalogColumn {
            name: r.get(0),
            type_oid: r.get(1),
            typmod: r.get(2),
            not_null: r.get(3),
            default: r.get(4),
            in_pk: r.get::<_, Option<i32>>(5).map(|p| p.max(1) as usize - 1),
        })
        .collect();
    let mut catalog_key: Vec<(usize, String)> = cols
        .iter()
        .filter_map(|c| c.in_pk.map(|p| (p, c.name.clone())))
        .collect();
    catalog_key.sort();
    let chosen = keys
        .choose(
            t,
            cols.iter().map(|c| c.name.as_str()),
            catalog_key.into_iter().map(|(_, n)| n).collect(),
            Vec::new,
        )
        .map_err(|missing| PgSourceError::Precondition {
            problem: format!(
                "source.key_columns names column {missing}, which table {t} does not have"
            ),
            hint: "fix source.key_columns (column names are case-sensitive)".into(),
        })?;
    for c in &mut cols {
        c.in_pk = chosen.iter().position(|k| *k == c.name);
    }
    Ok(cols)
}

/// Ask the catalog about every type in `oids` the registry does not know yet.
pub(crate) async fn learn_types(
    client: &impl GenericClient,
    registry: &mut TypeRegistry,
    oids: &[u32],
) -> Result<(), PgSourceError> {
    let mut todo: Vec<u32> = oids
        .iter()
        .copied()
        .filter(|o| registry.is_unknown(*o))
        .collect();
    let mut rounds = 0;
    while !todo.is_empty() && rounds < 4 {
        rounds += 1;
        let rows = client
            .query(
                "SELECT t.oid, t.typtype::text, t.typbasetype, t.typelem, t.typcategory::text, \
                        (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) \
                           FROM pg_enum e WHERE e.enumtypid = t.oid), t.typname::text \
                 FROM pg_type t WHERE t.oid = ANY($1)",
                &[&todo],
            )
            .await
            .map_err(PgSourceError::sql("reading type catalog"))?;
        let mut next = Vec::new();
        for r in rows {
            let oid: u32 = r.get(0);
            let typtype: String = r.get(1);
            let base: u32 = r.get(2);
            let elem: u32 = r.get(3);
            let category: String = r.get(4);
            let labels: Option<Vec<String>> = r.get(5);
            let name: String = r.get(6);
            let t = match typtype.as_str() {
                "e" => CatalogType::Enum(labels.unwrap_or_default()),
                "d" => {
                    next.push(base);
                    CatalogType::Domain(base)
                }
                _ if category == "A" && elem != 0 => {
                    next.push(elem);
                    CatalogType::Array(elem)
                }
                "b" => CatalogType::Base(name),
                _ => CatalogType::Other,
            };
            registry.learn(oid, t);
        }
        // Unknown OIDs (dropped types) still need an entry so we do not ask again.
        for o in &todo {
            if registry.is_unknown(*o) {
                registry.learn(*o, CatalogType::Other);
            }
        }
        todo = next
            .into_iter()
            .filter(|o| registry.is_unknown(*o))
            .collect();
    }
    Ok(())
}

/// The schema default Debezium reports for a column's default expression (recorded cases
/// `pg_defaults_domains` and `pg_gen_defaults`), whatever the column's nullability:
/// - only types Debezium has a default parser for get one (not `bytea`, `timetz`, `money`,
///   `point`, ranges, network types, arrays, identity columns, or `numeric` without a scale,
///   whose `VariableScaleDecimal` struct cannot be a Connect default);
/// - a function call (`nextval(…)`, `now()`, `upper('x')`, `(length('a') > 2)`) or one of
///   SQL's current-time values (`CURRENT_TIMESTAMP`, `CURRENT_DATE`, `LOCALTIME`, …) is the
///   type's placeholder: `0`, `0.0`, `false`, `""`, `{}`, the nil UUID, the epoch;
/// - `NULL` is none; a literal is its value ([`literal_default`]).
fn debezium_default(expr: &str, kind: &PgKind, typmod: i32) -> Option<crate::event::Value> {
    let parsed = match kind {
        // Without a scale, `numeric` is a `VariableScaleDecimal` struct.
        PgKind::Numeric => numeric_typmod(typmod).is_some(),
        PgKind::Bool
        | PgKind::Int16
        | PgKind::Int32
        | PgKind::Int64
        | PgKind::Float32
        | PgKind::Float64
        | PgKind::Text
        | PgKind::Json
        | PgKind::Named("io.debezium.data.Xml")
        | PgKind::Uuid
        | PgKind::Date
        | PgKind::Time
        | PgKind::Timestamp
        | PgKind::TimestampTz
        | PgKind::Interval
        | PgKind::Bit { .. }
        | PgKind::Enum(_) => true,
        _ => false,
    };
    if !parsed {
        return None;
    }
    let e = expr.trim();
    if e.starts_with("NULL") {
        return None;
    }
    if is_call(e) || is_current_time(e) {
        let text = match kind {
            PgKind::Bool => "f",
            PgKind::Int16 | PgKind::Int32 | PgKind::Int64 => "0",
            PgKind::Float32 | PgKind::Float64 | PgKind::Numeric => "0",
            PgKind::Text | PgKind::Named(_) => "",
            PgKind::Json => "{}",
            PgKind::Uuid => "00000000-0000-0000-0000-000000000000",
            PgKind::Date => "1970-01-01",
            PgKind::Time => "00:00:00",
            PgKind::Timestamp => "1970-01-01 00:00:00",
            PgKind::TimestampTz => "1970-01-01 00:00:00+00",
            PgKind::Interval => "PT0S",
            // Bit strings' and enums' placeholders are not recorded: none.
            _ => return None,
        };
        return parse_text(kind, typmod, text).ok();
    }
    if matches!(kind, PgKind::Bool) {
        // Java's `Boolean.parseBoolean` of the literal (or the raw expression): `true` is
        // true, anything else (a generated column's `((id % 2) = 0)`) false.
        let text = match e.split_once('\'') {
            Some((_, rest)) => rest.split_once('\'').map_or(rest, |(t, _)| t),
            None => e,
        };
        return Some(crate::event::Value::Bool(text.eq_ignore_ascii_case("true")));
    }
    literal_default(e, kind, typmod)
}

/// SQL's current-time value functions, which PostgreSQL stores without parentheses.
fn is_current_time(e: &str) -> bool {
    let e = e.trim_start_matches('(').to_ascii_lowercase();
    [
        "current_timestamp",
        "current_date",
        "current_time",
        "localtimestamp",
        "localtime",
    ]
    .iter()
    .any(|f| {
        e.strip_prefix(f)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('(') || rest.starts_with(')'))
    })
}

/// A literal default (`7`, `'x'::text`) converted to a value; anything computed is not, and
/// booleans are [`debezium_default`]'s (see there).
fn literal_default(expr: &str, kind: &PgKind, typmod: i32) -> Option<crate::event::Value> {
    let e = expr.trim();
    let text = if let Some(rest) = e.strip_prefix('\'') {
        let end = rest.rfind('\'')?;
        let tail = &rest[end + 1..];
        if !(tail.is_empty() || tail.starts_with("::")) {
            return None;
        }
        rest[..end].replace("''", "'")
    } else if matches!(kind, PgKind::Text)
        && !e.starts_with("NULL")
        && e.contains('\'')
        && !is_call(e)
    {
        // An expression holding a string literal (a generated column's `('item-'::text ||
        // (id)::text)`): Debezium reports the text between its first two quotes (recorded case
        // `pg_generated`).
        let (_, rest) = e.split_once('\'')?;
        rest.split_once('\'')?.0.to_string()
    } else {
        let core = e
            .split("::")
            .next()?
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')');
        if core.is_empty() || core.contains('(') || core.contains(' ') {
            return None;
        }
        core.to_string()
    };
    parse_text(kind, typmod, &text).ok()
}

/// Whether a default expression is a function call (`upper('x')`, `(now())`): Debezium
/// reports a placeholder for those, not their arguments.
fn is_call(e: &str) -> bool {
    let f = e.strip_prefix('(').unwrap_or(e);
    let name_len = f
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(f.len());
    name_len > 0 && f[name_len..].starts_with('(')
}

/// The kinds and typmods of a schema's columns, aligned with `TableSchema::columns`.
pub(crate) type ColumnKinds = Vec<(PgKind, i32)>;

/// Build a table schema from (name, type, typmod) column triples, enriched by the catalog.
pub(crate) fn build_schema(
    table: TableId,
    cols: &[(String, u32, i32)],
    catalog: &[CatalogColumn],
    registry: &TypeRegistry,
    version: u64,
) -> (TableSchema, ColumnKinds) {
    let by_name: HashMap<&str, &CatalogColumn> =
        catalog.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut columns = Vec::with_capacity(cols.len());
    let mut kinds = Vec::with_capacity(cols.len());
    let mut pk: Vec<(usize, usize)> = Vec::new();
    for (i, (name, oid, typmod)) in cols.iter().enumerate() {
        let kind = registry.kind(*oid);
        let cat = by_name.get(name.as_str());
        // pgoutput sends a domain column's typmod as -1; the catalog has the domain's own
        // (`numeric(10,2)` under a domain is a Decimal of scale 2, as Debezium writes it).
        let typmod = &if *typmod < 0 {
            cat.map_or(*typmod, |c| c.typmod)
        } else {
            *typmod
        };
        if let Some(pos) = cat.and_then(|c| c.in_pk) {
            pk.push((pos, i));
        }
        columns.push(Column {
            name: name.clone(),
            ty: column_type(&kind, *typmod),
            nullable: !cat.is_some_and(|c| c.not_null),
            default: cat.and_then(|c| debezium_default(c.default.as_deref()?, &kind, *typmod)),
        });
        kinds.push((kind, *typmod));
    }
    pk.sort();
    (
        TableSchema {
            table,
            columns,
            key_columns: pk.into_iter().map(|(_, i)| i).collect(),
            version,
        },
        kinds,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Value;

    /// A string literal inside an expression (a generated column's) is reported as Debezium
    /// does: the text between the first two quotes; a function call's argument is not.
    #[test]
    fn literal_inside_an_expression() {
        let text = |e: &str| literal_default(e, &PgKind::Text, -1);
        assert_eq!(
            text("('item-'::text || (id)::text)"),
            Some(Value::String("item-".into()))
        );
        assert_eq!(text("upper('x'::text)"), None);
        assert_eq!(text("(a * b)"), None);
    }

    /// Only literal defaults are reported, typed like the column.
    #[test]
    fn literal_defaults() {
        assert_eq!(
            literal_default("7", &PgKind::Int32, -1),
            Some(Value::Int(7))
        );
        assert_eq!(
            literal_default("'a''b'::text", &PgKind::Text, -1),
            Some(Value::String("a'b".into()))
        );
        assert_eq!(literal_default("now()", &PgKind::TimestampTz, -1), None);
        // Computed defaults are Debezium's placeholders, whatever the nullability.
        let dbz = |e: &str, k: PgKind| debezium_default(e, &k, -1);
        assert_eq!(
            dbz("nextval('d_id_seq'::regclass)", PgKind::Int32),
            Some(Value::Int(0))
        );
        assert_eq!(
            dbz("CURRENT_TIMESTAMP", PgKind::Timestamp),
            Some(Value::Timestamp(0))
        );
        assert_eq!(dbz("CURRENT_DATE", PgKind::Date), Some(Value::Date(0)));
        assert_eq!(dbz("now()", PgKind::TimestampTz), Some(Value::Timestamp(0)));
        assert_eq!(
            dbz("upper('x'::text)", PgKind::Text),
            Some(Value::String("".into()))
        );
        assert_eq!(
            dbz("(length('a') > 2)", PgKind::Bool),
            Some(Value::Bool(false))
        );
        assert_eq!(
            dbz("gen_random_uuid()", PgKind::Uuid),
            Some(Value::String("00000000-0000-0000-0000-000000000000".into()))
        );
        assert_eq!(
            dbz("((id % 2) = 0)", PgKind::Bool),
            Some(Value::Bool(false))
        );
        assert_eq!(dbz("true", PgKind::Bool), Some(Value::Bool(true)));
        assert_eq!(
            dbz("make_interval(days => 1)", PgKind::Interval),
            Some(Value::Interval {
                micros: 0,
                parts: [0; 6]
            })
        );
        // Types Debezium parses no default for, expressions, NULL.
        assert_eq!(dbz("'\\x01'::bytea", PgKind::Bytea), None);
        assert_eq!(
            dbz("'01:02:03+00'::time with time zone", PgKind::TimeTz),
            None
        );
        assert_eq!(dbz("0", PgKind::Numeric), None);
        assert_eq!(dbz("(2 + 3)", PgKind::Int32), None);
        assert_eq!(dbz("NULL::integer", PgKind::Int32), None);
        assert_eq!(
            dbz("'it''s'::text", PgKind::Text),
            Some(Value::String("it's".into()))
        );
        assert_eq!(
            // An array default (`'{}'`) is not reported, as Debezium reports none.
            dbz("'{}'::text[]", PgKind::Array(Box::new(PgKind::Text))),
            None
        );
        assert_eq!(
            literal_default("nextval('s'::regclass)", &PgKind::Int64, -1),
            None
        );
        assert_eq!(
            literal_default("'-1'::integer", &PgKind::Int32, -1),
            Some(Value::Int(-1))
        );
    }

    /// Identifiers and literals are quoted safely.
    #[test]
    fn quoting() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(qualified(&TableId::new("S", "t x")), "\"S\".\"t x\"");
    }
}
