//! Search index target: Elasticsearch/OpenSearch `_bulk` over HTTP.
//!
//! ```text
//! changes ─► NDJSON: {"index"|"delete":{_index,_id,version,version_type:external}} [+ doc]
//!         ─► POST /_bulk ─► check EVERY item (200 can carry "errors": true)
//!              2xx, 409 (older version: already applied), 404 on delete → done
//!              429 / 5xx → retried (capped exponential backoff), same order
//!              other 4xx (mapping rejection, ...) → Rejected → dead-letter topic
//! ```

use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::Value as Json;

use std::collections::HashMap;

use super::target::{
    expand, kept_members, missing_members, with_members, Applied, Rejected, TargetError,
};
use crate::config::SearchSettings;
use crate::event::{DocAction, DocChange};

/// Retries of transient item failures inside one apply before giving up to the supervisor.
const ITEM_RETRIES: u32 = 8;

/// Per change index: the stored members kept for its unavailable fields, and whether some
/// had none.
type Stored = HashMap<usize, (Vec<(String, String)>, bool)>;

/// The `_bulk` client.
#[derive(Debug)]
pub struct SearchTarget {
    client: reqwest::Client,
    bulk_url: String,
    mget_url: String,
    index: String,
    auth: Option<String>,
}

fn index_name(raw: &str) -> String {
    let lower = raw.to_lowercase();
    let cleaned: String = lower
        .chars()
        .map(|c| if "\\/*?\"<>| ,#:".contains(c) { '_' } else { c })
        .collect();
    cleaned.trim_start_matches(['-', '_', '+']).to_string()
}

impl SearchTarget {
    /// Build the HTTP client.
    pub fn new(s: &SearchSettings) -> Result<Self, TargetError> {
        let mut b = reqwest::Client::builder().timeout(Duration::from_millis(s.request_timeout_ms));
        if let Some(ca) = &s.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| TargetError::Config(format!("cannot read sink.ca_file: {e}")))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| TargetError::Config(format!("sink.ca_file is not PEM: {e}")))?;
            b = b.add_root_certificate(cert);
        }
        if s.tls_insecure {
            b = b.danger_accept_invalid_certs(true);
        }
        let client = b.build().map_err(|e| TargetError::Http(e.without_url()))?;
        let auth = match (&s.api_key, &s.username) {
            (Some(k), _) => Some(format!("ApiKey {}", k.expose_secret())),
            (None, Some(u)) => {
                use base64::Engine as _;
                let pw = s
                    .password
                    .as_ref()
                    .map(|p| p.expose_secret().to_string())
                    .unwrap_or_default();
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{u}:{pw}"))
                ))
            }
            _ => None,
        };
        Ok(Self {
            client,
            bulk_url: format!("{}/_bulk", s.url.trim_end_matches('/')),
            mget_url: format!("{}/_mget", s.url.trim_end_matches('/')),
            index: s.index.clone(),
            auth,
        })
    }

    /// Send a JSON body with the credentials; a transport error without its URL.
    async fn send_json(
        &self,
        req: reqwest::RequestBuilder,
        body: String,
    ) -> Result<reqwest::Response, TargetError> {
        let mut req = req.header("content-type", "application/json").body(body);
        if let Some(a) = &self.auth {
            req = req.header("authorization", a);
        }
        req.send()
            .await
            .map_err(|e| TargetError::Http(e.without_url()))
    }

    /// The index a change's document is in.
    fn index_of(&self, c: &DocChange) -> String {
        index_name(&expand(&self.index, c))
    }

    /// One `_mget`: for each (index, id, fields to read or `None` for all), the stored
    /// source's text and version, or `None` when there is no such document.
    async fn mget(
        &self,
        docs: &[(String, String, Option<&[String]>)],
    ) -> Result<Vec<Option<(String, i64)>>, TargetError> {
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        let body: Vec<Json> = docs
            .iter()
            .map(|(index, id, fields)| {
                let mut d = serde_json::json!({ "_index": index, "_id": id });
                if let Some(f) = fields {
                    d["_source"] = serde_json::json!(f);
                }
                d
            })
            .collect();
        let resp = self
            .send_json(
                self.client.post(&self.mget_url),
                serde_json::json!({ "docs": body }).to_string(),
            )
            .await?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| TargetError::Http(e.without_url()))?;
        #[derive(serde::Deserialize)]
        struct Found<'a> {
            #[serde(default)]
            found: bool,
            #[serde(borrow, rename = "_source")]
            source: Option<&'a serde_json::value::RawValue>,
            #[serde(default, rename = "_version")]
            version: i64,
        }
        #[derive(serde::Deserialize)]
        struct Mget<'a> {
            #[serde(borrow)]
            docs: Vec<Found<'a>>,
        }
        let parsed: Option<Mget<'_>> = serde_json::from_slice(&bytes).ok();
        let Some(parsed) =
            parsed.filter(|m| (200..300).contains(&status) && m.docs.len() == docs.len())
        else {
            return Err(TargetError::Status {
                status,
                detail: "the _mget of documents to merge into failed".into(),
            });
        };
        Ok(parsed
            .docs
            .iter()
            .map(|d| match (d.found, d.source) {
                (true, Some(src)) => Some((src.get().to_string(), d.version)),
                _ => None,
            })
            .collect())
    }

    /// For each upsert with unavailable fields in `range` (by index), the stored document's
    /// members for them, and whether some had none.
    async fn stored_members(
        &self,
        changes: &[DocChange],
        range: std::ops::Range<usize>,
    ) -> Result<Stored, TargetError> {
        let wanted: Vec<usize> = range
            .filter(|&i| {
                let c = &changes[i];
                !c.unavailable.is_empty() && matches!(c.action, DocAction::Upsert(_))
            })
            .collect();
        let docs: Vec<_> = wanted
            .iter()
            .map(|&i| {
                let c = &changes[i];
                (
                    self.index_of(c),
                    c.id.clone(),
                    Some(c.unavailable.as_slice()),
                )
            })
            .collect();
        let found = self.mget(&docs).await?;
        Ok(wanted
            .iter()
            .zip(found)
            .map(|(&i, f)| {
                let merged = match f {
                    Some((src, _)) => kept_members(&changes[i], &src),
                    None => (Vec::new(), true),
                };
                (i, merged)
            })
            .collect())
    }

    /// Before the delete half of a key change (`c`): the new key's document gets the old
    /// document's members it lacks, written back at its own version (`external_gte`), or,
    /// when the new key holds nothing yet, the old document at version 0 (every record's
    /// version is above 0, so the new key's own records still win).
    async fn seed(&self, c: &DocChange) -> Result<(), TargetError> {
        let Some(to) = &c.moved_to else {
            return Ok(());
        };
        let mut moved = c.clone();
        moved.id.clone_from(to);
        let (old_index, new_index) = (self.index_of(c), self.index_of(&moved));
        for _ in 0..4 {
            let found = self
                .mget(&[
                    (old_index.clone(), c.id.clone(), None),
                    (new_index.clone(), to.clone(), None),
                ])
                .await?;
            let Some((old, _)) = found.first().cloned().flatten() else {
                return Ok(());
            };
            let (text, version) = match found.get(1).cloned().flatten() {
                Some((cur, v)) => {
                    let extra = missing_members(&cur, &old);
                    if extra.is_empty() {
                        return Ok(());
                    }
                    (with_members(&cur, &extra), v)
                }
                None => (old, 0),
            };
            let mut url = reqwest::Url::parse(&self.mget_url)
                .map_err(|_| TargetError::Config("sink.url is not a URL".into()))?;
            url.set_query(Some(&format!(
                "version={version}&version_type=external_gte"
            )));
            if let Ok(mut p) = url.path_segments_mut() {
                p.pop().push(&new_index).push("_doc").push(to);
            }
            let resp = self.send_json(self.client.put(url), text).await?;
            match resp.status().as_u16() {
                200..=299 => return Ok(()),
                // Written or deleted in between: read again.
                409 => continue,
                status => {
                    let body: Json = resp.json_or_null().await;
                    return Err(TargetError::Status {
                        status,
                        detail: error_class(&body),
                    });
                }
            }
        }
        Ok(())
    }

    /// Where the next segment of `changes` from `start` ends: before a change that reads a
    /// document (a merge, or a key change's seed) an earlier change of the segment writes,
    /// so every read sees the writes before it.
    fn segment_end(&self, changes: &[DocChange], start: usize) -> usize {
        let mut written = std::collections::HashSet::new();
        for (i, c) in changes.iter().enumerate().skip(start) {
            let index = self.index_of(c);
            let mut reads = Vec::new();
            if !c.unavailable.is_empty() {
                reads.push(c.id.as_str());
            }
            if let Some(to) = &c.moved_to {
                reads.push(c.id.as_str());
                reads.push(to.as_str());
            }
            if i > start
                && reads
                    .iter()
                    .any(|id| written.contains(&(index.clone(), id.to_string())))
            {
                return i;
            }
            written.insert((index.clone(), c.id.clone()));
            if let Some(to) = &c.moved_to {
                written.insert((index, to.clone()));
            }
        }
        changes.len()
    }

    fn body(&self, changes: &[(usize, &DocChange)], stored: &Stored) -> Vec<u8> {
        let mut out = Vec::with_capacity(changes.len() * 256);
        for &(i, c) in changes {
            let mut meta = serde_json::Map::new();
            meta.insert(
                "_index".into(),
                Json::String(index_name(&expand(&self.index, c))),
            );
            meta.insert("_id".into(), Json::String(c.id.clone()));
            // The record's offset (see `DocChange::version`): a replayed record has the same
            // or a lower one and gets 409, which counts as applied.
            meta.insert("version".into(), Json::from(c.version()));
            meta.insert("version_type".into(), Json::String("external".into()));
            let action = match &c.action {
                DocAction::Upsert(_) => "index",
                DocAction::Delete => "delete",
            };
            let line = serde_json::json!({ action: meta });
            out.extend_from_slice(line.to_string().as_bytes());
            out.push(b'\n');
            if let DocAction::Upsert(doc) = &c.action {
                // The document's exact text (one line: the decoder writes no line breaks),
                // with the stored values of its unavailable fields.
                match stored.get(&i) {
                    Some((extra, _)) => {
                        out.extend_from_slice(with_members(doc.as_str(), extra).as_bytes())
                    }
                    None => out.extend_from_slice(doc.as_str().as_bytes()),
                }
                out.push(b'\n');
            }
        }
        out
    }

    /// Apply in order; see [`super::document`].
    /// An upsert with unavailable fields is merged: the stored document's values for them
    /// are read first (`_mget`) and written back with the change, under the same external
    /// version, so an older record still never overwrites a newer one. Only this sink
    /// connector writes a key's document, from its one partition, so nothing gets between.
    /// A batch is applied in segments, so that such reads see the segment's earlier writes.
    pub async fn apply(&mut self, changes: &[DocChange]) -> Result<Applied, TargetError> {
        let mut applied = Applied::default();
        let mut start = 0;
        while start < changes.len() {
            let end = self.segment_end(changes, start);
            self.apply_segment(changes, start..end, &mut applied)
                .await?;
            start = end;
        }
        Ok(applied)
    }

    async fn apply_segment(
        &self,
        changes: &[DocChange],
        range: std::ops::Range<usize>,
        applied: &mut Applied,
    ) -> Result<(), TargetError> {
        let stored = self.stored_members(changes, range.clone()).await?;
        for c in &changes[range.clone()] {
            self.seed(c).await?;
        }
        let mut pending: Vec<usize> = range.collect();
        let mut rejected = Vec::new();
        let mut attempt = 0u32;
        while !pending.is_empty() {
            let batch: Vec<(usize, &DocChange)> =
                pending.iter().map(|&i| (i, &changes[i])).collect();
            let mut req = self
                .client
                .post(&self.bulk_url)
                .header("content-type", "application/x-ndjson")
                .body(self.body(&batch, &stored));
            if let Some(a) = &self.auth {
                req = req.header("authorization", a);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if attempt < ITEM_RETRIES => {
                    // The chain names the cause (connection refused, DNS, TLS); reqwest's
                    // own text is only "error sending request".
                    let e = TargetError::Http(e.without_url());
                    tracing::warn!(error = %crate::pipeline::error_chain(&e), "bulk request failed, retrying");
                    attempt += 1;
                    tokio::time::sleep(crate::clock::backoff(attempt.min(4))).await;
                    continue;
                }
                Err(e) => return Err(TargetError::Http(e.without_url())),
            };
            let status = resp.status().as_u16();
            let mut body: Json = resp.json_or_null().await;
            if status == 429 || status >= 500 {
                if attempt >= ITEM_RETRIES {
                    return Err(TargetError::Status {
                        status,
                        detail: error_class(&body),
                    });
                }
                attempt += 1;
                tokio::time::sleep(crate::clock::backoff(attempt.min(4))).await;
                continue;
            }
            if !(200..300).contains(&status) {
                return Err(TargetError::Status {
                    status,
                    detail: error_class(&body),
                });
            }
            // Taken out of the answer, not copied (it holds one object per document).
            let items = match body.get_mut("items").map(Json::take) {
                Some(Json::Array(items)) => items,
                _ => Vec::new(),
            };
            if items.len() != pending.len() {
                return Err(TargetError::Status {
                    status,
                    detail: format!("bulk answered {} items for {}", items.len(), pending.len()),
                });
            }
            let mut retry = Vec::new();
            for (item, &idx) in items.into_iter().zip(&pending) {
                let inner = match item {
                    Json::Object(o) => o.into_iter().next().map_or(Json::Null, |(_, v)| v),
                    _ => Json::Null,
                };
                let st = inner.get("status").and_then(Json::as_u64).unwrap_or(0);
                let is_delete = matches!(changes[idx].action, DocAction::Delete);
                match st {
                    200..=299 | 409 => {}
                    404 if is_delete => {}
                    429 | 500..=599 => retry.push(idx),
                    _ => rejected.push(Rejected {
                        index: idx,
                        reason: error_class(&inner),
                        detail: Some(error_text(&inner)),
                    }),
                }
            }
            if !retry.is_empty() {
                if attempt >= ITEM_RETRIES {
                    return Err(TargetError::Status {
                        status: 503,
                        detail: format!("{} items kept failing", retry.len()),
                    });
                }
                attempt += 1;
                tokio::time::sleep(crate::clock::backoff(attempt.min(4))).await;
            }
            pending = retry;
        }
        let mut unfilled: Vec<usize> = stored
            .iter()
            .filter(|(_, (_, missing))| *missing)
            .map(|(&i, _)| i)
            .collect();
        unfilled.sort_unstable();
        applied.rejected.extend(rejected);
        applied.unfilled.extend(unfilled);
        Ok(())
    }
}

trait JsonOrNull {
    async fn json_or_null(self) -> Json;
}

impl JsonOrNull for reqwest::Response {
    async fn json_or_null(self) -> Json {
        match self.bytes().await {
            Ok(b) => serde_json::from_slice(&b).unwrap_or(Json::Null),
            Err(_) => Json::Null,
        }
    }
}

/// The class of an error object, safe to log: its `type`, the field it names (search engines
/// write `[field]` in brackets; the field is schema, not data) and the `caused_by` type. The
/// engine's reason text is left out: Elasticsearch and OpenSearch quote the field's value
/// and the document id in it.
fn error_class(v: &Json) -> String {
    let e = v.get("error").unwrap_or(v);
    let ty = |e: &Json| {
        e.get("type")
            .and_then(Json::as_str)
            .filter(|t| t.len() <= 100 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            .unwrap_or("error")
            .to_string()
    };
    let mut s = ty(e);
    let reason = e.get("reason").and_then(Json::as_str).unwrap_or("");
    if let Some(field) = named_field(reason) {
        s.push_str(&format!(" (field `{field}`)"));
    }
    if let Some(cause) = e.get("caused_by") {
        s.push_str(&format!(", caused by {}", ty(cause)));
    }
    s
}

/// The field in `failed to parse field [name] of type ...` and similar reasons.
fn named_field(reason: &str) -> Option<&str> {
    let rest = &reason[reason.find("field [")? + "field [".len()..];
    let name = &rest[..rest.find(']')?];
    (!name.is_empty() && name.len() <= 200).then_some(name)
}

/// `type: reason` of an error object, bounded: data for the dead-letter headers only.
fn error_text(v: &Json) -> String {
    let e = v.get("error").unwrap_or(v);
    let ty = e.get("type").and_then(Json::as_str).unwrap_or("error");
    let reason = e.get("reason").and_then(Json::as_str).unwrap_or("");
    let mut s = format!("{ty}: {reason}");
    if s.len() > 2000 {
        let mut cut = 2000;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A search server with nothing listening: the error's chain names the cause, not only
    /// reqwest's "error sending request" (issue 22).
    #[tokio::test]
    async fn refused_connection_names_its_cause() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let e = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/_bulk"))
            .send()
            .await
            .expect_err("nothing listens");
        let text = crate::pipeline::error_chain(&TargetError::Http(e.without_url()));
        assert!(text.contains("Connection refused"), "{text}");
        assert!(
            !text.contains(&port.to_string()),
            "no URL in the text: {text}"
        );
    }

    /// Index names are made acceptable to Elasticsearch.
    #[test]
    fn index_names() {
        assert_eq!(index_name("Shop.Public.Customers"), "shop.public.customers");
        assert_eq!(index_name("_a b*c"), "a_b_c");
    }

    /// What is logged of a rejection names the class and the field, never the value or id.
    #[test]
    fn error_classes_leave_values_out() {
        let item: Json = serde_json::from_str(
            r#"{"status":400,"error":{"type":"document_parsing_exception","reason":"[1:12] failed to parse field [c_int] of type [long] in document with id 'id-77'. Preview of field's value: 'SECRET-ZEBRA'","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"SECRET-ZEBRA\""}}}"#,
        )
        .expect("json");
        let class = error_class(&item);
        assert_eq!(
            class,
            "document_parsing_exception (field `c_int`), caused by illegal_argument_exception"
        );
        assert!(error_text(&item).contains("SECRET-ZEBRA"));
        let odd: Json =
            serde_json::from_str(r#"{"error":{"type":"a b'c","reason":"x"}}"#).expect("json");
        assert_eq!(error_class(&odd), "error");
    }
}
