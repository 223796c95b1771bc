//! Decimal and temporal conversions to Kafka Connect's representations.
//!
//! - `Decimal`: big-endian two's-complement bytes of the unscaled integer, minimal length.
//! - Dates and timestamps: proleptic Gregorian civil dates from day counts (no time-zone data).

/// Two's-complement big-endian bytes of a base-10 integer string (optional leading `-`).
/// Returns `None` when the string is not an integer.
pub(crate) fn unscaled_bytes(digits: &str) -> Option<Vec<u8>> {
    let (neg, body) = match digits.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, digits.strip_prefix('+').unwrap_or(digits)),
    };
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Magnitude in base 256, little-endian while building.
    let mut mag: Vec<u8> = Vec::with_capacity(body.len() / 2 + 1);
    for d in body.bytes() {
        let mut carry = u32::from(d - b'0');
        for limb in mag.iter_mut() {
            let v = u32::from(*limb) * 10 + carry;
            *limb = (v & 0xff) as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            mag.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    while mag.last() == Some(&0) {
        mag.pop();
    }
    let is_zero = mag.is_empty();
    if neg && !is_zero {
        // Two's complement: invert and add one.
        let mut carry = 1u16;
        for limb in mag.iter_mut() {
            let v = u16::from(!*limb) + carry;
            *limb = (v & 0xff) as u8;
            carry = v >> 8;
        }
        // Ensure the sign bit is set.
        if mag.last().is_none_or(|b| b & 0x80 == 0) {
            mag.push(0xff);
        }
        // Drop redundant 0xff bytes.
        while mag.len() > 1 && mag[mag.len() - 1] == 0xff && mag[mag.len() - 2] & 0x80 != 0 {
            mag.pop();
        }
    } else if mag.last().is_none_or(|b| b & 0x80 != 0) {
        mag.push(0);
    }
    mag.reverse();
    Some(mag)
}

/// Civil date (year, month, day) of a day count since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// ISO-8601 instant in UTC with `digits` fractional digits (`2020-01-01T01:02:03.000000Z`).
pub(crate) fn format_instant(micros: i64, digits: u8) -> String {
    let days = micros.div_euclid(86_400_000_000);
    let tod = micros.rem_euclid(86_400_000_000);
    let (y, m, d) = civil_from_days(days);
    let year = if (0..=9999).contains(&y) {
        format!("{y:04}")
    } else if y > 9999 {
        format!("+{y}")
    } else {
        format!("-{:04}", -y)
    };
    let digits = (digits != crate::event::ColumnType::SHORTEST_FRACTION).then_some(digits);
    let mut s = format!("{year}-{m:02}-{d:02}T{}", format_tod(tod, digits));
    s.push('Z');
    s
}

/// Write an ISO-8601 UTC instant without allocating (years 0..=9999; others fall back).
pub(crate) fn write_instant(out: &mut Vec<u8>, micros: i64, digits: u8) {
    let days = micros.div_euclid(86_400_000_000);
    let tod = micros.rem_euclid(86_400_000_000);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        out.extend_from_slice(format_instant(micros, digits).as_bytes());
        return;
    }
    let two = |out: &mut Vec<u8>, v: u32| {
        out.push(b'0' + (v / 10) as u8);
        out.push(b'0' + (v % 10) as u8);
    };
    let y = y as u32;
    two(out, y / 100);
    two(out, y % 100);
    out.push(b'-');
    two(out, m);
    out.push(b'-');
    two(out, d);
    out.push(b'T');
    let secs = (tod / 1_000_000) as u32;
    two(out, secs / 3600);
    out.push(b':');
    two(out, (secs / 60) % 60);
    out.push(b':');
    two(out, secs % 60);
    let mut frac = (tod % 1_000_000) as u32;
    let n = if digits == crate::event::ColumnType::SHORTEST_FRACTION {
        // Java's ISO_LOCAL_TIME: the shortest fraction, none when zero.
        let mut n = if frac == 0 { 0 } else { 6 };
        let mut f = frac;
        while n > 0 && f % 10 == 0 {
            f /= 10;
            n -= 1;
        }
        n
    } else {
        usize::from(digits.min(6))
    };
    if n > 0 {
        out.push(b'.');
        let mut buf = [b'0'; 6];
        for slot in buf.iter_mut().rev() {
            *slot = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out.push(b'Z');
}

/// `HH:MM:SS` plus fraction: `Some(n)` prints exactly n digits, `None` prints the shortest
/// non-empty fraction (Java's ISO_LOCAL_TIME) or none when zero.
pub(crate) fn format_tod(micros: i64, digits: Option<u8>) -> String {
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    let mut s = format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
    match digits {
        Some(0) => {}
        Some(n) => {
            let f = format!("{frac:06}");
            s.push('.');
            s.push_str(&f[..usize::from(n.min(6))]);
        }
        None if frac == 0 => {}
        None => {
            let f = format!("{frac:06}");
            s.push('.');
            s.push_str(f.trim_end_matches('0'));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ColumnType;

    /// Unscaled integers encode like Java's BigInteger.toByteArray.
    #[test]
    fn twos_complement() {
        assert_eq!(unscaled_bytes("4500"), Some(vec![0x11, 0x94]));
        assert_eq!(unscaled_bytes("100"), Some(vec![0x64]));
        assert_eq!(unscaled_bytes("-1"), Some(vec![0xff]));
        assert_eq!(unscaled_bytes("128"), Some(vec![0x00, 0x80]));
        assert_eq!(unscaled_bytes("-128"), Some(vec![0x80]));
        assert_eq!(unscaled_bytes("-129"), Some(vec![0xff, 0x7f]));
        assert_eq!(unscaled_bytes("0"), Some(vec![0x00]));
        assert_eq!(unscaled_bytes("-0"), Some(vec![0x00]));
        assert_eq!(
            unscaled_bytes("-9999999999"),
            Some(vec![0xfd, 0xab, 0xf4, 0x1c, 0x01])
        );
        assert_eq!(unscaled_bytes("1x"), None);
        assert_eq!(unscaled_bytes(""), None);
    }

    /// Day counts and civil dates agree both ways, around the epoch and far away.
    #[test]
    fn civil_roundtrip() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2024, 2, 29), 19782);
        assert_eq!(days_from_civil(1900, 1, 1), -25567);
        for d in [-800_000i64, -1, 0, 59, 10_000, 2_932_896] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    /// Instants and times print as Debezium's ZonedTimestamp/ZonedTime do.
    #[test]
    fn formatting() {
        assert_eq!(
            format_instant(1_577_840_523_000_000, 6),
            "2020-01-01T01:02:03.000000Z"
        );
        assert_eq!(format_instant(0, 6), "1970-01-01T00:00:00.000000Z");
        assert_eq!(format_instant(-1, 6), "1969-12-31T23:59:59.999999Z");
        for (us, d) in [
            (1_577_840_523_000_000i64, 6u8),
            (-1, 6),
            (0, 0),
            (1_709_214_356_123_456, 3),
            (1_709_214_356_123_456, ColumnType::SHORTEST_FRACTION),
            (1_709_214_356_500_000, ColumnType::SHORTEST_FRACTION),
            (1_709_214_356_000_000, ColumnType::SHORTEST_FRACTION),
            (-1, ColumnType::SHORTEST_FRACTION),
        ] {
            let mut v = Vec::new();
            write_instant(&mut v, us, d);
            assert_eq!(String::from_utf8(v).expect("utf8"), format_instant(us, d));
        }
        assert_eq!(format_tod(123_000_000, None), "00:02:03");
        assert_eq!(format_tod(42_356_123_456, None), "11:45:56.123456");
        assert_eq!(format_tod(42_356_500_000, None), "11:45:56.5");
    }
}
