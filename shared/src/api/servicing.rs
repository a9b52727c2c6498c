//! The servicing routes (seed 000): carriers, the widget, team pulls and servicings, webhooks.
//! Errors use the original's envelope `{"error": "<ENUM>", "message": "..."}`.

use serde_json::{json, Value};

use super::{header, ApiRequest, ApiResponse, Query, Route, MAX_BODY};
use crate::deps::Deps;
use crate::servicing::service::Servicing;
use crate::servicing::webhooks::Webhooks;
use crate::servicing::ServicingError;

/// The widget's pull token header.
pub const PULL_JWT_HEADER: &str = "pull-jwt";

fn body(req: &ApiRequest) -> Result<Value, ServicingError> {
    if req.body.len() > MAX_BODY {
        return Err(ServicingError::TooLarge(MAX_BODY));
    }
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&req.body)
        .map_err(|e| ServicingError::bad("INVALID_INPUT", format!("The body is not valid JSON ({e})")))
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
async fn team_auth(deps: &Deps, req: &ApiRequest, path_team: &str) -> Result<String, ServicingError> {
    let team = super::authenticate(deps, req).await?;
    if team.as_str() != path_team {
        return Err(ServicingError::forbidden("These credentials are not for this team"));
    }
    Ok(team.as_str().to_string())
}

pub async fn dispatch(
    deps: &Deps,
    route: Route,
    params: &[String],
    req: &ApiRequest,
) -> Result<ApiResponse, ServicingError> {
    let svc = Servicing::new(deps.store.as_ref(), &deps.keys, &deps.catalogue);
    let hooks = Webhooks { store: deps.store.as_ref(), keys: &deps.keys, allow_private: deps.allow_private_urls };
    let p = |i: usize| params.get(i).map(String::as_str).unwrap_or("");
    let ok = |v: Value| Ok(ApiResponse::json(200, &v));
    let jwt = header(req, PULL_JWT_HEADER);
    use Route::*;
    match route {
        ListCarriers => {
            let q = list_query(req, &["products"])?;
            let list: Vec<Value> = deps.catalogue.list(&q.products).iter().map(|c| c.view()).collect();
            ok(json!({"carriers": list}))
        }
        GetCarrier => {
            no_query(req)?;
            let c = deps.catalogue.get(p(0)).ok_or_else(|| ServicingError::not_found("The carrier"))?;
            ok(c.view())
        }
        ConsentAndConnect => {
            no_query(req)?;
            ok(svc.consent_and_connect(&body(req)?).await?.view())
        }
        WidgetGetPull => {
            no_query(req)?;
            let w = svc.widget_auth(jwt, p(0))?;
            ok(json!({"success": true, "pull": svc.get_pull(&w.team, &w.pull_id).await?}))
        }
        WidgetIdvOptions => {
            let w = svc.widget_auth(jwt, p(0))?;
            ok(svc.choose_option(&w.team, &w.pull_id, &body(req)?).await?)
        }
        WidgetIdv => {
            let w = svc.widget_auth(jwt, p(0))?;
            ok(svc.submit_code(&w.team, &w.pull_id, &body(req)?).await?)
        }
        WidgetConnect => {
            let w = svc.widget_auth(jwt, p(0))?;
            ok(svc.reconnect(&w.team, &w.pull_id, &body(req)?).await?)
        }
        WidgetConfirmAction => {
            let w = svc.widget_auth(jwt, p(0))?;
            ok(svc.confirm(&w.team, &w.pull_id, &body(req)?).await?)
        }
        ConfirmAction => {
            // Seed 000's path: the team's credentials, or the pull's token.
            let team = if header(req, "authorization").is_some() {
                super::authenticate(deps, req).await?.as_str().to_string()
            } else {
                svc.widget_auth(jwt, p(0))?.team
            };
            ok(svc.confirm(&team, p(0), &body(req)?).await?)
        }
        CreateServicing => {
            let team = team_auth(deps, req, p(0)).await?;
            ok(svc.create_servicing(&crate::accounts::TeamId::new(team), &body(req)?).await?.view())
        }
        ListServicings => {
            let team = team_auth(deps, req, p(0)).await?;
            let q = list_query(req, &["limit", "offset", "pull_id"])?;
            ok(svc.list_servicings(&team, q.pull_id.as_deref(), q.limit, q.offset).await?)
        }
        GetServicing => {
            let team = team_auth(deps, req, p(0)).await?;
            no_query(req)?;
            ok(svc.get_servicing(&team, p(1)).await?)
        }
        ListPulls => {
            let team = team_auth(deps, req, p(0)).await?;
            let q = list_query(req, &["limit", "offset"])?;
            ok(svc.list_pulls(&team, q.limit, q.offset).await?)
        }
        GetPull => {
            let team = team_auth(deps, req, p(0)).await?;
            no_query(req)?;
            ok(json!({"success": true, "pull": svc.get_pull(&team, p(1)).await?}))
        }
        ListPullEvents => {
            let team = team_auth(deps, req, p(0)).await?;
            no_query(req)?;
            ok(hooks.event_log(&team, p(1)).await?)
        }
        RedeliverEvent => {
            let team = team_auth(deps, req, p(0)).await?;
            let r = hooks.redeliver(&team, p(1), p(2), &body(req)?).await?;
            Ok(ApiResponse::json(202, &r))
        }
        CreateWebhook => {
            let team = team_auth(deps, req, p(0)).await?;
            ok(hooks.create(&team, &body(req)?).await?)
        }
        ListWebhooks => {
            let team = team_auth(deps, req, p(0)).await?;
            no_query(req)?;
            let list: Vec<Value> = hooks.list(&team).await?.iter().map(|(w, _)| w.view()).collect();
            ok(json!({"webhooks": list}))
        }
        UpdateWebhook => {
            let team = team_auth(deps, req, p(0)).await?;
            ok(hooks.update(&team, p(1), &body(req)?).await?)
        }
        DeleteWebhook => {
            let team = team_auth(deps, req, p(0)).await?;
            ok(hooks.delete(&team, p(1)).await?)
        }
        other => Err(ServicingError::internal(format!("route {} is not a servicing route", other.name()))),
    }
}
