//! Cache targets: Redis (version-guarded) and memcached (last write wins).
//!
//! Redis: one pipeline per batch of `EVALSHA` calls to a small Lua script that keeps the
//! change's version in `<key>#v` beside the value and ignores anything older, so replays and
//! late duplicates never bring back an older value. A delete keeps the version marker for
//! `deleted_version_ttl_ms`. memcached has no compare primitive usable for this, so it is
//! last-write-wins: a replay rewrites older values until it catches up (documented).

use redis::aio::ConnectionManager;
use secrecy::ExposeSecret;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::target::{expand, Rejected, TargetError};
use crate::config::{MemcachedSettings, RedisSettings, RedisValueFormat};
use crate::event::{DocAction, DocChange};

/// The version guard every Redis write goes through (public for the benchmark, which measures
/// Redis running it directly). KEYS: data key, version key. ARGV: version (-1 = none), op
/// (set|hset|del), value, ttl_ms (0 = none), deleted_version_ttl_ms, then field/value pairs
/// for hset.
pub const GUARD_SCRIPT: &str = r#"
local v = tonumber(ARGV[1])
if v >= 0 then
  local cur = redis.call('GET', KEYS[2])
  if cur and tonumber(cur) > v then return 0 end
end
local op = ARGV[2]
local ttl = tonumber(ARGV[4])
if op == 'del' then
  redis.call('DEL', KEYS[1])
  if v >= 0 then redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[5]) end
  return 1
end
if op == 'set' then
  if ttl > 0 then redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl) else redis.call('SET', KEYS[1], ARGV[3]) end
else
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], unpack(ARGV, 6))
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
end
if v >= 0 then
  if ttl > 0 then redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl) else redis.call('SET', KEYS[2], ARGV[1]) end
end
return 1
"#;

/// Redis target.
pub struct RedisTarget {
    conn: ConnectionManager,
    sha: String,
    key: String,
    format: RedisValueFormat,
    ttl_ms: u64,
    deleted_ttl_ms: u64,
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTarget")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A hash field's text: strings unescaped, anything else as its exact JSON text.
fn field_text(v: &serde_json::value::RawValue) -> String {
    let t = v.get();
    if t.starts_with('"') {
        serde_json::from_str::<String>(t).unwrap_or_else(|_| t.to_string())
    } else {
        t.to_string()
    }
}

impl RedisTarget {
    /// Connect and load the guard script.
    pub async fn connect(s: &RedisSettings) -> Result<Self, TargetError> {
        let client = redis::Client::open(s.url.expose_secret()).map_err(|e| {
            TargetError::Config(format!(
                "sink.url is not a valid redis URL ({:?})",
                e.kind()
            ))
        })?;
        let mut conn = client
            .get_connection_manager()
            .await
            .map_err(TargetError::Redis)?;
        let sha = load(&mut conn).await?;
        Ok(Self {
            conn,
            sha,
            key: s.key.clone(),
            format: s.value_format,
            ttl_ms: s.ttl_ms.unwrap_or(0),
            deleted_ttl_ms: s.deleted_version_ttl_ms.max(1),
        })
    }

    fn pipeline(&self, changes: &[DocChange]) -> redis::Pipeline {
        let mut pipe = redis::pipe();
        for c in changes {
            let key = expand(&self.key, c);
            let cmd = pipe
                .cmd("EVALSHA")
                .arg(&self.sha)
                .arg(2)
                .arg(&key)
                .arg(format!("{key}#v"))
                .arg(c.version());
            match &c.action {
                DocAction::Delete => {
                    cmd.arg("del")
                        .arg("")
                        .arg(self.ttl_ms)
                        .arg(self.deleted_ttl_ms);
                }
                DocAction::Upsert(doc) => match self.format {
                    RedisValueFormat::Json => {
                        cmd.arg("set")
                            .arg(doc.as_str())
                            .arg(self.ttl_ms)
                            .arg(self.deleted_ttl_ms);
                    }
                    RedisValueFormat::Hash => {
                        cmd.arg("hset")
                            .arg("")
                            .arg(self.ttl_ms)
                            .arg(self.deleted_ttl_ms);
                        let fields = doc.fields();
                        if fields.is_empty() {
                            cmd.arg("_").arg("");
                        }
                        for (k, v) in fields {
                            cmd.arg(k).arg(field_text(v));
                        }
                    }
                },
            }
            cmd.ignore();
        }
        pipe
    }

    /// Apply in order; see [`super::document`].
    pub async fn apply(&mut self, changes: &[DocChange]) -> Result<Vec<Rejected>, TargetError> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let pipe = self.pipeline(changes);
        match pipe.query_async::<()>(&mut self.conn).await {
            Ok(()) => Ok(Vec::new()),
            Err(e) if e.code() == Some("NOSCRIPT") => {
                // The server restarted and lost the script: load it again and retry.
                self.sha = load(&mut self.conn).await?;
                self.pipeline(changes)
                    .query_async::<()>(&mut self.conn)
                    .await
                    .map_err(TargetError::Redis)?;
                Ok(Vec::new())
            }
            Err(e) => Err(TargetError::Redis(e)),
        }
    }
}

async fn load(conn: &mut ConnectionManager) -> Result<String, TargetError> {
    redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(GUARD_SCRIPT)
        .query_async(conn)
        .await
        .map_err(TargetError::Redis)
}

/// memcached target over the text protocol.
#[derive(Debug)]
pub struct MemcachedTarget {
    server: String,
    key: String,
    ttl_s: u32,
    conn: Option<BufReader<TcpStream>>,
}

/// memcached keys: at most 250 bytes, no spaces or control characters.
fn memcached_key(raw: &str) -> String {
    let mut k: String = raw
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect();
    if k.len() > 250 {
        k.truncate(200);
        let h = raw.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        k.push_str(&format!("#{h:016x}"));
    }
    k
}

impl MemcachedTarget {
    /// Create the target (connects lazily).
    pub fn new(s: &MemcachedSettings) -> Self {
        Self {
            server: s.server.clone(),
            key: s.key.clone(),
            ttl_s: s.ttl_s,
            conn: None,
        }
    }

    /// Apply in order; see [`super::document`].
    pub async fn apply(&mut self, changes: &[DocChange]) -> Result<Vec<Rejected>, TargetError> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let r = self.apply_inner(changes).await;
        if r.is_err() {
            self.conn = None;
        }
        r
    }

    async fn apply_inner(&mut self, changes: &[DocChange]) -> Result<Vec<Rejected>, TargetError> {
        if self.conn.is_none() {
            let s = TcpStream::connect(&self.server)
                .await
                .map_err(TargetError::Io)?;
            s.set_nodelay(true).map_err(TargetError::Io)?;
            self.conn = Some(BufReader::new(s));
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(TargetError::Memcached("no connection".into()));
        };
        let mut out = Vec::with_capacity(changes.len() * 128);
        for c in changes {
            let key = memcached_key(&expand(&self.key, c));
            match &c.action {
                DocAction::Delete => out.extend_from_slice(format!("delete {key}\r\n").as_bytes()),
                DocAction::Upsert(doc) => {
                    let v = doc.as_str();
                    out.extend_from_slice(
                        format!("set {key} 0 {} {}\r\n", self.ttl_s, v.len()).as_bytes(),
                    );
                    out.extend_from_slice(v.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        conn.get_mut()
            .write_all(&out)
            .await
            .map_err(TargetError::Io)?;
        let mut rejected = Vec::new();
        let mut line = String::new();
        for (i, _) in changes.iter().enumerate() {
            line.clear();
            if conn.read_line(&mut line).await.map_err(TargetError::Io)? == 0 {
                return Err(TargetError::Memcached("connection closed".into()));
            }
            match line.trim_end() {
                "STORED" | "DELETED" | "NOT_FOUND" => {}
                "SERVER_ERROR object too large for cache" => rejected.push(Rejected {
                    index: i,
                    reason: "object too large for cache".into(),
                    detail: None,
                }),
                other => {
                    return Err(TargetError::Memcached(format!(
                        "unexpected reply {other:?}"
                    )))
                }
            }
        }
        Ok(rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// memcached keys never contain spaces and never exceed 250 bytes.
    #[test]
    fn memcached_keys() {
        assert_eq!(memcached_key("t:a b"), "t:a_b");
        let long = "x".repeat(400);
        let k = memcached_key(&long);
        assert!(k.len() <= 250 && k.starts_with("xxx"));
        assert_ne!(
            memcached_key(&format!("{long}1")),
            memcached_key(&format!("{long}2"))
        );
    }
}
