//! Compliance reports: compile a period from the log (verified), and deliver it by email and to
//! the archive as CSV and JSON. How it reads (CSV, HTML, text) is `render::report`'s.

use crate::checkpoint::{Anchor, CheckpointError};
use crate::ports::{Archive, EventStore, Mailer, ProviderError, StoreError};
use crate::render::report::{stats_csv, to_csv, to_html, to_text};
use chrono::{DateTime, Utc};
use stint_domain::audit::AuditReport;
use stint_domain::catalog_history::CatalogEvent;
use stint_domain::drift::DriftEvent;
use stint_domain::report::{CatalogChangeRow, Report, ReportBuilder};
use stint_domain::review::periods_for_report;
use stint_domain::{AccessDuration, Envelope};

/// Reads the period, verifies every touched stream, and folds each request as it is read.
/// A stream whose events cannot be decoded is reported as broken, never silently dropped.
/// Each access-review period the report speaks for (those it overlaps, and those whose
/// deadline, `review_within` after their end, falls inside it) adds its coverage and findings.
pub async fn compile(
    store: &dyn EventStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    review_within: AccessDuration,
) -> Result<Report, StoreError> {
    compile_audited(store, from, to, now, review_within, None).await
}

/// As [`compile`], with the whole-store audit against the signed checkpoints in the report.
pub async fn compile_audited(
    store: &dyn EventStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    review_within: AccessDuration,
    audit: Option<&AuditReport>,
) -> Result<Report, StoreError> {
    let mut builder = ReportBuilder::new(from, to, now);
    if let Some(a) = audit {
        builder.add_audit(a);
    }
    let mut undecodable = Vec::new();
    let v = crate::verify::scan_period(store, from, to, |stream, events| {
        if stream.as_str().starts_with("drift#") {
            // A principal's drift stream spans periods: only this period's removals count.
            let in_period = |e: &&stint_domain::StoredEvent| {
                e.record.occurred_at >= from && e.record.occurred_at < to
            };
            for e in events.iter().filter(in_period) {
                if let Ok(d) = Envelope::<DriftEvent>::from_record(&e.record) {
                    builder.add_drift(&d.body);
                }
            }
            return;
        }
        if stream.as_str().starts_with(stint_domain::streams::CATALOG) {
            // The catalog history spans periods: only the versions recorded in this one.
            for e in events
                .iter()
                .filter(|e| e.record.occurred_at >= from && e.record.occurred_at < to)
            {
                match Envelope::<CatalogEvent>::from_record(&e.record) {
                    Ok(c) => builder.add_catalog_change(CatalogChangeRow::from_event(&c)),
                    Err(err) => undecodable.push(stint_domain::log::ChainBreak {
                        stream: stream.to_string(),
                        version: e.version,
                        event_id: e.record.event_id.clone(),
                        problem: format!("cannot be read: {}", err.reason),
                    }),
                }
            }
            return;
        }
        let Some(id) = stream.request_id() else {
            return;
        };
        if let Some(state) = crate::verify::fold_request(stream, events, &mut undecodable) {
            builder.add(id, &state);
        }
    })
    .await?;
    let mut breaks = v.breaks;
    for period in periods_for_report(from, to, review_within) {
        let got =
            crate::reviews::period_grants(store, period, review_within, now, |_| true).await?;
        builder.add_review(&got.review);
        undecodable.extend(got.broken);
    }
    crate::verify::merge_breaks(&mut breaks, undecodable);
    Ok(builder.finish(
        &breaks,
        v.period_digest,
        v.streams_checked,
        v.events_in_period,
    ))
}

/// Where the archived copy of a period goes.
pub fn archive_key(r: &Report) -> String {
    format!(
        "reports/{}_{}.csv",
        r.from.format("%Y-%m-%dT%H%M%SZ"),
        r.to.format("%Y-%m-%dT%H%M%SZ")
    )
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("building the report: {0}")]
    Build(String),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// Who receives the report.
#[derive(Debug, Clone)]
pub struct Recipients {
    pub sender: String,
    pub auditors: Vec<String>,
}

/// Builds the MIME message: an HTML body with a text alternative, the CSV attached, and the
/// service levels' CSV after it.
pub fn message(r: &Report, to: &Recipients) -> Result<Vec<u8>, DeliveryError> {
    use lettre::message::header::ContentType;
    use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
    let err = |e: &dyn std::fmt::Display| DeliveryError::Build(e.to_string());
    let from: Mailbox = to.sender.parse().map_err(|e| err(&e))?;
    let mut b = lettre::Message::builder().from(from).subject(format!(
        "Stint access report {} to {} ({})",
        r.from.format("%Y-%m-%d"),
        r.to.format("%Y-%m-%d"),
        if r.verified {
            "verified"
        } else {
            "NOT VERIFIED"
        }
    ));
    for a in &to.auditors {
        b = b.to(a.parse().map_err(|e| err(&e))?);
    }
    let csv = to_csv(r).map_err(|e| err(&e))?;
    let filename = archive_key(r)
        .rsplit('/')
        .next()
        .unwrap_or("report.csv")
        .to_owned();
    let body = MultiPart::mixed()
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(to_text(r)))
                .singlepart(SinglePart::html(to_html(r))),
        )
        .singlepart(Attachment::new(filename.clone()).body(
            csv,
            ContentType::parse("text/csv; charset=utf-8").map_err(|e| err(&e))?,
        ))
        // The service levels: a table of their own, not rows of requests.
        .singlepart(
            Attachment::new(filename.replace(".csv", "-service-levels.csv")).body(
                stats_csv(&r.service_levels).map_err(|e| err(&e))?,
                ContentType::parse("text/csv; charset=utf-8").map_err(|e| err(&e))?,
            ),
        );
    Ok(b.multipart(body).map_err(|e| err(&e))?.formatted())
}

/// What a delivery did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Delivered {
    pub archive_key: String,
    pub archive_version: Option<String>,
    pub rows: usize,
    pub findings: usize,
    pub verified: bool,
}

/// Where a report goes: the auditors' mail, the archive, and the checkpoints it anchors first.
#[derive(Clone, Copy)]
pub struct Delivery<'a> {
    pub mailer: &'a dyn Mailer,
    pub archive: &'a dyn Archive,
    pub to: &'a Recipients,
    pub anchor: Option<Anchor<'a>>,
}

/// Compiles the period, mails it to the auditors and archives the CSV and JSON.
pub async fn deliver(
    store: &dyn EventStore,
    d: Delivery<'_>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    review_within: AccessDuration,
) -> Result<Delivered, DeliveryError> {
    // Every report first anchors the store as it is, then audits all of it against the chain.
    let (mailer, archive, to) = (d.mailer, d.archive, d.to);
    let audit = match d.anchor {
        Some(a) => {
            crate::checkpoint::write(store, a, now, crate::checkpoint::Scope::Everything, true)
                .await?;
            let key = a.signer.public_key().await?;
            Some(crate::checkpoint::audit(store, a.archive, Some(&key)).await?)
        }
        None => None,
    };
    let report = compile_audited(store, from, until, now, review_within, audit.as_ref()).await?;
    let key = archive_key(&report);
    let csv = to_csv(&report).map_err(|e| DeliveryError::Build(e.to_string()))?;
    let version = archive.put(&key, csv.into_bytes(), "text/csv").await?;
    let json = serde_json::to_vec(&report).map_err(|e| DeliveryError::Build(e.to_string()))?;
    archive
        .put(&key.replace(".csv", ".json"), json, "application/json")
        .await?;
    mailer
        .send_raw(&to.sender, &to.auditors, message(&report, to)?)
        .await?;
    tracing::info!(
        key,
        rows = report.rows.len(),
        findings = report.findings.len(),
        verified = report.verified,
        "report delivered"
    );
    Ok(Delivered {
        archive_key: key,
        archive_version: version,
        rows: report.rows.len(),
        findings: report.findings.len(),
        verified: report.verified,
    })
}
