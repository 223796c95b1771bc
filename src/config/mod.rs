//! Configuration: YAML files plus environment overrides, deserialized into plain data.
//!
//! ```text
//! file text ──${VAR} substitution──► config crate (YAML + SLUICE__* env) ──► Settings
//!                                                         └─ serde_path_to_error: field paths
//! Settings::validate() — pure, no I/O; every error names the field and the fix
//! ```
//! Invariants: unknown fields are errors (`deny_unknown_fields`); secrets are
//! [`secrecy::SecretString`] and never reach `Debug` output or logs.

mod env;
mod filter;
mod model;
mod sink;
mod source;
mod validate;

use std::path::Path;

pub use filter::TableFilter;
pub use model::*;
pub use sink::*;
pub use source::*;
pub use validate::parse_table_name;

/// Why a configuration could not be loaded or is invalid. All of these are definite.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `${VAR}` refers to an unset variable without a default.
    #[error("config file {path} references environment variable {var}, which is not set; set it or write ${{{var}:-default}}")]
    MissingEnv {
        /// The file.
        path: String,
        /// The variable.
        var: String,
    },
    /// The YAML or an environment override is malformed.
    #[error("config file {path} is not valid YAML: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// Parser message.
        message: String,
    },
    /// A field has the wrong name or type.
    #[error("config field `{field}`: {message}")]
    Field {
        /// Dotted path of the field.
        field: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A semantic rule is broken.
    #[error("config field `{field}`: {message}; fix: {fix}")]
    Invalid {
        /// Dotted path of the field.
        field: String,
        /// What is wrong.
        message: String,
        /// How to fix it.
        fix: String,
    },
}

/// Environment variable prefix for overrides: `SLUICE__CONNECTORS__<NAME>__SOURCE__PASSWORD`.
pub const ENV_PREFIX: &str = "SLUICE";

/// Load, substitute, override from the environment, deserialize and validate a config file.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    let shown = path.display().to_string();
    let raw = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: shown.clone(),
        source,
    })?;
    let settings = parse(&raw, &shown, |k| std::env::var(k).ok())?;
    settings.validate()?;
    Ok(settings)
}

/// Parse config text (`${VAR}` looked up through `lookup`; overrides from the process env).
pub fn parse(
    raw: &str,
    shown: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let text = env::substitute(raw, &lookup).map_err(|var| ConfigError::MissingEnv {
        path: shown.to_string(),
        var,
    })?;
    let built = config::Config::builder()
        .add_source(config::File::from_str(&text, config::FileFormat::Yaml))
        .add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__"),
        )
        .build()
        .map_err(|e| {
            let message = e.to_string();
            duplicate_key(&text, &message).unwrap_or(ConfigError::Syntax {
                path: shown.to_string(),
                message,
            })
        })?;
    serde_path_to_error::deserialize::<_, Settings>(built.clone()).map_err(|e| {
        let field = e.path().to_string();
        let message = e.into_inner().to_string();
        // Tagged enums (`source`, `sink`) hide the inner path from serde: look again.
        if let Some(inner) = diagnose_tagged(&built, &field) {
            return inner;
        }
        let field = field_path("", &field, &message);
        ConfigError::Field {
            field: if field.is_empty() {
                "(top level)".into()
            } else {
                field
            },
            message,
        }
    })
}

/// The path of a field from the path of its struct (`prefix`, may be empty) and serde's path
/// inside it (`.` for the struct itself); a missing field's own name is appended, so the
/// error names `connectors.inv.source.host`, never `connectors.inv.source..`.
fn field_path(prefix: &str, inner: &str, message: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in [prefix, inner] {
        parts.extend(p.split('.').filter(|s| !s.is_empty()));
    }
    let missing = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("missing configuration field \""))
        .and_then(|rest| rest.split(['`', '"']).next());
    if let Some(name) = missing {
        parts.push(name);
    }
    parts.join(".")
}

/// The YAML parser's duplicate-key error (`String("inv"): duplicated key in mapping at byte
/// 340 …`, where the position is the mapping's end) as a field error: the key's full path and
/// the line of its second occurrence, found from the indentation of the lines above each
/// occurrence of the key.
fn duplicate_key(text: &str, message: &str) -> Option<ConfigError> {
    let (key, _) = message.split_once("): duplicated key in mapping")?;
    let key = key.split_once('(')?.1.trim_matches('"');
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let name_of = |l: &str| {
        let t = l.trim_start().trim_start_matches("- ");
        let (name, _) = t.split_once(':')?;
        Some(name.trim().trim_matches(['"', '\'']).to_string())
    };
    let path_at = |i: usize| {
        let mut path = vec![name_of(lines[i])?];
        let mut level = indent(lines[i]);
        for l in lines[..i].iter().rev() {
            let t = l.trim_start();
            if level == 0 {
                break;
            }
            if t.is_empty() || t.starts_with('#') || indent(l) >= level {
                continue;
            }
            level = indent(l);
            path.push(name_of(l)?);
        }
        path.reverse();
        Some(path.join("."))
    };
    let mut seen = std::collections::HashSet::new();
    for (i, l) in lines.iter().enumerate() {
        if name_of(l).as_deref() != Some(key) || l.trim_start().starts_with('#') {
            continue;
        }
        let Some(path) = path_at(i) else { continue };
        if !seen.insert(path.clone()) {
            return Some(ConfigError::Invalid {
                field: path,
                message: format!(
                    "`{key}` appears twice in the same mapping (again at line {})",
                    i + 1
                ),
                fix: "each key may appear once: rename one of them (connector names must be unique) or merge the two".into(),
            });
        }
    }
    None
}

fn diagnose_tagged(built: &config::Config, path: &str) -> Option<ConfigError> {
    let last = path.rsplit('.').next()?;
    if last != "source" && last != "sink" {
        return None;
    }
    let value: config::Value = built.get(path).ok()?;
    let mut table = value.into_table().ok()?;
    let ty = table.remove("type")?.into_string().ok()?;
    let sub = config::Value::new(None, config::ValueKind::Table(table));
    // The config crate converts scalars leniently (`"yes"` reads as a boolean) when it
    // deserializes a struct itself, but not inside a tagged enum. If the struct alone reads
    // fine, read it again strictly, from the YAML's own types.
    if let Some(e) = diagnose_struct(last, &ty, sub.clone()) {
        return Some(match e {
            ConfigError::Field { field, message } => ConfigError::Field {
                field: field_path(path, &field, &message),
                message,
            },
            other => other,
        });
    }
    let json: serde_json::Value = sub.try_deserialize().ok()?;
    let strict = |e: serde_path_to_error::Error<serde_json::Error>| {
        let inner = e.path().to_string();
        let message = e.into_inner().to_string();
        ConfigError::Field {
            field: field_path(path, &inner, &message),
            message,
        }
    };
    match (last, ty.as_str()) {
        ("source", "postgres") => serde_path_to_error::deserialize::<_, PostgresSettings>(json)
            .err()
            .map(strict),
        ("source", "mysql") => serde_path_to_error::deserialize::<_, MysqlSettings>(json)
            .err()
            .map(strict),
        ("sink", "kafka") => serde_path_to_error::deserialize::<_, KafkaSettings>(json)
            .err()
            .map(strict),
        ("source", "kafka") => serde_path_to_error::deserialize::<_, ChangelogSettings>(json)
            .err()
            .map(strict),
        ("sink", "search") => serde_path_to_error::deserialize::<_, SearchSettings>(json)
            .err()
            .map(strict),
        ("sink", "redis") => serde_path_to_error::deserialize::<_, RedisSettings>(json)
            .err()
            .map(strict),
        ("sink", "memcached") => serde_path_to_error::deserialize::<_, MemcachedSettings>(json)
            .err()
            .map(strict),
        _ => None,
    }
}

/// The struct of a tagged `source`/`sink` read on its own (the config crate's conversions).
fn diagnose_struct(last: &str, ty: &str, sub: config::Value) -> Option<ConfigError> {
    let err = |e: serde_path_to_error::Error<config::ConfigError>| ConfigError::Field {
        field: e.path().to_string(),
        message: e.into_inner().to_string(),
    };
    match (last, ty) {
        ("source", "postgres") => serde_path_to_error::deserialize::<_, PostgresSettings>(sub)
            .err()
            .map(err),
        ("source", "mysql") => serde_path_to_error::deserialize::<_, MysqlSettings>(sub)
            .err()
            .map(err),
        ("sink", "kafka") => serde_path_to_error::deserialize::<_, KafkaSettings>(sub)
            .err()
            .map(err),
        ("source", "kafka") => serde_path_to_error::deserialize::<_, ChangelogSettings>(sub)
            .err()
            .map(err),
        ("sink", "search") => serde_path_to_error::deserialize::<_, SearchSettings>(sub)
            .err()
            .map(err),
        ("sink", "redis") => serde_path_to_error::deserialize::<_, RedisSettings>(sub)
            .err()
            .map(err),
        ("sink", "memcached") => serde_path_to_error::deserialize::<_, MemcachedSettings>(sub)
            .err()
            .map(err),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
