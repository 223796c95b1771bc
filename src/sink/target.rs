//! What every document target shares: its error type, a refused change, and the expansion of
//! index and key name templates. The ground floor under the targets (`search`, `cache`) and
//! the dispatcher above them (`document`); it imports neither.

use crate::event::DocChange;

/// A change the target refused for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Index into the applied slice.
    pub index: usize,
    /// The refusal's class, safe to log: error type and field name, never values or ids.
    pub reason: String,
    /// The target's own words, which may quote values and ids: data, kept only in the
    /// dead-letter record's headers, never logged.
    pub detail: Option<String>,
}

/// What a target's `apply` did besides applying: the changes it refused, and the changes
/// whose unavailable fields (see [`crate::event::DocChange::unavailable`]) it had no current
/// value for (the first sight of a key is an update with a placeholder, e.g. after a key
/// change): those were written without the fields.
#[derive(Debug, Default)]
pub struct Applied {
    /// Changes the target can never accept (dead-letter topic).
    pub rejected: Vec<Rejected>,
    /// Indexes of changes written without some of their unavailable fields.
    pub unfilled: Vec<usize>,
}

/// A document's text with `extra` (member name as JSON text, value as JSON text) appended.
pub(crate) fn with_members(doc: &str, extra: &[(String, String)]) -> String {
    if extra.is_empty() {
        return doc.to_string();
    }
    let body = doc.trim_end().strip_suffix('}').unwrap_or("{");
    let mut out = String::with_capacity(
        doc.len()
            + extra
                .iter()
                .map(|(k, v)| k.len() + v.len() + 2)
                .sum::<usize>(),
    );
    out.push_str(body);
    for (i, (k, v)) in extra.iter().enumerate() {
        if i > 0 || body.trim_end() != "{" {
            out.push(',');
        }
        out.push_str(k);
        out.push(':');
        out.push_str(v);
    }
    out.push('}');
    out
}

/// The members of the stored document `current` that `c` left out as unavailable, as
/// (name as JSON text, value as JSON text), and whether any had no stored value.
pub(crate) fn kept_members(
    c: &crate::event::DocChange,
    current: &str,
) -> (Vec<(String, String)>, bool) {
    let stored = crate::event::Document::from_object_text(current.to_string());
    let fields = stored.fields();
    let mut extra = Vec::new();
    let mut unfilled = false;
    for name in &c.unavailable {
        match fields.iter().find(|(k, _)| k == name) {
            Some((k, v)) => {
                let mut key = Vec::new();
                crate::envelope::json::string(&mut key, k);
                extra.push((
                    String::from_utf8(key).unwrap_or_default(),
                    v.get().to_string(),
                ));
            }
            None => unfilled = true,
        }
    }
    (extra, unfilled)
}

/// The members of `old` (a document's text) that `current` lacks, as (name as JSON text,
/// value as JSON text): what the delete half of a key change gives the new key.
pub(crate) fn missing_members(current: &str, old: &str) -> Vec<(String, String)> {
    let have = crate::event::Document::from_object_text(current.to_string());
    let names: Vec<String> = have.fields().into_iter().map(|(k, _)| k).collect();
    crate::event::Document::from_object_text(old.to_string())
        .fields()
        .into_iter()
        .filter(|(k, _)| !names.contains(k))
        .map(|(k, v)| {
            let mut q = Vec::new();
            crate::envelope::json::string(&mut q, &k);
            (
                String::from_utf8(q).unwrap_or_default(),
                v.get().to_string(),
            )
        })
        .collect()
}

/// Target failures.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// An HTTP request failed before a response (the error carries no URL: it may hold
    /// credentials).
    #[error("search request failed")]
    Http(#[source] reqwest::Error),
    /// The search server answered with an error for the whole request.
    #[error("search server answered {status}: {detail}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The error's class (type, field name); never the engine's reason text.
        detail: String,
    },
    /// Redis failed.
    #[error("redis failed")]
    Redis(#[source] redis::RedisError),
    /// memcached failed.
    #[error("memcached failed: {0}")]
    Memcached(String),
    /// I/O with memcached failed.
    #[error("memcached i/o failed")]
    Io(#[source] std::io::Error),
    /// Invalid target configuration.
    #[error("invalid target configuration: {0}")]
    Config(String),
    /// The target refused a record for good and no dead-letter topic is set.
    #[error("record {record} cannot be applied: {reason}")]
    Refused {
        /// `topic:partition@offset`.
        record: String,
        /// The refusal's class (no row values).
        reason: String,
    },
}

impl TargetError {
    /// What the operator should do.
    pub fn hint(&self) -> String {
        match self {
            TargetError::Status {
                status: 401 | 403, ..
            } => "check sink.username/password or sink.api_key".into(),
            TargetError::Status { .. } => "check the search server's log".into(),
            TargetError::Config(_) => "fix the sink settings".into(),
            TargetError::Redis(e)
                if e.kind() == redis::ErrorKind::AuthenticationFailed
                    || matches!(e.code(), Some("WRONGPASS" | "NOAUTH" | "NOPERM")) =>
            {
                "redis refused the credentials or the command: check the user and password in sink.url (redis://user:password@host:port) and the user's ACL".into()
            }
            TargetError::Refused { .. } => "fix the target's mapping (or the record), or set source.dead_letter_topic to divert such records; the engine's own words are in the dead-letter record's sluice.error.detail header".into(),
            _ => "check that the target is reachable".into(),
        }
    }
}

/// Expand `{topic}`, `{schema}`, `{table}` and `{key}` in a name template.
pub(crate) fn expand(template: &str, c: &DocChange) -> String {
    template
        .replace("{topic}", &c.origin.topic)
        .replace("{schema}", &c.namespace)
        .replace("{table}", &c.table)
        .replace("{key}", &c.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{DocAction, DocChange, Document, Origin};

    fn change(doc: &str, unavailable: &[&str]) -> DocChange {
        DocChange {
            origin: Origin {
                topic: "t".into(),
                partition: 0,
                offset: 1,
            },
            namespace: "public".into(),
            table: "docs".into(),
            id: "1".into(),
            action: DocAction::Upsert(Document::from_object_text(doc.into())),
            unavailable: unavailable.iter().map(|s| s.to_string()).collect(),
            moved_to: None,
        }
    }

    /// The stored values of left-out fields are kept as their exact text (nested objects,
    /// escaped names, long decimals); a field the store lacks is reported.
    #[test]
    fn kept_members_merge_exact_text() {
        let stored = r#"{"id":1,"body":"x\"y","meta":{"a":[1,{"b":"}"}]},"n":0.14285714285714285714,"q\"k":true}"#;
        let c = change(r#"{"id":1,"n":2}"#, &["body", "meta", "q\"k", "gone"]);
        let (extra, unfilled) = kept_members(&c, stored);
        assert!(unfilled);
        let DocAction::Upsert(doc) = &c.action else {
            unreachable!()
        };
        let merged = with_members(doc.as_str(), &extra);
        assert_eq!(
            merged,
            r#"{"id":1,"n":2,"body":"x\"y","meta":{"a":[1,{"b":"}"}]},"q\"k":true}"#
        );
        let back: serde_json::Value = serde_json::from_str(&merged).expect("valid JSON");
        assert_eq!(back["meta"]["a"][1]["b"], "}");
        // Into an empty document, and with nothing to add.
        assert_eq!(with_members("{}", &extra[..1]), r#"{"body":"x\"y"}"#);
        assert_eq!(with_members(r#"{"a":1}"#, &[]), r#"{"a":1}"#);
    }
}
