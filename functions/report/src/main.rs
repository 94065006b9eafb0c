//! The `report` Lambda: every 15 minutes it writes a signed checkpoint of the stream heads that
//! moved; on its report schedule it checkpoints, audits the whole store against the checkpoints,
//! and emails the compliance report to the auditors (SES) with a copy archived in S3.
//! On its monthly schedule (`{"evidence": true}`) it archives the month's evidence pack instead.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use stint_app::checkpoint::Anchor;
use stint_app::clock::SystemClock;
use stint_app::ports::ReadOnly;
use stint_aws::dynamodb::DynamoEventStore;
use stint_aws::kms::KmsSigner;
use stint_aws::s3::{S3Archive, S3Checkpoints};
use stint_aws::ses::SesMailer;
use stint_aws::{lambda, runtime};

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let sdk = runtime::lambda_sdk_config();
    // No catalog parameter: the review deadline is read from the catalog history each run.
    let config = runtime::report_config_from_env()?;
    let table = std::env::var("STINT_TABLE").map_err(|_| "STINT_TABLE is required")?;
    // The report's role may not write the table; nor may its code.
    let store = ReadOnly(DynamoEventStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        table,
    ));
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(&sdk));
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let archive = S3Archive::new(s3.clone(), config.bucket.clone());
    let checkpoints = S3Checkpoints::new(s3, config.bucket.clone());
    let signer = KmsSigner::new(
        aws_sdk_kms::Client::new(&sdk),
        config.checkpoint_key.clone(),
    );
    let anchor = Anchor {
        archive: &checkpoints,
        signer: &signer,
    };
    let (store, mailer, archive, config) = (&store, &mailer, &archive, &config);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<lambda::Payload>| async move {
            if lambda::is_evidence_run(&event.payload) {
                lambda::handle_evidence(store, anchor, archive, &SystemClock, event).await
            } else {
                lambda::handle_report(store, mailer, archive, anchor, config, &SystemClock, event)
                    .await
            }
        },
    ))
    .await
}
