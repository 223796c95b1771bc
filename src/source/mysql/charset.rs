//! Character sets of text columns, for decoding their binlog bytes.
//!
//! A query's rows arrive in the connection's `utf8mb4` (the server converts them), but a
//! binlog row image holds a text column's bytes in the column's own character set. Each MySQL
//! charset maps to the WHATWG decoder of the same bytes (`encoding_rs`): `latin1` is MySQL's
//! windows-1252, `ucs2` is UTF-16BE restricted to the BMP, `utf32` is decoded here. Charsets
//! without a decoder (`dec8`, `hp8`, `swe7`, `keybcs2`, `cp850`, `cp852`, `macce`,
//! `armscii8`, `geostd8`) read as UTF-8, as every charset did before: their ASCII is exact.
//!
//! Invariant: decoding never fails and never panics; a byte sequence the charset does not
//! define becomes U+FFFD, as Debezium's Java decoders write it.

use encoding_rs::Encoding;

/// How a text column's binlog bytes decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charset {
    /// UTF-8 (`utf8mb4`, `utf8mb3`, `ascii`, and charsets without a decoder).
    Utf8,
    /// A charset `encoding_rs` decodes (single-byte, East Asian multi-byte, UTF-16).
    Encoded(&'static Encoding),
    /// UTF-32, big-endian code units.
    Utf32,
}

impl Charset {
    /// The charset of a MySQL/MariaDB charset name (`information_schema`'s
    /// `CHARACTER_SET_NAME`).
    pub(crate) fn named(name: &str) -> Charset {
        use encoding_rs as e;
        let enc = match name.to_ascii_lowercase().as_str() {
            "latin1" => e::WINDOWS_1252,
            "latin2" => e::ISO_8859_2,
            "latin5" => e::WINDOWS_1254,
            "latin7" => e::ISO_8859_13,
            "cp1250" => e::WINDOWS_1250,
            "cp1251" => e::WINDOWS_1251,
            "cp1256" => e::WINDOWS_1256,
            "cp1257" => e::WINDOWS_1257,
            "greek" => e::ISO_8859_7,
            "hebrew" => e::ISO_8859_8,
            "koi8r" => e::KOI8_R,
            "koi8u" => e::KOI8_U,
            "cp866" => e::IBM866,
            "macroman" => e::MACINTOSH,
            "tis620" => e::WINDOWS_874,
            "gbk" | "gb2312" => e::GBK,
            "gb18030" => e::GB18030,
            "big5" => e::BIG5,
            "sjis" | "cp932" => e::SHIFT_JIS,
            "ujis" | "eucjpms" => e::EUC_JP,
            "euckr" => e::EUC_KR,
            "utf16" | "ucs2" => e::UTF_16BE,
            "utf16le" => e::UTF_16LE,
            "utf32" => return Charset::Utf32,
            _ => return Charset::Utf8,
        };
        Charset::Encoded(enc)
    }

    /// The charset of a collation id (a table map's column metadata). Ids are the servers'
    /// compiled-in collations, the same on MySQL and MariaDB below 256; any other id reads
    /// as UTF-8.
    pub(crate) fn of_collation(id: u16) -> Charset {
        let name = match id {
            1 | 84 => "big5",
            2 | 9 | 21 | 27 | 77 => "latin2",
            5 | 8 | 15 | 31 | 47 | 48 | 49 | 94 => "latin1",
            7 | 74 => "koi8r",
            12 | 91 => "ujis",
            13 | 88 => "sjis",
            14 | 23 | 50..=52 => "cp1251",
            16 | 71 => "hebrew",
            18 | 89 => "tis620",
            19 | 85 => "euckr",
            20 | 41 | 42 | 79 => "latin7",
            22 | 75 => "koi8u",
            24 | 86 => "gb2312",
            25 | 70 => "greek",
            26 | 34 | 44 | 66 | 99 => "cp1250",
            28 | 87 => "gbk",
            29 | 58 | 59 => "cp1257",
            30 | 78 => "latin5",
            35 | 90 | 128..=151 | 159 => "ucs2",
            36 | 68 => "cp866",
            39 | 53 => "macroman",
            54 | 55 | 101..=124 => "utf16",
            56 | 62 => "utf16le",
            57 | 67 => "cp1256",
            60 | 61 | 160..=183 => "utf32",
            95 | 96 => "cp932",
            97 | 98 => "eucjpms",
            248..=250 => "gb18030",
            _ => return Charset::Utf8,
        };
        Charset::named(name)
    }

    /// The text of `bytes` (ASCII in an ASCII-compatible charset is taken as it is).
    pub(crate) fn decode(self, bytes: Vec<u8>) -> String {
        match self {
            Charset::Utf8 => utf8(bytes),
            Charset::Encoded(enc) if enc.is_ascii_compatible() && bytes.is_ascii() => utf8(bytes),
            Charset::Encoded(enc) => enc.decode_without_bom_handling(&bytes).0.into_owned(),
            Charset::Utf32 => {
                let mut out = String::with_capacity(bytes.len() / 4);
                let mut units = bytes.chunks_exact(4);
                for u in &mut units {
                    let cp = u32::from_be_bytes([u[0], u[1], u[2], u[3]]);
                    out.push(char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                if !units.remainder().is_empty() {
                    out.push(char::REPLACEMENT_CHARACTER);
                }
                out
            }
        }
    }
}

fn utf8(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_each_family() {
        let latin1 = Charset::named("latin1");
        // MySQL's latin1 is windows-1252: 0x80 is the euro sign.
        assert_eq!(latin1.decode(vec![b'c', 0xE9, b' ', 0x80]), "cé €");
        assert_eq!(latin1.decode(b"plain".to_vec()), "plain");
        assert_eq!(
            Charset::named("cp1251").decode(vec![0xCF, 0xF0, 0xE8]),
            "При"
        );
        assert_eq!(Charset::named("gbk").decode(vec![0xD6, 0xD0]), "中");
        assert_eq!(Charset::named("sjis").decode(vec![0x93, 0xFA]), "日");
        assert_eq!(
            Charset::named("utf16").decode(vec![0xD8, 0x34, 0xDD, 0x1E]),
            "𝄞"
        );
        assert_eq!(Charset::named("utf16le").decode(vec![0xE9, 0x00]), "é");
        assert_eq!(Charset::named("ucs2").decode(vec![0x4E, 0x2D]), "中");
        assert_eq!(
            Charset::named("utf32").decode(vec![0, 1, 0xF6, 0x00, 0, 0, 0, 0xE9]),
            "😀é"
        );
        assert_eq!(Charset::named("utf8mb4").decode("é".into()), "é");
        assert_eq!(Charset::named("dec8"), Charset::Utf8);
    }

    #[test]
    fn bad_bytes_never_fail() {
        assert_eq!(
            Charset::Utf32.decode(vec![0x7F, 0, 0, 0, 1]),
            "\u{FFFD}\u{FFFD}"
        );
        assert_eq!(Charset::named("utf16").decode(vec![0xD8]), "\u{FFFD}");
        assert_eq!(Charset::Utf8.decode(vec![0xFF]), "\u{FFFD}");
        assert_eq!(Charset::named("gbk").decode(vec![0x81]), "\u{FFFD}");
    }

    #[test]
    fn collations_name_their_charsets() {
        assert_eq!(Charset::of_collation(8), Charset::named("latin1"));
        assert_eq!(Charset::of_collation(51), Charset::named("cp1251"));
        assert_eq!(Charset::of_collation(45), Charset::Utf8);
        assert_eq!(Charset::of_collation(255), Charset::Utf8);
        assert_eq!(Charset::of_collation(101), Charset::named("utf16"));
        assert_eq!(Charset::of_collation(160), Charset::Utf32);
        assert_eq!(Charset::of_collation(2048), Charset::Utf8);
    }
}
