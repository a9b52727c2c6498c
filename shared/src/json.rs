//! The JSON every API accepts: RFC 8259 text whose objects name each member once and whose strings
//! are Unicode. serde_json alone lets the last of two equal keys win silently (RFC 8259 leaves
//! duplicate names to the reader; I-JSON, RFC 7493 §2.3, forbids them) and, reading raw text,
//! passes a lone surrogate escape (`"\ud800"`, not a character; RFC 7493 §2.1). [`check`] refuses
//! both, so a request body means one thing, on every API.

use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Checks that `bytes` are one JSON value whose objects have no duplicate member name and whose
/// strings and names hold no lone surrogate. The message names a line and column, never the text.
pub fn check(bytes: &[u8]) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Strict.deserialize(&mut de).and_then(|()| de.end()).map_err(|e| e.to_string())
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
    use super::{check, parse};

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
