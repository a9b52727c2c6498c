//! The JSON the reader walks: a parsed [`Value`], or raw text ([`RawValue`]) whose numbers keep
//! their exact text.

use std::borrow::Cow;

use serde_json::value::RawValue;
use serde_json::Value;

/// A JSON value as the reader sees it.
pub enum Kind<'a, N> {
    Null,
    Bool(bool),
    /// The number's text; `exact` when it is the text sent (raw JSON, or an integer).
    Number {
        text: Cow<'a, str>,
        exact: bool,
    },
    String(Cow<'a, str>),
    Array(Vec<N>),
    Object(Vec<(Cow<'a, str>, N)>),
}

/// A source of JSON: a parsed [`Value`], or raw text ([`RawValue`]) where numbers must keep
/// their exact text.
pub trait Node<'a>: Copy {
    fn kind(self) -> Kind<'a, Self>;
}

impl<'a> Node<'a> for &'a Value {
    fn kind(self) -> Kind<'a, Self> {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(b) => Kind::Bool(*b),
            Value::Number(n) => Kind::Number { text: Cow::Owned(n.to_string()), exact: !n.is_f64() },
            Value::String(s) => Kind::String(Cow::Borrowed(s)),
            Value::Array(items) => Kind::Array(items.iter().collect()),
            Value::Object(map) => Kind::Object(map.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), v)).collect()),
        }
    }
}

/// JSON text known to be valid -- a [`RawValue`]'s, text [`Raw::parse`] checked, or a part of
/// either found by [`Raw`]'s own scan -- read without parsing it again: objects and arrays are
/// split by a scan that only tracks strings and nesting (the text was checked when the `Raw` or
/// `RawValue` was made), so each value is looked at once more only when a field of it is read.
/// Numbers keep their exact text.
#[derive(Clone, Copy, Debug)]
pub struct Raw<'a>(&'a str);

impl<'a> From<&'a RawValue> for Raw<'a> {
    fn from(r: &'a RawValue) -> Raw<'a> {
        Raw(r.get().trim())
    }
}

impl<'a> Raw<'a> {
    /// `bytes` as one value, if they pass [`crate::json::check`] (the same messages when not):
    /// checked in one pass ([`crate::json::checked`]), so a batch's transactions are read
    /// without a parse of their own.
    pub fn parse(bytes: &'a [u8]) -> Result<Raw<'a>, String> {
        crate::json::checked(bytes).map(|text| Raw(text.trim_ascii()))
    }

    /// The value's text, as sent.
    pub fn get(self) -> &'a str {
        self.0
    }

    /// The same checked text, owned (a window of a batch holds its transactions so).
    pub fn owned(self) -> OwnedRaw {
        OwnedRaw(self.0.into())
    }
}

/// A [`Raw`] that owns its text, as a `Box<RawValue>` owns its: only ever made from a checked
/// one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedRaw(Box<str>);

impl<'a> From<&'a OwnedRaw> for Raw<'a> {
    fn from(r: &'a OwnedRaw) -> Raw<'a> {
        Raw(&r.0)
    }
}

impl<'a> Node<'a> for Raw<'a> {
    fn kind(self) -> Kind<'a, Self> {
        // Trimmed when made (from a RawValue, or by the scan). Valid JSON: its first byte names
        // its type.
        let text = self.0;
        match text.as_bytes().first() {
            Some(b'n') => Kind::Null,
            Some(b't') => Kind::Bool(true),
            Some(b'f') => Kind::Bool(false),
            Some(b'"') => Kind::String(string(text)),
            Some(b'[') => Kind::Array(items(text)),
            Some(b'{') => Kind::Object(members(text)),
            _ => Kind::Number { text: Cow::Borrowed(text), exact: true },
        }
    }
}

/// A string's value: its text between the quotes when it holds no escape, else decoded.
fn string(text: &str) -> Cow<'_, str> {
    match text.len() >= 2 && !text.as_bytes().contains(&b'\\') {
        true => Cow::Borrowed(&text[1..text.len() - 1]),
        false => serde_json::from_str::<Cow<'_, str>>(text).unwrap_or_default(),
    }
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The end (one past the closing quote) of the string that starts at `i`.
fn skip_string(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while let Some(at) = b.get(i..).and_then(crate::json::quote_or_backslash) {
        match b[i + at] {
            b'"' => return i + at + 1,
            _ => i += at + 2,
        }
    }
    b.len()
}

/// The end of the value that starts at `i`.
fn skip_value(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => skip_string(b, i),
        // Brackets of one kind balance on their own in valid JSON: only this kind and the
        // quotes (whose strings may hold either) need finding, a jump at a time.
        Some(&open @ (b'{' | b'[')) => {
            let close = if open == b'{' { b'}' } else { b']' };
            let (mut depth, mut j) = (0usize, i);
            while let Some(at) = b.get(j..).and_then(|rest| memchr::memchr3(b'"', open, close, rest)) {
                j += at;
                match b[j] {
                    b'"' => {
                        j = skip_string(b, j);
                        continue;
                    }
                    c if c == open => depth += 1,
                    _ => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                }
                j += 1;
            }
            b.len()
        }
        _ => {
            let mut j = i;
            while !matches!(b.get(j), None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')) {
                j += 1;
            }
            j
        }
    }
}

/// An array's items.
fn items(text: &str) -> Vec<Raw<'_>> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity((text.len() / 32).clamp(1, 64));
    let mut i = skip_space(b, 1);
    while i < b.len() && b[i] != b']' {
        let end = skip_value(b, i);
        if end <= i {
            break; // not JSON: a Raw is only made from checked text, so never reached
        }
        out.push(Raw(&text[i..end]));
        i = skip_space(b, end);
        if b.get(i) == Some(&b',') {
            i = skip_space(b, i + 1);
        }
    }
    out
}

/// An object's members in order, keys borrowed where they hold no escape. A repeated key keeps
/// its last value, as serde_json's own maps do.
fn members(text: &str) -> Vec<(Cow<'_, str>, Raw<'_>)> {
    let b = text.as_bytes();
    // About one member per 24 bytes of text, so most objects are read without growing.
    let mut out: Vec<(Cow<'_, str>, Raw<'_>)> = Vec::with_capacity((text.len() / 24).clamp(4, 64));
    // Keys seen so far, as bits of their fingerprints: only a key whose bit is set can be a
    // repeat, and only then are the keys compared.
    let mut seen = [0u64; 4];
    let mut i = skip_space(b, 1);
    while b.get(i) == Some(&b'"') {
        let key_end = skip_string(b, i);
        let key = string(&text[i..key_end]);
        i = skip_space(b, key_end);
        if b.get(i) != Some(&b':') {
            break;
        }
        let start = skip_space(b, i + 1);
        let end = skip_value(b, start);
        let value = Raw(&text[start..end.max(start)]);
        let bit = (super::fingerprint(&key).wrapping_mul(0x9E37_79B1) >> 24) as usize;
        let (word, mask) = (bit / 64, 1u64 << (bit % 64));
        let repeat = if seen[word] & mask == 0 { None } else { out.iter_mut().find(|(k, _)| *k == key) };
        seen[word] |= mask;
        match repeat {
            Some(slot) => slot.1 = value,
            None => out.push((key, value)),
        }
        i = skip_space(b, end);
        if b.get(i) == Some(&b',') {
            i = skip_space(b, i + 1);
        }
    }
    out
}

pub(super) fn type_name<N>(k: &Kind<'_, N>) -> &'static str {
    match k {
        Kind::Null => "null",
        Kind::Bool(_) => "a boolean",
        Kind::Number { .. } => "a number",
        Kind::String(_) => "a string",
        Kind::Array(_) => "an array",
        Kind::Object(_) => "an object",
    }
}
