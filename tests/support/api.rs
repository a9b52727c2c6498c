//! A black-box client for the account API with two transports:
//! - `local`: HTTP over loopback to the local server, on the embedded store;
//! - `lambda`: a real API Gateway HTTP API (v2) event, parsed by lambda_http and handed to the
//!   same handler the function binaries run, on DynamoDB Local.
//!
//! Every response is checked against `openapi.json`: its status must be documented for the
//! operation and its body must match the documented schema.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use bytes::Bytes;
use coverdesk::accounts::TeamId;
use coverdesk::api::routes::{self, Match};
use coverdesk::deps::Deps;
use coverdesk::store::Store;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

use super::{dynamo_store, embedded_store, unique};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Transport {
    Local,
    Lambda,
    /// The local server (with its in-process worker) over DynamoDB Local.
    LocalDynamo,
}

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`Null` when it is not JSON).
    pub body: Value,
    /// The body as text (an HTML page, a script).
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn attrs(&self) -> &Value {
        &self.body["data"]["attributes"]
    }
    pub fn checksum(&self) -> String {
        self.body["data"]["checksum"].as_str().unwrap_or_default().to_string()
    }
}

#[derive(Clone)]
pub struct TestApi {
    pub transport: Transport,
    pub deps: Deps,
    addr: Option<SocketAddr>,
    pub auth: Option<String>,
    pub team: TeamId,
    pub client_id: String,
    _dir: Option<Arc<tempfile::TempDir>>,
}

pub fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

impl TestApi {
    /// The local server's address (none for the Lambda transport).
    #[allow(dead_code)]
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    pub async fn new(transport: Transport) -> TestApi {
        // Server-side logs (errors with their cause) go to the test's captured output.
        let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("coverdesk=warn").try_init();
        let (deps, dir) = match transport {
            Transport::Local => {
                let (s, d) = embedded_store();
                (super::test_deps(s), Some(Arc::new(d)))
            }
            Transport::Lambda => (super::test_deps(shared_dynamo().await), None),
            Transport::LocalDynamo => (super::test_deps(super::dynamo_store().await), None),
        };
        let addr = if transport != Transport::Lambda {
            let listener = coverdesk_local::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
            let addr = listener.local_addr().unwrap();
            let d = deps.clone();
            tokio::spawn(async move { coverdesk_local::serve(listener, d).await });
            Some(addr)
        } else {
            None
        };
        let mut api = TestApi {
            transport,
            deps,
            addr,
            auth: None,
            team: TeamId::new(String::new()),
            client_id: String::new(),
            _dir: dir,
        };
        api = api.new_team().await;
        api
    }

    /// The Lambda handlers over `deps` as they are (no server, no new team), called by the team
    /// `team` with the client id and secret given: for a test that brings its own store.
    pub fn lambda_over(deps: Deps, team: &str, client_id: &str, secret: &str) -> TestApi {
        TestApi {
            transport: Transport::Lambda,
            deps,
            addr: None,
            auth: Some(basic(client_id, secret)),
            team: TeamId::new(team),
            client_id: client_id.to_string(),
            _dir: None,
        }
    }

    /// The same server, called by a newly created team.
    pub async fn new_team(&self) -> TestApi {
        let (team, secret) =
            coverdesk::auth::create_team(self.deps.store.as_ref(), "test", Some(&unique("t")), None, None)
                .await
                .unwrap();
        let mut other = self.clone();
        other.auth = Some(basic(&team.client_id, &secret));
        other.team = team.team_id;
        other.client_id = team.client_id;
        other
    }

    pub fn without_auth(&self) -> TestApi {
        let mut a = self.clone();
        a.auth = None;
        a
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.deps.store.clone()
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None, &[]).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call("POST", path, Some(body.to_string()), &[]).await
    }
    pub async fn post_empty(&self, path: &str) -> Resp {
        self.call("POST", path, None, &[]).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call("PATCH", path, Some(body.to_string()), &[]).await
    }

    pub async fn call(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut all: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        if let Some(a) = &self.auth {
            if !all.iter().any(|(k, _)| k.eq_ignore_ascii_case("authorization")) {
                all.push(("authorization".into(), a.clone()));
            }
        }
        // JSON unless the test names a type; an empty one means "send none".
        if body.is_some() && !all.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            all.push(("content-type".into(), "application/json".into()));
        }
        all.retain(|(k, v)| !(k.eq_ignore_ascii_case("content-type") && v.is_empty()));
        let resp = match self.transport {
            Transport::Local | Transport::LocalDynamo => self.call_http(method, path_and_query, body, &all).await,
            Transport::Lambda => self.call_lambda(method, path_and_query, body, &all).await,
        };
        check_against_openapi(method, path_and_query, &resp);
        resp
    }

    async fn call_http(&self, method: &str, pq: &str, body: Option<String>, headers: &[(String, String)]) -> Resp {
        let stream = tokio::net::TcpStream::connect(self.addr.unwrap()).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        let mut b = http::Request::builder().method(method).uri(pq).header("host", "localhost");
        for (k, v) in headers {
            b = b.header(k, v);
        }
        let req = b.body(Full::new(Bytes::from(body.unwrap_or_default()))).unwrap();
        let res = sender.send_request(req).await.unwrap();
        let status = res.status().as_u16();
        let headers =
            res.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Resp { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null), text }
    }

    async fn call_lambda(&self, method: &str, pq: &str, body: Option<String>, headers: &[(String, String)]) -> Resp {
        let (path, query) = pq.split_once('?').unwrap_or((pq, ""));
        // API Gateway routes the request to one function, as template.yaml declares.
        let (route, params) = match routes::match_path(&method.parse().unwrap(), path) {
            Match::Found(r, p) => (r, p),
            _ => {
                let body = json!({"message": "Not Found"});
                return Resp { status: 404, headers: vec![], text: body.to_string(), body };
            }
        };
        let def = route.def();
        let names: Vec<&str> = def
            .path
            .split('/')
            .filter(|s| s.starts_with('{'))
            .map(|s| s.trim_matches(|c| c == '{' || c == '}'))
            .collect();
        let path_parameters: serde_json::Map<String, Value> =
            names.iter().zip(&params).map(|(k, v)| (k.to_string(), json!(v))).collect();
        let event = json!({
            "version": "2.0",
            "routeKey": format!("{} {}", def.method, def.path),
            "rawPath": path,
            "rawQueryString": query,
            "headers": headers.iter().map(|(k, v)| (k.to_lowercase(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "pathParameters": path_parameters,
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com", "domainPrefix": "api",
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "tests"},
                "requestId": unique("req"), "routeKey": format!("{} {}", def.method, def.path), "stage": "$default",
                "time": "22/Nov/2026:10:00:00 +0000", "timeEpoch": 1795341600000u64
            },
            "body": body,
            "isBase64Encoded": false
        });
        let req = lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v2 event");
        // As deployed: a function that is not given the deployment key runs without it.
        let mut deps = self.deps.clone();
        if !route.needs_key() {
            deps.keys = Arc::new(coverdesk::crypto::Keys::absent());
        }
        let res = coverdesk_lambda::invoke(&deps, route, coverdesk::api::handler(route), req).await;
        let status = res.status().as_u16();
        let headers =
            res.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
        let text = match res.body() {
            lambda_http::Body::Text(t) => t.clone(),
            lambda_http::Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        };
        Resp { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::Null), text }
    }

    /// Creates a Person (or Company) account and returns its id.
    pub async fn create_account(&self, name: &str, company: bool) -> String {
        let r = self.post("/account/v1/accounts", new_account_body(name, company)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.attrs()["id"].as_str().unwrap().to_string()
    }
}

/// One DynamoDB Local table per test binary (teams keep tests apart), a client per test.
async fn shared_dynamo() -> Arc<dyn Store> {
    static TABLE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let table = TABLE.get_or_init(|| async { dynamo_store().await.table().to_string() }).await;
    Arc::new(coverdesk_dynamo::DynamoStore::new(super::dynamo_client(), table.clone()))
}

pub fn address(line1: &str) -> Value {
    json!({"addressLine1": line1, "city": "San Mateo", "state": {"code": "CA"}, "postalCode": "94403"})
}

pub fn new_account_body(name: &str, company: bool) -> Value {
    let holder = if company {
        json!({"contactSubtype": "Company", "companyName": name, "primaryAddress": address("2850 S Delaware St")})
    } else {
        let (first, last) = name.split_once(' ').unwrap_or((name, "Tester"));
        json!({"contactSubtype": "Person", "firstName": first, "lastName": last, "emailAddress1": "holder@example.com", "primaryAddress": address("2850 S Delaware St")})
    };
    json!({"data": {"attributes": {
        "initialAccountHolder": holder,
        "initialPrimaryLocation": address("1253 Paloma Ave"),
        "producerCodes": [{"id": "pc:16"}]
    }}})
}

// ---- OpenAPI checks ----

fn openapi() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::from_str(coverdesk::api::OPENAPI).expect("openapi.json is JSON"))
}

fn escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

fn check_against_openapi(method: &str, pq: &str, resp: &Resp) {
    let path = pq.split('?').next().unwrap();
    let m: http::Method = method.parse().unwrap();
    let Match::Found(route, _) = routes::match_path(&m, path) else { return };
    let def = route.def();
    let doc = openapi();
    let op = &doc["paths"][def.path][method.to_lowercase()];
    assert!(op.is_object(), "openapi.json documents no {method} {}", def.path);
    let status = resp.status.to_string();
    let mut pointer = format!("/paths/{}/{}/responses/{status}", escape(def.path), method.to_lowercase());
    let mut response = doc
        .pointer(&pointer)
        .unwrap_or_else(|| panic!("openapi.json documents no {status} for {method} {}: {}", def.path, resp.body));
    if let Some(r) = response.get("$ref").and_then(Value::as_str) {
        pointer = r.trim_start_matches('#').to_string();
        response = doc.pointer(&pointer).expect("response $ref resolves");
    }
    if response.get("content").is_none() {
        return;
    }
    // A page or a script: its media type must be the one documented.
    let media = resp.header("content-type").unwrap_or("").split(';').next().unwrap_or("").trim();
    if media != "application/json" {
        assert!(response["content"].get(media).is_some(), "openapi.json documents no {media} for {method} {path}");
        return;
    }
    let schema_pointer = format!("{pointer}/content/{}/schema", escape("application/json"));
    // The accounts' `fields` parameter, as openapi.json describes it: an answer that names its
    // fields carries only those (and `id`), so the elements' required members reduce to that.
    let selected = resp.status == 200
        && pq.split_once('?').map_or("", |(_, q)| q).split('&').filter_map(|p| p.split_once('=')).any(|(k, v)| {
            let v = v.replace("%2A", "*").replace("%2a", "*").replace("%2C", ",").replace("%2c", ",");
            k == "fields" && !v.split(',').any(|f| f.trim().starts_with('*'))
        });
    static VALIDATORS: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let mut selected_attributes = Vec::new();
    let validator = {
        let mut cache = VALIDATORS.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(format!("{schema_pointer}{}", if selected { "#selected" } else { "" }))
            .or_insert_with(|| {
                let mut root = doc.clone();
                if selected {
                    for (name, schema) in root["components"]["schemas"].as_object_mut().unwrap() {
                        if name.ends_with("Element") {
                            schema["required"] = json!(["attributes"]);
                            let attributes =
                                schema["properties"]["attributes"]["$ref"].as_str().unwrap_or("").to_string();
                            selected_attributes
                                .push(attributes.trim_start_matches("#/components/schemas/").to_string());
                        }
                    }
                    for name in selected_attributes.drain(..) {
                        root["components"]["schemas"][&name]["required"] = json!(["id"]);
                    }
                }
                root["$ref"] = json!(format!("#{}", schema_pointer.replace('{', "%7B").replace('}', "%7D")));
                root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
                Arc::new(jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("schema at {schema_pointer}: {e}")))
            })
            .clone()
    };
    let errors: Vec<String> =
        validator.iter_errors(&resp.body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{method} {path} -> {status} does not match openapi.json: {errors:?}\n{}", resp.body);
}

/// A pull as consentAndConnect made it: its id, its token and its actions' ids.
pub struct Pull {
    pub id: String,
    pub jwt: String,
    pub actions: Vec<String>,
}

impl Pull {
    /// The pull a 200 consentAndConnect answer describes.
    pub fn made(r: &Resp) -> Pull {
        assert_eq!(r.status, 200, "{}", r.body);
        let text = |v: &Value| v.as_str().unwrap().to_string();
        Pull {
            id: text(&r.body["pull_id"]),
            jwt: text(&r.body["pull_jwt"]),
            actions: r.body["servicing_action_ids"].as_array().unwrap().iter().map(text).collect(),
        }
    }
}
