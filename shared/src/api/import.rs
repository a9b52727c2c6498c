//! The import routes (seed 002): a batch POST answered per transaction, results by batch id, one
//! transaction by id, and the tax rules of a state. Whole-request errors use the
//! `{"error": "<ENUM>", "message": "..."}` envelope.

use chrono::{NaiveDate, Utc};

use super::{query_pairs, ApiRequest, ApiResponse, Route};
use crate::deps::Deps;
use crate::import::rules::jurisdiction;
use crate::import::service::{batch_view, new_batch_id, BatchError, Importer};
use crate::servicing::ServicingError;

/// The largest batch a POST may carry (Lambda's synchronous payload limit); larger batches go
/// through an upload.
pub const MAX_IMPORT_BODY: usize = 6 << 20;

async fn importer(deps: &Deps, req: &ApiRequest) -> Result<Importer, ServicingError> {
    let team = super::servicing::authenticate(deps, req).await?;
    let fetcher = deps.fetcher().await.map_err(ServicingError::internal)?;
    Ok(Importer {
        store: deps.store.clone(),
        objects: deps.objects.clone(),
        fetcher,
        team: team.0,
        spool: deps.spool_dir(),
    })
}

fn one_query(req: &ApiRequest, name: &str, required: bool) -> Result<Option<String>, ServicingError> {
    let mut found = None;
    for (k, v) in query_pairs(req.query.as_deref()) {
        if k != name {
            return Err(ServicingError::bad("INVALID_INPUT", format!("{k} is not a supported query parameter")));
        }
        found = Some(v);
    }
    if required && found.is_none() {
        return Err(ServicingError::bad("INVALID_INPUT", format!("{name} is required")));
    }
    Ok(found)
}

pub async fn dispatch(
    deps: &Deps,
    route: Route,
    params: &[String],
    req: &ApiRequest,
) -> Result<ApiResponse, ServicingError> {
    use Route::*;
    match route {
        ImportTransactions => {
            one_query(req, "", false)?;
            let imp = importer(deps, req).await?;
            if req.body.len() > MAX_IMPORT_BODY {
                return Err(ServicingError::new(
                    413,
                    "INVALID_BATCH",
                    format!("A batch POST may carry at most {MAX_IMPORT_BODY} bytes; upload larger batches"),
                ));
            }
            let batch_id = new_batch_id()?;
            match imp.import(&batch_id, &req.body, "api", &|_, _| {}).await {
                Ok((meta, results)) => Ok(ApiResponse::json(200, &batch_view(&meta, &results))),
                Err(e @ (BatchError::NotJson(_) | BatchError::NotArray)) => {
                    Err(ServicingError::bad("INVALID_BATCH", e.to_string()))
                }
                Err(BatchError::Store(s)) => Err(s.into()),
                Err(e) => Err(ServicingError::internal(e)),
            }
        }
        GetImportResults => {
            let batch = one_query(req, "batch_id", true)?.unwrap_or_default();
            let imp = importer(deps, req).await?;
            if !super::usable_id(&batch) {
                return Err(ServicingError::not_found("The batch"));
            }
            match imp.load_batch(&batch).await? {
                Some((meta, results)) => Ok(ApiResponse::json(200, &batch_view(&meta, &results))),
                None => Err(ServicingError::not_found("The batch")),
            }
        }
        GetImportedTransaction => {
            one_query(req, "", false)?;
            let imp = importer(deps, req).await?;
            let id = params.first().map(String::as_str).unwrap_or("");
            match imp.transaction(id).await? {
                Some(rec) => Ok(ApiResponse::json(200, &rec.view())),
                None => Err(ServicingError::not_found("The transaction")),
            }
        }
        GetTaxRules => {
            super::servicing::authenticate(deps, req).await?;
            let (mut date, mut history) = (Utc::now().date_naive(), false);
            for (k, v) in query_pairs(req.query.as_deref()) {
                match k.as_str() {
                    "effective_date" => {
                        date = NaiveDate::parse_from_str(&v, "%Y-%m-%d").map_err(|_| {
                            ServicingError::bad("INVALID_INPUT", "effective_date must be a date yyyy-mm-dd")
                        })?
                    }
                    "history" => {
                        history = match v.as_str() {
                            "true" => true,
                            "false" => false,
                            _ => return Err(ServicingError::bad("INVALID_INPUT", "history must be true or false")),
                        }
                    }
                    _ => {
                        return Err(ServicingError::bad(
                            "INVALID_INPUT",
                            format!("{} is not a supported query parameter", k.chars().take(40).collect::<String>()),
                        ))
                    }
                }
            }
            let state = params.first().map(|s| s.to_ascii_uppercase()).unwrap_or_default();
            let rules = jurisdiction(&state).ok_or_else(|| {
                ServicingError::new(
                    404,
                    "NOT_FOUND",
                    format!("No department for state '{}'", state.chars().take(2).collect::<String>()),
                )
            })?;
            let v = rules.view(date, history);
            Ok(ApiResponse::json(200, &v))
        }
        other => Err(ServicingError::internal(format!("route {} is not an import route", other.name()))),
    }
}
