//! The DynamoDB adapter of the store port ([`coverdesk::store::Store`]), and the AWS
//! configuration every AWS client of a cold start shares. Its own crate so that only the
//! functions that keep data link the DynamoDB client.
//!
//! One table, keys `pk` (S) and `sk` (S); the number attribute `v` is the item's version; the map
//! attribute `body` holds the item's JSON as native DynamoDB types (so the table stays readable in
//! the console); the global secondary indexes `gsi1` and `gsi2` are keyed on `gsi1pk`/`gsi1sk` and
//! `gsi2pk`/`gsi2sk` (every attribute projected; `gsi2` is sparse). Counters are
//! items with a number attribute `n`, bumped with `ADD`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, CreateGlobalSecondaryIndexAction, Delete,
    GlobalSecondaryIndex, GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType, Put,
    ReturnValue, ScalarAttributeType, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;

use coverdesk::deps::{ConfigError, TABLE_ENV};
use coverdesk::store::{
    validate_key, validate_transaction, Cond, Cursor, Index, Item, Page, Store, StoreError, Write, MAX_PAGE,
};

mod item;
pub use item::{from_attr, index_attributes, index_name, item_from_attrs, item_to_attrs, to_attr, TTL_ATTRIBUTE};
use item::{key_attrs, Attrs};

/// The AWS configuration (region, credentials, endpoints) from the standard environment, loaded
/// once per cold start and shared by every client the function builds.
pub async fn config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The table named by `COVERDESK_TABLE`, its connection opened (see [`DynamoStore::warm_up`]).
pub async fn from_env(config: &aws_config::SdkConfig) -> Result<DynamoStore, ConfigError> {
    let table = std::env::var(TABLE_ENV).map_err(|_| ConfigError::Missing(TABLE_ENV))?;
    let store = DynamoStore::from_config(config, table);
    store.warm_up().await;
    Ok(store)
}

/// The key of the warm-up read: no area's key has this shape (theirs are `<AREA>#...`).
const WARM_UP_KEY: &str = "coverdesk-warm-up";

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

/// The condition expression of a write, with its names and values. An item past its expiry (`ttl`) that DynamoDB's TTL has
/// not deleted yet counts as absent, as it does to readers.
fn condition(cond: Cond) -> (String, HashMap<String, String>, Option<Attrs>) {
    let name = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let now = || (":now".to_string(), AttributeValue::N(chrono::Utc::now().timestamp().to_string()));
    let live = "(attribute_not_exists(#ttl) OR #ttl > :now)";
    match cond {
        Cond::Any => ("attribute_exists(#pk) OR attribute_not_exists(#pk)".into(), name(&[("#pk", "pk")]), None),
        Cond::Absent => (
            "attribute_not_exists(#pk) OR #ttl <= :now".into(),
            name(&[("#pk", "pk"), ("#ttl", TTL_ATTRIBUTE)]),
            Some(HashMap::from([now()])),
        ),
        Cond::Exists => (
            format!("attribute_exists(#pk) AND {live}"),
            name(&[("#pk", "pk"), ("#ttl", TTL_ATTRIBUTE)]),
            Some(HashMap::from([now()])),
        ),
        Cond::Version(v) => (
            format!("#v = :v AND {live}"),
            name(&[("#v", "v"), ("#ttl", TTL_ATTRIBUTE)]),
            Some(HashMap::from([(":v".to_string(), AttributeValue::N(v.to_string())), now()])),
        ),
    }
}

fn unavailable<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(e: &SdkError<E, R>) -> StoreError {
    match e {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("Unknown");
            match code {
                "ProvisionedThroughputExceededException" | "RequestLimitExceeded" | "ThrottlingException" => {
                    StoreError::Unavailable(code.to_string())
                }
                "TransactionConflictException" | "TransactionInProgressException" => StoreError::Contention,
                _ => StoreError::Backend(format!("{code}: {}", se.err().message().unwrap_or(""))),
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("{e}"))
        }
        other => StoreError::Backend(format!("{other}")),
    }
}

fn build_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(e.to_string())
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore { client, table: table.into() }
    }

    /// A client from an AWS configuration already loaded (a cold start loads it once).
    pub fn from_config(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        DynamoStore::new(Client::new(config), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Opens the connection during the cold start (the TLS handshake, the credentials' first
    /// signature), so the first request does not pay for it: one strongly consistent read of a
    /// key no item has. Bounded to one second; a failure is left for the first request to meet
    /// and report (a missing table, no network).
    pub async fn warm_up(&self) {
        let read = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(WARM_UP_KEY.into()))
            .key("sk", AttributeValue::S(WARM_UP_KEY.into()))
            .send();
        match tokio::time::timeout(std::time::Duration::from_secs(1), read).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %DisplayErrorContext(&e), "DynamoDB warm-up read failed"),
            Err(_) => tracing::warn!("DynamoDB warm-up read took over a second; left for the first request"),
        }
    }

    /// Creates the table with its two indexes (on-demand billing), as `template.yaml` declares it;
    /// a table made before the second index existed gets it added (as CloudFormation adds it to a
    /// deployed stack's). For DynamoDB Local and tests; production tables come from the SAM
    /// template.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let s = |n: &str| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_err)
        };
        let k =
            |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build().map_err(build_err);
        let all = || Projection::builder().projection_type(ProjectionType::All).build();
        let mut create = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(s("pk")?)
            .attribute_definitions(s("sk")?)
            .key_schema(k("pk", KeyType::Hash)?)
            .key_schema(k("sk", KeyType::Range)?);
        for which in [Index::First, Index::Second] {
            let (pk, sk) = index_attributes(which);
            create = create.attribute_definitions(s(pk)?).attribute_definitions(s(sk)?).global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index_name(which))
                    .key_schema(k(pk, KeyType::Hash)?)
                    .key_schema(k(sk, KeyType::Range)?)
                    .projection(all())
                    .build()
                    .map_err(build_err)?,
            );
        }
        match create.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceInUseException") => {
                if self.second_index_status().await?.is_some() {
                    return self.second_index_active().await;
                }
                let (pk, sk) = index_attributes(Index::Second);
                let add = CreateGlobalSecondaryIndexAction::builder()
                    .index_name(index_name(Index::Second))
                    .key_schema(k(pk, KeyType::Hash)?)
                    .key_schema(k(sk, KeyType::Range)?)
                    .projection(all())
                    .build()
                    .map_err(build_err)?;
                let added = self
                    .client
                    .update_table()
                    .table_name(&self.table)
                    .attribute_definitions(s(pk)?)
                    .attribute_definitions(s(sk)?)
                    .global_secondary_index_updates(GlobalSecondaryIndexUpdate::builder().create(add).build())
                    .send()
                    .await;
                match added {
                    Ok(_) => {}
                    // Another run of the command added it (or is adding it) meanwhile.
                    Err(e) if e.code() == Some("ResourceInUseException") => {}
                    Err(e) if e.message().is_some_and(|m| m.contains("already exists")) => {}
                    Err(e) => return Err(unavailable(&e)),
                }
                self.second_index_active().await
            }
            Err(e) => Err(unavailable(&e)),
        }
    }

    /// The second index's status as the table describes it (`None`: the table has no such index).
    async fn second_index_status(&self) -> Result<Option<String>, StoreError> {
        let table = self.client.describe_table().table_name(&self.table).send().await;
        let table = table.map_err(|e| unavailable(&e))?.table;
        Ok(table
            .and_then(|t| t.global_secondary_indexes)
            .unwrap_or_default()
            .into_iter()
            .find(|g| g.index_name.as_deref() == Some(index_name(Index::Second)))
            .map(|g| g.index_status.map(|s| s.as_str().to_string()).unwrap_or_else(|| "ACTIVE".into())))
    }

    /// Waits (up to two minutes) for the second index, just added, to be usable: DynamoDB
    /// builds an index added to a table in the background, and DynamoDB Local refuses writes to
    /// the table until it is done.
    async fn second_index_active(&self) -> Result<(), StoreError> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            if self.second_index_status().await?.as_deref() == Some("ACTIVE") {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(StoreError::Unavailable(format!(
                    "the index {} of {} is still being built; run the command again in a while",
                    index_name(Index::Second),
                    self.table
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// One page of a partition, strongly consistent: `pk = :pk` and the sort-key condition
    /// `sk_condition` (empty, or starting with ` AND `) over `values`, from after the cursor.
    async fn query_partition(
        &self,
        pk: &str,
        sk_condition: &str,
        values: &[(&str, &str)],
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .limit(limit.clamp(1, MAX_PAGE) as i32)
            .key_condition_expression(format!("pk = :pk{sk_condition}"))
            .expression_attribute_values(":pk", AttributeValue::S(pk.into()));
        for (name, value) in values {
            q = q.expression_attribute_values(*name, AttributeValue::S((*value).into()));
        }
        if let Some(c) = after {
            q = q.set_exclusive_start_key(Some(key_attrs(&c.pk, &c.sk)));
        }
        let out = q.send().await.map_err(|e| unavailable(&e))?;
        self.page(out.items.as_deref(), out.last_evaluated_key.as_ref(), None)
    }

    fn page(&self, items: Option<&[Attrs]>, last: Option<&Attrs>, index: Option<Index>) -> Result<Page, StoreError> {
        let now = chrono::Utc::now().timestamp();
        let mut items = items.unwrap_or_default().iter().map(item_from_attrs).collect::<Result<Vec<_>, _>>()?;
        // Expired but not yet deleted by TTL: absent to every reader.
        items.retain(|i| i.is_live(now));
        let next = match last {
            None => None,
            Some(m) => {
                let s = |k: &str| match m.get(k) {
                    Some(AttributeValue::S(s)) => Some(s.clone()),
                    _ => None,
                };
                match (s("pk"), s("sk")) {
                    (Some(pk), Some(sk)) => {
                        Some(Cursor { pk, sk, index_sk: index.and_then(|i| s(index_attributes(i).1)) })
                    }
                    _ => return Err(StoreError::Backend("LastEvaluatedKey without keys".into())),
                }
            }
        };
        Ok(Page { items, next })
    }
}

fn to_transact_item(table: &str, w: Write) -> Result<TransactWriteItem, StoreError> {
    let (expr, names, values) = condition(w.cond());
    // The three request kinds take the same table and condition; only their key or item differs.
    macro_rules! conditioned {
        ($builder:expr) => {
            $builder
                .table_name(table)
                .condition_expression(expr)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(values)
                .build()
                .map_err(build_err)?
        };
    }
    let item = TransactWriteItem::builder();
    Ok(match w {
        Write::Put { item: it, .. } => item.put(conditioned!(Put::builder().set_item(Some(item_to_attrs(&it))))),
        Write::Delete { pk, sk, .. } => item.delete(conditioned!(Delete::builder().set_key(Some(key_attrs(&pk, &sk))))),
        Write::Check { pk, sk, .. } => {
            item.condition_check(conditioned!(ConditionCheck::builder().set_key(Some(key_attrs(&pk, &sk)))))
        }
    }
    .build())
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let now = chrono::Utc::now().timestamp();
        Ok(self.get_attrs(pk, sk).await?.as_ref().map(item_from_attrs).transpose()?.filter(|i| i.is_live(now)))
    }

    async fn query(&self, pk: &str, sk_prefix: &str, after: Option<&Cursor>, limit: usize) -> Result<Page, StoreError> {
        if sk_prefix.is_empty() {
            self.query_partition(pk, "", &[], after, limit).await
        } else {
            self.query_partition(pk, " AND begins_with(sk, :p)", &[(":p", sk_prefix)], after, limit).await
        }
    }

    async fn query_between(
        &self,
        pk: &str,
        (first, last): (&str, &str),
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let range = [(":first", first), (":last", last)];
        self.query_partition(pk, " AND sk BETWEEN :first AND :last", &range, after, limit).await
    }

    async fn query_index_in(
        &self,
        which: Index,
        index_pk: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let (pk_attr, sk_attr) = index_attributes(which);
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index_name(which))
            .limit(limit.clamp(1, MAX_PAGE) as i32)
            .key_condition_expression("#ipk = :pk")
            .expression_attribute_names("#ipk", pk_attr)
            .expression_attribute_values(":pk", AttributeValue::S(index_pk.into()));
        if let Some(c) = after {
            let mut k = key_attrs(&c.pk, &c.sk);
            k.insert(pk_attr.into(), AttributeValue::S(index_pk.into()));
            k.insert(sk_attr.into(), AttributeValue::S(c.index_sk.clone().unwrap_or_default()));
            q = q.set_exclusive_start_key(Some(k));
        }
        let out = q.send().await.map_err(|e| unavailable(&e))?;
        self.page(out.items.as_deref(), out.last_evaluated_key.as_ref(), Some(which))
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        validate_transaction(&writes)?;
        // One put or delete alone is as atomic as a transaction of one at half its write units
        // (a transaction bills every item twice): it goes as a conditional PutItem or DeleteItem.
        // A condition check alone writes nothing, so it stays a transaction (the only request
        // that has one).
        if let [single @ (Write::Put { .. } | Write::Delete { .. })] = &writes[..] {
            return retrying(|| self.write_once(single)).await;
        }
        let items = writes.into_iter().map(|w| to_transact_item(&self.table, w)).collect::<Result<Vec<_>, _>>()?;
        retrying(|| self.transact_once(items.clone())).await
    }

    /// Each write its own request (a conditional PutItem or DeleteItem, billed once), up to
    /// [`WRITES_AT_ONCE`] in flight.
    async fn write_each(&self, writes: Vec<Write>) -> Vec<Result<(), StoreError>> {
        let n = writes.len();
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(WRITES_AT_ONCE));
        let mut set = tokio::task::JoinSet::new();
        for (i, w) in writes.into_iter().enumerate() {
            let (store, gate) = (self.clone(), gate.clone());
            set.spawn(async move {
                let _permit = gate.acquire_owned().await;
                (i, store.transact(vec![w]).await)
            });
        }
        let mut out: Vec<Result<(), StoreError>> =
            (0..n).map(|_| Err(StoreError::Backend("the write's task ended without an answer".into()))).collect();
        while let Some(joined) = set.join_next().await {
            if let Ok((i, r)) = joined {
                out[i] = r;
            }
        }
        out
    }

    async fn next_sequence(&self, pk: &str, sk: &str, count: u64) -> Result<u64, StoreError> {
        self.next_sequence_impl(pk, sk, count).await
    }

    async fn sequence(&self, pk: &str, sk: &str) -> Result<u64, StoreError> {
        match self.get_attrs(pk, sk).await?.as_ref().and_then(|a| a.get("n")) {
            None => Ok(0),
            Some(AttributeValue::N(n)) => n.parse().map_err(|_| StoreError::Backend("counter is not a number".into())),
            Some(_) => Err(StoreError::Backend("counter is not a number".into())),
        }
    }
}

/// Single writes [`Store::write_each`] keeps in flight at once.
const WRITES_AT_ONCE: usize = 16;

/// How often a transaction cancelled by a conflict is retried before the caller sees it.
const CONTENTION_RETRIES: u32 = 6;

/// Sends a write until it is not cancelled by a conflict. DynamoDB cancels a write that overlaps
/// a transaction in flight (TransactionConflict) and the SDK does not retry that: retry here,
/// with jittered exponential backoff, since nothing was written.
async fn retrying<F: std::future::Future<Output = Result<(), StoreError>>>(
    mut send: impl FnMut() -> F,
) -> Result<(), StoreError> {
    let mut attempt = 0u32;
    loop {
        match send().await {
            Err(StoreError::Contention) if attempt < CONTENTION_RETRIES => {
                attempt += 1;
                coverdesk::store::backoff(5, attempt, 6, 16).await;
            }
            other => return other,
        }
    }
}

/// A single write's failure in the store's terms: its condition failing is the transaction's
/// `ConditionFailed { index: 0 }`, as if it had been sent as a transaction of one.
fn single_write_error<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(e: &SdkError<E, R>) -> StoreError {
    match e {
        SdkError::ServiceError(se) if se.err().code() == Some("ConditionalCheckFailedException") => {
            StoreError::ConditionFailed { index: 0 }
        }
        _ => unavailable(e),
    }
}

impl DynamoStore {
    /// The attributes of the item at (`pk`, `sk`), read consistently: an item, or a counter.
    async fn get_attrs(&self, pk: &str, sk: &str) -> Result<Option<Attrs>, StoreError> {
        validate_key(pk, sk)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(out.item)
    }

    /// One put or delete, with its condition, outside a transaction.
    async fn write_once(&self, w: &Write) -> Result<(), StoreError> {
        let (expr, names, values) = condition(w.cond());
        // The two requests take the same table and condition; only their item or key differs.
        macro_rules! send_conditioned {
            ($request:expr) => {
                $request
                    .table_name(&self.table)
                    .condition_expression(expr)
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values(values)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| single_write_error(&e))
            };
        }
        match w {
            Write::Put { item, .. } => send_conditioned!(self.client.put_item().set_item(Some(item_to_attrs(item)))),
            Write::Delete { pk, sk, .. } => {
                send_conditioned!(self.client.delete_item().set_key(Some(key_attrs(pk, sk))))
            }
            Write::Check { .. } => Err(StoreError::Invalid("a condition check alone is a transaction".into())),
        }
    }

    async fn transact_once(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                if let SdkError::ServiceError(se) = &e {
                    if let TransactWriteItemsError::TransactionCanceledException(tc) = se.err() {
                        let reasons = tc.cancellation_reasons();
                        if let Some(index) = reasons.iter().position(|r| r.code() == Some("ConditionalCheckFailed")) {
                            return Err(StoreError::ConditionFailed { index });
                        }
                        if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
                            return Err(StoreError::Contention);
                        }
                        if reasons.iter().any(|r| {
                            matches!(r.code(), Some("ThrottlingError") | Some("ProvisionedThroughputExceeded"))
                        }) {
                            return Err(StoreError::Unavailable("throttled".into()));
                        }
                        let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code()).collect();
                        return Err(StoreError::Backend(format!("transaction cancelled: {codes:?}")));
                    }
                }
                Err(unavailable(&e))
            }
        }
    }

    async fn next_sequence_impl(&self, pk: &str, sk: &str, count: u64) -> Result<u64, StoreError> {
        validate_key(pk, sk)?;
        if count == 0 {
            return Err(StoreError::Invalid("count must be at least 1".into()));
        }
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(pk, sk)))
            .update_expression("ADD #n :c")
            .expression_attribute_names("#n", "n")
            .expression_attribute_values(":c", AttributeValue::N(count.to_string()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        match out.attributes().and_then(|a| a.get("n")) {
            Some(AttributeValue::N(n)) => {
                let last: u64 = n.parse().map_err(|_| StoreError::Backend("counter is not a number".into()))?;
                Ok(last + 1 - count)
            }
            _ => Err(StoreError::Backend("counter update returned no value".into())),
        }
    }
}
