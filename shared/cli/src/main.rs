//! `coverdesk`: the local server and the operator commands. `coverdesk --help` (or `help`, or
//! `<command> --help`) lists them; help and `--version` never touch a store. Bad usage exits 2,
//! a failed command 1.
//!
//! The embedded store lives in `COVERDESK_DATA_DIR` (default `.coverdesk/`); `--store dynamodb`
//! uses `COVERDESK_TABLE` and the standard AWS environment.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use coverdesk::auth;
use coverdesk::deps::Deps;
use coverdesk::examples::{LOCAL_CLIENT_ID, LOCAL_SECRET};
use coverdesk_dynamo::DynamoStore;

#[derive(Parser)]
#[command(name = "coverdesk", version, about = "Coverdesk: every route on a local server, and the operator commands")]
struct Cli {
    /// Without a command: `serve`.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum StoreKind {
    /// The embedded store in COVERDESK_DATA_DIR (default .coverdesk/)
    Embedded,
    /// The DynamoDB table named by COVERDESK_TABLE (AWS_ENDPOINT_URL_DYNAMODB for DynamoDB Local)
    Dynamodb,
}

#[derive(Args, Clone, Copy)]
struct StoreArg {
    /// Which store to act on
    #[arg(long, value_enum, default_value = "embedded")]
    store: StoreKind,
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// After an upgrade: give every account of a team stored before search existed its search
    /// index entries (checksums unchanged); accounts are otherwise indexed at their next change
    Reindex {
        /// The team's client id
        #[arg(long, default_value = LOCAL_CLIENT_ID)]
        team: String,
        #[command(flatten)]
        store: StoreArg,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Serve every route (and /openapi.json) with the servicing worker in-process
    Serve {
        /// Port to listen on
        #[arg(long, env = "PORT", default_value_t = 3000)]
        port: u16,
        /// Address to listen on
        #[arg(long, env = "HOST", default_value = "127.0.0.1")]
        host: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Create a team, rotate its secret, manage its API keys
    #[command(subcommand)]
    Team(TeamCommand),
    /// Write the local team and the example accounts pc:1..pc:3 the sample events use
    Seed {
        #[command(flatten)]
        store: StoreArg,
    },
    /// Play the S3 trigger: upload FILE for a team, import it, write the result file
    Import {
        /// A JSON array of seed 002 transactions
        file: PathBuf,
        /// The team's client id (`team create` prints it)
        #[arg(long, default_value = LOCAL_CLIENT_ID)]
        team: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Reports from the imported transactions
    #[command(subcommand)]
    Report(ReportCommand),
    /// Account maintenance
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// DynamoDB Local helpers
    #[command(subcommand)]
    Dynamodb(DynamoCommand),
    /// Check or show the surplus-lines tax rules (shared/data/tax-rules)
    #[command(subcommand)]
    TaxRules(TaxRulesCommand),
}

#[derive(Subcommand)]
enum TeamCommand {
    /// Create a team; prints its client id and secret once
    Create {
        #[arg(long)]
        name: String,
        /// Choose the client id (letters, digits, - and _)
        #[arg(long)]
        client_id: Option<String>,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Give a team a new secret; the old one stops working at once
    RotateSecret {
        #[arg(long)]
        client_id: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Create, list or revoke a team's API keys (the import API's `apiKey` header or `apikey` query parameter)
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create a key; prints its key id and the key once
    Create {
        /// The team's client id
        client_id: String,
        /// A name to tell the key by in `list` (at most 100 characters)
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        store: StoreArg,
    },
    /// List a team's keys (key id, created, name; never the key)
    List {
        /// The team's client id
        client_id: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Revoke a key; it is refused from then on
    Revoke {
        /// The team's client id
        client_id: String,
        /// The key id `create` and `list` print (key_...)
        key_id: String,
        #[command(flatten)]
        store: StoreArg,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// What is owed each jurisdiction for a period (as GET /import/v1/reports/taxes answers it)
    Taxes {
        /// First day of the period (YYYY-MM-DD)
        #[arg(long, value_parser = parse_date)]
        from: chrono::NaiveDate,
        /// Last day of the period, at most 366 days after the first
        #[arg(long, value_parser = parse_date)]
        to: chrono::NaiveDate,
        /// Only this jurisdiction
        #[arg(long)]
        state: Option<String>,
        /// CSV instead of JSON
        #[arg(long)]
        csv: bool,
        /// The team's client id
        #[arg(long, default_value = LOCAL_CLIENT_ID)]
        team: String,
        #[command(flatten)]
        store: StoreArg,
    },
}

#[derive(Subcommand)]
enum DynamoCommand {
    /// Create the table named by COVERDESK_TABLE with its two indexes (for DynamoDB Local); on a
    /// table made before the second index, add it
    CreateTable,
}

#[derive(Subcommand)]
enum TaxRulesCommand {
    /// Validate the data: periods contiguous, each sourced or marked unverified, rates in range
    Check,
    /// Print one jurisdiction's rules
    Show {
        /// Two-letter code: a state, DC, PR, GU or VI
        code: String,
        /// The policy effective date (default: today)
        #[arg(long, value_parser = parse_date)]
        date: Option<chrono::NaiveDate>,
        /// Every period of every charge, with its source
        #[arg(long)]
        history: bool,
    },
}

fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("{s:?} is not a date YYYY-MM-DD"))
}

fn data_dir() -> String {
    std::env::var("COVERDESK_DATA_DIR").unwrap_or_else(|_| ".coverdesk".into())
}

/// Whether a command uses the deployment key.
#[derive(Clone, Copy)]
enum KeyUse {
    Needed,
    NotNeeded,
}

/// The dependencies of a command; on DynamoDB the deployment key is read only by the commands
/// that use it (serving every route, seeding the example pulls and online access).
async fn deps_for(store: StoreArg, key: KeyUse) -> Result<Deps, String> {
    match store.store {
        StoreKind::Embedded => coverdesk_local::deps(data_dir()).map_err(|e| e.to_string()),
        StoreKind::Dynamodb => {
            // As the functions build theirs: one AWS configuration for every client.
            let aws = coverdesk_dynamo::config().await;
            let store = coverdesk_dynamo::from_env(&aws).await.map_err(|e| e.to_string())?;
            let objects = coverdesk_s3::from_env(&aws).map_err(|e| e.to_string())?;
            let mut deps = coverdesk_http::connect(Deps::lambda()).with_store(store).with_objects(objects);
            // No bucket notification reaches this process: it imports what it stores itself.
            deps.uploads = coverdesk::deps::Uploads::InProcess;
            Ok(match key {
                KeyUse::Needed => deps.with_keys(coverdesk_secrets::from_env(&aws).await.map_err(|e| e.to_string())?),
                KeyUse::NotNeeded => deps,
            })
        }
    }
}

async fn serve(port: u16, host: &str, store: StoreArg) -> Result<(), String> {
    let deps = deps_for(store, KeyUse::Needed).await?;
    coverdesk::examples::ensure_local_team(deps.store.as_ref()).await.map_err(|e| e.to_string())?;
    let addr: SocketAddr = format!("{host}:{port}").parse().map_err(|e| format!("bad --host/--port: {e}"))?;
    let listener = coverdesk_local::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!(
            "coverdesk: serving every route on http://{addr} (data in {}/); local team {LOCAL_CLIENT_ID}:{LOCAL_SECRET}; OpenAPI at /openapi.json",
            data_dir()
        );
    } else {
        // Logs that go to a collector: one JSON line, and no credential in it.
        tracing::info!(url = %format!("http://{addr}"), data = %data_dir(), "serving every route");
    }
    // Ctrl-C, or SIGTERM as a supervisor stops a service: both stop it the same way.
    tokio::select! {
        r = coverdesk_local::serve(listener, deps) => return r.map_err(|e| e.to_string()),
        _ = tokio::signal::ctrl_c() => {}
        _ = terminated() => {}
    }
    // No new request is taken; imports that requests started finish first, else their documents
    // stay with no record. A second Ctrl-C stops at once.
    let running = coverdesk::import::running();
    if running > 0 {
        tracing::info!(running, "stopping once the running imports end (Ctrl-C again to stop now)");
        tokio::select! {
            _ = coverdesk::import::all_ended() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    coverdesk::metrics::flush_local();
    Ok(())
}

/// Resolves when the process is asked to stop with SIGTERM (never where there is no such signal).
async fn terminated() {
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        term.recv().await;
        return;
    }
    std::future::pending::<()>().await
}

/// Uploads `file` as the team's batch and imports it as the S3 trigger would. Fails (exit 1) when
/// the team does not exist or the batch as a whole is rejected; refused transactions are in the
/// result file, as in AWS.
async fn import(file: PathBuf, team: String, store: StoreArg) -> Result<(), String> {
    let deps = deps_for(store, KeyUse::NotNeeded).await?;
    if team == LOCAL_CLIENT_ID {
        coverdesk::examples::ensure_local_team(deps.store.as_ref()).await.map_err(|e| e.to_string())?;
    }
    let team_id = auth::team_by_client_id(deps.store.as_ref(), &team)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no team with client id {team:?} (create one with `coverdesk team create`)"))?;
    let name = file
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' })
                .collect::<String>()
        })
        .unwrap_or_else(|| "batch.json".into());
    let key = format!("{}{}/{name}", coverdesk::import::upload::UPLOAD_PREFIX, team_id);
    // The batch is the file's: its name and content (as an S3 upload's is its key and ETag), so
    // running the command again on the same file resumes or answers that batch, never starts
    // another.
    let unreadable = |e: std::io::Error| format!("{}: {e}", file.display());
    let etag =
        coverdesk::import::upload::content_tag(std::fs::File::open(&file).map_err(unreadable)?).map_err(unreadable)?;
    let meta = coverdesk::objects::ObjectMeta { content_type: "application/json".into(), sha256: String::new() };
    deps.objects.put_file(&key, &file, &meta).await.map_err(|e| e.to_string())?;
    let bar =
        if std::io::stderr().is_terminal() { indicatif::ProgressBar::new(0) } else { indicatif::ProgressBar::hidden() };
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done.min(total) as u64);
    };
    let out = coverdesk::import::upload::import_object(&deps.imports(), "local", &key, &etag, &progress)
        .await
        .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    let result = match store.store {
        StoreKind::Embedded => std::path::Path::new(&data_dir())
            .join("objects")
            .join(&out.result_key)
            .canonicalize()
            .map(|p| p.display().to_string())
            .unwrap_or(out.result_key.clone()),
        StoreKind::Dynamodb => out.result_key.clone(),
    };
    println!("batch_id={}\nimported={}/{}\nresult={result}", out.batch_id, out.imported, out.total);
    if out.rejected {
        return Err(format!("the batch was rejected as a whole; see {result}"));
    }
    Ok(())
}

/// `coverdesk tax-rules check`: the data parses and passes every check; counts what it holds.
fn tax_rules_check() -> Result<(), String> {
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
    println!(
        "{} jurisdictions, {periods} periods ({unverified} unverified): no problem found",
        rules.jurisdictions.len()
    );
    Ok(())
}

/// `coverdesk team api-key ...`. The key is printed once, to the operator's terminal, and stored
/// only as its SHA-256; `list` never shows it.
async fn api_key(command: ApiKeyCommand) -> Result<(), String> {
    let (ApiKeyCommand::Create { client_id, store, .. }
    | ApiKeyCommand::List { client_id, store }
    | ApiKeyCommand::Revoke { client_id, store, .. }) = &command;
    let deps = deps_for(*store, KeyUse::NotNeeded).await?;
    let store = deps.store.as_ref();
    if client_id == LOCAL_CLIENT_ID {
        coverdesk::examples::ensure_local_team(store).await.map_err(|e| e.to_string())?;
    }
    match &command {
        ApiKeyCommand::Create { name, .. } => {
            let (listed, key) =
                auth::create_api_key(store, client_id, name.as_deref()).await.map_err(|e| e.to_string())?;
            println!("client_id={client_id}\nkey_id={}\napi_key={key}", listed.key_id);
        }
        ApiKeyCommand::List { .. } => {
            let keys = auth::list_api_keys(store, client_id).await.map_err(|e| e.to_string())?;
            println!("key_id\tcreated_at\tname");
            for k in keys {
                let created = k.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                println!("{}\t{created}\t{}", k.key_id, k.name.as_deref().unwrap_or(""));
            }
        }
        ApiKeyCommand::Revoke { key_id, .. } => {
            auth::revoke_api_key(store, client_id, key_id).await.map_err(|e| e.to_string())?;
            println!("client_id={client_id}\nrevoked={key_id}");
        }
    }
    Ok(())
}

/// `coverdesk report taxes`: the report the API answers, from the same code, printed.
async fn report(command: ReportCommand) -> Result<(), String> {
    let ReportCommand::Taxes { from, to, state, csv, team, store } = command;
    if to < from || (to - from).num_days() >= coverdesk::api::import::MAX_REPORT_DAYS {
        return Err("--to must be on or after --from, at most 366 days".into());
    }
    let state = match state {
        Some(s) => Some(coverdesk::types::StateCode::parse(&s).ok_or("--state must be a 2-letter state code")?),
        None => None,
    };
    let deps = deps_for(store, KeyUse::NotNeeded).await?;
    let team_id = auth::team_by_client_id(deps.store.as_ref(), &team)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no team with client id {team:?}"))?;
    let repo = coverdesk::import::repo::ImportRepo::new(deps.store.clone(), &team_id);
    let lines = repo.report_lines(from, to).await.map_err(|e| e.to_string())?;
    let report = coverdesk::import::report::TaxReport::of(from, to, state, &lines);
    if csv {
        print!("{}", report.csv());
    } else {
        println!("{}", serde_json::to_string_pretty(&report.view()).map_err(|e| e.to_string())?);
    }
    Ok(())
}

/// `coverdesk seed`: the local team and the example accounts, once.
async fn seed(store: StoreArg) -> Result<(), String> {
    let deps = deps_for(store, KeyUse::Needed).await?;
    let wrote = coverdesk::examples::seed(deps.store.as_ref()).await.map_err(|e| e.to_string())?;
    if wrote {
        eprintln!("coverdesk: wrote accounts pc:1 (Active, policy pc:7), pc:2 (Pending), pc:3 (Withdrawn) for team {LOCAL_CLIENT_ID}");
    } else {
        eprintln!("coverdesk: team {LOCAL_CLIENT_ID} already has accounts; nothing written");
    }
    Ok(())
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve { port, host, store } => serve(port, &host, store).await,
        Command::Team(TeamCommand::Create { name, client_id, store }) => {
            let deps = deps_for(store, KeyUse::NotNeeded).await?;
            let (team, secret) = auth::create_team(deps.store.as_ref(), &name, client_id.as_deref(), None, None)
                .await
                .map_err(|e| e.to_string())?;
            // The secret is printed once, to the operator's terminal, and stored only as a hash.
            println!("team_id={}\nclient_id={}\nclient_secret={secret}", team.team_id, team.client_id);
            Ok(())
        }
        Command::Team(TeamCommand::RotateSecret { client_id, store }) => {
            let deps = deps_for(store, KeyUse::NotNeeded).await?;
            let secret = auth::rotate_secret(deps.store.as_ref(), &client_id).await.map_err(|e| e.to_string())?;
            println!("client_id={client_id}\nclient_secret={secret}");
            Ok(())
        }
        Command::Team(TeamCommand::ApiKey(command)) => api_key(command).await,
        Command::Seed { store } => seed(store).await,
        Command::Accounts(AccountsCommand::Reindex { team, store }) => {
            let deps = deps_for(store, KeyUse::NotNeeded).await?;
            let id = auth::team_by_client_id(deps.store.as_ref(), &team)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no team with client id {team}"))?;
            let n = coverdesk::accounts::Accounts::new(deps.store.as_ref(), &id)
                .index_missing()
                .await
                .map_err(|e| e.to_string())?;
            println!("indexed={n}");
            Ok(())
        }
        Command::Import { file, team, store } => import(file, team, store).await,
        Command::Report(command) => report(command).await,
        Command::Dynamodb(DynamoCommand::CreateTable) => {
            let table = std::env::var(coverdesk::deps::TABLE_ENV).map_err(|_| "COVERDESK_TABLE is required")?;
            let store = Arc::new(DynamoStore::from_config(&coverdesk_dynamo::config().await, table));
            store.create_table().await.map_err(|e| e.to_string())
        }
        Command::TaxRules(TaxRulesCommand::Check) => tax_rules_check(),
        Command::TaxRules(TaxRulesCommand::Show { code, date, history }) => {
            let date = date.unwrap_or_else(|| chrono::Utc::now().date_naive());
            let code = code.to_ascii_uppercase();
            let text = coverdesk::import::rules::rules().describe(&code, date, history).ok_or_else(|| {
                format!(
                    "no department for {code:?} (status 1004): one of {}",
                    coverdesk::import::rules::JURISDICTIONS.join(" ")
                )
            })?;
            print!("{text}");
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    // Help, --version and usage errors print and exit here, before any store or runtime exists.
    let cli = Cli::parse();
    // Text with colours for a person at a terminal; one JSON object a line (no escapes) when the
    // logs go to a file or a collector, as the Lambda functions write them.
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        logs.init();
    } else {
        // One flat JSON object a line, the shape a function writes (README, "Log lines").
        coverdesk::metrics::set_local_json(true);
        logs.json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_target(false)
            .with_ansi(false)
            .init();
    }
    let command = cli.command.unwrap_or(Command::Serve {
        port: std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000),
        host: std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into()),
        store: StoreArg { store: StoreKind::Embedded },
    });
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("coverdesk: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(command));
    // Every task stopped (a kept-alive connection may have answered after the stop's own flush):
    // the request lines still pending are written.
    drop(runtime);
    coverdesk::metrics::flush_local();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coverdesk: {e}");
            ExitCode::FAILURE
        }
    }
}
