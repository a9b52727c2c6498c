//! The rules checked beyond their format (`Rules::check`): every jurisdiction present, periods
//! contiguous, sourced, in range.

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;

use super::{Charge, Fee, Field, Jurisdiction, Period, Rules, JURISDICTIONS};

impl Rules {
    /// What is wrong with the data beyond its format: a missing jurisdiction, periods that overlap
    /// or leave a gap, a period without a source, an unverified one that does not say what is
    /// unknown, a rate out of range. Empty when all is well.
    pub fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut p = |code: &str, what: String| problems.push(format!("{code}: {what}"));
        for code in JURISDICTIONS {
            if !self.jurisdictions.contains_key(code) {
                p(code, "no rules".into());
            }
        }
        for (code, j) in &self.jurisdictions {
            check_jurisdiction(code, j, &mut p);
        }
        problems
    }
}

/// What is wrong with one jurisdiction beyond the format (see [`Rules::check`]).
fn check_jurisdiction(code: &str, j: &Jurisdiction, p: &mut impl FnMut(&str, String)) {
    if !JURISDICTIONS.contains(&code) {
        p(code, "is not one of the 54 jurisdictions".into());
    }
    for (what, text) in [("name", &j.name), ("department", &j.department), ("department_source", &j.department_source)]
    {
        if text.trim().is_empty() {
            p(code, format!("{what} is empty"));
        }
    }
    let tax = j.fees.iter().filter(|f| f.field == Field::SlTax).collect::<Vec<_>>();
    let known_from = j.known_from();
    // No known tax is a valid answer when the file says why (every transaction: 1005).
    if tax.is_empty() && j.notes.as_deref().is_none_or(|n| n.trim().is_empty()) {
        p(code, "has no sl_tax charge and no notes saying why".into());
    }
    if let Some(to) = j.known_to() {
        if j.notes.as_deref().is_none_or(|n| !n.contains(&to.to_string())) {
            p(code, format!("the tax ends {to} with no rule after it, and the notes do not say why (name {to})"));
        }
    }
    for f in &j.fees {
        check_fee(code, f, known_from, p);
    }
    for d in &j.documents {
        if d.source.trim().is_empty() {
            p(code, format!("document {}: no source", d.code));
        }
        if d.transaction_types.is_empty() {
            p(code, format!("document {}: no transaction types", d.code));
        }
        if d.code.is_empty() || !d.code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
            p(code, format!("document {:?}: a code is upper-case letters and digits", d.code));
        }
    }
}

/// What is wrong with one charge: its periods, and a start before the tax's.
fn check_fee(code: &str, f: &Fee, known_from: Option<NaiveDate>, p: &mut impl FnMut(&str, String)) {
    let at = format!("{} ({})", f.name, f.field.name());
    if f.periods.is_empty() {
        p(code, format!("{at} has no period"));
    }
    for (i, per) in f.periods.iter().enumerate() {
        check_period(code, &format!("{at} from {}", per.from), per, f.periods.get(i + 1), p);
    }
    if let (Some(first), Some(k)) = (f.periods.first(), known_from) {
        if first.from < k {
            p(code, format!("{at} starts {} before the tax ({k}), when no rule is known", first.from));
        }
    }
}

/// What is wrong with one period: no source, unverified without saying why, out of range, or
/// not followed by the `next` one the day after it ends.
fn check_period(code: &str, at: &str, per: &Period, next: Option<&Period>, p: &mut impl FnMut(&str, String)) {
    if per.source.trim().is_empty() {
        p(code, format!("{at}: no source"));
    }
    if !per.verified && per.unknown.as_deref().is_none_or(|u| u.trim().is_empty()) {
        p(code, format!("{at}: verified = false without saying what is unknown"));
    }
    if per.verified && per.unknown.is_some() {
        p(code, format!("{at}: verified = true yet names something unknown"));
    }
    if per.base_unknown.as_deref().is_some_and(|b| b.trim().is_empty()) {
        p(code, format!("{at}: base_unknown is empty"));
    }
    if per.base_unknown.is_some() && matches!(per.charge, Charge::Amount(_)) {
        p(code, format!("{at}: a flat amount has no base to be unsure of"));
    }
    if let Some(to) = per.to {
        if to < per.from {
            p(code, format!("{at}: ends before it starts"));
        }
    }
    match per.charge {
        Charge::Percent { percent, .. } => {
            if percent <= Decimal::ZERO || percent > Decimal::from(15) {
                p(code, format!("{at}: {percent}% is out of range (0, 15]"));
            }
        }
        Charge::Amount(a) => {
            if a <= Decimal::ZERO || a > Decimal::from(1000) || a.scale() > 2 {
                p(code, format!("{at}: amount {a} is out of range (0, 1000] or not in cents"));
            }
        }
    }
    if let Some(shares) = &per.line_shares {
        if shares.values().any(|s| *s <= Decimal::ZERO || *s > Decimal::ONE_HUNDRED) {
            p(code, format!("{at}: a line share is out of range (0, 100]"));
        }
    }
    if let Some(next) = next {
        match per.to {
            None => p(code, format!("{at}: open-ended but followed by a period from {}", next.from)),
            Some(to) => {
                let day_after = to.checked_add_days(Days::new(1));
                if day_after != Some(next.from) {
                    let what = if next.from <= to { "overlaps" } else { "leaves a gap before" };
                    p(code, format!("{at}: ends {to} and {what} the period from {}", next.from));
                }
            }
        }
    }
}
