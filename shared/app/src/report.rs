//! Compliance reports: compile a period from the log (verified), render it as CSV, JSON and a
//! self-contained HTML page with a chart, and deliver it by email and to the archive.

use crate::ports::{Archive, EventStore, Mailer, ProviderError, StoreError};
use chrono::{DateTime, SecondsFormat, Utc};
use std::fmt::Write;
use stint_domain::report::{Finding, Report, ReportBuilder};
use stint_domain::{Event, RequestState};

/// Reads the period, verifies every touched stream, and folds each request as it is read.
/// A stream whose events cannot be decoded is reported as broken, never silently dropped.
pub async fn compile(
    store: &dyn EventStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let mut builder = ReportBuilder::new(from, to, now);
    let mut undecodable = Vec::new();
    let v = crate::verify::scan_period(store, from, to, |stream, events| {
        let Some(id) = stream.request_id() else {
            return;
        };
        let mut state = RequestState::default();
        for e in events {
            match Event::from_record(&e.record) {
                Ok(ev) => state = stint_domain::apply(state, &ev),
                Err(err) => {
                    undecodable.push(stint_domain::log::ChainBreak {
                        stream: stream.to_string(),
                        version: e.version,
                        event_id: e.record.event_id.clone(),
                        problem: format!("cannot be read: {}", err.reason),
                    });
                    return;
                }
            }
        }
        builder.add(id, &state);
    })
    .await?;
    let mut breaks = v.breaks;
    for u in undecodable {
        if !breaks.iter().any(|b| b.stream == u.stream) {
            breaks.push(u);
        }
    }
    Ok(builder.finish(
        &breaks,
        v.period_digest,
        v.streams_checked,
        v.events_in_period,
    ))
}

fn t(v: &Option<DateTime<Utc>>) -> String {
    v.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

pub const CSV_HEADER: [&str; 20] = [
    "id",
    "status",
    "requester",
    "principal",
    "role",
    "scope",
    "source",
    "justification",
    "reference",
    "approved_by",
    "requested_at",
    "approved_at",
    "granted_at",
    "expires_at",
    "revoked_at",
    "revoke_reason",
    "requested_secs",
    "actual_secs",
    "revoke_lag_secs",
    "findings",
];

/// RFC 4180 CSV, one row per request.
pub fn to_csv(report: &Report) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEADER)?;
    for r in &report.rows {
        let findings: Vec<&str> = report
            .findings
            .iter()
            .filter(|f| finding_id(f) == Some(r.id.as_str()))
            .map(finding_kind)
            .collect();
        w.write_record([
            r.id.clone(),
            r.status.to_string(),
            r.requester.clone(),
            r.principal.clone(),
            r.role.clone(),
            r.scope.clone().unwrap_or_default(),
            r.source.to_owned(),
            r.justification.clone(),
            r.reference.clone().unwrap_or_default(),
            r.approved_by.clone().unwrap_or_default(),
            t(&r.requested_at),
            t(&r.approved_at),
            t(&r.granted_at),
            t(&r.expires_at),
            t(&r.revoked_at),
            r.revoke_reason.clone().unwrap_or_default(),
            r.requested_secs.to_string(),
            r.actual_secs.map(|x| x.to_string()).unwrap_or_default(),
            r.revoke_lag_secs.map(|x| x.to_string()).unwrap_or_default(),
            findings.join(";"),
        ])?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

pub fn finding_id(f: &Finding) -> Option<&str> {
    match f {
        Finding::BreakGlassNotReviewed { id, .. }
        | Finding::AutomaticApproval { id, .. }
        | Finding::RevokeLag { id, .. }
        | Finding::ActivePastExpiry { id, .. }
        | Finding::GrantFailed { id }
        | Finding::RevokeFailed { id, .. } => Some(id),
        Finding::ChainBroken { .. } => None,
    }
}

pub fn finding_kind(f: &Finding) -> &'static str {
    match f {
        Finding::BreakGlassNotReviewed { .. } => "break_glass_not_reviewed",
        Finding::AutomaticApproval { .. } => "automatic_approval",
        Finding::RevokeLag { .. } => "revoke_lag",
        Finding::ActivePastExpiry { .. } => "active_past_expiry",
        Finding::GrantFailed { .. } => "grant_failed",
        Finding::RevokeFailed { .. } => "revoke_failed",
        Finding::ChainBroken { .. } => "chain_broken",
    }
}

pub fn describe(f: &Finding) -> String {
    match f {
        Finding::BreakGlassNotReviewed { id, review_by } => {
            format!("break-glass {id} not reviewed by {review_by}")
        }
        Finding::AutomaticApproval { id, rule } => {
            format!("{id} approved automatically by rule {rule}")
        }
        Finding::RevokeLag { id, lag_seconds } => {
            format!("{id} revoked {lag_seconds} s after expiry")
        }
        Finding::ActivePastExpiry { id, expires_at } => {
            format!("{id} still active past its expiry {expires_at}")
        }
        Finding::GrantFailed { id } => format!("{id}: grant failed"),
        Finding::RevokeFailed { id, failures } => format!("{id}: revoke failed {failures} time(s)"),
        Finding::ChainBroken {
            stream,
            version,
            event_id,
            problem,
        } => format!("CHAIN BROKEN in {stream} at version {version} (event {event_id}): {problem}"),
    }
}

/// Escapes text for HTML element content and attribute values: user input goes through here.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Rows shown in the HTML page; the CSV always has them all.
pub const HTML_ROWS: usize = 2_000;

pub fn headline(r: &Report) -> String {
    if r.verified {
        format!(
            "verified: {} events in {} streams",
            r.events_in_period, r.streams_checked
        )
    } else {
        format!(
            "NOT VERIFIED: {} broken chain(s)",
            r.findings
                .iter()
                .filter(|f| matches!(f, Finding::ChainBroken { .. }))
                .count()
        )
    }
}

/// A self-contained page: summary, findings, an inline SVG chart, and the rows.
pub fn to_html(r: &Report) -> String {
    let mut h = String::with_capacity(4_096 + r.rows.len().min(HTML_ROWS) * 600);
    let period = format!(
        "{} to {}",
        r.from.to_rfc3339_opts(SecondsFormat::Secs, true),
        r.to.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Stint access report {p}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}\
         td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:13px}}.bad{{color:#b00;font-weight:bold}}\
         .ok{{color:#070;font-weight:bold}}</style></head><body><h1>Stint access report</h1><p>{p}</p>\
         <p class=\"{cls}\">{head}</p><p>Period digest <code>{d}</code></p>",
        p = esc(&period),
        cls = if r.verified { "ok" } else { "bad" },
        head = esc(&headline(r)),
        d = esc(r.period_digest.as_str()),
    );
    let s = &r.summary;
    let _ = write!(
        h,
        "<h2>Summary</h2><p>{} requests; median time to approve {}.</p>",
        s.requests,
        s.median_secs_to_approve
            .map_or("n/a".into(), |x| format!("{x} s"))
    );
    for (title, map) in [
        ("By role", &s.by_role),
        ("By source", &s.by_source),
        ("By outcome", &s.by_outcome),
    ] {
        let _ = write!(
            h,
            "<table><tr><th>{}</th><th>requests</th></tr>",
            esc(title)
        );
        for (k, v) in map {
            let _ = write!(h, "<tr><td>{}</td><td>{v}</td></tr>", esc(k));
        }
        h.push_str("</table>");
    }
    h.push_str("<table><tr><th>role</th><th>access hours</th></tr>");
    for (k, v) in &s.access_hours_by_role {
        let _ = write!(h, "<tr><td>{}</td><td>{v:.2}</td></tr>", esc(k));
    }
    h.push_str("</table><table><tr><th>top requesters</th><th>requests</th></tr>");
    for (k, v) in &s.top_requesters {
        let _ = write!(h, "<tr><td>{}</td><td>{v}</td></tr>", esc(k));
    }
    h.push_str("</table><h2>Access hours per role per day</h2>");
    h.push_str(&chart(r));
    let _ = write!(h, "<h2>Findings ({})</h2><ul>", r.findings.len());
    for f in &r.findings {
        let _ = write!(
            h,
            "<li class=\"{}\">{}</li>",
            if matches!(f, Finding::ChainBroken { .. }) {
                "bad"
            } else {
                ""
            },
            esc(&describe(f))
        );
    }
    h.push_str("</ul><h2>Requests</h2>");
    if r.rows.len() > HTML_ROWS {
        let _ = write!(
            h,
            "<p>The first {HTML_ROWS} of {} requests; the CSV has them all.</p>",
            r.rows.len()
        );
    }
    h.push_str("<table><tr>");
    for c in &CSV_HEADER[..CSV_HEADER.len() - 1] {
        let _ = write!(h, "<th>{c}</th>");
    }
    h.push_str("</tr>");
    for row in r.rows.iter().take(HTML_ROWS) {
        let cells = [
            row.id.clone(),
            row.status.to_string(),
            row.requester.clone(),
            row.principal.clone(),
            row.role.clone(),
            row.scope.clone().unwrap_or_default(),
            row.source.to_owned(),
            row.justification.clone(),
            row.reference.clone().unwrap_or_default(),
            row.approved_by.clone().unwrap_or_default(),
            t(&row.requested_at),
            t(&row.approved_at),
            t(&row.granted_at),
            t(&row.expires_at),
            t(&row.revoked_at),
            row.revoke_reason.clone().unwrap_or_default(),
            row.requested_secs.to_string(),
            row.actual_secs.map(|x| x.to_string()).unwrap_or_default(),
            row.revoke_lag_secs
                .map(|x| x.to_string())
                .unwrap_or_default(),
        ];
        h.push_str("<tr>");
        for c in cells {
            let _ = write!(h, "<td>{}</td>", esc(&c));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table></body></html>\n");
    h
}

/// Stacked bars: one per day, a colour per role, height in access hours.
fn chart(r: &Report) -> String {
    const COLOURS: [&str; 8] = [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    ];
    let roles: Vec<&String> = r.summary.access_hours_by_role.keys().collect();
    let days: Vec<(&String, &std::collections::BTreeMap<String, f64>)> =
        r.hours_by_day.iter().collect();
    if days.is_empty() {
        return "<p>No access in this period.</p>".into();
    }
    let max = days
        .iter()
        .map(|(_, m)| m.values().sum::<f64>())
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let (bar, gap, height) = (28.0, 12.0, 200.0);
    let width = 60.0 + days.len() as f64 * (bar + gap);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{ht:.0}\" role=\"img\" aria-label=\"access hours per role per day\">\
         <text x=\"0\" y=\"12\" font-size=\"11\">{max:.1} h</text><line x1=\"50\" y1=\"20\" x2=\"50\" y2=\"{base:.0}\" stroke=\"#999\"/>",
        w = width,
        ht = height + 80.0 + roles.len() as f64 * 16.0,
        base = height + 20.0
    );
    for (i, (day, hours)) in days.iter().enumerate() {
        let x = 60.0 + i as f64 * (bar + gap);
        let mut y = height + 20.0;
        for (j, role) in roles.iter().enumerate() {
            let v = hours.get(*role).copied().unwrap_or(0.0);
            if v <= 0.0 {
                continue;
            }
            let hgt = v / max * height;
            y -= hgt;
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar}\" height=\"{hgt:.1}\" fill=\"{}\"><title>{} {}: {v:.2} h</title></rect>",
                COLOURS[j % COLOURS.len()],
                esc(day),
                esc(role)
            );
        }
        let _ = write!(svg, "<text x=\"{x:.1}\" y=\"{:.0}\" font-size=\"9\" transform=\"rotate(45 {x:.1} {:.0})\">{}</text>", height + 34.0, height + 34.0, esc(day));
    }
    for (j, role) in roles.iter().enumerate() {
        let y = height + 70.0 + j as f64 * 16.0;
        let _ = write!(
            svg,
            "<rect x=\"60\" y=\"{:.0}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"76\" y=\"{y:.0}\" font-size=\"11\">{}</text>",
            y - 9.0,
            COLOURS[j % COLOURS.len()],
            esc(role)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The plain-text part of the email.
pub fn to_text(r: &Report) -> String {
    let mut s = format!(
        "Stint access report\n{} to {}\n{}\nPeriod digest {}\n\n{} requests\n",
        r.from.to_rfc3339_opts(SecondsFormat::Secs, true),
        r.to.to_rfc3339_opts(SecondsFormat::Secs, true),
        headline(r),
        r.period_digest,
        r.summary.requests
    );
    let _ = writeln!(s, "\nFindings ({}):", r.findings.len());
    for f in &r.findings {
        let _ = writeln!(s, "- {}", describe(f));
    }
    s
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
}

/// Who receives the report.
#[derive(Debug, Clone)]
pub struct Recipients {
    pub sender: String,
    pub auditors: Vec<String>,
}

/// Builds the MIME message: an HTML body with a text alternative, and the CSV attached.
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
        .singlepart(Attachment::new(filename).body(
            csv,
            ContentType::parse("text/csv; charset=utf-8").map_err(|e| err(&e))?,
        ));
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

/// Compiles the period, mails it to the auditors and archives the CSV and JSON.
pub async fn deliver(
    store: &dyn EventStore,
    mailer: &dyn Mailer,
    archive: &dyn Archive,
    to: &Recipients,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Delivered, DeliveryError> {
    let report = compile(store, from, until, now).await?;
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
