//! `coverdesk`: the local server and the operator commands.
//!
//! ```text
//! coverdesk serve                                  # every route on 127.0.0.1:$PORT (3000), embedded store
//! coverdesk team create --name NAME [--client-id ID] [--store embedded|dynamodb]
//! coverdesk team rotate-secret --client-id ID [--store embedded|dynamodb]
//! coverdesk seed [--store embedded|dynamodb]       # the local team and the example accounts the events use
//! coverdesk dynamodb create-table                  # for DynamoDB Local; uses COVERDESK_TABLE
//! coverdesk tax-rules check                        # validate shared/data/tax-rules (periods, sources, ranges)
//! coverdesk tax-rules show XX [--date YYYY-MM-DD] [--history]   # a jurisdiction's rules
//! coverdesk import FILE [--team ID] [--store ...]  # plays the S3 trigger: upload FILE, import it, progress bar
//! ```
//! The embedded store lives in `COVERDESK_DATA_DIR` (default `.coverdesk/`); `--store dynamodb`
//! uses `COVERDESK_TABLE` and the standard AWS environment.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use coverdesk::auth;
use coverdesk::deps::Deps;
use coverdesk::store::dynamo::DynamoStore;

use coverdesk::examples::{LOCAL_CLIENT_ID, LOCAL_SECRET};

/// An error for the operator's terminal: with its details, which `Display` leaves to the envelope.
fn describe(e: coverdesk::accounts::AccountError) -> String {
    match e {
        coverdesk::accounts::AccountError::BadInput { details, .. } => details
            .iter()
            .map(|d| format!("{}: {}", d.field.as_deref().unwrap_or("input"), d.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

fn data_dir() -> String {
    std::env::var("COVERDESK_DATA_DIR").unwrap_or_else(|_| ".coverdesk".into())
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

async fn deps_for(args: &[String]) -> Result<Deps, String> {
    match flag(args, "--store").as_deref().unwrap_or("embedded") {
        "embedded" => Deps::embedded(data_dir()).map_err(|e| e.to_string()),
        "dynamodb" => Deps::from_env().await.map_err(|e| e.to_string()),
        other => Err(format!("unknown store {other:?}: embedded or dynamodb")),
    }
}

async fn run(args: Vec<String>) -> Result<(), String> {
    let words: Vec<&str> = args.iter().take_while(|a| !a.starts_with("--")).map(String::as_str).collect();
    match words.as_slice() {
        [] | ["serve"] => {
            let deps = deps_for(&args).await?;
            coverdesk::examples::ensure_local_team(deps.store.as_ref()).await.map_err(|e| e.to_string())?;
            let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
            let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
            let addr: SocketAddr = format!("{host}:{port}").parse().map_err(|e| format!("bad HOST/PORT: {e}"))?;
            let listener = coverdesk::local::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            eprintln!(
                "coverdesk: serving every route on http://{addr} (data in {}/); local team {LOCAL_CLIENT_ID}:{LOCAL_SECRET}; OpenAPI at /openapi.json",
                data_dir()
            );
            tokio::select! {
                r = coverdesk::local::serve(listener, deps) => r.map_err(|e| e.to_string()),
                _ = tokio::signal::ctrl_c() => Ok(()),
            }
        }
        ["team", "create"] => {
            let deps = deps_for(&args).await?;
            let name = flag(&args, "--name").ok_or("--name is required")?;
            let (team, secret) = auth::create_team(deps.store.as_ref(), &name, flag(&args, "--client-id").as_deref(), None, None)
                .await
                .map_err(describe)?;
            // The secret is printed once, to the operator's terminal, and stored only as a hash.
            println!("team_id={}\nclient_id={}\nclient_secret={secret}", team.team_id, team.client_id);
            Ok(())
        }
        ["team", "rotate-secret"] => {
            let deps = deps_for(&args).await?;
            let id = flag(&args, "--client-id").ok_or("--client-id is required")?;
            let secret = auth::rotate_secret(deps.store.as_ref(), &id).await.map_err(describe)?;
            println!("client_id={id}\nclient_secret={secret}");
            Ok(())
        }
        ["seed"] => {
            let deps = deps_for(&args).await?;
            let wrote = coverdesk::examples::seed(deps.store.as_ref()).await.map_err(|e| e.to_string())?;
            if wrote {
                eprintln!("coverdesk: wrote accounts pc:1 (Active, policy pc:7), pc:2 (Pending), pc:3 (Withdrawn) for team {LOCAL_CLIENT_ID}");
            } else {
                eprintln!("coverdesk: team {LOCAL_CLIENT_ID} already has accounts; nothing written");
            }
            Ok(())
        }
        ["import", file] => {
            let deps = deps_for(&args).await?;
            let team = flag(&args, "--team").unwrap_or_else(|| "local".into());
            let body = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
            let name = std::path::Path::new(file)
                .file_name()
                .map(|n| n.to_string_lossy().chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect::<String>())
                .unwrap_or_else(|| "batch.json".into());
            let key = format!("{}{team}/{name}", coverdesk::import::upload::UPLOAD_PREFIX);
            let etag = coverdesk::crypto::uuid().map_err(|e| e.to_string())?;
            deps.objects.put_bytes(&key, body, "application/json").await.map_err(|e| e.to_string())?;
            let progress = |done: usize, total: usize| {
                let width = 40;
                let filled = (done.min(total) * width).checked_div(total).unwrap_or(width);
                eprint!("\r[{}{}] {done}/{total}", "#".repeat(filled), " ".repeat(width - filled));
            };
            let out = coverdesk::import::upload::import_object(&deps, "local", &key, &etag, &progress).await?;
            eprintln!();
            println!("batch_id={}\nimported={}/{}\nresult={}", out.batch_id, out.imported, out.total, out.result_key);
            Ok(())
        }
        ["tax-rules", "check"] => {
            use coverdesk::import::rules::{Rules, DATA, DEFAULTS};
            let rules = Rules::parse(DATA, DEFAULTS).map_err(|p| format!("the data does not parse:\n  {}", p.join("\n  ")))?;
            let problems = rules.check();
            if !problems.is_empty() {
                return Err(format!("{} problem(s):\n  {}", problems.len(), problems.join("\n  ")));
            }
            let (mut periods, mut unverified) = (0, 0);
            for j in rules.jurisdictions.values() {
                for p in j.fees.iter().flat_map(|f| &f.periods) {
                    periods += 1;
                    unverified += usize::from(!p.verified);
                }
            }
            println!("{} jurisdictions, {periods} periods ({unverified} unverified): no problem found", rules.jurisdictions.len());
            Ok(())
        }
        ["tax-rules", "show", code] => {
            let date = match flag(&args, "--date") {
                None => chrono::Utc::now().date_naive(),
                Some(d) => chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| format!("--date {d:?}: expected YYYY-MM-DD"))?,
            };
            let code = code.to_ascii_uppercase();
            let text = coverdesk::import::rules::rules()
                .describe(&code, date, args.iter().any(|a| a == "--history"))
                .ok_or_else(|| format!("no department for {code:?} (status 1004): one of {}", coverdesk::import::rules::JURISDICTIONS.join(" ")))?;
            print!("{text}");
            Ok(())
        }
        ["dynamodb", "create-table"] => {
            let table = std::env::var(coverdesk::deps::TABLE_ENV).map_err(|_| "COVERDESK_TABLE is required")?;
            let store = Arc::new(DynamoStore::from_env(table).await);
            store.create_table().await.map_err(|e| e.to_string())
        }
        _ => Err("usage: coverdesk [serve] | team create --name N [--client-id ID] | team rotate-secret --client-id ID | seed | import FILE [--team ID] | dynamodb create-table  (--store embedded|dynamodb) | tax-rules check | tax-rules show XX [--date YYYY-MM-DD] [--history]".into()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match run(std::env::args().skip(1).collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coverdesk: {e}");
            ExitCode::FAILURE
        }
    }
}
