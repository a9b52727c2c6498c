//! State tax rules for surplus-lines filings: effective-dated rates (chosen by the policy's
//! effective date, for endorsements and cancellations too) and the documents a transaction must
//! carry. Sources: the state stamping offices' published rates as gathered in
//! `shared/reference/transaction-import-api.md`.

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};

use super::transaction::{Transaction, TxnType};

/// What a rate applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// The premium alone.
    Premium,
    /// Premium plus the agency and inspection fees.
    PremiumAndFees,
    /// A flat amount per transaction (the rate is the amount).
    Flat,
    /// Premium times the fire-marshal share of the line of business.
    FireMarshalShare,
}

/// Which transaction field a fee is reported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    SlTax,
    StampingFee,
    SlServiceCharge,
    FmTax,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::SlTax => "sl_tax",
            Field::StampingFee => "stamping_fee",
            Field::SlServiceCharge => "sl_service_charge",
            Field::FmTax => "fm_tax",
        }
    }
    /// The key and label of a mismatch warning, in the original's style.
    pub fn warning(self) -> (&'static str, &'static str) {
        match self {
            Field::SlTax => ("slTax", "SL tax"),
            Field::StampingFee => ("stampingFee", "Stamping fee"),
            Field::SlServiceCharge => ("slServiceCharge", "SL service charge"),
            Field::FmTax => ("fmTax", "FM tax"),
        }
    }
}

/// One fee of a state, in force from `from` (inclusive) to `to` (exclusive).
#[derive(Debug, Clone, Copy)]
pub struct Fee {
    pub field: Field,
    pub name: &'static str,
    /// A fraction (0.03 = 3%), or the amount for [`Base::Flat`].
    pub rate: Decimal,
    pub base: Base,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
    /// Rounded to whole dollars instead of cents.
    pub whole_dollars: bool,
    /// Only on these transaction types (empty: all).
    pub only: &'static [TxnType],
}

/// A document a transaction must carry.
#[derive(Debug, Clone, Copy)]
pub struct StateDocument {
    pub code: &'static str,
    pub name: &'static str,
    pub transaction_types: &'static [TxnType],
    /// Required only when `rpg` is 1.
    pub rpg_only: bool,
    /// Not required when the insured is an exempt commercial purchaser.
    pub waived_for_ecp: bool,
    /// Not required when `exempt` is 1.
    pub waived_if_exempt: bool,
    /// Not required when `export_list` is 1.
    pub waived_if_export_list: bool,
}

pub struct StateRules {
    pub state: &'static str,
    pub department: &'static str,
    pub fees: Vec<Fee>,
    pub documents: Vec<StateDocument>,
    /// `commission_received` must be given, and with it no agency fee (NH rule #33).
    pub commission_rule: bool,
    /// `exempt`, `export_list` and `multi_state` must be given (Utah).
    pub utah_flags: bool,
    /// The municipal fee is per locality and is taken as sent (Kentucky).
    pub municipal_fee: bool,
}

const fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, day) {
        Some(x) => x,
        None => panic!("bad date"),
    }
}

/// `n / 10^scale`.
const fn pct(n: i64, scale: u32) -> Decimal {
    Decimal::from_parts(n as u32, 0, 0, false, scale)
}

use TxnType::*;
const NEW_AND_RENEWAL: &[TxnType] = &[PN, PR];
const ENDORSEMENTS: &[TxnType] = &[APE, RPE, AE];

fn fee(field: Field, name: &'static str, rate: Decimal, base: Base, from: NaiveDate, to: Option<NaiveDate>) -> Fee {
    Fee { field, name, rate, base, from, to, whole_dollars: false, only: &[] }
}

fn common_documents(extra: &[StateDocument]) -> Vec<StateDocument> {
    let doc = |code, name, types| StateDocument {
        code,
        name,
        transaction_types: types,
        rpg_only: false,
        waived_for_ecp: false,
        waived_if_exempt: false,
        waived_if_export_list: false,
    };
    let mut v = vec![
        doc("POLIC", "Policy declarations page", NEW_AND_RENEWAL),
        doc("ENDT", "Endorsement", ENDORSEMENTS),
        doc("CANC", "Cancellation notice", &[FC]),
        StateDocument { rpg_only: true, ..doc("RPGREG", "Risk purchasing group registration", NEW_AND_RENEWAL) },
    ];
    v.extend_from_slice(extra);
    v
}

/// The rules of every state with a department here; any other state is status 1004.
pub fn state_rules(state: &str) -> Option<StateRules> {
    use Base::*;
    use Field::*;
    let sl = "Surplus lines tax";
    let diligent = |code: &'static str, name: &'static str| StateDocument {
        code,
        name,
        transaction_types: NEW_AND_RENEWAL,
        rpg_only: false,
        waived_for_ecp: true,
        waived_if_exempt: false,
        waived_if_export_list: true,
    };
    let plain = |state, department, fees, documents| StateRules {
        state,
        department,
        fees,
        documents,
        commission_rule: false,
        utah_flags: false,
        municipal_fee: false,
    };
    Some(match state {
        "CA" => plain(
            "CA",
            "Surplus Line Association of California",
            vec![
                fee(SlTax, sl, pct(3, 2), Premium, d(2012, 1, 1), None),
                fee(StampingFee, "Stamping fee", pct(20, 4), Premium, d(2012, 1, 1), Some(d(2020, 1, 1))),
                fee(StampingFee, "Stamping fee", pct(25, 4), Premium, d(2020, 1, 1), Some(d(2023, 1, 1))),
                fee(StampingFee, "Stamping fee", pct(18, 4), Premium, d(2023, 1, 1), None),
            ],
            common_documents(&[diligent("D1DISC", "Diligent search report (form D-1) and disclosure (D-2)")]),
        ),
        "TX" => plain(
            "TX",
            "Surplus Lines Stamping Office of Texas",
            vec![
                fee(SlTax, sl, pct(485, 4), Premium, d(2016, 1, 1), None),
                fee(StampingFee, "Stamping fee", pct(15, 4), Premium, d(2016, 1, 1), Some(d(2021, 1, 1))),
                fee(StampingFee, "Stamping fee", pct(75, 5), Premium, d(2021, 1, 1), Some(d(2024, 1, 1))),
                fee(StampingFee, "Stamping fee", pct(4, 4), Premium, d(2024, 1, 1), None),
            ],
            common_documents(&[]),
        ),
        "FL" => plain(
            "FL",
            "Florida Surplus Lines Service Office",
            vec![
                fee(SlTax, "Florida tax", pct(5, 2), PremiumAndFees, d(2012, 1, 1), Some(d(2020, 7, 1))),
                fee(SlTax, "Florida tax", pct(494, 4), PremiumAndFees, d(2020, 7, 1), None),
                fee(StampingFee, "FSLSO service fee", pct(6, 4), PremiumAndFees, d(2012, 1, 1), None),
            ],
            common_documents(&[diligent("DILEF", "Diligent effort form")]),
        ),
        "NY" => plain(
            "NY",
            "Excess Line Association of New York",
            vec![
                fee(SlTax, sl, pct(36, 3), Premium, d(2012, 1, 1), None),
                fee(StampingFee, "Stamping fee", pct(17, 4), Premium, d(2012, 1, 1), Some(d(2023, 1, 1))),
                fee(StampingFee, "Stamping fee", pct(15, 4), Premium, d(2023, 1, 1), None),
            ],
            common_documents(&[diligent("SSW", "Excess line affidavit (declinations)")]),
        ),
        "IL" => plain(
            "IL",
            "Surplus Line Association of Illinois",
            vec![
                Fee { whole_dollars: true, ..fee(SlTax, sl, pct(35, 3), Premium, d(2012, 1, 1), None) },
                fee(StampingFee, "Stamping fee", pct(4, 4), Premium, d(2023, 1, 1), None),
                fee(FmTax, "Fire marshal tax", pct(1, 2), FireMarshalShare, d(2012, 1, 1), None),
            ],
            common_documents(&[]),
        ),
        "KY" => StateRules {
            municipal_fee: true,
            ..plain(
                "KY",
                "Kentucky Department of Insurance",
                // 3% tax and 1.8% surcharge, both on premium and fees, reported together.
                vec![fee(
                    SlTax,
                    "Surplus lines tax (3%) and surcharge (1.8%)",
                    pct(48, 3),
                    PremiumAndFees,
                    d(2012, 1, 1),
                    None,
                )],
                common_documents(&[]),
            )
        },
        "OR" => plain(
            "OR",
            "Surplus Line Association of Oregon",
            vec![
                fee(SlTax, "State tax", pct(2, 2), PremiumAndFees, d(2012, 1, 1), None),
                fee(StampingFee, "Fire marshal tax", pct(3, 3), PremiumAndFees, d(2012, 1, 1), None),
                Fee {
                    only: NEW_AND_RENEWAL,
                    ..fee(SlServiceCharge, "Service charge", pct(1000, 2), Flat, d(2012, 1, 1), None)
                },
            ],
            common_documents(&[]),
        ),
        "NH" => StateRules {
            commission_rule: true,
            ..plain(
                "NH",
                "New Hampshire Insurance Department",
                vec![fee(SlTax, sl, pct(3, 2), Premium, d(2012, 1, 1), None)],
                common_documents(&[]),
            )
        },
        "UT" => StateRules {
            utah_flags: true,
            ..plain(
                "UT",
                "Surplus Lines Association of Utah",
                vec![
                    fee(SlTax, sl, pct(425, 4), PremiumAndFees, d(2012, 1, 1), None),
                    fee(StampingFee, "Stamping fee", pct(18, 4), Premium, d(2012, 1, 1), None),
                ],
                common_documents(&[StateDocument {
                    waived_if_exempt: true,
                    ..diligent("UTAFF", "Utah affidavit of diligent search")
                }]),
            )
        },
        _ => return None,
    })
}

/// The states with a department here.
pub const STATES: &[&str] = &["CA", "TX", "FL", "NY", "IL", "KY", "OR", "NH", "UT"];

/// Illinois fire marshal tax: the share of premium it applies to, by line of business (property
/// exposure). Lines not listed: none.
pub fn fire_marshal_share(line: u16) -> Decimal {
    match line {
        1005 => Decimal::ONE,     // Commercial Property
        1004 | 1013 => pct(5, 1), // Business Owners, Package: half property
        1011 => pct(25, 2),       // Inland Marine
        1021 => pct(5, 1),        // Earthquake
        _ => Decimal::ZERO,
    }
}

impl StateRules {
    /// The fees in force on `date`.
    pub fn fees_on(&self, date: NaiveDate) -> Vec<&Fee> {
        self.fees.iter().filter(|f| f.from <= date && f.to.is_none_or(|t| date < t)).collect()
    }

    /// Whether a tax rule covers `date`: the surplus-lines tax must be in force.
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.fees_on(date).iter().any(|f| f.field == Field::SlTax)
    }

    /// The documents `t` must carry.
    pub fn required_documents(&self, t: &Transaction) -> Vec<&StateDocument> {
        self.documents
            .iter()
            .filter(|doc| doc.transaction_types.contains(&t.transaction_type))
            .filter(|doc| !doc.rpg_only || t.rpg)
            .filter(|doc| !(doc.waived_for_ecp && t.ecp))
            .filter(|doc| !(doc.waived_if_exempt && t.exempt == Some(true)))
            .filter(|doc| !(doc.waived_if_export_list && t.export_list == Some(true)))
            .collect()
    }

    /// The public view for the tax-rules endpoint, rates as of `date`.
    pub fn view(&self, date: NaiveDate) -> Value {
        let fees: Vec<Value> = self
            .fees_on(date)
            .iter()
            .map(|f| {
                json!({
                    "field": f.field.name(),
                    "name": f.name,
                    "rate": if f.base == Base::Flat { None } else { Some(f.rate.normalize().to_string()) },
                    "flat_amount": if f.base == Base::Flat { Some(f.rate.round_dp(2).to_string()) } else { None },
                    "base": match f.base { Base::Premium => "premium", Base::PremiumAndFees => "premium_and_fees", Base::Flat => "flat", Base::FireMarshalShare => "premium_fire_marshal_share" },
                    "rounding": if f.whole_dollars { "dollar" } else { "cent" },
                    "effective_from": f.from,
                    "effective_to": f.to,
                    "transaction_types": f.only.iter().map(|t| t.code()).collect::<Vec<_>>(),
                })
            })
            .collect();
        let docs: Vec<Value> = self
            .documents
            .iter()
            .map(|doc| {
                json!({
                    "code": doc.code,
                    "name": doc.name,
                    "upload_required": true,
                    "transaction_types": doc.transaction_types.iter().map(|t| t.code()).collect::<Vec<_>>(),
                    "rpg": doc.rpg_only,
                    "ecp": if doc.waived_for_ecp { "waived" } else { "required" },
                    "exempt": if doc.waived_if_exempt { "waived" } else { "required" },
                    "export_list": if doc.waived_if_export_list { "waived" } else { "required" },
                })
            })
            .collect();
        json!({
            "state": self.state,
            "department": self.department,
            "as_of": date,
            "fees": fees,
            "ask_commission_received": self.commission_rule,
            "requires_exempt_export_list_multi_state": self.utah_flags,
            "municipal_fee_taken_as_sent": self.municipal_fee,
            "state_documents": docs,
        })
    }
}

/// What the rules compute for one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Calculated {
    pub amounts: Vec<(Field, Decimal)>,
}

impl Calculated {
    pub fn get(&self, f: Field) -> Decimal {
        self.amounts.iter().filter(|(x, _)| *x == f).map(|(_, v)| *v).sum()
    }
}

fn round(v: Decimal, whole_dollars: bool) -> Decimal {
    v.round_dp_with_strategy(if whole_dollars { 0 } else { 2 }, RoundingStrategy::MidpointAwayFromZero).round_dp(2)
}

/// Computes the state's taxes and fees for `t` at the rates in force on its policy effective date.
pub fn calculate(rules: &StateRules, t: &Transaction) -> Calculated {
    let mut amounts = Vec::new();
    for f in rules.fees_on(t.policy_effective_date) {
        if !f.only.is_empty() && !f.only.contains(&t.transaction_type) {
            continue;
        }
        let base = match f.base {
            Base::Premium => t.premium,
            Base::PremiumAndFees => t.premium + t.agency_fee + t.inspection_fee,
            Base::Flat => Decimal::ONE,
            Base::FireMarshalShare => t.premium * fire_marshal_share(t.transaction_line_of_business),
        };
        amounts.push((f.field, round(base * f.rate, f.whole_dollars)));
    }
    Calculated { amounts }
}
