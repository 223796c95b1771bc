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

use super::target::{
    expand, kept_members, missing_members, with_members, Applied, Rejected, TargetError,
};
use crate::config::{MemcachedSettings, RedisSettings, RedisValueFormat};
use crate::event::{DocAction, DocChange};

/// The version guard every Redis write goes through (public for the benchmark, which measures
/// Redis running it directly). KEYS: data key, version key. ARGV: version (-1 = none), op,
/// value, ttl_ms (0 = none), deleted_version_ttl_ms, then per op:
/// - `del`: nothing; `set`: the JSON text in ARGV[3]; `hset`: field/value pairs (the hash is
///   replaced);
/// - `mset` (merge a JSON document): ARGV[6..] the left-out members' names as JSON text: the
///   stored document's values for them are kept (copied as text, never re-encoded);
/// - `mhset` (merge a hash): ARGV[6] the count k of left-out fields, ARGV[7..6+k] their names,
///   then field/value pairs; the hash is updated, not replaced.
///
/// - `seed` / `hseed` (before the delete half of a primary-key change; version -1, a third
///   key: the old document's): the new key's document gets the old one's members it lacks.
///
/// Returns 0 for an older version (ignored), 1 when applied, 2 when applied but a left-out
/// field had no stored value to keep.
pub const GUARD_SCRIPT: &str = r#"
local v = tonumber(ARGV[1])
if v >= 0 then
  local cur = redis.call('GET', KEYS[2])
  if cur and tonumber(cur) > v then return 0 end
end
local op = ARGV[2]
local ttl = tonumber(ARGV[4])
local result = 1
if op == 'del' then
  redis.call('DEL', KEYS[1])
  if v >= 0 then redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[5]) end
  return 1
end
local function put(text)
  if ttl > 0 then redis.call('SET', KEYS[1], text, 'PX', ttl) else redis.call('SET', KEYS[1], text) end
end
-- The top-level members of a JSON object's text: raw member name (with its quotes) -> raw value.
local function members(s)
  local out, i, n = {}, 2, #s
  while i <= n do
    local q = string.find(s, '"', i, true)
    if not q then return out end
    local j = q + 1
    while true do
      local e = string.find(s, '[\\"]', j)
      if not e then return out end
      if string.sub(s, e, e) == '\\' then j = e + 2 else j = e break end
    end
    local name = string.sub(s, q, j)
    local colon = string.find(s, ':', j + 1, true)
    if not colon then return out end
    local p, depth = colon + 1, 0
    while p <= n do
      local e = string.find(s, '[{}%[%],"]', p)
      if not e then p = n + 1 break end
      local c = string.sub(s, e, e)
      if c == '"' then
        local k = e + 1
        while true do
          local f = string.find(s, '[\\"]', k)
          if not f then return out end
          if string.sub(s, f, f) == '\\' then k = f + 2 else k = f break end
        end
        p = k + 1
      elseif c == '{' or c == '[' then depth = depth + 1 p = e + 1
      elseif (c == '}' or c == ']') and depth > 0 then depth = depth - 1 p = e + 1
      elseif depth == 0 then p = e break
      else p = e + 1 end
    end
    out[name] = string.sub(s, colon + 1, p - 1)
    i = p + 1
  end
  return out
end
local function append(text, kept)
  if #kept == 0 then return text end
  local body = string.sub(text, 1, -2)
  if string.match(body, '^%s*{%s*$') then return body .. table.concat(kept, ',') .. '}' end
  return body .. ',' .. table.concat(kept, ',') .. '}'
end
if op == 'seed' then
  -- The delete half of a key change: the new key (KEYS[1], KEYS[2]) gets the old document's
  -- (KEYS[3]) members it lacks; a new key not written yet gets the old document; one
  -- deleted since (a version but no value) gets nothing.
  local old = redis.call('GET', KEYS[3])
  if not old then return 1 end
  local cur = redis.call('GET', KEYS[1])
  if cur then
    local have, kept = members(cur), {}
    for name, val in pairs(members(old)) do
      if not have[name] then table.insert(kept, name .. ':' .. val) end
    end
    if #kept > 0 then redis.call('SET', KEYS[1], append(cur, kept), 'KEEPTTL') end
  elseif redis.call('EXISTS', KEYS[2]) == 0 then
    put(old)
  end
  return 1
end
if op == 'hseed' then
  local old = redis.call('HGETALL', KEYS[3])
  if #old == 0 then return 1 end
  if redis.call('EXISTS', KEYS[1]) == 1 then
    for i = 1, #old, 2 do redis.call('HSETNX', KEYS[1], old[i], old[i + 1]) end
  elseif redis.call('EXISTS', KEYS[2]) == 0 then
    redis.call('HSET', KEYS[1], unpack(old))
    if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
  end
  return 1
end
if op == 'set' then
  put(ARGV[3])
elseif op == 'mset' then
  local text = ARGV[3]
  local cur = redis.call('GET', KEYS[1])
  local kept = {}
  local have = cur and members(cur) or {}
  for a = 6, #ARGV do
    local val = have[ARGV[a]]
    if val then table.insert(kept, ARGV[a] .. ':' .. val) else result = 2 end
  end
  put(append(text, kept))
elseif op == 'mhset' then
  local k = tonumber(ARGV[6])
  for a = 7, 6 + k do
    if redis.call('HEXISTS', KEYS[1], ARGV[a]) == 0 then result = 2 end
  end
  if #ARGV >= 7 + k then redis.call('HSET', KEYS[1], unpack(ARGV, 7 + k)) end
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
else
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], unpack(ARGV, 6))
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
end
if v >= 0 then
  if ttl > 0 then redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl) else redis.call('SET', KEYS[2], ARGV[1]) end
end
return result
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

    /// The pipeline for `changes`, and for each reply the index of the change it is for
    /// (`None`: a key change's seed).
    fn pipeline(&self, changes: &[DocChange]) -> (redis::Pipeline, Vec<Option<usize>>) {
        let mut pipe = redis::pipe();
        let mut owners = Vec::with_capacity(changes.len());
        for (i, c) in changes.iter().enumerate() {
            let key = expand(&self.key, c);
            if let (DocAction::Delete, Some(to)) = (&c.action, &c.moved_to) {
                let mut moved = c.clone();
                moved.id.clone_from(to);
                let new_key = expand(&self.key, &moved);
                pipe.cmd("EVALSHA")
                    .arg(&self.sha)
                    .arg(3)
                    .arg(&new_key)
                    .arg(format!("{new_key}#v"))
                    .arg(&key)
                    .arg(-1)
                    .arg(match self.format {
                        RedisValueFormat::Json => "seed",
                        RedisValueFormat::Hash => "hseed",
                    })
                    .arg("")
                    .arg(self.ttl_ms)
                    .arg(self.deleted_ttl_ms);
                owners.push(None);
            }
            owners.push(Some(i));
            let cmd = pipe
                .cmd("EVALSHA")
                .arg(&self.sha)
                .arg(2)
                .arg(&key)
                .arg(format!("{key}#v"))
                .arg(c.version());
            let merge = !c.unavailable.is_empty();
            match &c.action {
                DocAction::Delete => {
                    cmd.arg("del")
                        .arg("")
                        .arg(self.ttl_ms)
                        .arg(self.deleted_ttl_ms);
                }
                DocAction::Upsert(doc) => match self.format {
                    RedisValueFormat::Json => {
                        cmd.arg(if merge { "mset" } else { "set" })
                            .arg(doc.as_str())
                            .arg(self.ttl_ms)
                            .arg(self.deleted_ttl_ms);
                        for name in &c.unavailable {
                            let mut quoted = Vec::with_capacity(name.len() + 2);
                            crate::envelope::json::string(&mut quoted, name);
                            cmd.arg(quoted);
                        }
                    }
                    RedisValueFormat::Hash => {
                        cmd.arg(if merge { "mhset" } else { "hset" })
                            .arg("")
                            .arg(self.ttl_ms)
                            .arg(self.deleted_ttl_ms);
                        let fields = doc.fields();
                        if merge {
                            cmd.arg(c.unavailable.len());
                            for name in &c.unavailable {
                                cmd.arg(name);
                            }
                        } else if fields.is_empty() {
                            cmd.arg("_").arg("");
                        }
                        for (k, v) in fields {
                            cmd.arg(k).arg(field_text(v));
                        }
                    }
                },
            }
        }
        (pipe, owners)
    }

    /// Apply in order; see [`super::document`].
    pub async fn apply(&mut self, changes: &[DocChange]) -> Result<Applied, TargetError> {
        if changes.is_empty() {
            return Ok(Applied::default());
        }
        let (pipe, owners) = self.pipeline(changes);
        let replies = match pipe.query_async::<Vec<i64>>(&mut self.conn).await {
            Ok(r) => r,
            Err(e) if e.code() == Some("NOSCRIPT") => {
                // The server restarted and lost the script: load it again and retry.
                self.sha = load(&mut self.conn).await?;
                self.pipeline(changes)
                    .0
                    .query_async::<Vec<i64>>(&mut self.conn)
                    .await
                    .map_err(TargetError::Redis)?
            }
            Err(e) => return Err(TargetError::Redis(e)),
        };
        Ok(Applied {
            rejected: Vec::new(),
            unfilled: replies
                .iter()
                .zip(&owners)
                .filter_map(|(&r, owner)| owner.filter(|_| r == 2))
                .collect(),
        })
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
    pub async fn apply(&mut self, changes: &[DocChange]) -> Result<Applied, TargetError> {
        if changes.is_empty() {
            return Ok(Applied::default());
        }
        let r = self.apply_inner(changes).await;
        if r.is_err() {
            self.conn = None;
        }
        r
    }

    async fn apply_inner(&mut self, changes: &[DocChange]) -> Result<Applied, TargetError> {
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
        let mut applied = Applied::default();
        // Runs of plain changes are pipelined; a change with unavailable fields is merged
        // on its own (read, merge, compare-and-set), after the run before it.
        let mut start = 0;
        while start < changes.len() {
            let end = changes[start..]
                .iter()
                .position(|c| !c.unavailable.is_empty() || c.moved_to.is_some())
                .map_or(changes.len(), |p| start + p);
            if end > start {
                pipelined(
                    conn,
                    &self.key,
                    self.ttl_s,
                    &changes[start..end],
                    start,
                    &mut applied,
                )
                .await?;
            }
            if let Some(c) = changes.get(end) {
                if c.moved_to.is_some() {
                    // The delete half of a key change: seed the new key, then delete.
                    seed(conn, &self.key, self.ttl_s, c, end, &mut applied).await?;
                    pipelined(
                        conn,
                        &self.key,
                        self.ttl_s,
                        &changes[end..=end],
                        end,
                        &mut applied,
                    )
                    .await?;
                } else if merge(conn, &self.key, self.ttl_s, c, end, &mut applied).await? {
                    applied.unfilled.push(end);
                }
            }
            start = end + 1;
        }
        Ok(applied)
    }
}

/// One reply line; an error when the server closed the connection.
async fn reply(conn: &mut BufReader<TcpStream>, line: &mut String) -> Result<(), TargetError> {
    line.clear();
    if conn.read_line(line).await.map_err(TargetError::Io)? == 0 {
        return Err(TargetError::Memcached("connection closed".into()));
    }
    Ok(())
}

/// Whether a storage reply means stored (or, for a delete, gone); a rejection is recorded.
fn stored(line: &str, index: usize, applied: &mut Applied) -> Result<bool, TargetError> {
    match line.trim_end() {
        "STORED" | "DELETED" | "NOT_FOUND" => Ok(true),
        "EXISTS" | "NOT_STORED" => Ok(false),
        "SERVER_ERROR object too large for cache" => {
            applied.rejected.push(Rejected {
                index,
                reason: "object too large for cache".into(),
                detail: None,
            });
            Ok(true)
        }
        other => Err(TargetError::Memcached(format!(
            "unexpected reply {other:?}"
        ))),
    }
}

/// A text-protocol storage command (`set`, `add`, `cas` with its token in `tail`) with its
/// data block, appended to `out`.
fn storage_command(out: &mut Vec<u8>, verb: &str, key: &str, ttl_s: u32, text: &str, tail: &str) {
    out.extend_from_slice(format!("{verb} {key} 0 {ttl_s} {}{tail}\r\n", text.len()).as_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Plain sets and deletes, pipelined; `base` is the first change's index.
async fn pipelined(
    conn: &mut BufReader<TcpStream>,
    template: &str,
    ttl_s: u32,
    changes: &[DocChange],
    base: usize,
    applied: &mut Applied,
) -> Result<(), TargetError> {
    let mut out = Vec::with_capacity(changes.len() * 128);
    for c in changes {
        let key = memcached_key(&expand(template, c));
        match &c.action {
            DocAction::Delete => out.extend_from_slice(format!("delete {key}\r\n").as_bytes()),
            DocAction::Upsert(doc) => {
                storage_command(&mut out, "set", &key, ttl_s, doc.as_str(), "")
            }
        }
    }
    conn.get_mut()
        .write_all(&out)
        .await
        .map_err(TargetError::Io)?;
    let mut line = String::new();
    for i in 0..changes.len() {
        reply(conn, &mut line).await?;
        if !stored(&line, base + i, applied)? {
            return Err(TargetError::Memcached(format!(
                "unexpected reply {:?}",
                line.trim_end()
            )));
        }
    }
    Ok(())
}

/// `gets <key>`: the stored text and its CAS token, or `None`.
async fn gets(
    conn: &mut BufReader<TcpStream>,
    key: &str,
) -> Result<Option<(String, String)>, TargetError> {
    let mut line = String::new();
    conn.get_mut()
        .write_all(format!("gets {key}\r\n").as_bytes())
        .await
        .map_err(TargetError::Io)?;
    reply(conn, &mut line).await?;
    // `VALUE <key> <flags> <bytes> <cas>` then the data, or `END` alone.
    let parts: Vec<String> = line.trim_end().split(' ').map(str::to_string).collect();
    match parts.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["VALUE", _, _, len, cas] => {
            let len: usize = len
                .parse()
                .map_err(|_| TargetError::Memcached("bad VALUE line".into()))?;
            let mut data = vec![0u8; len + 2];
            tokio::io::AsyncReadExt::read_exact(conn, &mut data)
                .await
                .map_err(TargetError::Io)?;
            data.truncate(len);
            let cas = cas.to_string();
            reply(conn, &mut line).await?; // END
            Ok(Some((String::from_utf8_lossy(&data).into_owned(), cas)))
        }
        ["END"] => Ok(None),
        _ => Err(TargetError::Memcached(format!(
            "unexpected reply {:?}",
            line.trim_end()
        ))),
    }
}

/// Write `text` under `key`: `cas` against `token`, or `add` when nothing was stored;
/// whether it was stored (false: another writer got in between).
async fn store(
    conn: &mut BufReader<TcpStream>,
    key: &str,
    ttl_s: u32,
    text: &str,
    token: Option<&str>,
    at: (usize, &mut Applied),
) -> Result<bool, TargetError> {
    let mut out = Vec::with_capacity(text.len() + 64);
    match token {
        Some(cas) => storage_command(&mut out, "cas", key, ttl_s, text, &format!(" {cas}")),
        None => storage_command(&mut out, "add", key, ttl_s, text, ""),
    }
    conn.get_mut()
        .write_all(&out)
        .await
        .map_err(TargetError::Io)?;
    let mut line = String::new();
    reply(conn, &mut line).await?;
    stored(&line, at.0, at.1)
}

/// Read `key`, let `update` compute its new text from the stored one (`None`: nothing to
/// write), and write it back with `cas` (`add` when nothing was stored), again from the read
/// when another writer got in between. What `update` returned with the text.
async fn read_modify_write<T>(
    conn: &mut BufReader<TcpStream>,
    key: &str,
    ttl_s: u32,
    at: (usize, &mut Applied),
    what: &str,
    mut update: impl FnMut(Option<&str>) -> Option<(String, T)>,
) -> Result<Option<T>, TargetError> {
    let (index, applied) = at;
    for _ in 0..16 {
        let stored = gets(conn, key).await?;
        let Some((text, out)) = update(stored.as_ref().map(|(cur, _)| cur.as_str())) else {
            return Ok(None);
        };
        let token = stored.map(|(_, cas)| cas);
        if store(
            conn,
            key,
            ttl_s,
            &text,
            token.as_deref(),
            (index, &mut *applied),
        )
        .await?
        {
            return Ok(Some(out));
        }
    }
    Err(TargetError::Memcached(format!(
        "{what} lost 16 compare-and-set races in a row"
    )))
}

/// An upsert with unavailable fields: the stored document's values for them are kept
/// (`gets`, merge, `cas`; `add` when nothing is stored). Whether some field had no stored
/// value.
async fn merge(
    conn: &mut BufReader<TcpStream>,
    template: &str,
    ttl_s: u32,
    c: &DocChange,
    index: usize,
    applied: &mut Applied,
) -> Result<bool, TargetError> {
    let DocAction::Upsert(doc) = &c.action else {
        return Ok(false);
    };
    let key = memcached_key(&expand(template, c));
    let unfilled = read_modify_write(
        conn,
        &key,
        ttl_s,
        (index, applied),
        "a merged write",
        |cur| {
            Some(match cur {
                Some(cur) => {
                    let (extra, unfilled) = kept_members(c, cur);
                    (with_members(doc.as_str(), &extra), unfilled)
                }
                None => (doc.as_str().to_string(), true),
            })
        },
    )
    .await?;
    Ok(unfilled.unwrap_or(false))
}

/// Before the delete half of a key change: the new key's document gets the old one's
/// members it lacks (the create of the new key left unchanged TOASTed values out), or the
/// old document when the new key holds nothing yet.
async fn seed(
    conn: &mut BufReader<TcpStream>,
    template: &str,
    ttl_s: u32,
    c: &DocChange,
    index: usize,
    applied: &mut Applied,
) -> Result<(), TargetError> {
    let Some(to) = &c.moved_to else {
        return Ok(());
    };
    let Some((old, _)) = gets(conn, &memcached_key(&expand(template, c))).await? else {
        return Ok(());
    };
    let mut moved = c.clone();
    moved.id.clone_from(to);
    let new_key = memcached_key(&expand(template, &moved));
    read_modify_write(
        conn,
        &new_key,
        ttl_s,
        (index, applied),
        "a key change's seed",
        |cur| match cur {
            Some(cur) => {
                let extra = missing_members(cur, &old);
                (!extra.is_empty()).then(|| (with_members(cur, &extra), ()))
            }
            None => Some((old.clone(), ())),
        },
    )
    .await?;
    Ok(())
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
