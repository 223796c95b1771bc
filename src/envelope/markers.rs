//! Records that are not row changes: transaction boundaries (`<prefix>.transaction`),
//! heartbeats, schema changes (`<prefix>`) and logical decoding messages.

use std::sync::Arc;

use super::transaction::{self, OpenTx};
use super::{ddl, effective_type, json, schema, write_moded, write_tx_block};
use super::{EnvelopeEncoder, Form, Record, SourceAt};
use crate::event::Value;
use crate::event::{ColumnType, LogicalMessage, Marker, SchemaChange, SnapshotMarker, TableId};

impl EnvelopeEncoder {
    /// Encode a transaction boundary or message into its records (none for a boundary
    /// without transaction metadata, or for a transaction nothing was written for).
    pub fn encode_marker(&mut self, m: &Marker, out: &mut Vec<Record>) {
        match m {
            Marker::Begin { commit_ts_us } => self.tx = Some(OpenTx::new(*commit_ts_us)),
            Marker::End { position, .. } => {
                let Some(tx) = self.tx.take() else { return };
                if !tx.begun {
                    return;
                }
                let Some(id) = transaction::transaction_id(position) else {
                    return;
                };
                let (key, value) = self.wrap_tx(&id, |id, v| tx.end_payload(id, v));
                out.push(Record::envelope(&self.transaction_topic, key, value));
            }
            Marker::Message(msg) => self.encode_message(msg, out),
            Marker::SchemaChange(c) => self.encode_schema_change(c, out),
            Marker::Heartbeat(cp) => self.encode_heartbeat(cp, out),
        }
    }

    /// The topic of heartbeat records (`__debezium-heartbeat.<prefix>`).
    pub fn heartbeat_topic(&self) -> &str {
        &self.heartbeat_topic
    }

    /// Debezium's heartbeat: key `{"serverName": prefix}`, value `{"ts_ms": now}`, plus the
    /// acknowledged position as the `sluice.position` header (the checkpoint's JSON).
    fn encode_heartbeat(&mut self, cp: &crate::event::Checkpoint, out: &mut Vec<Record>) {
        let mut key = Vec::with_capacity(128);
        let mut value = Vec::with_capacity(128);
        if self.wrap {
            key.extend_from_slice(br#"{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"serverName"}],"optional":false,"name":"io.debezium.connector.common.ServerNameKey","version":1},"payload":"#);
            value.extend_from_slice(br#"{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,"name":"io.debezium.connector.common.Heartbeat","version":1},"payload":"#);
        }
        key.extend_from_slice(br#"{"serverName":"#);
        json::string(&mut key, &self.opts.topic_prefix);
        key.push(b'}');
        value.extend_from_slice(br#"{"ts_ms":"#);
        json::int(&mut value, self.now_ns() / 1_000_000);
        value.push(b'}');
        if self.wrap {
            key.push(b'}');
            value.push(b'}');
        }
        out.push(Record {
            topic: Arc::clone(&self.heartbeat_topic),
            key: Some(key),
            value: Some(value),
            headers: vec![(
                "sluice.position",
                serde_json::to_vec(cp).unwrap_or_default(),
            )],
            form: Form::Envelope,
        });
    }

    /// The topic of schema-change records (`<prefix>`).
    pub fn schema_change_topic(&self) -> &str {
        &self.schema_change_topic
    }

    fn encode_schema_change(&mut self, c: &SchemaChange, out: &mut Vec<Record>) {
        let mut key = Vec::with_capacity(64);
        let mut value = Vec::with_capacity(1024 + c.ddl.len());
        if self.wrap {
            key.extend_from_slice(br#"{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"databaseName"}],"optional":false,"name":"io.debezium.connector.mysql.SchemaChangeKey","version":1},"payload":"#);
            value.extend_from_slice(br#"{"schema":"#);
            value.extend_from_slice(schema::schema_change_schema().as_bytes());
            value.extend_from_slice(br#","payload":"#);
        }
        key.extend_from_slice(br#"{"databaseName":"#);
        json::string(&mut key, &c.database);
        key.push(b'}');
        value.extend_from_slice(br#"{"source":"#);
        let table = TableId::new(c.database.as_str(), c.table.as_deref().unwrap_or(""));
        let snapshot = c.snapshot.then_some(SnapshotMarker::True);
        let at = SourceAt {
            position: &c.position,
            commit_ts_us: c.ts_us,
            snapshot,
            table: &table,
        };
        self.write_source(at, &mut value);
        value.extend_from_slice(br#","ts_ms":"#);
        json::int(&mut value, self.now_ns() / 1_000_000);
        value.extend_from_slice(br#","databaseName":"#);
        json::string(&mut value, &c.database);
        value.extend_from_slice(br#","schemaName":null,"ddl":"#);
        json::string(&mut value, &c.ddl);
        value.extend_from_slice(br#","tableChanges":["#);
        for (i, ch) in c.changes.iter().enumerate() {
            if i > 0 {
                value.push(b',');
            }
            ddl::write_change(&mut value, ch);
        }
        value.extend_from_slice(b"]}");
        if self.wrap {
            key.push(b'}');
            value.push(b'}');
        }
        out.push(Record::envelope(&self.schema_change_topic, key, value));
    }

    fn encode_message(&mut self, msg: &LogicalMessage, out: &mut Vec<Record>) {
        let tx = self.in_transaction(&msg.position, "message", out);
        let mut key = Vec::with_capacity(32 + msg.prefix.len());
        let mut value = Vec::with_capacity(512 + msg.content.len() * 4 / 3);
        let content_ty = effective_type(&ColumnType::Bytes, self.opts.modes);
        if self.wrap {
            key.extend_from_slice(br#"{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"field":"prefix"}],"optional":false,"name":"io.debezium.connector.postgresql.MessageKey","version":1},"payload":"#);
            value.extend_from_slice(br#"{"schema":"#);
            value.extend_from_slice(
                schema::message_schema(self.opts.source_kind, &content_ty).as_bytes(),
            );
            value.extend_from_slice(br#","payload":"#);
        }
        key.extend_from_slice(br#"{"prefix":"#);
        json::string(&mut key, &msg.prefix);
        key.push(b'}');
        value.extend_from_slice(br#"{"op":"m","ts_ms":"#);
        json::int(&mut value, self.now_ns() / 1_000_000);
        value.extend_from_slice(br#","source":"#);
        let table = TableId::new("", "");
        let at = SourceAt {
            position: &msg.position,
            commit_ts_us: msg.commit_ts_us,
            snapshot: None,
            table: &table,
        };
        self.write_source(at, &mut value);
        value.extend_from_slice(br#","transaction":"#);
        write_tx_block(&mut value, tx.as_ref());
        value.extend_from_slice(br#","message":{"prefix":"#);
        json::string(&mut value, &msg.prefix);
        value.extend_from_slice(br#","content":"#);
        write_moded(
            &mut value,
            &content_ty,
            &Value::Bytes(msg.content.clone()),
            self.opts.modes,
        );
        value.extend_from_slice(b"}}");
        if self.wrap {
            key.push(b'}');
            value.push(b'}');
        }
        out.push(Record::envelope(&self.message_topic, key, value));
    }
}
