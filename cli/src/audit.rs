//! `stint verify` (the whole store against the signed checkpoints) and `stint checkpoint`,
//! over the local data folder or a deployment's table, bucket and KMS key.

use crate::Failure;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use stint_app::checkpoint::{self, Anchor};
use stint_app::ports::{CheckpointArchive, CheckpointKey, CheckpointSigner, EventStore};
use stint_app::verify::verify_period;
use stint_aws::dynamodb::DynamoEventStore;
use stint_aws::kms::KmsSigner;
use stint_aws::s3::S3Checkpoints;
use stint_domain::checkpoint::PublicKey;
use stint_local::checkpoints::{self as local, CheckpointFolder, KeyFileSigner};
use stint_local::sqlite::SqliteEventStore;

/// Where the store, its checkpoints and their key are.
#[derive(clap::Args, Clone)]
pub struct Target {
    /// The local data folder (store, checkpoint key, checkpoints).
    #[arg(long, default_value = ".stint")]
    pub data: PathBuf,
    /// A deployment's DynamoDB event table instead (AWS configuration from the environment;
    /// AWS_ENDPOINT_URL is honoured).
    #[arg(long)]
    pub table: Option<String>,
    /// With --table: the archive bucket that holds the checkpoints.
    #[arg(long, requires = "table")]
    pub bucket: Option<String>,
    /// With --table: the KMS key (id or ARN) that signs the checkpoints.
    #[arg(long, requires = "table")]
    pub key_id: Option<String>,
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::trouble(e.to_string()))
}

struct Opened {
    store: Box<dyn EventStore>,
    archive: Option<Box<dyn CheckpointArchive>>,
    kms: Option<KmsSigner>,
}

async fn open(t: &Target) -> Result<Opened, Failure> {
    match &t.table {
        Some(table) => {
            let sdk = stint_aws::sdk_config().await;
            Ok(Opened {
                store: Box::new(DynamoEventStore::new(
                    aws_sdk_dynamodb::Client::new(&sdk),
                    table,
                )),
                archive: t.bucket.as_ref().map(|b| -> Box<dyn CheckpointArchive> {
                    Box::new(S3Checkpoints::new(aws_sdk_s3::Client::new(&sdk), b))
                }),
                kms: t
                    .key_id
                    .as_ref()
                    .map(|k| KmsSigner::new(aws_sdk_kms::Client::new(&sdk), k)),
            })
        }
        None => {
            let path = t.data.join("events.db");
            if !path.exists() {
                return Err(Failure::usage(format!("no store at {}", path.display())));
            }
            Ok(Opened {
                store: Box::new(
                    SqliteEventStore::open(&path).map_err(|e| Failure::trouble(e.to_string()))?,
                ),
                archive: Some(Box::new(CheckpointFolder::new(&t.data))),
                kms: None,
            })
        }
    }
}

/// `stint checkpoint`: writes the next signed checkpoint if any stream moved.
pub fn checkpoint(t: &Target, as_json: bool) -> Result<(), Failure> {
    runtime()?.block_on(async {
        let o = open(t).await?;
        let local_signer;
        let signer: &dyn CheckpointSigner = match (&o.kms, &t.table) {
            (Some(k), _) => k,
            (None, None) => {
                local_signer = KeyFileSigner::open_or_create(&t.data)
                    .map_err(|e| Failure::trouble(e.to_string()))?;
                &local_signer
            }
            (None, Some(_)) => return Err(Failure::usage("--table needs --bucket and --key-id")),
        };
        let archive = o
            .archive
            .as_deref()
            .ok_or_else(|| Failure::usage("--table needs --bucket and --key-id"))?;
        let cp = checkpoint::write(
            o.store.as_ref(),
            Anchor { archive, signer },
            Utc::now(),
            // Run by hand, rarely: look at everything, so no late event is left out.
            checkpoint::Scope::Everything,
            false,
        )
            .await
            .map_err(|e| Failure::trouble(e.to_string()))?;
        match (&cp, as_json) {
            (_, true) => println!(
                "{}",
                serde_json::json!({ "checkpoint": cp.as_ref().map(|c| c.seq), "heads": cp.as_ref().map_or(0, |c| c.heads.len()) })
            ),
            (Some(c), false) => println!("checkpoint {} written: {} head(s) moved", c.seq, c.heads.len()),
            (None, false) => println!("nothing moved since the last checkpoint"),
        }
        Ok(())
    })
}

/// `stint verify`: audits every event of the store and every checkpoint; exit code 4 with
/// each finding named when anything is wrong.
pub fn verify(
    t: &Target,
    public_key: Option<&Path>,
    period: Option<(DateTime<Utc>, DateTime<Utc>)>,
    as_json: bool,
) -> Result<(), Failure> {
    runtime()?.block_on(async {
        let o = open(t).await?;
        // A trusted copy of the key wins; then KMS; then the data folder's own public key.
        let key: Option<PublicKey> = match (public_key, &o.kms, &t.table) {
            (Some(p), _, _) => {
                let pem = std::fs::read_to_string(p)
                    .map_err(|e| Failure::usage(format!("--public-key {}: {e}", p.display())))?;
                Some(PublicKey::from_pem(&pem).map_err(|e| Failure::usage(format!("--public-key: {e}")))?)
            }
            (None, Some(k), _) => Some(k.public_key().await.map_err(|e| Failure::trouble(e.to_string()))?),
            (None, None, None) => local::public_key(&t.data).ok(),
            (None, None, Some(_)) => None,
        };
        let checkpoints = match &o.archive {
            Some(a) => a.list().await.map_err(|e| Failure::trouble(e.to_string()))?,
            None => vec![],
        };
        let progress = crate::progress::Progress::start(
            as_json,
            &format!("auditing every event against {} checkpoint(s)", checkpoints.len()),
        );
        let report = checkpoint::audit_with(o.store.as_ref(), &checkpoints, key.as_ref())
            .await
            .map_err(|e| Failure::trouble(e.to_string()))?;
        drop(progress);
        let digest = match period {
            Some((from, to)) => Some(
                verify_period(o.store.as_ref(), from, to)
                    .await
                    .map_err(|e| Failure::trouble(e.to_string()))?,
            ),
            None => None,
        };
        if as_json {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "verified": report.verified(),
                    "audit": report,
                    "period": digest,
                }))
                .unwrap_or_default()
            );
        } else {
            println!("{} streams, {} events", report.streams, report.events);
            match (report.last_checkpoint, report.last_checkpoint_at) {
                (Some(n), Some(at)) => println!(
                    "{} checkpoint(s), the last ({n}) at {}; {} event(s) since",
                    report.checkpoints,
                    at.to_rfc3339(),
                    report.events_after_last_checkpoint
                ),
                _ if checkpoints.is_empty() => println!(
                    "no checkpoints{}: deleted tails, deleted streams and consistent rewrites cannot be seen until one is written (`stint checkpoint`)",
                    if t.table.is_some() && t.bucket.is_none() { " (give --bucket and --key-id)" } else { "" }
                ),
                _ => println!("{} checkpoint(s), none verified", report.checkpoints),
            }
            if let Some(d) = &digest {
                println!("period digest {} over {} events", d.period_digest, d.events_in_period);
            }
            for f in &report.findings {
                println!("BROKEN {f}");
            }
            if report.verified() {
                println!("verified");
            }
        }
        match report.findings.first() {
            None => Ok(()),
            Some(first) => Err(Failure {
                code: 4,
                message: format!("{} finding(s); first: {first}", report.findings.len()),
            }),
        }
    })
}
