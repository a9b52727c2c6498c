//! Values every area reads the same way, parsed once at the boundary: a team id, state and
//! province codes, a postal code, a VIN, an email address and an online-access username. Each `parse` is the one rule for its value; the areas call it rather
//! than checking by hand.

use std::fmt;

/// A team's opaque identifier, as authentication established it. Built only from what the store
/// says a team is (or a test's fixture); its text is read with [`TeamId::as_str`]. Stored and
/// signed as its bare text (`"local"`), as before it was a type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TeamId(String);

impl TeamId {
    pub fn new(id: impl Into<String>) -> TeamId {
        TeamId(id.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TeamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// US state and territory codes (USPS), accepted wherever an address or licence names a state.
pub const US_STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA",
    "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR",
    "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "PR", "GU", "VI", "AS", "MP",
];
/// Canadian province and territory codes.
pub const CA_PROVINCES: &[&str] = &["AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"];

/// A state, territory or province code: two ASCII letters, upper-cased. Which codes a field
/// accepts is the field's rule ([`StateCode::is_us`], [`StateCode::is_ca`]; import takes any two
/// letters and answers 1004 for a code that is no jurisdiction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StateCode([u8; 2]);

impl StateCode {
    pub fn parse(s: &str) -> Option<StateCode> {
        match s.trim().as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(StateCode([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }
    /// A code written in the source (`StateCode::from_ascii(*b"TX")`): two upper-case letters.
    pub const fn from_ascii(code: [u8; 2]) -> StateCode {
        assert!(code[0].is_ascii_uppercase() && code[1].is_ascii_uppercase(), "two upper-case letters");
        StateCode(code)
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
    /// One of [`US_STATES`].
    pub fn is_us(&self) -> bool {
        US_STATES.contains(&self.as_str())
    }
    /// One of [`CA_PROVINCES`].
    pub fn is_ca(&self) -> bool {
        CA_PROVINCES.contains(&self.as_str())
    }
}

impl fmt::Display for StateCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stored and shown as its two letters (`"CA"`), as before it was a type.
impl serde::Serialize for StateCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for StateCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        StateCode::parse(&text).ok_or_else(|| serde::de::Error::custom("a state code is two letters"))
    }
}

/// The ISO 4217 currencies an account may prefer, lower case as seed 001 writes them.
pub const CURRENCIES: &[&str] = &[
    "usd", "cad", "eur", "gbp", "aud", "nzd", "jpy", "chf", "mxn", "brl", "cny", "hkd", "sgd", "inr", "krw", "sek",
    "nok", "dkk", "pln", "zar",
];

/// One of [`CURRENCIES`], exactly as listed (seed 001 sends `usd`; `USD` is not its spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CurrencyCode(&'static str);

impl CurrencyCode {
    pub const USD: CurrencyCode = CurrencyCode("usd");
    pub fn parse(s: &str) -> Option<CurrencyCode> {
        CURRENCIES.iter().find(|c| **c == s.trim()).map(|c| CurrencyCode(c))
    }
    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl serde::Serialize for CurrencyCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for CurrencyCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        CurrencyCode::parse(&s).ok_or_else(|| serde::de::Error::custom("not a currency of ours"))
    }
}

impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A postal code for its country: US ZIP `12345` or `12345-6789`; Canadian `A1A 1A1` (kept
/// upper-case as given, with or without the space).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostalCode(String);

impl PostalCode {
    /// `country` is `US` or `CA`; any other has no rule here and is refused.
    pub fn parse(s: &str, country: &str) -> Option<PostalCode> {
        let ok = match country {
            "CA" => {
                let b: Vec<char> = s.replace(' ', "").to_uppercase().chars().collect();
                b.len() == 6
                    && b.iter()
                        .enumerate()
                        .all(|(i, c)| if i % 2 == 0 { c.is_ascii_alphabetic() } else { c.is_ascii_digit() })
            }
            "US" => {
                let b = s.as_bytes();
                (b.len() == 5 && b.iter().all(u8::is_ascii_digit))
                    || (b.len() == 10 && b[5] == b'-' && b[..5].iter().chain(&b[6..]).all(u8::is_ascii_digit))
            }
            _ => false,
        };
        ok.then(|| PostalCode(s.to_uppercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A vehicle identification number: 17 characters (no I, O or Q) whose ninth is the check digit
/// of ISO 3779 / 49 CFR 565; read upper-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vin(String);

impl Vin {
    pub fn parse(s: &str) -> Option<Vin> {
        let upper = s.to_ascii_uppercase();

        let b = upper.as_bytes();
        if b.len() != 17 {
            return None;
        }
        const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
        let value = |c: u8| -> Option<u32> {
            Some(match c {
                b'0'..=b'9' => (c - b'0') as u32,
                b'A'..=b'H' => (c - b'A' + 1) as u32,
                b'J'..=b'N' => (c - b'J' + 1) as u32,
                b'P' => 7,
                b'R' => 9,
                b'S'..=b'Z' => (c - b'S' + 2) as u32,
                _ => return None,
            })
        };
        let mut sum = 0;
        for (i, &c) in b.iter().enumerate() {
            match value(c) {
                Some(v) => sum += v * WEIGHTS[i],
                None => return None,
            }
        }
        let check = match sum % 11 {
            10 => b'X',
            d => b'0' + d as u8,
        };
        (b[8] == check).then(|| Vin(upper.clone()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address: `local@domain`, one `@`, a dot-atom local part (at most 64 characters, no
/// leading, trailing or doubled dot) and a domain of at least two dot-separated labels (letters,
/// digits and inner hyphens, 1-63 characters each), at most 254 characters in all. Quoted local
/// parts and address literals (`user@[10.0.0.1]`) are refused: no insurer's system takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Option<Email> {
        if s.len() > 254 || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return None;
        }
        let (local, domain) = s.split_once('@')?;
        let atom = |c: char| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
        let local_ok = !local.is_empty()
            && local.chars().count() <= 64
            && local.split('.').all(|part| !part.is_empty() && part.chars().all(atom));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.chars().count() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        (local_ok && domain_ok).then(|| Email(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An online-access username, compared in one canonical form: NFKC, then full Unicode case
/// folding, then NFKC again (Unicode's NFKC_Casefold in effect), so `Ana`, `ANA` and the
/// decomposed and composed spellings of `Ánä` are one name. Control, format (zero-width, bidi)
/// and whitespace other than the plain space are refused; 1 to 200 characters once folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsernameError {
    Empty,
    TooLong,
    /// A control, zero-width, bidirectional or other invisible character.
    Invisible,
}

impl fmt::Display for UsernameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UsernameError::Empty => "is required",
            UsernameError::TooLong => "may hold at most 200 characters",
            UsernameError::Invisible => "may not hold control, zero-width or other invisible characters",
        })
    }
}

/// Characters a name may not hide: controls, format characters (Unicode category Cf: zero-width
/// joiners and spaces, bidi marks, the BOM, soft hyphen, ...), and every whitespace but U+0020.
fn invisible(c: char) -> bool {
    c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(c as u32,
            0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
            | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
            | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

impl Username {
    pub fn parse(s: &str) -> Result<Username, UsernameError> {
        if s.chars().any(invisible) {
            return Err(UsernameError::Invisible);
        }
        let nfkc = icu_normalizer::ComposingNormalizerBorrowed::new_nfkc();
        let folded = icu_casemap::CaseMapperBorrowed::new().fold_string(&nfkc.normalize(s.trim())).into_owned();
        let canonical = nfkc.normalize(&folded).into_owned();
        if canonical.chars().any(invisible) {
            return Err(UsernameError::Invisible);
        }
        match canonical.chars().count() {
            0 => Err(UsernameError::Empty),
            n if n > 200 => Err(UsernameError::TooLong),
            _ => Ok(Username(canonical)),
        }
    }
    /// The canonical form: what is compared and stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A status or kind stored and shown as a fixed code: an enum with `code()`, `parse()` and `ALL`,
/// (de)serialized as its code, so no status is ever a string compared in several files.
macro_rules! str_enum {
    ($name:ident { $($(#[$m:meta])* $v:ident = $code:literal),* $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[allow(clippy::enum_variant_names)]
        pub enum $name { $($(#[$m])* #[serde(rename = $code)] $v),* }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),*];
            pub fn code(self) -> &'static str {
                match self { $($name::$v => $code),* }
            }
            pub fn parse(s: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.code() == s)
            }
        }
    };
}
pub(crate) use str_enum;

/// The longest id a client may name (in bytes): with its key prefix it stays under DynamoDB's
/// key limits, which the embedded store enforces too.
pub const MAX_ID_BYTES: usize = 1024;

/// Whether a client-given id can name anything: non-empty, at most [`MAX_ID_BYTES`], no control
/// character (the store refuses NUL in keys). An id that cannot is answered as not found (in a
/// path) or a bad parameter (in a query), before any store is asked.
pub fn usable_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_BYTES && !id.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_team_id_is_stored_as_its_bare_text() {
        let id = TeamId::new("local");
        assert_eq!(serde_json::to_value(&id).unwrap(), serde_json::json!("local"));
        assert_eq!(serde_json::from_value::<TeamId>(serde_json::json!("local")).unwrap(), id);
        assert_eq!(id.to_string(), "local");
    }

    #[test]
    fn postal_codes_and_vins() {
        for (code, country) in [("75201", "US"), ("75201-1234", "US"), ("k1a 0b1", "CA"), ("K1A0B1", "CA")] {
            assert!(PostalCode::parse(code, country).is_some(), "{code}");
        }
        for (code, country) in
            [("7520112345", "US"), ("7520-11234", "US"), ("752011", "US"), ("K1A 0B", "CA"), ("75201", "MX")]
        {
            assert!(PostalCode::parse(code, country).is_none(), "{code}");
        }
        assert_eq!(PostalCode::parse("k1a 0b1", "CA").unwrap().as_str(), "K1A 0B1");
        assert_eq!(Vin::parse("1m8gdm9axkp042788").unwrap().as_str(), "1M8GDM9AXKP042788");
        for bad in ["1M8GDM9A1KP042788", "1M8GDM9AXKP04278", "IM8GDM9AXKP042788"] {
            assert!(Vin::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        for ok in
            ["a@b.co", "ana.lopez+claims@example.com", "o'neil@sub.example.org", "josé@correo.es", "x@xn--bcher-kva.de"]
        {
            assert!(Email::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "a@@b.com",
            "a@b..com",
            "a@b.com.",
            "a@.b.com",
            "@b.com",
            "a@b",
            "a.@b.com",
            ".a@b.com",
            "a..b@c.com",
            "a b@c.com",
            "a@b c.com",
            "a@-b.com",
            "a@b-.com",
            "a@[10.0.0.1]",
            "\"a\"@b.com",
            "a@b.com\u{0}",
            "not-an-email",
        ] {
            assert!(Email::parse(bad).is_none(), "{bad}");
        }
        assert!(Email::parse(&format!("{}@b.com", "a".repeat(65))).is_none());
    }

    #[test]
    fn usernames_compare_in_one_canonical_form() {
        let nfc = Username::parse("Jos\u{e9}.Ana").unwrap();
        let nfd = Username::parse("JOSE\u{301}.ana").unwrap();
        assert_eq!(nfc, nfd);
        assert_eq!(nfc.as_str(), "jos\u{e9}.ana");
        // Compatibility forms and case folding beyond lower-casing.
        assert_eq!(Username::parse("ＡＮＡ").unwrap(), Username::parse("ana").unwrap());
        assert_eq!(Username::parse("Stra\u{df}e").unwrap(), Username::parse("STRASSE").unwrap());
        for bad in ["ana\u{200b}", "an\u{200d}a", "\u{202e}ana", "ana\u{0}", "ana\tb", "\u{feff}ana"] {
            assert_eq!(Username::parse(bad), Err(UsernameError::Invisible), "{bad:?}");
        }
        assert_eq!(Username::parse("   "), Err(UsernameError::Empty));
        assert_eq!(Username::parse(&"a".repeat(201)), Err(UsernameError::TooLong));
    }
}
