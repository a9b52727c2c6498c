//! The import routes (seed 002): a batch POST answered per transaction, results by batch id, one
//! transaction by id, and the tax rules of a state. Whole-request errors use the
//! `{"error": "<ENUM>", "message": "..."}` envelope.

use chrono::Utc;

use super::{ApiRequest, ApiResponse, Query};
use crate::deps::Deps;
use crate::import::render::batch_view;
use crate::import::repo::ImportRepo;
use crate::import::rules::jurisdiction;
use crate::import::service::{new_batch_id, Importer};
use crate::import::ImportError;

/// The largest batch a POST may carry (Lambda's synchronous payload limit); larger batches go
/// through an upload.
pub const MAX_IMPORT_BODY: usize = 6 << 20;

/// The importer of a posted batch: the caller's team, the object store and the fetcher.
async fn importer(deps: &Deps, req: &ApiRequest) -> Result<Importer, ImportError> {
    let team = super::authenticate(deps, req).await?;
    let fetcher = deps.fetcher().await.map_err(ImportError::Internal)?;
    Ok(Importer {
        store: deps.store.clone(),
        objects: deps.objects.clone(),
        fetcher,
        team: team.as_str().to_string(),
        spool: deps.spool_dir(),
    })
}

/// A route's one query parameter (or none when `name` is empty).
fn one_query(req: &ApiRequest, name: &str, required: bool) -> Result<Option<String>, ImportError> {
    let q = Query::parse(req, if name.is_empty() { &[] } else { std::slice::from_ref(&name) })?;
    match q.text(name) {
        None if required => Err(ImportError::InvalidInput(format!("{name} is required"))),
        found => Ok(found.map(str::to_string)),
    }
}

/// The caller's import records (reads only: no object store, no fetcher).
async fn records(deps: &Deps, req: &ApiRequest) -> Result<ImportRepo, ImportError> {
    let team = super::authenticate(deps, req).await?;
    Ok(ImportRepo::new(deps.store.clone(), team.as_str()))
}

type Answer = Result<ApiResponse, ImportError>;

/// POST /import/v1/transactions
pub async fn import_transactions(deps: &Deps, _: &[String], req: &ApiRequest) -> Answer {
    one_query(req, "", false)?;
    let imp = importer(deps, req).await?;
    if req.body.len() > MAX_IMPORT_BODY {
        return Err(ImportError::TooLarge(MAX_IMPORT_BODY));
    }
    let batch_id = new_batch_id().map_err(|e| ImportError::Internal(e.to_string()))?;
    let (meta, results) = imp.import(&batch_id, &req.body, "api", &|_, _| {}).await?;
    Ok(ApiResponse::json(200, &batch_view(&meta, &results)))
}

/// GET /import/v1/transaction-import-results?batch_id=
pub async fn get_import_results(deps: &Deps, _: &[String], req: &ApiRequest) -> Answer {
    let batch = one_query(req, "batch_id", true)?.unwrap_or_default();
    let repo = records(deps, req).await?;
    if !super::usable_id(&batch) {
        return Err(ImportError::NotFound("The batch"));
    }
    match repo.batch_with_results(&batch).await? {
        Some((meta, results)) => Ok(ApiResponse::json(200, &batch_view(&meta, &results))),
        None => Err(ImportError::NotFound("The batch")),
    }
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

/// GET /import/v1/tax-rules/{state}
pub async fn get_tax_rules(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    super::authenticate(deps, req).await?;
    let q = Query::parse(req, &["effective_date", "history"])?;
    let date = q.date("effective_date")?.unwrap_or_else(|| Utc::now().date_naive());
    let history = q.flag("history")?.unwrap_or(false);
    let state = params.first().map(|s| s.to_ascii_uppercase()).unwrap_or_default();
    let rules =
        jurisdiction(&state).ok_or_else(|| ImportError::NoDepartment(state.chars().take(2).collect::<String>()))?;
    Ok(ApiResponse::json(200, &rules.view(date, history)))
}
