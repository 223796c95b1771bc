//! Key and value formats: JSON as the envelope wrote it, or Avro with registered schema ids.

use std::collections::HashMap;

use super::KafkaSinkError;
use crate::config::RecordFormat;
use crate::envelope::avro::{AvroShape, Wrapped};
use crate::envelope::{Form, Record};

/// How records leave the sink. With a part in Avro, the envelope writes change events in
/// their final form (Avro parts straight from the event), and the sink fills in each Avro
/// part's registered schema id; other records (markers, and an event its Avro schema does not
/// fit) come as JSON with schemas, whose Connect schema says how to write each Avro part, and
/// a JSON part without `schemas_enable` is unwrapped again.
pub(super) struct Formats {
    pub(super) key: RecordFormat,
    pub(super) value: RecordFormat,
    pub(super) json_schemas: bool,
    /// Set when key or value is Avro.
    pub(super) avro: Option<AvroOut>,
}

pub(super) struct AvroOut {
    registry: crate::kafka::registry::Registry,
    strategy: crate::config::SubjectNameStrategy,
    /// Avro shapes by their Connect schema text (a topic's schema repeats in every record).
    shapes: HashMap<String, std::sync::Arc<AvroShape>>,
    /// The last few (topic, part, Connect schema) with their shape and registered id.
    recent: Vec<Recent>,
    /// Registered ids of the shapes the envelope built, by shape (held here, so an address
    /// is not reused while it is a key) and part, with the topic they were registered for.
    ids: HashMap<(usize, crate::kafka::registry::Part), Known>,
}

/// A shape's registered id (see [`AvroOut::ids`]).
struct Known {
    _shape: std::sync::Arc<AvroShape>,
    topic: std::sync::Arc<str>,
    id: u32,
}

struct Recent {
    topic: std::sync::Arc<str>,
    part: crate::kafka::registry::Part,
    connect: String,
    shape: std::sync::Arc<AvroShape>,
    id: u32,
}

impl Formats {
    /// Rewrite each record's key and value into their formats.
    pub(super) async fn apply(&mut self, records: &mut [Record]) -> Result<(), KafkaSinkError> {
        use crate::kafka::registry::Part;
        let Formats {
            key,
            value,
            json_schemas,
            avro: Some(out),
        } = self
        else {
            return Ok(());
        };
        for rec in records {
            if let Form::Final {
                key: key_shape,
                value: value_shape,
            } = &rec.form
            {
                for (slot, shape, part) in [
                    (&mut rec.key, key_shape, Part::Key),
                    (&mut rec.value, value_shape, Part::Value),
                ] {
                    if let (Some(bytes), Some(shape)) = (slot.as_mut(), shape) {
                        let id = out.id_of(&rec.topic, part, shape).await?;
                        if let Some(at) = bytes.get_mut(1..5) {
                            at.copy_from_slice(&id.to_be_bytes());
                        }
                    }
                }
                continue;
            }
            for (part, format) in [(Part::Key, *key), (Part::Value, *value)] {
                let slot = match part {
                    Part::Key => &mut rec.key,
                    Part::Value => &mut rec.value,
                };
                let Some(bytes) = slot.as_ref() else { continue };
                let avro_error = |source| KafkaSinkError::Avro {
                    topic: rec.topic.to_string(),
                    source,
                };
                let bad = |e: serde_json::Error| {
                    avro_error(crate::envelope::avro::AvroError::Schema {
                        path: "(record)".into(),
                        reason: format!("the envelope's JSON does not parse: {e}"),
                    })
                };
                let encoded = match format {
                    RecordFormat::Json if *json_schemas => continue,
                    RecordFormat::Json => {
                        let w: Wrapped<'_> = serde_json::from_slice(bytes).map_err(bad)?;
                        w.payload.get().as_bytes().to_vec()
                    }
                    RecordFormat::Avro => {
                        let (shape, id, payload) = match out.recent_hit(&rec.topic, part, bytes) {
                            Some(hit) => hit,
                            None => {
                                let w: Wrapped<'_> = serde_json::from_slice(bytes).map_err(bad)?;
                                if w.schema.get() == "null" {
                                    *slot = None;
                                    continue;
                                }
                                let (shape, id) = out
                                    .learn(&rec.topic, part, w.schema.get())
                                    .await
                                    .map_err(|e| match e {
                                        Learn::Json(e) => bad(e),
                                        Learn::Avro(e) => avro_error(e),
                                        Learn::Registry(e) => e.into(),
                                    })?;
                                (shape, id, w.payload.get())
                            }
                        };
                        let mut encoded = Vec::with_capacity(bytes.len() / 4);
                        shape
                            .encode_text(payload, id, &mut encoded)
                            .map_err(avro_error)?;
                        encoded
                    }
                };
                *slot = Some(encoded);
            }
        }
        Ok(())
    }
}

/// Why a new Connect schema could not be registered as Avro.
enum Learn {
    Json(serde_json::Error),
    Avro(crate::envelope::avro::AvroError),
    Registry(crate::kafka::registry::RegistryError),
}

impl AvroOut {
    pub(super) fn new(
        registry: crate::kafka::registry::Registry,
        strategy: crate::config::SubjectNameStrategy,
    ) -> Self {
        Self {
            registry,
            strategy,
            shapes: HashMap::new(),
            recent: Vec::new(),
            ids: HashMap::new(),
        }
    }

    /// The shape, id and payload of a record whose Connect schema is one of the recent ones
    /// of its topic and part, found by comparing bytes (no JSON scan of the schema).
    fn recent_hit<'b>(
        &self,
        topic: &str,
        part: crate::kafka::registry::Part,
        record: &'b [u8],
    ) -> Option<(std::sync::Arc<AvroShape>, u32, &'b str)> {
        self.recent
            .iter()
            .rev()
            .filter(|r| r.part == part && &*r.topic == topic)
            .find_map(|r| {
                crate::envelope::avro::payload_after(record, &r.connect)
                    .map(|p| (std::sync::Arc::clone(&r.shape), r.id, p))
            })
    }

    /// The shape (cached by Connect schema text) and registered id of a Connect schema not
    /// among the recent ones, which it then joins.
    async fn learn(
        &mut self,
        topic: &std::sync::Arc<str>,
        part: crate::kafka::registry::Part,
        connect: &str,
    ) -> Result<(std::sync::Arc<AvroShape>, u32), Learn> {
        let shape = match self.shapes.get(connect) {
            Some(s) => std::sync::Arc::clone(s),
            None => {
                let parsed: serde_json::Value =
                    serde_json::from_str(connect).map_err(Learn::Json)?;
                let shape =
                    std::sync::Arc::new(AvroShape::from_connect(&parsed).map_err(Learn::Avro)?);
                if self.shapes.len() >= 1024 {
                    self.shapes.clear();
                }
                self.shapes
                    .insert(connect.to_string(), std::sync::Arc::clone(&shape));
                shape
            }
        };
        let id = self
            .register(topic, part, &shape)
            .await
            .map_err(Learn::Registry)?;
        if self.recent.len() >= 16 {
            self.recent.remove(0);
        }
        self.recent.push(Recent {
            topic: std::sync::Arc::clone(topic),
            part,
            connect: connect.to_string(),
            shape: std::sync::Arc::clone(&shape),
            id,
        });
        Ok((shape, id))
    }

    /// The registered id of a shape the envelope built (one per table and schema version).
    async fn id_of(
        &mut self,
        topic: &std::sync::Arc<str>,
        part: crate::kafka::registry::Part,
        shape: &std::sync::Arc<AvroShape>,
    ) -> Result<u32, crate::kafka::registry::RegistryError> {
        let key = (std::sync::Arc::as_ptr(shape) as usize, part);
        if let Some(k) = self.ids.get(&key).filter(|k| k.topic == *topic) {
            return Ok(k.id);
        }
        let id = self.register(topic, part, shape).await?;
        if self.ids.len() >= 4096 {
            self.ids.clear();
        }
        self.ids.insert(
            key,
            Known {
                _shape: std::sync::Arc::clone(shape),
                topic: std::sync::Arc::clone(topic),
                id,
            },
        );
        Ok(id)
    }

    /// Register (or look up) `shape` under its subject.
    async fn register(
        &mut self,
        topic: &str,
        part: crate::kafka::registry::Part,
        shape: &AvroShape,
    ) -> Result<u32, crate::kafka::registry::RegistryError> {
        let subject = crate::kafka::registry::subject(self.strategy, topic, part, &shape.full_name);
        self.registry.id(&subject, &shape.schema).await
    }
}
