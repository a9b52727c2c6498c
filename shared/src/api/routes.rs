//! The route table. `template.yaml` declares one function per entry, `functions/<name>` holds
//! its binary, `events/<name>.json` its sample event; `tests/layout.rs` checks all three agree.

use http::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    CreateAccount,
    ListAccounts,
    GetAccount,
    PatchAccount,
    MergeAccounts,
    WithdrawAccount,
    ReopenAccount,
    SearchAccounts,
    SearchAccountsFreeText,
    ListContacts,
    CreateContact,
    GetContact,
    PatchContact,
    DeleteContact,
    ListLocations,
    CreateLocation,
    GetLocation,
    PatchLocation,
    DeleteLocation,
    ListNotes,
    CreateNote,
    ListActivities,
    CreateActivity,
    ListPolicies,
    CreatePolicy,
    GetPolicy,
    ListJobs,
    SetOnlineAccess,
    RemoveOnlineAccess,
    // Servicing (seed 000)
    ListCarriers,
    GetCarrier,
    ConsentAndConnect,
    WidgetGetPull,
    WidgetIdvOptions,
    WidgetIdv,
    WidgetConnect,
    WidgetConfirmAction,
    ConfirmAction,
    CreateServicing,
    ListServicings,
    GetServicing,
    ListPulls,
    GetPull,
    ListPullEvents,
    RedeliverEvent,
    CreateWebhook,
    ListWebhooks,
    UpdateWebhook,
    DeleteWebhook,
    CreateConnectToken,
    WidgetConnectToken,
    // The consumer's pages (issue 18): the hosted Connect page, its assets, the embedding script.
    ConnectPage,
    ConnectAsset,
    ConnectSdk,
    // Transaction import (seed 002)
    ImportTransactions,
    ImportTransaction,
    GetImportResults,
    GetImportedTransaction,
    // The filing service's lookups and later documents (issue 19).
    FindImportedTransactions,
    AddTransactionDocuments,
    AddInvoiceDocuments,
    GetTaxRules,
    // The broker's desk (issue 20).
    CalculateTaxes,
    TaxReport,
    ListImportEvents,
    RedeliverImportEvent,
}

/// Which API a route belongs to: it decides the error envelope and the authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Accounts,
    Servicing,
    Import,
}

impl Family {
    /// The API a path belongs to, routed or not (its envelope answers a 404 or a 413 too).
    pub fn of_path(path: &str) -> Family {
        if path.starts_with("/account/") {
            Family::Accounts
        } else if path.starts_with("/import/") {
            Family::Import
        } else {
            Family::Servicing
        }
    }
}

/// What a function builds at its cold start; see [`Route::needs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// The DynamoDB table (`coverdesk-dynamo`).
    pub store: bool,
    /// The S3 bucket (`coverdesk-s3`).
    pub objects: bool,
    /// The deployment key from Secrets Manager (`coverdesk-secrets`).
    pub key: bool,
}

pub struct RouteDef {
    pub route: Route,
    /// The function crate and binary name, e.g. `accounts-create`.
    pub name: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    /// The route function under `coverdesk::api`, e.g. `accounts::create_account`: the function's
    /// `main` serves `coverdesk::handler!(coverdesk::api::<this>)`.
    pub handler: &'static str,
}

macro_rules! routes {
    ($($route:ident $name:literal $method:literal $path:literal $area:ident::$f:ident;)*) => {
        pub const ROUTES: &[RouteDef] = &[$(RouteDef {
            route: Route::$route,
            name: $name,
            method: $method,
            path: $path,
            handler: concat!(stringify!($area), "::", stringify!($f)),
        },)*];

        /// Every route's handler, for the local server and the tests. A Lambda function never
        /// calls this (it would link every handler): its `main` names its own.
        pub fn handler(route: Route) -> super::Handler {
            match route {
                $(Route::$route => crate::handler!(super::$area::$f),)*
            }
        }
    };
}

routes! {
    CreateAccount "accounts-create" "POST" "/account/v1/accounts" accounts::create_account;
    ListAccounts "accounts-list" "GET" "/account/v1/accounts" accounts::list_accounts;
    GetAccount "accounts-get" "GET" "/account/v1/accounts/{accountId}" accounts::get_account;
    PatchAccount "accounts-patch" "PATCH" "/account/v1/accounts/{accountId}" accounts::patch_account;
    MergeAccounts "accounts-merge" "POST" "/account/v1/accounts/{accountId}/merge" accounts::merge_accounts;
    WithdrawAccount "accounts-withdraw" "POST" "/account/v1/accounts/{accountId}/withdraw" accounts::withdraw_account;
    ReopenAccount "accounts-reopen" "POST" "/account/v1/accounts/{accountId}/reopen" accounts::reopen_account;
    SearchAccounts "accounts-search" "POST" "/account/v1/search/accounts" accounts::search_accounts;
    SearchAccountsFreeText "accounts-search-freetext" "POST" "/account/v1/search/accounts-freetext" accounts::search_accounts_freetext;
    ListContacts "contacts-list" "GET" "/account/v1/accounts/{accountId}/contacts" accounts::list_contacts;
    CreateContact "contacts-create" "POST" "/account/v1/accounts/{accountId}/contacts" accounts::create_contact;
    GetContact "contacts-get" "GET" "/account/v1/accounts/{accountId}/contacts/{contactId}" accounts::get_contact;
    PatchContact "contacts-patch" "PATCH" "/account/v1/accounts/{accountId}/contacts/{contactId}" accounts::patch_contact;
    DeleteContact "contacts-delete" "DELETE" "/account/v1/accounts/{accountId}/contacts/{contactId}" accounts::delete_contact;
    ListLocations "locations-list" "GET" "/account/v1/accounts/{accountId}/locations" accounts::list_locations;
    CreateLocation "locations-create" "POST" "/account/v1/accounts/{accountId}/locations" accounts::create_location;
    GetLocation "locations-get" "GET" "/account/v1/accounts/{accountId}/locations/{locationId}" accounts::get_location;
    PatchLocation "locations-patch" "PATCH" "/account/v1/accounts/{accountId}/locations/{locationId}" accounts::patch_location;
    DeleteLocation "locations-delete" "DELETE" "/account/v1/accounts/{accountId}/locations/{locationId}" accounts::delete_location;
    ListNotes "notes-list" "GET" "/account/v1/accounts/{accountId}/notes" accounts::list_notes;
    CreateNote "notes-create" "POST" "/account/v1/accounts/{accountId}/notes" accounts::create_note;
    ListActivities "activities-list" "GET" "/account/v1/accounts/{accountId}/activities" accounts::list_activities;
    CreateActivity "activities-create" "POST" "/account/v1/accounts/{accountId}/activities" accounts::create_activity;
    ListPolicies "policies-list" "GET" "/account/v1/accounts/{accountId}/policies" accounts::list_policies;
    CreatePolicy "policies-create" "POST" "/account/v1/accounts/{accountId}/policies" accounts::create_policy;
    GetPolicy "policies-get" "GET" "/account/v1/accounts/{accountId}/policies/{policyId}" accounts::get_policy;
    ListJobs "jobs-list" "GET" "/account/v1/accounts/{accountId}/jobs" accounts::list_jobs;
    SetOnlineAccess "online-access-set" "PUT" "/account/v1/accounts/{accountId}/online-access" accounts::set_online_access;
    RemoveOnlineAccess "online-access-remove" "DELETE" "/account/v1/accounts/{accountId}/online-access" accounts::remove_online_access;
    ListCarriers "carriers-list" "GET" "/carriers" servicing::list_carriers;
    GetCarrier "carriers-get" "GET" "/carriers/{carrierId}" servicing::get_carrier;
    ConsentAndConnect "widget-consent-and-connect" "POST" "/widget/pull/consentAndConnect" servicing::consent_and_connect;
    WidgetGetPull "widget-pull-get" "GET" "/widget/pull/{pullId}" servicing::widget_get_pull;
    WidgetIdvOptions "widget-idv-options" "POST" "/widget/pull/{pullId}/idvoptions" servicing::widget_idv_options;
    WidgetIdv "widget-idv" "POST" "/widget/pull/{pullId}/idv" servicing::widget_idv;
    WidgetConnect "widget-connect" "POST" "/widget/pull/{pullId}/connect" servicing::widget_connect;
    WidgetConfirmAction "widget-servicing-action" "POST" "/widget/pull/{pullId}/servicingAction" servicing::widget_confirm_action;
    ConfirmAction "pull-servicing-action" "POST" "/pull/{pullId}/servicingAction" servicing::confirm_action;
    CreateServicing "servicings-create" "POST" "/teams/{teamId}/servicings" servicing::create_servicing;
    ListServicings "servicings-list" "GET" "/teams/{teamId}/servicings" servicing::list_servicings;
    GetServicing "servicings-get" "GET" "/teams/{teamId}/servicings/{servicingActionId}" servicing::get_servicing;
    ListPulls "pulls-list" "GET" "/teams/{teamId}/pulls" servicing::list_pulls;
    GetPull "pulls-get" "GET" "/teams/{teamId}/pulls/{pullId}" servicing::get_pull;
    ListPullEvents "pull-events-list" "GET" "/teams/{teamId}/pulls/{pullId}/events" servicing::list_pull_events;
    RedeliverEvent "pull-events-redeliver" "POST" "/teams/{teamId}/pulls/{pullId}/events/{eventId}/redeliver" servicing::redeliver_event;
    CreateWebhook "webhooks-create" "POST" "/teams/{teamId}/webhooks" servicing::create_webhook;
    ListWebhooks "webhooks-list" "GET" "/teams/{teamId}/webhooks" servicing::list_webhooks;
    UpdateWebhook "webhooks-update" "PATCH" "/teams/{teamId}/webhooks/{webhookId}" servicing::update_webhook;
    DeleteWebhook "webhooks-delete" "DELETE" "/teams/{teamId}/webhooks/{webhookId}" servicing::delete_webhook;
    CreateConnectToken "connect-tokens-create" "POST" "/teams/{teamId}/connectTokens" servicing::create_connect_token;
    WidgetConnectToken "widget-connect-token" "POST" "/widget/connectToken" servicing::widget_connect_token;
    ConnectPage "connect-page" "GET" "/c/{publicAlias}" connect::page;
    ConnectAsset "connect-assets" "GET" "/c/assets/{asset}" connect::asset;
    ConnectSdk "connect-sdk" "GET" "/c/sdk.js" connect::sdk;
    ImportTransactions "import-transactions" "POST" "/import/v1/transactions" import::import_transactions;
    ImportTransaction "import-transaction" "POST" "/import/v1/transaction" import::import_transaction;
    GetImportResults "import-results-get" "GET" "/import/v1/transaction-import-results" import::get_import_results;
    GetImportedTransaction "import-transaction-get" "GET" "/import/v1/transactions/{transactionId}" import::get_imported_transaction;
    FindImportedTransactions "import-transactions-find" "GET" "/import/v1/transactions" import::find_imported_transactions;
    AddTransactionDocuments "import-transaction-documents" "POST" "/import/v1/transactions/{transactionId}/documents" import::add_transaction_documents;
    AddInvoiceDocuments "import-invoice-documents" "POST" "/import/v1/documents" import::add_invoice_documents;
    GetTaxRules "tax-rules-get" "GET" "/import/v1/tax-rules/{state}" import::get_tax_rules;
    CalculateTaxes "tax-calculations" "POST" "/import/v1/tax-calculations" import::calculate_taxes;
    TaxReport "tax-report" "GET" "/import/v1/reports/taxes" import::tax_report;
    ListImportEvents "import-events-list" "GET" "/teams/{teamId}/imports/{batchId}/events" servicing::list_import_events;
    RedeliverImportEvent "import-events-redeliver" "POST" "/teams/{teamId}/imports/{batchId}/events/{eventId}/redeliver" servicing::redeliver_import_event;
}

impl Route {
    pub fn def(self) -> &'static RouteDef {
        ROUTES.iter().find(|d| d.route == self).expect("every route is in the table")
    }
    pub fn family(self) -> Family {
        Family::of_path(self.def().path)
    }
    pub fn name(self) -> &'static str {
        self.def().name
    }
    pub fn by_name(name: &str) -> Option<Route> {
        ROUTES.iter().find(|d| d.name == name).map(|d| d.route)
    }
    /// The clients the route's function builds at its cold start (and so links): each function's
    /// `main` builds exactly these, its crate depends on exactly the adapter crates they come
    /// from, and `template.yaml` gives it exactly the matching settings and rights
    /// (`tests/layout.rs` checks all four agree).
    pub fn needs(self) -> Needs {
        use Route::*;
        Needs {
            // The carrier catalogue is built in; every other route authenticates against the store.
            store: !matches!(self, ListCarriers | GetCarrier | ConnectAsset | ConnectSdk),
            // Only posted transactions store objects (their fetched documents); results and
            // transactions are read from the store.
            objects: matches!(
                self,
                ImportTransactions | ImportTransaction | AddTransactionDocuments | AddInvoiceDocuments
            ),
            key: self.needs_key(),
        }
    }

    /// Whether the route seals, opens, signs or verifies with the deployment key (consumer
    /// credentials, webhook secrets, pull tokens, online-access usernames). Only these functions
    /// are given the key (template.yaml: `COVERDESK_KEY_SECRET_ARN` and the right to read it);
    /// the others run with [`crate::crypto::Keys::absent`]. The servicing worker needs it too.
    pub fn needs_key(self) -> bool {
        use Route::*;
        matches!(
            self,
            ConsentAndConnect
                | WidgetGetPull
                | WidgetIdvOptions
                | WidgetIdv
                | WidgetConnect
                | WidgetConfirmAction
                | ConfirmAction
                | CreateServicing
                | CreateWebhook
                | SetOnlineAccess
        )
    }
}

/// A route's pattern split once: its segments, each a literal or a parameter (`None`).
struct Pattern {
    def: &'static RouteDef,
    segments: Vec<Option<&'static str>>,
}

/// Every route's pattern, split on first use: a request is matched against all of them, and most
/// are ruled out by their segment count or a literal segment before anything else is looked at.
static PATTERNS: std::sync::LazyLock<Vec<Pattern>> = std::sync::LazyLock::new(|| {
    ROUTES
        .iter()
        .map(|def| Pattern { def, segments: def.path.split('/').map(|s| (!s.starts_with('{')).then_some(s)).collect() })
        .collect()
});

impl Pattern {
    /// Whether `sent` (a path's segments) has this pattern's shape.
    fn fits(&self, sent: &[&str]) -> bool {
        self.segments.len() == sent.len() && self.segments.iter().zip(sent).all(|(p, s)| p.is_none_or(|p| p == *s))
    }

    /// The decoded parameters of `sent`, which [`Pattern::fits`]; `None` when one is not UTF-8
    /// or is empty. A trailing slash is an empty last segment, so `/import/v1/transactions/`
    /// names an empty id (404), never the collection.
    fn params(&self, sent: &[&str]) -> Option<Vec<String>> {
        self.segments
            .iter()
            .zip(sent)
            .filter(|(p, _)| p.is_none())
            .map(|(_, s)| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .ok()
                    .map(|d| d.into_owned())
                    .filter(|d| !d.is_empty())
            })
            .collect()
    }

    /// How specific the pattern is, segment by segment: a literal outranks a parameter, so
    /// `/widget/pull/consentAndConnect` wins over `/widget/pull/{pullId}` (as in API Gateway).
    fn specificity(&self) -> impl Iterator<Item = bool> + '_ {
        self.segments.iter().map(Option::is_some)
    }

    /// The matches of `sent` that are not outranked by another match.
    fn best(sent: &[&str]) -> Vec<&'static Pattern> {
        let mut best: Vec<&'static Pattern> = Vec::new();
        for p in PATTERNS.iter().filter(|p| p.fits(sent)) {
            match best.first().map(|b| p.specificity().cmp(b.specificity())) {
                None | Some(std::cmp::Ordering::Equal) => best.push(p),
                Some(std::cmp::Ordering::Greater) => best = vec![p],
                Some(std::cmp::Ordering::Less) => {}
            }
        }
        best
    }
}

pub enum Match {
    Found(Route, Vec<String>),
    WrongMethod(Vec<&'static str>),
    None,
}

/// The route for `method` and `path`: among the patterns that match, only the most specific
/// count; if none of them takes `method`, their methods are the `Allow` list.
pub fn match_path(method: &Method, path: &str) -> Match {
    let sent: Vec<&str> = path.split('/').collect();
    let best = Pattern::best(&sent);
    // Patterns as specific as each other have their parameters in the same places: decoded
    // once. A parameter that does not decode (or is empty) matches no route, whatever the method.
    let Some(params) = best.first().and_then(|p| p.params(&sent)) else { return Match::None };
    match best.iter().find(|p| p.def.method == method.as_str()) {
        Some(p) => Match::Found(p.def.route, params),
        None => Match::WrongMethod(best.iter().map(|p| p.def.method).collect()),
    }
}

/// The parameters of `path` for one route (one Lambda function), unless the path is not its own:
/// another method, or a more specific route of the table owns it.
pub fn match_route(route: Route, method: &Method, path: &str) -> Option<Vec<String>> {
    let d = route.def();
    if d.method != method.as_str() {
        return None;
    }
    let sent: Vec<&str> = path.split('/').collect();
    let best = Pattern::best(&sent);
    best.iter().find(|p| p.def.route == route)?.params(&sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matching as it was first written (every route's pattern split on every request), kept
    /// to check the table of split patterns against.
    fn reference(method: &Method, path: &str) -> Match {
        fn pattern(pattern: &str, path: &str) -> Option<Vec<String>> {
            let (mut pp, mut sp, mut sent) = (pattern.split('/'), path.split('/'), Vec::new());
            loop {
                match (pp.next(), sp.next()) {
                    (None, None) => break,
                    (Some(p), Some(s)) if p.starts_with('{') => sent.push(s),
                    (Some(p), Some(s)) if p == s => {}
                    _ => return None,
                }
            }
            sent.into_iter()
                .map(|s| percent_encoding::percent_decode_str(s).decode_utf8().ok().map(|d| d.into_owned()))
                .map(|d| d.filter(|d| !d.is_empty()))
                .collect()
        }
        let specificity = |p: &str| p.split('/').map(|s| !s.starts_with('{')).collect::<Vec<bool>>();
        let matching: Vec<_> = ROUTES.iter().filter_map(|d| pattern(d.path, path).map(|p| (d, p))).collect();
        let Some(best) = matching.iter().map(|(d, _)| specificity(d.path)).max() else { return Match::None };
        let mut allowed = Vec::new();
        for (d, params) in matching {
            if specificity(d.path) != best {
                continue;
            }
            if d.method == method.as_str() {
                return Match::Found(d.route, params);
            }
            allowed.push(d.method);
        }
        Match::WrongMethod(allowed)
    }

    #[test]
    fn the_split_patterns_match_as_every_pattern_split_each_time() {
        let fill = ["pc:1", "pc%3A1", "", "%FF", "consentAndConnect", "merge", "x y", "accounts"];
        let methods = [Method::GET, Method::POST, Method::PATCH, Method::DELETE, Method::PUT];
        let mut paths: Vec<String> = vec!["/".into(), "".into(), "/nothing".into(), "//".into()];
        for d in ROUTES {
            // Every parameter filled alike, and each filled in turn with the next filler (one
            // good parameter beside a bad one); then the path one segment short, doubled
            // slashes, no leading slash.
            for (n, f) in fill.iter().enumerate() {
                let mut k = 0;
                let path: Vec<&str> = d
                    .path
                    .split('/')
                    .map(|s| match s.starts_with('{') {
                        true => {
                            k += 1;
                            if k % 2 == 0 {
                                fill[(n + 1) % fill.len()]
                            } else {
                                f
                            }
                        }
                        false => s,
                    })
                    .collect();
                let alike: Vec<&str> = d.path.split('/').map(|s| if s.starts_with('{') { *f } else { s }).collect();
                for p in [&path, &alike] {
                    let joined = p.join("/");
                    paths.push(joined.clone());
                    paths.push(format!("{joined}/"));
                    paths.push(joined.replace('/', "//"));
                    paths.push(joined.trim_start_matches('/').to_string());
                    paths.push(p[..p.len() - 1].join("/"));
                }
            }
        }
        let key = |m: Match| match m {
            Match::Found(r, p) => format!("found {} {p:?}", r.def().name),
            Match::WrongMethod(a) => format!("wrong method {a:?}"),
            Match::None => "none".into(),
        };
        for path in &paths {
            for method in &methods {
                assert_eq!(key(match_path(method, path)), key(reference(method, path)), "{method} {path}");
                let found = match reference(method, path) {
                    Match::Found(r, p) => Some((r, p)),
                    _ => None,
                };
                for d in ROUTES {
                    let want = found.clone().filter(|(r, _)| *r == d.route).map(|(_, p)| p);
                    assert_eq!(match_route(d.route, method, path), want, "{} {method} {path}", d.name);
                }
            }
        }
    }

    #[test]
    fn paths_match_with_encoded_ids() {
        match match_path(&Method::POST, "/account/v1/accounts/pc%3A33/merge") {
            Match::Found(Route::MergeAccounts, p) => assert_eq!(p, vec!["pc:33"]),
            _ => panic!("no match"),
        }
        assert!(matches!(match_path(&Method::DELETE, "/account/v1/accounts/pc:1"), Match::WrongMethod(_)));
        assert!(matches!(match_path(&Method::GET, "/account/v1/nothing"), Match::None));
        // A trailing slash is an empty last segment: no route has an empty id (API Gateway does
        // not route `/accounts/` to `/accounts` either).
        assert!(matches!(match_path(&Method::GET, "/account/v1/accounts/"), Match::None));
    }

    #[test]
    fn a_static_segment_wins_over_a_parameter() {
        assert!(matches!(
            match_path(&Method::POST, "/widget/pull/consentAndConnect"),
            Match::Found(Route::ConsentAndConnect, _)
        ));
        match match_path(&Method::GET, "/widget/pull/consentAndConnect") {
            Match::WrongMethod(allowed) => assert_eq!(allowed, ["POST"]),
            _ => panic!("GET on the static path is a wrong method, not a pull id"),
        }
        assert!(matches!(match_path(&Method::GET, "/widget/pull/p-1"), Match::Found(Route::WidgetGetPull, _)));
        assert_eq!(match_route(Route::WidgetGetPull, &Method::GET, "/widget/pull/consentAndConnect"), None);
        assert!(match_route(Route::WidgetGetPull, &Method::GET, "/widget/pull/p-1").is_some());
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = ROUTES.iter().map(|d| d.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ROUTES.len());
    }
}
