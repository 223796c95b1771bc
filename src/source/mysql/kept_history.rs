//! The schema history kept with the offsets: the captured tables' shapes as of binlog
//! positions, so a restart continues from the shapes its checkpoint saw, not from the
//! catalog (which may already show later DDL and knows less than the statements: defaults,
//! `AUTO_INCREMENT`, the order of changes). Debezium keeps a history topic for this; sluice
//! keeps only the captured tables, a few entries, in the same store as the checkpoint (the
//! offsets file's directory or the offsets topic).
//!
//! Invariants:
//! - An entry is saved (durably) while its DDL is handled, before the batch holding the DDL
//!   leaves the source, so no checkpoint at or after its position can be saved without it.
//! - A restart takes the newest entry at or before the checkpoint; entries before the
//!   acknowledged checkpoint are dropped except the newest of them.
//! - A history that cannot be read is a warning, never a halt: the catalog's shapes are
//!   used, as before the history was kept.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::history::Shapes;
use super::incremental::Coord;
use crate::event::{TableDdl, TableId};
use crate::offsets::{OffsetError, OffsetStore};

/// The document's name in the offsets store.
pub(super) const DOC: &str = "schema_history";

#[derive(Debug, Serialize, Deserialize)]
struct Doc {
    version: u32,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    file: String,
    pos: u64,
    tables: Vec<KeptTable>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeptTable {
    database: String,
    table: String,
    shape: TableDdl,
}

impl Entry {
    fn at(&self) -> Coord {
        Coord {
            file: Arc::from(self.file.as_str()),
            pos: self.pos,
        }
    }
}

/// See the module docs.
#[derive(Debug)]
pub(super) struct KeptHistory {
    offsets: OffsetStore,
    entries: Vec<Entry>,
}

impl KeptHistory {
    /// The history saved for this connector, `saved` as read with the checkpoint (empty when
    /// none, or unreadable: warned).
    pub(super) fn from_saved(
        offsets: &OffsetStore,
        connector: &str,
        saved: Option<Vec<u8>>,
    ) -> Self {
        let entries = match saved {
            None => Vec::new(),
            Some(bytes) => match serde_json::from_slice::<Doc>(&bytes) {
                Ok(d) if d.version == 1 => d.entries,
                Ok(d) => {
                    tracing::warn!(connector, version = d.version, "the kept schema history has an unknown version; using the catalog's shapes");
                    Vec::new()
                }
                Err(e) => {
                    tracing::warn!(connector, error = %e, "the kept schema history cannot be read; using the catalog's shapes");
                    Vec::new()
                }
            },
        };
        Self {
            offsets: offsets.clone(),
            entries,
        }
    }

    /// The shapes as of `file`/`pos` (the newest entry at or before it), if any was kept.
    pub(super) fn shapes_at(&self, file: &str, pos: u64) -> Option<Shapes> {
        let at = Coord {
            file: Arc::from(file),
            pos,
        };
        let e = self
            .entries
            .iter()
            .filter(|e| e.at() <= at)
            .max_by(|a, b| a.at().cmp(&b.at()))?;
        Some(
            e.tables
                .iter()
                .map(|t| {
                    (
                        TableId::new(t.database.clone(), t.table.clone()),
                        Arc::new(t.shape.clone()),
                    )
                })
                .collect(),
        )
    }

    /// Keep `shapes` as of `file`/`pos` and save the history; `acked` is the acknowledged
    /// checkpoint (older entries but the newest of them are dropped), `fresh` forgets every
    /// entry first (a new snapshot).
    pub(super) fn record(
        &mut self,
        (file, pos): (&str, u64),
        shapes: &Shapes,
        acked: Option<(&str, u64)>,
        fresh: bool,
    ) -> Result<(), OffsetError> {
        if fresh {
            self.entries.clear();
        }
        let mut tables: Vec<KeptTable> = shapes
            .iter()
            .map(|(id, s)| KeptTable {
                database: id.namespace.to_string(),
                table: id.name.to_string(),
                shape: (**s).clone(),
            })
            .collect();
        tables.sort_by(|a, b| (&a.database, &a.table).cmp(&(&b.database, &b.table)));
        let entry = Entry {
            file: file.to_string(),
            pos,
            tables,
        };
        let at = entry.at();
        self.entries.retain(|e| e.at() < at);
        self.entries.push(entry);
        if let Some((f, p)) = acked {
            let acked = Coord {
                file: Arc::from(f),
                pos: p,
            };
            // The newest entry at or before the acknowledged checkpoint stays: a restart
            // from it needs it.
            let base = self
                .entries
                .iter()
                .filter(|e| e.at() <= acked)
                .map(Entry::at)
                .max();
            if let Some(base) = base {
                self.entries.retain(|e| e.at() >= base);
            }
        }
        let body = serde_json::to_vec(&Doc {
            version: 1,
            entries: self.entries.clone(),
        })
        .map_err(|e| OffsetError::Io {
            path: self.offsets.path().to_path_buf(),
            source: std::io::Error::other(e),
        })?;
        self.offsets.save_doc(DOC, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The history as a start reads it: with the checkpoint, in one read.
    fn load(store: &OffsetStore) -> KeptHistory {
        let saved = store.load_with(&[DOC]).expect("load").docs.pop().flatten();
        KeptHistory::from_saved(store, "c", saved)
    }

    fn shapes(cols: &[&str]) -> Shapes {
        let mut s = Shapes::new();
        s.insert(
            TableId::new("db", "t"),
            Arc::new(TableDdl {
                columns: cols
                    .iter()
                    .enumerate()
                    .map(|(i, c)| crate::event::DdlColumn {
                        name: c.to_string(),
                        position: i as i32 + 1,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
        );
        s
    }

    fn names(s: &Shapes) -> Vec<String> {
        s[&TableId::new("db", "t")]
            .columns
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }

    /// A restart takes the newest entry at or before its checkpoint (binlog files compared
    /// as the server numbers them); pruning keeps what a restart from the acknowledged
    /// checkpoint needs; the history survives a reload from the store.
    #[test]
    fn entries_by_position() {
        let dir = tempfile::tempdir().expect("dir");
        let store = OffsetStore::new(dir.path(), "c");
        let mut h = load(&store);
        assert!(h.shapes_at("bin.000001", 4).is_none());
        h.record(("bin.000009", 100), &shapes(&["a"]), None, true)
            .expect("save");
        h.record(("bin.000010", 50), &shapes(&["a", "b"]), None, false)
            .expect("save");
        h.record(
            ("bin.000010", 900),
            &shapes(&["b"]),
            Some(("bin.000010", 60)),
            false,
        )
        .expect("save");
        let h = load(&store);
        assert!(
            h.shapes_at("bin.000009", 99).is_none(),
            "the first entry was pruned"
        );
        assert_eq!(
            names(&h.shapes_at("bin.000010", 60).expect("at")),
            ["a", "b"]
        );
        assert_eq!(names(&h.shapes_at("bin.000010", 900).expect("at")), ["b"]);
        assert_eq!(names(&h.shapes_at("bin.000011", 4).expect("at")), ["b"]);
        std::fs::write(dir.path().join("c.schema_history.json"), b"{not json").expect("w");
        let h = load(&store);
        assert!(h.shapes_at("bin.000011", 4).is_none());
    }
}
