//! Issue 20: an import batch's end told by the servicing webhooks -- `IMPORT_BATCH_PROCESSED`
//! with its counts by status, `IMPORT_BATCH_FAILED` with its reason -- signed, logged and
//! redelivered as a pull's events are, once per batch however often it is recorded, on the local
//! server (its in-process worker) over the embedded store and over DynamoDB Local.

#[macro_use]
mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::api::{TestApi, Transport};
use support::hooks::{world, Received, World};

/// A transaction that imports with no document (a binder: no state requires one), or, with
/// another type, is refused with that type's status.
fn txn(id: &str, transaction_type: &str) -> Value {
    json!({
        "id": id, "policy_number": format!("P-{id}"), "policy_effective_date": "2017-02-01",
        "transaction_effective_date": "2017-02-01", "transaction_type": transaction_type,
        "account_written_as": "B", "rpg": 0, "premium": 3900.00, "agency_fee": 200.00, "inspection_fee": 0.00,
        "sl_tax": 117.00, "stamping_fee": 7.80, "sl_service_charge": 0.00, "municipal_fee": 0.00, "fm_tax": 0.00,
        "total": 4224.80, "commission_received": 0, "non_admitted_insured_name": "1001",
        "invoice_date": "2017-02-01", "ecp": 0, "mailing_insured_name": "Westfield Galleria at Roseville",
        "mailing_address": "1151 Galleria Blvd", "mailing_city": "Roseville", "mailing_zip_code": "95678",
        "mailing_state_code": "CA", "physical_same_as_mailing": 1, "transaction_line_of_business": "1001",
        "exempt": 0, "export_list": 0, "multi_state": 0, "transaction_documents": []
    })
}

fn uid(tag: &str) -> String {
    support::unique(tag)
}

/// Gives the worker time to send anything more, then the batch's deliveries.
async fn settled(w: &World, batch: &str) -> Vec<Received> {
    tokio::time::sleep(Duration::from_millis(1200)).await;
    w.hooks.events_about("batch_id", batch)
}

fn events_path(api: &TestApi, batch: &str) -> String {
    format!("/teams/{}/imports/{batch}/events", api.team)
}

/// An inline batch with mixed statuses: one signed `IMPORT_BATCH_PROCESSED` with its counts; the
/// delivery log lists the attempt; a redelivery sends the same body again and is logged.
async fn an_inline_batch_is_told_once_logged_and_redelivered(t: Transport) {
    let w = world(t).await;
    let tag = uid("inline");
    let batch = json!([txn(&format!("{tag}-1"), "BD"), txn(&format!("{tag}-2"), "BD"), txn(&format!("{tag}-3"), "XX")]);
    let r = w.api.post("/import/v1/transactions", batch).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let statuses: Vec<u64> =
        r.body["transactions"].as_array().unwrap().iter().map(|t| t["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [0, 0, 1002], "{}", r.body);
    let batch_id = r.body["batch_id"].as_str().unwrap().to_string();

    let got = w.hooks.wait_for_batch(&batch_id, "IMPORT_BATCH_PROCESSED", 1).await;
    assert_eq!(got.len(), 1);
    let e = &got[0];
    assert!(e.signature_ok, "the signature checks out");
    let body = &e.body;
    assert_eq!(body["event_id"], format!("{batch_id}.2"));
    assert_eq!((body["sequence"].as_u64(), body["status"].as_str()), (Some(2), Some("processed")));
    assert_eq!(body["team_id"], w.api.team.as_str());
    assert!(body.get("pull_id").is_none(), "{body}");
    assert_eq!((body["meta_data"].clone(), body["account_identifier"].clone()), (json!({}), Value::Null));
    let data = &body["data"];
    assert_eq!((data["batch_id"].as_str(), data["source"].as_str()), (Some(batch_id.as_str()), Some("api")));
    assert_eq!((data["total"].as_u64(), data["imported"].as_u64()), (Some(3), Some(2)), "{data}");
    assert_eq!(data["status_counts"], json!({"0": 2, "1002": 1}));

    let log = w.api.get(&events_path(&w.api, &batch_id)).await;
    assert_eq!(log.status, 200, "{}", log.body);
    assert_eq!(log.body["batch_id"], batch_id.as_str());
    let events = log.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{}", log.body);
    assert_eq!(events[0]["event_type"], "IMPORT_BATCH_PROCESSED");
    assert_eq!(&events[0]["body"], body);
    let deliveries = events[0]["deliveries"].as_array().unwrap();
    assert_eq!((deliveries.len(), deliveries[0]["status"].as_str()), (1, Some("DELIVERED")), "{}", log.body);
    assert_eq!(deliveries[0]["attempts"].as_array().unwrap().len(), 1);

    let again = w.api.post_empty(&format!("{}/{batch_id}.2/redeliver", events_path(&w.api, &batch_id))).await;
    assert_eq!(again.status, 202, "{}", again.body);
    assert_eq!(again.body["queued_for"].as_array().unwrap().len(), 1);
    let got = w.hooks.wait_for_batch(&batch_id, "IMPORT_BATCH_PROCESSED", 2).await;
    assert_eq!(&got[1].body, body, "the same body again");
    assert!(got[1].signature_ok);
    let mut attempts = Vec::new();
    for _ in 0..100 {
        let log = w.api.get(&events_path(&w.api, &batch_id)).await;
        attempts = log.body["events"][0]["deliveries"][0]["attempts"].as_array().unwrap().clone();
        if attempts.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(attempts.iter().map(|a| a["redelivery"].as_bool().unwrap()).collect::<Vec<_>>(), [false, true]);

    // Not found: an event of no batch, a batch of no event, a batch of another team.
    let missing = [
        ("GET", events_path(&w.api, "no-such-batch")),
        ("POST", format!("{}/{batch_id}.1/redeliver", events_path(&w.api, &batch_id))),
        ("POST", format!("{}/nope.2/redeliver", events_path(&w.api, &batch_id))),
    ];
    for (method, path) in missing {
        let r = w.api.call(method, &path, None, &[]).await;
        assert_eq!((r.status, r.body["error"].as_str()), (404, Some("NOT_FOUND")), "{method} {path}: {}", r.body);
    }
    let other = w.api.new_team().await;
    let r = other.get(&events_path(&other, &batch_id)).await;
    assert_eq!(r.status, 404, "another team's batch is not found: {}", r.body);
    let r = other.get(&events_path(&w.api, &batch_id)).await;
    assert_eq!(r.status, 403, "{}", r.body);
}

/// The new types are types a webhook may ask for, alone; one that asks for other types only gets
/// no import event.
async fn webhooks_filter_the_import_types(t: Transport) {
    let w = world(t).await;
    let hooks = format!("/teams/{}/webhooks", w.api.team);
    let only_failed = w.api.post(&hooks, json!({"url": w.hooks.url(), "event_types": ["IMPORT_BATCH_FAILED"]})).await;
    assert_eq!(only_failed.status, 200, "{}", only_failed.body);
    assert_eq!(only_failed.body["event_types"], json!(["IMPORT_BATCH_FAILED"]));
    let list = w.api.get(&hooks).await;
    let default = list.body["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["webhook_id"] != only_failed.body["webhook_id"])
        .unwrap()
        .clone();
    assert!(default["event_types"].as_array().unwrap().contains(&json!("IMPORT_BATCH_PROCESSED")), "{default}");
    let r = w.api.post("/import/v1/transactions", json!([txn(&uid("filter"), "BD")])).await;
    let batch_id = r.body["batch_id"].as_str().unwrap().to_string();
    w.hooks.wait_for_batch(&batch_id, "IMPORT_BATCH_PROCESSED", 1).await;
    assert_eq!(settled(&w, &batch_id).await.len(), 1, "sent to the endpoint that wants it only");
}

/// A single-transaction batch of two: no event after the first position, one after the second,
/// none more when a position is sent again.
async fn a_single_transaction_batch_is_told_when_its_last_position_arrives(t: Transport) {
    let w = world(t).await;
    let tag = uid("single");
    let first = w
        .api
        .post(
            "/import/v1/transaction",
            json!({"total_items": 2, "current_item": 1, "transaction": txn(&format!("{tag}-1"), "BD")}),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let batch_id = first.body["batch_id"].as_str().unwrap().to_string();
    assert!(settled(&w, &batch_id).await.is_empty(), "nothing while processing");
    let log = w.api.get(&events_path(&w.api, &batch_id)).await;
    assert_eq!((log.status, log.body["events"].clone()), (200, json!([])), "{}", log.body);

    let second = json!({"batch_id": batch_id, "total_items": 2, "current_item": 2, "transaction": txn(&format!("{tag}-2"), "XX")});
    let r = w.api.post("/import/v1/transaction", second.clone()).await;
    assert_eq!(r.body["status"], "processed", "{}", r.body);
    let got = w.hooks.wait_for_batch(&batch_id, "IMPORT_BATCH_PROCESSED", 1).await;
    let data = &got[0].body["data"];
    assert_eq!((data["source"].as_str(), data["total"].as_u64()), (Some("single"), Some(2)));
    assert_eq!(data["status_counts"], json!({"0": 1, "1002": 1}));
    // A retry of the last position after the batch is processed: recorded again, told once.
    let r = w.api.post("/import/v1/transaction", second).await;
    assert_eq!(r.body["status"], "processed", "{}", r.body);
    assert_eq!(settled(&w, &batch_id).await.len(), 1);
}

/// A batch imported in the background is told once it is processed.
async fn a_background_batch_is_told(t: Transport) {
    let w = world(t).await;
    let r =
        w.api.post("/import/v1/transactions?mode=async", json!([txn(&uid("bg"), "BD"), txn(&uid("bg"), "ZZ")])).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let batch_id = r.body["batch_id"].as_str().unwrap().to_string();
    let got = w.hooks.wait_for_batch(&batch_id, "IMPORT_BATCH_PROCESSED", 1).await;
    let data = &got[0].body["data"];
    assert_eq!((data["total"].as_u64(), data["imported"].as_u64()), (Some(2), Some(1)), "{data}");
    assert_eq!(data["status_counts"], json!({"0": 1, "1002": 1}));
    assert_eq!(settled(&w, &batch_id).await.len(), 1);
}

/// An upload delivered twice is one batch and one event; a batch whose import died and whose
/// upload is gone is marked failed by the sweep and told `IMPORT_BATCH_FAILED` with the reason.
async fn an_upload_delivered_twice_is_told_once_and_a_lost_one_fails(t: Transport) {
    let w = world(t).await;
    let api = &w.api;
    let key = format!("uploads/{}/{}.json", api.team, uid("daily"));
    let body = serde_json::to_vec(&json!([txn(&uid("up"), "BD"), txn(&uid("up"), "BD")])).unwrap();
    api.deps.objects.put_bytes(&key, body, &coverdesk::objects::ObjectMeta::plain("application/json")).await.unwrap();
    let imports = api.deps.imports();
    let once = coverdesk::import::upload::import_object(&imports, "local", &key, "e1", &|_, _| {}).await.unwrap();
    let twice = coverdesk::import::upload::import_object(&imports, "local", &key, "e1", &|_, _| {}).await.unwrap();
    assert_eq!(once, twice);
    let got = w.hooks.wait_for_batch(&once.batch_id, "IMPORT_BATCH_PROCESSED", 1).await;
    assert_eq!(got[0].body["data"]["status_counts"], json!({"0": 2}));
    assert!(got[0].body["data"]["source"].as_str().unwrap().starts_with("s3://local/uploads/"));
    // Its import run again over the stored batch (a delivery that found it half done) records it
    // processed again: still one event.
    let repo = coverdesk::import::repo::ImportRepo::new(api.store(), &api.team);
    let mut meta = repo.batch(&once.batch_id).await.unwrap().unwrap();
    meta.status = coverdesk::import::model::BatchStatus::Processing;
    repo.put_batch(&meta, 1).await.unwrap();
    coverdesk::import::upload::import_object(&imports, "local", &key, "e1", &|_, _| {}).await.unwrap();
    assert_eq!(repo.batch(&once.batch_id).await.unwrap().unwrap().status.code(), "processed");
    assert_eq!(settled(&w, &once.batch_id).await.len(), 1);

    // Lost: processing past its lease, its upload gone.
    let gone = format!("{:032x}", rand_u128());
    let mut stuck = meta.clone();
    stuck.batch_id = gone.clone();
    stuck.source = "api".into();
    stuck.upload = Some(coverdesk::import::service::UploadRef {
        bucket: String::new(),
        key: coverdesk::import::upload::api_upload_key(&api.team, &gone),
        etag: String::new(),
    });
    stuck.lease_until = Some(chrono::Utc::now() - chrono::TimeDelta::minutes(1));
    repo.put_batch(&stuck, 1).await.unwrap();
    coverdesk::import::upload::resume_stale(&imports, 10).await.unwrap();
    assert_eq!(repo.batch(&gone).await.unwrap().unwrap().status.code(), "failed");
    let got = w.hooks.wait_for_batch(&gone, "IMPORT_BATCH_FAILED", 1).await;
    let body = &got[0].body;
    assert!(got[0].signature_ok);
    assert_eq!(
        (body["event_id"].as_str(), body["status"].as_str()),
        (Some(format!("{gone}.1").as_str()), Some("failed"))
    );
    assert_eq!(body["data"]["reason"], "UPLOAD_GONE");
    assert!(body["data"]["message"].as_str().unwrap().contains("send the batch again"), "{body}");
    let log = api.get(&events_path(api, &gone)).await;
    assert_eq!(log.body["events"][0]["event_type"], "IMPORT_BATCH_FAILED", "{}", log.body);
}

/// An upload that is no batch: its result file says why, and the team is told once
/// (IMPORT_BATCH_FAILED, reason INVALID_BATCH), however often the upload is delivered.
async fn an_upload_that_is_no_batch_is_told_as_failed_once(t: Transport) {
    let w = world(t).await;
    let api = &w.api;
    let key = format!("uploads/{}/{}.json", api.team, uid("broken"));
    api.deps
        .objects
        .put_bytes(
            &key,
            b"{\"not\": \"an array\"}".to_vec(),
            &coverdesk::objects::ObjectMeta::plain("application/json"),
        )
        .await
        .unwrap();
    let imports = api.deps.imports();
    let once = coverdesk::import::upload::import_object(&imports, "local", &key, "e1", &|_, _| {}).await.unwrap();
    let twice = coverdesk::import::upload::import_object(&imports, "local", &key, "e1", &|_, _| {}).await.unwrap();
    assert!(once.rejected && once == twice, "{once:?}");
    let got = w.hooks.wait_for_batch(&once.batch_id, "IMPORT_BATCH_FAILED", 1).await;
    assert!(got[0].signature_ok);
    assert_eq!(got[0].body["data"]["reason"], "INVALID_BATCH", "{}", got[0].body);
    assert!(got[0].body["data"]["message"].as_str().unwrap().contains("nothing was imported"), "{}", got[0].body);
    assert_eq!(settled(&w, &once.batch_id).await.len(), 1);
    let r = api.get(&format!("/import/v1/transaction-import-results?batch_id={}", once.batch_id)).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("failed")), "{}", r.body);
}

fn rand_u128() -> u128 {
    u128::from_be_bytes(coverdesk::crypto::random_bytes::<16>().unwrap())
}

both_stores!(
    an_upload_that_is_no_batch_is_told_as_failed_once,
    an_inline_batch_is_told_once_logged_and_redelivered,
    webhooks_filter_the_import_types,
    a_single_transaction_batch_is_told_when_its_last_position_arrives,
    a_background_batch_is_told,
    an_upload_delivered_twice_is_told_once_and_a_lost_one_fails,
);
