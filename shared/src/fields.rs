//! Why one file of ~780 lines: the reader and its rules are one concept; half the file is the
//! unit tests that pin the rules down.
//!
//! The one field reader of the three APIs: accounts request bodies, servicing request bodies and
//! action payloads, and import transactions all read their JSON through [`Fields`]. Fields are read
//! one by one (not through serde's derive) so that every problem is named by its path, no message
//! ever echoes the value sent (it may be personal data), and fields nobody reads are refused.
//!
//! The rules, the same for every API:
//! - **Paths**: `name`, `parent.name`, `list[2].name`, from the root the reader was given.
//! - **Unknown fields** are refused with the reading's own code (a payload's, a request's), not
//!   the code of the object they sit in.
//! - **Absent, `null`, blank**: under [`Empty::Absent`] (servicing, import) `null` and a string that
//!   is empty after trimming read as "not given": a required field then "is required", an optional
//!   one is `None`. Under [`Empty::Refused`] (accounts, whose PATCH would otherwise read `null` as
//!   "clear this") both are refused at the field ("leave the attribute out instead").
//! - **Text** is trimmed; its length is counted in characters after trimming; a one-line field
//!   refuses every control character; a block ([`Fields::text_block`]) allows line breaks and tabs.
//!   Secrets (passwords, device ids) are read as sent ([`Fields::string_as_sent`]), untrimmed.
//! - **Numbers as text**: where the API's clients send ids and codes as JSON numbers (seed 002's
//!   import), [`Rules::numbers_as_text`] reads a number's exact text as the string.
//! - **Decimals** are read from their exact text, never through a float: a number counts only when
//!   the source keeps its text (raw JSON) or it is an integer.
//! - **Mode**: [`Mode::All`] collects every problem (accounts answers them all at once);
//!   [`Mode::First`] stops at the first (servicing and import answer one code per action or
//!   transaction): there every read returns `Err(Stop)` once a problem is recorded, so `?` ends
//!   the reading. Code is written the same way for both modes.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// A number's text as a whole number: `1913`, and also `1913.0` or `1.913e3`, which are the same
/// number in JSON (and an "integer" to JSON Schema, so the OpenAPI document cannot refuse them).
pub fn whole_number(text: &str) -> Option<i64> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(i);
    }
    let d = Decimal::from_str_exact(text).or_else(|_| Decimal::from_scientific(text)).ok()?;
    if d.fract().is_zero() {
        i64::try_from(d).ok()
    } else {
        None
    }
}

/// The bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): invisible,
/// they make a line of text display in another order than it reads (CVE-2021-42574, "Trojan
/// Source"), so one-line text refuses them as usernames do.
pub fn is_direction_override(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Every problem or the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    All,
    First,
}

/// What `null` and a blank string mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Empty {
    Absent,
    Refused,
}

/// How one API reads: the mode, the meaning of empty values, and the code of a problem whose read
/// names none (also the code of an unknown field).
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub mode: Mode,
    pub empty: Empty,
    pub numbers_as_text: bool,
    pub code: &'static str,
}

/// One problem: where, what (never the value sent), and its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
    pub code: &'static str,
}

/// Reading stopped: at the first problem ([`Mode::First`]), or at a refusal that ends it in either
/// mode ([`Fields::refuse`]). It carries that problem, so an area maps it to its own error with `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop(pub Box<Problem>);

pub type Read<T> = Result<T, Stop>;

/// What a read asks for: whether the field is required, and the code of its problems (else the
/// enclosing object's).
#[derive(Debug, Clone, Copy)]
pub struct Want {
    required: bool,
    code: Option<&'static str>,
}

pub const fn required() -> Want {
    Want { required: true, code: None }
}

pub const fn optional() -> Want {
    Want { required: false, code: None }
}

impl Want {
    pub const fn code(self, code: &'static str) -> Want {
        Want { code: Some(code), ..self }
    }
}

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

impl<'a> Node<'a> for &'a RawValue {
    fn kind(self) -> Kind<'a, Self> {
        let text = self.get().trim();
        // A RawValue is valid JSON, so its first byte names its type.
        match text.as_bytes().first() {
            Some(b'n') => Kind::Null,
            Some(b't') => Kind::Bool(true),
            Some(b'f') => Kind::Bool(false),
            Some(b'"') => match serde_json::from_str::<Cow<'a, str>>(text) {
                Ok(s) => Kind::String(s),
                Err(_) => Kind::Null,
            },
            Some(b'[') => Kind::Array(serde_json::from_str(text).unwrap_or_default()),
            Some(b'{') => Kind::Object(serde_json::from_str::<Members<'a>>(text).map(|m| m.0).unwrap_or_default()),
            _ => Kind::Number { text: Cow::Borrowed(text), exact: true },
        }
    }
}

/// An object's members in order, keys borrowed where they hold no escapes.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Members<'a>, M::Error> {
                let mut out = Vec::with_capacity(m.size_hint().unwrap_or(8));
                while let Some((k, v)) = m.next_entry::<Key<'de>, &'de RawValue>()? {
                    // A repeated key keeps its last value, as serde_json's own maps do.
                    match out.iter_mut().find(|(x, _): &&mut (Cow<'a, str>, &'a RawValue)| *x == k.0) {
                        Some(slot) => slot.1 = v,
                        None => out.push((k.0, v)),
                    }
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

fn type_name<N>(k: &Kind<'_, N>) -> &'static str {
    match k {
        Kind::Null => "null",
        Kind::Bool(_) => "a boolean",
        Kind::Number { .. } => "a number",
        Kind::String(_) => "a string",
        Kind::Array(_) => "an array",
        Kind::Object(_) => "an object",
    }
}

struct State {
    rules: Rules,
    problems: Vec<Problem>,
}

/// The problems of one reading, shared by every [`Fields`] opened from it (behind a mutex only
/// so that a reader may live in a `Send` future).
#[derive(Clone)]
pub struct Report(Arc<Mutex<State>>);

impl Report {
    pub fn new(rules: Rules) -> Report {
        Report(Arc::new(Mutex::new(State { rules, problems: Vec::new() })))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Reading never panics while holding the lock, so a poisoned one is still consistent.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn rules(&self) -> Rules {
        self.state().rules
    }

    /// Records a problem; in [`Mode::First`] only the first is kept and reading stops.
    pub fn add(&self, path: &str, code: &'static str, message: impl Into<String>) -> Read<()> {
        let problem = Problem { path: path.to_string(), message: message.into(), code };
        let mut s = self.state();
        if s.rules.mode == Mode::All {
            s.problems.push(problem);
            return Ok(());
        }
        if s.problems.is_empty() {
            s.problems.push(problem.clone());
        }
        Err(Stop(Box::new(problem)))
    }

    /// Records a problem that ends the reading in either mode.
    pub fn refuse<T>(&self, path: &str, code: &'static str, message: impl Into<String>) -> Read<T> {
        let problem = Problem { path: path.to_string(), message: message.into(), code };
        let mut s = self.state();
        if s.rules.mode == Mode::All || s.problems.is_empty() {
            s.problems.push(problem.clone());
        }
        Err(Stop(Box::new(problem)))
    }

    pub fn is_clean(&self) -> bool {
        self.state().problems.is_empty()
    }

    /// Whether a problem was recorded at `path` or under it.
    pub fn has_problem_under(&self, path: &str) -> bool {
        self.state().problems.iter().any(|p| p.path.starts_with(path))
    }

    /// The reading's outcome: the value when nothing was wrong, else every problem recorded.
    pub fn finish<T>(self, read: Read<T>) -> Result<T, Vec<Problem>> {
        let problems = std::mem::take(&mut self.state().problems);
        match read {
            Ok(v) if problems.is_empty() => Ok(v),
            _ => Err(problems),
        }
    }

    /// Opens the root object at `path` ("" for none).
    pub fn open<'a, N: Node<'a>>(&self, path: &str, node: N) -> Read<Option<Fields<'a, N>>> {
        let code = self.rules().code;
        Fields::open(self.clone(), path.to_string(), node, code)
    }
}

/// A JSON object being read field by field; [`Fields::end`] refuses the fields nobody read.
pub struct Fields<'a, N> {
    report: Report,
    path: String,
    members: Vec<(Cow<'a, str>, N)>,
    seen: Vec<bool>,
    code: &'static str,
}

/// How a field was found.
enum Slot<'a, N> {
    /// Not given (absent, or `null`/blank read as absent).
    None,
    /// Given but refused (null/blank under [`Empty::Refused`]); already reported.
    Refused,
    Value(Kind<'a, N>),
}

impl<'a, N: Node<'a>> Fields<'a, N> {
    fn open(report: Report, path: String, node: N, code: &'static str) -> Read<Option<Fields<'a, N>>> {
        match node.kind() {
            Kind::Object(members) => {
                let seen = vec![false; members.len()];
                Ok(Some(Fields { report, path, members, seen, code }))
            }
            other => {
                report.add(&path, code, format!("must be an object, not {}", type_name(&other)))?;
                Ok(None)
            }
        }
    }

    /// The path of a field of this object.
    pub fn path(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// This object's own path.
    pub fn here(&self) -> &str {
        &self.path
    }

    pub fn report(&self) -> &Report {
        &self.report
    }

    pub fn has(&self, name: &str) -> bool {
        self.members.iter().any(|(k, _)| k == name)
    }

    /// Whether a field is given with something in it: present, and not an empty array.
    pub fn has_items(&self, name: &str) -> bool {
        self.members.iter().any(|(k, n)| k == name && !matches!(n.kind(), Kind::Array(items) if items.is_empty()))
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Records a problem at a field of this object, with this object's code unless one is given.
    pub fn problem(&self, name: &str, want: Want, message: impl Into<String>) -> Read<()> {
        self.report.add(&self.path(name), want.code.unwrap_or(self.code), message)
    }

    /// Records a problem at a field that ends the reading in either mode.
    pub fn refuse<T>(&self, name: &str, want: Want, message: impl Into<String>) -> Read<T> {
        self.report.refuse(&self.path(name), want.code.unwrap_or(self.code), message)
    }

    /// A field's value as it is (marked as read; `None` when absent or `null`), for a caller that
    /// reads a shape of its own.
    pub fn take(&mut self, name: &str) -> Option<N> {
        let i = self.members.iter().position(|(k, _)| k == name)?;
        self.seen[i] = true;
        let node = self.members[i].1;
        (!matches!(node.kind(), Kind::Null)).then_some(node)
    }

    /// Records a problem at this object itself.
    pub fn problem_here(&self, message: impl Into<String>) -> Read<()> {
        self.report.add(&self.path, self.code, message)
    }

    /// Marks a field as known without reading it (read-only echoes such as a typekey's `name`).
    pub fn ignore(&mut self, name: &str) {
        if let Some(i) = self.members.iter().position(|(k, _)| k == name) {
            self.seen[i] = true;
        }
    }

    /// A field's node without reading it (nothing reported, the field not marked as read).
    pub fn peek(&self, name: &str) -> Option<N> {
        self.members.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }

    /// The text of a string or number field, if it has one, without reading it: for labelling
    /// what was refused.
    pub fn peek_text(&self, name: &str, max: usize) -> Option<String> {
        match self.peek(name)?.kind() {
            Kind::String(s) => Some(s.chars().take(max).collect()),
            Kind::Number { text, .. } => Some(text.chars().take(max).collect()),
            _ => None,
        }
    }

    /// Refuses, at once, every field not in `known`: for objects whose other checks must come
    /// after that one.
    pub fn only(&mut self, known: &[&str]) -> Read<()> {
        for i in 0..self.members.len() {
            if !known.contains(&self.members[i].0.as_ref()) {
                self.seen[i] = true;
                let path = self.path(&self.members[i].0);
                self.report.add(&path, self.report.rules().code, "is not a known field")?;
            }
        }
        Ok(())
    }

    fn slot(&mut self, name: &str, want: Want) -> Read<Slot<'a, N>> {
        let code = want.code.unwrap_or(self.code);
        let empty = self.report.rules().empty;
        let Some(i) = self.members.iter().position(|(k, _)| k == name) else {
            if want.required {
                self.report.add(&self.path(name), code, "is required")?;
                return Ok(Slot::Refused);
            }
            return Ok(Slot::None);
        };
        self.seen[i] = true;
        let kind = self.members[i].1.kind();
        let blank = match &kind {
            Kind::Null => true,
            Kind::String(s) => s.trim().is_empty(),
            _ => false,
        };
        if !blank {
            return Ok(Slot::Value(kind));
        }
        let message = match (empty, &kind) {
            (Empty::Refused, Kind::Null) => "must not be null; leave the attribute out instead",
            (Empty::Refused, _) => "must not be blank; leave the attribute out instead",
            (Empty::Absent, _) if want.required => "is required",
            (Empty::Absent, _) => return Ok(Slot::None),
        };
        self.report.add(&self.path(name), code, message)?;
        Ok(Slot::Refused)
    }

    fn wrong_type(&self, name: &str, want: Want, expected: &str, got: &Kind<'a, N>) -> Read<()> {
        self.problem(name, want, format!("must be {expected}, not {}", type_name(got)))
    }

    /// The raw text of a string (or, with [`Rules::numbers_as_text`], a number) field.
    fn text_of(&mut self, name: &str, want: Want) -> Read<Option<Cow<'a, str>>> {
        match self.slot(name, want)? {
            Slot::None | Slot::Refused => Ok(None),
            Slot::Value(Kind::String(s)) => Ok(Some(s)),
            Slot::Value(Kind::Number { text, .. }) if self.report.rules().numbers_as_text => Ok(Some(text)),
            Slot::Value(other) => self.wrong_type(name, want, "a string", &other).map(|_| None),
        }
    }

    fn checked(&self, name: &str, want: Want, raw: &str, max: usize, block: bool) -> Read<Option<String>> {
        let t = raw.trim();
        if t.chars().count() > max {
            self.problem(name, want, format!("must be at most {max} characters"))?;
            Ok(None)
        } else if t.chars().any(|c| c.is_control() && !(block && matches!(c, '\n' | '\r' | '\t'))) {
            self.problem(name, want, "must not contain control characters")?;
            Ok(None)
        } else if !block && t.chars().any(is_direction_override) {
            self.problem(name, want, "must not contain bidirectional override characters")?;
            Ok(None)
        } else {
            Ok(Some(t.to_string()))
        }
    }

    /// One line of text: trimmed, at most `max` characters, no control characters and no
    /// bidirectional embedding, override or isolate ([`is_direction_override`]).
    pub fn string(&mut self, name: &str, want: Want, max: usize) -> Read<Option<String>> {
        match self.text_of(name, want)? {
            Some(raw) => self.checked(name, want, &raw, max, false),
            None => Ok(None),
        }
    }

    /// A block of text (notes, descriptions): as [`Fields::string`], line breaks and tabs allowed.
    pub fn text_block(&mut self, name: &str, want: Want, max: usize) -> Read<Option<String>> {
        match self.text_of(name, want)? {
            Some(raw) => self.checked(name, want, &raw, max, true),
            None => Ok(None),
        }
    }

    /// A secret or device id, as sent (untrimmed): `min..=max` characters, no control characters.
    pub fn string_as_sent(&mut self, name: &str, want: Want, min: usize, max: usize) -> Read<Option<String>> {
        let Some(raw) = self.text_of(name, want)? else { return Ok(None) };
        // The minimum counts what is not white space; the value is kept as sent.
        let (n, shown) = (raw.chars().count(), raw.trim().chars().count());
        if shown < min || n > max || raw.chars().any(char::is_control) {
            self.problem(name, want, format!("must be {min} to {max} characters, no control characters"))?;
            return Ok(None);
        }
        Ok(Some(raw.into_owned()))
    }

    /// A string that must be one of `allowed` (compared as sent, after trimming).
    pub fn one_of(&mut self, name: &str, want: Want, allowed: &[&str]) -> Read<Option<String>> {
        let max = allowed.iter().map(|a| a.chars().count()).max().unwrap_or(1);
        match self.text_of(name, want)? {
            Some(raw) if allowed.contains(&raw.trim()) => Ok(Some(raw.trim().to_string())),
            Some(raw) if raw.trim().chars().count() > max.max(64) => {
                self.problem(name, want, format!("must be at most {} characters", max.max(64)))?;
                Ok(None)
            }
            Some(_) => {
                self.problem(name, want, format!("is not one of the allowed codes: {}", allowed.join(", ")))?;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    pub fn boolean(&mut self, name: &str, want: Want) -> Read<Option<bool>> {
        match self.slot(name, want)? {
            Slot::Value(Kind::Bool(b)) => Ok(Some(b)),
            Slot::Value(other) => self.wrong_type(name, want, "a boolean", &other).map(|_| None),
            _ => Ok(None),
        }
    }

    /// A flag sent as 0 or 1 (a number or its text), as seed 002 sends them.
    pub fn flag(&mut self, name: &str, want: Want) -> Read<Option<bool>> {
        let text = match self.slot(name, want)? {
            Slot::Value(Kind::Number { text, .. }) | Slot::Value(Kind::String(text)) => text,
            Slot::Value(_) => return self.problem(name, want, "must be 0 or 1").map(|_| None),
            _ => return Ok(None),
        };
        match text.trim().parse::<Decimal>() {
            Ok(d) if d.is_zero() => Ok(Some(false)),
            Ok(d) if d == Decimal::ONE => Ok(Some(true)),
            _ => self.problem(name, want, "must be 0 or 1").map(|_| None),
        }
    }

    /// A whole number in `min..=max`.
    pub fn integer(&mut self, name: &str, want: Want, min: i64, max: i64) -> Read<Option<i64>> {
        match self.slot(name, want)? {
            Slot::Value(Kind::Number { text, .. }) => match whole_number(&text) {
                Some(i) if (min..=max).contains(&i) => Ok(Some(i)),
                _ => self.problem(name, want, format!("must be a whole number from {min} to {max}")).map(|_| None),
            },
            Slot::Value(other) => self.wrong_type(name, want, "a number", &other).map(|_| None),
            _ => Ok(None),
        }
    }

    /// A date `yyyy-mm-dd`.
    pub fn date(&mut self, name: &str, want: Want) -> Read<Option<NaiveDate>> {
        let Some(s) = self.string(name, want, 10)? else { return Ok(None) };
        let b = s.as_bytes();
        match NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
            Ok(d) if b.len() == 10 && b[4] == b'-' && b[7] == b'-' => Ok(Some(d)),
            _ => self.problem(name, want, "must be a date in the form yyyy-mm-dd").map(|_| None),
        }
    }

    /// A decimal of at most `digits` digits before the point and `scale` after, from its exact
    /// text (a JSON number whose text the source keeps, or a string); no exponent.
    pub fn decimal(&mut self, name: &str, want: Want, digits: u32, scale: u32) -> Read<Option<Decimal>> {
        let text = match self.slot(name, want)? {
            Slot::Value(Kind::Number { text, exact: true }) | Slot::Value(Kind::String(text)) => text,
            Slot::Value(_) => Cow::Borrowed(""),
            _ => return Ok(None),
        };
        let text = text.trim();
        let limit = Decimal::from(10i64.pow(digits.min(18)));
        let parsed =
            (!text.is_empty() && !text.contains(['e', 'E', '+']) && text.len() <= (digits + scale + 2) as usize)
                .then(|| Decimal::from_str_exact(text).ok())
                .flatten()
                .filter(|d| d.normalize().scale() <= scale && d.abs() < limit);
        match parsed {
            Some(d) => Ok(Some(d.round_dp(scale))),
            None => self
                .problem(
                    name,
                    want,
                    format!(
                        "must be a decimal({},{scale}): at most {digits} digits before the point and {scale} after",
                        digits + scale
                    ),
                )
                .map(|_| None),
        }
    }

    /// A nested object, whose problems take `want`'s code (else this object's).
    pub fn object(&mut self, name: &str, want: Want) -> Read<Option<Fields<'a, N>>> {
        let code = want.code.unwrap_or(self.code);
        match self.slot(name, want)? {
            Slot::Value(Kind::Object(members)) => {
                let seen = vec![false; members.len()];
                Ok(Some(Fields { report: self.report.clone(), path: self.path(name), members, seen, code }))
            }
            Slot::Value(other) => self.wrong_type(name, want, "an object", &other).map(|_| None),
            _ => Ok(None),
        }
    }

    /// An array of at most `max` values, each read by the caller.
    pub fn array(&mut self, name: &str, want: Want, max: usize) -> Read<Option<Vec<N>>> {
        match self.slot(name, want)? {
            Slot::Value(Kind::Array(items)) if items.len() > max => {
                self.problem(name, want, format!("must have at most {max} entries")).map(|_| None)
            }
            Slot::Value(Kind::Array(items)) => Ok(Some(items)),
            Slot::Value(other) => self.wrong_type(name, want, "an array", &other).map(|_| None),
            _ => Ok(None),
        }
    }

    /// An array of at most `max` objects, opened at `name[i]`; entries that are not objects are
    /// reported and left out.
    pub fn objects(&mut self, name: &str, want: Want, max: usize) -> Read<Option<Vec<Fields<'a, N>>>> {
        let code = want.code.unwrap_or(self.code);
        let Some(items) = self.array(name, want, max)? else { return Ok(None) };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let path = format!("{}[{i}]", self.path(name));
            if let Some(f) = Fields::open(self.report.clone(), path, item, code)? {
                out.push(f);
            }
        }
        Ok(Some(out))
    }

    /// Refuses every field nobody read (with the reading's own code, whatever this object's).
    pub fn end(self) -> Read<()> {
        let code = self.report.rules().code;
        for (i, (k, _)) in self.members.iter().enumerate() {
            if !self.seen[i] {
                self.report.add(&self.path(k), code, "is not a known field")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(mode: Mode, empty: Empty) -> Rules {
        Rules { mode, empty, numbers_as_text: false, code: "BAD" }
    }

    #[test]
    fn whole_numbers_may_be_written_as_json_writes_them() {
        for (text, want) in [
            ("1913", Some(1913)),
            ("1913.0", Some(1913)),
            ("1.913e3", Some(1913)),
            ("-0.0", Some(0)),
            ("1913.5", None),
            ("1e40", None),
            ("x", None),
        ] {
            assert_eq!(whole_number(text), want, "{text}");
        }
        let v: Value = serde_json::from_str(r#"{"y": 1913.0, "z": 19.5}"#).unwrap();
        let report = Report::new(Rules { mode: Mode::All, empty: Empty::Refused, numbers_as_text: false, code: "X" });
        let mut o = report.open("", &v).unwrap().unwrap();
        assert_eq!(o.integer("y", required(), 1700, 2026).unwrap(), Some(1913));
        assert_eq!(o.integer("z", required(), 0, 100).unwrap(), None);
    }

    #[test]
    fn all_mode_collects_every_problem_with_its_path_and_never_the_value() {
        let v = json!({"a": 5, "b": {"c": "x\u{0}y"}, "d": [1, {"e": "Secret"}], "zz": 1});
        let report = Report::new(rules(Mode::All, Empty::Refused));
        let read = (|| -> Read<()> {
            let mut o = report.open("body", &v)?.unwrap();
            o.string("a", required(), 10)?;
            let mut b = o.object("b", required())?.unwrap();
            b.string("c", required(), 10)?;
            b.end()?;
            for mut item in o.objects("d", required(), 5)?.unwrap() {
                item.integer("e", required(), 0, 9)?;
                item.end()?;
            }
            o.string("missing", required(), 10)?;
            o.end()
        })();
        let got = report.finish(read).unwrap_err();
        let paths: Vec<&str> = got.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["body.a", "body.b.c", "body.d[0]", "body.d[1].e", "body.missing", "body.zz"]);
        assert!(got.iter().all(|p| !p.message.contains("Secret") && p.code == "BAD"), "{got:?}");
    }

    #[test]
    fn first_mode_stops_at_the_first_problem_with_the_reads_code() {
        let v = json!({"a": "ok", "b": 7, "c": 8});
        let report = Report::new(rules(Mode::First, Empty::Absent));
        let mut after = false;
        let read = (|| -> Read<()> {
            let mut o = report.open("", &v)?.unwrap();
            o.string("a", required(), 10)?;
            o.string("b", required().code("B_CODE"), 10)?;
            after = true;
            o.end()
        })();
        let b = Problem { path: "b".into(), message: "must be a string, not a number".into(), code: "B_CODE" };
        assert_eq!(read.clone().unwrap_err(), Stop(Box::new(b.clone())));
        let got = report.finish(read).unwrap_err();
        assert!(!after);
        assert_eq!(got, [b]);
    }

    #[test]
    fn an_unknown_field_has_the_readings_code_even_inside_a_coded_object() {
        let v = json!({"vehicle": {"vin": "x", "colour": "red"}});
        let report = Report::new(rules(Mode::First, Empty::Absent));
        let read = (|| -> Read<()> {
            let mut o = report.open("", &v)?.unwrap();
            let mut vehicle = o.object("vehicle", required().code("INVALID_VEHICLE"))?.unwrap();
            vehicle.string("vin", required(), 17)?;
            vehicle.end()
        })();
        let Stop(p) = read.unwrap_err();
        assert_eq!((p.path.as_str(), p.code), ("vehicle.colour", "BAD"));
    }

    #[test]
    fn as_sent_minimums_do_not_count_white_space() {
        let v = json!({"secret": "    a", "ok": " abcde "});
        let report = Report::new(rules(Mode::All, Empty::Absent));
        let read = (|| -> Read<Option<String>> {
            let mut o = report.open("", &v)?.unwrap();
            o.string_as_sent("secret", required(), 5, 50)?;
            o.string_as_sent("ok", required(), 5, 50)
        })();
        let got = report.finish(read).unwrap_err();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].path, "secret");
    }

    #[test]
    fn null_and_blank_are_absent_or_refused_by_the_rules() {
        let v = json!({"n": null, "b": "  ", "r": null});
        let report = Report::new(rules(Mode::All, Empty::Absent));
        let read = (|| -> Read<(Option<String>, Option<String>)> {
            let mut o = report.open("", &v)?.unwrap();
            let n = o.string("n", optional(), 5)?;
            let b = o.string("b", optional(), 5)?;
            o.string("r", required(), 5)?;
            o.end()?;
            Ok((n, b))
        })();
        let got = report.finish(read).unwrap_err();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].path.as_str(), got[0].message.as_str()), ("r", "is required"));

        let report = Report::new(rules(Mode::All, Empty::Refused));
        let read = (|| -> Read<()> {
            let mut o = report.open("", &v)?.unwrap();
            o.string("n", optional(), 5)?;
            o.string("b", optional(), 5)?;
            o.string("r", optional(), 5)?;
            o.end()
        })();
        let got = report.finish(read).unwrap_err();
        assert_eq!(got.len(), 3);
        assert!(got[0].message.starts_with("must not be null"));
        assert!(got[1].message.starts_with("must not be blank"));
    }

    #[test]
    fn text_is_trimmed_counted_in_characters_and_blocks_allow_line_breaks() {
        let v = json!({"s": "  héllo  ", "long": "ééé", "nl": "a\nb", "block": "a\n\tb"});
        let report = Report::new(rules(Mode::All, Empty::Absent));
        let read = (|| -> Read<(Option<String>, Option<String>)> {
            let mut o = report.open("", &v)?.unwrap();
            let s = o.string("s", required(), 5)?;
            o.string("long", required(), 2)?;
            o.string("nl", required(), 5)?;
            let block = o.text_block("block", required(), 5)?;
            o.end()?;
            Ok((s, block))
        })();
        let got = report.finish(read).unwrap_err();
        let paths: Vec<&str> = got.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["long", "nl"]);
        let report = Report::new(rules(Mode::All, Empty::Absent));
        let v = json!({"s": "  héllo  ", "block": "a\n\tb"});
        let read = (|| -> Read<(Option<String>, Option<String>)> {
            let mut o = report.open("", &v)?.unwrap();
            Ok((o.string("s", required(), 5)?, o.text_block("block", required(), 5)?))
        })();
        assert_eq!(report.finish(read).unwrap(), (Some("héllo".into()), Some("a\n\tb".into())));
    }

    #[test]
    fn decimals_come_from_exact_text_never_a_float() {
        let raw: Box<RawValue> =
            serde_json::from_str(r#"{"a": 1234.50, "b": "0.10", "c": 1e2, "d": 0.1000000000000000055, "e": 1.005}"#)
                .unwrap();
        let report = Report::new(rules(Mode::All, Empty::Absent));
        let read = (|| -> Read<Vec<Option<Decimal>>> {
            let mut o = report.open("", &*raw)?.unwrap();
            let mut out = Vec::new();
            for f in ["a", "b", "c", "d", "e"] {
                out.push(o.decimal(f, required(), 10, 2)?);
            }
            Ok(out)
        })();
        let got = report.finish(read).unwrap_err();
        let paths: Vec<&str> = got.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["c", "d", "e"]);
        // A parsed Value's float has lost its text: refused, while its integer keeps it.
        let v = json!({"f": 12.5, "i": 12});
        let report = Report::new(rules(Mode::All, Empty::Absent));
        let read = (|| -> Read<Option<Decimal>> {
            let mut o = report.open("", &v)?.unwrap();
            o.decimal("f", required(), 10, 2)?;
            o.decimal("i", required(), 10, 2)
        })();
        let got = report.finish(read).unwrap_err();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].path, "f");
    }

    #[test]
    fn raw_and_parsed_sources_read_alike() {
        let text = r#"{"id": 42, "name": "A \"quoted\" name", "k\u0065y": [1, 2], "flag": "1"}"#;
        let raw: Box<RawValue> = serde_json::from_str(text).unwrap();
        let parsed: Value = serde_json::from_str(text).unwrap();
        let rules = Rules { mode: Mode::All, empty: Empty::Absent, numbers_as_text: true, code: "BAD" };
        fn read<'a, N: Node<'a>>(report: &Report, n: N) -> Read<(String, String, usize, bool)> {
            let mut o = report.open("", n)?.unwrap();
            let id = o.string("id", required(), 10)?.unwrap();
            let name = o.string("name", required(), 20)?.unwrap();
            let key = o.array("key", required(), 5)?.unwrap().len();
            let flag = o.flag("flag", required())?.unwrap();
            o.end()?;
            Ok((id, name, key, flag))
        }
        let (r1, r2) = (Report::new(rules), Report::new(rules));
        let a = r1.clone().finish(read(&r1, &*raw)).unwrap();
        let b = r2.clone().finish(read(&r2, &parsed)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, ("42".into(), "A \"quoted\" name".into(), 2, true));
    }
}
