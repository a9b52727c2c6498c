//! Why one file of ~850 lines: one suite per API, sharing its receiver, carriers and two stores.
//!
//! Servicing end to end: the local server (with its in-process worker) on the embedded store and
//! on DynamoDB Local, a real HTTP receiver that verifies every webhook signature, the sandbox
//! carrier and this deployment's own policies. Every response is checked against openapi.json.

#[macro_use]
mod support;

use coverdesk::servicing::input;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use coverdesk::store::Store;
use serde_json::{json, Value};
use support::api::{Pull, Resp, TestApi, Transport};
use support::hooks::{pull, wait_status, world, Received, World};

// ---- helpers ----

fn consent_body(api: &TestApi, carrier: &str, user: &str, password: &str, actions: Value) -> Value {
    json!({
        "device_identifier": "device-1",
        "terms_version": 3,
        "consent_language": "I agree that my policies may be read and changed as I confirm.",
        "public_alias": api.client_id,
        "insurerName": carrier,
        "insurerUsername": user,
        "insurerPassword": password,
        "meta_data": {"crm_id": "A-100"},
        "servicing_actions": actions,
    })
}

fn addr() -> Value {
    json!({"line1": "9 Elm St", "city": "Dallas", "state": "TX", "postal_code": "75201"})
}

fn add_mortgagee(policy: &str, t: &str) -> Value {
    json!({"type": "ADD_MORTGAGEE", "payload": {"carrier_policy_number": policy, "name": "Second Street Bank", "loan_number": "L-77", "mortgagee_type": t, "address": addr()}})
}

async fn connect(w: &World, carrier: &str, user: &str, password: &str, actions: Value) -> Pull {
    let r = w
        .api
        .without_auth()
        .post("/widget/pull/consentAndConnect", consent_body(&w.api, carrier, user, password, actions))
        .await;
    Pull::made(&r)
}

async fn widget(w: &World, p: &Pull, path: &str, body: Value) -> Resp {
    w.api
        .without_auth()
        .call("POST", &format!("/widget/pull/{}/{path}", p.id), Some(body.to_string()), &[("pull-jwt", &p.jwt)])
        .await
}

async fn confirm(w: &World, p: &Pull, action: &str, yes: bool) -> Resp {
    widget(w, p, "servicingAction", json!({"servicing_action_id": action, "is_confirmed": yes})).await
}

fn types(events: &[Received]) -> Vec<String> {
    events
        .iter()
        .map(|r| {
            let t = r.body["event_type"].as_str().unwrap().to_string();
            match r.body["data"]["auth_status"].as_str() {
                Some(a) => format!("{t}:{a}"),
                None => t,
            }
        })
        .collect()
}

fn assert_signed_and_ordered(events: &[Received]) {
    assert!(events.iter().all(|r| r.signature_ok), "a webhook signature did not verify");
    let seqs: Vec<u64> = events.iter().map(|r| r.body["sequence"].as_u64().unwrap()).collect();
    let mut sorted = seqs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seqs, sorted, "events out of order or repeated");
}

// ---- the flows ----

/// Three actions: confirm, reject, confirm. Each waits; the rejected one changes nothing; the
/// pull completes; the changes are on the carrier account (a reused pull sees them).
async fn three_actions_confirm_reject_confirm(t: Transport) {
    coverdesk::metrics::capture();
    let w = world(t).await;
    let user = format!("user_{}", support::unique("x").replace('-', ""));
    let p = connect(
        &w,
        "sandbox",
        &user,
        "pass_good",
        json!([
            add_mortgagee("SBX-HOME-1", "SECOND"),
            {"type": "ADD_DRIVER", "payload": {"carrier_policy_number": "SBX-AUTO-1", "driver": {"first_name": "Lee", "last_name": "Park", "date_of_birth": "1990-04-01"}}},
            {"type": "UPDATE_CONTACT_INFO", "payload": {"email": "new.address@example.com"}},
        ]),
    )
    .await;
    assert_eq!(p.actions.len(), 3);

    let v = wait_status(&w, &p.id, "WAITING_FOR_CONSUMER_CONFIRMATION").await;
    let a0 = &v["servicing_actions"][0];
    assert_eq!(a0["status"], "WAITING_FOR_CONSUMER_CONFIRMATION");
    assert_eq!(a0["confirmation_data"]["before"], Value::Null);
    assert_eq!(a0["confirmation_data"]["after"]["name"], "Second Street Bank");
    assert_eq!(v["servicing_actions"][1]["status"], "QUEUED", "one at a time");
    assert_eq!(v["account_identifier"].as_str().map(|s| s.starts_with("SBX-")), Some(true));

    // Confirming an action that is not waiting changes nothing.
    let r = confirm(&w, &p, &p.actions[1], true).await;
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("INVALID_ACTION")), "{}", r.body);

    assert_eq!(confirm(&w, &p, &p.actions[0], true).await.status, 200);
    w.hooks.wait_for(&p.id, "SERVICING_WAITING_FOR_CONSUMER_CONFIRMATION", 2).await;
    let v = wait_status(&w, &p.id, "WAITING_FOR_CONSUMER_CONFIRMATION").await;
    assert_eq!(v["servicing_actions"][0]["status"], "SUCCESS");
    let a1 = &v["servicing_actions"][1];
    assert_eq!(a1["status"], "WAITING_FOR_CONSUMER_CONFIRMATION");
    assert_eq!(a1["confirmation_data"]["current_policy_premium_cents"], 180000);
    assert_eq!(a1["confirmation_data"]["adjusted_policy_premium_cents"], 218400, "sandbox rate for a driver");

    // Reject through seed 000's path, with the team's credentials.
    let r = w
        .api
        .post(
            &format!("/pull/{}/servicingAction", p.id),
            json!({"servicing_action_id": p.actions[1], "is_confirmed": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["pull_id"], p.id.as_str());
    w.hooks.wait_for(&p.id, "SERVICING_WAITING_FOR_CONSUMER_CONFIRMATION", 3).await;

    // Two confirmations racing for the last action: one applies, the other is refused.
    let (x, y) = tokio::join!(confirm(&w, &p, &p.actions[2], true), confirm(&w, &p, &p.actions[2], true));
    let mut statuses = [x.status, y.status];
    statuses.sort();
    assert_eq!(statuses, [200, 400], "{} / {}", x.body, y.body);

    let done = w.hooks.wait_for(&p.id, "COMPLETE", 1).await;
    let v = wait_status(&w, &p.id, "SUCCESS").await;
    let st: Vec<&str> =
        v["servicing_actions"].as_array().unwrap().iter().map(|a| a["status"].as_str().unwrap()).collect();
    assert_eq!(st, ["SUCCESS", "UNCONFIRMED", "SUCCESS"]);
    assert_eq!(
        types(&done),
        [
            "AUTH_STATUS:SUCCESS",
            "SERVICING_WAITING_FOR_CONSUMER_CONFIRMATION",
            "SERVICING_WAITING_FOR_CONSUMER_CONFIRMATION",
            "SERVICING_WAITING_FOR_CONSUMER_CONFIRMATION",
            "COMPLETE"
        ]
    );
    assert_signed_and_ordered(&done);
    assert_eq!(done[1].body["data"]["servicing_action_id"], p.actions[0].as_str());
    assert_eq!(done[0].body["meta_data"]["crm_id"], "A-100");

    // A new servicing pull on the same consent sees what was applied, and not what was rejected.
    let r = w
        .api
        .post(
            &format!("/teams/{}/servicings", w.api.team),
            json!({"pull_id": p.id, "servicing_actions": [
                {"type": "EDIT_MORTGAGEE", "payload": {"carrier_policy_number": "SBX-HOME-1", "name": "Renamed Bank", "mortgagee_type": "SECOND", "address": addr()}},
                {"type": "REPLACE_DRIVER", "payload": {"carrier_policy_number": "SBX-AUTO-1", "replacing_driver_full_name": "Lee Park", "driver": {"first_name": "Kim", "last_name": "Ode"}}}
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let child = r.body["pull_id"].as_str().unwrap().to_string();
    let v = wait_status(&w, &child, "WAITING_FOR_CONSUMER_CONFIRMATION").await;
    assert_eq!(v["parent_pull_id"], p.id.as_str());
    assert_eq!(v["servicing_actions"][0]["confirmation_data"]["before"]["name"], "Second Street Bank");
    let child_jwt = r.body["pull_jwt"].as_str().unwrap().to_string();
    let cp = Pull { id: child.clone(), jwt: child_jwt, actions: vec![] };
    let a0 = v["servicing_actions"][0]["servicing_action_id"].as_str().unwrap().to_string();
    assert_eq!(confirm(&w, &cp, &a0, true).await.status, 200);
    let v = wait_status(&w, &child, "VALIDATION_ERROR").await;
    // The rejected driver was never added, so there is none to replace.
    assert_eq!(v["servicing_actions"][1]["validation_error_type"], "REPLACING_DRIVER_NOT_FOUND");

    // Listing and reading servicings.
    let r = w.api.get(&format!("/teams/{}/servicings?pull_id={}", w.api.team, p.id)).await;
    assert_eq!(r.body["total_servicings"], 3);
    let r = w.api.get(&format!("/teams/{}/servicings?limit=2", w.api.team)).await;
    assert_eq!((r.body["total_servicings"].as_u64(), r.body["servicings"].as_array().unwrap().len()), (Some(5), 2));
    let r = w.api.get(&format!("/teams/{}/servicings/{}", w.api.team, p.actions[1])).await;
    assert_eq!(r.body["status"], "UNCONFIRMED");
    let r = w.api.get(&format!("/teams/{}/pulls", w.api.team)).await;
    assert_eq!(r.body["total_pulls"], 2);
    assert_eq!(r.body["pulls"][0]["pull_id"], child.as_str(), "newest first");
    // Issue 10: CloudWatch metrics (EMF) of the action outcomes and the webhook deliveries.
    // This test's team only: the embedded and DynamoDB runs of it share the process's records.
    let records: Vec<Value> = coverdesk::metrics::capture()
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["team"] == w.api.team.as_str())
        .collect();
    let has = |metric: &str, outcome: &str| {
        records.iter().any(|r| {
            r[metric] == 1.0 && r["outcome"] == outcome && r["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Coverdesk"
        })
    };
    assert!(has("ServicingActions", "SUCCESS") && has("ServicingActions", "UNCONFIRMED"), "{records:?}");
    assert!(has("WebhookDeliveries", "DELIVERED"), "{records:?}");
}

/// The second of three actions fails validation: the pull stops, the third never runs.
async fn a_validation_error_stops_the_pull(t: Transport) {
    let w = world(t).await;
    let user = format!("user_{}", support::unique("v").replace('-', ""));
    let p = connect(
        &w,
        "sandbox",
        &user,
        "pass_good",
        json!([
            add_mortgagee("SBX-HOME-1", "SECOND"),
            add_mortgagee("NO-SUCH-POLICY", "THIRD"),
            {"type": "UPDATE_CONTACT_INFO", "payload": {"phone": "512-555-0199"}},
        ]),
    )
    .await;
    wait_status(&w, &p.id, "WAITING_FOR_CONSUMER_CONFIRMATION").await;
    assert_eq!(confirm(&w, &p, &p.actions[0], true).await.status, 200);
    let got = w.hooks.wait_for(&p.id, "ERROR", 1).await;
    let v = wait_status(&w, &p.id, "VALIDATION_ERROR").await;
    let a = v["servicing_actions"].as_array().unwrap();
    assert_eq!(a[0]["status"], "SUCCESS");
    assert_eq!(a[1]["status"], "VALIDATION_ERROR");
    assert_eq!(a[1]["validation_error_type"], "INVALID_POLICY_NUMBER");
    assert_eq!(a[2]["status"], "QUEUED", "no later action is processed");
    assert_eq!(types(&got), ["AUTH_STATUS:SUCCESS", "SERVICING_WAITING_FOR_CONSUMER_CONFIRMATION", "ERROR"]);
    assert_eq!(got[2].body["data"]["type"], "VALIDATION_ERROR");
    assert_eq!(got[2].body["data"]["servicing_action_id"], p.actions[1].as_str());
    assert_signed_and_ordered(&got);
    // Nothing more happens: no COMPLETE, and the third action stays queued.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!types(&w.hooks.events_of(&p.id)).contains(&"COMPLETE".to_string()));
    assert_eq!(pull(&w, &p.id).await["servicing_actions"][2]["status"], "QUEUED");
    let r = confirm(&w, &p, &p.actions[2], true).await;
    assert_eq!(r.body["error"], "INVALID_ACTION");
}

/// Multi-factor login: options, then a code; the webhooks report each step.
async fn an_mfa_login(t: Transport) {
    let w = world(t).await;
    let p = connect(
        &w,
        "sandbox",
        "user_mfa",
        "pass_good",
        json!([{"type": "UPDATE_CONTACT_INFO", "payload": {"email": "mfa.user@example.com"}}]),
    )
    .await;
    wait_status(&w, &p.id, "IDENTITY_VERIFICATION_OPTIONS").await;
    let r = w.api.without_auth().call("GET", &format!("/widget/pull/{}", p.id), None, &[("pull-jwt", &p.jwt)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let options: Vec<&str> =
        r.body["pull"]["mfa_options"].as_array().unwrap().iter().map(|o| o["optionKey"].as_str().unwrap()).collect();
    assert_eq!(options, ["email", "sms"]);
    // A code before an option is chosen, and an option not offered, are refused.
    assert_eq!(widget(&w, &p, "idv", json!({"mfaValue": "123456"})).await.body["error"], "INVALID_ACTION");
    assert_eq!(widget(&w, &p, "idvoptions", json!({"optionKey": "pigeon"})).await.body["error"], "INVALID_INPUT");
    assert_eq!(widget(&w, &p, "idvoptions", json!({"optionKey": "sms"})).await.status, 200);
    wait_status(&w, &p.id, "IDENTITY_VERIFICATION").await;
    assert_eq!(widget(&w, &p, "idv", json!({"mfaValue": "123456"})).await.status, 200);
    let v = wait_status(&w, &p.id, "WAITING_FOR_CONSUMER_CONFIRMATION").await;
    assert_eq!(v["encountered_mfa"], true);
    let got = w.hooks.wait_for(&p.id, "SERVICING_WAITING_FOR_CONSUMER_CONFIRMATION", 1).await;
    assert_eq!(
        types(&got),
        [
            "AUTH_STATUS:IDENTITY_VERIFICATION_OPTIONS",
            "AUTH_STATUS:IDENTITY_VERIFICATION",
            "AUTH_STATUS:SUCCESS",
            "SERVICING_WAITING_FOR_CONSUMER_CONFIRMATION"
        ]
    );
    assert_signed_and_ordered(&got);
}

/// A wrong password: NOT_AUTHENTICATED with a message; reconnecting with the right one goes on.
async fn a_wrong_password(t: Transport) {
    let w = world(t).await;
    let secret_password = "wrong-password-7731";
    let p = connect(&w, "sandbox", "user_good", secret_password, json!([add_mortgagee("SBX-HOME-1", "THIRD")])).await;
    let v = wait_status(&w, &p.id, "NOT_AUTHENTICATED").await;
    assert_eq!(v["login_error_message"], "The username or password is not correct.");
    let got = w.hooks.wait_for(&p.id, "AUTH_STATUS", 1).await;
    assert_eq!(got[0].body["data"]["auth_status"], "NOT_AUTHENTICATED");
    assert_eq!(v["servicing_actions"][0]["status"], "QUEUED");
    // The password is in no response, no webhook and no stored item.
    assert!(!v.to_string().contains(secret_password));
    assert!(!got[0].body.to_string().contains(secret_password));
    let pk = format!("T#{}#P#{}", w.api.team, p.id);
    let items = w.api.store().query(&pk, "", None, 100).await.unwrap().items;
    assert!(items.len() >= 3);
    for i in &items {
        assert!(!i.body.to_string().contains(secret_password), "{} holds the password in clear", i.sk);
        assert!(
            !i.body.to_string().contains("user_good") || i.sk.starts_with("EV#"),
            "{} holds the username in clear",
            i.sk
        );
    }
    // Reconnect with the right password.
    let r = widget(
        &w,
        &p,
        "connect",
        json!({"insurerName": "sandbox", "insurerUsername": "user_good", "insurerPassword": "pass_good"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    wait_status(&w, &p.id, "WAITING_FOR_CONSUMER_CONFIRMATION").await;
}

/// The deployment's own policies: online access set on an account; the action edits its policy.
async fn own_policies_are_serviced_for_real(t: Transport) {
    let w = world(t).await;
    let account = w.api.create_account("Ana Diaz", false).await;
    let policy_number =
        format!("HO-{}", support::unique("p").replace('-', "").chars().rev().take(10).collect::<String>());
    let r = w
        .api
        .post(
            &format!("/account/v1/accounts/{account}/policies"),
            json!({"data": {"attributes": {
                "policyNumber": policy_number, "lineOfBusiness": {"code": "Homeowners"},
                "effectiveDate": "2026-01-01", "expirationDate": "2027-01-01",
                "insured": {"firstName": "Ana", "lastName": "Diaz"},
                "mortgagees": [{"name": "First Bank", "mortgageeType": {"code": "FIRST"}, "address": support::api::address("1 Main St")}]
            }}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let policy_id = r.attrs()["id"].as_str().unwrap().to_string();
    // Set in the composed spelling; the consumer logs in with the decomposed one in capitals.
    let tag = support::unique("u").replace('-', "");
    let username = format!("jos\u{e9}.{tag}");
    let other_spelling = format!("JOSE\u{301}.{}", tag.to_uppercase());
    let set_access = |account: String, name: String| {
        let api = w.api.clone();
        async move {
            let body = json!({"data": {"attributes": {"username": name, "password": "correct-horse-battery"}}});
            api.call("PUT", &format!("/account/v1/accounts/{account}/online-access"), Some(body.to_string()), &[]).await
        }
    };
    let r = set_access(account.clone(), username.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.to_string().contains("correct-horse"));
    // One name, one account: another spelling of it is taken; invisible characters are refused.
    let second = w.api.create_account("Jose Other", false).await;
    let r = set_access(second.clone(), other_spelling.clone()).await;
    assert_eq!(r.status, 409, "{}", r.body);
    for hidden in [format!("jos\u{200b}e.{tag}"), format!("jose\u{202e}.{tag}"), format!("jose.\u{0}{tag}")] {
        let r = set_access(second.clone(), hidden).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body["details"][0]["field"].as_str().unwrap().ends_with("username"), "{}", r.body);
    }
    let username = other_spelling;

    let bad =
        connect(&w, "coverdesk", &username, "not-the-password", json!([add_mortgagee(&policy_number, "SECOND")])).await;
    wait_status(&w, &bad.id, "NOT_AUTHENTICATED").await;

    let p =
        connect(&w, "coverdesk", &username, "correct-horse-battery", json!([add_mortgagee(&policy_number, "SECOND")]))
            .await;
    let v = wait_status(&w, &p.id, "WAITING_FOR_CONSUMER_CONFIRMATION").await;
    assert_eq!(v["first_name"], "Ana");
    assert_eq!(confirm(&w, &p, &p.actions[0], true).await.status, 200);
    wait_status(&w, &p.id, "SUCCESS").await;
    let r = w.api.get(&format!("/account/v1/accounts/{account}/policies/{policy_id}")).await;
    let ms: Vec<&str> = r.attrs()["mortgagees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mortgageeType"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(ms, ["FIRST", "SECOND"], "{}", r.body);

    // Revoked access: the consumer can no longer log in.
    let r = w.api.call("DELETE", &format!("/account/v1/accounts/{account}/online-access"), None, &[]).await;
    assert_eq!(r.status, 204);
    let again =
        connect(&w, "coverdesk", &username, "correct-horse-battery", json!([add_mortgagee(&policy_number, "THIRD")]))
            .await;
    wait_status(&w, &again.id, "NOT_AUTHENTICATED").await;
}

/// A receiver that fails at first gets the event on a retry; every attempt is in the log; an
/// event can be sent again on request.
async fn webhooks_retry_log_and_redeliver(t: Transport) {
    let w = world(t).await;
    w.hooks.state.lock().unwrap().fail_first = 2;
    let p = connect(&w, "sandbox", "user_good", "wrong-pass-1", json!([add_mortgagee("SBX-HOME-1", "SECOND")])).await;
    let got = w.hooks.wait_for(&p.id, "AUTH_STATUS", 1).await;
    assert_eq!(got.len(), 1);
    // The receiver has the event before the worker has recorded the attempt: wait for the log.
    let mut log = w.api.get(&format!("/teams/{}/pulls/{}/events", w.api.team, p.id)).await;
    for _ in 0..100 {
        if log.body["events"][0]["deliveries"][0]["status"] == "DELIVERED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        log = w.api.get(&format!("/teams/{}/pulls/{}/events", w.api.team, p.id)).await;
    }
    assert_eq!(log.status, 200, "{}", log.body);
    let e = &log.body["events"][0];
    let d = &e["deliveries"][0];
    assert_eq!(d["status"], "DELIVERED");
    let outcomes: Vec<&str> =
        d["attempts"].as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["FAILED", "FAILED", "DELIVERED"]);
    assert_eq!(d["attempts"][0]["status_code"], 500);

    let event_id = e["event_id"].as_str().unwrap();
    let r = w.api.post(&format!("/teams/{}/pulls/{}/events/{event_id}/redeliver", w.api.team, p.id), json!({})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let got = w.hooks.wait_for(&p.id, "AUTH_STATUS", 2).await;
    assert_eq!(got[0].body, got[1].body, "a redelivery sends the same body");
    assert!(got.iter().all(|r| r.signature_ok));

    // Endpoint management.
    let list = w.api.get(&format!("/teams/{}/webhooks", w.api.team)).await;
    let id = list.body["webhooks"][0]["webhook_id"].as_str().unwrap().to_string();
    assert!(list.body.to_string().find("whsec_").is_none(), "the secret is shown once only");
    let r = w
        .api
        .patch(
            &format!("/teams/{}/webhooks/{id}", w.api.team),
            json!({"is_active": false, "event_types": ["COMPLETE"]}),
        )
        .await;
    assert_eq!((r.status, r.body["is_active"].as_bool()), (200, Some(false)), "{}", r.body);
    let r = w.api.post(&format!("/teams/{}/webhooks", w.api.team), json!({"url": "ftp://example.com/x"})).await;
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("INVALID_INPUT")));
    let r = w.api.call("DELETE", &format!("/teams/{}/webhooks/{id}", w.api.team), None, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(w.api.get(&format!("/teams/{}/webhooks", w.api.team)).await.body["webhooks"], json!([]));
}

/// Bad input gets the servicing envelope and creates nothing; tokens and teams are checked.
async fn bad_input_and_auth_are_refused(t: Transport) {
    let w = world(t).await;
    let anon = w.api.without_auth();
    let good =
        consent_body(&w.api, "sandbox", "user_good", "pass_good", json!([add_mortgagee("SBX-HOME-1", "SECOND")]));
    let cases: Vec<(&str, Value, &str)> = vec![
        ("device_identifier", json!(null), "MISSING_DEVICE_IDENTIFIER"),
        ("consent_language", json!(""), "INVALID_CONSENT_LANGUAGE"),
        ("consent_language", json!("x".repeat(1025)), "CONSENT_LANGUAGE_TOO_LONG"),
        ("public_alias", json!("no-such-team"), "INVALID_PUBLIC_ALIAS"),
        ("insurerName", json!("acme"), "UNSUPPORTED_INSURER"),
        ("insurerName", json!("sandbox_commercial_readonly"), "UNSUPPORTED_INSURER"),
        ("insurerUsername", json!("abc"), "INVALID_USERNAME"),
        ("insurerPassword", json!("abc"), "INVALID_PASSWORD"),
        ("insurerThirdField", json!(7), "INVALID_THIRDFIELD"),
        ("servicing_actions", json!(null), "MISSING_SERVICING_ACTIONS"),
        ("servicing_actions", json!([]), "MISSING_SERVICING_ACTIONS"),
        ("servicing_actions", json!([{"type": "SELL_HOUSE", "payload": {}}]), "INVALID_SERVICING_ACTIONS"),
        ("servicing_actions", json!([{"type": "ADD_MORTGAGEE"}]), "INVALID_SERVICING_ACTIONS"),
        ("terms_version", json!("three"), "INVALID_INPUT"),
        ("surprise", json!(1), "INVALID_INPUT"),
    ];
    for (field, value, code) in cases {
        let mut body = good.clone();
        body[field] = value;
        let r = anon.post("/widget/pull/consentAndConnect", body).await;
        assert_eq!((r.status, r.body["error"].as_str()), (400, Some(code)), "{field}: {}", r.body);
    }
    let r = anon.call("POST", "/widget/pull/consentAndConnect", Some("{not json".into()), &[]).await;
    assert_eq!(r.body["error"], "INVALID_INPUT");
    assert_eq!(w.api.get(&format!("/teams/{}/pulls", w.api.team)).await.body["total_pulls"], 0, "nothing was created");

    let p = connect(&w, "sandbox", "user_good", "pass_good", json!([add_mortgagee("SBX-HOME-1", "SECOND")])).await;
    let other = connect(&w, "sandbox", "user_good", "pass_good", json!([add_mortgagee("SBX-HOME-1", "SECOND")])).await;
    let path = format!("/widget/pull/{}", p.id);
    assert_eq!(anon.get(&path).await.status, 401);
    assert_eq!(anon.call("GET", &path, None, &[("pull-jwt", "a.b.c")]).await.status, 401);
    let r = anon.call("GET", &path, None, &[("pull-jwt", &other.jwt)]).await;
    assert_eq!((r.status, r.body["error"].as_str()), (403, Some("UNAUTHORIZED")));
    // Another team cannot see or touch this team's pulls.
    let stranger = w.api.new_team().await;
    let r = stranger.get(&format!("/teams/{}/pulls/{}", w.api.team, p.id)).await;
    assert_eq!(r.status, 403);
    let r = stranger.get(&format!("/teams/{}/pulls/{}", stranger.team, p.id)).await;
    assert_eq!(r.status, 404);
    let r = stranger
        .post(
            &format!("/pull/{}/servicingAction", p.id),
            json!({"servicing_action_id": p.actions[0], "is_confirmed": true}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = w
        .api
        .post(
            &format!("/teams/{}/servicings", w.api.team),
            json!({"pull_id": "nope", "servicing_actions": [add_mortgagee("SBX-HOME-1", "SECOND")]}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = w
        .api
        .post(&format!("/teams/{}/servicings", w.api.team), json!({"pull_id": p.id, "servicing_actions": []}))
        .await;
    assert_eq!(r.body["error"], "INVALID_INPUT");
    // Once the action waits for the consumer, a confirmation is taken (the one outcome meant).
    wait_status(&w, &p.id, "WAITING_FOR_CONSUMER_CONFIRMATION").await;
    let r = confirm(&w, &p, &p.actions[0], true).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r =
        widget(&w, &p, "servicingAction", json!({"servicing_action_id": p.actions[0], "is_confirmed": "yes"})).await;
    assert_eq!(r.body["error"], "INVALID_INPUT");

    let r = anon.get("/carriers?products=commercial").await;
    assert_eq!(r.status, 200);
    let ids: Vec<&str> =
        r.body["carriers"].as_array().unwrap().iter().map(|c| c["carrier_id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"sandbox_commercial_readonly"));
    assert!(anon.get("/carriers/sandbox_commercial_readonly").await.body.get("servicingActions").is_none());
    assert_eq!(anon.get("/carriers/sandbox").await.body["servicingActions"].as_array().unwrap().len(), 9);
    assert_eq!(anon.get("/carriers/nope").await.status, 404);
    assert_eq!(anon.get("/carriers?products=boats").await.status, 400);
}

/// Issue 9: a NUL or other control character in an id is 404 or 400 in the servicing envelope on
/// every route that takes an id, never a 500.
async fn control_characters_in_ids_are_404_or_400(t: Transport) {
    let api = TestApi::new(t).await;
    let team = api.team.clone();
    for (method, path) in [
        ("GET", format!("/teams/{team}/pulls/%00")),
        ("GET", format!("/teams/{team}/pulls/%00/events")),
        ("GET", format!("/teams/{team}/pulls/p%01/events")),
        ("GET", format!("/teams/{team}/servicings/%00")),
        ("GET", format!("/teams/{team}/servicings?pull_id=%00")),
        ("PATCH", format!("/teams/{team}/webhooks/%00")),
        ("DELETE", format!("/teams/{team}/webhooks/%00")),
        ("POST", "/pull/%00/servicingAction".to_string()),
        ("GET", format!("/teams/{team}/pulls/{}", "p".repeat(3000))),
    ] {
        let body = (method != "GET" && method != "DELETE").then(|| json!({"url": "https://example.com/h"}).to_string());
        let r = api.call(method, &path, body, &[]).await;
        assert!(r.status == 404 || r.status == 400, "{method} {path}: {} {}", r.status, r.body);
        assert!(r.body["error"].is_string(), "{method} {path}: {}", r.body);
    }
}

/// Issue 23: a login that succeeds prepares the first action in the same save; its `AUTH_STATUS`
/// event still tells the state the login left (`SERVICING`), the next the one after. When that
/// first action cannot be prepared (no such policy), the login is saved alone and the next step
/// stops the pull with its `ERROR`, as before the two were saved together.
async fn a_login_and_the_first_preparation_are_told_apart(t: Transport) {
    let w = world(t).await;
    let user = format!("user_{}", support::unique("x").replace('-', ""));
    let p = connect(&w, "sandbox", &user, "pass_good", json!([add_mortgagee("SBX-HOME-1", "SECOND")])).await;
    let got = w.hooks.wait_for(&p.id, "SERVICING_WAITING_FOR_CONSUMER_CONFIRMATION", 1).await;
    assert_eq!(types(&got), ["AUTH_STATUS:SUCCESS", "SERVICING_WAITING_FOR_CONSUMER_CONFIRMATION"]);
    assert_eq!(got[0].body["status"], "SERVICING");
    assert_eq!(got[1].body["status"], "WAITING_FOR_CONSUMER_CONFIRMATION");
    assert_signed_and_ordered(&got);

    let user = format!("user_{}", support::unique("x").replace('-', ""));
    let refused = json!([add_mortgagee("NO-SUCH-POLICY", "SECOND"), add_mortgagee("SBX-HOME-1", "THIRD")]);
    let p = connect(&w, "sandbox", &user, "pass_good", refused).await;
    let got = w.hooks.wait_for(&p.id, "ERROR", 1).await;
    assert_eq!(types(&got), ["AUTH_STATUS:SUCCESS", "ERROR"]);
    assert_eq!(
        (got[0].body["status"].as_str(), got[1].body["status"].as_str()),
        (Some("SERVICING"), Some("VALIDATION_ERROR"))
    );
    assert_eq!(got[1].body["data"]["servicing_action_id"], p.actions[0].as_str());
    let v = wait_status(&w, &p.id, "VALIDATION_ERROR").await;
    assert_eq!(v["servicing_actions"][0]["validation_error_type"], "INVALID_POLICY_NUMBER");
    assert_eq!(v["servicing_actions"][1]["status"], "QUEUED");
}

/// Issue 23: what the consumer page's poll costs: the pull and its actions in one query of the
/// pull's partition (no read of the pull apart), however many actions it has.
async fn reading_a_pull_is_one_query(t: Transport) {
    let w = world(t).await;
    let user = format!("user_{}", support::unique("x").replace('-', ""));
    let email = |n: u32| json!({"type": "UPDATE_CONTACT_INFO", "payload": {"email": format!("n{n}@example.com")}});
    let p = connect(&w, "sandbox", &user, "pass_good", json!([email(1), email(2), email(3)])).await;
    let shown = wait_status(&w, &p.id, "WAITING_FOR_CONSUMER_CONFIRMATION").await;
    let counting = support::CountingStore::counting(w.api.store());
    let svc = coverdesk::servicing::service::Servicing::new(&counting, &w.api.deps.keys, &w.api.deps.catalogue);
    let read = svc.get_pull(&w.api.team, &p.id).await.unwrap();
    assert_eq!(counting.take(), (0, 1, 0), "one query, no read apart");
    assert_eq!(counting.items.load(std::sync::atomic::Ordering::SeqCst), 4, "the pull and its three actions");
    assert_eq!(read["servicing_actions"].as_array().map(Vec::len), Some(3));
    assert_eq!(read["servicing_actions"], shown["servicing_actions"]);
}

both_stores!(
    three_actions_confirm_reject_confirm,
    a_validation_error_stops_the_pull,
    an_mfa_login,
    a_wrong_password,
    own_policies_are_serviced_for_real,
    webhooks_retry_log_and_redeliver,
    bad_input_and_auth_are_refused,
    control_characters_in_ids_are_404_or_400,
    reading_a_pull_is_one_query,
    a_login_and_the_first_preparation_are_told_apart,
);

/// A worker that died holding a job: the job is taken up again once its lease runs out, and the
/// pull goes on from where it stood.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_left_by_a_dead_worker_is_taken_up_after_its_lease() {
    let (store, _dir) = support::embedded_store();
    let deps = support::test_deps(store.clone());
    coverdesk::auth::ensure_team(store.as_ref(), "crash", "crash-team", "secret-secret").await.unwrap();
    let svc = coverdesk::servicing::service::Servicing::new(store.as_ref(), &deps.keys, &deps.catalogue);
    let created = svc
        .consent_and_connect(
            input::consent(&json!({
                "device_identifier": "d", "terms_version": 1, "consent_language": "ok", "public_alias": "crash-team",
                "insurerName": "sandbox", "insurerUsername": "user_good", "insurerPassword": "pass_good",
                "servicing_actions": [add_mortgagee("SBX-HOME-1", "SECOND")]
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    // A worker claimed the job and died: the lease is someone else's for a while.
    let pk = format!("JOB#crash#{}", created.pull_id);
    let job = store.get(&pk, "JOB").await.unwrap().unwrap();
    let lease_until = chrono::Utc::now().timestamp_millis() + 400;
    let mut body = job.body.clone();
    body["lease_until_ms"] = json!(lease_until);
    let claimed = coverdesk::store::Item::new(pk.clone(), "JOB", job.version + 1, body)
        .with_index("JOBS", format!("{lease_until:015}#crash#{}", created.pull_id));
    store
        .transact(vec![coverdesk::store::Write::Put {
            item: claimed,
            cond: coverdesk::store::Cond::Version(job.version),
        }])
        .await
        .unwrap();
    let team = coverdesk::accounts::TeamId::new("crash");
    let worker = deps.worker();
    worker.run_job(&team, &created.pull_id).await.unwrap();
    let (p, _) = svc.load_pull(&team, &created.pull_id).await.unwrap();
    assert_eq!(p.status.code(), "QUEUED", "a leased job is left alone");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(worker.sweep().await.unwrap(), 1);
    let (p, _) = svc.load_pull(&team, &created.pull_id).await.unwrap();
    assert_eq!(p.status.code(), "WAITING_FOR_CONSUMER_CONFIRMATION");
    // Nothing left to do: the job is gone until the consumer answers.
    assert!(store.get(&pk, "JOB").await.unwrap().is_none());
    // Applying the same action twice (a worker dying after the carrier call) applies it once.
    let conn = coverdesk::servicing::connector::by_name("sandbox", store.clone(), deps.keys.clone()).unwrap();
    let (actions, _): (Vec<_>, Vec<_>) = svc.load_actions(&team, &created.pull_id).await.unwrap().into_iter().unzip();
    conn.apply(&team, "user_good", &actions[0]).await.unwrap();
    conn.apply(&team, "user_good", &actions[0]).await.unwrap();
    let prepared = conn.prepare(&team, "user_good", &actions[0]).await;
    assert!(
        matches!(&prepared, Err(coverdesk::servicing::connector::ConnectorError::Invalid(i)) if i.kind == "DUPLICATE_MORTGAGEE_TYPE"),
        "applied once: {prepared:?}"
    );
}

/// A consent older than 90 days cannot be reused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_consent_cannot_be_reused() {
    let (store, _dir) = support::embedded_store();
    let deps = support::test_deps(store.clone());
    coverdesk::auth::ensure_team(store.as_ref(), "old", "old-team", "secret-secret").await.unwrap();
    let svc = coverdesk::servicing::service::Servicing::new(store.as_ref(), &deps.keys, &deps.catalogue);
    let body = json!({
        "device_identifier": "d", "terms_version": 1, "consent_language": "ok", "public_alias": "old-team",
        "insurerName": "sandbox", "insurerUsername": "user_good", "insurerPassword": "pass_good",
        "servicing_actions": [add_mortgagee("SBX-HOME-1", "SECOND")]
    });
    let created = svc.consent_and_connect(input::consent(&body).unwrap()).await.unwrap();
    let again = json!({"pull_id": created.pull_id, "servicing_actions": [add_mortgagee("SBX-HOME-1", "THIRD")]});
    let team = coverdesk::accounts::TeamId::new("old");
    let mut later = coverdesk::servicing::service::Servicing::new(store.as_ref(), &deps.keys, &deps.catalogue);
    later.now += chrono::Duration::days(89);
    assert!(later.create_servicing(&team, input::servicing(&again).unwrap()).await.is_ok());
    later.now += chrono::Duration::days(2);
    let e = later.create_servicing(&team, input::servicing(&again).unwrap()).await.err().unwrap();
    assert!(matches!(e, coverdesk::servicing::ServicingError::Invalid { code: "PULL_TOO_OLD", .. }), "{e:?}");
}

/// Issue 9: a store that is throttling or down while the credentials are checked is 503 with
/// Retry-After on every API, in that API's envelope; never 401.
async fn a_store_failure_during_authentication_is_503_not_401(backend: support::Backend) {
    let under = support::store_for(backend).await;
    let client = support::unique("flaky");
    let (team, secret) =
        coverdesk::auth::create_team(under.store.as_ref(), "flaky", Some(&client), None, None).await.unwrap();
    let flaky = Arc::new(support::FlakyStore::flaky(under.store.clone(), false));
    let deps = support::test_deps(flaky.clone());
    let call = |path: &'static str, method: &'static str, auth: String| {
        let deps = deps.clone();
        let path = path.replace("{team}", team.team_id.as_str());
        async move {
            let (path, query) = match path.split_once('?') {
                Some((p, q)) => (p.to_string(), Some(q.to_string())),
                None => (path, None),
            };
            let mut headers = http::HeaderMap::new();
            headers.insert("authorization", auth.parse().unwrap());
            let req = coverdesk::api::ApiRequest {
                method: method.parse().unwrap(),
                path,
                query,
                headers,
                body: Bytes::new(),
            };
            coverdesk::api::handle(&deps, req).await
        }
    };
    let routes = [
        ("GET", "/teams/{team}/pulls"),
        ("GET", "/teams/{team}/webhooks"),
        ("POST", "/pull/some-pull/servicingAction"),
        ("GET", "/import/v1/tax-rules/CA"),
        ("GET", "/import/v1/transactions/some-id"),
        ("GET", "/import/v1/transaction-import-results?batch_id=b"),
        ("GET", "/account/v1/accounts/pc:1"),
    ];
    let good = support::api::basic(&client, &secret);
    let wrong = support::api::basic(&client, "not-the-secret");
    flaky.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    for (method, path) in routes {
        let r = call(path, method, good.clone()).await;
        assert_eq!(r.status, 503, "{method} {path}: {}", String::from_utf8_lossy(&r.body));
        assert!(r.headers.iter().any(|(k, v)| *k == "retry-after" && v == "1"), "{method} {path}");
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        if path.starts_with("/account/") {
            assert_eq!(body["status"], 503);
        } else {
            assert_eq!(body["error"], "SERVICE_UNAVAILABLE", "{method} {path}: {body}");
        }
    }
    flaky.failing.store(false, std::sync::atomic::Ordering::SeqCst);
    for (method, path) in routes {
        assert_eq!(call(path, method, wrong.clone()).await.status, 401, "{method} {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_store_failure_during_authentication_is_503() {
    a_store_failure_during_authentication_is_503_not_401(support::Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_store_failure_during_authentication_is_503() {
    a_store_failure_during_authentication_is_503_not_401(support::Backend::Dynamo).await;
}
