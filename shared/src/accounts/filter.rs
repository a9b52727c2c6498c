//! `filter=field:op:value` of a collection GET (the original's filter syntax): read once from the
//! query, then matched against each account.

use super::error::AccountError;
use super::model::{format_id, parse_id, Account};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    In,
    Ni,
    Sw,
    Cn,
}

/// One `filter=field:op:value` of a collection GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub field: String,
    pub op: Op,
    pub values: Vec<String>,
}

/// The fields an account list filters and sorts on.
pub const LIST_FIELDS: &[&str] = &[
    "id",
    "accountNumber",
    "accountStatus",
    "organizationType",
    "preferredCoverageCurrency",
    "preferredSettlementCurrency",
    "createdDate",
    "updatedDate",
];

impl Filter {
    pub fn parse(s: &str) -> Result<Filter, AccountError> {
        let bad = |m: String| AccountError::bad("query.filter", m);
        let mut parts = s.splitn(3, ':');
        let (field, op, value) = match (parts.next(), parts.next(), parts.next()) {
            (Some(f), Some(o), Some(v)) => (f, o, v),
            _ => return Err(bad("must be of the form field:op:value".into())),
        };
        if !LIST_FIELDS.contains(&field) {
            return Err(bad(format!("cannot filter on that field; filterable fields: {}", LIST_FIELDS.join(", "))));
        }
        let op = match op {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "lt" => Op::Lt,
            "gt" => Op::Gt,
            "le" => Op::Le,
            "ge" => Op::Ge,
            "in" => Op::In,
            "ni" => Op::Ni,
            "sw" => Op::Sw,
            "cn" => Op::Cn,
            _ => return Err(bad("the operator must be one of eq, ne, lt, gt, le, ge, in, ni, sw, cn".into())),
        };
        let values: Vec<String> = if matches!(op, Op::In | Op::Ni) {
            value.split(',').map(str::to_string).collect()
        } else {
            vec![value.to_string()]
        };
        if values.iter().any(String::is_empty) || values.len() > 100 {
            return Err(bad("the value must not be empty".into()));
        }
        Ok(Filter { field: field.to_string(), op, values })
    }

    fn value_of(&self, a: &Account) -> String {
        value_of(&self.field, a)
    }

    pub fn matches(&self, a: &Account) -> bool {
        let have = self.value_of(a);
        // Ids order by their number, not as text.
        let cmp = |want: &str| -> std::cmp::Ordering {
            if self.field == "id" {
                match (parse_id(&have), parse_id(want)) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    _ => have.as_str().cmp(want),
                }
            } else {
                have.as_str().cmp(want)
            }
        };
        let v = self.values[0].as_str();
        match self.op {
            Op::Eq => have == v,
            Op::Ne => have != v,
            Op::Lt => cmp(v).is_lt(),
            Op::Gt => cmp(v).is_gt(),
            Op::Le => cmp(v).is_le(),
            Op::Ge => cmp(v).is_ge(),
            Op::In => self.values.contains(&have),
            Op::Ni => !self.values.contains(&have),
            Op::Sw => have.starts_with(v),
            Op::Cn => have.to_lowercase().contains(&v.to_lowercase()),
        }
    }
}

/// A field's value as filters and sorts compare it (text; ids by their number, see [`order`]).
fn value_of(field: &str, a: &Account) -> String {
    match field {
        "id" => format_id(a.id),
        "accountNumber" => a.number.clone(),
        "accountStatus" => a.status.code().to_string(),
        "organizationType" => a.organization_type.clone().unwrap_or_default(),
        "preferredCoverageCurrency" => a.coverage_currency.to_string(),
        "preferredSettlementCurrency" => a.settlement_currency.to_string(),
        "createdDate" => a.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "updatedDate" => a.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        _ => String::new(),
    }
}

/// `sort=a,-b` of the account list (the original's syntax): fields in order of precedence, `-`
/// for descending; ties end in creation order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sort(pub Vec<(String, bool)>);

impl Sort {
    /// `sort` of the account list, on [`LIST_FIELDS`].
    pub fn parse(s: &str) -> Result<Sort, AccountError> {
        Sort::parse_for(s, LIST_FIELDS)
    }

    /// `sort` on the fields a list allows (another is 400 naming them).
    pub fn parse_for(s: &str, allowed: &[&str]) -> Result<Sort, AccountError> {
        let mut keys = Vec::new();
        for part in s.split(',').map(str::trim) {
            let (field, descending) = match part.strip_prefix('-') {
                Some(f) => (f, true),
                None => (part, false),
            };
            if !allowed.contains(&field) {
                return Err(AccountError::bad(
                    "query.sort",
                    format!("cannot sort on that field; sortable fields: {}", allowed.join(", ")),
                ));
            }
            // A field named again cannot change the order: kept once.
            if !keys.iter().any(|(f, _): &(String, bool)| f == field) {
                keys.push((field.to_string(), descending));
            }
        }
        Ok(Sort(keys))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An account's sort key, made once per account: each field's value (ids by their number),
    /// then the id, so ties end in creation order.
    pub fn key(&self, a: &Account) -> SortKey {
        let parts = self
            .0
            .iter()
            .map(|(field, descending)| {
                let v = match field.as_str() {
                    "id" => format!("{:020}", a.id),
                    f => value_of(f, a),
                };
                (v, *descending)
            })
            .collect();
        SortKey(parts, a.id)
    }
}

/// See [`Sort::key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey(Vec<(String, bool)>, u64);

impl Ord for SortKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        for ((a, descending), (b, _)) in self.0.iter().zip(&other.0) {
            let o = if *descending { b.cmp(a) } else { a.cmp(b) };
            if o.is_ne() {
                return o;
            }
        }
        self.1.cmp(&other.1)
    }
}

impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
