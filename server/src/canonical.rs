//! Pushed JSON as the server bounds and compares it, never recursing on
//! its depth (a value may be nested a million levels: serde's skip of a
//! raw value takes it whole).
//!
//! The canonical form of a value keeps everything a JSON reader can tell
//! apart, and only that: whitespace goes, each string is written one way
//! (its UTF-16 code units kept, lone surrogates included), each number one
//! way (its exact decimal value: `1.0` is `1`, `-0` is `0`, and
//! `0.10000000000000001` is not `0.1`), object keys stay in their order.

/// How deep pushed `data` and `metadata` may nest: what `transact` accepts
/// on a device (`MAX_DEPTH` in the package's json.js).
pub const MAX_DEPTH: usize = 1000;

/// The deepest nesting of arrays and objects in a JSON text: `1` → 0,
/// `[]` → 1, `{"a":[1]}` → 2.
pub fn depth(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The canonical form of a well-formed JSON text (see the module's notes).
pub fn canonical(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'"' => i = string(text, i, out),
            b'-' | b'0'..=b'9' => {
                let end = bytes[i..]
                    .iter()
                    .position(|b| !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                    .map_or(bytes.len(), |n| i + n);
                number(&text[i..end], out);
                i = end;
            }
            _ => {
                // Structure and the literals true, false, null: as they are.
                let end = bytes[i..]
                    .iter()
                    .position(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'"'))
                    .map_or(bytes.len(), |n| i + n);
                let mut j = i;
                while j < end {
                    if matches!(bytes[j], b'-' | b'0'..=b'9') {
                        break;
                    }
                    j += 1;
                }
                out.push_str(&text[i..j]);
                i = j;
            }
        }
    }
}

/// Writes the string that starts at `start` (its quote) canonically;
/// returns where it ends.
fn string(text: &str, start: usize, out: &mut String) -> usize {
    let bytes = text.as_bytes();
    // Without escapes a string is written one way already (JSON text
    // holds no raw control characters).
    let end = bytes[start + 1..]
        .iter()
        .position(|b| matches!(b, b'"' | b'\\'))
        .map_or(bytes.len(), |n| start + 1 + n);
    if bytes.get(end) == Some(&b'"') {
        out.push_str(&text[start..=end]);
        return end + 1;
    }
    let mut units: Vec<u16> = Vec::new();
    let mut i = start + 1;
    loop {
        match bytes[i] {
            b'"' => break,
            b'\\' => {
                let unit = match bytes[i + 1] {
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => 0x0a,
                    b'r' => 0x0d,
                    b't' => 0x09,
                    b'u' => {
                        let unit = u16::from_str_radix(&text[i + 2..i + 6], 16).unwrap_or(0xfffd);
                        i += 4;
                        unit
                    }
                    other => u16::from(other), // \" \\ \/
                };
                units.push(unit);
                i += 2;
            }
            _ => {
                let c = text[i..].chars().next().expect("a character");
                let mut buf = [0u16; 2];
                units.extend_from_slice(c.encode_utf16(&mut buf));
                i += c.len_utf8();
            }
        }
    }
    out.push('"');
    for unit in char::decode_utf16(units.iter().copied()) {
        match unit {
            Ok('"') => out.push_str("\\\""),
            Ok('\\') => out.push_str("\\\\"),
            Ok(c) if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            Ok(c) => out.push(c),
            Err(lone) => out.push_str(&format!("\\u{:04x}", lone.unpaired_surrogate())),
        }
    }
    out.push('"');
    i + 1
}

/// Writes a JSON number as its exact value: `[-]digits` (an integer, its
/// zeros written out) or `[-]digitsE[-]exponent`, no leading or trailing
/// zeros in `digits`.
fn number(text: &str, out: &mut String) {
    // An integer without leading or trailing zeros: already its one form.
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits == "0" {
        out.push('0');
        return;
    }
    if digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
        && !digits.ends_with('0')
    {
        out.push_str(text);
        return;
    }
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, "0"),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // An exponent too long for i64 is kept as written: lossless, if not
    // the only way to write that value.
    let Ok(exponent) = exponent.parse::<i64>() else {
        out.push_str(text);
        return;
    };
    let mut digits: String = format!("{whole}{fraction}");
    let mut exponent = exponent.saturating_sub(fraction.len() as i64);
    let leading = digits.len() - digits.trim_start_matches('0').len();
    digits.drain(..leading);
    let trailing = digits.len() - digits.trim_end_matches('0').len();
    digits.truncate(digits.len() - trailing);
    exponent = exponent.saturating_add(trailing as i64);
    if digits.is_empty() {
        out.push('0');
        return;
    }
    if negative {
        out.push('-');
    }
    out.push_str(&digits);
    if (1..=PLAIN_ZEROS).contains(&exponent) {
        // An integer: written out, as JSON.stringify writes most.
        out.extend(std::iter::repeat_n('0', exponent as usize));
    } else if exponent != 0 {
        out.push('E');
        out.push_str(&exponent.to_string());
    }
}

/// An integer with up to this many trailing zeros is written with them;
/// beyond, as digits E exponent (so `1e1000000000` stays short).
const PLAIN_ZEROS: i64 = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> String {
        let mut out = String::new();
        canonical(text, &mut out);
        out
    }

    #[test]
    fn depth_counts_containers_not_brackets_in_strings() {
        assert_eq!(depth("1"), 0);
        assert_eq!(depth("[]"), 1);
        assert_eq!(depth(r#"{"a":[1,{"b":"[[[\"]]"}]}"#), 3);
        assert_eq!(
            depth(&format!("{}{}", "[".repeat(5000), "]".repeat(5000))),
            5000
        );
    }

    #[test]
    fn integers_and_plain_strings_keep_their_text() {
        assert_eq!(
            canon("[100,1e2,1.5e3,1e5000,-0.0]"),
            "[100,100,1500,1E5000,0]"
        );
        assert_eq!(canon(&format!("1{}", "0".repeat(5000))), "1E5000");
        assert_eq!(
            canon(r#"["plain","with \"quote\""]"#),
            r#"["plain","with \"quote\""]"#
        );
    }

    #[test]
    fn equal_values_have_one_form_and_different_ones_differ() {
        assert_eq!(
            canon(r#" { "a" : [ 1.0 , -0, 10e-1, 1E2 ] } "#),
            r#"{"a":[1,0,1,100]}"#
        );
        assert_eq!(canon(r#""\u0041\/\n\u00e9""#), canon("\"A/\\né\""));
        assert_ne!(canon("0.1"), canon("0.10000000000000001"));
        assert_ne!(canon("18446744073709551616"), canon("18446744073709551617"));
        assert_ne!(canon("1e400"), canon("2e400"));
        assert_ne!(canon(r#""\ud800""#), canon(r#""\ud801""#));
        assert_eq!(canon(r#""\ud83d\ude00""#), "\"😀\"");
        assert_eq!(canon(r#"{"b":1,"a":2}"#), r#"{"b":1,"a":2}"#);
        assert_eq!(
            canon("[true,false,null,-12.50]"),
            "[true,false,null,-125E-1]"
        );
    }
}
