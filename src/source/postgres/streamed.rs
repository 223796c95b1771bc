//! Transactions PostgreSQL sends while they run (pgoutput protocol 2, `streaming 'on'`).
//!
//! Role: keep the messages of each running transaction, in arrival order, until its Stream
//! Commit, then hand them back once so the stream loop reads them exactly as protocol 1
//! would have sent them at the commit (same messages, same LSNs, same order).
//!
//! Invariants:
//! - memory over all running transactions stays within the budget (plus one message);
//!   beyond it a transaction's later messages go to a file of its own. Once a transaction
//!   spills, every later message of it does, so its order is its memory, then its file;
//! - the messages of a rolled-back subtransaction are never handed back, and a rolled-back
//!   transaction leaves nothing;
//! - files live in one directory per stream, removed when the stream ends (a directory left
//!   by a killed process of the same connector is removed at the next start). Nothing here
//!   outlives a restart: the server sends a transaction still running from its start again.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What one held message costs besides its bytes (LSN, ids, vector header).
const OVERHEAD: usize = 48;
/// The largest message a file may hold back (PostgreSQL's own limit on one message).
const MAX_MESSAGE: usize = 1 << 30;

/// Directories of this process, numbered.
static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// One message of a running transaction, its transaction id taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    /// The LSN its XLogData carried.
    pub(crate) lsn: u64,
    /// The (sub)transaction it belongs to.
    pub(crate) subxid: u32,
    /// The message as protocol 1 sends it.
    pub(crate) msg: Vec<u8>,
}

impl Held {
    fn cost(&self) -> usize {
        self.msg.len() + OVERHEAD
    }
}

struct Spill {
    path: PathBuf,
    out: BufWriter<File>,
}

#[derive(Default)]
struct Txn {
    mem: Vec<Held>,
    mem_bytes: usize,
    spill: Option<Spill>,
    aborted: HashSet<u32>,
}

/// The running transactions of one replication stream.
pub(crate) struct InProgress {
    budget: usize,
    used: usize,
    spilled_total: u64,
    root: PathBuf,
    prefix: String,
    dir: Option<PathBuf>,
    txns: HashMap<u32, Txn>,
}

impl InProgress {
    /// `root` is where spill directories go; `connector` names them.
    /// Directories a killed process of this connector left are removed now.
    pub(crate) fn new(root: PathBuf, connector: &str, budget: usize) -> Self {
        let prefix = format!("sluice-spill-{connector}-");
        remove_stale(&root, &prefix);
        Self {
            budget,
            used: 0,
            spilled_total: 0,
            root,
            prefix,
            dir: None,
            txns: HashMap::new(),
        }
    }

    /// Bytes held in memory now.
    pub(crate) fn used(&self) -> usize {
        self.used
    }

    /// Bytes written to files so far.
    pub(crate) fn spilled(&self) -> u64 {
        self.spilled_total
    }

    /// A Stream Start: a first block begins the transaction afresh.
    pub(crate) fn start(&mut self, xid: u32, first_segment: bool) {
        if first_segment {
            self.drop_txn(xid);
        }
        self.txns.entry(xid).or_default();
    }

    /// Keep one message of the running transaction `xid`.
    pub(crate) fn push(&mut self, xid: u32, held: Held) -> Result<(), (PathBuf, io::Error)> {
        let cost = held.cost();
        let over = self.used + cost > self.budget;
        let has_spill = self.txns.get(&xid).is_some_and(|t| t.spill.is_some());
        if over && !has_spill {
            let path = self.spill_path(xid)?;
            let file = File::create(&path).map_err(|e| (path.clone(), e))?;
            self.txns.entry(xid).or_default().spill = Some(Spill {
                path,
                out: BufWriter::with_capacity(1 << 20, file),
            });
        }
        let txn = self.txns.entry(xid).or_default();
        match &mut txn.spill {
            Some(s) => {
                let mut head = [0u8; 16];
                head[..8].copy_from_slice(&held.lsn.to_be_bytes());
                head[8..12].copy_from_slice(&held.subxid.to_be_bytes());
                head[12..].copy_from_slice(&(held.msg.len() as u32).to_be_bytes());
                s.out
                    .write_all(&head)
                    .and_then(|()| s.out.write_all(&held.msg))
                    .map_err(|e| (s.path.clone(), e))?;
                self.spilled_total += (head.len() + held.msg.len()) as u64;
            }
            None => {
                txn.mem_bytes += cost;
                self.used += cost;
                txn.mem.push(held);
            }
        }
        Ok(())
    }

    /// A Stream Abort: the whole transaction (`subxid == xid`) or one subtransaction.
    pub(crate) fn abort(&mut self, xid: u32, subxid: u32) {
        if subxid == xid {
            self.drop_txn(xid);
            return;
        }
        if let Some(txn) = self.txns.get_mut(&xid) {
            let before = txn.mem_bytes;
            txn.mem.retain(|h| h.subxid != subxid);
            txn.mem_bytes = txn.mem.iter().map(Held::cost).sum();
            self.used -= before - txn.mem_bytes;
            txn.aborted.insert(subxid);
        }
    }

    /// A Stream Commit: the transaction's messages, in order, without rolled-back parts.
    /// `None` when no block of it was seen.
    pub(crate) fn commit(&mut self, xid: u32) -> Result<Option<Replay>, (PathBuf, io::Error)> {
        let Some(mut txn) = self.txns.remove(&xid) else {
            return Ok(None);
        };
        self.used -= txn.mem_bytes;
        let file = match txn.spill.take() {
            Some(Spill { path, out }) => {
                let file = out
                    .into_inner()
                    .map_err(|e| (path.clone(), e.into_error()))?;
                drop(file);
                let f = File::open(&path).map_err(|e| (path.clone(), e))?;
                Some((path, BufReader::with_capacity(1 << 20, f)))
            }
            None => None,
        };
        Ok(Some(Replay {
            mem: std::mem::take(&mut txn.mem).into_iter(),
            file,
            aborted: std::mem::take(&mut txn.aborted),
        }))
    }

    fn drop_txn(&mut self, xid: u32) {
        if let Some(txn) = self.txns.remove(&xid) {
            self.used -= txn.mem_bytes;
            if let Some(s) = txn.spill {
                drop(s.out);
                let _ = std::fs::remove_file(&s.path);
            }
        }
    }

    fn spill_path(&mut self, xid: u32) -> Result<PathBuf, (PathBuf, io::Error)> {
        if self.dir.is_none() {
            let dir = self.root.join(format!(
                "{}{}-{}",
                self.prefix,
                std::process::id(),
                NEXT_DIR.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).map_err(|e| (dir.clone(), e))?;
            self.dir = Some(dir);
        }
        let dir = self.dir.as_ref().expect("set above");
        Ok(dir.join(format!("{xid}.txn")))
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.txns.clear();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Spill directories of this connector left by a process that no longer runs.
fn remove_stale(root: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A committed transaction's messages, read once.
pub(crate) struct Replay {
    mem: std::vec::IntoIter<Held>,
    file: Option<(PathBuf, BufReader<File>)>,
    aborted: HashSet<u32>,
}

impl Replay {
    /// The next message, or `None` at the end.
    pub(crate) fn next_held(&mut self) -> Result<Option<Held>, (PathBuf, io::Error)> {
        loop {
            let held = match self.mem.next() {
                Some(h) => h,
                None => match &mut self.file {
                    None => return Ok(None),
                    Some((path, r)) => match read_held(r) {
                        Ok(Some(h)) => h,
                        Ok(None) => return Ok(None),
                        Err(e) => return Err((path.clone(), e)),
                    },
                },
            };
            if !self.aborted.contains(&held.subxid) {
                return Ok(Some(held));
            }
        }
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        if let Some((path, _)) = self.file.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn read_held(r: &mut impl Read) -> io::Result<Option<Held>> {
    let mut head = [0u8; 16];
    match r.read_exact(&mut head[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    r.read_exact(&mut head[1..])?;
    let lsn = u64::from_be_bytes(head[..8].try_into().expect("8 bytes"));
    let subxid = u32::from_be_bytes(head[8..12].try_into().expect("4 bytes"));
    let len = u32::from_be_bytes(head[12..].try_into().expect("4 bytes")) as usize;
    if len > MAX_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a held message claims {len} bytes"),
        ));
    }
    let mut msg = vec![0; len];
    r.read_exact(&mut msg)?;
    Ok(Some(Held { lsn, subxid, msg }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(lsn: u64, subxid: u32, n: usize) -> Held {
        Held {
            lsn,
            subxid,
            msg: vec![lsn as u8; n],
        }
    }

    fn all(r: &mut Replay) -> Vec<Held> {
        let mut out = Vec::new();
        while let Some(h) = r.next_held().expect("valid") {
            out.push(h);
        }
        out
    }

    fn root() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "sluice-streamed-test-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&d).expect("valid");
        d
    }

    /// Interleaved transactions come back in their own order; memory stays in budget and
    /// the rest spills; a rolled-back subtransaction and a rolled-back transaction leave
    /// nothing, files included.
    #[test]
    fn order_budget_spill_and_aborts() {
        let root = root();
        let mut p = InProgress::new(root.clone(), "c", 1000);
        p.start(10, true);
        p.start(20, true);
        let mut want10 = Vec::new();
        for i in 0..50u64 {
            let h = held(i, if i % 5 == 0 { 11 } else { 10 }, 100);
            if i % 5 != 0 {
                want10.push(h.clone());
            }
            p.push(10, h).expect("valid");
            p.push(20, held(1000 + i, 20, 100)).expect("valid");
            assert!(p.used() <= 1000, "{}", p.used());
        }
        assert!(p.spilled() > 0);
        p.abort(10, 11);
        p.abort(20, 20);
        assert!(p.commit(20).expect("valid").is_none());
        let mut r = p.commit(10).expect("valid").expect("held");
        assert_eq!(all(&mut r), want10);
        drop(r);
        assert_eq!(p.used(), 0);
        let dir = p.dir.clone().expect("spilled");
        assert_eq!(std::fs::read_dir(&dir).expect("valid").count(), 0);
        drop(p);
        assert!(!dir.exists());
        std::fs::remove_dir_all(root).expect("valid");
    }

    /// A first block again (the server sends the transaction from its start after a
    /// reconnect) drops what was held; a directory of a dead process is removed.
    #[test]
    fn first_segment_restarts_and_stale_dirs_go() {
        let root = root();
        let stale = root.join("sluice-spill-c-4000000000-0");
        std::fs::create_dir_all(&stale).expect("valid");
        let mut p = InProgress::new(root.clone(), "c", 10);
        assert!(!stale.exists());
        p.start(1, true);
        p.push(1, held(1, 1, 100)).expect("valid");
        p.start(1, false);
        p.push(1, held(2, 1, 100)).expect("valid");
        p.start(1, true);
        p.push(1, held(3, 1, 100)).expect("valid");
        let mut r = p.commit(1).expect("valid").expect("valid");
        assert_eq!(all(&mut r), vec![held(3, 1, 100)]);
        drop(r);
        drop(p);
        std::fs::remove_dir_all(root).expect("valid");
    }

    /// A damaged file is an error, never a huge allocation.
    #[test]
    fn damaged_file() {
        let mut head = vec![0u8; 12];
        head.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(read_held(&mut head.as_slice()).is_err());
        assert!(read_held(&mut [1u8, 2].as_slice()).is_err());
        assert!(read_held(&mut [0u8; 0].as_slice())
            .expect("valid")
            .is_none());
    }
}
