//! Durable connector progress: one JSON file per connector, replaced atomically, or one
//! record per connector in a compacted Kafka topic (`kafka.rs`).
//!
//! Write order (the pipeline guarantees it): sink durable → [`OffsetStore::save`] → source ack.
//! A file save writes `<name>.json.tmp`, fsyncs it, renames it over `<name>.json` and fsyncs
//! the directory, so a crash leaves either the old or the new file, never a torn one. A Kafka
//! save returns once the broker acknowledged the record (`acks=all`).

mod kafka;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::event::Checkpoint;

/// Offset file I/O failed. Reading a corrupt file is definite; write failures are transient.
#[derive(Debug, thiserror::Error)]
pub enum OffsetError {
    /// The file or directory could not be read or written.
    #[error("offsets file {path}: i/o failed")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but is not valid.
    #[error("offsets file {path} is corrupt; fix: restore it from a backup or delete it to start over (re-snapshot)")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The offsets topic could not be read or written (brokers unreachable, a timeout).
    #[error("offsets topic {topic}: {detail}")]
    Kafka {
        /// The topic.
        topic: String,
        /// What failed, in librdkafka's words (no values).
        detail: String,
    },
    /// The offsets topic exists but is not compacted: old checkpoints would be deleted by
    /// retention, and with them the connector's position.
    #[error("offsets topic {topic} has cleanup.policy={policy}, not compact")]
    NotCompacted {
        /// The topic.
        topic: String,
        /// Its cleanup policy.
        policy: String,
    },
}

impl OffsetError {
    /// What the operator should do.
    pub fn hint(&self) -> String {
        match self {
            OffsetError::Io { .. } => "check that service.offsets_dir is writable".into(),
            OffsetError::Corrupt { .. } => self.to_string(),
            OffsetError::Kafka { .. } => {
                "check that the sink's brokers are reachable and the principal may read, write and describe the offsets topic; sluice retries".into()
            }
            OffsetError::NotCompacted { topic, .. } => format!(
                "make the topic compacted (kafka-configs --alter --entity-type topics --entity-name {topic} --add-config cleanup.policy=compact) or name another service.offsets.topic"
            ),
        }
    }
}

/// What is stored for one connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredOffsets {
    /// Connector name (guards against a file copied to the wrong name).
    pub connector: String,
    /// Last acknowledged checkpoint.
    pub checkpoint: Checkpoint,
}

/// The offset store of one connector: a file, or a record in a compacted Kafka topic.
/// What [`OffsetStore::load_with`] read.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The stored checkpoint, if any.
    pub checkpoint: Option<Checkpoint>,
    /// Each asked-for document, in the order asked (`None`: never saved).
    pub docs: Vec<Option<Vec<u8>>>,
}

#[derive(Debug, Clone)]
pub struct OffsetStore {
    dir: PathBuf,
    path: PathBuf,
    connector: String,
    kafka: Option<Arc<kafka::KafkaOffsets>>,
}

impl OffsetStore {
    /// A store for `connector` under `dir` (created on first save).
    pub fn new(dir: &Path, connector: &str) -> Self {
        Self {
            dir: dir.to_path_buf(),
            path: dir.join(format!("{connector}.json")),
            connector: connector.to_string(),
            kafka: None,
        }
    }

    /// A store for `connector` in the compacted topic `topic` of the brokers `client`
    /// reaches: the topic is created when missing, and refused when not compacted.
    pub async fn kafka(
        client: rdkafka::ClientConfig,
        topic: &str,
        connector: &str,
    ) -> Result<Self, OffsetError> {
        let k = kafka::KafkaOffsets::prepare(client, topic).await?;
        Ok(Self {
            dir: PathBuf::new(),
            path: PathBuf::from(format!("kafka:{topic}/{connector}")),
            connector: connector.to_string(),
            kafka: Some(k),
        })
    }

    /// The record that stores `checkpoint` in the offsets topic (Kafka store only): a
    /// transactional sink writes it in the batch's transaction (exactly-once).
    pub fn record(&self, checkpoint: &Checkpoint) -> Option<crate::envelope::Record> {
        let k = self.kafka.as_ref()?;
        let body = serde_json::to_vec(&StoredOffsets {
            connector: self.connector.clone(),
            checkpoint: checkpoint.clone(),
        })
        .ok()?;
        Some(crate::envelope::Record {
            topic: std::sync::Arc::from(k.topic()),
            key: Some(self.key().into_bytes()),
            value: Some(body),
            headers: Vec::new(),
            form: crate::envelope::Form::Final {
                key: None,
                value: None,
            },
        })
    }

    /// Run blocking Kafka I/O without stalling the async runtime's other tasks.
    fn blocking<T>(f: impl FnOnce() -> T) -> T {
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(f)
            }
            _ => f(),
        }
    }

    /// The connector's key in the offsets topic: its name as a JSON string.
    fn key(&self) -> String {
        serde_json::Value::from(self.connector.as_str()).to_string()
    }

    fn decode(&self, bytes: &[u8]) -> Result<Checkpoint, OffsetError> {
        let stored: StoredOffsets =
            serde_json::from_slice(bytes).map_err(|source| OffsetError::Corrupt {
                path: self.path.clone(),
                source,
            })?;
        Ok(stored.checkpoint)
    }

    /// The offsets file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored checkpoint, if any.
    pub fn load(&self) -> Result<Option<Checkpoint>, OffsetError> {
        Ok(self.load_with(&[])?.checkpoint)
    }

    /// The stored checkpoint and the documents `docs` (see [`OffsetStore::load_doc`]), in
    /// one read of the offsets topic with the Kafka store.
    pub fn load_with(&self, docs: &[&str]) -> Result<Loaded, OffsetError> {
        if let Some(k) = &self.kafka {
            let mut keys = vec![self.key()];
            keys.extend(docs.iter().map(|d| self.doc_key(d)));
            let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
            let mut values = Self::blocking(|| k.get_many(&refs))?.into_iter();
            let checkpoint = match values.next().flatten() {
                Some(b) => Some(self.decode(&b)?),
                None => None,
            };
            return Ok(Loaded {
                checkpoint,
                docs: values.collect(),
            });
        }
        let mut loaded = Loaded {
            checkpoint: self.load_file()?,
            docs: Vec::with_capacity(docs.len()),
        };
        for d in docs {
            loaded.docs.push(self.load_doc(d)?);
        }
        Ok(loaded)
    }

    fn load_file(&self) -> Result<Option<Checkpoint>, OffsetError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(OffsetError::Io {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        self.decode(&bytes).map(Some)
    }

    /// [`OffsetStore::load`], given up when `shutdown` turns true first (then `None`): a
    /// slow offsets topic never holds a connector that is asked to stop (the read goes on in
    /// the background and ends within its own timeout).
    pub async fn load_or_stop(
        &self,
        shutdown: &tokio::sync::watch::Receiver<bool>,
    ) -> Result<Option<Option<Checkpoint>>, OffsetError> {
        Ok(self
            .load_or_stop_with(shutdown, &[])
            .await?
            .map(|l| l.checkpoint))
    }

    /// [`OffsetStore::load_with`], given up when `shutdown` turns true first (then `None`).
    pub async fn load_or_stop_with(
        &self,
        shutdown: &tokio::sync::watch::Receiver<bool>,
        docs: &'static [&'static str],
    ) -> Result<Option<Loaded>, OffsetError> {
        let store = self.clone();
        let load = tokio::task::spawn_blocking(move || store.load_with(docs));
        let mut shutdown = shutdown.clone();
        tokio::select! {
            r = load => r
                .unwrap_or_else(|_| Err(OffsetError::Io {
                    path: self.path.clone(),
                    source: std::io::Error::other("the offsets read ended abnormally"),
                }))
                .map(Some),
            _ = shutdown.wait_for(|s| *s) => Ok(None),
        }
    }

    /// Atomically replace the stored checkpoint.
    pub fn save(&self, checkpoint: &Checkpoint) -> Result<(), OffsetError> {
        let io = |source| OffsetError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(k) = &self.kafka {
            let body = serde_json::to_vec(&StoredOffsets {
                connector: self.connector.clone(),
                checkpoint: checkpoint.clone(),
            })
            .map_err(|e| io(std::io::Error::other(e)))?;
            return Self::blocking(|| k.put(&self.key(), Some(&body)));
        }
        let body = serde_json::to_vec_pretty(&StoredOffsets {
            connector: self.connector.clone(),
            checkpoint: checkpoint.clone(),
        })
        .map_err(|e| io(std::io::Error::other(e)))?;
        self.write_atomically(&self.path, &body)
    }

    /// Write `body` to `path` atomically: a private temporary file, fsync, rename, fsync of
    /// the directory (created private when missing).
    fn write_atomically(&self, path: &Path, body: &[u8]) -> Result<(), OffsetError> {
        use std::io::Write as _;
        let io = |source| OffsetError::Io {
            path: path.to_path_buf(),
            source,
        };
        if !self.dir.exists() {
            // Offsets reveal positions and table names: only the owner may read them.
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(&self.dir).map_err(io)?;
        }
        let tmp = path.with_extension("json.tmp");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(io)?;
        #[cfg(unix)]
        {
            // An existing file keeps its old mode on open: set it.
            use std::os::unix::fs::PermissionsExt as _;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io)?;
        }
        f.write_all(body).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(io)?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        Ok(())
    }

    /// A document kept beside the checkpoint under `name` (the MySQL schema history):
    /// `<connector>.<name>.json` in `offsets_dir`, or the key `["<connector>","<name>"]` in
    /// the offsets topic. `None` when never saved.
    pub fn load_doc(&self, name: &str) -> Result<Option<Vec<u8>>, OffsetError> {
        if let Some(k) = &self.kafka {
            return Self::blocking(|| k.get(&self.doc_key(name)));
        }
        let path = self.doc_path(name);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(OffsetError::Io { path, source }),
        }
    }

    /// Replace the document `name` (see [`OffsetStore::load_doc`]); durable on return.
    pub fn save_doc(&self, name: &str, body: &[u8]) -> Result<(), OffsetError> {
        if let Some(k) = &self.kafka {
            return Self::blocking(|| k.put(&self.doc_key(name), Some(body)));
        }
        self.write_atomically(&self.doc_path(name), body)
    }

    fn doc_key(&self, name: &str) -> String {
        serde_json::json!([self.connector, name]).to_string()
    }

    fn doc_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{}.{name}.json", self.connector))
    }

    /// Remove the stored offsets (used when a snapshot must start over).
    pub fn clear(&self) -> Result<(), OffsetError> {
        if let Some(k) = &self.kafka {
            return Self::blocking(|| k.put(&self.key(), None));
        }
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(OffsetError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Lsn;

    /// Saved checkpoints load back; a corrupt file is a definite error, not a silent reset.
    #[test]
    fn save_load_corrupt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = OffsetStore::new(dir.path(), "c1");
        assert_eq!(store.load().expect("empty load"), None);
        let cp = Checkpoint::postgres(Lsn(0x1_0000_0010), true);
        store.save(&cp).expect("save");
        assert_eq!(store.load().expect("load"), Some(cp));
        let text = std::fs::read_to_string(store.path()).expect("read");
        assert!(text.contains("\"1/10\""), "{text}");
        std::fs::write(store.path(), b"{not json").expect("write");
        assert!(matches!(store.load(), Err(OffsetError::Corrupt { .. })));
        store.clear().expect("clear");
        assert_eq!(store.load().expect("load after clear"), None);
    }

    /// The offsets file is 0600 in a 0700 directory it creates, whatever the umask.
    #[cfg(unix)]
    #[test]
    fn private_files() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("offsets").join("deeper");
        let store = OffsetStore::new(&sub, "c1");
        store
            .save(&Checkpoint::postgres(Lsn(1), false))
            .expect("save");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&sub), 0o700);
        assert_eq!(mode(store.path()), 0o600);
    }
}
