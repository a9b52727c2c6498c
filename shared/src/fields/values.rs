//! The typed reads of one field: text (one line, block, as sent), codes, booleans and flags,
//! whole numbers, dates and decimals; each names its problem by the field's path.

use std::borrow::Cow;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::node::Kind;
use super::{Fields, Node, Read, Slot, Want};

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

impl<'a, N: Node<'a>> Fields<'a, N> {
    /// The raw text of a string (or, with [`Rules::numbers_as_text`], a number) field.
    fn text_of(&mut self, name: &str, want: Want) -> Read<Option<Cow<'a, str>>> {
        match self.slot(name, want)? {
            Slot::None | Slot::Refused => Ok(None),
            Slot::Value(Kind::String(s)) => Ok(Some(s)),
            Slot::Value(Kind::Number { text, .. }) if self.rules.numbers_as_text => Ok(Some(text)),
            Slot::Value(other) => self.wrong_type(name, want, "a string", &other).map(|_| None),
        }
    }

    /// The field's text, trimmed, if it is at most `max` characters with no control character
    /// (but line breaks and tabs in a `block`) and, on one line, no direction override; not
    /// copied where the source holds it as sent.
    fn checked(&mut self, name: &str, want: Want, max: usize, block: bool) -> Read<Option<Cow<'a, str>>> {
        let Some(raw) = self.text_of(name, want)? else { return Ok(None) };
        let t = trim(&raw);
        // Printable ASCII, most text: one character a byte, no control or direction character.
        let fine = t.len() <= max && t.bytes().all(|b| (0x20..0x7f).contains(&b));
        if !fine && t.chars().count() > max {
            self.problem(name, want, format!("must be at most {max} characters"))?;
            Ok(None)
        } else if !fine && t.chars().any(|c| c.is_control() && !(block && matches!(c, '\n' | '\r' | '\t'))) {
            self.problem(name, want, "must not contain control characters")?;
            Ok(None)
        } else if !fine && !block && t.chars().any(is_direction_override) {
            self.problem(name, want, "must not contain bidirectional override characters")?;
            Ok(None)
        } else {
            Ok(Some(trimmed(raw)))
        }
    }

    /// One line of text: trimmed, at most `max` characters, no control characters and no
    /// bidirectional embedding, override or isolate ([`is_direction_override`]).
    pub fn string(&mut self, name: &str, want: Want, max: usize) -> Read<Option<String>> {
        Ok(self.checked(name, want, max, false)?.map(Cow::into_owned))
    }

    /// [`Fields::string`], borrowed from the source where it can be: for text that is looked at,
    /// not kept (a code, a date).
    pub fn text(&mut self, name: &str, want: Want, max: usize) -> Read<Option<Cow<'a, str>>> {
        self.checked(name, want, max, false)
    }

    /// A block of text (notes, descriptions): as [`Fields::string`], line breaks and tabs allowed.
    pub fn text_block(&mut self, name: &str, want: Want, max: usize) -> Read<Option<String>> {
        Ok(self.checked(name, want, max, true)?.map(Cow::into_owned))
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
        match trim(&text) {
            "0" => return Ok(Some(false)),
            "1" => return Ok(Some(true)),
            _ => {}
        }
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
        let Some(s) = self.text(name, want, 10)? else { return Ok(None) };
        match calendar_day(&s) {
            Some(d) => Ok(Some(d)),
            None => self.problem(name, want, "must be a date in the form yyyy-mm-dd").map(|_| None),
        }
    }

    /// A date `yyyy-mm-dd`, or a date-time of that date (`yyyy-mm-dd hh:mm[:ss[.f]]`, with `T`
    /// for the space and an optional `Z` or `±hh:mm`): the date is kept as written, the time and
    /// its offset dropped (a policy's dates are calendar days where the policy is, not instants).
    pub fn day(&mut self, name: &str, want: Want) -> Read<Option<NaiveDate>> {
        let Some(s) = self.text(name, want, 40)? else { return Ok(None) };
        let (date, rest) = match (s.get(..10), s.get(10..)) {
            (Some(d), Some(r)) => (d, r),
            _ => (&*s, ""),
        };
        match calendar_day(date) {
            Some(d) if rest.is_empty() || time_of_day(rest) => Ok(Some(d)),
            _ => self.problem(name, want, "must be a date yyyy-mm-dd or a date-time yyyy-mm-dd hh:mm:ss").map(|_| None),
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
        match decimal_of(trim(&text), digits, scale) {
            Some(d) => Ok(Some(d)),
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
}

/// `text` as a decimal(`digits + scale`, `scale`), from its exact text (no exponent), rounded to
/// `scale` places; `None` when it is not one.
fn decimal_of(text: &str, digits: u32, scale: u32) -> Option<Decimal> {
    plain_decimal(text, digits, scale).or_else(|| exact_decimal(text, digits, scale))
}

/// [`decimal_of`] by `Decimal`'s exact parse: any text.
fn exact_decimal(text: &str, digits: u32, scale: u32) -> Option<Decimal> {
    let limit = Decimal::from(10i64.pow(digits.min(18)));
    (!text.is_empty() && !text.contains(['e', 'E', '+']) && text.len() <= (digits + scale + 2) as usize)
        .then(|| Decimal::from_str_exact(text).ok())
        .flatten()
        .filter(|d| d.normalize().scale() <= scale && d.abs() < limit)
        .map(|d| d.round_dp(scale))
}

/// The common decimal, `ddd` or `ddd.dd` (no sign, at most `digits` digits before the point
/// and `scale` after), read digit by digit: the same value and scale the exact parse below gives
/// it, or `None` for anything else, which that parse decides.
fn plain_decimal(text: &str, digits: u32, scale: u32) -> Option<Decimal> {
    // A point must have digits after it ("1." is the exact parse's to decide).
    let (whole, fraction) = match text.split_once('.') {
        Some((_, "")) => return None,
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let significant = whole.trim_start_matches('0').len();
    if whole.is_empty()
        || !all_digits(whole)
        || !all_digits(fraction)
        || significant > digits as usize
        || fraction.len() > scale as usize
        || text.len() > (digits + scale + 2) as usize
        || significant + fraction.len() > 18
    {
        return None;
    }
    let mantissa = whole.bytes().chain(fraction.bytes()).fold(0i64, |n, b| n * 10 + i64::from(b - b'0'));
    Some(Decimal::new(mantissa, fraction.len() as u32))
}

/// Text without the white space around it, still borrowed if it was.
fn trimmed(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(trim(s)),
        Cow::Owned(s) if trim(&s).len() == s.len() => Cow::Owned(s),
        Cow::Owned(s) => Cow::Owned(trim(&s).to_string()),
    }
}

/// `str::trim`, answered at once for text that starts and ends with a visible ASCII character
/// (most text: nothing to trim, no character decoded).
#[inline]
pub(super) fn trim(s: &str) -> &str {
    let visible = |b: Option<&u8>| b.is_some_and(|b| (0x21..0x7f).contains(b));
    match visible(s.as_bytes().first()) && visible(s.as_bytes().last()) {
        true => s,
        false => s.trim(),
    }
}

/// `yyyy-mm-dd`, exactly: four, two and two digits, and a day of the calendar.
fn calendar_day(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
    };
    NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)
}

/// The part of a date-time after its date: `T` or a space, `hh:mm[:ss[.f]]`, then nothing, `Z`,
/// or `±hh:mm`.
fn time_of_day(rest: &str) -> bool {
    let Some(t) = rest.strip_prefix(['T', ' ']) else { return false };
    let (clock, offset) = match t.find(['Z', '+', '-']) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let offset_ok = offset.is_empty()
        || offset == "Z"
        || chrono::NaiveTime::parse_from_str(&format!("{}:00", &offset[1..]), "%H:%M:%S").is_ok() && offset.len() == 6;
    let clock_ok =
        ["%H:%M", "%H:%M:%S", "%H:%M:%S%.f"].iter().any(|f| chrono::NaiveTime::parse_from_str(clock, f).is_ok());
    clock_ok && offset_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_decimal_reads_as_the_exact_parse_reads_it() {
        const PIECES: &[&str] = &["0", "1", "5", "9", "00", "123", ".", "-", "+", "e", " ", "x", "99999"];
        let mut next = crate::testing::xorshift(0x2545_F491_4F6C_DD1D);
        let (mut plain, mut tried) = (0, 0);
        for _ in 0..300_000 {
            let text: String = (0..1 + next() % 6).map(|_| PIECES[(next() % PIECES.len() as u64) as usize]).collect();
            let (digits, scale) = [(10, 2), (12, 2), (3, 4), (1, 0)][(next() % 4) as usize];
            let want = exact_decimal(&text, digits, scale);
            let got = decimal_of(&text, digits, scale);
            let parts = |d: Option<Decimal>| d.map(|d| (d, d.scale(), d.is_sign_negative()));
            assert_eq!(parts(got), parts(want), "{text:?} decimal({digits},{scale})");
            plain += usize::from(plain_decimal(&text, digits, scale).is_some());
            tried += usize::from(want.is_some());
        }
        assert!(plain > 10_000 && tried > plain, "{plain} of {tried}");
    }
}
