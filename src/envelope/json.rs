//! A minimal, allocation-light JSON writer for the hot encoding path.
//!
//! Invariant: every function appends syntactically valid JSON fragments; strings are escaped
//! the way Jackson (Kafka Connect's JsonConverter) escapes them, so byte-for-byte output stays
//! close to Debezium's.

use base64::Engine as _;

/// Append `s` as a JSON string literal.
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Most strings need no escape: copy them whole.
    let Some(first) = next_escaped(bytes, 0) else {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    };
    // Copy each run between escaped bytes whole.
    let mut start = 0;
    let mut i = first;
    loop {
        out.extend_from_slice(&bytes[start..i]);
        let b = bytes[i];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        start = i + 1;
        match next_escaped(bytes, start) {
            Some(p) => i = p,
            None => break,
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The index of the first byte at or after `from` that JSON must escape: eight bytes at a
/// time while none of them is a control character, `"` or `\\`, then byte by byte.
fn next_escaped(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether some byte of `x` is zero (exact for the word as a whole).
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS != 0;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_ne_bytes(word);
        // A byte below 0x20; a `"`; a `\\`.
        let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS != 0;
        if control
            || has_zero(w ^ (ONES * u64::from(b'"')))
            || has_zero(w ^ (ONES * u64::from(b'\\')))
        {
            break;
        }
        i += 8;
    }
    bytes[i..]
        .iter()
        .position(|&b| ESCAPED[b as usize])
        .map(|p| i + p)
}

/// Bytes a JSON string must escape: control characters, `"` and `\\`.
static ESCAPED: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Append an integer without allocating (two digits at a time).
pub(crate) fn int(out: &mut Vec<u8>, v: i64) {
    const PAIRS: &[u8; 200] = b"\
        0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = v.unsigned_abs();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Append a double the way Jackson does: non-finite values become strings, finite ones Java
/// 17's `Double.toString` text (see `java_float`), so integral values keep a `.0`.
pub(crate) fn float64(out: &mut Vec<u8>, v: f64) {
    if !v.is_finite() {
        return non_finite(out, v.is_nan(), v > 0.0);
    }
    super::java_float::double(out, v);
}

/// Append a single-precision float as Java 17's `Float.toString` prints it.
pub(crate) fn float32(out: &mut Vec<u8>, v: f32) {
    if !v.is_finite() {
        return non_finite(out, v.is_nan(), v > 0.0);
    }
    super::java_float::float(out, v);
}

fn non_finite(out: &mut Vec<u8>, nan: bool, positive: bool) {
    out.extend_from_slice(match (nan, positive) {
        (true, _) => b"\"NaN\"".as_slice(),
        (false, true) => b"\"Infinity\"".as_slice(),
        (false, false) => b"\"-Infinity\"".as_slice(),
    });
}

/// Append bytes as a base64 JSON string (Connect's encoding of BYTES).
pub(crate) fn base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let start = out.len();
    out.resize(start + bytes.len().div_ceil(3) * 4, 0);
    let len = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + len);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).expect("utf8")
    }

    /// Escaping matches JSON rules and round-trips through serde_json.
    #[test]
    fn string_escaping() {
        let input = "ünï \"q\" \\ \n\t\u{1}\u{7f}✓";
        let out = s(|o| string(o, input));
        let back: String = serde_json::from_str(&out).expect("valid json");
        assert_eq!(back, input);
        assert_eq!(s(|o| string(o, "\u{1}")), "\"\\u0001\"");
    }

    /// Jackson's escaping, one character at a time.
    fn jackson(input: &str) -> String {
        let mut out = String::from("\"");
        for c in input.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// Generated strings dense in escaped characters (runs of them, at both ends) are
    /// written as Jackson writes them, and round-trip.
    #[test]
    fn generated_strings_escape_as_jackson() {
        const PARTS: &[&str] = &[
            "\"",
            "\\",
            "\n",
            "\r",
            "\t",
            "\u{8}",
            "\u{c}",
            "\u{0}",
            "\u{1f}",
            "a",
            "bc",
            "é",
            "✓",
            "/",
            " ",
            "\u{7f}",
            "~",
            "!#",
            "0123456789",
            "abcdefghijklmnop",
            "ünï✓ünï✓",
        ];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (mut input, mut y) = (String::new(), x);
            for _ in 0..(x % 24) {
                input.push_str(PARTS[(y % PARTS.len() as u64) as usize]);
                y ^= y << 13;
                y ^= y >> 7;
                y ^= y << 17;
            }
            let out = s(|o| string(o, &input));
            assert_eq!(out, jackson(&input));
            let back: String = serde_json::from_str(&out).expect("valid json");
            assert_eq!(back, input);
        }
    }

    /// Floats print like Jackson: NaN/Infinity as strings, integral values with `.0`.
    #[test]
    fn floats() {
        assert_eq!(s(|o| float32(o, 0.1)), "0.1");
        assert_eq!(s(|o| float32(o, 5.0)), "5.0");
        assert_eq!(s(|o| float64(o, f64::NAN)), "\"NaN\"");
        assert_eq!(s(|o| float64(o, f64::NEG_INFINITY)), "\"-Infinity\"");
        assert_eq!(s(|o| float64(o, std::f64::consts::E)), "2.718281828459045");
        assert_eq!(s(|o| float32(o, 3.402_823_5e38)), "3.4028235E38");
        assert_eq!(s(|o| float64(o, -f64::MAX)), "-1.7976931348623157E308");
        assert_eq!(s(|o| float64(o, 5e-324)), "4.9E-324");
        assert_eq!(s(|o| float64(o, 1e7)), "1.0E7");
        assert_eq!(s(|o| float64(o, 0.001)), "0.001");
        assert_eq!(s(|o| float64(o, -0.0)), "-0.0");
    }

    /// Integers print like Display, extremes included.
    #[test]
    fn ints() {
        for v in [
            0i64,
            7,
            -7,
            9,
            10,
            99,
            100,
            101,
            -100,
            1234567890,
            12345678901,
            i64::MIN,
            i64::MAX,
        ]
        .into_iter()
        .chain((0..64).flat_map(|b| {
            let p = 1i64 << b;
            [p, p.wrapping_sub(1), p.wrapping_neg().wrapping_add(1)]
        })) {
            assert_eq!(s(|o| int(o, v)), v.to_string());
        }
    }

    /// Base64 output is standard padded base64.
    #[test]
    fn base64_padded() {
        assert_eq!(s(|o| base64(o, &[1, 2])), "\"AQI=\"");
        assert_eq!(s(|o| base64(o, &[])), "\"\"");
        assert_eq!(s(|o| base64(o, &[0xde, 0xad, 0xbe, 0xef])), "\"3q2+7w==\"");
    }
}
