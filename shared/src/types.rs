//! Values every area reads the same way, parsed once at the boundary: a team id, an email
//! address and an online-access username. Each `parse` is the one rule for its value; the areas call it rather
//! than checking by hand.

use std::fmt;

/// A team's opaque identifier, as authentication established it. Built only from what the store
/// says a team is (or a test's fixture); its text is read with [`TeamId::as_str`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

#[cfg(test)]
mod tests {
    use super::*;

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
