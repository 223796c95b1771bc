//! Decoder for PostgreSQL's `pgoutput` logical replication messages (protocol versions 1
//! and 2: version 2 adds the stream messages of transactions sent while they run).
//!
//! Input: the payload of one XLogData message; a message inside a stream block first goes
//! through [`unstream`], which takes out its transaction id. Output: a [`Message`] borrowing nothing, so
//! the caller may drop the buffer. Invariant: malformed or truncated input is a
//! [`DecodeError`] naming the message type and what was short; the decoder never panics and
//! never allocates more than the input's length.

use bytes::{Buf, Bytes};

/// A pgoutput message could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The message ended before a field was complete.
    #[error("truncated pgoutput {message} message while reading {field}")]
    Truncated {
        /// Message type name.
        message: &'static str,
        /// Field being read.
        field: &'static str,
    },
    /// The first byte is not a known message type.
    #[error("unknown pgoutput message type 0x{0:02x}")]
    UnknownType(u8),
    /// A tuple column kind byte is not one of n/u/t/b.
    #[error("unknown tuple column kind 0x{0:02x} in pgoutput {1} message")]
    UnknownColumnKind(u8, &'static str),
    /// A string field is not valid UTF-8.
    #[error("invalid utf-8 in pgoutput {message} field {field}")]
    Utf8 {
        /// Message type name.
        message: &'static str,
        /// Field being read.
        field: &'static str,
    },
}

/// One column as a Relation message describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Part of the replica identity (key) when set.
    pub is_key: bool,
    /// Column name.
    pub name: String,
    /// Type OID.
    pub type_oid: u32,
    /// Type modifier (-1 when none).
    pub typmod: i32,
}

/// One column value of a tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TupleValue {
    /// SQL NULL.
    Null,
    /// An unchanged TOASTed value that the server did not send.
    Unchanged,
    /// Text output of the value.
    Text(Bytes),
    /// Binary output of the value (only with the `binary` option).
    Binary(Bytes),
}

/// A decoded pgoutput message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Transaction start.
    Begin {
        /// LSN of the commit record.
        final_lsn: u64,
        /// Commit time, microseconds since 2000-01-01.
        commit_ts: i64,
        /// Transaction id.
        xid: u32,
    },
    /// Transaction end.
    Commit {
        /// LSN of the commit record.
        commit_lsn: u64,
        /// End LSN of the transaction.
        end_lsn: u64,
        /// Commit time, microseconds since 2000-01-01.
        commit_ts: i64,
    },
    /// Replication origin of the transaction.
    Origin {
        /// Origin LSN.
        lsn: u64,
        /// Origin name.
        name: String,
    },
    /// Table shape; sent before the first change of a table in a session and after DDL.
    Relation {
        /// Relation OID.
        oid: u32,
        /// Schema name.
        namespace: String,
        /// Table name.
        name: String,
        /// Replica identity setting (`d`, `n`, `f`, `i`).
        replica_identity: u8,
        /// Columns in table order.
        columns: Vec<RelationColumn>,
    },
    /// A custom type's name.
    Type {
        /// Type OID.
        oid: u32,
        /// Schema name.
        namespace: String,
        /// Type name.
        name: String,
    },
    /// Row inserted.
    Insert {
        /// Relation OID.
        oid: u32,
        /// New row.
        new: Vec<TupleValue>,
    },
    /// Row updated.
    Update {
        /// Relation OID.
        oid: u32,
        /// Old key columns (`K`) or full old row (`O`), when logged.
        old: Option<OldTuple>,
        /// New row.
        new: Vec<TupleValue>,
    },
    /// Row deleted.
    Delete {
        /// Relation OID.
        oid: u32,
        /// Old key columns (`K`) or full old row (`O`).
        old: OldTuple,
    },
    /// Tables truncated.
    Truncate {
        /// Option bits (1 = CASCADE, 2 = RESTART IDENTITY).
        options: u8,
        /// Relation OIDs.
        oids: Vec<u32>,
    },
    /// The start of a block of a transaction still running (protocol 2).
    StreamStart {
        /// Top-level transaction id.
        xid: u32,
        /// The transaction's first block.
        first_segment: bool,
    },
    /// The end of a stream block.
    StreamStop,
    /// A streamed transaction committed.
    StreamCommit {
        /// Top-level transaction id.
        xid: u32,
        /// LSN of the commit record.
        commit_lsn: u64,
        /// End LSN of the transaction.
        end_lsn: u64,
        /// Commit time, microseconds since 2000-01-01.
        commit_ts: i64,
    },
    /// A streamed transaction (`subxid == xid`) or one of its subtransactions rolled back.
    StreamAbort {
        /// Top-level transaction id.
        xid: u32,
        /// The (sub)transaction rolled back.
        subxid: u32,
    },
    /// A logical decoding message.
    LogicalMessage {
        /// Whether it is transactional.
        transactional: bool,
        /// Its LSN.
        lsn: u64,
        /// Prefix.
        prefix: String,
        /// Content.
        content: Bytes,
    },
}

/// The old image of an update or delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldTuple {
    /// `true` when only key columns are meaningful (`K`), `false` for a full row (`O`).
    pub key_only: bool,
    /// Values, one per relation column (non-key ones NULL when `key_only`).
    pub values: Vec<TupleValue>,
}

struct Reader {
    buf: Bytes,
    message: &'static str,
}

impl Reader {
    fn need(&self, n: usize, field: &'static str) -> Result<(), DecodeError> {
        if self.buf.remaining() < n {
            Err(DecodeError::Truncated {
                message: self.message,
                field,
            })
        } else {
            Ok(())
        }
    }
    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        self.need(1, field)?;
        Ok(self.buf.get_u8())
    }
    fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.need(2, field)?;
        Ok(self.buf.get_u16())
    }
    fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.need(4, field)?;
        Ok(self.buf.get_u32())
    }
    fn i32(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        self.need(4, field)?;
        Ok(self.buf.get_i32())
    }
    fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        self.need(8, field)?;
        Ok(self.buf.get_u64())
    }
    fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        self.need(8, field)?;
        Ok(self.buf.get_i64())
    }
    fn bytes(&mut self, n: usize, field: &'static str) -> Result<Bytes, DecodeError> {
        self.need(n, field)?;
        Ok(self.buf.split_to(n))
    }
    fn cstring(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let end = self
            .buf
            .iter()
            .position(|&b| b == 0)
            .ok_or(DecodeError::Truncated {
                message: self.message,
                field,
            })?;
        let s = self.buf.split_to(end);
        self.buf.advance(1);
        String::from_utf8(s.to_vec()).map_err(|_| DecodeError::Utf8 {
            message: self.message,
            field,
        })
    }
    fn tuple(&mut self) -> Result<Vec<TupleValue>, DecodeError> {
        let n = self.u16("column count")?;
        // Each column needs at least one byte: bound the allocation by the input.
        let mut out = Vec::with_capacity(usize::from(n).min(self.buf.remaining()));
        for _ in 0..n {
            let v = match self.u8("column kind")? {
                b'n' => TupleValue::Null,
                b'u' => TupleValue::Unchanged,
                b't' => {
                    let len = self.u32("value length")? as usize;
                    TupleValue::Text(self.bytes(len, "value")?)
                }
                b'b' => {
                    let len = self.u32("value length")? as usize;
                    TupleValue::Binary(self.bytes(len, "value")?)
                }
                other => return Err(DecodeError::UnknownColumnKind(other, self.message)),
            };
            out.push(v);
        }
        Ok(out)
    }
}

/// Decode one pgoutput message.
pub fn decode(data: Bytes) -> Result<Message, DecodeError> {
    let Some(&tag) = data.first() else {
        return Err(DecodeError::Truncated {
            message: "empty",
            field: "message type",
        });
    };
    let message = match tag {
        b'B' => "Begin",
        b'C' => "Commit",
        b'O' => "Origin",
        b'R' => "Relation",
        b'Y' => "Type",
        b'I' => "Insert",
        b'U' => "Update",
        b'D' => "Delete",
        b'T' => "Truncate",
        b'M' => "Message",
        b'S' => "Stream Start",
        b'E' => "Stream Stop",
        b'c' => "Stream Commit",
        b'A' => "Stream Abort",
        other => return Err(DecodeError::UnknownType(other)),
    };
    let mut r = Reader {
        buf: data.slice(1..),
        message,
    };
    Ok(match tag {
        b'B' => Message::Begin {
            final_lsn: r.u64("final lsn")?,
            commit_ts: r.i64("commit timestamp")?,
            xid: r.u32("xid")?,
        },
        b'C' => {
            let _flags = r.u8("flags")?;
            Message::Commit {
                commit_lsn: r.u64("commit lsn")?,
                end_lsn: r.u64("end lsn")?,
                commit_ts: r.i64("commit timestamp")?,
            }
        }
        b'O' => Message::Origin {
            lsn: r.u64("origin lsn")?,
            name: r.cstring("origin name")?,
        },
        b'R' => {
            let oid = r.u32("relation oid")?;
            let namespace = r.cstring("namespace")?;
            let name = r.cstring("relation name")?;
            let replica_identity = r.u8("replica identity")?;
            let n = r.u16("column count")?;
            let mut columns = Vec::with_capacity(usize::from(n).min(r.buf.remaining()));
            for _ in 0..n {
                columns.push(RelationColumn {
                    is_key: r.u8("column flags")? & 1 == 1,
                    name: r.cstring("column name")?,
                    type_oid: r.u32("column type")?,
                    typmod: r.i32("column typmod")?,
                });
            }
            Message::Relation {
                oid,
                namespace,
                name,
                replica_identity,
                columns,
            }
        }
        b'Y' => Message::Type {
            oid: r.u32("type oid")?,
            namespace: r.cstring("namespace")?,
            name: r.cstring("type name")?,
        },
        b'I' => {
            let oid = r.u32("relation oid")?;
            match r.u8("tuple marker")? {
                b'N' => Message::Insert {
                    oid,
                    new: r.tuple()?,
                },
                other => return Err(DecodeError::UnknownColumnKind(other, message)),
            }
        }
        b'U' => {
            let oid = r.u32("relation oid")?;
            let mut old = None;
            let mut marker = r.u8("tuple marker")?;
            if marker == b'K' || marker == b'O' {
                old = Some(OldTuple {
                    key_only: marker == b'K',
                    values: r.tuple()?,
                });
                marker = r.u8("tuple marker")?;
            }
            if marker != b'N' {
                return Err(DecodeError::UnknownColumnKind(marker, message));
            }
            Message::Update {
                oid,
                old,
                new: r.tuple()?,
            }
        }
        b'D' => {
            let oid = r.u32("relation oid")?;
            let marker = r.u8("tuple marker")?;
            if marker != b'K' && marker != b'O' {
                return Err(DecodeError::UnknownColumnKind(marker, message));
            }
            Message::Delete {
                oid,
                old: OldTuple {
                    key_only: marker == b'K',
                    values: r.tuple()?,
                },
            }
        }
        b'T' => {
            let n = r.u32("relation count")?;
            let options = r.u8("options")?;
            let mut oids = Vec::with_capacity((n as usize).min(r.buf.remaining() / 4));
            for _ in 0..n {
                oids.push(r.u32("relation oid")?);
            }
            Message::Truncate { options, oids }
        }
        b'S' => Message::StreamStart {
            xid: r.u32("xid")?,
            first_segment: r.u8("first segment")? == 1,
        },
        b'E' => Message::StreamStop,
        b'c' => {
            let xid = r.u32("xid")?;
            let _flags = r.u8("flags")?;
            Message::StreamCommit {
                xid,
                commit_lsn: r.u64("commit lsn")?,
                end_lsn: r.u64("end lsn")?,
                commit_ts: r.i64("commit timestamp")?,
            }
        }
        // Protocol 4's parallel mode adds the abort LSN and time; they are not read.
        b'A' => Message::StreamAbort {
            xid: r.u32("xid")?,
            subxid: r.u32("subtransaction xid")?,
        },
        _ => {
            let flags = r.u8("flags")?;
            let lsn = r.u64("lsn")?;
            let prefix = r.cstring("prefix")?;
            let len = r.u32("content length")? as usize;
            Message::LogicalMessage {
                transactional: flags & 1 == 1,
                lsn,
                prefix,
                content: r.bytes(len, "content")?,
            }
        }
    })
}

/// A message inside a stream block: the (sub)transaction id it carries after its type byte
/// and the message without it, which [`decode`] reads as protocol 1's. Only the messages a
/// block can hold (relation, type, row changes, truncate, logical message) are accepted.
pub fn unstream(data: &[u8]) -> Result<(u32, Vec<u8>), DecodeError> {
    let message = match data.first() {
        Some(b'R') => "Relation",
        Some(b'Y') => "Type",
        Some(b'I') => "Insert",
        Some(b'U') => "Update",
        Some(b'D') => "Delete",
        Some(b'T') => "Truncate",
        Some(b'M') => "Message",
        Some(&other) => return Err(DecodeError::UnknownType(other)),
        None => {
            return Err(DecodeError::Truncated {
                message: "empty",
                field: "message type",
            })
        }
    };
    let Some(xid) = data.get(1..5) else {
        return Err(DecodeError::Truncated {
            message,
            field: "xid",
        });
    };
    let xid = u32::from_be_bytes([xid[0], xid[1], xid[2], xid[3]]);
    let mut out = Vec::with_capacity(data.len() - 4);
    out.push(data[0]);
    out.extend_from_slice(&data[5..]);
    Ok((xid, out))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Test-side encoder for the messages sluice consumes.
    pub(crate) fn relation(
        oid: u32,
        ns: &str,
        name: &str,
        cols: &[(&str, u32, i32, bool)],
    ) -> Bytes {
        let mut b = vec![b'R'];
        b.extend_from_slice(&oid.to_be_bytes());
        for s in [ns, name] {
            b.extend_from_slice(s.as_bytes());
            b.push(0);
        }
        b.push(b'd');
        b.extend_from_slice(&(cols.len() as u16).to_be_bytes());
        for (n, ty, tm, key) in cols {
            b.push(u8::from(*key));
            b.extend_from_slice(n.as_bytes());
            b.push(0);
            b.extend_from_slice(&ty.to_be_bytes());
            b.extend_from_slice(&tm.to_be_bytes());
        }
        Bytes::from(b)
    }

    pub(crate) fn tuple(b: &mut Vec<u8>, vals: &[Option<&str>]) {
        b.extend_from_slice(&(vals.len() as u16).to_be_bytes());
        for v in vals {
            match v {
                None => b.push(b'n'),
                Some(s) => {
                    b.push(b't');
                    b.extend_from_slice(&(s.len() as u32).to_be_bytes());
                    b.extend_from_slice(s.as_bytes());
                }
            }
        }
    }

    pub(crate) fn insert(oid: u32, vals: &[Option<&str>]) -> Bytes {
        let mut b = vec![b'I'];
        b.extend_from_slice(&oid.to_be_bytes());
        b.push(b'N');
        tuple(&mut b, vals);
        Bytes::from(b)
    }

    /// Relation and Insert messages decode field by field.
    #[test]
    fn relation_and_insert() {
        let m = decode(relation(
            42,
            "public",
            "t",
            &[("id", 23, -1, true), ("v", 25, -1, false)],
        ))
        .expect("relation decodes");
        let Message::Relation {
            oid,
            namespace,
            name,
            columns,
            ..
        } = m
        else {
            panic!("not a relation: {m:?}");
        };
        assert_eq!(
            (oid, namespace.as_str(), name.as_str()),
            (42, "public", "t")
        );
        assert_eq!(columns.len(), 2);
        assert!(columns[0].is_key && !columns[1].is_key);
        assert_eq!(columns[1].type_oid, 25);

        let m = decode(insert(42, &[Some("1"), None])).expect("insert decodes");
        assert_eq!(
            m,
            Message::Insert {
                oid: 42,
                new: vec![TupleValue::Text(Bytes::from_static(b"1")), TupleValue::Null]
            }
        );
    }

    /// Updates with an old key image, deletes and unchanged TOAST columns decode.
    #[test]
    fn update_delete_toast() {
        let mut b = vec![b'U'];
        b.extend_from_slice(&7u32.to_be_bytes());
        b.push(b'K');
        tuple(&mut b, &[Some("4"), None]);
        b.push(b'N');
        b.extend_from_slice(&2u16.to_be_bytes());
        b.extend_from_slice(&[b't', 0, 0, 0, 2, b'4', b'0', b'u']);
        let m = decode(Bytes::from(b)).expect("update decodes");
        let Message::Update {
            old: Some(old),
            new,
            ..
        } = m
        else {
            panic!("not an update with old key: {m:?}");
        };
        assert!(old.key_only);
        assert_eq!(new[1], TupleValue::Unchanged);

        let mut b = vec![b'D'];
        b.extend_from_slice(&7u32.to_be_bytes());
        b.push(b'O');
        tuple(&mut b, &[Some("3"), Some("x")]);
        let m = decode(Bytes::from(b)).expect("delete decodes");
        assert!(matches!(
            m,
            Message::Delete {
                old: OldTuple {
                    key_only: false,
                    ..
                },
                ..
            }
        ));
    }

    /// Every prefix of valid messages, and arbitrary bytes, give errors and never panic.
    #[test]
    fn truncated_and_random_input() {
        let samples = [
            relation(1, "s", "t", &[("a", 23, -1, true)]),
            insert(1, &[Some("abc"), None]),
        ];
        for s in &samples {
            for n in 0..s.len() {
                assert!(decode(s.slice(..n)).is_err(), "prefix {n} of {s:?} decoded");
            }
        }
        // Deterministic pseudo-random bytes (xorshift) behind every message tag.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for tag in b"BCORYIUDTMSEcAZ" {
            for len in 0..200usize {
                let mut v = vec![*tag];
                for _ in 0..len {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    v.push(x as u8);
                }
                let _ = unstream(&v);
                let _ = decode(Bytes::from(v));
            }
        }
        // A huge column count with no data must not allocate for it.
        let b = Bytes::from_static(&[b'I', 0, 0, 0, 1, b'N', 0xff, 0xff]);
        assert!(decode(b).is_err());
    }

    /// Protocol 2: the stream messages, and a change inside a block read as protocol 1's
    /// once its transaction id is taken out.
    #[test]
    fn stream_messages() {
        let start = Bytes::from_static(&[b'S', 0, 0, 2, 0, 1]);
        assert_eq!(
            decode(start).expect("valid"),
            Message::StreamStart {
                xid: 512,
                first_segment: true
            }
        );
        assert_eq!(
            decode(Bytes::from_static(b"E")).expect("valid"),
            Message::StreamStop
        );
        let mut c = vec![b'c', 0, 0, 2, 0, 0];
        c.extend_from_slice(&100u64.to_be_bytes());
        c.extend_from_slice(&120u64.to_be_bytes());
        c.extend_from_slice(&7i64.to_be_bytes());
        assert_eq!(
            decode(Bytes::from(c.clone())).expect("valid"),
            Message::StreamCommit {
                xid: 512,
                commit_lsn: 100,
                end_lsn: 120,
                commit_ts: 7
            }
        );
        for n in 0..c.len() {
            assert!(decode(Bytes::from(c[..n].to_vec())).is_err());
        }
        // Protocol 4's longer abort reads the same.
        let mut a = vec![b'A', 0, 0, 2, 0, 0, 0, 2, 1];
        assert_eq!(
            decode(Bytes::from(a.clone())).expect("valid"),
            Message::StreamAbort {
                xid: 512,
                subxid: 513
            }
        );
        a.extend_from_slice(&[0; 16]);
        assert!(decode(Bytes::from(a)).is_ok());
        // An insert inside a block.
        let plain = insert(1, &[Some("abc"), None]);
        let mut streamed = vec![b'I', 0, 0, 2, 1];
        streamed.extend_from_slice(&plain[1..]);
        let (xid, msg) = unstream(&streamed).expect("valid");
        assert_eq!(xid, 513);
        assert_eq!(msg, plain.to_vec());
        assert!(unstream(&streamed[..4]).is_err());
        assert!(unstream(b"").is_err());
        assert!(unstream(b"B\0\0\0\0").is_err());
    }
}
