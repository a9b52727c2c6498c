//! Cold-start reference: what the import function's requests cost a client that makes them and
//! does nothing else. hello-dynamo-s3 plus the warm-up read during init; then, on its
//! invocation, the requests import-transactions makes for one transaction with two documents,
//! in its order and with its concurrency, on the same clients (the SDK's DynamoDB and S3 clients
//! from one configuration; documents through hyper-rustls with the compiled-in roots, built on
//! first use): a GetItem (the team), then at once a PutItem (the batch) and a GetItem (the
//! duplicate check); per document at once, the document's GET and its PUT (from memory,
//! `If-None-Match: *`); then PutItem (the record), PutItem (the results), Query (the team's
//! webhooks), PutItem (the batch processed). Items are about the import's sizes. The documents
//! are the two `http` URLs in the event's body, found by a plain scan (no JSON parse: that is the
//! function's own work).
//! `import-transactions` less this is what the function adds to its requests.

use aws_sdk_dynamodb::types::AttributeValue;
use http_body_util::BodyExt;
use lambda_http::{service_fn, Body, Error, Request, Response};

type Docs = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

fn docs_client() -> Result<Docs, Error> {
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::aws_lc_rs::default_provider())?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https))
}

struct Clients {
    dynamo: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    docs: tokio::sync::OnceCell<Docs>,
    table: String,
    bucket: String,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

impl Clients {
    async fn get(&self, pk: &str) -> Result<(), Error> {
        self.dynamo
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s("#"))
            .consistent_read(true)
            .send()
            .await?;
        Ok(())
    }

    async fn put(&self, pk: &str, bytes: usize) -> Result<(), Error> {
        let body = "x".repeat(bytes);
        let put =
            self.dynamo.put_item().table_name(&self.table).item("pk", s(pk)).item("sk", s("#")).item("body", s(&body));
        put.send().await?;
        Ok(())
    }

    async fn document(&self, run: &str, n: usize, url: &str) -> Result<(), Error> {
        let key = format!("hello/{run}/{n:02}");
        let docs = self.docs.get_or_try_init(|| async { docs_client() }).await?;
        let req = http::Request::get(url).body(http_body_util::Full::new(bytes::Bytes::new()))?;
        let body = docs.request(req).await?.into_body().collect().await?.to_bytes();
        let put = self.s3.put_object().bucket(&self.bucket).key(&key).content_type("application/pdf");
        put.metadata("sha256", "0".repeat(64)).if_none_match("*").body(body.into()).send().await?;
        Ok(())
    }

    async fn import(&'static self, event: &str) -> Result<(), Error> {
        let run = format!("hello-import#{}", std::process::id());
        self.get("TEAM#hello").await?;
        let (batch, txn) = (format!("{run}#batch"), format!("{run}#txn"));
        tokio::try_join!(self.put(&batch, 400), self.get(&txn))?;
        let urls = event.split('"').filter(|p| p.starts_with("http://") || p.starts_with("https://"));
        let mut each = tokio::task::JoinSet::new();
        for (n, url) in urls.enumerate() {
            let (run, url) = (run.clone(), url.to_string());
            each.spawn(async move { self.document(&run, n, &url).await });
        }
        while let Some(r) = each.join_next().await {
            r??;
        }
        self.put(&format!("{run}#txn"), 2000).await?;
        self.put(&format!("{run}#results"), 500).await?;
        let query = self.dynamo.query().table_name(&self.table).key_condition_expression("pk = :p");
        query.expression_attribute_values(":p", s("WEBHOOKS#hello")).send().await?;
        self.put(&format!("{run}#batch"), 400).await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let clients = Clients {
        dynamo: aws_sdk_dynamodb::Client::new(&config),
        s3: aws_sdk_s3::Client::new(&config),
        docs: tokio::sync::OnceCell::new(),
        table: std::env::var("COVERDESK_TABLE").unwrap_or_default(),
        bucket: std::env::var("COVERDESK_BUCKET").unwrap_or_default(),
    };
    // The warm-up read, as every function that keeps data makes it (hello-dynamo-warm).
    let read = clients
        .dynamo
        .get_item()
        .table_name(&clients.table)
        .key("pk", s("coverdesk-warm-up"))
        .key("sk", s("coverdesk-warm-up"))
        .send();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), read).await;
    let clients: &'static Clients = Box::leak(Box::new(clients));
    lambda_http::run(service_fn(move |req: Request| async move {
        let event = std::str::from_utf8(req.body().as_ref()).unwrap_or_default().to_string();
        let status = match clients.import(&event).await {
            Ok(()) => 200,
            Err(e) => {
                eprintln!("hello-import-requests: {e}");
                500
            }
        };
        Ok::<_, Error>(Response::builder().status(status).body(Body::from("{}"))?)
    }))
    .await
}
