//! The original's `fields` query parameter: which of a resource's fields an answer carries.
//! `*all`, `*default`, `*detail` and `*summary` name every field here (we answer every field by
//! default, on lists and gets alike); a list of names (`fields=accountNumber,accountStatus`) keeps
//! those attributes and `id`; the element's `checksum` and `links` stay with a `*` set or when
//! named as `$checksum` and `$links`. A name the resource does not have is 400 naming it. Not yet:
//! the original's `a.b` (a field of a field) and `<include>:` selections, each 400 saying so.

use serde_json::{Map, Value};

use crate::accounts::filter::Sort;
use crate::accounts::{parse_id, AccountError};

/// What an answer keeps of each element.
#[derive(Debug, Clone, Default)]
pub(super) struct Selection {
    /// `None`: every attribute.
    names: Option<Vec<String>>,
    checksum: bool,
    links: bool,
}

const SETS: &[&str] = &["*all", "*default", "*detail", "*summary"];

impl Selection {
    /// Reads a `fields` value against the attributes the resource has.
    pub(super) fn parse(value: Option<&str>, known: &[&str]) -> Result<Selection, AccountError> {
        let Some(value) = value else { return Ok(Selection::every()) };
        let (mut every, mut names, mut checksum, mut links) = (false, Vec::new(), false, false);
        for token in value.split(',').map(str::trim) {
            match token {
                "" => return Err(AccountError::bad("query.fields", "names an empty field")),
                t if SETS.contains(&t) => every = true,
                "$checksum" => checksum = true,
                "$links" => links = true,
                t if t.contains(':') => {
                    return Err(AccountError::bad(
                        "query.fields",
                        "selects fields of an included resource: not supported",
                    ))
                }
                t if t.contains('.') => {
                    return Err(AccountError::bad(
                        "query.fields",
                        "selects a field of a field: not supported; name the whole field",
                    ))
                }
                t => {
                    if !known.contains(&t) {
                        // The name is not echoed: a query's values are the client's own words.
                        return Err(AccountError::bad(
                            "query.fields",
                            format!("names a field this resource does not have; it has: {}", known.join(", ")),
                        ));
                    }
                    names.push(t.to_string());
                }
            }
        }
        Ok(match every {
            true => Selection::every(),
            false => Selection { names: Some(names), checksum, links },
        })
    }

    fn every() -> Selection {
        Selection { names: None, checksum: true, links: true }
    }

    /// Whether every member is shown (no `fields`).
    pub(super) fn is_every(&self) -> bool {
        self.names.is_none() && self.checksum && self.links
    }

    /// The element `{attributes, checksum, links}` as selected.
    pub(super) fn apply(&self, mut element: Value) -> Value {
        let Some(names) = &self.names else { return element };
        let Some(e) = element.as_object_mut() else { return element };
        if !self.checksum {
            e.remove("checksum");
        }
        if !self.links {
            e.remove("links");
        }
        if let Some(Value::Object(attrs)) = e.get_mut("attributes") {
            let mut kept = Map::new();
            if let Some(id) = attrs.get("id") {
                kept.insert("id".into(), id.clone());
            }
            for name in names {
                if let Some(v) = attrs.get(name) {
                    kept.insert(name.clone(), v.clone());
                }
            }
            *attrs = kept;
        }
        element
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn element() -> Value {
        json!({"attributes": {"id": "pc:1", "accountNumber": "A1", "accountHolder": {"displayName": "Ray", "id": "pc:2"},
               "producerCodes": [{"id": "P-1", "displayName": "P-1"}, {"id": "P-2", "displayName": "P-2"}]},
               "checksum": "3", "links": {"self": {"href": "/x", "methods": ["get"]}}})
    }
    const KNOWN: &[&str] = &["id", "accountNumber", "accountHolder", "producerCodes"];

    #[test]
    fn sets_keep_everything_and_names_keep_what_they_name() {
        for all in [None, Some("*all"), Some("*default"), Some("*summary,accountNumber"), Some("*detail")] {
            assert_eq!(Selection::parse(all, KNOWN).unwrap().apply(element()), element(), "{all:?}");
        }
        let s = Selection::parse(Some("accountNumber, accountHolder,$checksum"), KNOWN);
        assert_eq!(
            s.unwrap().apply(element()),
            json!({"attributes": {"id": "pc:1", "accountNumber": "A1", "accountHolder": {"displayName": "Ray", "id": "pc:2"}},
                   "checksum": "3"})
        );
        let e = Selection::parse(Some("producerCodes,$links"), KNOWN).unwrap().apply(element());
        assert_eq!(e["attributes"].as_object().unwrap().len(), 2);
        assert!(e.get("checksum").is_none() && e["links"].is_object());
    }

    #[test]
    fn unknown_or_empty_names_are_refused_by_name() {
        for bad in ["colour", "accountNumber,,id", "contacts:firstName", "accountHolder.displayName", ""] {
            let e = Selection::parse(Some(bad), KNOWN).unwrap_err();
            assert!(
                matches!(&e, AccountError::BadInput { details, .. } if details[0].field.as_deref() == Some("query.fields")),
                "{bad}"
            );
        }
    }
}

/// Orders rendered elements by `sort` (a child list's `sort`): each field's value in the
/// element's attributes -- text as it is (dates are ISO text, so in time order), a typekey by its
/// code, ids by their number, flags false first; an element without the value sorts after every
/// one with it (before, descending). Ties keep id order. Stable.
pub(super) fn sort_elements(sort: &Sort, elements: &mut [Value]) {
    if sort.is_empty() {
        return;
    }
    elements.sort_by(|a, b| {
        for (field, descending) in &sort.0 {
            let (x, y) = (sort_value(a, field), sort_value(b, field));
            let o = if *descending { y.cmp(&x) } else { x.cmp(&y) };
            if o.is_ne() {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
}

/// A field's value as a sort compares it: `None` (absent) after every value.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SortValue {
    Flag(bool),
    Number(u64),
    Text(String),
    Absent,
}

fn sort_value(element: &Value, field: &str) -> SortValue {
    let v = &element["attributes"][field];
    match v {
        Value::Bool(b) => SortValue::Flag(*b),
        Value::String(s) if field == "id" => parse_id(s).map_or_else(|| SortValue::Text(s.clone()), SortValue::Number),
        Value::String(s) => SortValue::Text(s.clone()),
        Value::Number(n) => n.as_u64().map_or(SortValue::Absent, SortValue::Number),
        Value::Object(o) => match o.get("code") {
            Some(Value::String(code)) => SortValue::Text(code.clone()),
            _ => SortValue::Absent,
        },
        _ => SortValue::Absent,
    }
}
