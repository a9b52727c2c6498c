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

mod node;
mod values;

use std::borrow::Cow;
use std::sync::{Arc, Mutex, MutexGuard};

pub use crate::json::Tape;
use node::type_name;
pub use node::{Kind, Node, Raw, Raws};
pub use values::{is_direction_override, whole_number};

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

/// What a reading does with a field nobody reads: refuse it (the default of every API), or pass
/// over it -- the original Account API's `GW-UnknownPropertyHandling: ignore` (and `log`, which
/// ignores and logs how many).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unknown {
    #[default]
    Refuse,
    Ignore,
}

struct State {
    rules: Rules,
    unknown: Unknown,
    /// Unknown fields passed over under [`Unknown::Ignore`].
    ignored: usize,
    problems: Vec<Problem>,
}

/// The problems of one reading, shared by every [`Fields`] opened from it (behind a mutex only
/// so that a reader may live in a `Send` future).
#[derive(Clone)]
pub struct Report(Arc<Mutex<State>>);

impl Report {
    pub fn new(rules: Rules) -> Report {
        Report(Arc::new(Mutex::new(State { rules, unknown: Unknown::Refuse, ignored: 0, problems: Vec::new() })))
    }

    /// The same reading with fields nobody reads passed over (or refused, the default).
    pub fn unknown(self, unknown: Unknown) -> Report {
        self.state().unknown = unknown;
        self
    }

    /// How many unknown fields were passed over.
    pub fn ignored(&self) -> usize {
        self.state().ignored
    }

    /// Whether an unknown field is refused; one passed over is counted.
    fn refuses_unknown(&self) -> bool {
        let mut s = self.state();
        if s.unknown == Unknown::Ignore {
            s.ignored += 1;
            return false;
        }
        true
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
        let rules = self.rules();
        Fields::open(self.clone(), rules, Place::Path(path.to_string()), node, rules.code)
    }
}

/// A key's fingerprint ([`crate::json::fingerprint`]).
pub(crate) fn fingerprint(key: &str) -> u32 {
    crate::json::fingerprint(key.as_bytes())
}

/// The members an object's [`Index`] holds; a larger object is searched member by member.
const INDEXED: usize = 96;
/// An object of at most this many members is searched member by member too: comparing a few
/// names costs less than hashing them all when it is opened (a batch's documents have three).
const SMALL: usize = 8;

/// Where an object's members are, by key: an open-addressing table of member numbers (plus one;
/// 0 is free) at their fingerprint's hash, kept inline so that opening an object allocates
/// nothing for it.
struct Index([u8; 128]);

impl Index {
    fn slot(key: &str) -> usize {
        (fingerprint(key).wrapping_mul(0x9E37_79B1) >> 25) as usize
    }

    fn of<'k>(keys: impl ExactSizeIterator<Item = &'k str>) -> Index {
        let mut t = [0u8; 128];
        if keys.len() <= SMALL {
            return Index(t);
        }
        for (i, k) in keys.enumerate().take(INDEXED) {
            let mut s = Index::slot(k);
            while t[s] != 0 {
                s = (s + 1) % 128;
            }
            t[s] = i as u8 + 1;
        }
        Index(t)
    }

    /// The number of the key that is `name`, of `len` keys.
    fn find<'k>(&self, len: usize, key: impl Fn(usize) -> &'k str, name: &str) -> Option<usize> {
        if len <= SMALL || len > INDEXED {
            return (0..len).find(|&i| same(key(i).as_bytes(), name.as_bytes()));
        }
        let mut s = Index::slot(name);
        loop {
            match self.0[s] {
                0 => return None,
                i if same(key(i as usize - 1).as_bytes(), name.as_bytes()) => return Some(i as usize - 1),
                _ => s = (s + 1) % 128,
            }
        }
    }
}

/// Whether two names are the same, compared eight bytes at a time in place: names are short, and
/// a call to `memcmp` costs more than comparing one (the reader compares one per field read).
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        let mut i = 0;
        while i < n {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        return true;
    }
    let word = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().unwrap_or([0; 8]));
    // Whole words, then the last eight bytes (which may overlap the words before).
    let mut i = 0;
    while i + 8 < n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    word(a, n - 8) == word(b, n - 8)
}

/// A reading's known field names, indexed once (a `static` beside the list) for
/// [`Fields::only`].
pub struct Known {
    names: &'static [&'static str],
    index: Index,
}

impl Known {
    pub fn new(names: &'static [&'static str]) -> Known {
        Known { names, index: Index::of(names.iter().copied()) }
    }

    pub fn has(&self, name: &str) -> bool {
        self.index.find(self.names.len(), |i| self.names[i], name).is_some()
    }
}

/// Which members were read: a bit each, or a flag each past 128 members.
enum Seen {
    Bits(u128),
    Flags(Vec<bool>),
}

impl Seen {
    fn new(members: usize) -> Seen {
        if members <= 128 {
            Seen::Bits(0)
        } else {
            Seen::Flags(vec![false; members])
        }
    }
    fn set(&mut self, i: usize) {
        match self {
            Seen::Bits(b) => *b |= 1 << i,
            Seen::Flags(f) => f[i] = true,
        }
    }
    fn get(&self, i: usize) -> bool {
        match self {
            Seen::Bits(b) => *b & (1 << i) != 0,
            Seen::Flags(f) => f[i],
        }
    }
    fn count(&self) -> usize {
        match self {
            Seen::Bits(b) => b.count_ones() as usize,
            Seen::Flags(f) => f.iter().filter(|x| **x).count(),
        }
    }
}

/// Where an object being read is: a path, or an item of a list, whose path is written out only
/// when a problem names it (a batch's documents are read by the thousand and most are fine).
enum Place {
    Path(String),
    Item(Arc<str>, usize),
}

impl Place {
    fn path(&self) -> Cow<'_, str> {
        match self {
            Place::Path(p) => Cow::Borrowed(p),
            Place::Item(list, i) => Cow::Owned(format!("{list}[{i}]")),
        }
    }
}

/// A JSON object being read field by field; [`Fields::end`] refuses the fields nobody read.
pub struct Fields<'a, N> {
    report: Report,
    /// The reading's rules, kept here so that a read need not take the report's lock.
    rules: Rules,
    path: Place,
    members: Vec<(Cow<'a, str>, N)>,
    index: Index,
    seen: Seen,
    code: &'static str,
}

/// The objects of an array ([`Fields::objects`]), each opened when it is taken: a list of
/// documents is read one by one, never held as a list of readers.
pub struct Objects<'a, N> {
    /// The reading, its rules, the list's path and its problems' code.
    from: Option<(Report, Rules, Arc<str>, &'static str)>,
    items: std::iter::Enumerate<std::vec::IntoIter<N>>,
    source: std::marker::PhantomData<&'a ()>,
}

impl<'a, N> Default for Objects<'a, N> {
    fn default() -> Self {
        Objects { from: None, items: Vec::new().into_iter().enumerate(), source: std::marker::PhantomData }
    }
}

impl<'a, N> Objects<'a, N> {
    /// The entries left, objects or not: room for what they hold.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.len() == 0
    }
}

impl<'a, N: Node<'a>> Iterator for Objects<'a, N> {
    type Item = Fields<'a, N>;

    fn next(&mut self) -> Option<Fields<'a, N>> {
        let (report, rules, list, code) = self.from.as_ref()?;
        self.items.by_ref().find_map(|(i, item)| match item.kind() {
            Kind::Object(members) => {
                Some(Fields::new(report.clone(), *rules, Place::Item(list.clone(), i), members, code))
            }
            _ => None,
        })
    }
}

/// What a value that should be an object is told.
fn not_an_object<N>(kind: &Kind<'_, N>) -> String {
    format!("must be an object, not {}", type_name(kind))
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
    fn open(report: Report, rules: Rules, path: Place, node: N, code: &'static str) -> Read<Option<Fields<'a, N>>> {
        match node.kind() {
            Kind::Object(members) => Ok(Some(Fields::new(report, rules, path, members, code))),
            other => {
                report.add(&path.path(), code, not_an_object(&other))?;
                Ok(None)
            }
        }
    }

    fn new(report: Report, rules: Rules, path: Place, members: Vec<(Cow<'a, str>, N)>, code: &'static str) -> Self {
        let (index, seen) = (Index::of(members.iter().map(|(k, _)| k.as_ref())), Seen::new(members.len()));
        Fields { report, rules, path, members, index, seen, code }
    }

    /// The path of a field of this object.
    pub fn path(&self, name: &str) -> String {
        match self.path.path() {
            here if here.is_empty() => name.to_string(),
            here => format!("{here}.{name}"),
        }
    }

    /// This object's own path.
    pub fn here(&self) -> Cow<'_, str> {
        self.path.path()
    }

    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Where the member `name` is.
    fn find(&self, name: &str) -> Option<usize> {
        let members = &self.members;
        self.index.find(members.len(), |i| members[i].0.as_ref(), name)
    }

    fn mark(&mut self, i: usize) {
        self.seen.set(i);
    }

    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Whether a field is given with something in it: present, and not an empty array.
    pub fn has_items(&self, name: &str) -> bool {
        self.find(name).is_some_and(|i| !matches!(self.members[i].1.kind(), Kind::Array(items) if items.is_empty()))
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// How many of this object's fields were read (or marked known) so far.
    pub fn read_count(&self) -> usize {
        self.seen.count()
    }

    /// Whether every field sent has been read (or marked known): a reader may then skip reading
    /// fields that can only be absent.
    pub fn all_read(&self) -> bool {
        self.seen.count() == self.members.len()
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
        let i = self.find(name)?;
        self.mark(i);
        let node = self.members[i].1;
        (!matches!(node.kind(), Kind::Null)).then_some(node)
    }

    /// Records a problem at this object itself.
    pub fn problem_here(&self, message: impl Into<String>) -> Read<()> {
        self.report.add(&self.here(), self.code, message)
    }

    /// Marks a field as known without reading it (read-only echoes such as a typekey's `name`).
    pub fn ignore(&mut self, name: &str) {
        if let Some(i) = self.find(name) {
            self.mark(i);
        }
    }

    /// A field's node without reading it (nothing reported, the field not marked as read).
    pub fn peek(&self, name: &str) -> Option<N> {
        self.find(name).map(|i| self.members[i].1)
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
    pub fn only(&mut self, known: &Known) -> Read<()> {
        self.refuse_unknown(known, false)
    }

    /// [`Fields::only`] for the fields not read so far: for a reading that checks its fields'
    /// names after reading them (nothing to look up when every field sent was read).
    pub fn only_unread(&mut self, known: &Known) -> Read<()> {
        if self.all_read() {
            return Ok(());
        }
        self.refuse_unknown(known, true)
    }

    fn refuse_unknown(&mut self, known: &Known, unread_only: bool) -> Read<()> {
        for i in 0..self.members.len() {
            let passed = unread_only && self.seen.get(i);
            if !passed && !known.has(&self.members[i].0) {
                self.mark(i);
                if !self.report.refuses_unknown() {
                    continue;
                }
                let path = self.path(&self.members[i].0);
                self.report.add(&path, self.rules.code, "is not a known field")?;
            }
        }
        Ok(())
    }

    fn slot(&mut self, name: &str, want: Want) -> Read<Slot<'a, N>> {
        let code = want.code.unwrap_or(self.code);
        let empty = self.rules.empty;
        let Some(i) = self.find(name) else {
            if want.required {
                self.report.add(&self.path(name), code, "is required")?;
                return Ok(Slot::Refused);
            }
            return Ok(Slot::None);
        };
        self.mark(i);
        let kind = self.members[i].1.kind();
        let blank = match &kind {
            Kind::Null => true,
            Kind::String(s) => values::trim(s).is_empty(),
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

    /// A nested object, whose problems take `want`'s code (else this object's).
    pub fn object(&mut self, name: &str, want: Want) -> Read<Option<Fields<'a, N>>> {
        let code = want.code.unwrap_or(self.code);
        match self.slot(name, want)? {
            Slot::Value(Kind::Object(members)) => {
                Ok(Some(Fields::new(self.report.clone(), self.rules, Place::Path(self.path(name)), members, code)))
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

    /// An array of at most `max` objects, each opened at `name[i]` as it is taken; entries that
    /// are not objects are reported (before any object is read) and left out.
    pub fn objects(&mut self, name: &str, want: Want, max: usize) -> Read<Option<Objects<'a, N>>> {
        let code = want.code.unwrap_or(self.code);
        let Some(items) = self.array(name, want, max)? else { return Ok(None) };
        let list: Arc<str> = match self.path.path() {
            here if here.is_empty() => Arc::from(name),
            _ => self.path(name).into(),
        };
        for (i, item) in items.iter().enumerate() {
            if !item.is_object() {
                let place = Place::Item(list.clone(), i);
                self.report.add(&place.path(), code, not_an_object(&item.kind()))?;
            }
        }
        let from = Some((self.report.clone(), self.rules, list, code));
        Ok(Some(Objects { from, items: items.into_iter().enumerate(), source: std::marker::PhantomData }))
    }

    /// Refuses every field nobody read (with the reading's own code, whatever this object's).
    pub fn end(self) -> Read<()> {
        let code = self.rules.code;
        for (i, (k, _)) in self.members.iter().enumerate() {
            if !self.seen.get(i) && self.report.refuses_unknown() {
                self.report.add(&self.path(k), code, "is not a known field")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use serde_json::json;
    use serde_json::value::RawValue;
    use serde_json::Value;

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
            let mut o = report.open("", Raw::from(&*raw))?.unwrap();
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
    fn dates_are_four_two_and_two_digits_exactly() {
        let v = json!({"ok": "2024-02-29", "time": "2024-02-29T10:00:00Z", "a": "2024- 1- 1", "b": "+123-01-01",
                       "c": "2023-02-29", "d": "2024-1-01", "e": "-001-01-01", "f": "2024/01/01"});
        let report = Report::new(rules(Mode::All, Empty::Absent));
        let read = (|| -> Read<Vec<Option<chrono::NaiveDate>>> {
            let mut o = report.open("", &v)?.unwrap();
            let mut out = vec![o.date("ok", required())?, o.day("time", required())?];
            for f in ["a", "b", "c", "d", "e", "f"] {
                out.push(o.date(f, required())?);
            }
            Ok(out)
        })();
        let problems = report.finish(read).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        // chrono's own parser took the padded and the signed years; ours does not.
        assert_eq!(paths, ["a", "b", "c", "d", "e", "f"]);
    }

    #[test]
    fn the_raw_scan_splits_what_serde_json_would() {
        // Escaped keys, nested values holding brackets and quotes, white space everywhere, and a
        // repeated key (the last value wins, as in serde_json's maps).
        let text =
            " {\"a\" : [1, {\"b\": \"]}\\\"[\"}] ,\"k\\u0065y\":\"v\", \"a\":\t\"last\",\"e\":{} ,\"n\": -1.5e3 } ";
        let raw: Box<RawValue> = serde_json::from_str(text).unwrap();
        let parsed: Value = serde_json::from_str(text).unwrap();
        let Kind::Object(members) = Raw::from(&*raw).kind() else { panic!("an object") };
        let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["a", "key", "e", "n"]);
        for (k, v) in &members {
            let again: Value = serde_json::from_str(v.get()).unwrap();
            assert_eq!(again, parsed[k.as_ref()], "{k}");
        }
        let boxed = |t: &str| -> Box<RawValue> { serde_json::from_str(t).unwrap() };
        let array = boxed(r#"[ [], "x\"]", {"y": [2]} , 3 ]"#);
        let Kind::Array(items) = Raw::from(&*array).kind() else { panic!("an array") };
        let items: Vec<&str> = items.iter().map(|i| i.get()).collect();
        assert_eq!(items, ["[]", r#""x\"]""#, r#"{"y": [2]}"#, "3"]);
        let (empty_array, empty_object) = (boxed("[]"), boxed("{ }"));
        assert!(matches!(Raw::from(&*empty_array).kind(), Kind::Array(v) if v.is_empty()));
        assert!(matches!(Raw::from(&*empty_object).kind(), Kind::Object(v) if v.is_empty()));
    }

    /// What a reader sees of a node, as a `Value` (numbers as their text).
    fn seen<'a, N: Node<'a>>(n: N) -> Value {
        match n.kind() {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(b),
            Kind::Number { text, exact } => json!({"number": text, "exact": exact}),
            Kind::String(s) => Value::String(s.into_owned()),
            Kind::Array(items) => Value::Array(items.into_iter().map(seen).collect()),
            Kind::Object(members) => {
                Value::Object(members.into_iter().map(|(k, v)| (k.into_owned(), seen(v))).collect())
            }
        }
    }

    #[test]
    fn a_checked_texts_tape_reads_as_its_scan_does() {
        let docs = [
            r#" {"id": "T1", "n": [1, -2.50, {"code": "POLIC", "url": "https://x/\u00e9?a=\"b\""}], "z": null, "t": true, "e": {}, "a": [], "s": ""} "#,
            r#"[[], [[1]], {"a": {"b": {"c": "d\n"}}}, "x\"]", 0]"#,
            r#""just a string""#,
            "-12.75",
            r#"{"k\u0065y": 1}"#, // an escaped name: left to `check`, no tape
        ];
        for doc in docs {
            let mut tape = Tape::new();
            let taped = Raw::parse(doc.as_bytes(), &mut tape).unwrap();
            let raw: Box<RawValue> = serde_json::from_str(doc).unwrap();
            let scanned = Raw::from(&*raw);
            assert_eq!(taped.get(), scanned.get(), "{doc}");
            assert_eq!(seen(taped), seen(scanned), "{doc}");
            let mut kept = Raws::with_capacity(2, 0);
            kept.push(taped);
            kept.push(scanned);
            let back: Vec<Value> = kept.iter().map(seen).collect();
            assert_eq!(back, [seen(scanned), seen(scanned)], "{doc}");
        }
    }

    #[test]
    fn names_are_the_same_exactly_when_their_bytes_are() {
        let names: Vec<String> = (0..40)
            .flat_map(|n| {
                let base: String = (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect();
                let mut v = vec![base.clone()];
                for at in 0..n {
                    let mut b = base.clone().into_bytes();
                    b[at] ^= 1;
                    v.push(String::from_utf8(b).unwrap());
                }
                v
            })
            .collect();
        for a in &names {
            for b in names.iter().filter(|b| b.len().abs_diff(a.len()) <= 1) {
                assert_eq!(same(a.as_bytes(), b.as_bytes()), a == b, "{a} {b}");
            }
        }
    }

    #[test]
    fn unknown_fields_are_refused_or_passed_over_as_the_reading_asks() {
        let v = json!({"a": "x", "zz": 1, "inner": {"b": "y", "yy": 2}});
        let read = |unknown: Unknown| {
            let report = Report::new(rules(Mode::All, Empty::Absent)).unknown(unknown);
            let out = (|| -> Read<(Option<String>, Option<String>)> {
                let mut o = report.open("", &v)?.unwrap();
                let a = o.string("a", required(), 5)?;
                let mut inner = o.object("inner", required())?.unwrap();
                let b = inner.string("b", required(), 5)?;
                inner.end()?;
                o.end()?;
                Ok((a, b))
            })();
            let ignored = report.ignored();
            (report.finish(out), ignored)
        };
        let (refused, _) = read(Unknown::Refuse);
        let paths: Vec<String> = refused.unwrap_err().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["inner.yy", "zz"]);
        let (ok, ignored) = read(Unknown::Ignore);
        assert_eq!(ok.unwrap(), (Some("x".into()), Some("y".into())));
        assert_eq!(ignored, 2);
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
        let a = r1.clone().finish(read(&r1, Raw::from(&*raw))).unwrap();
        let b = r2.clone().finish(read(&r2, &parsed)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, ("42".into(), "A \"quoted\" name".into(), 2, true));
    }
}
