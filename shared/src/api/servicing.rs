//! The servicing routes (seed 000): carriers, the widget, team pulls and servicings, webhooks, and
//! the webhook events of import batches (their delivery log and redelivery, as a pull's).
//! Errors use the original's envelope `{"error": "<ENUM>", "message": "..."}`.

use serde_json::Value;

use super::{header, ApiRequest, ApiResponse, Query};
use crate::deps::Deps;
use crate::import::repo::ImportRepo;
use crate::json::object;
use crate::servicing::input;
use crate::servicing::model::Subject;
use crate::servicing::service::Servicing;
use crate::servicing::webhooks::Webhooks;
use crate::servicing::ServicingError;
use crate::types::TeamId;

/// The widget's pull token header.
pub const PULL_JWT_HEADER: &str = "pull-jwt";

fn body(req: &ApiRequest) -> Result<Value, ServicingError> {
    Ok(super::json_body(req)?.unwrap_or(Value::Null))
}

fn no_query(req: &ApiRequest) -> Result<(), ServicingError> {
    Query::parse(req, &[])?;
    Ok(())
}

struct ListQuery {
    limit: usize,
    offset: usize,
    pull_id: Option<String>,
    products: Vec<String>,
}

fn list_query(req: &ApiRequest, allowed: &[&str]) -> Result<ListQuery, ServicingError> {
    let q = Query::parse(req, allowed)?;
    let mut products = Vec::new();
    for p in q.text("products").unwrap_or_default().split(',').filter(|p| !p.is_empty()) {
        if !crate::servicing::carriers::PRODUCTS.contains(&p) {
            return Err(ServicingError::bad("INVALID_INPUT", "products holds personal and/or commercial"));
        }
        products.push(p.to_string());
    }
    Ok(ListQuery {
        limit: q.whole("limit", 1, 100)?.unwrap_or(25),
        offset: q.whole("offset", 0, 1_000_000)?.unwrap_or(0),
        pull_id: q.id("pull_id")?.map(str::to_string),
        products,
    })
}

/// Team routes: HTTP Basic, and the path's team must be the caller's.
async fn team_auth(deps: &Deps, req: &ApiRequest, path_team: &str) -> Result<TeamId, ServicingError> {
    let team = super::authenticate(deps, req).await?;
    if team.as_str() != path_team {
        return Err(ServicingError::forbidden("These credentials are not for this team"));
    }
    Ok(team)
}

type Answer = Result<ApiResponse, ServicingError>;

fn ok(v: Value) -> Answer {
    Ok(ApiResponse::json(200, &v))
}

fn svc(deps: &Deps) -> Servicing<'_> {
    Servicing::new(deps.store.as_ref(), &deps.keys, &deps.catalogue)
}

fn hooks(deps: &Deps) -> Webhooks<'_> {
    Webhooks { store: deps.store.as_ref(), keys: &deps.keys }
}

fn p(params: &[String], i: usize) -> &str {
    params.get(i).map(String::as_str).unwrap_or("")
}

fn jwt(req: &ApiRequest) -> Option<&str> {
    header(req, PULL_JWT_HEADER)
}

/// GET /carriers
pub async fn list_carriers(deps: &Deps, _: &[String], req: &ApiRequest) -> Answer {
    let q = list_query(req, &["products"])?;
    Ok(ApiResponse::json_text(200, deps.catalogue.list_json(&q.products)))
}

/// GET /carriers/{carrierId}
pub async fn get_carrier(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    no_query(req)?;
    let c = deps.catalogue.get(p(params, 0)).ok_or_else(|| ServicingError::not_found("The carrier"))?;
    ok(c.view())
}

/// POST /widget/pull/consentAndConnect
pub async fn consent_and_connect(deps: &Deps, _: &[String], req: &ApiRequest) -> Answer {
    no_query(req)?;
    ok(svc(deps).consent_and_connect(input::consent(&body(req)?)?).await?.view())
}

/// POST /widget/connectToken
pub async fn widget_connect_token(deps: &Deps, _: &[String], req: &ApiRequest) -> Answer {
    no_query(req)?;
    let (alias, token) = input::token_lookup(&body(req)?)?;
    ok(svc(deps).look_up_connect_token(&alias, &token).await?)
}

/// POST /teams/{teamId}/connectTokens
pub async fn create_connect_token(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let team = team_auth(deps, req, p(params, 0)).await?;
    no_query(req)?;
    let r = svc(deps).create_connect_token(&team, input::connect_token(&body(req)?)?).await?;
    Ok(ApiResponse::json(201, &r))
}

/// GET /widget/pull/{pullId}
pub async fn widget_get_pull(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    no_query(req)?;
    let svc = svc(deps);
    let w = svc.widget_auth(jwt(req), p(params, 0))?;
    ok(object([("success", Value::Bool(true)), ("pull", svc.get_pull(&w.team, &w.pull_id).await?)]))
}

/// POST /widget/pull/{pullId}/idvoptions
pub async fn widget_idv_options(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let svc = svc(deps);
    let w = svc.widget_auth(jwt(req), p(params, 0))?;
    ok(svc.choose_option(&w.team, &w.pull_id, &body(req)?).await?)
}

/// POST /widget/pull/{pullId}/idv
pub async fn widget_idv(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let svc = svc(deps);
    let w = svc.widget_auth(jwt(req), p(params, 0))?;
    ok(svc.submit_code(&w.team, &w.pull_id, &body(req)?).await?)
}

/// POST /widget/pull/{pullId}/connect
pub async fn widget_connect(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let svc = svc(deps);
    let w = svc.widget_auth(jwt(req), p(params, 0))?;
    ok(svc.reconnect(&w.team, &w.pull_id, &body(req)?).await?)
}

/// POST /widget/pull/{pullId}/servicingAction
pub async fn widget_confirm_action(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let svc = svc(deps);
    let w = svc.widget_auth(jwt(req), p(params, 0))?;
    ok(svc.confirm(&w.team, &w.pull_id, &body(req)?).await?)
}

/// POST /pull/{pullId}/servicingAction: seed 000's path, with the team's credentials or the
/// pull's token.
pub async fn confirm_action(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let svc = svc(deps);
    let team = if header(req, "authorization").is_some() {
        super::authenticate(deps, req).await?
    } else {
        svc.widget_auth(jwt(req), p(params, 0))?.team
    };
    ok(svc.confirm(&team, p(params, 0), &body(req)?).await?)
}

/// POST /teams/{teamId}/servicings
pub async fn create_servicing(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let team = team_auth(deps, req, p(params, 0)).await?;
    ok(svc(deps).create_servicing(&team, input::servicing(&body(req)?)?).await?.view())
}

/// GET /teams/{teamId}/servicings
pub async fn list_servicings(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let team = team_auth(deps, req, p(params, 0)).await?;
    let q = list_query(req, &["limit", "offset", "pull_id"])?;
    ok(svc(deps).list_servicings(&team, q.pull_id.as_deref(), q.limit, q.offset).await?)
}

/// GET /teams/{teamId}/servicings/{servicingActionId}
pub async fn get_servicing(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let team = team_auth(deps, req, p(params, 0)).await?;
    no_query(req)?;
    ok(svc(deps).get_servicing(&team, p(params, 1)).await?)
}

/// GET /teams/{teamId}/pulls
pub async fn list_pulls(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let team = team_auth(deps, req, p(params, 0)).await?;
    let q = list_query(req, &["limit", "offset"])?;
    ok(svc(deps).list_pulls(&team, q.limit, q.offset).await?)
}

/// GET /teams/{teamId}/pulls/{pullId}
pub async fn get_pull(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let team = team_auth(deps, req, p(params, 0)).await?;
    no_query(req)?;
    ok(object([("success", Value::Bool(true)), ("pull", svc(deps).get_pull(&team, p(params, 1)).await?)]))
}

/// GET /teams/{teamId}/pulls/{pullId}/events
pub async fn list_pull_events(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let team = team_auth(deps, req, p(params, 0)).await?;
    no_query(req)?;
    ok(hooks(deps).event_log(&team, p(params, 1)).await?)
}

/// POST /teams/{teamId}/pulls/{pullId}/events/{eventId}/redeliver
pub async fn redeliver_event(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let team = team_auth(deps, req, p(params, 0)).await?;
    let only = input::redelivery(super::json_body(req)?.as_ref())?;
    let r = hooks(deps).redeliver(&team, p(params, 1), p(params, 2), only).await?;
    Ok(ApiResponse::json(202, &r))
}

/// The team's import batch of a path, as the subject of its webhook events (404 when there is no
/// such batch).
async fn batch_subject(deps: &Deps, team: &TeamId, batch_id: &str) -> Result<Subject, ServicingError> {
    match ImportRepo::new(deps.store.clone(), team).batch(batch_id).await? {
        Some(_) => Ok(Subject::Batch(batch_id.to_string())),
        None => Err(ServicingError::not_found("The import batch")),
    }
}

/// GET /teams/{teamId}/imports/{batchId}/events
pub async fn list_import_events(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let team = team_auth(deps, req, p(params, 0)).await?;
    no_query(req)?;
    let subject = batch_subject(deps, &team, p(params, 1)).await?;
    ok(hooks(deps).log_of(&team, &subject).await?)
}

/// POST /teams/{teamId}/imports/{batchId}/events/{eventId}/redeliver
pub async fn redeliver_import_event(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let team = team_auth(deps, req, p(params, 0)).await?;
    let only = input::redelivery(super::json_body(req)?.as_ref())?;
    let subject = batch_subject(deps, &team, p(params, 1)).await?;
    let r = hooks(deps).redeliver_of(&team, &subject, p(params, 2), only).await?;
    Ok(ApiResponse::json(202, &r))
}

/// POST /teams/{teamId}/webhooks
pub async fn create_webhook(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let team = team_auth(deps, req, p(params, 0)).await?;
    ok(hooks(deps).create(&team, input::webhook(&body(req)?, true, deps.allow_private_urls)?).await?)
}

/// GET /teams/{teamId}/webhooks
pub async fn list_webhooks(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let team = team_auth(deps, req, p(params, 0)).await?;
    no_query(req)?;
    let list: Vec<Value> = hooks(deps).list(&team).await?.iter().map(|(w, _)| w.view()).collect();
    ok(object([("webhooks", Value::Array(list))]))
}

/// PATCH /teams/{teamId}/webhooks/{webhookId}
pub async fn update_webhook(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let team = team_auth(deps, req, p(params, 0)).await?;
    ok(hooks(deps).update(&team, p(params, 1), input::webhook(&body(req)?, false, deps.allow_private_urls)?).await?)
}

/// DELETE /teams/{teamId}/webhooks/{webhookId}
pub async fn delete_webhook(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let team = team_auth(deps, req, p(params, 0)).await?;
    ok(hooks(deps).delete(&team, p(params, 1)).await?)
}
