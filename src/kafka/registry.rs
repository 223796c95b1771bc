//! A Confluent Schema Registry client for the Avro formats: registers a record's Avro schema
//! under its subject on first use (and whenever a table's shape changes, since a new shape
//! is a new schema), caches the ids, and speaks only the REST subset every
//! Confluent-compatible registry serves (`POST /subjects/{subject}/versions`).
//!
//! Invariants: a schema id is returned only after the registry accepted the schema under the
//! subject; an outage (connection failure, HTTP 5xx, 408/429) is retried with backoff inside
//! [`Registry::id`] for up to [`RETRY_FOR`], so events wait and are never reordered; a
//! refusal (HTTP 409 incompatible, 422 invalid, 401/403) is a definite error naming the
//! subject and carrying the registry's message. Credentials are never logged.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use secrecy::ExposeSecret;

use crate::config::{SchemaRegistrySettings, SubjectNameStrategy};

/// How long an unreachable registry is retried before the batch fails (the connector then
/// restarts from its last checkpoint, so nothing is lost either way).
const RETRY_FOR: Duration = Duration::from_secs(60);

/// Registry failures.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry refused the schema (incompatible, invalid) or the credentials.
    #[error("schema registry refused subject {subject} (HTTP {status}): {message}")]
    Refused {
        /// The subject.
        subject: String,
        /// HTTP status.
        status: u16,
        /// The registry's own message.
        message: String,
    },
    /// The registry did not answer usefully for [`RETRY_FOR`].
    #[error("schema registry at {url} unavailable while registering subject {subject}: {reason}")]
    Unavailable {
        /// Base URL.
        url: String,
        /// The subject.
        subject: String,
        /// The last failure.
        reason: String,
    },
    /// The client could not be built (bad CA file).
    #[error("schema registry client: {0}")]
    Config(String),
}

/// Which part of a record a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// The Kafka key.
    Key,
    /// The Kafka value.
    Value,
}

/// The subject a schema is registered under.
pub fn subject(strategy: SubjectNameStrategy, topic: &str, part: Part, full_name: &str) -> String {
    let suffix = match part {
        Part::Key => "key",
        Part::Value => "value",
    };
    match strategy {
        SubjectNameStrategy::Topic => format!("{topic}-{suffix}"),
        SubjectNameStrategy::Record => full_name.to_string(),
        SubjectNameStrategy::TopicRecord => format!("{topic}-{full_name}"),
    }
}

/// A registry client with its id cache.
pub struct Registry {
    client: reqwest::Client,
    url: String,
    auth: Option<String>,
    /// (subject, schema text) → id.
    ids: HashMap<(String, Arc<str>), u32>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A client for `s` (no request is made yet).
    pub fn new(s: &SchemaRegistrySettings) -> Result<Self, RegistryError> {
        let mut b = reqwest::Client::builder().timeout(Duration::from_millis(s.request_timeout_ms));
        if let Some(ca) = &s.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                RegistryError::Config(format!("cannot read schema_registry.ca_file: {e}"))
            })?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                RegistryError::Config(format!("schema_registry.ca_file is not PEM: {e}"))
            })?;
            b = b.add_root_certificate(cert);
        }
        let client = b
            .build()
            .map_err(|e| RegistryError::Config(e.without_url().to_string()))?;
        let auth = s.username.as_ref().map(|u| {
            let pw = s
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_string())
                .unwrap_or_default();
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{pw}"))
            )
        });
        Ok(Self {
            client,
            url: s.url.trim_end_matches('/').to_string(),
            auth,
            ids: HashMap::new(),
        })
    }

    /// The id of `schema` under `subject`, registering it on first use.
    pub async fn id(&mut self, subject: &str, schema: &Arc<str>) -> Result<u32, RegistryError> {
        let key = (subject.to_string(), Arc::clone(schema));
        if let Some(id) = self.ids.get(&key) {
            return Ok(*id);
        }
        let id = self.register(subject, schema).await?;
        if self.ids.len() >= 4096 {
            self.ids.clear();
        }
        self.ids.insert(key, id);
        Ok(id)
    }

    async fn register(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let url = format!("{}/subjects/{}/versions", self.url, percent_encode(subject));
        let body = serde_json::json!({ "schema": schema }).to_string();
        let (status, answer) = self
            .call(subject, || self.client.post(&url).body(body.clone()))
            .await?;
        answer["id"]
            .as_u64()
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| RegistryError::Refused {
                subject: subject.into(),
                status,
                message: "the answer has no schema id".into(),
            })
    }

    /// The schema registered under `id` (for reading Avro records).
    pub async fn schema(&self, id: u32) -> Result<String, RegistryError> {
        let url = format!("{}/schemas/ids/{id}", self.url);
        let what = format!("(schema id {id})");
        let (status, answer) = self.call(&what, || self.client.get(&url)).await?;
        answer["schema"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| RegistryError::Refused {
                subject: what,
                status,
                message: "the answer has no schema".into(),
            })
    }

    /// One request, retried while the registry is unavailable; a refusal is definite.
    async fn call(
        &self,
        subject: &str,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<(u16, serde_json::Value), RegistryError> {
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            let mut req = request()
                .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                .header("Accept", "application/vnd.schemaregistry.v1+json");
            if let Some(a) = &self.auth {
                req = req.header("Authorization", a);
            }
            let failure = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let text = resp.text().await.unwrap_or_default();
                    let parsed: serde_json::Value =
                        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
                    if (200..300).contains(&status) {
                        return Ok((status, parsed));
                    }
                    let message = parsed["message"]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| text.chars().take(300).collect());
                    if status >= 500 || status == 408 || status == 429 {
                        format!("HTTP {status}: {message}")
                    } else {
                        return Err(RegistryError::Refused {
                            subject: subject.into(),
                            status,
                            message,
                        });
                    }
                }
                Err(e) => e.without_url().to_string(),
            };
            if started.elapsed() >= RETRY_FOR {
                return Err(RegistryError::Unavailable {
                    url: self.url.clone(),
                    subject: subject.into(),
                    reason: failure,
                });
            }
            attempt += 1;
            if attempt == 1 {
                tracing::warn!(url = %self.url, subject, reason = %failure, "schema registry unavailable; retrying (events wait, in order)");
            }
            tokio::time::sleep(Duration::from_millis((100u64 << attempt.min(5)).min(3_000))).await;
        }
    }
}

/// Percent-encode a subject for a URL path segment.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_by_strategy() {
        let n = "srv.public.t.Envelope";
        assert_eq!(
            subject(SubjectNameStrategy::Topic, "srv.public.t", Part::Value, n),
            "srv.public.t-value"
        );
        assert_eq!(
            subject(SubjectNameStrategy::Topic, "srv.public.t", Part::Key, n),
            "srv.public.t-key"
        );
        assert_eq!(
            subject(SubjectNameStrategy::Record, "srv.public.t", Part::Value, n),
            n
        );
        assert_eq!(
            subject(
                SubjectNameStrategy::TopicRecord,
                "srv.public.t",
                Part::Value,
                n
            ),
            "srv.public.t-srv.public.t.Envelope"
        );
        assert_eq!(percent_encode("a b/c-value"), "a%20b%2Fc-value");
    }
}
