//! Issue 17: the HTTP edge of all three APIs. What fuzzing still got through -- a duplicate key, a
//! body of another media type, a lone surrogate, a bidirectional override, an expired pull token, a
//! numeric IPv4 webhook host, broken HTTP framing -- is answered in the API's own envelope and
//! writes nothing. Each case runs on the local server (embedded store) and in Lambda (API Gateway
//! events, DynamoDB Local).

#[macro_use]
mod support;

use serde_json::{json, Value};
use support::api::{new_account_body, Resp, TestApi, Transport};

const A: &str = "/account/v1/accounts";

fn accounts_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["errorCode"], json!(format!("gw.api.rest.exceptions.{code}")), "{}", r.body);
    assert!(r.body["userMessage"].is_string() && r.body["details"].is_array(), "{}", r.body);
}

fn enum_error(r: &Resp, status: u16, code: &str) {
    assert_eq!((r.status, r.body["error"].as_str()), (status, Some(code)), "{}", r.body);
    assert!(r.body["message"].is_string(), "{}", r.body);
}

async fn account_count(api: &TestApi) -> u64 {
    api.get(&format!("{A}?includeTotal=true")).await.body["total"].as_u64().unwrap()
}

async fn webhooks(api: &TestApi) -> Value {
    api.get(&format!("/teams/{}/webhooks", api.team)).await.body["webhooks"].clone()
}

fn consent(api: &TestApi, extra: &str) -> String {
    format!(
        r#"{{"device_identifier": "d-1", "terms_version": 1, "consent_language": "I agree.",
            "public_alias": "{}", "insurerName": "sandbox", "insurerUsername": "user_good",
            "insurerPassword": "pass_good",
            "servicing_actions": [{{"type": "UPDATE_CONTACT_INFO", "payload": {{"email": "new@example.com"}}}}]{extra}}}"#,
        api.client_id
    )
}

/// A transaction with every field the seed names; no documents.
fn transaction(id: &str, insured: &str) -> Value {
    json!({
        "id": id, "policy_number": "CA20170228-05", "policy_effective_date": "2017-02-01",
        "transaction_effective_date": "2017-02-01", "transaction_type": "PN", "account_written_as": "B",
        "rpg": 0, "premium": 3900.00, "agency_fee": 200.00, "inspection_fee": 0.00, "sl_tax": 117.00,
        "stamping_fee": 7.80, "sl_service_charge": 0.00, "municipal_fee": 0.00, "fm_tax": 0.00, "total": 4224.80,
        "commission_received": 0, "non_admitted_insured_name": "1001", "invoice_date": "2017-02-01",
        "purchasing_group_name": "Cal Association", "ecp": 0, "risk_description": "A risk",
        "mailing_insured_name": insured, "mailing_address": "1151 Galleria Blvd",
        "mailing_city": "Roseville", "mailing_zip_code": "95678", "mailing_state_code": "CA",
        "physical_same_as_mailing": 1, "transaction_line_of_business": "1001", "exempt": 0, "export_list": 0,
        "multi_state": 0
    })
}

async fn a_duplicate_key_is_refused_by_every_api_and_writes_nothing(api: &TestApi) {
    let api = api.new_team().await;
    // Accounts: the second "firstName" used to win silently.
    let body = new_account_body("Ray Newton", false).to_string();
    let twice = body.replacen("\"firstName\":", "\"firstName\": \"Ann\", \"firstName\":", 1);
    assert_ne!(body, twice);
    let r = api.call("POST", A, Some(twice), &[]).await;
    accounts_error(&r, 400, "BadInputException");
    assert!(r.body["details"].to_string().contains("duplicate member name"), "{}", r.body);
    assert_eq!(account_count(&api).await, 0);
    // Servicing: a consent, and a webhook registration.
    let anon = api.without_auth();
    let r =
        anon.call("POST", "/widget/pull/consentAndConnect", Some(consent(&api, r#", "terms_version": 2"#)), &[]).await;
    enum_error(&r, 400, "INVALID_INPUT");
    assert!(r.body["message"].as_str().unwrap().contains("duplicate member name"), "{}", r.body);
    let hook = r#"{"url": "https://example.com/a", "url": "https://example.com/b"}"#;
    let r = api.call("POST", &format!("/teams/{}/webhooks", api.team), Some(hook.into()), &[]).await;
    enum_error(&r, 400, "INVALID_INPUT");
    assert_eq!(webhooks(&api).await, json!([]));
    // Import: a batch whose transaction names a field twice is no batch; nothing is imported.
    let id = support::unique("dup");
    let t = transaction(&id, "Westfield").to_string();
    let batch = format!("[{}]", t.replacen("\"premium\":", "\"premium\": 1, \"premium\":", 1));
    let r = api.call("POST", "/import/v1/transactions", Some(batch), &[]).await;
    enum_error(&r, 400, "INVALID_BATCH");
    assert!(r.body["message"].as_str().unwrap().contains("duplicate member name"), "{}", r.body);
    assert_eq!(api.get(&format!("/import/v1/transactions/{id}")).await.status, 404);
    // The single-transaction import reads its envelope the same way.
    let item = format!(r#"{{"total_items": 1, "current_item": 1, "current_item": 1, "transaction": {t}}}"#);
    let r = api.call("POST", "/import/v1/transaction", Some(item), &[]).await;
    enum_error(&r, 400, "INVALID_BATCH");
    assert_eq!(api.get(&format!("/import/v1/transactions/{id}")).await.status, 404);
}

async fn a_body_of_another_media_type_is_415_in_each_envelope(api: &TestApi) {
    let api = api.new_team().await;
    let account = new_account_body("Ray Newton", false).to_string();
    for ct in ["text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data; boundary=x"]
    {
        let h = [("content-type", ct)];
        let r = api.call("POST", A, Some(account.clone()), &h).await;
        accounts_error(&r, 415, "UnsupportedMediaTypeException");
        let r = api.without_auth().call("POST", "/widget/pull/consentAndConnect", Some(consent(&api, "")), &h).await;
        enum_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
        let batch = json!([transaction(&support::unique("ct"), "W")]).to_string();
        let r = api.call("POST", "/import/v1/transactions", Some(batch), &h).await;
        enum_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
    }
    assert_eq!(account_count(&api).await, 0);
    // JSON with parameters, a +json type, and no content-type at all are read as JSON.
    for ct in ["application/json; charset=utf-8", "Application/JSON", "application/vnd.api+json", ""] {
        let r = api.call("POST", A, Some(account.clone()), &[("content-type", ct)]).await;
        assert_eq!(r.status, 201, "{ct:?}: {}", r.body);
    }
    // A body-less request may name any type: there is nothing to read.
    let r = api.call("GET", A, None, &[("content-type", "text/plain")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn a_lone_surrogate_is_invalid_json_on_every_api(api: &TestApi) {
    let api = api.new_team().await;
    let id = api.create_account("Ray Newton", false).await;
    let note = r#"{"data": {"attributes": {"subject": "S", "body": "a\ud800b", "topic": {"code": "general"}}}}"#;
    let r = api.call("POST", &format!("{A}/{id}/notes"), Some(note.into()), &[]).await;
    accounts_error(&r, 400, "BadInputException");
    assert_eq!(api.get(&format!("{A}/{id}/notes")).await.body["count"], 0);
    let r = api
        .without_auth()
        .call("POST", "/widget/pull/consentAndConnect", Some(consent(&api, r#", "meta_data": {"k": "\udc00"}"#)), &[])
        .await;
    enum_error(&r, 400, "INVALID_INPUT");
    // The import used to read the field as absent ("is required"): now the batch is not JSON.
    let tid = support::unique("sur");
    let batch = format!("[{}]", transaction(&tid, "W").to_string().replacen("\"W\"", r#""\ud800""#, 1));
    let r = api.call("POST", "/import/v1/transactions", Some(batch), &[]).await;
    enum_error(&r, 400, "INVALID_BATCH");
    assert!(r.body["message"].as_str().unwrap().contains("hex escape"), "{}", r.body);
    assert_eq!(api.get(&format!("/import/v1/transactions/{tid}")).await.status, 404);
}

async fn one_line_text_refuses_bidirectional_overrides(api: &TestApi) {
    let api = api.new_team().await;
    for c in ['\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}'] {
        let r = api.post(A, new_account_body(&format!("Ray{c} Newton"), false)).await;
        accounts_error(&r, 400, "BadInputException");
        let tid = support::unique("bidi");
        let r =
            api.post("/import/v1/transactions?mode=sync", json!([transaction(&tid, &format!("West{c}field"))])).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let got = &r.body["transactions"][0];
        assert_eq!(got["status"], 2001, "{got}");
        assert!(got["status_message"].as_str().unwrap().contains("mailing_insured_name"), "{got}");
    }
    assert_eq!(account_count(&api).await, 0);
    // A block of text (a note's body) keeps them: they are how right-to-left writing is marked.
    let id = api.create_account("Ray Newton", false).await;
    let note =
        json!({"data": {"attributes": {"subject": "S", "body": "\u{202B}שלום\u{202C}", "topic": {"code": "general"}}}});
    assert_eq!(api.post(&format!("{A}/{id}/notes"), note).await.status, 201);
}

async fn an_expired_pull_token_is_401_like_any_other_bad_token(api: &TestApi) {
    let r = api.without_auth().call("POST", "/widget/pull/consentAndConnect", Some(consent(api, "")), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let pull = r.body["pull_id"].as_str().unwrap();
    let expired = api
        .deps
        .keys
        .sign_token(&json!({"pull_id": pull, "team_id": api.team.as_str(), "exp": chrono::Utc::now().timestamp() - 60}))
        .unwrap();
    let r = api.without_auth().call("GET", &format!("/widget/pull/{pull}"), None, &[("pull-jwt", &expired)]).await;
    enum_error(&r, 401, "UNAUTHORIZED");
    // The same token unexpired is good; for another pull it is 403.
    let fresh = api
        .deps
        .keys
        .sign_token(&json!({"pull_id": pull, "team_id": api.team.as_str(), "exp": chrono::Utc::now().timestamp() + 60}))
        .unwrap();
    let r = api.without_auth().call("GET", &format!("/widget/pull/{pull}"), None, &[("pull-jwt", &fresh)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api.without_auth().call("GET", "/widget/pull/another", None, &[("pull-jwt", &fresh)]).await;
    enum_error(&r, 403, "UNAUTHORIZED");
}

/// Issue 17: what schemathesis found where the server, not the document, was wrong.
async fn schema_valid_requests_are_accepted_and_schema_invalid_ones_refused(api: &TestApi) {
    let api = api.new_team().await;
    let id = api.create_account("Ray Newton", false).await;
    // A whole number written as JSON may write it (1913.0) is that number.
    let r = api.patch(&format!("{A}/{id}"), json!({"data": {"attributes": {"yearBusinessStarted": 1913.0}}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.attrs()["yearBusinessStarted"], 1913, "{}", r.body);
    let r = api.patch(&format!("{A}/{id}"), json!({"data": {"attributes": {"yearBusinessStarted": 1913.5}}})).await;
    accounts_error(&r, 400, "BadInputException");
    // An empty list of drivers, vehicles or mortgagees is no list: any line may send one.
    let policy = json!({"data": {"attributes": {
        "policyNumber": support::unique("HO"), "lineOfBusiness": {"code": "Condo"},
        "effectiveDate": "2026-01-01", "expirationDate": "2027-01-01",
        "insured": {"firstName": "Ray", "lastName": "Newton"}, "drivers": [], "vehicles": []}}});
    let r = api.post(&format!("{A}/{id}/policies"), policy.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mut auto = policy;
    auto["data"]["attributes"]["policyNumber"] = json!(support::unique("PA"));
    auto["data"]["attributes"]["lineOfBusiness"] = json!({"code": "WorkersComp"});
    auto["data"]["attributes"]["drivers"] = json!([{"firstName": "A", "lastName": "B"}]);
    let r = api.post(&format!("{A}/{id}/policies"), auto).await;
    accounts_error(&r, 400, "BadInputException");
    assert!(r.body["details"].to_string().contains("only for auto lines"), "{}", r.body);
    // A typekey's display name is a string when it is sent.
    let act =
        |name: Value| json!({"data": {"attributes": {"subject": "call", "priority": {"code": "high", "name": name}}}});
    let r = api.post(&format!("{A}/{id}/activities"), act(json!(2.5))).await;
    accounts_error(&r, 400, "BadInputException");
    assert_eq!(api.post(&format!("{A}/{id}/activities"), act(json!("High"))).await.status, 201);
    // A redelivery's body is absent or an object: a JSON null is refused before anything is read.
    let path = format!("/teams/{}/pulls/nope/events/nope.1/redeliver", api.team);
    let r = api.call("POST", &path, Some("null".into()), &[]).await;
    enum_error(&r, 400, "INVALID_INPUT");
    let r = api.call("POST", &path, Some(r#"{"webhook_id": 7}"#.into()), &[]).await;
    enum_error(&r, 400, "INVALID_INPUT");
    for blank in [" ", "\n"] {
        let r = api.call("POST", &path, Some(blank.into()), &[]).await;
        enum_error(&r, 400, "INVALID_INPUT");
    }
    let r = api.call("POST", &path, None, &[]).await;
    enum_error(&r, 404, "NOT_FOUND");
    // terms_version 1.0 is the whole number 1.
    let r = api
        .without_auth()
        .call(
            "POST",
            "/widget/pull/consentAndConnect",
            Some(consent(&api, "").replace("\"terms_version\": 1", "\"terms_version\": 1.0")),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

both!(
    a_duplicate_key_is_refused_by_every_api_and_writes_nothing,
    a_body_of_another_media_type_is_415_in_each_envelope,
    a_lone_surrogate_is_invalid_json_on_every_api,
    one_line_text_refuses_bidirectional_overrides,
    an_expired_pull_token_is_401_like_any_other_bad_token,
    schema_valid_requests_are_accepted_and_schema_invalid_ones_refused,
);

/// A webhook URL whose host is a numeric spelling of a private address is refused at
/// registration (it used to pass, and was caught only at delivery), on both stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_numeric_ipv4_webhook_host_is_judged_by_its_address_at_registration() {
    for transport in [Transport::Lambda, Transport::Local] {
        let mut api = TestApi::new(transport).await;
        if transport == Transport::Local {
            // The embedded store behind the Lambda handler: the same code, the other store.
            api.transport = Transport::Lambda;
        }
        api.deps.allow_private_urls = false;
        for url in ["http://2130706433/hook", "http://0x7f.1/hook", "http://0xa9fea9fe/latest", "http://10.1/x"] {
            let r = api.post(&format!("/teams/{}/webhooks", api.team), json!({"url": url})).await;
            enum_error(&r, 400, "INVALID_INPUT");
            assert!(r.body["message"].as_str().unwrap().contains("private"), "{url}: {}", r.body);
        }
        assert_eq!(webhooks(&api).await, json!([]));
    }
}

/// Raw HTTP to the local server: broken framing is answered, not dropped.
async fn raw(api: &TestApi, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(api.addr().unwrap()).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_framing_and_huge_header_blocks_get_an_http_answer() {
    let api = TestApi::new(Transport::Local).await;
    let auth = api.auth.clone().unwrap();
    for (path, envelope) in [
        (A, "gw.api.rest.exceptions.BadInputException"),
        ("/widget/pull/consentAndConnect", "INVALID_INPUT"),
        ("/import/v1/transactions", "INVALID_INPUT"),
    ] {
        let req = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\ncontent-type: application/json\r\n\
             transfer-encoding: chunked\r\n\r\n5\r\n{{\"a\":\r\nzz\r\n\r\n"
        );
        let got = raw(&api, req.as_bytes()).await;
        assert!(got.starts_with("HTTP/1.1 400"), "{path}: {got:?}");
        assert!(got.contains(envelope) && got.contains("chunked"), "{path}: {got:?}");
    }
    let huge = format!("GET {A} HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n", "a".repeat(1 << 20));
    let got = raw(&api, huge.as_bytes()).await;
    assert!(got.starts_with("HTTP/1.1 431"), "{:?}", got.get(..200));
    assert_eq!(account_count(&api).await, 0);
}
