//! The carrier catalogue: data (`shared/data/carriers.json`), not code. A carrier's `connector`
//! names the code that talks to it; carriers without one can be listed but not connected to.

use serde::Deserialize;
use serde_json::{json, Value};

use super::model::ActionType;

pub const CATALOGUE_JSON: &str = include_str!("../../data/carriers.json");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Carrier {
    pub carrier_id: String,
    pub name: String,
    #[serde(rename = "usernameFieldPlaceholder")]
    pub username_placeholder: Option<String>,
    #[serde(rename = "thirdFieldPlaceholder")]
    pub third_field_placeholder: Option<String>,
    pub products: Vec<String>,
    #[serde(rename = "homepageUrl")]
    pub homepage_url: Option<String>,
    pub connector: Option<String>,
    #[serde(rename = "servicingActions")]
    pub servicing_actions: Vec<ActionType>,
}

impl Carrier {
    pub fn supports(&self, t: ActionType) -> bool {
        self.servicing_actions.contains(&t)
    }

    /// The public view; `servicingActions` is left out when the carrier has none.
    pub fn view(&self) -> Value {
        let mut v = json!({
            "carrier_id": self.carrier_id,
            "name": self.name,
            "usernameFieldPlaceholder": self.username_placeholder,
            "thirdFieldPlaceholder": self.third_field_placeholder,
            "products": self.products,
            "homepageUrl": self.homepage_url,
        });
        if !self.servicing_actions.is_empty() {
            v["servicingActions"] = json!(self.servicing_actions.iter().map(|a| a.code()).collect::<Vec<_>>());
        }
        v
    }
}

#[derive(Debug, Clone)]
pub struct Catalogue {
    pub carriers: Vec<Carrier>,
    /// Each carrier's view as JSON text, made once: a list answer is these, joined.
    views: Vec<Vec<u8>>,
}

pub const PRODUCTS: &[&str] = &["personal", "commercial"];

impl Catalogue {
    pub fn builtin() -> Catalogue {
        Catalogue::parse(CATALOGUE_JSON).expect("the built-in carrier catalogue parses (checked by a test)")
    }

    pub fn parse(text: &str) -> Result<Catalogue, serde_json::Error> {
        let carriers: Vec<Carrier> = serde_json::from_str(text)?;
        let views = carriers.iter().map(|c| serde_json::to_vec(&c.view())).collect::<Result<_, _>>()?;
        Ok(Catalogue { carriers, views })
    }

    pub fn get(&self, id: &str) -> Option<&Carrier> {
        self.carriers.iter().find(|c| c.carrier_id == id)
    }

    /// Carriers offering any of `products` (all when empty).
    pub fn list(&self, products: &[String]) -> Vec<&Carrier> {
        self.carriers.iter().filter(|c| offers(c, products)).collect()
    }

    /// `{"carriers": [...]}` of the carriers [`Catalogue::list`] gives, as JSON text: the views
    /// made once, joined (the same bytes as the list's views serialised; a test compares).
    pub fn list_json(&self, products: &[String]) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.views.iter().map(Vec::len).sum::<usize>());
        out.extend_from_slice(b"{\"carriers\":[");
        debug_assert_eq!(self.carriers.len(), self.views.len(), "a view per carrier");
        let shown = self.carriers.iter().zip(&self.views).filter(|(c, _)| offers(c, products));
        for (i, (_, view)) in shown.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(view);
        }
        out.extend_from_slice(b"]}");
        out
    }
}

/// Whether a carrier offers any of `products` (every carrier does when none is asked for).
fn offers(c: &Carrier, products: &[String]) -> bool {
    products.is_empty() || c.products.iter().any(|p| products.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalogue_parses_and_names_known_connectors() {
        let c = Catalogue::builtin();
        assert!(c.get("sandbox").unwrap().supports(ActionType::UpdateContactInfo));
        for carrier in &c.carriers {
            assert!(matches!(carrier.connector.as_deref(), None | Some("sandbox") | Some("accounts")));
            assert!(carrier.products.iter().all(|p| PRODUCTS.contains(&p.as_str())));
        }
        assert!(c.get("sandbox_commercial_readonly").unwrap().view().get("servicingActions").is_none());
    }

    #[test]
    fn the_list_answer_is_the_views_serialised() {
        let c = Catalogue::builtin();
        for products in [vec![], vec!["personal".to_string()], vec!["commercial".into()], vec!["none".into()]] {
            let views: Vec<Value> = c.list(&products).iter().map(|c| c.view()).collect();
            let want = serde_json::to_vec(&json!({"carriers": views})).unwrap();
            assert_eq!(String::from_utf8(c.list_json(&products)).unwrap(), String::from_utf8(want).unwrap());
        }
    }
}
