//! The import routes (seed 002): a batch POST answered inline or imported in the background, one
//! transaction of a single-transaction batch, a batch's results a page at a time, one transaction
//! by id, and the tax rules of a state. Whole-request errors use the
//! `{"error": "<ENUM>", "message": "..."}` envelope. Every route takes the team's HTTP Basic
//! credentials or one of its API keys (`super::authenticate_import`).

use super::{ApiRequest, ApiResponse, Query};
use crate::deps::Deps;
use crate::import::later::{self, Target};
use crate::import::model::BatchStatus;
use crate::import::render::{batch_view, results_page};
use crate::import::repo::ImportRepo;
use crate::import::report::TaxReport;
use crate::import::rules::jurisdiction;
use crate::import::service::{count_batch, new_batch_id};
use crate::import::single::read_item;
use crate::import::upload::admit;
use crate::import::{to_the_end, ImportError};
use crate::types::TeamId;

/// The largest batch a POST may carry (Lambda's synchronous payload limit); larger batches go
/// through an upload.
pub const MAX_IMPORT_BODY: usize = 6 << 20;

/// The query of an import request, read against the route's names and `apikey` (an API key may
/// come as a query parameter on every import route).
fn import_query(req: &ApiRequest, names: &[&str]) -> Result<Query, ImportError> {
    let allowed: Vec<&str> = names.iter().copied().chain([super::API_KEY_QUERY]).collect();
    Ok(Query::parse(req, &allowed)?)
}

/// A route's one query parameter (or none when `name` is empty).
fn one_query(req: &ApiRequest, name: &str, required: bool) -> Result<Option<String>, ImportError> {
    let q = import_query(req, if name.is_empty() { &[] } else { std::slice::from_ref(&name) })?;
    match q.text(name) {
        None if required => Err(ImportError::InvalidInput(format!("{name} is required"))),
        found => Ok(found.map(str::to_string)),
    }
}

/// The caller's import records (reads only: no object store, no fetcher).
async fn records(deps: &Deps, req: &ApiRequest) -> Result<ImportRepo, ImportError> {
    let team = super::authenticate_import(deps, req).await?;
    Ok(ImportRepo::new(deps.store.clone(), &team))
}

type Answer = Result<ApiResponse, ImportError>;

/// Batches of at most this many transactions are answered inline by default; larger ones are
/// accepted (202) and imported in the background.
pub const INLINE_MAX: usize = 100;

/// POST /import/v1/transactions[?mode=sync|async]: a batch. Inline (`sync`, the default for up to
/// [`INLINE_MAX`] transactions) it is answered with every transaction's result; otherwise
/// (`async`, the default above) it is stored under `uploads/` for the upload path to import and
/// answered `202` with its `batch_id`, `status: processing` and a `Location` to its results.
/// Either way a body that is not a batch is refused first, writing nothing.
pub async fn import_transactions(deps: &Deps, _: &[String], req: &ApiRequest) -> Answer {
    let mode = import_query(req, &["mode"])?.one_of("mode", &["sync", "async"])?.map(str::to_string);
    let team = super::authenticate_import(deps, req).await?;
    if req.body.len() > MAX_IMPORT_BODY {
        return Err(ImportError::TooLarge(MAX_IMPORT_BODY));
    }
    let total = count_batch(&req.body)?;
    let batch_id = new_batch_id().map_err(ImportError::internal)?;
    let inline = match mode.as_deref() {
        Some("sync") => true,
        Some(_) => false,
        None => total <= INLINE_MAX,
    };
    // Both ways run to their end even if the client hangs up ([`to_the_end`]).
    if inline {
        let (imp, body) = (deps.imports().importer(&team), req.body.clone());
        let (meta, results) =
            to_the_end(async move { Ok(imp.import(&batch_id, &body, "api", &|_, _| {}).await?) }).await?;
        return Ok(ApiResponse::json(200, &batch_view(&meta, &results)));
    }
    let (deps, body, id) = (deps.clone(), req.body.to_vec(), batch_id.clone());
    let meta = to_the_end(async move {
        let (meta, key) = admit(&deps.imports(), &team, &id, body, total).await?;
        deps.start_import(&key);
        Ok(meta)
    })
    .await?;
    let mut r = ApiResponse::json(202, &results_page(&meta, &[], None));
    r.headers.push(("location", format!("/import/v1/transaction-import-results?batch_id={batch_id}")));
    Ok(r)
}

/// The largest single-transaction request (one transaction and its envelope).
pub const MAX_ITEM_BODY: usize = 1 << 20;

/// POST /import/v1/transaction: one transaction of a single-transaction batch
/// (`{batch_id?, total_items, current_item, transaction}`), answered in the seed's shape with
/// that transaction's result and the batch's status.
pub async fn import_transaction(deps: &Deps, _: &[String], req: &ApiRequest) -> Answer {
    one_query(req, "", false)?;
    let imp = deps.imports().importer(&super::authenticate_import(deps, req).await?);
    if req.body.len() > MAX_ITEM_BODY {
        return Err(ImportError::TooLarge(MAX_ITEM_BODY));
    }
    let body = req.body.clone();
    // To its end even if the client hangs up ([`to_the_end`]): a retry of the position answers
    // imported.
    let (meta, result) = to_the_end(async move {
        let mut tape = crate::fields::Tape::new();
        let item = read_item(&body, &mut tape)?;
        let batch_id = match &item.batch_id {
            Some(b) => b.clone(),
            None => new_batch_id().map_err(ImportError::internal)?,
        };
        Ok(imp.import_item(&batch_id, &item).await?)
    })
    .await?;
    Ok(ApiResponse::json(200, &batch_view(&meta, std::slice::from_ref(&result))))
}

/// The most results one page holds (and the default): 1,000 results stay far below Lambda's
/// 6 MB response limit (a result with warnings and its calculation is under 1 KB).
pub const MAX_PAGE: usize = 1000;

/// Which of a batch's results a page shows: every one, or those with one status code, or one
/// policy number's (a batch's transactions by policy number).
struct ResultFilter {
    status: Option<u16>,
    policy_number: Option<String>,
}

impl ResultFilter {
    fn keeps(&self, r: &crate::import::service::TxnResult) -> bool {
        self.status.is_none_or(|s| r.status == s)
            && self.policy_number.as_deref().is_none_or(|p| r.policy_number.as_deref() == Some(p))
    }
}

/// A results cursor: where the next page starts, bound to the team, the batch and the filter it
/// was issued for, so a cursor from another batch, team or filter is refused (it is not secret:
/// it only names a position in results the caller may read anyway). Opaque to clients:
/// base64url of `<index>.<tag>`.
fn cursor_tag(team: &TeamId, batch: &str, f: &ResultFilter) -> String {
    use sha2::Digest;
    let bound = format!("{team}\n{batch}\n{:?}\n{:?}", f.status, f.policy_number);
    hex::encode(&sha2::Sha256::digest(bound.as_bytes())[..8])
}

fn encode_cursor(index: usize, tag: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{index}.{tag}"))
}

fn decode_cursor(text: &str, tag: &str) -> Result<usize, ImportError> {
    use base64::Engine;
    let refused =
        || ImportError::InvalidInput("cursor is not a cursor of this batch's results with these filters".into());
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).map_err(|_| refused())?;
    let raw = String::from_utf8(raw).map_err(|_| refused())?;
    let (index, got) = raw.split_once('.').ok_or_else(refused)?;
    if got != tag {
        return Err(refused());
    }
    index.parse().map_err(|_| refused())
}

/// GET /import/v1/transaction-import-results?batch_id=&limit=&cursor=&status=&policy_number=
/// A processed batch's results a page at a time (`next_cursor` while more remain); a batch
/// still processing answers its status and no transactions.
pub async fn get_import_results(deps: &Deps, _: &[String], req: &ApiRequest) -> Answer {
    let q = import_query(req, &["batch_id", "limit", "cursor", "status", "policy_number"])?;
    let batch = q.text("batch_id").ok_or_else(|| ImportError::InvalidInput("batch_id is required".into()))?;
    let limit = q.whole("limit", 1, MAX_PAGE)?.unwrap_or(MAX_PAGE);
    let filter = ResultFilter {
        status: q.whole("status", 0, 9999)?.map(|s| s as u16),
        policy_number: q.text("policy_number").map(str::to_string),
    };
    let team = super::authenticate_import(deps, req).await?;
    if !super::usable_id(batch) {
        return Err(ImportError::NotFound("The batch"));
    }
    let tag = cursor_tag(&team, batch, &filter);
    let from = q.text("cursor").map(|c| decode_cursor(c, &tag)).transpose()?.unwrap_or(0);
    let repo = ImportRepo::new(deps.store.clone(), &team);
    let mut meta = repo.batch(batch).await?.ok_or(ImportError::NotFound("The batch"))?;
    if meta.single && meta.status == BatchStatus::Processing {
        // A single-transaction batch counts its positions as they arrive, not in its record.
        meta.done = repo.received(batch).await?.min(meta.total);
    }
    if meta.status != BatchStatus::Processed {
        return Ok(ApiResponse::json(200, &results_page(&meta, &[], None)));
    }
    let (page, next) = repo.results_page(&meta, from, limit, &|r| filter.keeps(r)).await?;
    let next = next.map(|i| encode_cursor(i, &tag));
    Ok(ApiResponse::json(200, &results_page(&meta, &page, next.as_deref())))
}

/// GET /import/v1/transactions/{transactionId}
pub async fn get_imported_transaction(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    one_query(req, "", false)?;
    let repo = records(deps, req).await?;
    let id = params.first().map(String::as_str).unwrap_or("");
    match repo.transaction(id).await? {
        Some(rec) => Ok(ApiResponse::json(200, &rec.view())),
        None => Err(ImportError::NotFound("The transaction")),
    }
}

/// The most transactions an invoice lookup answers a page (and the default).
pub const MAX_INVOICE_PAGE: usize = 100;

/// GET /import/v1/transactions?invoice_number=&limit=&cursor=: a team's imported transactions
/// with an invoice number (one index query), in id order, `next_cursor` while more may follow
/// (opaque: base64url of the last id, read back within the same team and invoice number only).
pub async fn find_imported_transactions(deps: &Deps, _: &[String], req: &ApiRequest) -> Answer {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let q = import_query(req, &["invoice_number", "limit", "cursor"])?;
    let invoice =
        q.text("invoice_number").ok_or_else(|| ImportError::InvalidInput("invoice_number is required".into()))?;
    let limit = q.whole("limit", 1, MAX_INVOICE_PAGE)?.unwrap_or(MAX_INVOICE_PAGE);
    let refused = || ImportError::InvalidInput("cursor is not a cursor of this lookup".into());
    let after = match q.text("cursor") {
        Some(c) => Some(String::from_utf8(b64.decode(c).map_err(|_| refused())?).map_err(|_| refused())?),
        None => None,
    };
    if after.as_deref().is_some_and(|id| !super::usable_id(id)) || !super::usable_id(invoice) {
        return Err(refused());
    }
    let repo = records(deps, req).await?;
    let (found, next) = repo.by_invoice(invoice, after.as_deref(), limit).await?;
    let mut v = serde_json::json!({"transactions": found.iter().map(|r| r.view()).collect::<Vec<_>>()});
    if let Some(id) = next {
        v["next_cursor"] = serde_json::json!(b64.encode(id));
    }
    Ok(ApiResponse::json(200, &v))
}

/// POST /import/v1/transactions/{transactionId}/documents `{transaction_documents}`: documents
/// added to an imported transaction ([`crate::import::later`]).
pub async fn add_transaction_documents(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let id = params.first().cloned().unwrap_or_default();
    add_documents(deps, req, Some(id)).await
}

/// POST /import/v1/documents `{invoice_number, transaction_documents}`: documents added to the
/// imported transaction with that invoice number.
pub async fn add_invoice_documents(deps: &Deps, _: &[String], req: &ApiRequest) -> Answer {
    add_documents(deps, req, None).await
}

async fn add_documents(deps: &Deps, req: &ApiRequest, id: Option<String>) -> Answer {
    one_query(req, "", false)?;
    let imp = deps.imports().importer(&super::authenticate_import(deps, req).await?);
    if req.body.len() > MAX_ITEM_BODY {
        return Err(ImportError::TooLarge(MAX_ITEM_BODY));
    }
    let (invoice, docs) = later::read(&req.body, id.is_none())?;
    let target = match (id, invoice) {
        (Some(id), _) if super::usable_id(&id) => Target::Id(id),
        (Some(_), _) => return Err(ImportError::NotFound("The imported transaction")),
        (None, invoice) => Target::InvoiceNumber(invoice.unwrap_or_default()),
    };
    // To its end even if the client hangs up ([`to_the_end`]): stored documents get recorded.
    let added = to_the_end(async move { imp.add_documents(&target, docs).await }).await?;
    Ok(ApiResponse::json(200, &added.view()))
}

/// POST /import/v1/tax-calculations: a quote or up to 100, taxed by the import's rules before
/// the fact ([`crate::import::quote`]). Reads nothing but the team.
pub async fn calculate_taxes(deps: &Deps, _: &[String], req: &ApiRequest) -> Answer {
    one_query(req, "", false)?;
    super::authenticate_import(deps, req).await?;
    if req.body.len() > MAX_ITEM_BODY {
        return Err(ImportError::TooLarge(MAX_ITEM_BODY));
    }
    Ok(ApiResponse::json(200, &crate::import::quote::calculate(&req.body)?))
}

/// The longest period one tax report covers (a year and a day: any calendar year, any quarter).
pub const MAX_REPORT_DAYS: i64 = 366;

/// GET /import/v1/reports/taxes?from=&to=[&state=][&format=csv]: what the team owes each
/// jurisdiction for the period ([`crate::import::report`]); one query per month of it.
pub async fn tax_report(deps: &Deps, _: &[String], req: &ApiRequest) -> Answer {
    let q = import_query(req, &["from", "to", "state", "format"])?;
    let required = |name: &str| ImportError::InvalidInput(format!("{name} is required (yyyy-mm-dd)"));
    let from = q.date("from")?.ok_or_else(|| required("from"))?;
    let to = q.date("to")?.ok_or_else(|| required("to"))?;
    if to < from || (to - from).num_days() >= MAX_REPORT_DAYS {
        return Err(ImportError::InvalidInput(format!("to must be on or after from, at most {MAX_REPORT_DAYS} days")));
    }
    let state = match q.text("state") {
        None => None,
        Some(s) => Some(
            crate::types::StateCode::parse(s)
                .ok_or_else(|| ImportError::InvalidInput("state must be a 2-letter state code".into()))?,
        ),
    };
    let csv = q.one_of("format", &["json", "csv"])? == Some("csv");
    let repo = records(deps, req).await?;
    let report = TaxReport::of(from, to, state, &repo.report_lines(from, to).await?);
    if csv {
        let headers = vec![("content-type", "text/csv; charset=utf-8".to_string())];
        return Ok(ApiResponse { status: 200, headers, body: report.csv().into_bytes() });
    }
    Ok(ApiResponse::json(200, &report.view()))
}

/// GET /import/v1/tax-rules/{state}
pub async fn get_tax_rules(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    super::authenticate_import(deps, req).await?;
    let q = import_query(req, &["effective_date", "history"])?;
    let date = q.date("effective_date")?.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let history = q.flag("history")?.unwrap_or(false);
    let state = params.first().map(|s| s.to_ascii_uppercase()).unwrap_or_default();
    let rules =
        jurisdiction(&state).ok_or_else(|| ImportError::NoDepartment(state.chars().take(2).collect::<String>()))?;
    Ok(ApiResponse::json(200, &rules.view(date, history)))
}
