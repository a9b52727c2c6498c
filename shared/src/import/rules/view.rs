//! The rules as the tax-rules endpoint shows them (`GET /import/v1/tax-rules/{state}`): the
//! charges in force on a date and, on request, every period of every charge.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::{Charge, Field, Jurisdiction, Period};

impl Period {
    pub(crate) fn view(&self, field: Field, name: &str) -> Value {
        let (rate, flat, base) = match self.charge {
            Charge::Percent { percent, base } => {
                (Some((percent / Decimal::ONE_HUNDRED).normalize().to_string()), None, base.name())
            }
            Charge::Amount(a) => (None, Some(format!("{:.2}", a)), "flat"),
        };
        let mut v = json!({
            "field": field.name(),
            "name": name,
            "rate": rate,
            "flat_amount": flat,
            "base": base,
            "rounding": self.rounding.name(),
            "effective_from": self.from,
            "effective_to": self.to,
            "transaction_types": self.transaction_types.iter().map(|t| t.code()).collect::<Vec<_>>(),
            "lines_excluded": self.lines_excluded.iter().map(u16::to_string).collect::<Vec<_>>(),
            "source": self.source,
            "verified": self.verified,
        });
        if let Some(shares) = &self.line_shares {
            v["line_shares"] = shares
                .iter()
                .map(|(l, p)| (l.to_string(), json!((p / Decimal::ONE_HUNDRED).normalize().to_string())))
                .collect();
        }
        if let Some(types) = &self.returned_by {
            v["returned_by"] = json!(types.iter().map(|t| t.code()).collect::<Vec<_>>());
        }
        if let Some(u) = &self.unknown {
            v["unknown"] = json!(u);
        }
        if let Some(b) = &self.base_unknown {
            v["base_unknown"] = json!(b);
        }
        v
    }
}

impl Jurisdiction {
    /// The public view for the tax-rules endpoint: the rules in force on `date`, and with
    /// `history` every period of every charge.
    pub fn view(&self, date: NaiveDate, history: bool) -> Value {
        let fees: Vec<Value> = self.in_force(date).map(|(f, p)| p.view(f.field, &f.name)).collect();
        let docs: Vec<Value> = self
            .documents
            .iter()
            .map(|doc| {
                let waived = |w: bool| if w { "waived" } else { "required" };
                json!({
                    "code": doc.code,
                    "name": doc.name,
                    "upload_required": true,
                    "transaction_types": doc.transaction_types.iter().map(|t| t.code()).collect::<Vec<_>>(),
                    "rpg": doc.rpg_only,
                    "ecp": waived(doc.waived_for_ecp),
                    "exempt": waived(doc.waived_if_exempt),
                    "export_list": waived(doc.waived_if_export_list),
                    "source": doc.source,
                    "verified": doc.verified,
                })
            })
            .collect();
        let mut v = json!({
            "state": self.code,
            "name": self.name,
            "department": self.department,
            "department_source": self.department_source,
            "as_of": date,
            "rules_known_from": self.known_from(),
            "rules_known_to": self.known_to(),
            "fees": fees,
            "ask_commission_received": self.commission_rule,
            "requires_exempt_export_list_multi_state": self.utah_flags,
            "municipal_fee_taken_as_sent": self.municipal_fee,
            "state_documents": docs,
        });
        if let Some(n) = &self.notes {
            v["notes"] = json!(n);
        }
        if !self.covers(date) {
            v["warning"] = json!(format!("no tax rule is in force on {date}: {} (status 1005)", self.known_span()));
        }
        if history {
            v["history"] = self
                .fees
                .iter()
                .map(|f| json!({"field": f.field.name(), "name": f.name, "periods": f.periods.iter().map(|p| p.view(f.field, &f.name)).collect::<Vec<_>>()}))
                .collect();
        }
        v
    }
}
