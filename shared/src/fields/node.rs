//! The JSON the reader walks: a parsed [`Value`], or raw text ([`RawValue`]) whose numbers keep
//! their exact text.

use std::borrow::Cow;

use serde_json::value::RawValue;

use crate::json::{Entry, Tape};
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

    /// Whether the value is an object, without opening it.
    fn is_object(self) -> bool {
        matches!(self.kind(), Kind::Object(_))
    }
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

    fn is_object(self) -> bool {
        Value::is_object(self)
    }
}

/// JSON text known to be valid -- a [`RawValue`]'s, or text [`Raw::parse`] checked -- read
/// without parsing it again. Text the check vouched for comes with its [`Tape`], where every value
/// is: opening an object or an array then walks the tape, never the bytes. Other text (a
/// `RawValue`'s, or what the check left to serde_json) is split by a scan that only tracks strings
/// and nesting, each value looked at once more only when a field of it is read. Numbers keep their
/// exact text.
#[derive(Clone, Copy, Debug)]
pub struct Raw<'a> {
    /// With a tape: the whole text the tape describes. Without: this value's own text, trimmed.
    text: &'a str,
    /// This value's entry, then those of what follows it in the text; empty when there is none.
    tape: &'a [Entry],
}

impl<'a> From<&'a RawValue> for Raw<'a> {
    fn from(r: &'a RawValue) -> Raw<'a> {
        Raw { text: r.get().trim(), tape: &[] }
    }
}

impl<'a> Raw<'a> {
    /// `bytes` as one value, if they pass [`crate::json::check`] (the same messages when not):
    /// checked in one pass ([`crate::json::checked`]) that leaves `tape` saying where every value
    /// is, so a batch's transactions are read without a parse of their own.
    pub fn parse(bytes: &'a [u8], tape: &'a mut Tape) -> Result<Raw<'a>, String> {
        let text = crate::json::checked(bytes, tape)?;
        let tape: &'a Tape = tape;
        Ok(match tape.entries() {
            [] => Raw { text: text.trim_ascii(), tape: &[] },
            entries => Raw { text, tape: entries },
        })
    }

    /// The array element `bytes` start with, and its length, when the one pass vouches for it
    /// whole within `bytes` ([`crate::json::vouched_item`]): an element read where it lies.
    pub fn parse_item(bytes: &'a [u8], tape: &'a mut Tape) -> Option<(Raw<'a>, usize)> {
        let text = crate::json::vouched_item(bytes, tape)?;
        let tape: &'a Tape = tape;
        Some((Raw { text, tape: tape.entries() }, text.len()))
    }

    /// The value's text, as sent.
    pub fn get(self) -> &'a str {
        match self.tape.first() {
            Some(e) => &self.text[e.start as usize..e.end as usize],
            None => self.text,
        }
    }

    /// A value inside this one: the entry at `at` of this value's tape.
    fn at(self, at: usize) -> Raw<'a> {
        Raw { text: self.text, tape: &self.tape[at..] }
    }

    /// Where the values directly inside this one start on its tape: each item of an array; each
    /// member's name of an object (its value the entry after). `step` is 1 or 2.
    fn children(self, e: Entry, step: usize) -> impl Iterator<Item = usize> + 'a {
        let tape = self.tape;
        let mut j = 1;
        std::iter::from_fn(move || {
            let at = j;
            (at < e.size()).then(|| {
                j = at + step - 1 + tape[at + step - 1].size();
                at
            })
        })
    }

    /// The kind of a value of a tape.
    fn taped(self, e: Entry) -> Kind<'a, Raw<'a>> {
        let text = &self.text[e.start as usize..e.end as usize];
        match text.as_bytes()[0] {
            b'n' => Kind::Null,
            b't' => Kind::Bool(true),
            b'f' => Kind::Bool(false),
            b'"' if e.escaped() => Kind::String(string(text)),
            b'"' => Kind::String(Cow::Borrowed(&text[1..text.len() - 1])),
            b'[' => {
                let mut out = Vec::with_capacity(self.children(e, 1).count());
                out.extend(self.children(e, 1).map(|at| self.at(at)));
                Kind::Array(out)
            }
            b'{' => {
                let mut out = Vec::with_capacity(self.children(e, 2).count());
                // A vouched text's names hold no escape and none repeats (`checked`).
                out.extend(self.children(e, 2).map(|at| {
                    let name = self.tape[at];
                    (Cow::Borrowed(&self.text[name.start as usize + 1..name.end as usize - 1]), self.at(at + 1))
                }));
                Kind::Object(out)
            }
            _ => Kind::Number { text: Cow::Borrowed(text), exact: true },
        }
    }
}

/// Checked values kept together, as a window of a batch holds its transactions: one text and one
/// tape for all, not an allocation each.
#[derive(Debug, Default)]
pub struct Raws {
    text: String,
    tape: Vec<Entry>,
    /// Each value's text and tape, as ranges of the two.
    values: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
}

impl Raws {
    /// Room for `values` values of `bytes` bytes in all.
    pub fn with_capacity(values: usize, bytes: usize) -> Raws {
        // A tape takes about one entry of 12 bytes per 8 bytes of text.
        Raws {
            text: String::with_capacity(bytes),
            tape: Vec::with_capacity(bytes / 8),
            values: Vec::with_capacity(values),
        }
    }

    /// Keeps a copy of `raw` (its text, and its tape if it has one): a value [`Raw::parse`] or
    /// [`Raw::parse_item`] made, whose tape describes its whole text. (A value inside one shares
    /// its parent's text, all of which would be copied.)
    pub fn push(&mut self, raw: Raw<'_>) {
        let (text, tape) = (self.text.len(), self.tape.len());
        self.text.push_str(raw.text);
        if let Some(e) = raw.tape.first() {
            self.tape.extend_from_slice(&raw.tape[..e.size()]);
        }
        self.values.push((text..self.text.len(), tape..self.tape.len()));
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The text bytes held.
    pub fn bytes(&self) -> usize {
        self.text.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = Raw<'_>> + '_ {
        self.values.iter().map(|(text, tape)| Raw { text: &self.text[text.clone()], tape: &self.tape[tape.clone()] })
    }
}

impl<'a> Node<'a> for Raw<'a> {
    fn is_object(self) -> bool {
        // Valid JSON, trimmed: its first byte names its type.
        self.get().starts_with('{')
    }

    fn kind(self) -> Kind<'a, Self> {
        if let Some(&e) = self.tape.first() {
            return self.taped(e);
        }
        // Trimmed when made (from a RawValue, or by the scan). Valid JSON: its first byte names
        // its type.
        let text = self.text;
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
        out.push(Raw { text: &text[i..end], tape: &[] });
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
        let value = Raw { text: &text[start..end.max(start)], tape: &[] };
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
