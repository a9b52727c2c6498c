//! One contract suite for the storage port, run against every backend: the embedded store and
//! DynamoDB Local. A behaviour the domain relies on is asserted here, so backends cannot drift.
//! Also the deployment key's Secrets Manager adapter, against the S3-API server (moto).

mod support;

use coverdesk::store::{Cond, Index, Item, Store, StoreError, Write, MAX_TRANSACT_ITEMS};
use serde_json::json;
use support::{store_for, Backend};

fn put(item: Item, cond: Cond) -> Write {
    Write::Put { item, cond }
}

async fn conditional_put_and_get(s: &dyn Store) {
    let item = Item::new("P#1", "A", 1, json!({"name": "x", "amount": "12.50", "n": 3}));
    s.transact(vec![put(item.clone(), Cond::Absent)]).await.unwrap();
    assert_eq!(s.get("P#1", "A").await.unwrap(), Some(item.clone()));
    // A second create of the same key fails its condition and changes nothing.
    let other = Item::new("P#1", "A", 1, json!({"name": "y"}));
    let err = s.transact(vec![put(other, Cond::Absent)]).await.unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { index: 0 }), "{err:?}");
    assert_eq!(s.get("P#1", "A").await.unwrap(), Some(item));
    assert_eq!(s.get("P#1", "missing").await.unwrap(), None);
}

async fn version_conditions_guard_updates(s: &dyn Store) {
    s.transact(vec![put(Item::new("P#2", "A", 1, json!({"n": 1})), Cond::Absent)]).await.unwrap();
    s.transact(vec![put(Item::new("P#2", "A", 2, json!({"n": 2})), Cond::Version(1))]).await.unwrap();
    let stale = s.transact(vec![put(Item::new("P#2", "A", 2, json!({"n": 3})), Cond::Version(1))]).await;
    assert!(matches!(stale, Err(StoreError::ConditionFailed { index: 0 })));
    assert_eq!(s.get("P#2", "A").await.unwrap().unwrap().body, json!({"n": 2}));
    // A version condition on a missing item fails.
    let missing = s.transact(vec![put(Item::new("P#2", "Z", 2, json!({})), Cond::Version(1))]).await;
    assert!(matches!(missing, Err(StoreError::ConditionFailed { index: 0 })));
}

async fn a_failed_condition_writes_nothing(s: &dyn Store) {
    s.transact(vec![put(Item::new("P#3", "A", 1, json!({})), Cond::Absent)]).await.unwrap();
    let err = s
        .transact(vec![
            put(Item::new("P#3", "B", 1, json!({})), Cond::Absent),
            Write::Delete { pk: "P#3".into(), sk: "A".into(), cond: Cond::Any },
            Write::Check { pk: "P#3".into(), sk: "C".into(), cond: Cond::Exists },
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { index: 2 }), "{err:?}");
    assert!(s.get("P#3", "B").await.unwrap().is_none());
    assert!(s.get("P#3", "A").await.unwrap().is_some());
}

async fn deletes_and_checks(s: &dyn Store) {
    s.transact(vec![put(Item::new("P#4", "A", 5, json!({})), Cond::Absent)]).await.unwrap();
    let wrong = s.transact(vec![Write::Delete { pk: "P#4".into(), sk: "A".into(), cond: Cond::Version(4) }]).await;
    assert!(matches!(wrong, Err(StoreError::ConditionFailed { index: 0 })));
    s.transact(vec![
        Write::Check { pk: "P#4".into(), sk: "A".into(), cond: Cond::Exists },
        put(Item::new("P#4", "B", 1, json!({})), Cond::Any),
    ])
    .await
    .unwrap();
    s.transact(vec![Write::Delete { pk: "P#4".into(), sk: "A".into(), cond: Cond::Version(5) }]).await.unwrap();
    assert!(s.get("P#4", "A").await.unwrap().is_none());
    let gone = s.transact(vec![Write::Check { pk: "P#4".into(), sk: "A".into(), cond: Cond::Exists }]).await;
    assert!(matches!(gone, Err(StoreError::ConditionFailed { index: 0 })));
}

async fn queries_page_in_sort_key_order_within_a_prefix(s: &dyn Store) {
    let mut writes = Vec::new();
    for i in (0..25).rev() {
        writes.push(put(Item::new("P#5", format!("N#{i:03}"), 1, json!({"i": i})), Cond::Absent));
    }
    writes.push(put(Item::new("P#5", "A", 1, json!({})), Cond::Absent));
    writes.push(put(Item::new("P#5", "O#1", 1, json!({})), Cond::Absent));
    writes.push(put(Item::new("P#50", "N#000", 1, json!({})), Cond::Absent));
    s.transact(writes).await.unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.query("P#5", "N#", after.as_ref(), 10).await.unwrap();
        assert!(page.items.len() <= 10);
        seen.extend(page.items.iter().map(|i| i.body["i"].as_u64().unwrap()));
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, (0..25).collect::<Vec<_>>());
    let all = s.query("P#5", "", None, 100).await.unwrap();
    assert_eq!(all.items.len(), 27);
    assert!(all.next.is_none());
}

async fn the_index_lists_items_by_index_key_and_follows_changes(s: &dyn Store) {
    for i in [3u32, 1, 2] {
        let item = Item::new(format!("ACC#{i}"), "A", 1, json!({"i": i})).with_index("TEAM#x", format!("{i:05}"));
        s.transact(vec![put(item, Cond::Absent)]).await.unwrap();
    }
    s.transact(vec![put(Item::new("ACC#9", "A", 1, json!({})).with_index("TEAM#y", "00009"), Cond::Absent)])
        .await
        .unwrap();
    let first = s.query_index("TEAM#x", None, 2).await.unwrap();
    let got: Vec<_> = first.items.iter().map(|i| i.body["i"].as_u64().unwrap()).collect();
    assert_eq!(got, vec![1, 2]);
    let rest = s.query_index("TEAM#x", first.next.as_ref(), 2).await.unwrap();
    assert_eq!(rest.items.iter().map(|i| i.body["i"].as_u64().unwrap()).collect::<Vec<_>>(), vec![3]);
    // Deleting an item drops it from the index; an update moves it.
    s.transact(vec![
        Write::Delete { pk: "ACC#1".into(), sk: "A".into(), cond: Cond::Version(1) },
        put(Item::new("ACC#2", "A", 2, json!({"i": 2})).with_index("TEAM#y", "00002"), Cond::Version(1)),
    ])
    .await
    .unwrap();
    let x = s.query_index("TEAM#x", None, 10).await.unwrap();
    assert_eq!(x.items.len(), 1);
    let y = s.query_index("TEAM#y", None, 10).await.unwrap();
    assert_eq!(y.items.iter().map(|i| i.pk.as_str()).collect::<Vec<_>>(), vec!["ACC#2", "ACC#9"]);
}

async fn a_range_of_sort_keys_is_read_in_order_and_paged(s: &dyn Store) {
    let mut writes = Vec::new();
    for sk in ["SA#001", "AT#1", "PULL", "CRED", "EV#000001", "SA#000", "RD#1", "WH#x", "SA#"] {
        writes.push(put(Item::new("R#1", sk, 1, json!({"sk": sk})), Cond::Absent));
    }
    writes.push(put(Item::new("R#10", "PULL", 1, json!({})), Cond::Absent));
    writes.push(put(Item::new("R#", "SA#000", 1, json!({})), Cond::Absent));
    s.transact(writes).await.unwrap();
    let sks = |p: &coverdesk::store::Page| p.items.iter().map(|i| i.sk.clone()).collect::<Vec<_>>();
    let all = s.query_between("R#1", ("PULL", "SA#~"), None, 100).await.unwrap();
    assert_eq!(sks(&all), ["PULL", "RD#1", "SA#", "SA#000", "SA#001"]);
    assert!(all.next.is_none());
    let first = s.query_between("R#1", ("PULL", "SA#~"), None, 2).await.unwrap();
    assert_eq!(sks(&first), ["PULL", "RD#1"]);
    let rest = s.query_between("R#1", ("PULL", "SA#~"), first.next.as_ref(), 10).await.unwrap();
    assert_eq!(sks(&rest), ["SA#", "SA#000", "SA#001"]);
    // Both ends included; nothing of another partition.
    let exact = s.query_between("R#1", ("SA#000", "SA#001"), None, 10).await.unwrap();
    assert_eq!(sks(&exact), ["SA#000", "SA#001"]);
    assert!(s.query_between("R#2", ("A", "Z"), None, 10).await.unwrap().items.is_empty());
}

async fn the_second_index_lists_apart_from_the_first(s: &dyn Store) {
    let body = |i: u32| json!({"i": i});
    for i in [3u32, 1, 2] {
        let item = Item::new(format!("TX#{i}"), "TX", 1, body(i))
            .with_index("INV#a", format!("{i:05}"))
            .with_index2("M#2026-12", format!("2026-12-{:02}#{i}", 10 - i));
        s.transact(vec![put(item, Cond::Absent)]).await.unwrap();
    }
    // The same partition string in the first index is another list.
    s.transact(vec![put(Item::new("OTHER", "A", 1, body(9)).with_index("M#2026-12", "0"), Cond::Absent)])
        .await
        .unwrap();
    let ids = |p: &coverdesk::store::Page| p.items.iter().map(|i| i.body["i"].as_u64().unwrap()).collect::<Vec<_>>();
    let first = s.query_index_in(Index::Second, "M#2026-12", None, 2).await.unwrap();
    assert_eq!(ids(&first), vec![3, 2], "in the second index's sort order");
    assert_eq!(first.items[0].index2.as_ref().unwrap().sk, "2026-12-07#3");
    assert_eq!(first.items[0].index.as_ref().unwrap().pk, "INV#a", "both keys read back");
    let rest = s.query_index_in(Index::Second, "M#2026-12", first.next.as_ref(), 2).await.unwrap();
    assert_eq!(ids(&rest), vec![1]);
    assert_eq!(ids(&s.query_index("M#2026-12", None, 10).await.unwrap()), vec![9]);
    assert_eq!(ids(&s.query_index("INV#a", None, 10).await.unwrap()), vec![1, 2, 3]);
    // Put without its second key, the item leaves that index only; deleted, it leaves both.
    s.transact(vec![put(Item::new("TX#1", "TX", 2, body(1)).with_index("INV#a", "00001"), Cond::Version(1))])
        .await
        .unwrap();
    s.transact(vec![Write::Delete { pk: "TX#2".into(), sk: "TX".into(), cond: Cond::Any }]).await.unwrap();
    assert_eq!(ids(&s.query_index_in(Index::Second, "M#2026-12", None, 10).await.unwrap()), vec![3]);
    assert_eq!(ids(&s.query_index("INV#a", None, 10).await.unwrap()), vec![1, 3]);
}

async fn write_each_applies_each_write_on_its_own(s: &dyn Store) {
    s.transact(vec![put(Item::new("W#1", "B", 1, json!({"kept": true})), Cond::Absent)]).await.unwrap();
    let out = s
        .write_each(vec![
            put(Item::new("W#1", "A", 1, json!({})).with_index2("WM", "1"), Cond::Absent),
            put(Item::new("W#1", "B", 1, json!({"kept": false})).with_index2("WM", "2"), Cond::Absent),
            put(Item::new("W#1\0", "C", 1, json!({})), Cond::Absent),
            put(Item::new("W#1", "D", 1, json!({})).with_index2("WM", "4"), Cond::Absent),
            Write::Delete { pk: "W#1".into(), sk: "Z".into(), cond: Cond::Exists },
        ])
        .await;
    assert_eq!(out.len(), 5);
    assert!(out[0].is_ok() && out[3].is_ok(), "{out:?}");
    assert!(matches!(out[1], Err(StoreError::ConditionFailed { index: 0 })), "{:?}", out[1]);
    assert!(matches!(out[2], Err(StoreError::Invalid(_))), "{:?}", out[2]);
    assert!(matches!(out[4], Err(StoreError::ConditionFailed { index: 0 })), "{:?}", out[4]);
    assert_eq!(s.get("W#1", "B").await.unwrap().unwrap().body, json!({"kept": true}), "a failed one changed nothing");
    let listed = s.query_index_in(Index::Second, "WM", None, 10).await.unwrap();
    assert_eq!(listed.items.iter().map(|i| i.sk.as_str()).collect::<Vec<_>>(), vec!["A", "D"]);
}

async fn transactions_are_bounded_like_dynamodb(s: &dyn Store) {
    let too_many: Vec<_> =
        (0..=MAX_TRANSACT_ITEMS).map(|i| put(Item::new("P#6", format!("{i}"), 1, json!({})), Cond::Any)).collect();
    assert!(matches!(s.transact(too_many).await, Err(StoreError::Invalid(_))));
    let twice = vec![
        put(Item::new("P#6", "A", 1, json!({})), Cond::Any),
        Write::Check { pk: "P#6".into(), sk: "A".into(), cond: Cond::Any },
    ];
    assert!(matches!(s.transact(twice).await, Err(StoreError::Invalid(_))));
    let full: Vec<_> =
        (0..MAX_TRANSACT_ITEMS).map(|i| put(Item::new("P#6", format!("{i:03}"), 1, json!({})), Cond::Absent)).collect();
    s.transact(full).await.unwrap();
    assert_eq!(s.query("P#6", "", None, 1000).await.unwrap().items.len(), MAX_TRANSACT_ITEMS);
}

async fn sequences_never_repeat(s: &dyn Store) {
    assert_eq!(s.sequence("T#1", "SEQ").await.unwrap(), 0);
    assert_eq!(s.next_sequence("T#1", "SEQ", 1).await.unwrap(), 1);
    assert_eq!(s.next_sequence("T#1", "SEQ", 5).await.unwrap(), 2);
    assert_eq!(s.sequence("T#1", "SEQ").await.unwrap(), 6);
    assert_eq!(s.next_sequence("T#1", "SEQ", 1).await.unwrap(), 7);
    assert_eq!(s.sequence("T#1", "SEQ").await.unwrap(), 7, "reading does not reserve");
    assert_eq!(s.next_sequence("T#2", "SEQ", 1).await.unwrap(), 1);
}

async fn concurrent_sequences_are_unique(s: std::sync::Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.next_sequence("T#c", "SEQ", 1).await.unwrap() }));
    }
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap());
    }
    got.sort();
    assert_eq!(got, (1..=20).collect::<Vec<_>>());
}

async fn nul_bytes_in_keys_are_refused(s: &dyn Store) {
    assert!(matches!(s.get("a\0b", "c").await, Err(StoreError::Invalid(_))));
    // DynamoDB's key limits hold on every adapter: 2048 bytes of partition key, 1024 of sort key.
    let long_pk = "p".repeat(coverdesk::store::MAX_PK_BYTES + 1);
    let long_sk = "s".repeat(coverdesk::store::MAX_SK_BYTES + 1);
    assert!(matches!(s.get(&long_pk, "c").await, Err(StoreError::Invalid(_))));
    assert!(matches!(s.get("p", &long_sk).await, Err(StoreError::Invalid(_))));
    let w = Write::Put { item: Item::new(long_pk, "S", 1, serde_json::json!({})), cond: Cond::Any };
    assert!(matches!(s.transact(vec![w]).await, Err(StoreError::Invalid(_))));
    let at_limit = "p".repeat(coverdesk::store::MAX_PK_BYTES);
    assert!(s.get(&at_limit, "c").await.unwrap().is_none());
}

/// Issue 10: a transient item past its expiry is absent to every read (DynamoDB's TTL deletes it
/// later; until then neither store shows it); one not yet expired reads as usual, expiry and all.
async fn expired_items_are_absent_to_readers(s: &dyn Store) {
    let now = chrono::Utc::now();
    let past = Item::new("ttl", "S#1", 1, json!({"n": 1}))
        .with_index("TTLIDX", "1")
        .expiring(now - chrono::Duration::seconds(5));
    let future = Item::new("ttl", "S#2", 1, json!({"n": 2}))
        .with_index("TTLIDX", "2")
        .expiring(now + chrono::Duration::hours(1));
    s.transact(vec![put(past, Cond::Absent), put(future.clone(), Cond::Absent)]).await.unwrap();
    assert!(s.get("ttl", "S#1").await.unwrap().is_none(), "expired: absent");
    let got = s.get("ttl", "S#2").await.unwrap().unwrap();
    assert_eq!(got.expires_at, future.expires_at);
    let page = s.query("ttl", "S#", None, 10).await.unwrap();
    assert_eq!(page.items.iter().map(|i| i.sk.as_str()).collect::<Vec<_>>(), ["S#2"]);
    let page = s.query_index("TTLIDX", None, 10).await.unwrap();
    assert_eq!(page.items.iter().map(|i| i.sk.as_str()).collect::<Vec<_>>(), ["S#2"]);
    // Conditions agree: the expired item is absent to a write too (a new one may take its key),
    // while the live one still exists.
    let version_of_expired = put(Item::new("ttl", "S#1", 2, json!({})), Cond::Version(1));
    assert!(matches!(s.transact(vec![version_of_expired]).await, Err(StoreError::ConditionFailed { index: 0 })));
    s.transact(vec![put(Item::new("ttl", "S#1", 1, json!({"n": 3})), Cond::Absent)]).await.unwrap();
    assert_eq!(s.get("ttl", "S#1").await.unwrap().unwrap().body["n"], 3);
    let taken = put(Item::new("ttl", "S#2", 1, json!({})), Cond::Absent);
    assert!(matches!(s.transact(vec![taken]).await, Err(StoreError::ConditionFailed { index: 0 })));
    s.transact(vec![put(Item::new("ttl", "S#2", 2, json!({"n": 4})), Cond::Version(1))]).await.unwrap();
}

/// Teams (moved here from the domain's unit tests when the embedded store left the domain crate):
/// a secret is stored only hashed; rotation revokes the old one at once.
async fn team_secrets_are_stored_hashed_and_rotation_revokes_the_old_one(s: &dyn Store) {
    use coverdesk::auth::{authenticate, create_team, rotate_secret, team_pk, AuthError, TEAM_SK};
    let basic = |id: &str, secret: &str| {
        use base64::Engine;
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
    };
    let (team, secret) = create_team(s, "Acme", Some(&support::unique("acme")), None, None).await.unwrap();
    let stored = s.get(&team_pk(&team.client_id), TEAM_SK).await.unwrap().unwrap();
    assert!(!stored.body.to_string().contains(&secret));
    let id = authenticate(s, Some(&basic(&team.client_id, &secret))).await.unwrap();
    assert_eq!(id.as_str(), team.team_id.as_str());
    assert!(authenticate(s, Some(&basic(&team.client_id, "wrong"))).await.is_err());
    let new = rotate_secret(s, &team.client_id).await.unwrap();
    assert!(authenticate(s, Some(&basic(&team.client_id, &secret))).await.is_err());
    assert!(authenticate(s, Some(&basic(&team.client_id, &new))).await.is_ok());
    for bad in [None, Some("Bearer x"), Some("Basic !!!"), Some("Basic Zm9v")] {
        assert!(matches!(authenticate(s, bad).await, Err(AuthError::Unauthenticated)));
    }
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            use super::*;
            $(#[tokio::test] async fn $name() { let s = store_for(Backend::Embedded).await; super::$name(&*s.store).await; })*
            #[tokio::test] async fn concurrent_sequences() { let s = store_for(Backend::Embedded).await; concurrent_sequences_are_unique(s.store.clone()).await; }
        }
        mod dynamodb {
            use super::*;
            $(#[tokio::test] async fn $name() { let s = store_for(Backend::Dynamo).await; super::$name(&*s.store).await; })*
            #[tokio::test] async fn concurrent_sequences() { let s = store_for(Backend::Dynamo).await; concurrent_sequences_are_unique(s.store.clone()).await; }
        }
    };
}

contract!(
    conditional_put_and_get,
    version_conditions_guard_updates,
    a_failed_condition_writes_nothing,
    deletes_and_checks,
    queries_page_in_sort_key_order_within_a_prefix,
    the_index_lists_items_by_index_key_and_follows_changes,
    the_second_index_lists_apart_from_the_first,
    a_range_of_sort_keys_is_read_in_order_and_paged,
    write_each_applies_each_write_on_its_own,
    transactions_are_bounded_like_dynamodb,
    sequences_never_repeat,
    nul_bytes_in_keys_are_refused,
    expired_items_are_absent_to_readers,
    team_secrets_are_stored_hashed_and_rotation_revokes_the_old_one,
);

/// The deployment key's adapter against the S3-API server's Secrets Manager (moto serves both):
/// the stack's generated secret and an existing deployment's base64 key both read; a missing
/// secret is an error that names the secret, never a key.
mod deployment_key {
    use coverdesk_secrets::from_secret as key_from_secrets_manager;

    fn client() -> aws_sdk_secretsmanager::Client {
        let creds = aws_sdk_secretsmanager::config::Credentials::new("test", "test", None, None, "tests");
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
            .endpoint_url(super::support::s3_endpoint())
            .credentials_provider(creds)
            .build();
        aws_sdk_secretsmanager::Client::from_conf(config)
    }

    async fn secret(client: &aws_sdk_secretsmanager::Client, value: &str) -> String {
        let out = client
            .create_secret()
            .name(super::support::unique("coverdesk-key"))
            .secret_string(value)
            .send()
            .await
            .expect("the S3-API server (moto) answers Secrets Manager too; the README's test command starts it");
        out.arn().unwrap().to_string()
    }

    #[tokio::test]
    async fn the_deployment_key_reads_from_secrets_manager() {
        let c = client();
        let generated = secret(&c, &format!("{{\"key\": \"{}\"}}", "Q7w2".repeat(16))).await;
        let keys = key_from_secrets_manager(&c, &generated).await.unwrap();
        let sealed = keys.seal("ctx", b"hunter22").unwrap();
        // Read again (another cold start): the same key.
        let again = key_from_secrets_manager(&c, &generated).await.unwrap();
        assert_eq!(again.open("ctx", &sealed).unwrap(), b"hunter22");
        // An existing deployment's base64 key, copied into a secret, opens what it sealed.
        let b64 = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
        let old = coverdesk::crypto::Keys::from_base64(b64).unwrap().seal("ctx", b"old").unwrap();
        let moved = secret(&c, &format!("{{\"key\": \"{b64}\"}}")).await;
        assert_eq!(key_from_secrets_manager(&c, &moved).await.unwrap().open("ctx", &old).unwrap(), b"old");
        // Missing: the error names the secret.
        let e = key_from_secrets_manager(&c, "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope")
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("secret:nope"), "{e}");
    }
}

/// A DynamoDB Local table made before the second index (only `gsi1`) gets it from
/// `create_table` (what `coverdesk dynamodb create-table` runs), and its items stay.
#[tokio::test]
async fn an_older_table_gets_the_second_index() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
        ScalarAttributeType,
    };
    let client = support::dynamo_client();
    let table = support::unique("coverdesk-old");
    let s = |n: &str| AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build();
    let k = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build().unwrap();
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(["pk", "sk", "gsi1pk", "gsi1sk"].map(|n| s(n).unwrap()).to_vec()))
        .key_schema(k("pk", KeyType::Hash))
        .key_schema(k("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("gsi1")
                .key_schema(k("gsi1pk", KeyType::Hash))
                .key_schema(k("gsi1sk", KeyType::Range))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let store = coverdesk_dynamo::DynamoStore::new(client, table);
    store.transact(vec![put(Item::new("OLD", "A", 1, json!({})), Cond::Absent)]).await.unwrap();
    store.create_table().await.unwrap();
    store.create_table().await.unwrap(); // and again: nothing left to add
    let item = Item::new("NEW", "A", 1, json!({})).with_index2("M", "1");
    store.transact(vec![put(item, Cond::Absent)]).await.unwrap();
    let listed = store.query_index_in(Index::Second, "M", None, 10).await.unwrap();
    assert_eq!(listed.items.iter().map(|i| i.pk.as_str()).collect::<Vec<_>>(), vec!["NEW"]);
    assert!(store.get("OLD", "A").await.unwrap().is_some());
}
