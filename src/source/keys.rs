//! Which columns key a table's records: one rule for every source.
//!
//! Order of choice, as Debezium makes it: the configured `key_columns` of the table
//! (Debezium's `message.key.columns`); else the primary key; else the source's fallback (the
//! replica-identity index on PostgreSQL, the first unique index of NOT NULL columns on
//! MySQL/MariaDB); else no key. A table without a key produces records with a null Kafka key,
//! which a compacted topic refuses: the sink gives such tables `cleanup.policy=delete`.

use std::collections::{BTreeMap, HashMap};

use crate::event::TableId;

/// Configured key columns per table.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyOverrides(HashMap<TableId, Vec<String>>);

impl KeyOverrides {
    /// From a source's `key_columns` setting (names validated at config load).
    pub(crate) fn new(config: &BTreeMap<String, Vec<String>>) -> Self {
        Self(
            config
                .iter()
                .filter_map(|(t, cols)| {
                    let (ns, name) = crate::config::parse_table_name(t)?;
                    Some((TableId::new(ns, name), cols.clone()))
                })
                .collect(),
        )
    }

    /// The key column names of `table`: configured, else `primary`, else `fallback`.
    /// Fails with the first configured column the table does not have.
    pub(crate) fn choose<'a>(
        &self,
        table: &TableId,
        columns: impl IntoIterator<Item = &'a str> + Clone,
        primary: Vec<String>,
        fallback: impl FnOnce() -> Vec<String>,
    ) -> Result<Vec<String>, String> {
        if let Some(cols) = self.0.get(table) {
            if let Some(missing) = cols
                .iter()
                .find(|c| !columns.clone().into_iter().any(|have| have == c.as_str()))
            {
                return Err(missing.clone());
            }
            return Ok(cols.clone());
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
        assert_eq!(k.choose(&t, ["a"], Vec::new(), Vec::new), Err("b".into()));
    }
}
