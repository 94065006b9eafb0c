//! Wiring for the Lambda binaries: configuration from the environment, SDK clients, adapters,
//! and the services over them. Each `functions/*/main.rs` calls into this and stays small.

use crate::dynamodb::DynamoEventStore;
use crate::eventbridge::EventBridgeBus;
use crate::iam::{HubAccessProvider, IamAccessProvider};
use crate::member::{MemberAccessProvider, MemberRole};
use crate::orgs::OrganizationsDirectory;
use crate::scheduler::{EventBridgeScheduler, SchedulerTargets};
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_types::sdk_config::{SharedCredentialsProvider, SharedTimeSource};
use std::sync::Arc;
use stint_app::accounts::{AccountDirectory, DEFAULT_ORG_TTL};
use stint_app::clock::SystemClock;
use stint_app::ports::{AccessProvider, Scheduler, Withheld};
use stint_app::{RetryPolicy, Stint};
use stint_domain::catalog_history::{CatalogSource, RecordCatalog, SourceKind};
use stint_domain::{Catalog, ProtectedResources};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("catalog: {0}")]
    Catalog(String),
    #[error("STINT_PROTECTED_RESOURCES: {0}")]
    Protected(#[from] stint_domain::ProtectedError),
    #[error("alert secret: {0}")]
    Secret(String),
    #[error("recording the catalog in the event store: {0}")]
    Record(String),
}

pub fn var(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing(name))
}

pub fn var_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The deployment's own resources, which no grant may reach: `STINT_PROTECTED_RESOURCES`, a
/// comma-separated list of ARNs the template builds from the real resources. Required: a
/// function without it would fall back on guessed names, so it refuses to start instead.
pub fn protected_resources() -> Result<ProtectedResources, ConfigError> {
    Ok(ProtectedResources::parse_list(&var(
        "STINT_PROTECTED_RESOURCES",
    )?)?)
}

/// A catalog as loaded: the validated catalog, its text, and where it came from.
pub struct LoadedCatalog {
    pub catalog: Catalog,
    pub text: String,
    pub source: CatalogSource,
}

/// The catalog from `STINT_CATALOG_FILE` (a path), or else from the SSM parameter named by
/// `STINT_CATALOG_PARAMETER`, so a deployment changes roles without a rebuild. It is checked
/// against the deployment's own resources (`STINT_PROTECTED_RESOURCES`).
pub async fn load_catalog(sdk: &SdkConfig) -> Result<Catalog, ConfigError> {
    Ok(load_catalog_source(sdk).await?.catalog)
}

/// As [`load_catalog`], with the text and its source: the parameter's version and when it
/// was put (SSM's `LastModifiedDate`), which order versions in the catalog history. A file
/// has neither: see `CatalogHistory`.
pub async fn load_catalog_source(sdk: &SdkConfig) -> Result<LoadedCatalog, ConfigError> {
    let protected = protected_resources()?;
    let (text, source) = if let Ok(path) = var("STINT_CATALOG_FILE") {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError::Catalog(format!("{path}: {e}")))?;
        let source = CatalogSource {
            kind: SourceKind::File,
            name: path,
            version: None,
            modified: None,
        };
        (text, source)
    } else {
        let name = var("STINT_CATALOG_PARAMETER")?;
        let out = aws_sdk_ssm::Client::new(sdk)
            .get_parameter()
            .name(&name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| ConfigError::Catalog(format!("SSM parameter {name}: {e:?}")))?;
        let parameter = out
            .parameter()
            .ok_or_else(|| ConfigError::Catalog(format!("SSM parameter {name} is empty")))?;
        let text = parameter
            .value()
            .map(str::to_owned)
            .ok_or_else(|| ConfigError::Catalog(format!("SSM parameter {name} is empty")))?;
        let modified = parameter
            .last_modified_date()
            .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()));
        let source = CatalogSource {
            kind: SourceKind::SsmParameter,
            name,
            version: Some(parameter.version()),
            modified,
        };
        (text, source)
    };
    let mut catalog = Catalog::from_toml_for(&text, &protected)
        .map_err(|e| ConfigError::Catalog(e.to_string()))?;
    // Notices link to the console's request page unless the catalog names another link.
    if catalog.notify.link.is_none() {
        if let Ok(url) = var("STINT_CONSOLE_URL") {
            if !url.trim().is_empty() {
                let url = url.trim().trim_end_matches('/');
                catalog.notify.link = Some(format!("{url}/console/requests/{{id}}"));
            }
        }
    }
    Ok(LoadedCatalog {
        catalog,
        text,
        source,
    })
}

/// The name this process records catalogs under: the Lambda function's name.
pub fn loader_name() -> String {
    var_or("AWS_LAMBDA_FUNCTION_NAME", "stint")
}

/// Appends the loaded catalog to the catalog history unless the history has it already. A
/// function that cannot record the catalog it loaded does not start: no decision is ever made
/// under a catalog the trail does not show, and Lambda retries the start.
pub async fn record_catalog(stint: &Stint, loaded: &LoadedCatalog) -> Result<bool, ConfigError> {
    let command = RecordCatalog::new(
        &loaded.text,
        &loaded.catalog,
        loaded.source.clone(),
        &loader_name(),
    );
    stint_app::catalog::record_catalog(
        stint.store.as_ref(),
        stint.clock.as_ref(),
        &stint.retry.conflicts,
        &command,
    )
    .await
    .map_err(|e| ConfigError::Record(e.to_string()))
}

/// The SDK configuration inside Lambda, from the variables Lambda sets: the region, the
/// function role's credentials, FIPS and dual-stack endpoints when asked, and
/// `AWS_ENDPOINT_URL` for an emulator. Unlike `aws_config`'s
/// loader it links no profile, SSO, IMDS or STS code, which a Lambda never needs.
/// Every client built from it shares one HTTPS client ([`https_client`]).
/// Retries are set on purpose: the SDK's standard mode (3 attempts, exponential backoff with
/// jitter) retries throttling and transient errors of every call; the services' own retry
/// (`RetryPolicy`) adds rounds only above that, and never for a refusal.
pub fn lambda_sdk_config() -> SdkConfig {
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(std::env::var("AWS_REGION").ok().map(Region::new))
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .http_client(https_client())
        .time_source(SharedTimeSource::default());
    config.set_sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep());
    // FIPS and dual-stack endpoints, as the SDK's own loader would honour them.
    let flag = |name: &str| std::env::var(name).is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    config = config
        .use_fips(flag("AWS_USE_FIPS_ENDPOINT"))
        .use_dual_stack(flag("AWS_USE_DUALSTACK_ENDPOINT"));
    if let Ok(url) = std::env::var("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(url);
    }
    config.build()
}

/// The SDK's own default HTTPS client, built as `aws-smithy-runtime` builds it (hyper 1, the
/// platform's root certificates, proxy settings from the environment, the connector settings
/// and sleep of each client), on rustls with ring instead of aws-lc: one crypto library in
/// the functions (about 0.3 MB less). What it gives up is aws-lc's post-quantum key exchange.
fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = aws_smithy_http_client::Connector::builder()
            .tls_provider(Provider::Rustls(CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// Structured logs, one JSON object a line, at the level Lambda's logging controls ask
/// (`AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`), filtered by target and level without a regex
/// engine. Also installs the metrics recorder, which writes Embedded Metric Format lines to the
/// same stdout (`emf`).
pub fn init_tracing() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let wanted = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_default();
    // Neither set: INFO. An empty string parses as one directive for the target "", which
    // enabled nothing, so a function run without Lambda's logging controls logged nothing.
    let filter = Some(wanted.trim().to_ascii_lowercase())
        .filter(|w| !w.is_empty())
        .and_then(|w| w.parse::<Targets>().ok())
        .filter(|t| t.iter().next().is_some() || t.default_level().is_some())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    // Always JSON: the template sets `LogFormat: JSON`, and one formatter links less than two.
    let fmt = tracing_subscriber::fmt::layer()
        .json()
        .with_target(false)
        .without_time();
    // A second subscriber (a test that already set one) is not an error worth failing on.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .try_init();
    // Every function calls this first: its metrics go to stdout beside its logs, as EMF.
    crate::emf::install();
}

pub use crate::sdk_config;

/// The services over DynamoDB, with the catalog they decide by recorded in the catalog history
/// first. `access`, `timers` and `org` give the IAM, Scheduler and Organizations ports: [`iam`]
/// (or [`hub_iam`]), [`scheduler`] and [`accounts`] in the functions whose role may call them,
/// [`withheld_access`], [`withheld_timers`] and [`no_accounts`] in the rest, so each binary
/// links only the clients its role lets it use.
pub async fn stint_from_env<A, T, O>(
    sdk: &SdkConfig,
    access: A,
    timers: T,
    org: O,
) -> Result<Stint, ConfigError>
where
    A: FnOnce(&SdkConfig) -> Arc<dyn AccessProvider>,
    T: FnOnce(&SdkConfig) -> Result<Arc<dyn Scheduler>, ConfigError>,
    O: FnOnce(&SdkConfig) -> Option<Arc<AccountDirectory>>,
{
    let loaded = load_catalog_source(sdk).await?;
    let stint = Stint {
        store: Arc::new(DynamoEventStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            var("STINT_TABLE")?,
        )),
        catalog: Arc::new(loaded.catalog.clone()),
        clock: Arc::new(SystemClock),
        access: access(sdk),
        timers: timers(sdk)?,
        retry: RetryPolicy::default(),
        accounts: org(sdk),
        identity_center: None,
    };
    record_catalog(&stint, &loaded).await?;
    Ok(stint)
}

/// Where the sweep keeps its cursor: the table `STINT_SWEEP_TABLE` names (the template sets it
/// for the revoke function). Unset, each sweep reads its whole look-back window.
pub fn sweep_memory(sdk: &SdkConfig) -> Option<crate::sweep_memory::DynamoSweepMemory> {
    let table = var("STINT_SWEEP_TABLE").ok()?;
    Some(crate::sweep_memory::DynamoSweepMemory::new(
        aws_sdk_dynamodb::Client::new(sdk),
        table,
    ))
}

/// IAM, for the functions that put and delete policies (grant, revoke): in the hub's own
/// account directly, and in member accounts through their member role when
/// `STINT_MEMBER_ROLE_NAME` and `STINT_HUB_ACCOUNT` are set (the template sets both).
pub fn iam(sdk: &SdkConfig) -> Arc<dyn AccessProvider> {
    match (var("STINT_MEMBER_ROLE_NAME"), var("STINT_HUB_ACCOUNT")) {
        (Ok(name), Ok(hub_account)) => {
            let member = MemberRole {
                hub_account,
                name,
                external_id: var("STINT_MEMBER_EXTERNAL_ID").ok(),
            };
            Arc::new(MemberAccessProvider::new(
                sdk,
                member,
                Arc::new(SystemClock),
            ))
        }
        _ => Arc::new(IamAccessProvider::new(aws_sdk_iam::Client::new(sdk))),
    }
}

/// IAM in the hub's account only, refusing principals elsewhere without a call: for a function
/// that deletes policies but may not assume member roles (interactions). No STS client.
pub fn hub_iam(sdk: &SdkConfig) -> Arc<dyn AccessProvider> {
    Arc::new(HubAccessProvider::new(
        aws_sdk_iam::Client::new(sdk),
        var("STINT_HUB_ACCOUNT").ok(),
    ))
}

/// The accounts roles name, resolved through Organizations and cached for
/// `STINT_ORG_CACHE_SECONDS` (300 unless set). Only roles with `accounts` ever call it; the
/// functions that submit or grant (request, alerts, grant, and revoke's sweep) take it.
pub fn accounts(sdk: &SdkConfig) -> Option<Arc<AccountDirectory>> {
    let ttl = var("STINT_ORG_CACHE_SECONDS")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .map(chrono::TimeDelta::seconds)
        .unwrap_or(DEFAULT_ORG_TTL);
    Some(Arc::new(AccountDirectory::new(
        Arc::new(OrganizationsDirectory::new(
            aws_sdk_organizations::Client::new(sdk),
        )),
        Arc::new(SystemClock),
        ttl,
    )))
}

/// No Organizations, for the functions that never submit or grant (approve, interactions):
/// their role has no Organizations rights, and a role that names accounts is refused there.
pub fn no_accounts(_: &SdkConfig) -> Option<Arc<AccountDirectory>> {
    None
}

/// EventBridge Scheduler, with the timers' targets from the environment.
pub fn scheduler(sdk: &SdkConfig) -> Result<Arc<dyn Scheduler>, ConfigError> {
    let targets = SchedulerTargets {
        group: var_or("STINT_SCHEDULE_GROUP", "stint"),
        role_arn: var("STINT_SCHEDULER_ROLE_ARN")?,
        start_arn: var("STINT_GRANT_FUNCTION_ARN")?,
        expiry_arn: var("STINT_REVOKE_FUNCTION_ARN")?,
        // Optional so a deployment without the notify function still grants and revokes.
        remind_arn: std::env::var("STINT_NOTIFY_FUNCTION_ARN")
            .ok()
            .filter(|v| !v.is_empty()),
    };
    Ok(Arc::new(EventBridgeScheduler::new(
        aws_sdk_scheduler::Client::new(sdk),
        targets,
    )))
}

/// No IAM: every call is refused, as the function's role would.
pub fn withheld_access(_: &SdkConfig) -> Arc<dyn AccessProvider> {
    Arc::new(Withheld { what: "IAM" })
}

/// No Scheduler: every call is refused, as the function's role would.
pub fn withheld_timers(_: &SdkConfig) -> Result<Arc<dyn Scheduler>, ConfigError> {
    Ok(Arc::new(Withheld {
        what: "EventBridge Scheduler",
    }))
}

/// The alert webhook secret: `STINT_ALERT_SECRET` itself, or the SSM parameter named by
/// `STINT_ALERT_SECRET_PARAMETER` (SecureString). A Secrets Manager secret is read through SSM
/// as `/aws/reference/secretsmanager/<secret id>`. Neither set: no alert webhooks.
pub async fn alert_secrets(sdk: &SdkConfig) -> Result<Vec<Vec<u8>>, ConfigError> {
    if let Ok(secret) = var("STINT_ALERT_SECRET") {
        return Ok(vec![secret.into_bytes()]);
    }
    let Ok(name) = var("STINT_ALERT_SECRET_PARAMETER") else {
        return Ok(vec![]);
    };
    let out = aws_sdk_ssm::Client::new(sdk)
        .get_parameter()
        .name(&name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| ConfigError::Secret(format!("SSM parameter {name}: {e:?}")))?;
    let value = out
        .parameter()
        .and_then(|p| p.value())
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ConfigError::Secret(format!("SSM parameter {name} is empty")))?;
    Ok(vec![value.trim().as_bytes().to_vec()])
}

/// The console's secret (CSRF tokens, the sign-in cookie): `STINT_CONSOLE_SECRET`, or the SSM
/// SecureString named by `STINT_CONSOLE_SECRET_PARAMETER`; none when there is no console
/// (`STINT_CONSOLE_URL` unset) or it cannot be read, which is logged: the console then stays
/// off, and the function's own work goes on.
pub async fn console_secret(sdk: &SdkConfig) -> Option<Vec<u8>> {
    var("STINT_CONSOLE_URL").ok()?;
    match secret_from_env_or_ssm(sdk, "STINT_CONSOLE_SECRET").await {
        Ok(secret) => secret.map(String::into_bytes),
        Err(e) => {
            tracing::error!(error = %e, "the console's secret cannot be read");
            None
        }
    }
}

/// The Slack app's signing secret (`STINT_SLACK_SIGNING_SECRET`, or the SSM SecureString
/// named by `STINT_SLACK_SIGNING_SECRET_PARAMETER`); None: `POST /slack/interactions` answers 401.
pub async fn slack_signing_secret(sdk: &SdkConfig) -> Result<Option<String>, ConfigError> {
    secret_from_env_or_ssm(sdk, "STINT_SLACK_SIGNING_SECRET").await
}

/// The Slack bot token (`STINT_SLACK_BOT_TOKEN`, or the SSM SecureString named by
/// `STINT_SLACK_BOT_TOKEN_PARAMETER`); None: Slack through incoming webhooks only.
pub async fn slack_bot_token(sdk: &SdkConfig) -> Result<Option<String>, ConfigError> {
    secret_from_env_or_ssm(sdk, "STINT_SLACK_BOT_TOKEN").await
}

/// A secret from the variable `name` itself, or from the SSM SecureString named by
/// `<name>_PARAMETER`, as [`alert_secrets`] reads its own. Neither set (or empty), or no such
/// parameter: None.
async fn secret_from_env_or_ssm(
    sdk: &SdkConfig,
    name: &str,
) -> Result<Option<String>, ConfigError> {
    if let Ok(secret) = std::env::var(name) {
        if !secret.trim().is_empty() {
            return Ok(Some(secret.trim().to_owned()));
        }
    }
    let Some(parameter) = std::env::var(format!("{name}_PARAMETER"))
        .ok()
        .filter(|p| !p.trim().is_empty())
    else {
        return Ok(None);
    };
    let got = aws_sdk_ssm::Client::new(sdk)
        .get_parameter()
        .name(&parameter)
        .with_decryption(true)
        .send()
        .await;
    let out = match got {
        Ok(out) => out,
        // The template names the parameters whether or not Slack or the console is set up: an
        // absent one means that part is off, not a broken deployment.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_parameter_not_found()) =>
        {
            tracing::info!(parameter, "no such SSM parameter: that part is not set up");
            return Ok(None);
        }
        Err(e) => {
            return Err(ConfigError::Secret(format!(
                "SSM parameter {parameter}: {e:?}"
            )))
        }
    };
    let value = out
        .parameter()
        .and_then(|p| p.value())
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ConfigError::Secret(format!("SSM parameter {parameter} is empty")))?;
    Ok(Some(value.trim().to_owned()))
}

/// The bus the relay publishes to.
pub fn bus_from_env(sdk: &SdkConfig) -> Result<EventBridgeBus, ConfigError> {
    Ok(EventBridgeBus::new(
        aws_sdk_eventbridge::Client::new(sdk),
        var_or("STINT_BUS", "stint"),
    ))
}

/// Who gets the scheduled report, and where its copy goes.
pub struct ReportConfig {
    pub recipients: stint_app::report::Recipients,
    pub bucket: String,
    /// The KMS key (ECC_NIST_P256, SIGN_VERIFY) that signs checkpoints.
    pub checkpoint_key: String,
    /// How many whole days a scheduled run covers (7 by default: weekly). The review deadline
    /// comes from the catalog history at each run (`recorded_review_window`).
    pub days: u32,
}

/// The report's configuration: recipients, bucket and key from the environment.
pub fn report_config_from_env() -> Result<ReportConfig, ConfigError> {
    let auditors: Vec<String> = var("STINT_REPORT_RECIPIENTS")?
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    Ok(ReportConfig {
        recipients: stint_app::report::Recipients {
            sender: var("STINT_REPORT_SENDER")?,
            auditors,
        },
        bucket: var("STINT_REPORT_BUCKET")?,
        checkpoint_key: var("STINT_CHECKPOINT_KEY_ID")?,
        days: var_or("STINT_REPORT_DAYS", "7")
            .parse()
            .map_err(|_| ConfigError::Missing("STINT_REPORT_DAYS (a whole number)"))?,
    })
}

/// The notifier: Slack webhooks from the catalog (or, with `slack_bot`, Slack's Web API and its
/// buttons), email through SES v2 when the catalog names a sender.
pub async fn notifier_from_env(
    sdk: &SdkConfig,
    chat: Arc<dyn stint_app::ports::Chat>,
    slack_bot: Option<Arc<dyn stint_app::ports::SlackApi>>,
) -> Result<stint_app::notify::Notifier, ConfigError> {
    let catalog = load_catalog(sdk).await?;
    let mailer: Option<Arc<dyn stint_app::ports::Mailer>> =
        catalog
            .notify
            .email_from
            .as_ref()
            .map(|_| -> Arc<dyn stint_app::ports::Mailer> {
                Arc::new(crate::ses::SesMailer::new(aws_sdk_sesv2::Client::new(sdk)))
            });
    Ok(stint_app::notify::Notifier {
        store: Arc::new(DynamoEventStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            var("STINT_TABLE")?,
        )),
        catalog: Arc::new(catalog),
        clock: Arc::new(SystemClock),
        chat,
        mailer,
        slack_bot,
        retry: RetryPolicy::default(),
    })
}

/// The checkpoints' KMS key named by `STINT_CHECKPOINT_KEY_ID`, for publishing its public half
/// (`GET /checkpoints/key`); the public key is fetched when first asked for, then kept.
pub fn checkpoint_key_from_env(
    sdk: &SdkConfig,
) -> Option<Arc<dyn stint_app::ports::CheckpointKey>> {
    let id = std::env::var("STINT_CHECKPOINT_KEY_ID")
        .ok()
        .filter(|s| !s.is_empty())?;
    Some(Arc::new(crate::kms::CachedKey::new(
        crate::kms::KmsSigner::new(aws_sdk_kms::Client::new(sdk), id),
    )))
}
