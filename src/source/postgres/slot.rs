//! Publication and replication-slot management.
//!
//! The publication lists exactly the configured tables (created or extended when
//! `create_publication` is on). The slot is logical, `pgoutput`, created by sluice on the
//! replication connection so its exported snapshot can seed the initial snapshot.

use std::collections::HashMap;

use pgwire_replication::ReplicationClient;
use tokio_postgres::Client;

use super::catalog::{qualified, quote_ident};
use super::error::PgSourceError;
use crate::event::{Lsn, TableId};

/// What `pg_replication_slots` says about the slot.
#[derive(Debug, Clone)]
pub(crate) struct SlotInfo {
    pub confirmed_flush: Option<Lsn>,
    pub lost: bool,
    pub active_pid: Option<i32>,
    pub plugin: Option<String>,
}

/// Look up a slot.
pub(crate) async fn slot_info(
    client: &Client,
    slot: &str,
) -> Result<Option<SlotInfo>, PgSourceError> {
    let rows = client
        .query(
            "SELECT confirmed_flush_lsn::text, wal_status, active_pid, plugin::text \
             FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .map_err(PgSourceError::sql("reading pg_replication_slots"))?;
    Ok(rows.first().map(|r| SlotInfo {
        confirmed_flush: r.get::<_, Option<String>>(0).and_then(|s| Lsn::parse(&s)),
        lost: r.get::<_, Option<String>>(1).as_deref() == Some("lost"),
        active_pid: r.get(2),
        plugin: r.get(3),
    }))
}

/// Whether `slot` is synchronized to standbys (`failover`, PostgreSQL 17+).
pub(crate) async fn has_failover(client: &Client, slot: &str) -> Result<bool, PgSourceError> {
    let row = client
        .query_opt(
            "SELECT failover FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .map_err(PgSourceError::sql("reading the slot's failover setting"))?;
    Ok(row.is_some_and(|r| r.get::<_, bool>(0)))
}

/// Set `failover` on an existing slot (a replication command, before streaming starts).
pub(crate) async fn set_failover(
    repl: &mut ReplicationClient,
    slot: &str,
) -> Result<(), PgSourceError> {
    repl.simple_query(&format!(
        "ALTER_REPLICATION_SLOT {} (FAILOVER true)",
        quote_ident(slot)
    ))
    .await
    .map_err(PgSourceError::repl("setting the slot's failover option"))?;
    tracing::info!(
        slot,
        "replication slot set to failover (synchronized to standbys)"
    );
    Ok(())
}

/// End the server session `pid` that holds `slot` (a stale owner's, in a cluster) and wait
/// up to 10 s until the slot is free. Returns whether it is free.
pub(crate) async fn take_over(
    client: &Client,
    slot: &str,
    pid: i32,
) -> Result<bool, PgSourceError> {
    client
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .map_err(PgSourceError::sql(
            "ending the session that holds the replication slot",
        ))?;
    for _ in 0..100 {
        if slot_info(client, slot)
            .await?
            .is_none_or(|i| i.active_pid.is_none())
        {
            return Ok(true);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(false)
}

/// Drop a slot (it must not be in use).
pub(crate) async fn drop_slot(client: &Client, slot: &str) -> Result<(), PgSourceError> {
    client
        .execute("SELECT pg_drop_replication_slot($1)", &[&slot])
        .await
        .map_err(PgSourceError::sql("dropping the replication slot"))?;
    Ok(())
}

/// Make sure `publication` exists and covers `tables`, with `publish_via_partition_root` as
/// configured (so a listed partitioned table streams under its own name, not its leaves').
/// Membership is read from `pg_publication_rel` (the tables named in the publication), not
/// from `pg_publication_tables`, which lists a partitioned table's leaves instead of itself
/// unless the publication publishes via the root.
pub(crate) async fn ensure_publication(
    client: &Client,
    publication: &str,
    tables: &[TableId],
    create: bool,
    via_root: bool,
    filters: &HashMap<TableId, String>,
    version: u32,
) -> Result<(), PgSourceError> {
    // A table as the publication lists it: with its row filter, if one is configured.
    let entry = |t: &TableId| match filters.get(t) {
        Some(f) => format!("{} WHERE ({f})", qualified(t)),
        None => qualified(t),
    };
    let existing: Option<bool> = client
        .query(
            "SELECT pubviaroot FROM pg_publication WHERE pubname = $1",
            &[&publication],
        )
        .await
        .map_err(PgSourceError::sql("reading pg_publication"))?
        .first()
        .map(|r| r.get(0));
    let list: Vec<String> = tables.iter().map(entry).collect();
    let with = format!(
        "WITH (publish_via_partition_root = {})",
        if via_root { "true" } else { "false" }
    );
    let Some(have_via_root) = existing else {
        if !create {
            return Err(PgSourceError::Precondition {
                problem: format!("publication {publication} does not exist"),
                hint: format!(
                    "run CREATE PUBLICATION {} FOR TABLE {} {with}, or set create_publication: true",
                    quote_ident(publication),
                    list.join(", ")
                ),
            });
        }
        client
            .batch_execute(&format!(
                "CREATE PUBLICATION {} FOR TABLE {} {with}",
                quote_ident(publication),
                list.join(", ")
            ))
            .await
            .map_err(PgSourceError::sql("creating the publication"))?;
        tracing::info!(
            publication,
            tables = tables.len(),
            via_root,
            "publication created"
        );
        return Ok(());
    };
    if have_via_root != via_root {
        if !create {
            return Err(PgSourceError::Precondition {
                problem: format!(
                    "publication {publication} has publish_via_partition_root = {have_via_root}, the config says {via_root}"
                ),
                hint: format!(
                    "run ALTER PUBLICATION {} SET (publish_via_partition_root = {via_root}), or change source.publish_via_partition_root",
                    quote_ident(publication)
                ),
            });
        }
        client
            .batch_execute(&format!(
                "ALTER PUBLICATION {} SET (publish_via_partition_root = {via_root})",
                quote_ident(publication)
            ))
            .await
            .map_err(PgSourceError::sql("changing publish_via_partition_root"))?;
        tracing::info!(publication, via_root, "publication option changed");
    }
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, p.puballtables \
             FROM pg_publication p \
             LEFT JOIN pg_publication_rel pr ON pr.prpubid = p.oid \
             LEFT JOIN pg_class c ON c.oid = pr.prrelid \
             LEFT JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE p.pubname = $1",
            &[&publication],
        )
        .await
        .map_err(PgSourceError::sql("reading pg_publication_rel"))?;
    if rows.iter().any(|r| r.get::<_, bool>(2)) {
        return Ok(());
    }
    let have: std::collections::HashSet<TableId> = rows
        .iter()
        .filter_map(|r| {
            Some(TableId::new(
                r.get::<_, Option<String>>(0)?,
                r.get::<_, Option<String>>(1)?,
            ))
        })
        .collect();
    // Before PostgreSQL 15 there are no row filters (and no `rowfilter` column).
    if version >= 150000 {
        reconcile_filters(client, publication, tables, &have, create, filters).await?;
    }
    let missing: Vec<&TableId> = tables.iter().filter(|t| !have.contains(t)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let missing_sql: Vec<String> = missing.iter().map(|t| entry(t)).collect();
    if !create {
        return Err(PgSourceError::Precondition {
            problem: format!(
                "publication {publication} does not include {}",
                missing_sql.join(", ")
            ),
            hint: format!(
                "run ALTER PUBLICATION {} ADD TABLE {}",
                quote_ident(publication),
                missing_sql.join(", ")
            ),
        });
    }
    client
        .batch_execute(&format!(
            "ALTER PUBLICATION {} ADD TABLE {}",
            quote_ident(publication),
            missing_sql.join(", ")
        ))
        .await
        .map_err(PgSourceError::sql("adding tables to the publication"))?;
    tracing::info!(publication, added = missing.len(), "publication extended");
    Ok(())
}

/// Tables already in the publication whose row filter is not the configured one (compared
/// as the server writes them back) get it: dropped from the publication and added again in
/// one transaction (`create_publication`), or the start is refused with the statements.
async fn reconcile_filters(
    client: &Client,
    publication: &str,
    tables: &[TableId],
    have: &std::collections::HashSet<TableId>,
    create: bool,
    filters: &HashMap<TableId, String>,
) -> Result<(), PgSourceError> {
    let rows = client
        .query(
            "SELECT schemaname::text, tablename::text, rowfilter FROM pg_publication_tables WHERE pubname = $1",
            &[&publication],
        )
        .await
        .map_err(PgSourceError::sql("reading the publication's row filters"))?;
    let current: HashMap<TableId, Option<String>> = rows
        .iter()
        .map(|r| {
            (
                TableId::new(r.get::<_, String>(0), r.get::<_, String>(1)),
                r.get(2),
            )
        })
        .collect();
    for t in tables.iter().filter(|t| have.contains(t)) {
        let want = filters.get(t);
        let now = current.get(t).cloned().flatten();
        if want == now.as_ref() {
            continue;
        }
        let add = match want {
            Some(f) => format!("{} WHERE ({f})", qualified(t)),
            None => qualified(t),
        };
        let sql = format!(
            "BEGIN; ALTER PUBLICATION {p} DROP TABLE {q}; ALTER PUBLICATION {p} ADD TABLE {add}; COMMIT;",
            p = quote_ident(publication),
            q = qualified(t)
        );
        if !create {
            return Err(PgSourceError::Precondition {
                problem: format!(
                    "publication {publication} has row filter {now:?} for {t}, the config says {want:?}"
                ),
                hint: format!("run {sql} or set create_publication: true"),
            });
        }
        client
            .batch_execute(&sql)
            .await
            .map_err(PgSourceError::sql(
                "changing a table's row filter in the publication",
            ))?;
        tracing::info!(publication, table = %t, filtered = want.is_some(), "publication row filter changed");
    }
    Ok(())
}

/// A slot created on the replication connection.
#[derive(Debug)]
pub(crate) struct CreatedSlot {
    pub consistent_point: Lsn,
    pub snapshot_name: Option<String>,
}

/// `CREATE_REPLICATION_SLOT` on a gated session. With `export`, the returned snapshot stays
/// importable only while the session issues no further command.
pub(crate) async fn create_slot(
    repl: &mut ReplicationClient,
    slot: &str,
    export: bool,
    failover: bool,
) -> Result<CreatedSlot, PgSourceError> {
    let snapshot = if export { "'export'" } else { "'nothing'" };
    // The option list (PostgreSQL 15+) is used only for `FAILOVER` (17+), so older
    // servers keep the form they always got.
    let sql = if failover {
        format!(
            "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput (SNAPSHOT {snapshot}, FAILOVER true)",
            quote_ident(slot)
        )
    } else {
        format!(
            "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput {}",
            quote_ident(slot),
            if export {
                "EXPORT_SNAPSHOT"
            } else {
                "NOEXPORT_SNAPSHOT"
            }
        )
    };
    let rows = repl
        .simple_query(&sql)
        .await
        .map_err(PgSourceError::repl("creating the replication slot"))?;
    let row = rows.first().ok_or_else(|| PgSourceError::Precondition {
        problem: "CREATE_REPLICATION_SLOT returned no row".into(),
        hint: "check the server log".into(),
    })?;
    let text = |i: usize| {
        row.get(i)
            .and_then(|c| c.as_ref())
            .map(|b| String::from_utf8_lossy(b).into_owned())
    };
    let consistent_point =
        text(1)
            .and_then(|s| Lsn::parse(&s))
            .ok_or_else(|| PgSourceError::Precondition {
                problem: "CREATE_REPLICATION_SLOT returned no consistent point".into(),
                hint: "check the server log".into(),
            })?;
    tracing::info!(slot, consistent_point = %consistent_point, "replication slot created");
    Ok(CreatedSlot {
        consistent_point,
        snapshot_name: text(2),
    })
}
