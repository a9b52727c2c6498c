//! The consumer's pages (issue 18): the hosted Connect page `GET /c/{publicAlias}`, its assets
//! `GET /c/assets/{asset}` (content-hashed names, cached for a year) and the embedding script
//! `GET /c/sdk.js`. The files live in `shared/connect/` and are served as they are: no build step.
//! The page names the team (its public name) and carries its configuration and its English text
//! (`en.json`, the one file a translation replaces) as JSON data blocks, never as script.

use std::sync::OnceLock;

use serde_json::{json, Value};

use super::{ApiRequest, ApiResponse};
use crate::deps::Deps;
use crate::servicing::ServicingError;

const PAGE: &str = include_str!("../../connect/page.html");
const STRINGS: &str = include_str!("../../connect/en.json");
const SDK: &str = include_str!("../../connect/sdk.js");

/// The terms version the page's consent text is (`consent.text` in `en.json`): bump it when the
/// text changes, so each consent record names the wording the consumer saw.
pub const TERMS_VERSION: i64 = 1;

/// A file the page loads, served under its content-hashed name.
struct Asset {
    stem: &'static str,
    ext: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: [Asset; 3] = [
    Asset {
        stem: "app",
        ext: "js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../connect/app.js"),
    },
    Asset {
        stem: "app",
        ext: "css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../connect/app.css"),
    },
    Asset { stem: "icon", ext: "svg", content_type: "image/svg+xml", body: include_str!("../../connect/icon.svg") },
];

/// `app.<first 12 hex of its SHA-256>.js`: a changed file gets a new name, so a year's cache is safe.
fn hashed_names() -> &'static [String; 3] {
    static NAMES: OnceLock<[String; 3]> = OnceLock::new();
    NAMES.get_or_init(|| {
        ASSETS.each_ref().map(|a| {
            use sha2::Digest;
            let digest = hex::encode(sha2::Sha256::digest(a.body.as_bytes()));
            format!("{}.{}.{}", a.stem, &digest[..12], a.ext)
        })
    })
}

/// The page's policy: nothing inline, nothing from another origin, framed only by `ancestors`.
fn content_security_policy(ancestors: &[String]) -> String {
    let frame = if ancestors.iter().any(|o| o == "*") {
        "*".to_string()
    } else {
        std::iter::once("'self'".to_string()).chain(ancestors.iter().cloned()).collect::<Vec<_>>().join(" ")
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
         font-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors {frame}"
    )
}

/// What every answer of these routes carries.
fn headers(content_type: &str, cache: &str) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", content_type.to_string()),
        ("cache-control", cache.to_string()),
        ("x-content-type-options", "nosniff".into()),
        ("referrer-policy", "no-referrer".into()),
    ]
}

/// JSON safe inside a `<script type="application/json">` block: no `<`, so no `</script>`.
fn json_block(v: &Value) -> String {
    v.to_string().replace('<', "\\u003c")
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// `en.json`, parsed once per process (a unit test checks it parses).
fn strings() -> &'static Value {
    static STRINGS_VALUE: OnceLock<Value> = OnceLock::new();
    STRINGS_VALUE.get_or_init(|| serde_json::from_str(STRINGS).unwrap_or_else(|_| json!({})))
}

fn text(strings: &Value, key: &str) -> String {
    strings.get(key).and_then(Value::as_str).unwrap_or(key).to_string()
}

/// The page for `alias` (its team's `name`), or the "not a valid link" page when there is none.
fn render(alias: Option<&str>, team_name: &str, deps: &Deps) -> ApiResponse {
    let strings = strings();
    let (js, css, icon) = (&hashed_names()[0], &hashed_names()[1], &hashed_names()[2]);
    // A page with no team loads no script: it only says the link is not valid.
    let script = match alias {
        Some(_) => format!("<script type=\"module\" src=\"assets/{js}\"></script>"),
        None => String::new(),
    };
    let heading = match alias {
        Some(_) => text(strings, "title"),
        None => text(strings, "error.link.heading"),
    };
    let config = json!({
        "publicAlias": alias,
        "teamName": team_name,
        "termsVersion": TERMS_VERSION,
    });
    let body = PAGE
        .replace("{{lang}}", &html_escape(&text(strings, "lang")))
        .replace("{{title}}", &html_escape(&heading))
        .replace("{{heading}}", &html_escape(&heading))
        .replace("{{team}}", &html_escape(team_name))
        .replace("{{noscript}}", &html_escape(&text(strings, "error.link.body")))
        .replace("{{css}}", css)
        .replace("{{icon}}", icon)
        .replace("{{script}}", &script)
        .replace("{{config}}", &json_block(&config))
        .replace("{{strings}}", &json_block(strings));
    let mut h = headers("text/html; charset=utf-8", "no-store");
    h.push(("content-security-policy", content_security_policy(&deps.embed_origins)));
    ApiResponse { status: if alias.is_some() { 200 } else { 404 }, headers: h, body: body.into_bytes() }
}

/// GET /c/{publicAlias}: the hosted page of the team whose public alias it is; 404 (a page that
/// says the link is not valid) otherwise. Query parameters are ignored (campaign tags); the
/// connect token travels in the fragment, which never reaches a server.
pub async fn page(deps: &Deps, params: &[String], _: &ApiRequest) -> Result<ApiResponse, ServicingError> {
    let alias = params.first().map(String::as_str).unwrap_or("");
    Ok(match crate::auth::team_record(deps.store.as_ref(), alias).await? {
        Some(team) => render(Some(alias), &team.name, deps),
        None => render(None, "", deps),
    })
}

/// GET /c/assets/{asset}: a file of the page under its current hashed name (cached for a year),
/// or under its plain name (`app.css`, for a quick look: revalidated every time); else 404.
pub async fn asset(_: &Deps, params: &[String], _: &ApiRequest) -> Result<ApiResponse, ServicingError> {
    let name = params.first().map(String::as_str).unwrap_or("");
    let hashed = hashed_names().iter().position(|n| n == name);
    let plain = ASSETS.iter().position(|a| name.strip_prefix(a.stem).and_then(|r| r.strip_prefix('.')) == Some(a.ext));
    let (i, cache) = match (hashed, plain) {
        (Some(i), _) => (i, "public, max-age=31536000, immutable"),
        (None, Some(i)) => (i, "no-cache"),
        (None, None) => return Err(ServicingError::not_found("The asset")),
    };
    let a = &ASSETS[i];
    Ok(ApiResponse { status: 200, headers: headers(a.content_type, cache), body: a.body.as_bytes().to_vec() })
}

/// GET /c/sdk.js: the embedding script, under a stable name (integrators link to it), so cached
/// for five minutes only.
pub async fn sdk(_: &Deps, _: &[String], _: &ApiRequest) -> Result<ApiResponse, ServicingError> {
    let h = headers("text/javascript; charset=utf-8", "public, max-age=300");
    Ok(ApiResponse { status: 200, headers: h, body: SDK.as_bytes().to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_named_by_their_content_and_the_page_names_them() {
        let names = hashed_names();
        assert!(names[0].starts_with("app.") && names[0].ends_with(".js"), "{names:?}");
        assert_eq!(names[0].len(), "app..js".len() + 12);
        assert_ne!(names[0][4..16], names[1][4..16]);
        assert!(PAGE.contains("{{script}}") && PAGE.contains("assets/{{css}}") && PAGE.contains("assets/{{icon}}"));
    }

    #[test]
    fn the_policy_allows_nothing_inline_and_frames_only_the_allowed_origins() {
        let p = content_security_policy(&["https://app.example.com".into()]);
        assert!(p.contains("default-src 'self'"));
        assert!(p.contains("script-src 'self';"), "no 'unsafe-inline': {p}");
        assert!(!p.contains("unsafe"));
        assert!(p.ends_with("frame-ancestors 'self' https://app.example.com"), "{p}");
        assert!(content_security_policy(&[]).ends_with("frame-ancestors 'self'"));
        assert!(content_security_policy(&["*".into()]).ends_with("frame-ancestors *"));
    }

    #[test]
    fn data_blocks_cannot_close_their_script_and_names_are_escaped() {
        let block = json_block(&json!({"teamName": "</script><script>alert(1)</script>"}));
        assert!(!block.contains('<'), "{block}");
        assert_eq!(serde_json::from_str::<Value>(&block).unwrap()["teamName"], "</script><script>alert(1)</script>");
        assert_eq!(html_escape("<b>\"A&B\"</b>"), "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt;");
    }

    #[test]
    fn every_string_the_page_uses_is_in_the_strings_file() {
        assert!(serde_json::from_str::<Value>(STRINGS).unwrap().is_object(), "en.json parses");
        let strings = strings();
        let app = ASSETS[0].body;
        // Literal keys passed to t("...") and plural("...") (not `get("...")` and the like).
        for call in ["t(\"", "plural(\""] {
            for (at, _) in app.match_indices(call) {
                if app[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.') {
                    continue;
                }
                let rest = &app[at + call.len()..];
                let key = &rest[..rest.find('"').unwrap()];
                let found = strings.get(key).is_some() || strings.get(format!("{key}.one")).is_some();
                assert!(found, "{key} is used by app.js but missing from en.json");
            }
        }
        for t in crate::servicing::model::ActionType::ALL {
            assert!(strings.get(format!("action.{}", t.code())).is_some(), "{}", t.code());
        }
        for s in crate::servicing::model::ActionStatus::ALL {
            assert!(strings.get(format!("outcome.{}", s.code())).is_some(), "{}", s.code());
        }
    }
}
