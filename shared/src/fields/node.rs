//! The JSON the reader walks: a parsed [`Value`], or raw text ([`RawValue`]) whose numbers keep
//! their exact text.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
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
