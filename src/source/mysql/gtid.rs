//! MySQL's executed GTID set (`uuid:1-5:7,uuid2:1-3`): read at the snapshot with the binlog
//! position it belongs to, extended by every transaction streamed, saved in the checkpoint,
//! and sent back to the server to resume (`COM_BINLOG_DUMP_GTID`), so a restart, or a
//! failover to a replica with the same GTIDs, resumes where the stream stopped.
//!
//! Invariant: the set is only ever the server's own set plus transactions streamed after it;
//! a set sluice could not read completely is never saved (resuming from a partial set would
//! replay history, from a set ahead of the position would skip transactions).

use std::collections::BTreeMap;

/// One transaction's GTID as MySQL writes it (`3e11fa47-71ca-11e1-9e33-c80aa9429562:23`), from a
/// GTID event's 16-byte source id and transaction number.
pub(crate) fn text(sid: &[u8; 16], gno: u64) -> String {
    format!("{}:{gno}", super::types::uuid_text(sid))
}

/// An executed GTID set: per source UUID (lowercase), closed intervals of transaction numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GtidSet(BTreeMap<String, Vec<(u64, u64)>>);

impl GtidSet {
    /// Parse MySQL's text form (whitespace and newlines allowed, as `gtid_executed` has
    /// them); `None` when it is not one. An empty text is an empty set.
    pub(crate) fn parse(text: &str) -> Option<GtidSet> {
        let mut set = GtidSet::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut fields = part.split(':');
            let uuid = fields.next()?.trim().to_ascii_lowercase();
            if uuid.len() != 36 || !uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
                return None;
            }
            let mut any = false;
            for interval in fields {
                let (a, b) = match interval.split_once('-') {
                    Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
                    None => {
                        let n = interval.trim().parse().ok()?;
                        (n, n)
                    }
                };
                if a == 0 || a > b {
                    return None;
                }
                set.fill(&uuid, a, b);
                any = true;
            }
            if !any {
                return None;
            }
        }
        Some(set)
    }

    /// Add one transaction.
    pub(crate) fn add(&mut self, uuid: &str, gno: u64) {
        self.fill(uuid, gno, gno);
    }

    /// Add the transactions `a..=b`, merging touching intervals.
    fn fill(&mut self, uuid: &str, a: u64, b: u64) {
        let intervals = self.0.entry(uuid.to_ascii_lowercase()).or_default();
        intervals.push((a, b));
        intervals.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(intervals.len());
        for &(s, e) in intervals.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *intervals = merged;
    }

    /// Whether the set holds the transaction written `uuid:gno` (as the stream names it).
    pub(crate) fn contains(&self, gtid: &str) -> bool {
        let Some((uuid, gno)) = gtid.rsplit_once(':') else {
            return false;
        };
        let Ok(gno) = gno.parse::<u64>() else {
            return false;
        };
        let uuid = uuid.to_ascii_lowercase();
        self.0
            .get(&uuid)
            .is_some_and(|iv| iv.iter().any(|&(a, b)| a <= gno && gno <= b))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The set as the server's replication request wants it.
    pub(crate) fn sids(&self) -> Vec<mysql_common::packets::Sid<'static>> {
        self.to_string()
            .split(',')
            .filter_map(|s| s.parse().ok())
            .collect()
    }
}

impl std::fmt::Display for GtidSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (uuid, intervals)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(uuid)?;
            for (a, b) in intervals {
                if a == b {
                    write!(f, ":{a}")?;
                } else {
                    write!(f, ":{a}-{b}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtid_text() {
        let sid = [
            0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42,
            0x95, 0x62,
        ];
        assert_eq!(text(&sid, 23), "3e11fa47-71ca-11e1-9e33-c80aa9429562:23");
    }

    const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const B: &str = "4F11FA47-71CA-11E1-9E33-C80AA9429562";

    /// MySQL's text (newlines, upper case, single numbers) parses, prints canonically, and
    /// added transactions merge into touching intervals.
    #[test]
    fn sets_parse_merge_and_print() {
        let mut s = GtidSet::parse(&format!("{B}:1-3:5,\n{A}:7")).expect("parses");
        assert_eq!(
            s.to_string(),
            format!("{A}:7,{}:1-3:5", B.to_ascii_lowercase())
        );
        s.add(B, 4);
        s.add(A, 8);
        s.add(A, 10);
        assert_eq!(
            s.to_string(),
            format!("{A}:7-8:10,{}:1-5", B.to_ascii_lowercase())
        );
        assert_eq!(s.sids().len(), 2);
        assert!(s.contains(&format!("{A}:8")) && s.contains(&format!("{B}:5")));
        assert!(
            !s.contains(&format!("{A}:9")) && !s.contains("x") && !s.contains(&format!("{A}:x"))
        );
        assert_eq!(GtidSet::parse(""), Some(GtidSet::default()));
        for bad in [
            "x:1",
            A,
            &format!("{A}:0"),
            &format!("{A}:5-3"),
            &format!("{A}:a"),
        ] {
            assert_eq!(GtidSet::parse(bad), None, "{bad}");
        }
    }
}
