//! Reading a group member's assignment as the coordinator describes it: Kafka's
//! `ConsumerProtocolAssignment` (version, then topics with their partitions, then user
//! data, which is not needed here).
//!
//! Invariant: bytes from the broker never panic the reader; anything malformed is `None`.

/// `(topic, partition)` pairs of an encoded assignment.
pub(super) fn partitions(bytes: &[u8]) -> Option<Vec<(String, i32)>> {
    let mut r = Reader(bytes);
    let _version = r.i16()?;
    let topics = r.i32()?;
    let mut out = Vec::new();
    for _ in 0..topics.max(0) {
        let len = usize::try_from(r.i16()?).ok()?;
        let topic = String::from_utf8(r.take(len)?.to_vec()).ok()?;
        let n = r.i32()?;
        for _ in 0..n.max(0) {
            out.push((topic.clone(), r.i32()?));
        }
    }
    Some(out)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An encoded assignment reads back; truncated or hostile bytes are `None`, never a
    /// panic.
    #[test]
    fn reads_assignments() {
        let mut b = vec![0, 1, 0, 0, 0, 1, 0, 3];
        b.extend_from_slice(b"top");
        b.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 0]);
        assert_eq!(
            partitions(&b),
            Some(vec![("top".into(), 4), ("top".into(), 7)])
        );
        for cut in 0..b.len() - 4 {
            // Every truncation before the last partition fails cleanly.
            assert_eq!(partitions(&b[..cut]), None, "cut at {cut}");
        }
        assert_eq!(partitions(&[0, 0, 0x7f, 0xff, 0xff, 0xff]), None);
        assert_eq!(partitions(&[0, 0, 0, 0, 0, 0]), Some(vec![]));
    }
}
