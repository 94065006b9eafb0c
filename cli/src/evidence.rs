//! `stint evidence`: a period's evidence pack from the local store or a deployment; and
//! `stint verify --evidence`: a pack checked offline, against a trusted key when given.

use crate::Failure;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use stint_app::checkpoint::{self, Anchor};
use stint_app::evidence::{archive_key, build_pack, verify_pack, Pack, PackVerification};
use stint_app::ports::{CheckpointArchive, CheckpointKey, CheckpointSigner, EventStore};
use stint_aws::dynamodb::DynamoEventStore;
use stint_aws::kms::KmsSigner;
use stint_aws::s3::S3Checkpoints;
use stint_domain::checkpoint::PublicKey;
use stint_local::checkpoints::{public_key, CheckpointFolder, KeyFileSigner};
use stint_local::sqlite::SqliteEventStore;

#[derive(clap::Args)]
pub struct EvidenceArgs {
    /// Start of the period (RFC 3339).
    #[arg(long, value_parser = crate::rfc3339)]
    from: DateTime<Utc>,
    /// End of the period (RFC 3339), not included.
    #[arg(long, value_parser = crate::rfc3339)]
    to: DateTime<Utc>,
    /// Where to write the pack (default: evidence-<from>_<to>.tar.gz here).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The local data folder: its store, checkpoint folder and key.
    #[arg(long, default_value = ".stint", conflicts_with = "table")]
    data: PathBuf,
    /// A deployment's DynamoDB event table instead (AWS configuration from the environment).
    #[arg(long, requires_all = ["bucket", "key_id"])]
    table: Option<String>,
    /// The deployment's Object Lock bucket, where its checkpoints are.
    #[arg(long, requires = "table")]
    bucket: Option<String>,
    /// The KMS key that signs the deployment's checkpoints (its public half goes in the pack).
    #[arg(long, requires = "table")]
    key_id: Option<String>,
    /// Write a checkpoint first (needs the signing key), so the period's end is anchored.
    #[arg(long)]
    checkpoint: bool,
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::trouble(e.to_string()))
}

/// Builds the pack and writes it to `--out`.
pub fn build(args: &EvidenceArgs, as_json: bool) -> Result<(), Failure> {
    if args.from >= args.to {
        return Err(Failure::usage(format!(
            "--from ({}) must be before --to ({})",
            stint_domain::evidence::utc(args.from),
            stint_domain::evidence::utc(args.to)
        )));
    }
    let rt = runtime()?;
    let now = Utc::now();
    let pack = rt.block_on(async {
        match (&args.table, &args.bucket, &args.key_id) {
            (Some(table), Some(bucket), Some(key_id)) => {
                let sdk = stint_aws::sdk_config().await;
                let store =
                    DynamoEventStore::new(aws_sdk_dynamodb::Client::new(&sdk), table.as_str());
                let archive = S3Checkpoints::new(aws_sdk_s3::Client::new(&sdk), bucket.as_str());
                let signer = KmsSigner::new(aws_sdk_kms::Client::new(&sdk), key_id.as_str());
                pack(&store, &archive, &signer, args, now).await
            }
            _ => {
                let db = args.data.join("events.db");
                if !db.exists() {
                    return Err(Failure::usage(format!("no store at {}", db.display())));
                }
                let store =
                    SqliteEventStore::open(&db).map_err(|e| Failure::trouble(e.to_string()))?;
                let archive = CheckpointFolder::new(&args.data);
                if args.checkpoint {
                    let signer = KeyFileSigner::open_or_create(&args.data)
                        .map_err(|e| Failure::trouble(e.to_string()))?;
                    pack(&store, &archive, &signer, args, now).await
                } else {
                    let key = public_key(&args.data).map_err(|e| {
                        Failure::usage(format!(
                            "no checkpoint key in {} ({e}): `stint serve` creates it, or pass --checkpoint",
                            args.data.display()
                        ))
                    })?;
                    pack(&store, &archive, &FileKey(key), args, now).await
                }
            }
        }
    })?;
    let out = args.out.clone().unwrap_or_else(|| {
        let key = archive_key(args.from, args.to);
        PathBuf::from(format!("evidence-{}", key.trim_start_matches("evidence/")))
    });
    write_file(&out, &pack.bytes)?;
    let m = &pack.manifest;
    if as_json {
        let v = serde_json::json!({
            "out": out.display().to_string(),
            "bytes": pack.bytes.len(),
            "sha256": stint_domain::evidence::sha256_hex(&pack.bytes),
            "manifest": m,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        println!(
            "wrote {} ({} bytes, SHA-256 {})",
            out.display(),
            pack.bytes.len(),
            stint_domain::evidence::sha256_hex(&pack.bytes)
        );
        println!(
            "{} events in {} streams ({} in the period), {} review decisions, {} catalog changes, {}, key {}",
            m.counts.events,
            m.counts.streams,
            m.counts.events_in_period,
            m.counts.reviews,
            m.counts.catalog_changes,
            checkpoint_range(&m.checkpoints),
            m.key_fingerprint
        );
        if m.anchored_until.is_none_or(|at| at < m.to) {
            println!(
                "note: no checkpoint at or after the period's end yet: its last events are not anchored (pass --checkpoint)"
            );
        }
    }
    Ok(())
}

/// A public key read from a file, for packing without signing anything.
struct FileKey(PublicKey);

#[async_trait::async_trait]
impl CheckpointKey for FileKey {
    async fn public_key(&self) -> Result<PublicKey, stint_app::ports::ProviderError> {
        Ok(self.0.clone())
    }
}

/// Something that at least knows the public key; a signer too when `--checkpoint` asks.
trait KeySource: CheckpointKey {
    fn signer(&self) -> Option<&dyn CheckpointSigner>;
}
impl KeySource for FileKey {
    fn signer(&self) -> Option<&dyn CheckpointSigner> {
        None
    }
}
impl KeySource for KeyFileSigner {
    fn signer(&self) -> Option<&dyn CheckpointSigner> {
        Some(self)
    }
}
impl KeySource for KmsSigner {
    fn signer(&self) -> Option<&dyn CheckpointSigner> {
        Some(self)
    }
}

async fn pack(
    store: &dyn EventStore,
    archive: &dyn CheckpointArchive,
    key: &dyn KeySource,
    args: &EvidenceArgs,
    now: DateTime<Utc>,
) -> Result<Pack, Failure> {
    let trouble = |e: &dyn std::fmt::Display| Failure::trouble(e.to_string());
    if args.checkpoint {
        let signer = key
            .signer()
            .ok_or_else(|| Failure::usage("--checkpoint needs the signing key"))?;
        let written = checkpoint::write(
            store,
            Anchor { archive, signer },
            now,
            checkpoint::Scope::Everything,
            true,
        )
        .await
        .map_err(|e| trouble(&e))?;
        if let Some(cp) = written {
            eprintln!("checkpoint {} written", cp.seq);
        }
    }
    let public = key.public_key().await.map_err(|e| trouble(&e))?;
    // The review window of the catalog the store recorded, as the report function uses.
    let within = stint_app::catalog::recorded_review_window(store)
        .await
        .map_err(|e| trouble(&e))?;
    build_pack(store, archive, &public, args.from, args.to, now, within)
        .await
        .map_err(|e| trouble(&e))
}

/// Written aside and renamed into place, so a reader never sees half a pack.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let tmp = path.with_extension(format!("part-{}", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Failure::trouble(format!("writing {}: {e}", path.display()))
        })
}

fn checkpoint_range(seqs: &[u64]) -> String {
    match (seqs.first(), seqs.last()) {
        (Some(a), Some(b)) if a == b => format!("checkpoint {a}"),
        (Some(a), Some(b)) => format!("checkpoints {a} to {b}"),
        _ => "no checkpoint".into(),
    }
}

/// Checks a pack; exit 4 when anything is wrong, each problem and finding printed.
pub fn verify(pack: &Path, public_key: Option<&Path>, as_json: bool) -> Result<(), Failure> {
    let bytes = std::fs::read(pack)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", pack.display())))?;
    let trusted = match public_key {
        Some(p) => {
            let pem = std::fs::read_to_string(p)
                .map_err(|e| Failure::usage(format!("cannot read {}: {e}", p.display())))?;
            Some(
                PublicKey::from_pem(&pem)
                    .map_err(|e| Failure::usage(format!("--public-key {}: {e}", p.display())))?,
            )
        }
        None => None,
    };
    let v = verify_pack(&bytes, trusted.as_ref());
    if as_json {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print!("{}", describe(&v));
    }
    if v.verified {
        Ok(())
    } else {
        let first = v
            .problems
            .first()
            .map(ToString::to_string)
            .or_else(|| v.audit.findings.first().map(ToString::to_string))
            .unwrap_or_default();
        Err(Failure {
            code: 4,
            message: format!(
                "the evidence pack did not verify: {} problem(s) with the pack, {} finding(s) in its events and checkpoints; first: {first}",
                v.problems.len(),
                v.audit.findings.len()
            ),
        })
    }
}

/// The readable report of a verification.
fn describe(v: &PackVerification) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let t = |x: Option<DateTime<Utc>>| x.map_or("?".into(), stint_domain::evidence::utc);
    let a = &v.audit;
    let _ = writeln!(
        out,
        "evidence pack {} to {}: {} events in {} streams, {} checkpoint(s)",
        t(v.from),
        t(v.to),
        a.events,
        a.streams,
        a.checkpoints
    );
    let fp = v.key.fingerprint.as_deref().unwrap_or("(none)");
    if v.key.trusted {
        let _ = writeln!(out, "checked with the trusted key {fp} (--public-key)");
    } else {
        let _ = writeln!(
            out,
            "checked with the pack's own key {fp}: pass --public-key with the deployment's key to know the pack is theirs"
        );
    }
    for p in &v.problems {
        let _ = writeln!(out, "PROBLEM {p}");
    }
    for f in &a.findings {
        let _ = writeln!(out, "FINDING {f}");
    }
    if let (Some(seq), Some(at)) = (a.last_checkpoint, a.last_checkpoint_at) {
        if a.events_after_last_checkpoint > 0 {
            let _ = writeln!(
                out,
                "note: {} event(s) after checkpoint {seq} ({}) are chained but not anchored",
                a.events_after_last_checkpoint,
                stint_domain::evidence::utc(at)
            );
        }
    }
    if v.verified {
        let _ = writeln!(out, "verified");
    }
    out
}
