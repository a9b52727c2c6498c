//! The JSON every API accepts: RFC 8259 text whose objects name each member once and whose strings
//! are Unicode. serde_json alone lets the last of two equal keys win silently (RFC 8259 leaves
//! duplicate names to the reader; I-JSON, RFC 7493 §2.3, forbids them) and, reading raw text,
//! passes a lone surrogate escape (`"\ud800"`, not a character; RFC 7493 §2.1). [`check`] refuses
//! both, so a request body means one thing, on every API.

use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// An object of these members, their values moved in. `json!` copies a `Value` it is given whole
/// (it serialises it again): an answer's envelope built with it pays for its contents twice.
pub fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
    Value::Object(members.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// Checks that `bytes` are one JSON value whose objects have no duplicate member name and whose
/// strings and names hold no lone surrogate. The message names a line and column, never the text.
pub fn check(bytes: &[u8]) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Strict.deserialize(&mut de).and_then(|()| de.end()).map_err(|e| e.to_string())
}

/// [`check`], answering the text: `bytes` as a `str` when they pass it (the same errors, the same
/// messages when not). One hand-written pass over the bytes vouches for the common case -- the
/// import reads every transaction of a batch this way, so it must cost about as much as finding
/// where each value ends; whatever that pass cannot vouch for (any error, a number with an
/// exponent or past 40 characters, which serde_json may find out of range, an escaped member
/// name, a surrogate escape, a value nested more than 64 deep) is decided by [`check`] itself.
/// The pass only ever says yes to text [`check`] accepts (a test compares them on generated
/// text). When it vouches, `tape` holds where every value it passed is (see [`Tape`]); else
/// `tape` is left empty.
pub fn checked<'a>(bytes: &'a [u8], tape: &mut Tape) -> Result<&'a str, String> {
    tape.0.clear();
    if let Ok(text) = std::str::from_utf8(bytes) {
        if bytes.len() < MAX_TAPED && vouched(bytes, &mut tape.0) {
            return Ok(text);
        }
        tape.0.clear();
    }
    check(bytes)?;
    // Text serde_json accepts is UTF-8 (its strings are checked; anything else outside them is
    // an error), so this answers Ok.
    std::str::from_utf8(bytes).map_err(|e| e.to_string())
}

/// The one value `bytes` start with (an element of an array being read), when the one pass of
/// [`checked`] vouches for it as it would for that value alone and a byte that may follow an
/// element (`,`, `]` or white space) follows it within `bytes`: its text, `tape` saying where
/// its values are. `None`, the tape left empty, for anything else -- a value that runs past
/// `bytes`, an error, whatever the pass leaves to [`check`] -- which the caller reads the slow
/// way.
pub fn vouched_item<'a>(bytes: &'a [u8], tape: &mut Tape) -> Option<&'a str> {
    tape.0.clear();
    if bytes.len() >= MAX_TAPED {
        return None;
    }
    let mut scan = Scan { b: bytes, i: 0, names: Vec::with_capacity(64), tape: &mut tape.0 };
    let ok = scan.value(0);
    let end = scan.i;
    let text = (ok && matches!(bytes.get(end), Some(b',' | b']' | b' ' | b'\t' | b'\n' | b'\r')))
        .then(|| std::str::from_utf8(&bytes[..end]).ok())
        .flatten();
    if text.is_none() {
        tape.0.clear();
    }
    text
}

/// Where the values of a text [`checked`] vouched for are, in the order they start (a member's
/// name just before its value), so that reading the text later never looks for a value's end
/// again: what a reader of the checked text ([`crate::fields::Raw`]) walks instead of the bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tape(pub(crate) Vec<Entry>);

impl Tape {
    pub fn new() -> Tape {
        Tape::default()
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.0
    }
}

/// One value (or member name) of a [`Tape`]: its bytes `start..end` in the checked text, and how
/// many entries it and everything inside it take (1 for a string, a number or a literal); a
/// string that holds an escape has [`Entry::ESCAPED`] set in `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub start: u32,
    pub end: u32,
    size: u32,
}

/// The longest text a tape is made for (an entry's offsets and size then fit 31 bits).
const MAX_TAPED: usize = 1 << 31;

impl Entry {
    /// The bit of `size` that says a string holds an escape.
    const ESCAPED: u32 = 1 << 31;

    /// The entries this value takes, itself included.
    pub fn size(self) -> usize {
        (self.size & !Entry::ESCAPED) as usize
    }

    /// Whether this string holds an escape.
    pub fn escaped(self) -> bool {
        self.size & Entry::ESCAPED != 0
    }
}

/// The one pass of [`checked`] over UTF-8 text: `true` only for text [`check`] accepts.
fn vouched(bytes: &[u8], tape: &mut Vec<Entry>) -> bool {
    (Scan { b: bytes, i: 0, names: Vec::with_capacity(64), tape }).document()
}

/// The one pass of [`checked`]: `true` when the bytes are one JSON value [`check`] accepts;
/// `false` when they are not, or when the pass cannot tell.
struct Scan<'a, 't> {
    b: &'a [u8],
    i: usize,
    /// The member names of the objects open, innermost last (escape-free, so compared as bytes).
    names: Vec<&'a [u8]>,
    /// Every value and member name passed so far.
    tape: &'t mut Vec<Entry>,
}

impl<'a> Scan<'a, '_> {
    fn document(&mut self) -> bool {
        self.space();
        if !self.value(0) {
            return false;
        }
        self.space();
        self.i == self.b.len()
    }

    fn space(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn value(&mut self, depth: usize) -> bool {
        // Nesting is left to `check` well before serde_json's own limit of 128.
        if depth > 64 {
            return false;
        }
        let at = self.tape.len();
        self.tape.push(Entry { start: self.i as u32, end: 0, size: 0 });
        let (ok, flag) = match self.b.get(self.i) {
            Some(b'{') => (self.object(depth + 1), 0),
            Some(b'[') => (self.array(depth + 1), 0),
            Some(b'"') => match self.string() {
                Some((_, escaped)) => (true, if escaped { Entry::ESCAPED } else { 0 }),
                None => (false, 0),
            },
            Some(b't') => (self.literal(b"true"), 0),
            Some(b'f') => (self.literal(b"false"), 0),
            Some(b'n') => (self.literal(b"null"), 0),
            Some(b'-' | b'0'..=b'9') => (self.number(), 0),
            _ => (false, 0),
        };
        let size = (self.tape.len() - at) as u32 | flag;
        self.tape[at].end = self.i as u32;
        self.tape[at].size = size;
        ok
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let ok = self.b[self.i..].starts_with(word);
        if ok {
            self.i += word.len();
        }
        ok
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?`; an exponent, or a number past 40 characters, is left to
    /// [`check`] (which reads it as a float and refuses one out of range).
    fn number(&mut self) -> bool {
        let start = self.i;
        if self.b[self.i] == b'-' {
            self.i += 1;
        }
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return false,
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
                return false;
            }
            self.digits();
        }
        !matches!(self.b.get(self.i), Some(b'e' | b'E')) && self.i - start <= 40
    }

    fn digits(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
    }

    /// The string starting here: its text between the quotes and whether it holds an escape;
    /// `None` when it is not one (or holds a surrogate escape, left to [`check`]).
    fn string(&mut self) -> Option<(&'a [u8], bool)> {
        let b = self.b;
        let start = self.i + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            i = plain_run(b, i);
            match *b.get(i)? {
                b'"' => {
                    self.i = i + 1;
                    return Some((&b[start..i], escaped));
                }
                b'\\' => {}
                // No control character (U+0000-U+001F) unescaped in a string.
                _ => return None,
            }
            escaped = true;
            match b.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => {
                    let hex = b.get(i + 2..i + 6)?;
                    // A surrogate (U+D800-U+DFFF, `\uD...` to `\uDFFF`) is left to `check`.
                    if !hex.iter().all(u8::is_ascii_hexdigit) || matches!(hex[0], b'd' | b'D') && hex[1] >= b'8' {
                        return None;
                    }
                    i += 6;
                }
                _ => return None,
            }
        }
    }

    /// Past an opening bracket: `true` when the container is empty (its `close` consumed).
    fn opened_empty(&mut self, close: u8) -> bool {
        self.i += 1;
        self.space();
        let empty = self.b.get(self.i) == Some(&close);
        if empty {
            self.i += 1;
        }
        empty
    }

    /// After an item or member: `Some(true)` when another follows (the comma consumed),
    /// `Some(false)` when the container closed (its `close` consumed), `None` when neither.
    fn after_item(&mut self, close: u8) -> Option<bool> {
        self.space();
        match self.b.get(self.i) {
            Some(b',') => {
                self.i += 1;
                self.space();
                Some(true)
            }
            Some(&c) if c == close => {
                self.i += 1;
                Some(false)
            }
            _ => None,
        }
    }

    fn array(&mut self, depth: usize) -> bool {
        if self.opened_empty(b']') {
            return true;
        }
        loop {
            if !self.value(depth) {
                return false;
            }
            match self.after_item(b']') {
                Some(true) => continue,
                closed => return closed == Some(false),
            }
        }
    }

    fn object(&mut self, depth: usize) -> bool {
        if self.opened_empty(b'}') {
            return true;
        }
        let first = self.names.len();
        // Names seen in this object, as bits of their fingerprints: only a name whose bit is set
        // can be a repeat, and only then are the names compared.
        let mut seen = [0u64; 4];
        loop {
            if self.b.get(self.i) != Some(&b'"') {
                return false;
            }
            let start = self.i as u32;
            let Some((name, false)) = self.string() else { return false };
            self.tape.push(Entry { start, end: self.i as u32, size: 1 });
            let bit = (fingerprint(name).wrapping_mul(0x9E37_79B1) >> 24) as usize;
            let (word, mask) = (bit / 64, 1u64 << (bit % 64));
            if seen[word] & mask != 0 && self.names[first..].contains(&name) {
                return false;
            }
            seen[word] |= mask;
            self.names.push(name);
            self.space();
            if self.b.get(self.i) != Some(&b':') {
                return false;
            }
            self.i += 1;
            self.space();
            if !self.value(depth) {
                return false;
            }
            match self.after_item(b'}') {
                Some(true) => continue,
                Some(false) => {
                    self.names.truncate(first);
                    return true;
                }
                None => return false,
            }
        }
    }
}

/// The bytes that end a string's plain run: its closing quote, an escape, or a control character
/// (U+0000-U+001F, which must be escaped). One look-up a byte finds all three at once.
static ENDS_RUN: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Where the plain run of a string that goes on at `i` ends: the first byte [`ENDS_RUN`] holds
/// at or after `i`, or the end of `b`. Eight bytes are looked at a time, as one word: a byte is
/// a quote or a backslash when it XORs to zero with one, a control character when subtracting
/// 0x20 borrows from it while its own top bit is clear (a borrow only ever runs up from a byte
/// that matched, so the lowest match found is the true first).
#[inline]
fn plain_run(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & TOPS;
    while let Some(word) = b.get(i..i + 8) {
        let w = u64::from_le_bytes([word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7]]);
        let hits = zero(w ^ (ONES * u64::from(b'"')))
            | zero(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & TOPS);
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && !ENDS_RUN[b[i] as usize] {
        i += 1;
    }
    i
}

/// Where the first `"` or `\` of `b` is: the end of a string's plain run. Most strings of a
/// request are short, so the first bytes are looked at one by one (a vector search costs more to
/// start than a short string takes to read); a long string is searched with `memchr`.
pub(crate) fn quote_or_backslash(b: &[u8]) -> Option<usize> {
    const SHORT: usize = 32;
    match b.iter().take(SHORT).position(|&c| c == b'"' || c == b'\\') {
        Some(at) => Some(at),
        None if b.len() <= SHORT => None,
        None => memchr::memchr2(b'"', b'\\', &b[SHORT..]).map(|at| at + SHORT),
    }
}

/// A name's fingerprint: its length and three of its bytes, computed in constant time, for
/// finding a member without comparing every name (a match is then compared in full).
pub(crate) fn fingerprint(b: &[u8]) -> u32 {
    match b.len() {
        0 => 0,
        n => (n as u32 & 0xff) | (b[0] as u32) << 8 | (b[n - 1] as u32) << 16 | (b[n / 2] as u32) << 24,
    }
}

/// [`check`] and the parse in one pass: the value `bytes` hold, if they pass [`check`] (the same
/// errors, the same messages), built as `serde_json::from_slice` builds it.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    StrictValue.deserialize(&mut de).and_then(|v| de.end().map(|()| v)).map_err(|e| e.to_string())
}

/// One value, walked in full: every string decoded (a lone surrogate is an error there), every
/// object's names compared.
#[derive(Clone, Copy)]
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_i128<E>(self, _: i128) -> Result<(), E> {
        Ok(())
    }

    fn visit_u128<E>(self, _: u128) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Strict)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut names: HashSet<Box<str>> = HashSet::new();
        while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if !names.insert(name.as_ref().into()) {
                return Err(A::Error::custom("duplicate member name in an object"));
            }
            map.next_value_seed(Strict)?;
        }
        Ok(())
    }
}

/// [`Strict`], keeping what it reads.
#[derive(Clone, Copy)]
struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(StrictValue)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                return Err(A::Error::custom("duplicate member name in an object"));
            }
            let value = map.next_value_seed(StrictValue)?;
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::{check, checked, parse, plain_run, vouched, Entry, Tape, ENDS_RUN};

    #[test]
    fn a_plain_run_ends_where_the_byte_by_byte_search_ends() {
        let mut next = crate::testing::xorshift(0x2545_F491_4F6C_DD1D);
        // Mostly plain bytes (every value but those that end a run), a few that end one.
        let ends: Vec<u8> = (0..=255).filter(|&c| ENDS_RUN[c as usize]).collect();
        for _ in 0..100_000 {
            let len = (next() % 40) as usize;
            let b: Vec<u8> = (0..len)
                .map(|_| match next() % 23 {
                    0 => ends[(next() % ends.len() as u64) as usize],
                    _ => loop {
                        let c = next() as u8;
                        if !ENDS_RUN[c as usize] {
                            break c;
                        }
                    },
                })
                .collect();
            let start = (next() % (len as u64 + 1)) as usize;
            let want = (start..len).find(|&i| ENDS_RUN[b[i] as usize]).unwrap_or(len);
            assert_eq!(plain_run(&b, start), want, "{b:?} from {start}");
        }
    }

    /// Text made of JSON's pieces, right and wrong: what the one pass and `check` are compared on.
    fn generated(seed: u64, n: usize) -> Vec<Vec<u8>> {
        const PIECES: &[&str] = &[
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            " ",
            "\n",
            "\"a\"",
            "\"b\"",
            "\"ab\"",
            "\"a\\u0062\"",
            "\"\\ud800\"",
            "\"\\ud83d\\ude00\"",
            "\"\\uDFFF\"",
            "\"\\u00e9\"",
            "\"\\u+123\"",
            "\"\\q\"",
            "\"\\/\\\\\"",
            "\"é\"",
            "\"\u{1}\"",
            "\"\t\"",
            "\"",
            "\\",
            "0",
            "1",
            "-",
            "-0",
            "01",
            "1.5",
            "1.",
            ".5",
            "1e5",
            "1E400",
            "-1e-400",
            "12345678901234567890123456789012345678901",
            "true",
            "false",
            "null",
            "nul",
            "tru",
            "x",
            "\u{feff}",
            // Strings past the byte-by-byte run (searched with memchr), clean and not.
            "\"https://docs.example/a/very/long/path/to/a/document.pdf\"",
            "\"a string long enough to be searched, with an escape \\n at its end\\u0041\"",
            "\"a string long enough to be searched, with a control character \u{2} in it\"",
            // Objects whose names repeat after an inner object closes.
            "{\"a\": {\"a\": 1}, \"a\": 2}",
            "{\"a\": {\"b\": 1}, \"b\": {\"a\": 2}}",
            "{\"a\": [{\"a\": 1}], ",
        ];
        let mut next = crate::testing::xorshift(seed);
        (0..n)
            .map(|_| {
                let len = 1 + next() % 12;
                let mut doc: Vec<u8> =
                    (0..len).flat_map(|_| PIECES[(next() % PIECES.len() as u64) as usize].bytes()).collect();
                if next().is_multiple_of(8) {
                    doc.push(0xff); // not UTF-8
                }
                doc
            })
            .collect()
    }

    #[test]
    fn the_one_pass_vouches_only_for_what_check_accepts() {
        let (mut accepted, mut vouched_for) = (0, 0);
        for doc in generated(0x9E37_79B9_7F4A_7C15, 400_000) {
            let strict = check(&doc);
            if std::str::from_utf8(&doc).is_ok() && vouched(&doc, &mut Vec::new()) {
                assert!(strict.is_ok(), "vouched for {:?}: {strict:?}", String::from_utf8_lossy(&doc));
                vouched_for += 1;
            }
            accepted += usize::from(strict.is_ok());
            assert_eq!(checked(&doc, &mut Tape::new()).map(|_| ()), strict, "{:?}", String::from_utf8_lossy(&doc));
        }
        // The generator makes both kinds, and the pass vouches for most of what is accepted.
        assert!(accepted > 10_000 && vouched_for * 10 > accepted * 6, "{accepted} accepted, {vouched_for} vouched for");
        // What it leaves to `check`, and what it takes on itself.
        for (doc, vouch) in [
            (r#"{"a": 1, "b": [true, false, null, -0, 0.5, "x\"y\u00e9\n"], "c": {"a": {}}}"#, true),
            (r#"{"a\u0062": 1}"#, false),
            (r#"["\ud83d\ude00"]"#, false),
            ("1e5", false),
            (r#"{"a": 1, "a": 2}"#, false),
            (r#"{"a": {"b": 1}, "b": {"a": 1}}"#, true),
        ] {
            assert_eq!(vouched(doc.as_bytes(), &mut Vec::new()), vouch, "{doc}");
            assert!(check(doc.as_bytes()).is_ok() || !vouch, "{doc}");
        }
        // A transaction-like document with one byte changed, dropped or repeated, everywhere.
        let doc = br#"{"id": "T1", "n": [1, -2.50, {"code": "POLIC", "url": "https://x/\u00e9?a=\"b\""}], "z": null, "t": true}"#;
        for at in 0..doc.len() {
            for edit in 0..4u8 {
                let mut d = doc.to_vec();
                match edit {
                    0 => drop(d.remove(at)),
                    1 => d.insert(at, d[at]),
                    2 => d[at] = b'"',
                    _ => d[at] = b'}',
                }
                let strict = check(&d);
                assert!(!vouched(&d, &mut Vec::new()) || strict.is_ok(), "{:?}", String::from_utf8_lossy(&d));
                assert_eq!(checked(&d, &mut Tape::new()).map(|_| ()), strict);
            }
        }
        let deep = format!("{}1{}", "[".repeat(70), "]".repeat(70));
        assert!(!vouched(deep.as_bytes(), &mut Vec::new()) && checked(deep.as_bytes(), &mut Tape::new()).is_ok());
    }

    /// The value a tape describes, built from its entries alone (each scalar's text parsed on its
    /// own): what a reader of the tape sees.
    fn from_tape(text: &str, tape: &[Entry]) -> serde_json::Value {
        use serde_json::Value;
        let e = tape[0];
        let own = &text[e.start as usize..e.end as usize];
        let children = |step: usize| {
            let mut at = Vec::new();
            let mut j = 1;
            while j < e.size() {
                at.push(j);
                j += if step == 2 { 1 + tape[j + 1].size() } else { tape[j].size() };
            }
            assert_eq!(j, e.size(), "children fill the value's entries exactly");
            at
        };
        match own.as_bytes()[0] {
            b'[' => Value::Array(children(1).into_iter().map(|j| from_tape(text, &tape[j..])).collect()),
            b'{' => Value::Object(
                children(2)
                    .into_iter()
                    .map(|j| {
                        let name = &text[tape[j].start as usize..tape[j].end as usize];
                        assert_eq!(tape[j].size(), 1);
                        (serde_json::from_str(name).unwrap(), from_tape(text, &tape[j + 1..]))
                    })
                    .collect(),
            ),
            b'"' => {
                assert_eq!(e.size(), 1);
                assert_eq!(e.escaped(), own.contains('\\'), "{own}");
                serde_json::from_str(own).unwrap()
            }
            _ => {
                assert_eq!(e.size(), 1);
                serde_json::from_str(own).unwrap()
            }
        }
    }

    #[test]
    fn a_tape_says_where_every_value_is() {
        let mut tape = Tape::new();
        let mut taped = 0;
        for doc in generated(0x2545_F491_4F6C_DD1D, 100_000) {
            let Ok(text) = checked(&doc, &mut tape) else {
                assert!(tape.entries().is_empty());
                continue;
            };
            if tape.entries().is_empty() {
                continue; // left to `check`: no tape
            }
            taped += 1;
            assert_eq!(tape.entries()[0].size(), tape.entries().len(), "{text}");
            let e = tape.entries()[0];
            assert_eq!(&text[e.start as usize..e.end as usize], text.trim_matches([' ', '\n']), "{text}");
            let plain: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(from_tape(text, tape.entries()), plain, "{text}");
        }
        assert!(taped > 2_000, "{taped}");
    }

    #[test]
    fn one_value_each_name_once_and_only_unicode_strings() {
        for ok in [
            r#"{"a": 1, "b": {"a": 2}, "c": [{"a": 1}, {"a": 1}]}"#,
            r#"["\ud83d\ude00", "é", 1.5e3, null, true]"#,
            r#"{"a\u0062": 1, "ac": 2}"#,
            "  7  ",
        ] {
            assert_eq!(check(ok.as_bytes()), Ok(()), "{ok}");
            let plain: serde_json::Value = serde_json::from_str(ok).unwrap();
            assert_eq!(parse(ok.as_bytes()), Ok(plain), "{ok}");
        }
        for (bad, why) in [
            (r#"{"a": 1, "a": 2}"#, "duplicate"),
            (r#"{"x": {"a": 1, "b": 2, "a": 3}}"#, "duplicate"),
            (r#"[{"ab": 1, "a\u0062": 2}]"#, "duplicate"),
            (r#"{"a": "\ud800"}"#, "hex escape"),
            (r#"{"\udc00": 1}"#, "surrogate"),
            (r#"["\ud800\u0041"]"#, ""),
            (r#"{"a": 1} {"#, "trailing"),
            (r#"{"a": }"#, ""),
        ] {
            let e = check(bad.as_bytes()).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
            assert!(e.contains("line 1"), "{bad}: {e}");
            assert_eq!(parse(bad.as_bytes()).expect_err(bad), e, "{bad}");
        }
    }
}
