//! What an account is found by: its search terms, kept on the account and indexed (see the
//! repository's `FIND` items), and the two searches' matching rules.
//!
//! **Folding** (every comparison of text): Unicode NFKD, combining marks dropped, lower case, so
//! `Müller`, `MULLER` and `muller` are one. **Words**: a folded text split at every character
//! that is not a letter or a digit (`O'Brien` is `o` and `brien`; `94105-1234` is `94105` and
//! `1234`); a phone number is one word of its digits.
//!
//! **Index keys** are words (`w:`), the taxpayer id's digest (`tx:`) and producer codes (`pc:`),
//! each stored as a digest so no name, phone or id is ever part of a key. Every structured
//! criterion is served by a word key and then checked whole against the account's terms; the
//! free text's words are the keys themselves.

use std::collections::BTreeSet;

use super::model::{Account, Address, Contact, ContactSubtype};
pub use super::model::{HolderTerms, PlaceTerms, Terms};

/// The most words of one account's holder, and of its primary address, that are indexed; words
/// past these are not found by free text (a holder's name and an address have far fewer).
pub const MAX_WORDS: usize = 16;

impl HolderTerms {
    pub fn of(c: &Contact) -> HolderTerms {
        // What the structured search looks up comes first, so the word cap never drops it: the
        // phones, then the names.
        let phones: Vec<String> = [&c.home_phone, &c.work_phone, &c.cell_phone]
            .into_iter()
            .flatten()
            .map(|p| phone_digits(p))
            .filter(|d| !d.is_empty())
            .collect();
        let mut words = Vec::new();
        for p in &phones {
            push_word(&mut words, p.clone());
        }
        let names = [c.last_name.as_deref(), c.first_name.as_deref(), c.company_name.as_deref()];
        for name in names.into_iter().flatten() {
            push_words(&mut words, name);
        }
        let (company, first, last) = match c.subtype {
            ContactSubtype::Company => (c.company_name.as_deref().map(fold), None, None),
            ContactSubtype::Person => (None, c.first_name.as_deref().map(fold), c.last_name.as_deref().map(fold)),
        };
        HolderTerms { company, first, last, phones, tax: c.tax_id.as_deref().map(tax_digest), words }
    }
}

impl PlaceTerms {
    pub fn of(a: &Address) -> PlaceTerms {
        // What the structured search looks up comes first (postal code whole and in its parts,
        // state, city), then the street lines, so the word cap never drops a criterion's key.
        let mut words = Vec::new();
        push_word(&mut words, postal(&a.postal_code).to_lowercase());
        for part in [&a.postal_code, a.state.as_str(), &a.city, &a.line1] {
            push_words(&mut words, part);
        }
        push_words(&mut words, a.line2.as_deref().unwrap_or_default());
        PlaceTerms {
            postal: postal(&a.postal_code),
            city: fold(&a.city),
            state: a.state.as_str().to_ascii_uppercase(),
            words,
        }
    }
}

impl Terms {
    pub fn of(holder: &Contact, primary: &Address) -> Terms {
        Terms { holder: HolderTerms::of(holder), place: PlaceTerms::of(primary) }
    }
}

fn push_word(words: &mut Vec<String>, w: String) {
    if words.len() < MAX_WORDS && !words.contains(&w) {
        words.push(w);
    }
}

fn push_words(words: &mut Vec<String>, text: &str) {
    for w in split_words(text) {
        push_word(words, w);
    }
}

/// NFKD, combining marks dropped, lower case, runs of white space as one space, trimmed.
pub fn fold(s: &str) -> String {
    let nfkd = icu_normalizer::DecomposingNormalizerBorrowed::new_nfkd().normalize(s);
    let mut out = String::with_capacity(nfkd.len());
    for c in nfkd.chars().filter(|c| !is_combining_mark(*c)) {
        if c.is_whitespace() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.extend(c.to_lowercase());
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// The combining marks NFKD leaves after a base letter (the diacritics blocks).
fn is_combining_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// The words of a text: folded, split at every character that is not a letter or a digit.
pub fn split_words(s: &str) -> impl Iterator<Item = String> {
    fold(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect::<Vec<_>>()
        .into_iter()
}

pub fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// A phone number as compared: its digits, without the North American country code (`+1 650
/// 555 0100` and `650-555-0100` are one number).
pub fn phone_digits(s: &str) -> String {
    let d = digits(s);
    match d.strip_prefix('1') {
        Some(rest) if d.len() == 11 => rest.to_string(),
        _ => d,
    }
}

/// Whether a word of a free text is a phone number written as one (digits and `+-().`, at least
/// seven digits, not a ZIP+4 code): then it is compared as one, by [`phone_digits`].
fn is_phone(word: &str) -> bool {
    let b = word.as_bytes();
    let zip_plus_4 = b.len() == 10 && b[5] == b'-' && digits(word).len() == 9;
    !zip_plus_4 && word.chars().all(|c| c.is_ascii_digit() || "+-().".contains(c)) && digits(word).len() >= 7
}

/// A postal code as compared: upper case, without spaces.
pub fn postal(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase()
}

/// The digest a taxpayer id is found by (its nine digits, SHA-256, hex): the digits themselves
/// stay on the contact only.
pub fn tax_digest(digits_of_id: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("taxId\0{digits_of_id}").as_bytes());
    hex::encode(d.as_ref())
}

pub fn word_key(w: &str) -> String {
    format!("w:{w}")
}

pub fn producer_key(code: &str) -> String {
    format!("pc:{code}")
}

pub fn tax_key(digest: &str) -> String {
    format!("tx:{digest}")
}

/// Every index key of an account (none while it has no terms).
pub fn keys(a: &Account) -> BTreeSet<String> {
    let Some(t) = &a.search else { return BTreeSet::new() };
    let mut out: BTreeSet<String> = t.holder.words.iter().chain(&t.place.words).map(|w| word_key(w)).collect();
    out.insert(word_key(&fold(&a.number)));
    out.extend(a.producer_codes.iter().map(|c| producer_key(c)));
    if let Some(tax) = &t.holder.tax {
        out.insert(tax_key(tax));
    }
    out
}

/// The structured search's criteria (`POST /account/v1/search/accounts`), as sent; every one
/// given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Criteria {
    pub account_number: Option<String>,
    pub company_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<String>,
    pub tax_id: Option<String>,
    pub producer_code: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
}

impl Criteria {
    /// The index keys whose accounts are candidates: one per criterion (a name's or city's
    /// longest word; an empty set matches nothing).
    pub fn keys(&self) -> BTreeSet<String> {
        let longest = |s: &str| split_words(s).max_by_key(|w| w.chars().count());
        let mut out = BTreeSet::new();
        if let Some(n) = &self.account_number {
            out.insert(word_key(&fold(n)));
        }
        for text in [&self.company_name, &self.first_name, &self.last_name, &self.city].into_iter().flatten() {
            out.insert(word_key(&longest(text).unwrap_or_default()));
        }
        if let Some(p) = &self.phone_number {
            out.insert(word_key(&phone_digits(p)));
        }
        if let Some(t) = &self.tax_id {
            out.insert(tax_key(&tax_digest(&digits(t))));
        }
        if let Some(c) = &self.producer_code {
            out.insert(producer_key(c));
        }
        if let Some(p) = &self.postal_code {
            // `94403` and `94403-1234` by the ZIP code's word; `K1A 0B1` whole, however spaced.
            let whole = postal(p).to_lowercase();
            let key = if whole.contains('-') { split_words(p).next().unwrap_or_default() } else { whole };
            out.insert(word_key(&key));
        }
        if let Some(s) = &self.state {
            out.insert(word_key(&fold(s)));
        }
        out
    }

    /// Whether the account meets every criterion. Names, company and city match whole and
    /// exactly after folding; a phone number by its digits (any of the holder's three); a postal
    /// code exactly, or a five-digit ZIP code the ZIP+4 codes that start with it.
    pub fn matches(&self, a: &Account) -> bool {
        let Some(t) = &a.search else { return false };
        let eq = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().is_none_or(|w| have.as_deref() == Some(fold(w).as_str()))
        };
        self.account_number.as_ref().is_none_or(|n| a.number == n.trim())
            && eq(&self.company_name, &t.holder.company)
            && eq(&self.first_name, &t.holder.first)
            && eq(&self.last_name, &t.holder.last)
            && self.phone_number.as_ref().is_none_or(|p| t.holder.phones.contains(&phone_digits(p)))
            && self.tax_id.as_ref().is_none_or(|x| t.holder.tax.as_deref() == Some(tax_digest(&digits(x)).as_str()))
            && self.producer_code.as_ref().is_none_or(|c| a.producer_codes.contains(c))
            && self.city.as_ref().is_none_or(|c| fold(c) == t.place.city)
            && self.state.as_ref().is_none_or(|s| s.trim().eq_ignore_ascii_case(&t.place.state))
            && self.postal_code.as_ref().is_none_or(|p| {
                let want = postal(p);
                t.place.postal == want || (want.len() == 5 && t.place.postal.starts_with(&format!("{want}-")))
            })
    }
}

/// The free-text search's words (`POST /account/v1/search/accounts-freetext`): an account
/// matches when every word is one of its words (holder names, phones, account number, primary
/// address), whole, after folding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeText(pub Vec<String>);

impl FreeText {
    /// The most words one search takes.
    pub const MAX_WORDS: usize = 8;

    pub fn parse(text: &str) -> FreeText {
        let mut words: Vec<String> = Vec::new();
        for token in text.split_whitespace() {
            let found: Vec<String> =
                if is_phone(token) { vec![phone_digits(token)] } else { split_words(token).collect() };
            for w in found {
                if !words.contains(&w) {
                    words.push(w);
                }
            }
        }
        FreeText(words)
    }

    pub fn keys(&self) -> BTreeSet<String> {
        self.0.iter().map(|w| word_key(w)).collect()
    }

    pub fn matches(&self, a: &Account) -> bool {
        let Some(t) = &a.search else { return false };
        let number = fold(&a.number);
        self.0.iter().all(|w| *w == number || t.holder.words.contains(w) || t.place.words.contains(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_accents_and_spacing() {
        assert_eq!(fold("  Müller\u{a0}  ÉCOLE "), "muller ecole");
        assert_eq!(fold("Ａｃｍｅ"), "acme");
        assert_eq!(split_words("O'Brien, 94105-1234").collect::<Vec<_>>(), ["o", "brien", "94105", "1234"]);
    }

    #[test]
    fn a_phone_is_one_word_of_its_digits_without_the_country_code() {
        assert_eq!(FreeText::parse("Ray 650-555-0100").0, ["ray", "6505550100"]);
        assert_eq!(FreeText::parse("+1(650)555-0100").0, ["6505550100"]);
        assert_eq!(FreeText::parse("94105-1234").0, ["94105", "1234"], "a ZIP+4 is not a phone");
        assert_eq!(phone_digits("+44 20 7946 0958"), "442079460958");
    }

    #[test]
    fn the_taxpayer_digest_is_sha256_of_a_labelled_id() {
        // printf 'taxId\000123456789' | openssl dgst -sha256 (NUL between label and digits)
        assert_eq!(tax_digest("123456789"), "f40663f99dec8a9650990839a3d745fc88af5a5bbabea6d79663aaeee4f1ac3d");
    }
}
