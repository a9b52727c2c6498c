//! A jurisdiction's rules as text for the terminal (`coverdesk tax-rules show`).

use std::fmt::Write as _;

use chrono::NaiveDate;

use super::{Charge, Fee, Period, Rules};

impl Rules {
    /// A jurisdiction's rules as text for the terminal (`coverdesk tax-rules show`).
    pub fn describe(&self, code: &str, date: NaiveDate, history: bool) -> Option<String> {
        let j = self.jurisdictions.get(code)?;
        let mut s = String::new();
        let _ = writeln!(s, "{} {}: {} ({})", j.code, j.name, j.department, j.department_source);
        let _ = writeln!(s, "{}", j.known_span());
        if history {
            let _ = writeln!(s, "every period:");
            for f in &j.fees {
                for p in &f.periods {
                    period_line(&mut s, f, p);
                }
            }
        } else {
            let _ = writeln!(s, "in force for policies effective {date}:");
            for (f, p) in j.in_force(date) {
                period_line(&mut s, f, p);
            }
        }
        if j.commission_rule {
            let _ = writeln!(s, "commission_received is required; with it no agency fee (rule #33)");
        }
        if j.utah_flags {
            let _ = writeln!(s, "exempt, export_list and multi_state are required");
        }
        if j.municipal_fee {
            let _ = writeln!(s, "municipal_fee is taken as sent (per locality)");
        }
        let _ = writeln!(s, "documents:");
        for d in &j.documents {
            let _ = writeln!(
                s,
                "  {:<8} {} ({}{}{}{}{})",
                d.code,
                d.name,
                d.transaction_types.iter().map(|t| t.code()).collect::<Vec<_>>().join(" "),
                if d.rpg_only { "; RPG only" } else { "" },
                if d.waived_for_ecp { "; waived for ECP" } else { "" },
                if d.waived_if_exempt { "; waived if exempt" } else { "" },
                if d.waived_if_export_list { "; waived if on the export list" } else { "" },
            );
        }
        if let Some(n) = &j.notes {
            let _ = writeln!(s, "notes: {n}");
        }
        Some(s)
    }
}

/// One period of one charge: its figure, its limits, its source, and what is unsure of it.
fn period_line(s: &mut String, f: &Fee, p: &Period) {
    let what = match p.charge {
        Charge::Percent { percent, base } => format!("{}% of {}", percent.normalize(), base.name()),
        Charge::Amount(a) => format!("{a:.2} flat"),
    };
    let mut extra = vec![format!("rounded to the {}", p.rounding.name())];
    if !p.transaction_types.is_empty() {
        extra.push(format!("only {}", p.transaction_types.iter().map(|t| t.code()).collect::<Vec<_>>().join(" ")));
    }
    if !p.lines_excluded.is_empty() {
        extra.push(format!(
            "not on lines {}",
            p.lines_excluded.iter().map(u16::to_string).collect::<Vec<_>>().join(" ")
        ));
    }
    if let Some(sh) = &p.line_shares {
        extra.push(format!(
            "on a share by line: {}",
            sh.iter().map(|(l, v)| format!("{l} {}%", v.normalize())).collect::<Vec<_>>().join(", ")
        ));
    }
    if let Some(types) = &p.returned_by {
        extra.push(format!("given back only by {}", types.iter().map(|t| t.code()).collect::<Vec<_>>().join(" ")));
    }
    let to = p.to.map(|t| t.to_string()).unwrap_or_default();
    let _ = writeln!(s, "  {:<18} {:<28} {} .. {:<10}  {}", f.field.name(), f.name, p.from, to, what);
    let _ = writeln!(s, "  {:<18} {}", "", extra.join("; "));
    let _ = writeln!(s, "  {:<18} source: {}", "", p.source);
    if !p.verified {
        let _ = writeln!(s, "  {:<18} UNVERIFIED: {}", "", p.unknown.as_deref().unwrap_or(""));
    }
    if let Some(b) = &p.base_unknown {
        let _ = writeln!(s, "  {:<18} BASE IS OUR CHOICE: {b}", "");
    }
}
