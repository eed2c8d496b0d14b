//! Small JSON helpers shared by the parsers and writers: string escaping,
//! UUID text, field paths as JavaScript writes them, safe integers, RFC 3339
//! date-times.

use serde_json::Value;

/// Appends `s` as a JSON string literal.
pub fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// A UUID's text: lowercase, hyphenated, 36 bytes.
pub fn uuid_text(id: u128, buf: &mut [u8; UUID_LEN]) -> &str {
    uuid::Uuid::from_u128(id).hyphenated().encode_lower(buf)
}

pub const UUID_LEN: usize = uuid::fmt::Hyphenated::LENGTH;

/// Appends a UUID as a quoted JSON string.
pub fn write_uuid(out: &mut String, id: u128) {
    let mut buf = [0u8; UUID_LEN];
    out.push('"');
    out.push_str(uuid_text(id, &mut buf));
    out.push('"');
}

/// Parses the 36-character hyphenated UUID form, either case.
pub fn parse_uuid(s: &str) -> Option<u128> {
    if s.len() != 36 {
        return None;
    }
    uuid::Uuid::try_parse(s).ok().map(|u| u.as_u128())
}

/// A field path as JavaScript would reach it: `events[2].type`,
/// `expect["acc-1"]`.
pub fn key_path(parent: &str, key: &str) -> String {
    let ident = !key.is_empty()
        && !key.as_bytes()[0].is_ascii_digit()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$');
    let mut out = String::with_capacity(parent.len() + key.len() + 4);
    out.push_str(parent);
    if ident {
        if !parent.is_empty() {
            out.push('.');
        }
        out.push_str(key);
    } else {
        out.push('[');
        write_str(&mut out, key);
        out.push(']');
    }
    out
}

pub fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// Whether `s` is an RFC 3339 date-time (`2026-11-23T10:00:00.5+02:00`).
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let num = |r: std::ops::Range<usize>| r.fold(0u32, |n, i| n * 10 + (b[i] - b'0') as u32);
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !matches!(b[10], b'T' | b't' | b' ')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days || num(11..13) > 23 || num(14..16) > 59 || num(17..19) > 60 {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match &b[i..] {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', ..] if b.len() - i == 6 => {
            digits(i + 1..i + 3)
                && b[i + 3] == b':'
                && digits(i + 4..i + 6)
                && num(i + 1..i + 3) <= 23
                && num(i + 4..i + 6) <= 59
        }
        _ => false,
    }
}

/// The largest integer JavaScript represents exactly (2⁵³ − 1).
pub const MAX_SAFE: u64 = (1 << 53) - 1;

/// The value as a non-negative safe integer, if it is one.
pub fn safe_integer(v: &Value) -> Option<u64> {
    match v.as_u64() {
        Some(n) if n <= MAX_SAFE => Some(n),
        _ => match v.as_f64() {
            Some(f) if f.fract() == 0.0 && f >= 0.0 && f <= MAX_SAFE as f64 => Some(f as u64),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_strings_as_json_does() {
        for s in [
            "plain",
            "quote\"back\\slash",
            "nl\n\t\r",
            "\u{1}ctl",
            "ünï😀",
        ] {
            let mut out = String::new();
            write_str(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap());
        }
    }

    #[test]
    fn paths_read_like_javascript() {
        assert_eq!(key_path("", "events"), "events");
        assert_eq!(key_path(&index_path("events", 2), "type"), "events[2].type");
        assert_eq!(key_path("expect", "acc-1"), "expect[\"acc-1\"]");
        assert_eq!(key_path("expect", "1x"), "expect[\"1x\"]");
    }

    #[test]
    fn rfc3339() {
        for ok in [
            "2026-11-23T10:00:00Z",
            "2026-11-23T10:00:00.123456+02:00",
            "2024-02-29t23:59:60z",
            "2026-11-23 10:00:00-05:30",
        ] {
            assert!(is_rfc3339(ok), "{ok}");
        }
        for bad in [
            "2026-11-23",
            "2026-11-23T10:00:00",
            "2026-02-29T10:00:00Z",
            "2026-13-01T10:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T10:00:00.Z",
            "2026-11-23T10:00:00+0200",
            "2026-11-23T10:00:00Zjunk",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }

    #[test]
    fn uuids_parse_in_either_case_and_print_lowercase() {
        let id = parse_uuid("6F9619FF-8B86-D011-B42D-00C04FC964FF").unwrap();
        let mut out = String::new();
        write_uuid(&mut out, id);
        assert_eq!(out, "\"6f9619ff-8b86-d011-b42d-00c04fc964ff\"");
        assert_eq!(parse_uuid("6f9619ff8b86d011b42d00c04fc964ff"), None);
        assert_eq!(parse_uuid("{6f9619ff-8b86-d011-b42d-00c04fc964ff}"), None);
    }
}
