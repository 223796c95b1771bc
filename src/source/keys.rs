//! Which columns key a table's records: one rule for every source.
//!
//! Order of choice, as Debezium makes it: the configured `key_columns` of the table
//! (Debezium's `message.key.columns`); else the primary key; else the source's fallback (the
//! replica-identity index on PostgreSQL, the first unique index of NOT NULL columns on
//! MySQL/MariaDB); else no key. A table without a key produces records with a null Kafka key,
//! which a compacted topic refuses: the sink gives such tables `cleanup.policy=delete`.

use std::collections::{BTreeMap, HashMap};

use crate::event::TableId;

/// Configured key columns per table, and (PostgreSQL's `publication_filter`) the row filter
/// every read of a table applies, so snapshots read exactly the rows the publication streams.
///
/// At start a configured column the table lacks is an error (validated against the
/// catalog). While streaming, DDL may drop it later: [`KeyOverrides::lenient`] then keys the
/// table as if nothing were configured, with a warning, instead of stopping the stream.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyOverrides {
    tables: HashMap<TableId, Vec<String>>,
    filters: HashMap<TableId, String>,
    lenient: bool,
}

impl KeyOverrides {
    /// From a source's `key_columns` setting (names validated at config load).
    pub(crate) fn new(config: &BTreeMap<String, Vec<String>>) -> Self {
        Self {
            tables: config
                .iter()
                .filter_map(|(t, cols)| {
                    let (ns, name) = crate::config::parse_table_name(t)?;
                    Some((TableId::new(ns, name), cols.clone()))
                })
                .collect(),
            filters: HashMap::new(),
            lenient: false,
        }
    }

    /// With a row filter (an SQL condition) per `schema.table`.
    pub(crate) fn with_filters(mut self, filters: &BTreeMap<String, String>) -> Self {
        self.filters = filters
            .iter()
            .filter_map(|(t, f)| {
                let (ns, name) = crate::config::parse_table_name(t)?;
                Some((TableId::new(ns, name), f.clone()))
            })
            .collect();
        self
    }

    /// The row filter of `table`, if one is configured.
    pub(crate) fn filter(&self, table: &TableId) -> Option<&str> {
        self.filters.get(table).map(String::as_str)
    }

    /// Every configured row filter.
    pub(crate) fn filters(&self) -> &HashMap<TableId, String> {
        &self.filters
    }

    /// The same overrides for re-reads while streaming: a configured column the table no
    /// longer has falls back to the primary key (or the source's fallback).
    pub(crate) fn lenient(&self) -> Self {
        Self {
            tables: self.tables.clone(),
            filters: self.filters.clone(),
            lenient: true,
        }
    }

    /// The key column names of `table`: configured, else `primary`, else `fallback`.
    /// Fails with the first configured column the table does not have (unless lenient).
    pub(crate) fn choose<'a>(
        &self,
        table: &TableId,
        columns: impl IntoIterator<Item = &'a str> + Clone,
        primary: Vec<String>,
        fallback: impl FnOnce() -> Vec<String>,
    ) -> Result<Vec<String>, String> {
        if let Some(cols) = self.tables.get(table) {
            match cols
                .iter()
                .find(|c| !columns.clone().into_iter().any(|have| have == c.as_str()))
            {
                None => return Ok(cols.clone()),
                Some(missing) if !self.lenient => return Err(missing.clone()),
                Some(missing) => tracing::warn!(
                    table = %table,
                    column = %missing,
                    "source.key_columns names a column the table no longer has; keying by its primary key (or replica identity / unique index) until the configuration is fixed"
                ),
            }
        }
        if !primary.is_empty() {
            return Ok(primary);
        }
        Ok(fallback())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Configured columns win over the primary key, the primary key over the fallback.
    #[test]
    fn order_of_choice() {
        let mut cfg = BTreeMap::new();
        cfg.insert("s.t".to_string(), vec!["b".to_string()]);
        let k = KeyOverrides::new(&cfg);
        let t = TableId::new("s", "t");
        let u = TableId::new("s", "u");
        let cols = ["a", "b"];
        assert_eq!(
            k.choose(&t, cols, vec!["a".into()], Vec::new),
            Ok(vec!["b".to_string()])
        );
        assert_eq!(
            k.choose(&u, cols, vec!["a".into()], || vec!["b".into()]),
            Ok(vec!["a".to_string()])
        );
        assert_eq!(
            k.choose(&u, cols, Vec::new(), || vec!["b".into()]),
            Ok(vec!["b".to_string()])
        );
        // A configured column dropped later: an error at start, the primary key while
        // streaming.
        assert_eq!(
            k.choose(&t, ["a"], vec!["a".into()], Vec::new),
            Err("b".to_string())
        );
        assert_eq!(
            k.lenient().choose(&t, ["a"], vec!["a".into()], Vec::new),
            Ok(vec!["a".to_string()])
        );
        assert_eq!(k.choose(&t, ["a"], Vec::new(), Vec::new), Err("b".into()));
    }
}
