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
}

pub const PRODUCTS: &[&str] = &["personal", "commercial"];

impl Catalogue {
    pub fn builtin() -> Catalogue {
        Catalogue::parse(CATALOGUE_JSON).expect("the built-in carrier catalogue parses (checked by a test)")
    }

    pub fn parse(text: &str) -> Result<Catalogue, serde_json::Error> {
        Ok(Catalogue { carriers: serde_json::from_str(text)? })
    }

    pub fn get(&self, id: &str) -> Option<&Carrier> {
        self.carriers.iter().find(|c| c.carrier_id == id)
    }

    /// Carriers offering any of `products` (all when empty).
    pub fn list(&self, products: &[String]) -> Vec<&Carrier> {
        self.carriers
            .iter()
            .filter(|c| products.is_empty() || c.products.iter().any(|p| products.contains(p)))
            .collect()
    }
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
}
