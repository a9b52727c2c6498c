//! The consumer's side of servicing (issue 18), on both stores through the local server: connect
//! tokens (the integrator chooses the actions; the page cannot change them; one pull per token),
//! connect-only pulls, and the hosted page, its assets and the embedding script with their
//! headers. The page itself runs in a real browser in `tests/browser/`.

#[macro_use]
mod support;

use serde_json::{json, Value};
use support::api::{TestApi, Transport};
use support::hooks::{wait_status, world, World};

fn change_email() -> Value {
    json!({"type": "UPDATE_CONTACT_INFO", "payload": {"email": "new@example.com"}})
}

/// What the hosted page sends: the consent, the credentials, and the token or `connect_only`.
fn page_consent(api: &TestApi, extra: Value) -> Value {
    let mut b = json!({
        "device_identifier": "web-1",
        "terms_version": 1,
        "consent_language": "I allow the test team to connect to my insurance account.",
        "public_alias": api.client_id,
        "insurerName": "sandbox",
        "insurerUsername": "user_good",
        "insurerPassword": "pass_good",
    });
    for (k, v) in extra.as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

async fn new_token(w: &World, body: Value) -> String {
    let r = w.api.post(&format!("/teams/{}/connectTokens", w.api.team), body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["connect_token"].as_str().unwrap().to_string()
}

/// The integrator prepares the actions and its meta data; the page's consent runs exactly those,
/// once; the token is gone afterwards, for every use.
async fn a_token_runs_its_actions_once(t: Transport) {
    let w = world(t).await;
    let anon = w.api.without_auth();
    let r = w
        .api
        .post(
            &format!("/teams/{}/connectTokens", w.api.team),
            json!({"servicing_actions": [change_email()], "meta_data": {"crm_id": "C-7"}, "expires_in": 600}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let token = r.body["connect_token"].as_str().unwrap().to_string();
    assert!(token.starts_with("ct_") && token.len() == 46, "{token}");
    assert_eq!(r.body["servicing_action_types"], json!(["UPDATE_CONTACT_INFO"]));
    let expires = chrono::DateTime::parse_from_rfc3339(r.body["expires_at"].as_str().unwrap()).unwrap();
    let left = expires.signed_duration_since(chrono::Utc::now()).num_seconds();
    assert!((590..=600).contains(&left), "{left}");

    let lookup = json!({"public_alias": w.api.client_id, "connect_token": token});
    let r = anon.post("/widget/connectToken", lookup.clone()).await;
    assert_eq!((r.status, &r.body["servicing_action_types"]), (200, &json!(["UPDATE_CONTACT_INFO"])), "{}", r.body);

    let r = anon.post("/widget/pull/consentAndConnect", page_consent(&w.api, json!({"connect_token": token}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.body["pull_id"].as_str().unwrap().to_string();
    assert_eq!(r.body["servicing_action_ids"].as_array().unwrap().len(), 1);
    let p = wait_status(&w, &id, "WAITING_FOR_CONSUMER_CONFIRMATION").await;
    assert_eq!(p["meta_data"], json!({"crm_id": "C-7"}));
    assert_eq!(p["servicing_actions"][0]["type"], "UPDATE_CONTACT_INFO");
    let events = w.hooks.wait_for(&id, "SERVICING_WAITING_FOR_CONSUMER_CONFIRMATION", 1).await;
    assert!(events.iter().all(|e| e.signature_ok && e.body["meta_data"] == json!({"crm_id": "C-7"})));

    // Used up: a second consent, a replay of the same body, and a lookup are all refused.
    for _ in 0..2 {
        let again =
            anon.post("/widget/pull/consentAndConnect", page_consent(&w.api, json!({"connect_token": token}))).await;
        assert_eq!((again.status, again.body["error"].as_str()), (401, Some("UNAUTHORIZED")), "{}", again.body);
    }
    assert_eq!(anon.post("/widget/connectToken", lookup).await.status, 401);
    let pulls = w.api.get(&format!("/teams/{}/pulls", w.api.team)).await;
    assert_eq!(pulls.body["total_pulls"], 1, "one pull from one token");
}

/// Two consents racing with one token: exactly one pull.
async fn a_token_admits_one_pull_under_a_race(t: Transport) {
    let w = world(t).await;
    let token = new_token(&w, json!({"servicing_actions": [change_email()]})).await;
    let anon = w.api.without_auth();
    let body = page_consent(&w.api, json!({"connect_token": token}));
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (anon, body) = (anon.clone(), body.clone());
        calls.spawn(async move { anon.post("/widget/pull/consentAndConnect", body).await.status });
    }
    let statuses: Vec<u16> = calls.join_all().await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 401), "{statuses:?}");
    assert_eq!(w.api.get(&format!("/teams/{}/pulls", w.api.team)).await.body["total_pulls"], 1);
}

/// The consumer cannot add, change or drop what the token holds, nor use another team's token;
/// the integrator's call is checked like every other; nothing is written by a refusal.
async fn tokens_resist_editing_replay_and_other_teams(t: Transport) {
    let w = world(t).await;
    let anon = w.api.without_auth();
    let token = new_token(&w, json!({"servicing_actions": [change_email()], "meta_data": {"a": 1}})).await;
    for (extra, code) in [
        (json!({"connect_token": token, "servicing_actions": [change_email()]}), "INVALID_INPUT"),
        (json!({"connect_token": token, "servicing_actions": null}), "INVALID_INPUT"),
        (json!({"connect_token": token, "meta_data": {"a": 2}}), "INVALID_INPUT"),
        (json!({"connect_token": token, "connect_only": true}), "INVALID_INPUT"),
        (json!({"connect_only": true, "servicing_actions": [change_email()]}), "INVALID_INPUT"),
        (json!({"connect_token": 7}), "INVALID_INPUT"),
        (json!({"connect_token": "x".repeat(65)}), "INVALID_INPUT"),
        (json!({"connect_only": "yes"}), "INVALID_INPUT"),
        (json!({"connect_token": "ct_not-a-token"}), "UNAUTHORIZED"),
    ] {
        let r = anon.post("/widget/pull/consentAndConnect", page_consent(&w.api, extra.clone())).await;
        assert_eq!(r.body["error"].as_str(), Some(code), "{extra}: {}", r.body);
        assert!(!r.text.contains("new@example.com") && !r.text.contains(&token), "nothing sent is echoed");
    }
    // Another team's alias with this team's token: not found there.
    let other = w.api.new_team().await;
    let r = anon.post("/widget/pull/consentAndConnect", page_consent(&other, json!({"connect_token": token}))).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = anon.post("/widget/connectToken", json!({"public_alias": other.client_id, "connect_token": token})).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(w.api.get(&format!("/teams/{}/pulls", w.api.team)).await.body["total_pulls"], 0);
    // Still usable after all of that.
    let r = anon.post("/widget/pull/consentAndConnect", page_consent(&w.api, json!({"connect_token": token}))).await;
    assert_eq!(r.status, 200, "{}", r.body);

    let path = format!("/teams/{}/connectTokens", w.api.team);
    for body in [
        json!({"expires_in": 59}),
        json!({"expires_in": 86_401}),
        json!({"servicing_actions": []}),
        json!({"servicing_actions": [{"type": "SELL_HOUSE", "payload": {}}]}),
        json!({"servicing_actions": [{"type": "UPDATE_CONTACT_INFO"}]}),
        json!({"meta_data": [1]}),
        json!({"surprise": 1}),
    ] {
        let r = w.api.post(&path, body.clone()).await;
        assert_eq!((r.status, r.body["error"].as_str()), (400, Some("INVALID_INPUT")), "{body}: {}", r.body);
    }
    assert_eq!(anon.post(&path, json!({})).await.status, 401);
    assert_eq!(other.post(&path, json!({})).await.status, 403);
}

/// A hosted link without a token connects the account once, running nothing; a servicing later
/// reuses that consent and those credentials.
async fn a_connect_only_pull_is_reused_later(t: Transport) {
    let w = world(t).await;
    let anon = w.api.without_auth();
    let body = page_consent(&w.api, json!({"connect_only": true, "meta_data": {"from": "sdk"}}));
    let r = anon.post("/widget/pull/consentAndConnect", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["servicing_action_ids"], json!([]));
    let id = r.body["pull_id"].as_str().unwrap().to_string();
    let p = wait_status(&w, &id, "SUCCESS").await;
    assert_eq!(p["meta_data"], json!({"from": "sdk"}));
    assert_eq!(p["servicing_actions"], json!([]));
    w.hooks.wait_for(&id, "COMPLETE", 1).await;

    let r = w
        .api
        .post(
            &format!("/teams/{}/servicings", w.api.team),
            json!({"pull_id": id, "servicing_actions": [change_email()]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let next = r.body["pull_id"].as_str().unwrap().to_string();
    let p = wait_status(&w, &next, "WAITING_FOR_CONSUMER_CONFIRMATION").await;
    assert_eq!(p["parent_pull_id"], id.as_str());
}

/// The page, its assets and the script: their types, caching and security headers; a page for
/// every team alias and a "not valid" page for any other.
async fn the_page_and_its_files_are_served_with_their_headers(t: Transport) {
    let w = world(t).await;
    let anon = w.api.without_auth();
    let page = anon.get(&format!("/c/{}", w.api.client_id)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let csp = page.header("content-security-policy").unwrap();
    for rule in ["default-src 'self'", "script-src 'self';", "object-src 'none'", "frame-ancestors "] {
        assert!(csp.contains(rule), "{rule}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("http"), "{csp}");
    // No inline script: only a module from this origin and JSON data blocks.
    let scripts: Vec<&str> = page.text.split("<script").skip(1).map(|s| &s[..s.find('>').unwrap()]).collect();
    assert_eq!(scripts.len(), 3, "{scripts:?}");
    assert!(scripts.iter().all(|s| s.contains("type=\"application/json\"") || s.contains("src=\"assets/")));
    assert!(!page.text.contains("http://") && !page.text.contains("https://"), "no third-party request");
    assert!(page.text.contains(&format!("\"publicAlias\":\"{}\"", w.api.client_id)));

    for (kind, media) in [(".js\"", "text/javascript"), (".css\"", "text/css")] {
        let at = page.text.find(kind).unwrap();
        let start = page.text[..at].rfind("assets/").unwrap();
        let name = &page.text[start + "assets/".len()..at + kind.len() - 1];
        let r = anon.get(&format!("/c/assets/{name}")).await;
        assert_eq!(r.status, 200, "{name}");
        assert!(r.header("content-type").unwrap().starts_with(media));
        assert_eq!(r.header("cache-control"), Some("public, max-age=31536000, immutable"));
    }
    let stale = anon.get("/c/assets/app.000000000000.js").await;
    assert_eq!((stale.status, stale.body["error"].as_str()), (404, Some("NOT_FOUND")));
    let plain = anon.get("/c/assets/app.js").await;
    assert_eq!((plain.status, plain.header("cache-control")), (200, Some("no-cache")));

    let sdk = anon.get("/c/sdk.js").await;
    assert_eq!(sdk.status, 200);
    assert!(
        sdk.text.contains("CoverdeskConnect") && sdk.header("content-type").unwrap().starts_with("text/javascript")
    );

    let none = anon.get("/c/no-such-team").await;
    assert_eq!(none.status, 404);
    assert_eq!(none.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(!none.text.contains("type=\"module\""), "a page for no team runs nothing");
    assert_eq!(anon.get("/c/%3Cscript%3E").await.status, 404);
}

both_stores!(
    a_token_runs_its_actions_once,
    a_token_admits_one_pull_under_a_race,
    tokens_resist_editing_replay_and_other_teams,
    a_connect_only_pull_is_reused_later,
    the_page_and_its_files_are_served_with_their_headers,
);

/// The Lambda transport (API Gateway's event, the function's own handler, DynamoDB Local) serves
/// the page too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_as_a_function() {
    let api = TestApi::new(Transport::Lambda).await;
    let r = api.without_auth().get(&format!("/c/{}", api.client_id)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.header("content-security-policy").is_some());
}
