//! Why one file of ~1050 lines: one suite per API, sharing its helpers and its two targets.
//!
//! Black-box tests of the account API. Every test runs twice: against the local server (HTTP,
//! embedded store) and against the Lambda handlers (API Gateway v2 events, DynamoDB Local).

#[macro_use]
mod support;

use coverdesk::accounts::parse_id;
use serde_json::{json, Value};
use support::api::{address, basic, new_account_body, Resp, TestApi, Transport};

const A: &str = "/account/v1/accounts";

fn detail_messages(r: &Resp) -> String {
    r.body["details"]
        .as_array()
        .map(|d| d.iter().map(|x| x["message"].as_str().unwrap_or("").to_string()).collect::<Vec<_>>().join(" | "))
        .unwrap_or_default()
}

/// The original's "Preventing duplicate database transactions": 400 with this error.
const ALREADY_EXECUTED: &str = "gw.api.webservice.exception.AlreadyExecutedException";

fn assert_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["status"], json!(status));
    // A code named in full (another package of the original's) is compared as it is.
    let code = if code.starts_with("gw.") { code.to_string() } else { format!("gw.api.rest.exceptions.{code}") };
    assert_eq!(r.body["errorCode"], json!(code), "{}", r.body);
    assert!(
        r.body["userMessage"].is_string() && r.body["developerMessage"].is_string() && r.body["details"].is_array()
    );
}

/// A second contact (a company) on the account `id`.
async fn add_bank_contact(api: &TestApi, id: &str) -> Resp {
    let body = json!({"data": {"attributes": {"contactSubtype": "Company", "companyName": "Big Bank"}}});
    let c = api.post(&format!("{A}/{id}/contacts"), body).await;
    assert_eq!(c.status, 201, "{}", c.body);
    c
}

async fn total(api: &TestApi) -> u64 {
    api.get(&format!("{A}?includeTotal=true&pageSize=1")).await.body["total"].as_u64().unwrap()
}

fn auto_policy(number: &str) -> Value {
    json!({"data": {"attributes": {
        "policyNumber": number, "lineOfBusiness": {"code": "PersonalAuto"},
        "effectiveDate": "2026-01-01", "expirationDate": "2027-01-01",
        "totalPremium": {"amount": "1250.40", "currency": "usd"},
        "insured": {"firstName": "Ray", "lastName": "Newton", "emailAddress1": "ray@example.com", "primaryPhone": "+1 650-555-0100", "primaryAddress": address("1 Main St")},
        "drivers": [{"firstName": "Ray", "lastName": "Newton", "dateOfBirth": "1980-04-02", "licenseNumber": "D1234567", "licenseState": {"code": "CA"}}],
        "vehicles": [{"vin": "1M8GDM9AXKP042788", "make": "Honda", "model": "Civic", "modelYear": 2020,
                      "lienHolders": [{"name": "First Auto Credit", "address": address("9 Bank Rd")}]}]
    }}})
}

fn home_policy(number: &str) -> Value {
    json!({"data": {"attributes": {
        "policyNumber": number, "lineOfBusiness": {"code": "Homeowners"},
        "effectiveDate": "2026-01-01", "expirationDate": "2027-01-01",
        "insured": {"firstName": "Ray", "lastName": "Newton"},
        "mortgagees": [{"name": "Big Bank", "mortgageeType": {"code": "FIRST"}, "loanNumber": "L-1", "address": address("5 Loan Ln")}]
    }}})
}

// ---- create, read, list ----

async fn creating_an_account_returns_201_in_the_original_envelope(api: &TestApi) {
    let r = api.post(A, new_account_body("Ray Newton", false)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let a = r.attrs();
    let id = a["id"].as_str().unwrap();
    assert!(parse_id(id).is_some(), "{id}");
    assert_eq!(r.header("location"), Some(format!("{A}/{id}").as_str()));
    let number = a["accountNumber"].as_str().unwrap();
    assert!(number.len() == 10 && number.bytes().all(|b| b.is_ascii_digit()), "{number}");
    assert_eq!(a["accountStatus"], json!({"code": "Pending", "name": "Pending"}));
    assert_eq!(a["accountHolder"]["displayName"], "Ray Newton");
    assert_eq!(a["organizationType"]["code"], "individual");
    assert_eq!(a["numberOfContacts"], "1");
    assert_eq!(a["producerCodes"][0]["id"], "pc:16");
    assert_eq!(a["preferredCoverageCurrency"]["code"], "usd");
    assert!(a["primaryLocation"]["displayName"].as_str().unwrap().starts_with("1: 1253 Paloma Ave"));
    assert_eq!(r.checksum(), "1");
    let got = api.get(&format!("{A}/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, r.body);
    // The holder and the primary location are real sub-resources.
    let holder = api.get(a["accountHolder"]["uri"].as_str().unwrap()).await;
    assert_eq!(holder.status, 200);
    assert_eq!(holder.attrs()["accountHolder"], true);
    assert_eq!(holder.attrs()["emailAddress1"], "holder@example.com");
    let loc = api.get(a["primaryLocation"]["uri"].as_str().unwrap()).await;
    assert_eq!(loc.attrs()["primaryLocation"], true);
}

async fn a_company_account_needs_a_company_name(api: &TestApi) {
    let id = api.create_account("Acme Roofing LLC", true).await;
    let r = api.get(&format!("{A}/{id}")).await;
    assert_eq!(r.attrs()["accountHolder"]["type"], "Company");
    assert!(r.attrs().get("organizationType").is_none());
    let mut body = new_account_body("x", true);
    body["data"]["attributes"]["initialAccountHolder"]["firstName"] = json!("Bob");
    let r = api.post(A, body).await;
    assert_error(&r, 400, "BadInputException");
    assert!(detail_messages(&r).contains("Person"), "{}", r.body);
}

async fn invalid_creates_get_400_with_every_problem_and_write_nothing(api: &TestApi) {
    let before = total(api).await;
    let bodies = vec![
        json!({}),
        json!({"data": {"attributes": {}}}),
        json!({"data": {"attributes": {"initialAccountHolder": {"contactSubtype": "Robot"}, "initialPrimaryLocation": address("x"), "producerCodes": [{"id": "p"}]}}}),
        json!({"data": {"attributes": {"initialAccountHolder": {"contactSubtype": "Person", "firstName": "A", "lastName": "B", "primaryAddress": {"addressLine1": "1", "city": "c", "state": {"code": "ZZ"}, "postalCode": "123"}}, "initialPrimaryLocation": address("x"), "producerCodes": []}}}),
        json!({"data": {"attributes": {"initialAccountHolder": {"contactSubtype": "Person", "firstName": 7, "lastName": "B"}, "initialPrimaryLocation": address("x"), "producerCodes": [{"id": "p"}], "extra": 1}}}),
        json!([1, 2, 3]),
        json!({"data": {"attributes": {"initialAccountHolder": null, "initialPrimaryLocation": "here", "producerCodes": {"id": 1}}}}),
    ];
    for b in bodies {
        let r = api.post(A, b.clone()).await;
        assert_error(&r, 400, "BadInputException");
        assert!(!r.body["details"].as_array().unwrap().is_empty(), "{b} -> {}", r.body);
    }
    let mut with_null = new_account_body("Ray Newton", false);
    with_null["data"]["attributes"]["initialAccountHolder"]["emailAddress1"] = Value::Null;
    let r = api.post(A, with_null).await;
    assert_error(&r, 400, "BadInputException");
    assert_eq!(r.body["details"][0]["field"], "body.data.attributes.initialAccountHolder.emailAddress1", "{}", r.body);
    assert!(detail_messages(&r).contains("must not be null"));
    let r = api.call("POST", A, Some("{not json".into()), &[]).await;
    assert_error(&r, 400, "BadInputException");
    let r = api.call("POST", A, None, &[]).await;
    assert_error(&r, 400, "BadInputException");
    assert_eq!(total(api).await, before);
}

async fn listing_pages_filters_and_links(api: &TestApi) {
    let api = api.new_team().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(api.create_account(&format!("Person{i} Test"), i == 6).await);
    }
    api.post_empty(&format!("{A}/{}/withdraw", ids[1])).await;
    let r = api.get(&format!("{A}?pageSize=3&includeTotal=true")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["count"], 3);
    assert_eq!(r.body["total"], 7);
    let got: Vec<&str> =
        r.body["data"].as_array().unwrap().iter().map(|d| d["attributes"]["id"].as_str().unwrap()).collect();
    assert_eq!(got, ids[..3].iter().map(String::as_str).collect::<Vec<_>>());
    let next = r.body["links"]["next"]["href"].as_str().unwrap().to_string();
    assert!(r.body["links"].get("prev").is_none());
    let r2 = api.get(&next).await;
    assert_eq!(r2.body["data"][0]["attributes"]["id"], json!(ids[3]));
    assert!(r2.body["links"]["prev"].is_object());
    let last = api.get(&format!("{A}?pageSize=3&pageOffset=6")).await;
    assert_eq!(last.body["count"], 1);
    assert!(last.body["links"].get("next").is_none());

    let w = api.get(&format!("{A}?filter=accountStatus:eq:Withdrawn")).await;
    assert_eq!(w.body["count"], 1);
    assert_eq!(w.body["data"][0]["attributes"]["id"], json!(ids[1]));
    let ne = api.get(&format!("{A}?filter=accountStatus:ne:Withdrawn&includeTotal=true")).await;
    assert_eq!(ne.body["total"], 6);
    let inn = api.get(&format!("{A}?filter=id:in:{},{}", ids[0], ids[4])).await;
    assert_eq!(inn.body["count"], 2);
    let number = api.get(&format!("{A}/{}", ids[2])).await.attrs()["accountNumber"].as_str().unwrap().to_string();
    let sw = api.get(&format!("{A}?filter=accountNumber:sw:{}", &number[..9])).await;
    assert!(sw.body["data"].as_array().unwrap().iter().any(|d| d["attributes"]["accountNumber"] == json!(number)));
    let both = api
        .get(&format!("{A}?filter=accountStatus:eq:Pending&filter=organizationType:eq:individual&includeTotal=true"))
        .await;
    assert_eq!(both.body["total"], 5);
    let filtered_next = api.get(&format!("{A}?filter=accountStatus:eq:Pending&pageSize=2")).await;
    let href = filtered_next.body["links"]["next"]["href"].as_str().unwrap();
    assert!(href.contains("filter=accountStatus%3Aeq%3APending"), "{href}");
    assert_eq!(api.get(href).await.body["count"], 2);

    for bad in [
        "pageSize=0",
        "pageSize=101",
        "pageOffset=-1",
        "includeTotal=yes",
        "filter=colour:eq:red",
        "filter=accountStatus:like:x",
        "filter=nonsense",
        "sort=colour",
    ] {
        let r = api.get(&format!("{A}?{bad}")).await;
        assert_error(&r, 400, "BadInputException");
    }
}

// ---- PATCH and checksums ----

async fn the_seed_patch_changes_both_currencies_to_cad(api: &TestApi) {
    let id = api.create_account("Ray Newton", false).await;
    let r = api.patch(&format!("{A}/{id}"), json!({"data": {"attributes": {"preferredCoverageCurrency": {"code": "cad"}, "preferredSettlementCurrency": {"code": "cad"}}}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.attrs()["preferredCoverageCurrency"], json!({"code": "cad", "name": "CAD"}));
    assert_eq!(r.attrs()["preferredSettlementCurrency"], json!({"code": "cad", "name": "CAD"}));
    assert_eq!(r.checksum(), "2");
    assert_eq!(api.get(&format!("{A}/{id}")).await.body, r.body);
}

async fn patch_sets_other_attributes_and_refuses_unknown_ones_changing_nothing(api: &TestApi) {
    let id = api.create_account("Ray Newton", false).await;
    let loc = api.post(&format!("{A}/{id}/locations"), json!({"data": {"attributes": address("77 Second St")}})).await;
    assert_eq!(loc.status, 201, "{}", loc.body);
    assert_eq!(loc.attrs()["locationCode"], "2");
    let loc_id = loc.attrs()["id"].as_str().unwrap().to_string();
    let r = api.patch(&format!("{A}/{id}"), json!({"data": {"attributes": {
        "organizationType": {"code": "llc"}, "producerCodes": [{"id": "P-1"}, {"id": "P-2"}], "primaryLocation": {"id": loc_id},
        "businessOperationsDescription": "Roofing", "yearBusinessStarted": 1999}}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.attrs()["organizationType"]["code"], "llc");
    assert_eq!(r.attrs()["producerCodes"].as_array().unwrap().len(), 2);
    assert_eq!(r.attrs()["primaryLocation"]["id"], json!(loc_id));
    assert_eq!(r.attrs()["yearBusinessStarted"], 1999);
    let before = api.get(&format!("{A}/{id}")).await.body;
    for bad in [
        json!({"data": {"attributes": {"preferredCoverageCurrency": {"code": "cad"}, "favouriteColour": "red"}}}),
        json!({"data": {"attributes": {"preferredCoverageCurrency": {"code": "cad"}, "preferredSettlementCurrency": {"code": "xyz"}}}}),
        json!({"data": {"attributes": {"preferredCoverageCurrency": {"code": "CAD"}}}}),
        json!({"data": {"attributes": {"preferredCoverageCurrency": "cad"}}}),
        json!({"data": {"attributes": {"accountStatus": {"code": "Active"}}}}),
        json!({"data": {"attributes": {"accountNumber": "1234567890"}}}),
        json!({"data": {"attributes": {"primaryLocation": {"id": "pc:999999"}}}}),
        json!({"data": {"attributes": {"yearBusinessStarted": 3000}}}),
        json!({"data": {}}),
        json!({"attributes": {}}),
    ] {
        let r = api.patch(&format!("{A}/{id}"), bad.clone()).await;
        assert_error(&r, 400, "BadInputException");
        assert_eq!(api.get(&format!("{A}/{id}")).await.body, before, "{bad} changed the account");
    }
}

async fn a_stale_checksum_gets_409_and_changes_nothing(api: &TestApi) {
    let id = api.create_account("Ray Newton", false).await;
    let fresh = api.get(&format!("{A}/{id}")).await.checksum();
    let ok = api
        .patch(
            &format!("{A}/{id}"),
            json!({"data": {"checksum": fresh, "attributes": {"preferredCoverageCurrency": {"code": "eur"}}}}),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let before = api.get(&format!("{A}/{id}")).await.body;
    let stale = api
        .patch(
            &format!("{A}/{id}"),
            json!({"data": {"checksum": fresh, "attributes": {"preferredCoverageCurrency": {"code": "gbp"}}}}),
        )
        .await;
    assert_error(&stale, 409, "gw.api.modules.rest.framework.v1.exceptions.ConcurrentModificationException");
    assert!(stale.body["developerMessage"]
        .as_str()
        .unwrap()
        .contains(&format!("The supplied checksum '{fresh}' does not match the current checksum")));
    // The original's detail: the resource's uri and both checksums, by name.
    let current = api.get(&format!("{A}/{id}")).await.checksum();
    assert_eq!(
        stale.body["details"][0]["properties"],
        json!({"uri": format!("/account/v1/accounts/{id}"), "currentChecksum": current, "suppliedChecksum": fresh}),
        "{}",
        stale.body
    );
    let w = api.call("POST", &format!("{A}/{id}/withdraw"), None, &[("GW-Checksum", &fresh)]).await;
    assert_error(&w, 409, "gw.api.modules.rest.framework.v1.exceptions.ConcurrentModificationException");
    assert_eq!(api.get(&format!("{A}/{id}")).await.body, before);
    let current = api.get(&format!("{A}/{id}")).await.checksum();
    let w = api.call("POST", &format!("{A}/{id}/withdraw"), None, &[("GW-Checksum", &current)]).await;
    assert_eq!(w.status, 200, "{}", w.body);
}

// ---- withdraw and reopen ----

async fn withdraw_and_reopen_follow_the_status_rules(api: &TestApi) {
    let id = api.create_account("Ray Newton", false).await;
    let r = api.post_empty(&format!("{A}/{id}/reopen")).await;
    assert_error(&r, 400, "BadInputException");
    assert_eq!(r.body["userMessage"], "Cannot take action 'reopen'. See the details element for further information.");
    assert!(
        detail_messages(&r).contains("status is 'Pending' but must be in one of the following statuses: Withdrawn."),
        "{}",
        r.body
    );
    let w = api.post_empty(&format!("{A}/{id}/withdraw")).await;
    assert_eq!(w.status, 200, "{}", w.body);
    assert_eq!(w.attrs()["accountStatus"]["code"], "Withdrawn");
    assert!(w.body["data"]["links"]["reopen"].is_object());
    let again = api.post_empty(&format!("{A}/{id}/withdraw")).await;
    assert_error(&again, 400, "BadInputException");
    assert!(detail_messages(&again)
        .contains("status is 'Withdrawn' but must be in one of the following statuses: Pending."));
    let o = api.post_empty(&format!("{A}/{id}/reopen")).await;
    assert_eq!(o.status, 200);
    assert_eq!(o.attrs()["accountStatus"]["code"], "Pending");
    let body = api.call("POST", &format!("{A}/{id}/withdraw"), Some("{\"x\":1}".into()), &[]).await;
    assert_error(&body, 400, "BadInputException");
}

async fn an_account_with_a_policy_is_active_and_cannot_be_withdrawn(api: &TestApi) {
    let id = api.create_account("Ray Newton", false).await;
    let p = api.post(&format!("{A}/{id}/policies"), auto_policy(&format!("PA-{}", support::unique("n")))).await;
    assert_eq!(p.status, 201, "{}", p.body);
    let a = api.get(&format!("{A}/{id}")).await;
    assert_eq!(a.attrs()["accountStatus"]["code"], "Active");
    let r = api.post_empty(&format!("{A}/{id}/withdraw")).await;
    assert_error(&r, 400, "BadInputException");
    assert_eq!(
        r.body["userMessage"],
        "Cannot take action 'withdraw'. See the details element for further information."
    );
    assert!(
        detail_messages(&r).contains("status is 'Active' but must be in one of the following statuses: Pending."),
        "{}",
        r.body
    );
    assert_eq!(api.get(&format!("{A}/{id}")).await.body, a.body);
}

async fn a_withdrawn_account_refuses_notes_policies_activities_and_merges(api: &TestApi) {
    let id = api.create_account("Ray Newton", false).await;
    let other = api.create_account("Ann Other", false).await;
    api.post_empty(&format!("{A}/{id}/withdraw")).await;
    let n = api.post(&format!("{A}/{id}/notes"), json!({"data": {"attributes": {"body": "hello"}}})).await;
    assert_error(&n, 400, "BadInputException");
    assert!(n.body["userMessage"].as_str().unwrap().starts_with("Cannot take action 'createNote'"));
    let p = api.post(&format!("{A}/{id}/policies"), home_policy(&support::unique("H"))).await;
    assert_error(&p, 400, "BadInputException");
    let act = api.post(&format!("{A}/{id}/activities"), json!({"data": {"attributes": {"subject": "call"}}})).await;
    assert_error(&act, 400, "BadInputException");
    for (t, s) in [(&id, &other), (&other, &id)] {
        let m = api.post(&format!("{A}/{t}/merge"), json!({"data": {"attributes": {"account": {"id": s}}}})).await;
        assert_error(&m, 400, "BadInputException");
        assert!(m.body["userMessage"].as_str().unwrap().starts_with("Cannot take action 'merge'"));
        assert!(
            detail_messages(&m).contains("'Withdrawn' but must be in one of the following statuses: Pending, Active.")
        );
    }
    assert_eq!(api.get(&format!("{A}/{id}/notes")).await.body["count"], 0);
    assert_eq!(api.get(&format!("{A}/{other}")).await.status, 200);
}

// ---- merge ----

async fn populate(api: &TestApi, id: &str, tag: &str) {
    assert_eq!(api.post(&format!("{A}/{id}/notes"), json!({"data": {"attributes": {"body": format!("note {tag}"), "subject": "s", "topic": {"code": "underwriting"}}}})).await.status, 201);
    assert_eq!(api.post(&format!("{A}/{id}/activities"), json!({"data": {"attributes": {"subject": format!("call {tag}"), "priority": {"code": "high"}, "dueDate": "2026-12-01"}}})).await.status, 201);
    assert_eq!(
        api.post(
            &format!("{A}/{id}/contacts"),
            json!({"data": {"attributes": {"contactSubtype": "Person", "firstName": "Co", "lastName": tag}}})
        )
        .await
        .status,
        201
    );
    assert_eq!(api.post(&format!("{A}/{id}/policies"), home_policy(&support::unique(tag))).await.status, 201);
}

async fn count(api: &TestApi, id: &str, sub: &str) -> u64 {
    let r = api.get(&format!("{A}/{id}/{sub}?includeTotal=true&pageSize=1")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["total"].as_u64().unwrap()
}

async fn merging_moves_everything_and_deletes_the_source(api: &TestApi) {
    let target = api.create_account("Tara Target", false).await;
    let source = api.create_account("Sam Source", false).await;
    populate(api, &target, "t").await;
    populate(api, &source, "s").await;
    let r =
        api.post(&format!("{A}/{target}/merge"), json!({"data": {"attributes": {"account": {"id": source}}}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.attrs()["id"], json!(target));
    assert_eq!(r.attrs()["numberOfContacts"], "4");
    assert_eq!(api.get(&format!("{A}/{source}")).await.status, 404);
    assert_eq!(api.get(&format!("{A}/{source}/notes")).await.status, 404);
    for (sub, n) in [("notes", 2), ("activities", 2), ("contacts", 4), ("policies", 2), ("jobs", 2), ("locations", 2)] {
        assert_eq!(count(api, &target, sub).await, n, "{sub}");
    }
    let locs = api.get(&format!("{A}/{target}/locations")).await;
    let codes: Vec<&str> = locs.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["attributes"]["locationCode"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["1", "2"]);
    let listed = api.get(&format!("{A}?filter=id:eq:{source}")).await;
    assert_eq!(listed.body["count"], 0);
    // The source's account number is free again and its holder is now a contact of the target.
    let contacts = api.get(&format!("{A}/{target}/contacts")).await;
    assert!(contacts.body["data"].as_array().unwrap().iter().any(|c| c["attributes"]["displayName"] == "Sam Source"));
}

async fn merge_refuses_itself_unknown_sources_and_mixed_subtypes(api: &TestApi) {
    let person = api.create_account("Pat Person", false).await;
    let company = api.create_account("Co Inc", true).await;
    let body = |id: &str| json!({"data": {"attributes": {"account": {"id": id}}}});
    let r = api.post(&format!("{A}/{person}/merge"), body(&person)).await;
    assert_error(&r, 400, "BadInputException");
    assert!(detail_messages(&r).contains("itself"));
    let r = api.post(&format!("{A}/{person}/merge"), body(&company)).await;
    assert_error(&r, 400, "BadInputException");
    assert!(detail_messages(&r).contains("same contact subtype"), "{}", r.body);
    let r = api.post(&format!("{A}/{person}/merge"), body("pc:99999999")).await;
    assert_error(&r, 400, "BadInputException");
    let r = api.post(&format!("{A}/pc:99999999/merge"), body(&person)).await;
    assert_error(&r, 404, "NotFoundException");
    for bad in [
        json!({}),
        json!({"data": {"attributes": {"account": {"id": "477"}}}}),
        json!({"data": {"attributes": {"account": "pc:1"}}}),
    ] {
        assert_error(&api.post(&format!("{A}/{person}/merge"), bad).await, 400, "BadInputException");
    }
    assert_eq!(api.get(&format!("{A}/{company}")).await.status, 200);
    assert_eq!(api.get(&format!("{A}/{person}")).await.attrs()["numberOfContacts"], "1");
}

async fn a_merge_of_500_children_moves_them_all(api: &TestApi) {
    let target = api.create_account("Tara Target", false).await;
    let source = api.create_account("Sam Source", false).await;
    for i in 0..250 {
        let r =
            api.post(&format!("{A}/{source}/notes"), json!({"data": {"attributes": {"body": format!("n{i}")}}})).await;
        assert_eq!(r.status, 201);
        let r = api
            .post(&format!("{A}/{source}/activities"), json!({"data": {"attributes": {"subject": format!("a{i}")}}}))
            .await;
        assert_eq!(r.status, 201);
    }
    let r =
        api.post(&format!("{A}/{target}/merge"), json!({"data": {"attributes": {"account": {"id": source}}}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(count(api, &target, "notes").await, 250);
    assert_eq!(count(api, &target, "activities").await, 250);
    assert_eq!(api.get(&format!("{A}/{source}")).await.status, 404);
    // Nothing of the source is left in the store.
    let left =
        api.store().query(&format!("T#{}#A#{}", api.team, parse_id(&source).unwrap()), "", None, 10).await.unwrap();
    assert!(left.items.is_empty(), "{:?}", left.items.len());
}

/// Needs the `fault-injection` feature (the test command turns it on): the injection point is not
/// part of a production build's API.
#[cfg(feature = "fault-injection")]
async fn a_merge_interrupted_half_way_is_invisible_and_completes_when_retried(api: &TestApi) {
    use coverdesk::accounts::merge::MergeFault;
    use coverdesk::accounts::Accounts;
    let target = api.create_account("Tara Target", false).await;
    let source = api.create_account("Sam Source", false).await;
    for i in 0..230 {
        assert_eq!(
            api.post(&format!("{A}/{source}/notes"), json!({"data": {"attributes": {"body": format!("n{i}")}}}))
                .await
                .status,
            201
        );
    }
    let (t, s) = (parse_id(&target).unwrap(), parse_id(&source).unwrap());
    let store = api.store();
    let svc = Accounts::new(store.as_ref(), &api.team);
    // The process "dies" after the first of three copy transactions.
    let cut = svc.merge_with_fault(t, s, None, None, MergeFault { stop_after_copy_batches: Some(1) }).await;
    assert!(cut.is_err());
    // Readers see the merge not at all: the source whole, the target without copies.
    assert_eq!(api.get(&format!("{A}/{source}")).await.status, 200);
    assert_eq!(count(api, &source, "notes").await, 230);
    assert_eq!(count(api, &target, "notes").await, 0);
    assert_eq!(api.get(&format!("{A}/{target}")).await.attrs()["numberOfContacts"], "1");
    // Writers are told to finish the merge first.
    let n = api.post(&format!("{A}/{target}/notes"), json!({"data": {"attributes": {"body": "x"}}})).await;
    assert_error(&n, 409, "ConflictException");
    let w = api.post_empty(&format!("{A}/{source}/withdraw")).await;
    assert_error(&w, 409, "ConflictException");
    let third = api.create_account("Third Party", false).await;
    let other =
        api.post(&format!("{A}/{third}/merge"), json!({"data": {"attributes": {"account": {"id": source}}}})).await;
    assert_error(&other, 409, "ConflictException");
    // The same request again completes it, exactly once.
    let r =
        api.post(&format!("{A}/{target}/merge"), json!({"data": {"attributes": {"account": {"id": source}}}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(count(api, &target, "notes").await, 230);
    assert_eq!(r.attrs()["numberOfContacts"], "2");
    assert_eq!(api.get(&format!("{A}/{source}")).await.status, 404);
    // A retry after success is harmless too.
    let again =
        api.post(&format!("{A}/{target}/merge"), json!({"data": {"attributes": {"account": {"id": source}}}})).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(count(api, &target, "notes").await, 230);
    assert_eq!(
        api.post(&format!("{A}/{target}/notes"), json!({"data": {"attributes": {"body": "after"}}})).await.status,
        201
    );
}

// ---- idempotency, auth ----

async fn a_retried_post_with_the_same_transaction_id_acts_once(api: &TestApi) {
    let api = api.new_team().await;
    let body = new_account_body("Ray Newton", false).to_string();
    let h = [("GW-DBTransaction-ID", "create-ray-1")];
    let first = api.call("POST", A, Some(body.clone()), &h).await;
    assert_eq!(first.status, 201);
    let second = api.call("POST", A, Some(body), &h).await;
    assert_error(&second, 400, ALREADY_EXECUTED);
    assert_eq!(total(&api).await, 1);
    let id = first.attrs()["id"].as_str().unwrap().to_string();
    let note = json!({"data": {"attributes": {"body": "once"}}}).to_string();
    let h = [("GW-DBTransaction-ID", "note-1")];
    assert_eq!(api.call("POST", &format!("{A}/{id}/notes"), Some(note.clone()), &h).await.status, 201);
    assert_error(&api.call("POST", &format!("{A}/{id}/notes"), Some(note), &h).await, 400, ALREADY_EXECUTED);
    assert_eq!(count(&api, &id, "notes").await, 1);
    let h = [("GW-DBTransaction-ID", "wd-1")];
    assert_eq!(api.call("POST", &format!("{A}/{id}/withdraw"), None, &h).await.status, 200);
    assert_error(&api.call("POST", &format!("{A}/{id}/reopen"), None, &h).await, 400, ALREADY_EXECUTED);
    assert_eq!(api.get(&format!("{A}/{id}")).await.attrs()["accountStatus"]["code"], "Withdrawn");
    // Another team may use the same id: ids are per team.
    let other = api.new_team().await;
    assert_eq!(
        other
            .call(
                "POST",
                A,
                Some(new_account_body("X Y", false).to_string()),
                &[("GW-DBTransaction-ID", "create-ray-1")]
            )
            .await
            .status,
        201
    );
    assert_error(
        &api.call("POST", A, Some("{}".into()), &[("GW-DBTransaction-ID", "")]).await,
        400,
        "BadInputException",
    );
}

async fn every_route_needs_credentials_and_teams_never_see_each_other(api: &TestApi) {
    let id = api.create_account("Ray Newton", false).await;
    let anon = api.without_auth();
    // The servicing routes authenticate their own way (tests/servicing.rs).
    for d in coverdesk::api::ROUTES.iter().filter(|d| d.route.family() == coverdesk::api::routes::Family::Accounts) {
        let path = d
            .path
            .replace("{accountId}", &id)
            .replace("{contactId}", "pc:1")
            .replace("{locationId}", "pc:1")
            .replace("{policyId}", "pc:1");
        let body = if d.method == "GET" { None } else { Some("{}".to_string()) };
        let r = anon.call(d.method, &path, body, &[]).await;
        assert_error(&r, 401, "RestAuthenticationException");
        assert!(r.header("www-authenticate").is_some());
    }
    let mut wrong = api.clone();
    wrong.auth = Some(basic("local", "not-the-secret"));
    assert_error(&wrong.get(A).await, 401, "RestAuthenticationException");
    let mut garbage = api.clone();
    garbage.auth = Some("Basic %%%".into());
    assert_error(&garbage.get(A).await, 401, "RestAuthenticationException");
    let other = api.new_team().await;
    assert_error(&other.get(&format!("{A}/{id}")).await, 404, "NotFoundException");
    assert_error(
        &other
            .patch(
                &format!("{A}/{id}"),
                json!({"data": {"attributes": {"preferredCoverageCurrency": {"code": "cad"}}}}),
            )
            .await,
        404,
        "NotFoundException",
    );
    assert_error(&other.post_empty(&format!("{A}/{id}/withdraw")).await, 404, "NotFoundException");
    assert_error(
        &other.post(&format!("{A}/{id}/notes"), json!({"data": {"attributes": {"body": "x"}}})).await,
        404,
        "NotFoundException",
    );
    assert_eq!(other.get(A).await.body["count"], 0);
    let mine = other.create_account("Other Team", false).await;
    let m = api.post(&format!("{A}/{id}/merge"), json!({"data": {"attributes": {"account": {"id": mine}}}})).await;
    assert!(m.status == 400 || m.status == 404, "{}", m.body);
    assert_eq!(other.get(&format!("{A}/{mine}")).await.status, 200);
    assert_eq!(api.get(&format!("{A}/{id}")).await.attrs()["accountStatus"]["code"], "Pending");
}

async fn unknown_ids_and_bad_paths_are_404_never_500(api: &TestApi) {
    for p in ["pc:0", "pc:abc", "477", "pc:99999999", "pc:1%00", "%ZZ"] {
        let r = api.get(&format!("{A}/{p}")).await;
        assert!(r.status == 404, "{p}: {}", r.body);
    }
    let id = api.create_account("Ray Newton", false).await;
    for sub in ["contacts/pc:999999", "locations/nope", "policies/pc:999999"] {
        assert_error(&api.get(&format!("{A}/{id}/{sub}")).await, 404, "NotFoundException");
    }
    assert_error(&api.get(&format!("{A}/{id}?pageSize=2")).await, 400, "BadInputException");
}

async fn hostile_bodies_never_cause_a_5xx_or_a_write(api: &TestApi) {
    let api = api.new_team().await;
    let id = api.create_account("Ray Newton", false).await;
    let before = api.get(&format!("{A}/{id}")).await.body;
    let values = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1e308),
        json!(""),
        json!(" "),
        json!("\u{0}"),
        json!("a".repeat(5000)),
        json!([]),
        json!({}),
        json!([{}]),
        json!({"code": null}),
        json!({"id": "pc:1"}),
    ];
    let fields = [
        "preferredCoverageCurrency",
        "organizationType",
        "producerCodes",
        "primaryLocation",
        "yearBusinessStarted",
        "businessOperationsDescription",
        "checksum",
    ];
    for f in fields {
        for v in &values {
            let r = api.patch(&format!("{A}/{id}"), json!({"data": {"attributes": {f: v}}})).await;
            assert!(r.status == 400 || r.status == 200, "{f}={v}: {}", r.body);
            if r.status == 200 {
                panic!("{f}={v} was accepted");
            }
        }
    }
    assert_eq!(api.get(&format!("{A}/{id}")).await.body, before);
    for raw in [
        "",
        "null",
        "[]",
        "\"x\"",
        "{\"data\": 5}",
        "{\"data\": {\"attributes\": []}}",
        "\u{feff}{}",
        "{\"data\":{\"attributes\":{\"body\":\"x\"}}}}",
    ] {
        for path in [
            A.to_string(),
            format!("{A}/{id}/notes"),
            format!("{A}/{id}/policies"),
            format!("{A}/{id}/contacts"),
            format!("{A}/{id}/locations"),
            format!("{A}/{id}/merge"),
            format!("{A}/{id}/activities"),
        ] {
            let r = api.call("POST", &path, Some(raw.to_string()), &[]).await;
            assert_eq!(r.status, 400, "{path} {raw:?}: {}", r.body);
        }
    }
    assert_eq!(total(&api).await, 1);
    for sub in ["notes", "policies", "activities", "locations"] {
        let expect = if sub == "locations" { 1 } else { 0 };
        assert_eq!(count(&api, &id, sub).await, expect, "{sub}");
    }
}

// ---- sub-resources ----

async fn policies_carry_what_servicing_edits_and_are_validated(api: &TestApi) {
    let id = api.create_account("Ray Newton", false).await;
    let number = support::unique("PA");
    let r = api.post(&format!("{A}/{id}/policies"), auto_policy(&number)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let p = r.attrs();
    assert_eq!(p["lineOfBusiness"]["code"], "PersonalAuto");
    assert_eq!(p["status"]["code"], "InForce");
    assert_eq!(p["totalPremium"], json!({"amount": "1250.40", "currency": "usd"}));
    assert_eq!(p["vehicles"][0]["lienHolders"][0]["type"]["code"], "LIEN_HOLDER");
    assert_eq!(p["drivers"][0]["licenseState"]["code"], "CA");
    assert!(p["insured"]["emailAddress1"].is_string());
    let ids: Vec<&str> =
        [&p["id"], &p["drivers"][0]["id"], &p["vehicles"][0]["id"], &p["vehicles"][0]["lienHolders"][0]["id"]]
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
    let mut dedup = ids.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 4, "{ids:?}");
    let got = api.get(&format!("{A}/{id}/policies/{}", p["id"].as_str().unwrap())).await;
    assert_eq!(got.body, r.body);
    let jobs = api.get(&format!("{A}/{id}/jobs")).await;
    assert_eq!(jobs.body["data"][0]["attributes"]["jobType"]["code"], "Issuance");
    assert_eq!(jobs.body["data"][0]["attributes"]["policy"]["displayName"], json!(number));
    let home = api.post(&format!("{A}/{id}/policies"), home_policy(&support::unique("HO"))).await;
    assert_eq!(home.status, 201, "{}", home.body);
    assert_eq!(home.attrs()["mortgagees"][0]["mortgageeType"]["code"], "FIRST");

    let dup = api.post(&format!("{A}/{id}/policies"), auto_policy(&number)).await;
    assert_error(&dup, 409, "ConflictException");
    let mut bad_vin = auto_policy(&support::unique("PA"));
    bad_vin["data"]["attributes"]["vehicles"][0]["vin"] = json!("1M8GDM9A1KP042788");
    let mut mortgagee_on_auto = auto_policy(&support::unique("PA"));
    mortgagee_on_auto["data"]["attributes"]["mortgagees"] =
        home_policy("x")["data"]["attributes"]["mortgagees"].clone();
    let mut driver_on_home = home_policy(&support::unique("HO"));
    driver_on_home["data"]["attributes"]["drivers"] = auto_policy("x")["data"]["attributes"]["drivers"].clone();
    let mut two_firsts = home_policy(&support::unique("HO"));
    let m = two_firsts["data"]["attributes"]["mortgagees"][0].clone();
    two_firsts["data"]["attributes"]["mortgagees"] = json!([m.clone(), m]);
    let mut dates = home_policy(&support::unique("HO"));
    dates["data"]["attributes"]["expirationDate"] = json!("2025-01-01");
    let mut money = home_policy(&support::unique("HO"));
    money["data"]["attributes"]["totalPremium"] = json!({"amount": 12.5, "currency": "usd"});
    let mut money3 = home_policy(&support::unique("HO"));
    money3["data"]["attributes"]["totalPremium"] = json!({"amount": "12.505", "currency": "usd"});
    let mut lob = home_policy(&support::unique("HO"));
    lob["data"]["attributes"]["lineOfBusiness"] = json!({"code": "Pets"});
    for (name, body) in [
        ("vin", bad_vin),
        ("mortgagee on auto", mortgagee_on_auto),
        ("driver on home", driver_on_home),
        ("two firsts", two_firsts),
        ("dates", dates),
        ("float money", money),
        ("3 decimals", money3),
        ("line", lob),
    ] {
        let r = api.post(&format!("{A}/{id}/policies"), body).await;
        assert_eq!(r.status, 400, "{name}: {}", r.body);
    }
    assert_eq!(count(api, &id, "policies").await, 2);
    assert_eq!(count(api, &id, "jobs").await, 2);
}

async fn contacts_can_be_added_and_edited_and_the_holder_name_follows(api: &TestApi) {
    let id = api.create_account("Ray Newton", false).await;
    let a = api.get(&format!("{A}/{id}")).await;
    let holder_uri = a.attrs()["accountHolder"]["uri"].as_str().unwrap().to_string();
    let r = api.patch(&holder_uri, json!({"data": {"attributes": {"lastName": "Newton-Smith", "cellPhone": "(650) 555-0101", "primaryAddress": address("2 New Rd")}}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.attrs()["displayName"], "Ray Newton-Smith");
    let a2 = api.get(&format!("{A}/{id}")).await;
    assert_eq!(a2.attrs()["accountHolder"]["displayName"], "Ray Newton-Smith");
    for bad in [
        json!({"data": {"attributes": {"companyName": "Acme"}}}),
        json!({"data": {"attributes": {"contactSubtype": "Company"}}}),
        json!({"data": {"attributes": {"emailAddress1": "not-an-email"}}}),
        // Issue 9: a doubled @ or dot is no address.
        json!({"data": {"attributes": {"emailAddress1": "a@@b.com"}}}),
        json!({"data": {"attributes": {"emailAddress1": "a@b..com"}}}),
        json!({"data": {"attributes": {"cellPhone": "call me"}}}),
        json!({"data": {"attributes": {"lastName": ""}}}),
        json!({"data": {"checksum": "99", "attributes": {"lastName": "X"}}}),
    ] {
        let r = api.patch(&holder_uri, bad.clone()).await;
        assert!(r.status == 400 || r.status == 409, "{bad}: {}", r.body);
    }
    assert_eq!(api.get(&holder_uri).await.attrs()["displayName"], "Ray Newton-Smith");
    let c = api.post(&format!("{A}/{id}/contacts"), json!({"data": {"attributes": {"contactSubtype": "Company", "companyName": "Big Bank", "workPhone": "650-555-0199"}}})).await;
    assert_eq!(c.status, 201, "{}", c.body);
    assert_eq!(c.attrs()["accountHolder"], false);
    assert_eq!(api.get(&format!("{A}/{id}")).await.attrs()["numberOfContacts"], "2");
    let list = api.get(&format!("{A}/{id}/contacts?pageSize=1")).await;
    assert_eq!(list.body["count"], 1);
    assert!(list.body["links"]["next"].is_object());
}

async fn contacts_and_locations_are_removed_and_changed_by_the_originals_rules(api: &TestApi) {
    let id = api.create_account("Ray Newton", false).await;
    let account_path = format!("{A}/{id}");
    let a = api.get(&account_path).await;
    let holder = a.attrs()["accountHolder"]["uri"].as_str().unwrap().to_string();
    let primary = a.attrs()["primaryLocation"]["uri"].as_str().unwrap().to_string();
    // Each child's links name what its state allows: the holder and the primary are not removed.
    assert_eq!(api.get(&holder).await.body["data"]["links"]["self"]["methods"], json!(["get", "patch"]));
    assert_eq!(api.get(&primary).await.body["data"]["links"]["self"]["methods"], json!(["get", "patch"]));
    // The holder stays: 400, nothing changes.
    let r = api.call("DELETE", &holder, None, &[]).await;
    assert_error(&r, 400, "BadInputException");
    assert_eq!(r.body["details"][0]["field"], "path.contactId", "{}", r.body);
    assert_eq!(api.get(&account_path).await.checksum(), a.checksum());
    // Another contact goes: 204 and no body; the account counts one fewer and changes checksum.
    let c = add_bank_contact(api, &id).await;
    let contact = format!("{A}/{id}/contacts/{}", c.attrs()["id"].as_str().unwrap());
    assert_eq!(c.body["data"]["links"]["self"]["methods"], json!(["get", "patch", "delete"]));
    assert_eq!(api.get(&account_path).await.attrs()["numberOfContacts"], "2");
    let before = api.get(&account_path).await.checksum();
    let stale = api.call("DELETE", &contact, None, &[("GW-Checksum", "99")]).await;
    assert_error(&stale, 409, "gw.api.modules.rest.framework.v1.exceptions.ConcurrentModificationException");
    assert_eq!(api.get(&contact).await.status, 200);
    let current = api.get(&contact).await.checksum();
    let gone = api.call("DELETE", &contact, None, &[("GW-Checksum", &current), ("GW-DBTransaction-ID", "rm-1")]).await;
    assert_eq!((gone.status, gone.text.is_empty()), (204, true), "{}", gone.text);
    assert_eq!(api.get(&contact).await.status, 404);
    let after = api.get(&account_path).await;
    assert_eq!(after.attrs()["numberOfContacts"], "1");
    assert_ne!(after.checksum(), before);
    // Again: the same transaction id is the original's 400; a new one finds nothing (404).
    assert_error(&api.call("DELETE", &contact, None, &[("GW-DBTransaction-ID", "rm-1")]).await, 400, ALREADY_EXECUTED);
    assert_eq!(api.call("DELETE", &contact, None, &[]).await.status, 404);

    // A location changes part by part; the address is checked whole.
    let l = api.post(&format!("{A}/{id}/locations"), json!({"data": {"attributes": address("9 Side St")}})).await;
    assert_eq!(l.status, 201, "{}", l.body);
    let location = format!("{A}/{id}/locations/{}", l.attrs()["id"].as_str().unwrap());
    let r = api
        .patch(&location, json!({"data": {"attributes": {"addressLine2": "Suite 9", "postalCode": "94404-1234"}}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.attrs()["addressLine1"].as_str(), r.attrs()["addressLine2"].as_str()),
        (Some("9 Side St"), Some("Suite 9"))
    );
    assert_eq!(r.attrs()["postalCode"], "94404-1234");
    assert_eq!(r.attrs()["state"]["code"], "CA");
    let changed = r.checksum();
    for (bad, field) in [
        (json!({"data": {"attributes": {}}}), "body.data.attributes"),
        (json!({"data": {"attributes": {"country": {"code": "CA"}}}}), "body.data.attributes.state"),
        (json!({"data": {"attributes": {"postalCode": "ABCDE"}}}), "body.data.attributes.postalCode"),
        (json!({"data": {"attributes": {"state": {"code": "ON"}}}}), "body.data.attributes.state.code"),
        (json!({"data": {"attributes": {"locationCode": "7"}}}), "body.data.attributes.locationCode"),
        (json!({"data": {"attributes": {"country": {"code": "XX"}}}}), "body.data.attributes.country.code"),
    ] {
        let r = api.patch(&location, bad.clone()).await;
        assert_error(&r, 400, "BadInputException");
        assert_eq!(r.body["details"][0]["field"], field, "{bad}: {}", r.body);
        assert_eq!(r.body["details"].as_array().unwrap().len(), 1, "one problem, named once: {}", r.body);
    }
    let stale = api.patch(&location, json!({"data": {"checksum": "1", "attributes": {"city": "Foster City"}}})).await;
    assert_error(&stale, 409, "gw.api.modules.rest.framework.v1.exceptions.ConcurrentModificationException");
    assert_eq!(api.get(&location).await.checksum(), changed);
    // A new country with its state and postal code.
    let r = api.patch(&location, json!({"data": {"checksum": changed, "attributes": {"country": {"code": "CA"}, "state": {"code": "ON"}, "postalCode": "K1A 0B1", "city": "Ottawa"}}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((r.attrs()["country"]["code"].as_str(), r.attrs()["state"]["code"].as_str()), (Some("CA"), Some("ON")));
    // The primary location's new address names it on the account.
    let r = api.patch(&primary, json!({"data": {"attributes": {"addressLine1": "1 Moved Rd"}}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(api.get(&account_path).await.attrs()["primaryLocation"]["displayName"]
        .as_str()
        .unwrap()
        .contains("1 Moved Rd"));
    // The primary stays (400) until another is made primary; the other goes.
    let r = api.call("DELETE", &primary, None, &[]).await;
    assert_error(&r, 400, "BadInputException");
    assert_eq!(r.body["details"][0]["field"], "path.locationId", "{}", r.body);
    let gone = api.call("DELETE", &location, None, &[]).await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    assert_eq!(api.get(&location).await.status, 404);
    let list = api.get(&format!("{A}/{id}/locations")).await;
    assert_eq!(list.body["count"], 1, "{}", list.body);
    assert_eq!(api.call("DELETE", &location, Some("{}".into()), &[]).await.status, 400, "a DELETE takes no body");
}

async fn fields_selects_what_each_element_carries(api: &TestApi) {
    let api = api.new_team().await;
    let id = api.create_account("Fiona Fields", false).await;
    let one = api.get(&format!("{A}/{id}?fields=accountNumber,accountHolder")).await;
    assert_eq!(one.status, 200, "{}", one.body);
    let attrs = one.attrs();
    let keys: Vec<&String> = attrs.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["accountHolder", "accountNumber", "id"], "{}", one.body);
    assert_eq!(attrs["accountHolder"]["displayName"], "Fiona Fields");
    assert!(one.body["data"].get("checksum").is_none() && one.body["data"].get("links").is_none());
    let with = api.get(&format!("{A}/{id}?fields=accountStatus,$checksum,$links")).await;
    assert!(with.body["data"]["checksum"].is_string() && with.body["data"]["links"]["self"].is_object());
    let every = api.get(&format!("{A}/{id}")).await;
    for set in ["*all", "*default", "*detail", "*summary", "*summary,accountNumber"] {
        let r = api.get(&format!("{A}/{id}?fields={}", set.replace('*', "%2A"))).await;
        assert_eq!(r.body, every.body, "{set}");
    }
    // Every page has the shape the first had: the links keep fields (and include).
    api.create_account("Fred Fields", false).await;
    let first = api.get(&format!("{A}?fields=accountNumber&include=locations&pageSize=1")).await;
    let next = first.body["links"]["next"]["href"].as_str().unwrap().to_string();
    assert!(next.contains("fields=accountNumber") && next.contains("include=locations"), "{next}");
    let second = api.get(&next).await;
    assert_eq!(second.body["data"][0]["attributes"].as_object().unwrap().len(), 2, "{}", second.body);
    assert_eq!(second.body["data"][0]["related"]["locations"]["count"], 1, "{}", second.body);
    let list = api.get(&format!("{A}?fields=accountNumber&pageSize=5&includeTotal=true")).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body["total"], 2);
    assert_eq!(list.body["data"][0]["attributes"].as_object().unwrap().len(), 2, "{}", list.body);
    assert!(list.body["links"]["self"]["href"].is_string());
    // Children too, by their own fields.
    let contacts = api.get(&format!("{A}/{id}/contacts?fields=firstName")).await;
    let first = &contacts.body["data"][0]["attributes"];
    assert_eq!(first, &json!({"id": first["id"], "firstName": "Fiona"}), "{}", contacts.body);
    let loc = every.attrs()["primaryLocation"]["uri"].as_str().unwrap().to_string();
    assert_eq!(api.get(&format!("{loc}?fields=city")).await.attrs()["city"], "San Mateo");
    for bad in ["colour", "firstName", "accountNumber,,id", "contacts:firstName", "accountHolder.displayName", ""] {
        let r = api.get(&format!("{A}/{id}?fields={bad}")).await;
        assert_error(&r, 400, "BadInputException");
        assert_eq!(r.body["details"][0]["field"], "query.fields", "{bad}: {}", r.body);
    }
    assert_error(&api.get(&format!("{loc}?fields=accountNumber")).await, 400, "BadInputException");
    assert_error(&api.get(&format!("{loc}?colour=teal")).await, 400, "BadInputException");
}

async fn include_brings_an_accounts_children_in_one_answer(api: &TestApi) {
    let api = api.new_team().await;
    let id = api.create_account("Ines Included", false).await;
    let c = add_bank_contact(&api, &id).await;
    let r = api.get(&format!("{A}/{id}?include=contacts,locations")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let related = &r.body["data"]["related"];
    assert_eq!(related["contacts"]["count"], 2, "{}", r.body);
    assert_eq!(related["locations"]["count"], 1, "{}", r.body);
    assert!(related.get("notes").is_none());
    let contacts = r.body["included"]["AccountContact"].as_array().unwrap();
    let ids: Vec<&Value> = contacts.iter().map(|e| &e["attributes"]["id"]).collect();
    let named: Vec<&Value> = related["contacts"]["data"].as_array().unwrap().iter().map(|x| &x["id"]).collect();
    assert_eq!(ids, named);
    assert_eq!(related["contacts"]["data"][0]["type"], "AccountContact");
    // Each included child is the element its own GET answers.
    let one = api.get(&format!("{A}/{id}/contacts/{}", c.attrs()["id"].as_str().unwrap())).await;
    assert!(contacts.contains(&one.body["data"]), "{}", r.body);
    assert_eq!(r.body["included"]["AccountLocation"][0]["attributes"]["primaryLocation"], true);
    // On a list, each account names its own; a name that is no collection is 400.
    let list = api.get(&format!("{A}?include=locations&fields=accountNumber")).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body["data"][0]["related"]["locations"]["count"], 1);
    assert_eq!(list.body["included"]["AccountLocation"].as_array().unwrap().len(), 1);
    for bad in ["colour", "contacts,", "accountHolder"] {
        let r = api.get(&format!("{A}/{id}?include={bad}")).await;
        assert_error(&r, 400, "BadInputException");
        assert_eq!(r.body["details"][0]["field"], "query.include", "{bad}: {}", r.body);
    }
    assert!(api.get(&format!("{A}/{id}")).await.body.get("included").is_none());
}

async fn sort_orders_the_account_list_by_the_originals_syntax(api: &TestApi) {
    let api = api.new_team().await;
    let mut ids = Vec::new();
    for name in ["Sam One", "Sam Two", "Sam Three"] {
        ids.push(api.create_account(name, false).await);
    }
    let r = api.call("POST", &format!("{A}/{}/withdraw", ids[1]), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let order = |r: &Resp| -> Vec<String> {
        r.body["data"].as_array().unwrap().iter().map(|e| e["attributes"]["id"].as_str().unwrap().to_string()).collect()
    };
    let desc = api.get(&format!("{A}?sort=-id")).await;
    assert_eq!(desc.status, 200, "{}", desc.body);
    assert_eq!(order(&desc), [ids[2].clone(), ids[1].clone(), ids[0].clone()]);
    // Status first (Pending before Withdrawn), then id descending; paged with the sort kept.
    let page = api.get(&format!("{A}?sort=accountStatus,-id&pageSize=2&includeTotal=true")).await;
    assert_eq!(order(&page), [ids[2].clone(), ids[0].clone()], "{}", page.body);
    assert_eq!(page.body["total"], 3);
    let next = page.body["links"]["next"]["href"].as_str().unwrap().to_string();
    assert!(next.contains("sort="), "{next}");
    assert_eq!(order(&api.get(&next).await), [ids[1].clone()]);
    let by_number = api.get(&format!("{A}?sort=accountNumber")).await;
    let numbers: Vec<&str> = by_number.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["attributes"]["accountNumber"].as_str().unwrap())
        .collect();
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    assert_eq!(numbers, sorted);
    for bad in ["colour", "-", "id,,accountNumber", "accountHolder"] {
        let r = api.get(&format!("{A}?sort={bad}")).await;
        assert_error(&r, 400, "BadInputException");
        assert_eq!(r.body["details"][0]["field"], "query.sort", "{bad}: {}", r.body);
    }
    let r = api.get(&format!("{A}/{}/notes?sort=body", ids[0])).await;
    assert_error(&r, 400, "BadInputException");
    assert!(detail_messages(&r).contains("subject, topic"), "a child list names its own fields: {}", r.body);
}

async fn child_lists_sort_on_their_own_fields(api: &TestApi) {
    let api = api.new_team().await;
    let id = api.create_account("Sol Sorter", false).await;
    let subject_order = |r: &Resp| -> Vec<String> {
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["attributes"]["subject"].as_str().unwrap_or("-").to_string())
            .collect()
    };
    for (subject, topic) in [("b", "billing"), ("a", "underwriting"), ("c", "billing")] {
        let body = json!({"data": {"attributes": {"subject": subject, "body": "x", "topic": {"code": topic}}}});
        assert_eq!(api.post(&format!("{A}/{id}/notes"), body).await.status, 201);
    }
    assert_eq!(subject_order(&api.get(&format!("{A}/{id}/notes?sort=subject")).await), ["a", "b", "c"]);
    assert_eq!(subject_order(&api.get(&format!("{A}/{id}/notes?sort=-subject")).await), ["c", "b", "a"]);
    // A typekey by its code, then id descending; paged after sorting, the sort kept in the links.
    let r = api.get(&format!("{A}/{id}/notes?sort=topic,-id&pageSize=2")).await;
    assert_eq!(subject_order(&r), ["c", "b"]);
    let next = r.body["links"]["next"]["href"].as_str().unwrap().to_string();
    assert!(next.contains("sort=topic%2C%2Did"), "{next}");
    assert_eq!(subject_order(&api.get(&next).await), ["a"]);
    // An activity without a due date sorts after those with one (before them, descending).
    for (subject, due) in [("late", Some("2027-03-01")), ("none", None), ("soon", Some("2027-01-15"))] {
        let mut body = json!({"data": {"attributes": {"subject": subject}}});
        if let Some(d) = due {
            body["data"]["attributes"]["dueDate"] = json!(d);
        }
        assert_eq!(api.post(&format!("{A}/{id}/activities"), body).await.status, 201);
    }
    assert_eq!(subject_order(&api.get(&format!("{A}/{id}/activities?sort=dueDate")).await), ["soon", "late", "none"]);
    assert_eq!(subject_order(&api.get(&format!("{A}/{id}/activities?sort=-dueDate")).await), ["none", "late", "soon"]);
    // Contacts by last name: a company (no last name) after the people.
    add_bank_contact(&api, &id).await;
    let body = json!({"data": {"attributes": {"contactSubtype": "Person", "firstName": "Al", "lastName": "Aardvark"}}});
    assert_eq!(api.post(&format!("{A}/{id}/contacts"), body).await.status, 201);
    let r = api.get(&format!("{A}/{id}/contacts?sort=lastName&fields=displayName")).await;
    let names: Vec<&str> =
        r.body["data"].as_array().unwrap().iter().map(|e| e["attributes"]["displayName"].as_str().unwrap()).collect();
    assert_eq!(names, ["Al Aardvark", "Sol Sorter", "Big Bank"], "{}", r.body);
    for bad in ["body", "primaryAddress", "lastName,,id"] {
        let r = api.get(&format!("{A}/{id}/contacts?sort={bad}")).await;
        assert_error(&r, 400, "BadInputException");
        assert_eq!(r.body["details"][0]["field"], "query.sort", "{bad}: {}", r.body);
    }
}

async fn tax_ids_are_kept_and_only_ever_shown_masked(api: &TestApi) {
    let api = api.new_team().await;
    let mut body = new_account_body("Tess Taxpayer", false);
    body["data"]["attributes"]["initialAccountHolder"]["taxId"] = json!("123-45-6789");
    let r = api.post(A, body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.attrs()["id"].as_str().unwrap().to_string();
    let holder = r.attrs()["accountHolder"]["uri"].as_str().unwrap().to_string();
    assert_eq!(api.get(&holder).await.attrs()["taxId"], "***-**-6789");
    // An EIN on a company contact, then changed by PATCH; the answer masks it too.
    let c = api
        .post(&format!("{A}/{id}/contacts"), json!({"data": {"attributes": {"contactSubtype": "Company", "companyName": "Acme", "taxId": "98-7654321"}}}))
        .await;
    assert_eq!((c.status, c.attrs()["taxId"].as_str()), (201, Some("***-**-4321")), "{}", c.body);
    let contact = format!("{A}/{id}/contacts/{}", c.attrs()["id"].as_str().unwrap());
    let p = api.patch(&contact, json!({"data": {"attributes": {"taxId": "111223333"}}})).await;
    assert_eq!(p.attrs()["taxId"], "***-**-3333", "{}", p.body);
    // Nowhere in any answer is the whole number.
    for path in [
        holder.clone(),
        contact.clone(),
        format!("{A}/{id}/contacts"),
        format!("{A}/{id}?include=contacts"),
        format!("{A}/{id}"),
    ] {
        let text = api.get(&path).await.body.to_string();
        for whole in ["6789", "123-45", "123456789", "111223333", "98-765", "987654321"] {
            assert!(
                !text.contains(whole) || whole == "6789" && text.contains("***-**-6789"),
                "{path} shows {whole}: {text}"
            );
        }
    }
    // A malformed one is refused by name, never echoed.
    for bad in ["12-34-5678", "12345678", "123-45-678X", "1234567890123"] {
        let r = api.patch(&contact, json!({"data": {"attributes": {"taxId": bad}}})).await;
        assert_error(&r, 400, "BadInputException");
        assert_eq!(r.body["details"][0]["field"], "body.data.attributes.taxId", "{bad}: {}", r.body);
        assert!(!r.body.to_string().contains(bad), "{}", r.body);
    }
    assert_eq!(api.get(&contact).await.attrs()["taxId"], "***-**-3333");
}

async fn notes_need_a_body_and_keep_their_fields(api: &TestApi) {
    let id = api.create_account("Ray Newton", false).await;
    let r = api.post(&format!("{A}/{id}/notes"), json!({"data": {"attributes": {"subject": "Call", "body": "Discussed renewal", "topic": {"code": "general"}, "confidential": true}}})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.attrs()["confidential"], true);
    for bad in [
        json!({"data": {"attributes": {"subject": "x"}}}),
        json!({"data": {"attributes": {"body": "x", "topic": {"code": "gossip"}}}}),
        json!({"data": {"attributes": {"body": "x", "confidential": "yes"}}}),
    ] {
        assert_error(&api.post(&format!("{A}/{id}/notes"), bad).await, 400, "BadInputException");
    }
    let list = api.get(&format!("{A}/{id}/notes")).await;
    assert_eq!(list.body["count"], 1);
    assert_eq!(list.body["data"][0]["attributes"]["body"], "Discussed renewal");
    // Notes do not change the account's checksum.
    assert_eq!(api.get(&format!("{A}/{id}")).await.checksum(), "1");
}

/// Seed 001's four examples, literally, after creating the accounts they name (pc:33, pc:477,
/// pc:1010 are the 33rd, 477th and 1010th account of a new team).
async fn seed_001_examples_work_literally(api: &TestApi) {
    let api = api.new_team().await;
    for i in 1..=1010u32 {
        let r = api.post(A, new_account_body(&format!("Holder {i}"), false)).await;
        assert_eq!(r.status, 201);
        assert_eq!(r.attrs()["id"], json!(format!("pc:{i}")));
    }
    let r = api
        .call(
            "PATCH",
            "/account/v1/accounts/pc:477",
            Some(
                r#"{
  "data": {
    "attributes": {
        "preferredCoverageCurrency": {
            "code": "cad"
        },
        "preferredSettlementCurrency": {
            "code": "cad"
        }
    }
  }
}"#
                .into(),
            ),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.attrs()["preferredCoverageCurrency"]["code"], "cad");
    assert_eq!(r.attrs()["preferredSettlementCurrency"]["code"], "cad");
    let r = api
        .call(
            "POST",
            "/account/v1/accounts/pc:33/merge",
            Some(
                r#"{
  "data": {
    "attributes": {
        "account": {
            "id": "pc:1010"
        }
    }
  }
}"#
                .into(),
            ),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(api.get("/account/v1/accounts/pc:1010").await.status, 404);
    assert_eq!(api.get("/account/v1/accounts/pc:33").await.attrs()["numberOfContacts"], "2");
    let r = api.call("POST", "/account/v1/accounts/pc:477/withdraw", None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.attrs()["accountStatus"]["code"], "Withdrawn");
    let r = api.call("POST", "/account/v1/accounts/pc:477/reopen", None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.attrs()["accountStatus"]["code"], "Pending");
    assert_eq!(total(&api).await, 1009);
}

// ---- concurrency ----

async fn concurrent_patches_with_one_checksum_let_exactly_one_win(api: &TestApi) {
    let id = api.create_account("Ray Newton", false).await;
    let checksum = api.get(&format!("{A}/{id}")).await.checksum();
    let mut tasks = Vec::new();
    for code in ["cad", "eur", "gbp", "aud", "jpy", "chf"] {
        let api = api.clone();
        let path = format!("{A}/{id}");
        let body = json!({"data": {"checksum": checksum, "attributes": {"preferredCoverageCurrency": {"code": code}}}});
        tasks.push(tokio::spawn(async move { (code, api.patch(&path, body).await.status) }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (code, status) = t.await.unwrap();
        assert!(status == 200 || status == 409, "{status}");
        if status == 200 {
            winners.push(code);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let now = api.get(&format!("{A}/{id}")).await;
    assert_eq!(now.attrs()["preferredCoverageCurrency"]["code"], json!(winners[0]));
    assert_eq!(now.checksum(), "2");
}

async fn concurrent_creates_and_notes_lose_nothing(api: &TestApi) {
    let api = api.new_team().await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move { api.create_account(&format!("P{i} Q"), false).await }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 12);
    let target = ids[0].clone();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let api = api.clone();
        let path = format!("{A}/{target}/contacts");
        tasks.push(tokio::spawn(async move {
            api.post(&path, json!({"data": {"attributes": {"contactSubtype": "Person", "firstName": "C", "lastName": format!("N{i}")}}})).await.status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 201);
    }
    assert_eq!(count(&api, &target, "contacts").await, 13);
    assert_eq!(api.get(&format!("{A}/{target}")).await.attrs()["numberOfContacts"], "13");
}

async fn unknown_elements_are_refused_unless_the_request_asks_otherwise(api: &TestApi) {
    let api = api.new_team().await;
    let mut body = new_account_body("Una Known", false);
    body["data"]["attributes"]["favouriteColour"] = json!("teal");
    body["data"]["attributes"]["initialAccountHolder"]["shoeSize"] = json!(44);
    let body = body.to_string();
    // The original's default, reject: 400 naming each, nothing written.
    let r = api.call("POST", A, Some(body.clone()), &[]).await;
    assert_error(&r, 400, "BadInputException");
    let fields: Vec<&str> = r.body["details"].as_array().unwrap().iter().filter_map(|d| d["field"].as_str()).collect();
    assert!(fields.iter().any(|f| f.ends_with("favouriteColour")), "{}", r.body);
    assert!(fields.iter().any(|f| f.ends_with("initialAccountHolder.shoeSize")), "{}", r.body);
    let r = api.call("POST", A, Some(body.clone()), &[("GW-UnknownPropertyHandling", "reject")]).await;
    assert_error(&r, 400, "BadInputException");
    assert_eq!(total(&api).await, 0);
    // ignore and log (any case) pass over them; the known attributes still count.
    for (n, value) in ["ignore", "LOG"].into_iter().enumerate() {
        let r = api.call("POST", A, Some(body.clone()), &[("GW-UnknownPropertyHandling", value)]).await;
        assert_eq!(r.status, 201, "{value}: {}", r.body);
        assert!(r.attrs().get("favouriteColour").is_none());
        assert_eq!(total(&api).await, n as u64 + 1);
    }
    // A PATCH of nothing but unknown attributes changes nothing, and says so, when ignoring too.
    let created =
        api.get(&format!("{A}?pageSize=1")).await.body["data"][0]["attributes"]["id"].as_str().unwrap().to_string();
    let before = api.get(&format!("{A}/{created}")).await.checksum();
    let r = api
        .call(
            "PATCH",
            &format!("{A}/{created}"),
            Some(json!({"data": {"attributes": {"colour": "teal"}}}).to_string()),
            &[("GW-UnknownPropertyHandling", "ignore")],
        )
        .await;
    assert_error(&r, 400, "BadInputException");
    assert_eq!(api.get(&format!("{A}/{created}")).await.checksum(), before);
    // Passing over unknown properties never passes over a bad known one.
    let mut bad = new_account_body("Una Known", false);
    bad["data"]["attributes"]["producerCodes"] = json!("pc:16");
    bad["data"]["attributes"]["favouriteColour"] = json!("teal");
    let r = api.call("POST", A, Some(bad.to_string()), &[("GW-UnknownPropertyHandling", "ignore")]).await;
    assert_error(&r, 400, "BadInputException");
    assert_eq!(r.body["details"].as_array().unwrap().len(), 1, "{}", r.body);
    // Query parameters: refused by default, passed over on request, on lists and on gets.
    let id = api.create_account("Query Param", false).await;
    for path in [format!("{A}?pageSize=2&colour=teal"), format!("{A}/{id}?colour=teal")] {
        assert_error(&api.call("GET", &path, None, &[]).await, 400, "BadInputException");
        for value in ["ignore", "log"] {
            let r = api.call("GET", &path, None, &[("GW-UnknownQueryParamHandling", value)]).await;
            assert_eq!(r.status, 200, "{path} {value}: {}", r.body);
        }
    }
    // A known parameter's bad value is still refused.
    let r = api
        .call("GET", &format!("{A}?pageSize=0&colour=teal"), None, &[("GW-UnknownQueryParamHandling", "ignore")])
        .await;
    assert_error(&r, 400, "BadInputException");
    // A write takes no query parameter: refused by default (nothing written), passed over on request.
    let path = format!("{A}?colour=teal");
    let clean = new_account_body("Write Query", false).to_string();
    let r = api.call("POST", &path, Some(clean.clone()), &[]).await;
    assert_error(&r, 400, "BadInputException");
    assert_eq!(r.body["details"][0]["field"], "query.colour", "{}", r.body);
    let r = api.call("POST", &path, Some(clean), &[("GW-UnknownQueryParamHandling", "ignore")]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = api.call("POST", &format!("{A}/{id}/withdraw?force=1"), None, &[]).await;
    assert_error(&r, 400, "BadInputException");
    // A value the original does not define is 400, naming the header.
    for (h, method, sent) in
        [("GW-UnknownPropertyHandling", "POST", Some(body.clone())), ("GW-UnknownQueryParamHandling", "GET", None)]
    {
        let r = api.call(method, A, sent, &[(h, "skip")]).await;
        assert_error(&r, 400, "BadInputException");
        assert_eq!(r.body["details"][0]["field"], json!(format!("header.{h}")), "{}", r.body);
    }
    assert_eq!(total(&api).await, 4);
}

// ---- search ----

const SEARCH: &str = "/account/v1/search/accounts";
const FREETEXT: &str = "/account/v1/search/accounts-freetext";

/// A new account's body with this holder and primary location.
fn account_of(holder: Value, location: Value) -> Value {
    json!({"data": {"attributes": {"initialAccountHolder": holder, "initialPrimaryLocation": location, "producerCodes": [{"id": "pc:16"}]}}})
}

fn person(first: &str, last: &str) -> Value {
    json!({"contactSubtype": "Person", "firstName": first, "lastName": last, "primaryAddress": address("2850 S Delaware St")})
}

fn place(line1: &str, city: &str, state: &str, postal: &str) -> Value {
    json!({"addressLine1": line1, "city": city, "state": {"code": state}, "postalCode": postal})
}

async fn created(api: &TestApi, body: Value) -> String {
    let r = api.post(A, body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.attrs()["id"].as_str().unwrap().to_string()
}

fn ids_of(r: &Resp) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"].as_array().unwrap().iter().map(|e| e["attributes"]["id"].as_str().unwrap().to_string()).collect()
}

async fn search(api: &TestApi, attributes: Value) -> Resp {
    api.post(SEARCH, json!({"data": {"attributes": attributes}})).await
}

async fn searching_finds_accounts_by_the_originals_criteria(api: &TestApi) {
    let api = api.new_team().await;
    let mut ray = person("Ray", "Newton");
    ray["homePhone"] = json!("650-555-0100");
    ray["taxId"] = json!("123-45-6789");
    let a = created(&api, account_of(ray, place("1253 Paloma Ave", "San Mateo", "CA", "94403-1234"))).await;
    let b = created(&api, account_of(person("Rày", "NEWTON"), place("9 Elm St", "Arcadia", "CA", "91007"))).await;
    let company = json!({"contactSubtype": "Company", "companyName": "Acme  Insurance Co", "primaryAddress": address("1 Main St")});
    let c = created(&api, account_of(company, place("1 Main St", "Zürich Falls", "NY", "10001"))).await;
    let d = created(&api, account_of(person("Ray", "Newtonson"), place("9 Elm St", "Arcadia", "CA", "91007"))).await;

    // The original's person search: first and last name, whole, case and accents aside.
    assert_eq!(
        ids_of(&search(&api, json!({"firstName": "ray", "lastName": "Newton"})).await),
        [a.as_str(), b.as_str()]
    );
    let narrowed = json!({"firstName": "Ray", "lastName": "Newton", "city": "san mateo", "state": {"code": "CA"}});
    assert_eq!(ids_of(&search(&api, narrowed).await), [a.as_str()]);
    // A ZIP code finds its ZIP+4 codes; a ZIP+4 only itself.
    let zip = |postal: &str| json!({"firstName": "Ray", "lastName": "Newton", "postalCode": postal});
    assert_eq!(ids_of(&search(&api, zip("94403")).await), [a.as_str()]);
    assert_eq!(ids_of(&search(&api, zip("94403-1234")).await), [a.as_str()]);
    assert!(ids_of(&search(&api, zip("94403-9999")).await).is_empty());
    assert_eq!(ids_of(&search(&api, json!({"companyName": "acme insurance co"})).await), [c.as_str()]);
    assert!(ids_of(&search(&api, json!({"companyName": "Acme"})).await).is_empty(), "a company matches whole");
    assert_eq!(
        ids_of(&search(&api, json!({"companyName": "Acme Insurance Co", "city": "Zurich Falls"})).await),
        [c.as_str()]
    );
    assert_eq!(ids_of(&search(&api, json!({"phoneNumber": "(650) 555-0100"})).await), [a.as_str()]);
    assert_eq!(ids_of(&search(&api, json!({"taxId": "123456789"})).await), [a.as_str()]);
    assert!(ids_of(&search(&api, json!({"taxId": "123-45-6780"})).await).is_empty());
    let number = api.get(&format!("{A}/{c}")).await.attrs()["accountNumber"].as_str().unwrap().to_string();
    assert_eq!(ids_of(&search(&api, json!({"accountNumber": number})).await), [c.as_str()]);

    // Paged like every list: the links repeat the query and are followed with the body again.
    let r = api
        .post(
            &format!("{SEARCH}?pageSize=2&includeTotal=true"),
            json!({"data": {"attributes": {"producerCode": {"id": "pc:16"}}}}),
        )
        .await;
    assert_eq!(ids_of(&r), [a.as_str(), b.as_str()]);
    assert_eq!(r.body["total"], 4, "{}", r.body);
    assert_eq!(r.body["links"]["next"]["methods"], json!(["post"]), "{}", r.body);
    let next = r.body["links"]["next"]["href"].as_str().unwrap().to_string();
    assert!(next.starts_with(SEARCH) && next.contains("pageOffset=2"), "{next}");
    let r = api.post(&next, json!({"data": {"attributes": {"producerCode": {"id": "pc:16"}}}})).await;
    assert_eq!(ids_of(&r), [c.as_str(), d.as_str()]);
    assert!(r.body["links"].get("next").is_none(), "{}", r.body);
    // fields and include as on the list.
    let r = api
        .post(
            &format!("{SEARCH}?fields=id,accountNumber&include=locations"),
            json!({"data": {"attributes": {"companyName": "Acme Insurance Co"}}}),
        )
        .await;
    assert_eq!(ids_of(&r), [c.as_str()]);
    assert_eq!(r.body["data"][0]["attributes"].as_object().unwrap().len(), 2, "{}", r.body);
    assert_eq!(r.body["included"]["AccountLocation"][0]["attributes"]["city"], "Zürich Falls", "{}", r.body);

    // The index follows every change: the holder's name, the primary address, the producer codes.
    let holder = api.get(&format!("{A}/{a}")).await.attrs()["accountHolder"]["id"].as_str().unwrap().to_string();
    let r = api
        .patch(
            &format!("{A}/{a}/contacts/{holder}"),
            json!({"data": {"attributes": {"lastName": "Newton-Smith", "homePhone": "650-555-0199"}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids_of(&search(&api, json!({"firstName": "Ray", "lastName": "Newton"})).await), [b.as_str()]);
    assert_eq!(ids_of(&search(&api, json!({"firstName": "Ray", "lastName": "newton-smith"})).await), [a.as_str()]);
    assert!(ids_of(&search(&api, json!({"phoneNumber": "650-555-0100"})).await).is_empty());
    assert_eq!(ids_of(&search(&api, json!({"phoneNumber": "6505550199"})).await), [a.as_str()]);
    let primary = api.get(&format!("{A}/{c}")).await.attrs()["primaryLocation"]["id"].as_str().unwrap().to_string();
    let r =
        api.patch(&format!("{A}/{c}/locations/{primary}"), json!({"data": {"attributes": {"city": "Albany"}}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        ids_of(&search(&api, json!({"companyName": "Acme Insurance Co", "city": "Albany"})).await),
        [c.as_str()]
    );
    assert!(ids_of(&search(&api, json!({"companyName": "Acme Insurance Co", "city": "Zurich Falls"})).await).is_empty());
    let r = api.patch(&format!("{A}/{c}"), json!({"data": {"attributes": {"producerCodes": [{"id": "pc:99"}]}}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids_of(&search(&api, json!({"producerCode": {"id": "pc:99"}})).await), [c.as_str()]);
    assert_eq!(
        ids_of(&search(&api, json!({"producerCode": {"id": "pc:16"}})).await),
        [a.as_str(), b.as_str(), d.as_str()]
    );
    // A merged source leaves the index with its account.
    let r = api.post(&format!("{A}/{a}/merge"), json!({"data": {"attributes": {"account": {"id": b}}}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(ids_of(&search(&api, json!({"firstName": "Ray", "lastName": "Newton"})).await).is_empty());
    // A Canadian postal code however it is spaced.
    let mut ottawa = place("80 Wellington St", "Ottawa", "ON", "K1A 0A2");
    ottawa["country"] = json!({"code": "CA"});
    let e = created(&api, account_of(person("Ray", "Newton"), ottawa)).await;
    for written in ["K1A 0A2", "k1a0a2"] {
        let r = search(&api, json!({"firstName": "Ray", "lastName": "Newton", "postalCode": written})).await;
        assert_eq!(ids_of(&r), [e.as_str()], "{written}");
    }
    // Another team's accounts are never found.
    let other = api.new_team().await;
    assert!(ids_of(&search(&other, json!({"firstName": "Ray", "lastName": "Newtonson"})).await).is_empty());
    assert_eq!(ids_of(&search(&api, json!({"firstName": "Ray", "lastName": "Newtonson"})).await), [d.as_str()]);
}

async fn a_search_follows_the_originals_rules_or_gets_400(api: &TestApi) {
    let api = api.new_team().await;
    let refusals = [
        (json!({}), "body.data.attributes"),
        (json!({"city": "Arcadia"}), "body.data.attributes"),
        (json!({"companyName": "Acme", "firstName": "Ray"}), "body.data.attributes.firstName"),
        (json!({"firstName": "Ray"}), "body.data.attributes.lastName"),
        (json!({"lastName": "Newton"}), "body.data.attributes.firstName"),
        (json!({"organization": {"id": "pc:1"}}), "body.data.attributes.organization"),
        (json!({"taxId": "12-34"}), "body.data.attributes.taxId"),
        (json!({"phoneNumber": "call me"}), "body.data.attributes.phoneNumber"),
        (json!({"producerCode": {"id": "a b"}}), "body.data.attributes.producerCode.id"),
        (json!({"accountNumber": "1", "colour": "red"}), "body.data.attributes.colour"),
        (json!({"accountNumber": "1", "state": {"code": "ZZ"}}), "body.data.attributes.state.code"),
    ];
    for (attributes, field) in refusals {
        let r = search(&api, attributes.clone()).await;
        assert_error(&r, 400, "BadInputException");
        let fields: Vec<&str> =
            r.body["details"].as_array().unwrap().iter().filter_map(|d| d["field"].as_str()).collect();
        assert!(fields.contains(&field), "{attributes}: {}", r.body);
    }
    assert_error(&api.post(SEARCH, json!({"attributes": {}})).await, 400, "BadInputException");
    let r = api.post(&format!("{SEARCH}?sort=id"), json!({"data": {"attributes": {"accountNumber": "1"}}})).await;
    assert_error(&r, 400, "BadInputException");
    for text in [json!("  -- !! "), json!("a b c d e f g h i"), json!(7)] {
        let r = api.post(FREETEXT, json!({"data": {"attributes": {"searchValue": text}}})).await;
        assert_error(&r, 400, "BadInputException");
        assert_eq!(r.body["details"][0]["field"], "body.data.attributes.searchValue", "{}", r.body);
    }
    // A search writes nothing: a transaction id sent with it is not spent.
    let body = json!({"data": {"attributes": {"accountNumber": "1"}}});
    for _ in 0..2 {
        let r = api.call("POST", SEARCH, Some(body.to_string()), &[("GW-DBTransaction-ID", "search-1")]).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(total(&api).await, 0);
}

async fn free_text_finds_accounts_having_every_word(api: &TestApi) {
    let api = api.new_team().await;
    let mut ray = person("Ray", "Newton");
    ray["cellPhone"] = json!("+1 (650) 555-0100");
    let a = created(&api, account_of(ray, place("1253 Paloma Ave", "San Mateo", "CA", "94403"))).await;
    let b = created(&api, account_of(person("Jürgen", "Müller"), place("9 Elm St", "Arcadia", "CA", "91007"))).await;
    let company = json!({"contactSubtype": "Company", "companyName": "O'Brien Paloma Holdings", "primaryAddress": address("1 Main St")});
    let c = created(&api, account_of(company, place("77 Harbor Rd", "Erie", "PA", "16501"))).await;
    let find = |text: &str| {
        let api = api.clone();
        let text = text.to_string();
        async move { ids_of(&api.post(FREETEXT, json!({"data": {"attributes": {"searchValue": text}}})).await) }
    };
    assert_eq!(find("newton").await, [a.as_str()]);
    assert_eq!(find("PALOMA").await, [a.as_str(), c.as_str()], "holder names and addresses alike");
    assert_eq!(find("paloma san-mateo").await, [a.as_str()], "every word must be the account's");
    assert_eq!(find("muller jurgen").await, [b.as_str()], "accents and case aside");
    assert_eq!(find("MÜLLER").await, [b.as_str()]);
    assert_eq!(find("o'brien").await, [c.as_str()]);
    assert_eq!(find("16501").await, [c.as_str()]);
    assert_eq!(find("16501006").await, Vec::<String>::new());
    assert_eq!(find("16505550100").await, [a.as_str()], "a phone is one word of its digits");
    assert_eq!(find("650-555-0100 ray").await, [a.as_str()], "written as one word, with or without +1");
    assert_eq!(find("newt").await, Vec::<String>::new(), "whole words only");
    let number = api.get(&format!("{A}/{b}")).await.attrs()["accountNumber"].as_str().unwrap().to_string();
    assert_eq!(find(&number).await, [b.as_str()]);
    let r = api
        .post(
            &format!("{FREETEXT}?pageSize=1&includeTotal=true"),
            json!({"data": {"attributes": {"searchValue": "paloma"}}}),
        )
        .await;
    assert_eq!(ids_of(&r), [a.as_str()]);
    assert_eq!(r.body["total"], 2, "{}", r.body);
}

both!(
    creating_an_account_returns_201_in_the_original_envelope,
    a_company_account_needs_a_company_name,
    invalid_creates_get_400_with_every_problem_and_write_nothing,
    listing_pages_filters_and_links,
    the_seed_patch_changes_both_currencies_to_cad,
    patch_sets_other_attributes_and_refuses_unknown_ones_changing_nothing,
    a_stale_checksum_gets_409_and_changes_nothing,
    withdraw_and_reopen_follow_the_status_rules,
    an_account_with_a_policy_is_active_and_cannot_be_withdrawn,
    a_withdrawn_account_refuses_notes_policies_activities_and_merges,
    merging_moves_everything_and_deletes_the_source,
    merge_refuses_itself_unknown_sources_and_mixed_subtypes,
    a_merge_of_500_children_moves_them_all,
    a_retried_post_with_the_same_transaction_id_acts_once,
    unknown_elements_are_refused_unless_the_request_asks_otherwise,
    every_route_needs_credentials_and_teams_never_see_each_other,
    unknown_ids_and_bad_paths_are_404_never_500,
    hostile_bodies_never_cause_a_5xx_or_a_write,
    policies_carry_what_servicing_edits_and_are_validated,
    contacts_can_be_added_and_edited_and_the_holder_name_follows,
    contacts_and_locations_are_removed_and_changed_by_the_originals_rules,
    fields_selects_what_each_element_carries,
    include_brings_an_accounts_children_in_one_answer,
    sort_orders_the_account_list_by_the_originals_syntax,
    child_lists_sort_on_their_own_fields,
    tax_ids_are_kept_and_only_ever_shown_masked,
    notes_need_a_body_and_keep_their_fields,
    seed_001_examples_work_literally,
    concurrent_patches_with_one_checksum_let_exactly_one_win,
    concurrent_creates_and_notes_lose_nothing,
    searching_finds_accounts_by_the_originals_criteria,
    a_search_follows_the_originals_rules_or_gets_400,
    free_text_finds_accounts_having_every_word,
);

#[cfg(feature = "fault-injection")]
mod fault_injection {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_merge_cut_off_on_the_local_server() {
        a_merge_interrupted_half_way_is_invisible_and_completes_when_retried(&TestApi::new(Transport::Local).await)
            .await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_merge_cut_off_in_lambda_on_dynamodb() {
        a_merge_interrupted_half_way_is_invisible_and_completes_when_retried(&TestApi::new(Transport::Lambda).await)
            .await;
    }
}

#[tokio::test]
async fn the_local_server_serves_its_openapi_document() {
    let api = TestApi::new(Transport::Local).await;
    let r = api.get("/openapi.json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["openapi"], "3.1.0");
    // Its server is the one that served it, on whatever port it listens.
    assert_eq!(r.body["servers"][0]["url"], format!("http://{}", api.addr().unwrap()));
    // The widget's pull token is a security scheme, not a plain header parameter.
    assert_eq!(r.body["components"]["securitySchemes"]["pullJwt"]["type"], "apiKey");
    assert_eq!(r.body["paths"]["/widget/pull/{pullId}"]["get"]["security"][0]["pullJwt"], serde_json::json!([]));
    // Every route of the table is documented, with its method.
    for d in coverdesk::api::ROUTES {
        assert!(r.body["paths"][d.path][d.method.to_lowercase()].is_object(), "{} {}", d.method, d.path);
    }
}

#[tokio::test]
async fn the_local_server_answers_wrong_methods_and_huge_bodies_in_the_envelope() {
    let api = TestApi::new(Transport::Local).await;
    let id = api.create_account("Ray Newton", false).await;
    let r = api.call("DELETE", &format!("{A}/{id}"), None, &[]).await;
    assert_error(&r, 405, "MethodNotAllowedException");
    assert_eq!(r.header("allow"), Some("GET, PATCH"));
    let huge = format!("{{\"data\": {{\"attributes\": {{\"body\": \"{}\"}}}}}}", "x".repeat(2 << 20));
    let r = api.call("POST", &format!("{A}/{id}/notes"), Some(huge), &[]).await;
    assert_error(&r, 413, "RequestEntityTooLargeException");
    assert_eq!(api.get(&format!("{A}/{id}/notes")).await.body["count"], 0);
    let r = api.get("/account/v1/nowhere").await;
    assert_error(&r, 404, "NotFoundException");
    let r = api.get("/nowhere").await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (404, Some("NOT_FOUND")),
        "outside /account: the servicing envelope"
    );
}

/// Issue 9: every API answers an oversized body in its own envelope with its own limit; the
/// static `/widget/pull/consentAndConnect` wins over `/widget/pull/{pullId}`, in OPTIONS' `Allow` too.
#[tokio::test]
async fn each_api_answers_an_oversized_body_in_its_envelope_and_static_segments_win() {
    let api = TestApi::new(Transport::Local).await;
    // 7 MB to the import: over its 6 MB limit, answered as the import answers.
    let batch = format!("[{{\"id\": \"{}\"}}]", "x".repeat(7 << 20));
    let r = api.call("POST", "/import/v1/transactions", Some(batch), &[]).await;
    assert_eq!((r.status, r.body["error"].as_str()), (413, Some("INVALID_BATCH")), "{}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains(&(6 << 20).to_string()), "{}", r.body);
    // 2 MB to a servicing route: the servicing envelope.
    let r = api.call("POST", "/widget/pull/consentAndConnect", Some(format!("\"{}\"", "x".repeat(2 << 20))), &[]).await;
    assert_eq!((r.status, r.body["error"].as_str()), (413, Some("INVALID_INPUT")), "{}", r.body);
    // The static segment is not read as a pull id.
    let r = api.get("/widget/pull/consentAndConnect").await;
    assert_eq!((r.status, r.body["error"].as_str()), (405, Some("METHOD_NOT_ALLOWED")), "{}", r.body);
    assert_eq!(r.header("allow"), Some("POST"));
    // A wrong method on import: its envelope too. A trailing slash is an empty id (404), never
    // the collection (schemathesis, stateful phase: GET /import/v1/transactions/ was 405).
    let r = api.call("DELETE", "/import/v1/transactions", None, &[]).await;
    assert_eq!((r.status, r.body["error"].as_str()), (405, Some("METHOD_NOT_ALLOWED")), "{}", r.body);
    assert_eq!(r.header("allow"), Some("POST, GET"), "a batch POST, a lookup by invoice number");
    let r = api.get("/import/v1/transactions/").await;
    assert_eq!((r.status, r.body["error"].as_str()), (404, Some("NOT_FOUND")), "{}", r.body);
    let r = api.get("/account/v1/accounts/").await;
    assert_error(&r, 404, "NotFoundException");
    let r = api.call("OPTIONS", "/widget/pull/consentAndConnect", None, &[]).await;
    assert_eq!(r.header("allow"), Some("POST"), "{}", r.body);
    let m = coverdesk::api::routes::match_path(&http::Method::POST, "/widget/pull/consentAndConnect");
    assert!(matches!(m, coverdesk::api::routes::Match::Found(coverdesk::api::Route::ConsentAndConnect, _)));
}

/// Issue 10: the local server answers cross-origin requests as API Gateway's CORS configuration
/// does (any origin by default): a preflight is 204 with the allowed methods and headers; an answer
/// names the origin; a plain OPTIONS is still 405 with `Allow`.
#[tokio::test]
async fn the_local_server_answers_cors_as_api_gateway_does() {
    let api = TestApi::new(Transport::Local).await;
    let origin = ("origin", "https://shop.example.com");
    let r = api
        .call("OPTIONS", "/widget/pull/consentAndConnect", None, &[origin, ("access-control-request-method", "POST")])
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r.header("access-control-allow-headers").unwrap().contains("pull-jwt"));
    assert!(r.header("access-control-allow-methods").unwrap().contains("POST"));
    let r = api.call("GET", "/carriers", None, &[origin]).await;
    assert_eq!((r.status, r.header("access-control-allow-origin")), (200, Some("*")));
    let r = api.call("OPTIONS", "/widget/pull/consentAndConnect", None, &[]).await;
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    let r = api.call("GET", "/carriers", None, &[]).await;
    assert_eq!(r.header("access-control-allow-origin"), None, "no origin, no CORS headers");
}

/// Issue 9: a client that sends part of its headers or body and stops is cut off, and the server
/// takes 200 connections at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_server_cuts_off_stalled_requests_and_takes_200_connections_at_once() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (store, _dir) = support::embedded_store();
    let deps = support::test_deps(store);
    let listener = coverdesk_local::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let timeouts = coverdesk_local::Timeouts {
        headers: std::time::Duration::from_millis(300),
        body: std::time::Duration::from_millis(300),
    };
    tokio::spawn(coverdesk_local::serve_with(listener, deps, timeouts));

    // Closed within a few seconds: the read ends (0 bytes or an error), never hangs.
    async fn closed_soon(mut s: tokio::net::TcpStream) -> Vec<u8> {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "the server kept a stalled connection open");
        buf
    }
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let answer = closed_soon(s).await;
    assert!(answer.is_empty() || answer.starts_with(b"HTTP/1.1 408"), "{}", String::from_utf8_lossy(&answer));
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /import/v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[{").await.unwrap();
    closed_soon(s).await;

    // 200 clients connect at once; each gets its answer.
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..200 {
        clients.spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
            let mut buf = Vec::new();
            tokio::time::timeout(std::time::Duration::from_secs(20), s.read_to_end(&mut buf)).await.unwrap().unwrap();
            buf.starts_with(b"HTTP/1.1 404")
        });
    }
    let mut answered = 0;
    while let Some(ok) = clients.join_next().await {
        answered += usize::from(ok.unwrap());
    }
    assert_eq!(answered, 200);
}

/// What one search costs on each store: a query per key (the first page reads at most 100
/// entries) and a read per account shown -- never a read of the team's other accounts.
async fn a_search_costs_a_query_per_key_and_a_read_per_account_shown(backend: support::Backend) {
    use coverdesk::accounts::search::Search;
    use coverdesk::accounts::terms::{Criteria, FreeText};
    use coverdesk::accounts::{input, Accounts, TeamId};
    let under = support::store_for(backend).await;
    let team = TeamId::new(support::unique("search-cost"));
    let svc = Accounts::new(under.store.as_ref(), &team);
    for i in 0..30 {
        let (first, last) =
            if i == 17 { ("Ray".to_string(), "Newton".to_string()) } else { ("Ray".to_string(), format!("Other{i}")) };
        let body = account_of(person(&first, &last), place("1253 Paloma Ave", "San Mateo", "CA", "94403"));
        svc.create(input::new_account(&body).unwrap(), None).await.unwrap();
    }
    let counting = std::sync::Arc::new(support::CountingStore::counting(under.store.clone()));
    let svc = Accounts::new(counting.as_ref(), &team);
    let by_name = Search::Criteria(Box::new(Criteria {
        first_name: Some("Ray".into()),
        last_name: Some("Newton".into()),
        ..Default::default()
    }));
    let found = svc.search(&by_name, 25, 0, false).await.unwrap();
    assert_eq!(found.items.len(), 1);
    // Keys `ray` (30 accounts) and `newton` (1): two queries, one read of the account shown.
    assert_eq!(counting.take(), (1, 2, 0));
    let text = Search::FreeText(FreeText::parse("Newton paloma"));
    assert_eq!(svc.search(&text, 25, 0, true).await.unwrap().total, Some(1));
    assert_eq!(counting.take(), (1, 2, 0));
    // Thirty accounts, a page of ten: one query, ten reads; the total counted from the index.
    let everyone = Search::FreeText(FreeText::parse("ray"));
    let page = svc.search(&everyone, 10, 0, true).await.unwrap();
    assert_eq!((page.items.len(), page.has_more, page.total), (10, true, Some(30)));
    assert_eq!(counting.take(), (10, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_costs_a_query_per_key_and_a_read_per_account_shown_on_the_embedded_store() {
    a_search_costs_a_query_per_key_and_a_read_per_account_shown(support::Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_costs_a_query_per_key_and_a_read_per_account_shown_on_dynamodb() {
    a_search_costs_a_query_per_key_and_a_read_per_account_shown(support::Backend::Dynamo).await;
}

/// Issue 23: a list page reads the page and one more from the accounts index (offset paging: the
/// offset too), not pages of 200; counting every account reads them all.
async fn a_list_page_reads_the_page_and_one_more(backend: support::Backend) {
    use coverdesk::accounts::{input, Accounts, ListQuery, TeamId};
    let under = support::store_for(backend).await;
    let team = TeamId::new(support::unique("list-cost"));
    let svc = Accounts::new(under.store.as_ref(), &team);
    for i in 0..40 {
        let body = account_of(person("Pat", &format!("Page{i}")), place("1 Main St", "Austin", "TX", "78701"));
        svc.create(input::new_account(&body).unwrap(), None).await.unwrap();
    }
    let counting = std::sync::Arc::new(support::CountingStore::counting(under.store.clone()));
    let svc = Accounts::new(counting.as_ref(), &team);
    let items = || counting.items.swap(0, std::sync::atomic::Ordering::SeqCst);
    let page = |offset: usize, total: bool| ListQuery {
        page_size: 25,
        page_offset: offset,
        include_total: total,
        ..Default::default()
    };
    // The index is eventually consistent in DynamoDB: wait until all 40 are listed.
    for _ in 0..50 {
        if svc.list(&page(0, true)).await.unwrap().total == Some(40) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    counting.take();
    items();
    let first = svc.list(&page(0, false)).await.unwrap();
    assert_eq!((first.items.len(), first.has_more), (25, true));
    assert_eq!((counting.take(), items()), ((0, 1, 0), 26), "one query of 26 index items");
    let second = svc.list(&page(25, false)).await.unwrap();
    assert_eq!((second.items.len(), second.has_more), (15, false));
    assert_eq!((counting.take(), items()), ((0, 1, 0), 40), "offset paging reads the offset too");
    let counted = svc.list(&page(0, true)).await.unwrap();
    assert_eq!(counted.total, Some(40));
    assert_eq!((counting.take(), items()), ((0, 1, 0), 40));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_page_reads_the_page_and_one_more_on_the_embedded_store() {
    a_list_page_reads_the_page_and_one_more(support::Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_page_reads_the_page_and_one_more_on_dynamodb() {
    a_list_page_reads_the_page_and_one_more(support::Backend::Dynamo).await;
}

/// Issue 23: a process keeps a team's record `CREDENTIAL_TTL` (5 s) after reading it, so a
/// request whose secret it takes reads nothing; a secret it does not take reads again (a refusal
/// is never kept, a secret just rotated works at once); a rotated secret stops working once the
/// kept record is older than that. Here with a 300 ms lifetime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_kept_seconds_and_a_rotated_secret_stops_within_them() {
    use coverdesk::auth::{create_team, rotate_secret, Credentials, CREDENTIAL_TTL};
    assert!(CREDENTIAL_TTL <= std::time::Duration::from_secs(10), "issue 23: revoked within 10 s");
    let (store, _dir) = support::embedded_store();
    let (team, secret) = create_team(store.as_ref(), "t", Some(&support::unique("cred")), None, None).await.unwrap();
    let counting = support::CountingStore::counting(store.clone());
    let kept = Credentials::new(std::time::Duration::from_millis(300));
    let with = |s: &str| basic(&team.client_id, s);
    for _ in 0..3 {
        assert_eq!(kept.authenticate(&counting, Some(&with(&secret))).await.unwrap(), team.team_id);
    }
    assert_eq!(counting.take().0, 1, "three requests, one read");
    assert!(kept.authenticate(&counting, Some(&with("wrong"))).await.is_err());
    assert!(kept.authenticate(&counting, Some(&with("wrong"))).await.is_err());
    assert_eq!(counting.take().0, 2, "a refused secret reads every time");
    let new = rotate_secret(store.as_ref(), &team.client_id).await.unwrap();
    // The old secret, within the lifetime of the record kept before the rotation.
    assert!(kept.authenticate(&counting, Some(&with(&secret))).await.is_ok());
    assert_eq!(counting.take().0, 0);
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    assert!(
        kept.authenticate(&counting, Some(&with(&secret))).await.is_err(),
        "rotated: refused once the record is old"
    );
    assert_eq!(kept.authenticate(&counting, Some(&with(&new))).await.unwrap(), team.team_id);
    assert_eq!(counting.take().0, 1, "the record read again took the new secret and is kept");
    assert!(kept.authenticate(&counting, Some(&with(&secret))).await.is_err());
}

/// An account stored before search existed (no terms) is not found until it changes or the
/// backfill (`coverdesk accounts reindex`) indexes it -- with its checksum unchanged.
async fn accounts_stored_before_search_are_found_once_reindexed(backend: support::Backend) {
    use coverdesk::accounts::search::Search;
    use coverdesk::accounts::terms::Criteria;
    use coverdesk::accounts::{input, Accounts, TeamId};
    use coverdesk::store::{Cond, Write};
    let under = support::store_for(backend).await;
    let team = TeamId::new(support::unique("reindex"));
    let svc = Accounts::new(under.store.as_ref(), &team);
    let body = account_of(person("Olga", "Older"), place("1 Main St", "Austin", "TX", "78701"));
    let a = svc.create(input::new_account(&body).unwrap(), None).await.unwrap();
    // As stored before search existed: the account item without its terms.
    let pk = format!("T#{}#A#{}", team.as_str(), a.value.id);
    let mut item = under.store.get(&pk, "ACCOUNT").await.unwrap().unwrap();
    item.body.as_object_mut().unwrap().remove("search");
    let version = item.version;
    under.store.transact(vec![Write::Put { item, cond: Cond::Version(version) }]).await.unwrap();
    let by_name = Search::Criteria(Box::new(Criteria {
        first_name: Some("Olga".into()),
        last_name: Some("Older".into()),
        ..Default::default()
    }));
    assert!(svc.search(&by_name, 25, 0, false).await.unwrap().items.is_empty());
    assert_eq!(svc.index_missing().await.unwrap(), 1);
    let found = svc.search(&by_name, 25, 0, false).await.unwrap();
    assert_eq!(found.items.iter().map(|a| a.value.id).collect::<Vec<_>>(), [a.value.id]);
    assert_eq!(svc.load(a.value.id).await.unwrap().version, version, "the checksum a client holds still holds");
    assert_eq!(svc.index_missing().await.unwrap(), 0, "nothing left to index");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_stored_before_search_are_found_once_reindexed_on_the_embedded_store() {
    accounts_stored_before_search_are_found_once_reindexed(support::Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_stored_before_search_are_found_once_reindexed_on_dynamodb() {
    accounts_stored_before_search_are_found_once_reindexed(support::Backend::Dynamo).await;
}
