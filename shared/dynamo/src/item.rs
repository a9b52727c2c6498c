//! The item <-> attribute-value mapping: how a store item (and its JSON body) is written to and
//! read back from DynamoDB's native types.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Number, Value};

use coverdesk::store::{Index, IndexKey, Item, StoreError};

pub(crate) type Attrs = HashMap<String, AttributeValue>;

/// JSON to a DynamoDB attribute value. Numbers keep their exact decimal text.
pub fn to_attr(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(a) => AttributeValue::L(a.iter().map(to_attr).collect()),
        Value::Object(o) => AttributeValue::M(o.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect()),
    }
}

/// A DynamoDB attribute value back to JSON; types this crate never writes are an error.
pub fn from_attr(a: &AttributeValue) -> Result<Value, String> {
    Ok(match a {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(n) => match serde_json::from_str::<Number>(n) {
            Ok(n) => Value::Number(n),
            Err(_) => return Err(format!("number {n:?} is not JSON")),
        },
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::L(l) => Value::Array(l.iter().map(from_attr).collect::<Result<_, _>>()?),
        AttributeValue::M(m) => {
            let mut o = Map::with_capacity(m.len());
            for (k, v) in m {
                o.insert(k.clone(), from_attr(v)?);
            }
            Value::Object(o)
        }
        other => return Err(format!("unexpected attribute type {other:?}")),
    })
}

/// The stored form of an item.
pub fn item_to_attrs(item: &Item) -> Attrs {
    let mut m = Attrs::with_capacity(6);
    m.insert("pk".into(), AttributeValue::S(item.pk.clone()));
    m.insert("sk".into(), AttributeValue::S(item.sk.clone()));
    m.insert("v".into(), AttributeValue::N(item.version.to_string()));
    m.insert("body".into(), to_attr(&item.body));
    for which in [Index::First, Index::Second] {
        if let Some(ik) = item.index_key(which) {
            let (pk, sk) = index_attributes(which);
            m.insert(pk.into(), AttributeValue::S(ik.pk.clone()));
            m.insert(sk.into(), AttributeValue::S(ik.sk.clone()));
        }
    }
    if let Some(at) = item.expires_at {
        m.insert(TTL_ATTRIBUTE.into(), AttributeValue::N(at.to_string()));
    }
    m
}

/// An index's name in the table and its key attributes (template.yaml's `gsi1` and `gsi2`).
pub fn index_name(which: Index) -> &'static str {
    match which {
        Index::First => "gsi1",
        Index::Second => "gsi2",
    }
}

/// An index's partition and sort key attributes.
pub fn index_attributes(which: Index) -> (&'static str, &'static str) {
    match which {
        Index::First => ("gsi1pk", "gsi1sk"),
        Index::Second => ("gsi2pk", "gsi2sk"),
    }
}

/// The table's TTL attribute (Unix seconds; template.yaml's `TimeToLiveSpecification`).
pub const TTL_ATTRIBUTE: &str = "ttl";

/// Reads an item back; anything malformed is [`StoreError::Corrupt`], never skipped.
pub fn item_from_attrs(m: &Attrs) -> Result<Item, StoreError> {
    let s = |k: &str| match m.get(k) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    };
    let (pk, sk) = match (s("pk"), s("sk")) {
        (Some(pk), Some(sk)) => (pk, sk),
        _ => return Err(StoreError::Corrupt { pk: "?".into(), sk: "?".into(), reason: "missing keys".into() }),
    };
    let corrupt = |reason: String| StoreError::Corrupt { pk: pk.clone(), sk: sk.clone(), reason };
    let version = match m.get("v") {
        Some(AttributeValue::N(n)) => n.parse::<u64>().map_err(|e| corrupt(format!("version: {e}")))?,
        _ => return Err(corrupt("missing version".into())),
    };
    let body = match m.get("body") {
        Some(b) => from_attr(b).map_err(corrupt)?,
        None => return Err(corrupt("missing body".into())),
    };
    let index_of = |which: Index| {
        let (pk, sk) = index_attributes(which);
        match (s(pk), s(sk)) {
            (Some(pk), Some(sk)) => Some(IndexKey { pk, sk }),
            _ => None,
        }
    };
    let (index, index2) = (index_of(Index::First), index_of(Index::Second));
    let expires_at = match m.get(TTL_ATTRIBUTE) {
        Some(AttributeValue::N(n)) => Some(n.parse::<i64>().map_err(|e| corrupt(format!("ttl: {e}")))?),
        _ => None,
    };
    Ok(Item { pk, sk, version, index, index2, body, expires_at })
}

pub(crate) fn key_attrs(pk: &str, sk: &str) -> Attrs {
    HashMap::from([("pk".to_string(), AttributeValue::S(pk.into())), ("sk".to_string(), AttributeValue::S(sk.into()))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_round_trip_through_attribute_values() {
        let item = Item::new(
            "A#1",
            "B",
            7,
            json!({"s": "x", "n": 12.50, "b": true, "z": null, "l": [1, "2"], "m": {"k": "v"}}),
        )
        .with_index("I", "0001")
        .with_index2("M", "2026-12");
        let back = item_from_attrs(&item_to_attrs(&item)).unwrap();
        assert_eq!(back, item);
    }

    #[test]
    fn an_item_without_a_version_is_corrupt_not_skipped() {
        let mut m = item_to_attrs(&Item::new("p", "s", 1, json!({})));
        m.remove("v");
        assert!(matches!(item_from_attrs(&m), Err(StoreError::Corrupt { .. })));
    }
}
