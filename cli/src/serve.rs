//! `stint serve`: the same HTTP API and services as the Lambdas, in one process, over the
//! embedded store in `--data`, with their metrics at `GET /metrics`. Also `stint verify`, which
//! reads that store directly.

use crate::Failure;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use stint_app::clock::{ManualClock, SystemClock};
use stint_app::ports::{Clock, EventStore};
use stint_aws::iam::IamAccessProvider;
use stint_domain::catalog_history::{CatalogSource, RecordCatalog, SourceKind};
use stint_domain::{AccessDuration, Catalog, ProtectedResources};
use stint_http::claims::ClaimRules;
use stint_http::console::{Console, ConsoleConfig};
use stint_http::error::ApiError;
use stint_http::jwt::LocalJwt;
use stint_http::{router, Api, Authenticator};
use stint_local::broker::{LocalBroker, Provider};
use stint_local::checkpoints::{CheckpointFolder, KeyFileSigner};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Folder for the event store and the token key.
    #[arg(long, default_value = ".stint")]
    data: PathBuf,
    /// The catalog of roles.
    #[arg(long, default_value = "infra/catalog.example.toml")]
    catalog: PathBuf,
    /// Address to listen on; port 0 picks a free one (the address is printed).
    #[arg(long, default_value = "127.0.0.1:8787")]
    bind: String,
    /// `record` writes the policies it would put into the store and the log; `aws` applies them
    /// with IAM through the SDK (honouring AWS_ENDPOINT_URL). Default: aws when AWS
    /// configuration is present, else record.
    #[arg(long, value_parser = ["record", "aws"])]
    provider: Option<String>,
    /// Run on a manual clock starting at this instant (RFC 3339), moved by `POST /_clock`.
    /// For tests and demos: time passes without waiting.
    #[arg(long, value_parser = crate::rfc3339)]
    manual_clock: Option<DateTime<Utc>>,
    /// The broker's safety-net pass, in milliseconds: it sweeps on schedule and fires timers
    /// on a manual clock. Appended events and timers on the system clock wake it at once.
    #[arg(long, default_value_t = 250)]
    tick_ms: u64,
    /// The URL browsers reach this server at: the OIDC issuer, the console's callback and the
    /// links in notices. Default: http://<the bound address>.
    #[arg(long)]
    public_url: Option<String>,
    /// Serve the local sign-in (OIDC provider and console) even though it would vouch for
    /// whoever connects: needed when binding beyond loopback or with `--provider aws`, where it
    /// is off by default.
    #[arg(long)]
    local_idp: bool,
    /// Minutes between signed checkpoints (by the broker's clock); one is also written at
    /// start and at a clean stop when anything moved.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=1440))]
    checkpoint_minutes: u32,
}

fn aws_configured() -> bool {
    [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ]
    .iter()
    .any(|v| std::env::var(v).is_ok_and(|x| !x.is_empty()))
}

pub fn run(args: ServeArgs) -> Result<(), Failure> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::trouble(e.to_string()))?;
    rt.block_on(serve(args))
}

#[derive(Clone)]
struct ClockControl(Arc<ManualClock>);

async fn move_clock(
    State(c): State<ClockControl>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, (axum::http::StatusCode, Json<Value>)> {
    let bad = |m: String| {
        (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_input", "message": m })),
        )
    };
    if let Some(a) = body["advance"].as_str() {
        let d = AccessDuration::parse(a).map_err(|e| bad(e.to_string()))?;
        c.0.advance(d.to_chrono());
    } else if let Some(t) = body["set"].as_str() {
        let t = DateTime::parse_from_rfc3339(t).map_err(|e| bad(e.to_string()))?;
        c.0.set(t.with_timezone(&Utc));
    } else {
        return Err(bad(
            "give {\"advance\": \"1h\"} or {\"set\": \"<RFC 3339>\"}".into(),
        ));
    }
    Ok(Json(json!({ "now": c.0.now() })))
}

/// The Slack app from the environment: `STINT_SLACK_SIGNING_SECRET` (none: `POST
/// /slack/interactions` answers 401) and `STINT_SLACK_BOT_TOKEN` (none: Slack through the
/// catalog's webhooks only), at `STINT_SLACK_API_URL` (default Slack's own).
fn slack_from_env() -> (Option<Vec<u8>>, Option<Arc<dyn stint_app::ports::SlackApi>>) {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let secret = var("STINT_SLACK_SIGNING_SECRET").map(String::into_bytes);
    let bot = var("STINT_SLACK_BOT_TOKEN").map(|t| stint_slack::bot_from_env(&t));
    (secret, bot)
}

async fn serve(args: ServeArgs) -> Result<(), Failure> {
    // Before anything runs, so the first lifecycle is counted too.
    let prometheus = install_prometheus()?;
    let text = std::fs::read_to_string(&args.catalog)
        .map_err(|e| Failure::usage(format!("--catalog {}: {e}", args.catalog.display())))?;
    // Against real AWS (`--provider aws`) a deployment's own resources may be named as in the
    // template; otherwise the local defaults stand in for them.
    let protected = match std::env::var("STINT_PROTECTED_RESOURCES") {
        Ok(list) if !list.trim().is_empty() => ProtectedResources::parse_list(&list)
            .map_err(|e| Failure::usage(format!("STINT_PROTECTED_RESOURCES: {e}")))?,
        _ => ProtectedResources::local_defaults(),
    };
    let mut catalog = Catalog::from_toml_for(&text, &protected)
        .map_err(|e| Failure::usage(format!("{}: {e}", args.catalog.display())))?;
    let listener = tokio::net::TcpListener::bind(&args.bind)
        .await
        .map_err(|e| Failure::trouble(format!("--bind {}: {e}", args.bind)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::trouble(e.to_string()))?;
    let public = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_owned();
    // Notices link to the console's page for the request unless the catalog says otherwise.
    if catalog.notify.link.is_none() {
        catalog.notify.link = Some(format!("{public}/console/requests/{{id}}"));
    }
    let manual = args.manual_clock.map(|t| Arc::new(ManualClock::new(t)));
    let clock: Arc<dyn Clock> = match &manual {
        Some(m) => m.clone(),
        None => Arc::new(SystemClock),
    };
    let use_aws = match args.provider.as_deref() {
        Some("aws") => true,
        Some(_) => false,
        None => aws_configured(),
    };
    let provider = if use_aws {
        let sdk = stint_aws::sdk_config().await;
        Provider::Aws(Arc::new(IamAccessProvider::new(aws_sdk_iam::Client::new(
            &sdk,
        ))))
    } else {
        Provider::Record
    };
    // Recorded before anything is decided with it: the catalog history holds every version
    // this store's decisions were made under.
    let record = RecordCatalog::new(&text, &catalog, catalog_source(&args.catalog), "serve");
    let mut broker = LocalBroker::open(&args.data, catalog, clock.clone(), provider)
        .map_err(|e| Failure::trouble(format!("{}: {e}", args.data.display())))?;
    let slack = slack_from_env();
    broker.notifier.slack_bot = slack.1.clone();
    let s = &broker.stint;
    stint_app::catalog::record_catalog(
        s.store.as_ref(),
        s.clock.as_ref(),
        &s.retry.conflicts,
        &record,
    )
    .await
    .map_err(|e| Failure::trouble(format!("recording the catalog: {e}")))?;
    broker
        .resume()
        .await
        .map_err(|e| Failure::trouble(format!("resuming from the store: {e}")))?;
    let jwt = LocalJwt::load_or_create(&args.data)
        .map_err(|e| Failure::trouble(format!("{}: {e}", args.data.display())))?
        .with_rules(ClaimRules::from_env())
        .with_issuer(&public);
    let jwt = Arc::new(jwt);
    let console = Console::new(
        ConsoleConfig {
            authorize_endpoint: format!("{public}/oidc/authorize"),
            token_endpoint: format!("{public}/oidc/token"),
            client_id: stint_http::jwt::AUDIENCE.to_owned(),
            redirect_uri: format!("{public}{}", stint_http::idp::CONSOLE_CALLBACK),
            secure_cookies: public.starts_with("https://"),
        },
        jwt.clone(),
        console_secret()?,
    );
    // Alert webhooks are signed with STINT_ALERT_SECRET; without it `POST /alerts` answers 401.
    let alert_secrets = std::env::var("STINT_ALERT_SECRET")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .map(|s| vec![s.into_bytes()])
        .unwrap_or_default();
    let signer = Arc::new(
        KeyFileSigner::open_or_create(&args.data)
            .map_err(|e| Failure::trouble(format!("{}: {e}", args.data.display())))?,
    );
    // The local provider signs in whoever is named on its page: only where that is only the
    // person at this machine trying Stint, unless asked for.
    let idp = args.local_idp || (addr.ip().is_loopback() && !use_aws);
    let mut api = Api::new(broker.stint.clone(), jwt.clone())
        .with_checkpoint_key(signer.clone())
        .with_pipeline_auth(jwt.clone())
        .with_alert_secrets(alert_secrets)
        .with_slack(stint_http::slack::SlackApp::new(slack.0, slack.1));
    if idp {
        api = api.with_console(console);
    } else {
        eprintln!(
            "stint: the console and its local sign-in are off ({}): they would vouch for whoever \
             connects; --local-idp serves them anyway. `stint token` still works.",
            if use_aws {
                "--provider aws"
            } else {
                "not bound to loopback"
            }
        );
    }
    let metrics_state = MetricsState {
        prometheus: prometheus.clone(),
        auth: jwt.clone(),
        catalog: broker.stint.catalog.clone(),
    };
    let mut app = router(api).merge(
        Router::new()
            .route("/metrics", get(metrics_text))
            .with_state(metrics_state),
    );
    if idp {
        // Tokens are checked against the system's time, whatever clock the broker runs on.
        app = app.merge(stint_http::idp::router(stint_http::idp::Provider::new(
            jwt,
            Arc::new(SystemClock),
        )));
    }
    if let Some(m) = &manual {
        app = app.merge(
            Router::new()
                .route("/_clock", post(move_clock))
                .with_state(ClockControl(m.clone())),
        );
    }
    println!(
        "stint: listening on http://{addr} (provider {}, data {}); console at {public}/console",
        if use_aws { "aws" } else { "record" },
        args.data.display()
    );
    tracing::info!(%addr, aws = use_aws, "serving");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut broker_stop = stop_rx.clone();
    let tick = std::time::Duration::from_millis(args.tick_ms.max(10));
    let store = broker.stint.store.clone();
    let broker_task = tokio::spawn(broker.run(tick, async move {
        let _ = broker_stop.wait_for(|s| *s).await;
    }));
    let upkeep = tokio::spawn(prometheus_upkeep(prometheus, stop_rx.clone()));
    let anchors = tokio::spawn(checkpoints(
        store,
        signer,
        CheckpointFolder::new(&args.data),
        clock.clone(),
        chrono::TimeDelta::minutes(i64::from(args.checkpoint_minutes)),
        tick,
        stop_rx.clone(),
    ));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| Failure::trouble(e.to_string()))?;
    let _ = stop_tx.send(true);
    let _ = broker_task.await;
    let _ = anchors.await;
    let _ = upkeep.await;
    Ok(())
}

/// Buckets of the duration figures, in seconds: from a local grant's milliseconds to a day's
/// wait for an approver.
const SECONDS_BUCKETS: [f64; 20] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    1800.0, 3600.0, 14400.0, 86400.0,
];

/// The Prometheus recorder for this process: the services' figures, under the same names as
/// the functions' EMF, with the durations as histograms (they add up across scrapes and
/// instances, where summaries would not).
fn install_prometheus() -> Result<PrometheusHandle, Failure> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| Failure::trouble(format!("metrics recorder: {e}")))?;
    stint_app::telemetry::describe();
    Ok(handle)
}

/// Drains the histograms' recent values into their buckets now and then, so memory stays flat
/// between scrapes.
async fn prometheus_upkeep(handle: PrometheusHandle, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        handle.run_upkeep();
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

#[derive(Clone)]
struct MetricsState {
    prometheus: PrometheusHandle,
    auth: Arc<LocalJwt>,
    catalog: Arc<Catalog>,
}

/// `GET /metrics`: Prometheus text. The labels name roles, and the counts tell how often each is
/// used, so only the auditor and admin groups may read it, as they may read reports; a scraper
/// sends a bearer token of such a member (`stint token`).
async fn metrics_text(
    State(m): State<MetricsState>,
    parts: axum::http::request::Parts,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let who = m
        .auth
        .identify(&parts)
        .map_err(|e| ApiError::Unauthenticated(e.0))?;
    if !m.catalog.is_auditor(&who) {
        return Err(ApiError::Forbidden(
            "metrics name roles and how often they are used: they are for the auditor and admin \
             groups"
                .into(),
        ));
    }
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        m.prometheus.render(),
    )
        .into_response())
}

/// The key of the console's CSRF tokens and sign-in cookie: new at each start, so a page
/// left open across a restart must be reloaded before its forms work.
fn console_secret() -> Result<Vec<u8>, Failure> {
    let mut b = vec![0u8; 32];
    getrandom::fill(&mut b).map_err(|e| Failure::trouble(format!("no randomness: {e}")))?;
    Ok(b)
}

/// Writes a signed checkpoint at start, every `every` by the broker's clock, and at a clean
/// stop, each only if a stream moved. A failure is logged and tried again next time.
async fn checkpoints(
    store: Arc<dyn EventStore>,
    signer: Arc<KeyFileSigner>,
    folder: CheckpointFolder,
    clock: Arc<dyn Clock>,
    every: chrono::TimeDelta,
    tick: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let anchor = stint_app::checkpoint::Anchor {
        archive: &folder,
        signer: signer.as_ref(),
    };
    let mut due = clock.now();
    loop {
        let stopping = *stop.borrow();
        if stopping || clock.now() >= due {
            if let Err(e) = stint_app::checkpoint::write(
                store.as_ref(),
                anchor,
                clock.now(),
                stint_app::checkpoint::Scope::Everything,
                false,
            )
            .await
            {
                tracing::error!(error = %e, "checkpoint failed");
            }
            due = clock.now() + every;
        }
        if stopping {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stop.changed() => {}
        }
    }
}

/// A catalog file as the history names it: its absolute path. A file has no version, and
/// `stint serve` is the one process that loads it, so any text that is not the current one
/// is recorded.
fn catalog_source(path: &Path) -> CatalogSource {
    CatalogSource {
        kind: SourceKind::File,
        name: std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string(),
        version: None,
        modified: None,
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
