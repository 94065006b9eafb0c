//! The compliance report as people read it: RFC 4180 CSV, a self-contained HTML page with an
//! inline SVG chart, and the plain text of the email.

use chrono::{DateTime, SecondsFormat, Utc};
use maud::{html, Markup, DOCTYPE};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write;
use stint_domain::report::{CatalogChangeRow, Finding, Report, ReportRow};
use stint_domain::stats::ServiceLevels;

fn t(v: &Option<DateTime<Utc>>) -> String {
    v.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

pub const CSV_HEADER: [&str; 22] = [
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
    "accounts",
    // Identity Center grants: how long a session issued before the revoke may still last.
    "session_duration",
    "findings",
];

/// One cell of a request's row. Text can come from a requester (a justification) or an
/// identity provider, so it is neutralised in the CSV; timestamps and numbers are ours.
enum Cell {
    Text(String),
    Value(String),
}

impl Cell {
    fn as_str(&self) -> &str {
        match self {
            Cell::Text(s) | Cell::Value(s) => s,
        }
    }

    fn csv(&self) -> Cow<'_, str> {
        match self {
            Cell::Text(s) => csv_text(s),
            Cell::Value(s) => Cow::Borrowed(s),
        }
    }
}

/// A request's cells in `CSV_HEADER`'s order, all but the findings.
fn cells(r: &ReportRow) -> [Cell; 21] {
    use Cell::{Text, Value};
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let num = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    [
        Text(r.id.clone()),
        Text(r.status.to_string()),
        Text(r.requester.clone()),
        Text(r.principal.clone()),
        Text(r.role.clone()),
        Text(opt(&r.scope)),
        Text(r.source.to_owned()),
        Text(r.justification.clone()),
        Text(opt(&r.reference)),
        Text(opt(&r.approved_by)),
        Value(t(&r.requested_at)),
        Value(t(&r.approved_at)),
        Value(t(&r.granted_at)),
        Value(t(&r.expires_at)),
        Value(t(&r.revoked_at)),
        Text(opt(&r.revoke_reason)),
        Value(r.requested_secs.to_string()),
        Value(num(r.actual_secs)),
        Value(num(r.revoke_lag_secs)),
        Text(opt(&r.accounts)),
        Text(opt(&r.session_duration)),
    ]
}

/// OWASP's advice against CSV injection: a cell a spreadsheet would take for a formula gets a
/// leading single quote, so it opens as text.
pub fn csv_text(s: &str) -> Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// RFC 4180 CSV, one row per request; text cells are neutralised against formula injection.
pub fn to_csv(report: &Report) -> Result<String, csv::Error> {
    let mut kinds: HashMap<&str, Vec<String>> = HashMap::new();
    for f in &report.findings {
        if let Some(id) = finding_id(f) {
            kinds.entry(id).or_default().push(finding_kind(f));
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEADER)?;
    for r in &report.rows {
        let findings = kinds
            .get(r.id.as_str())
            .map(|k| k.join(";"))
            .unwrap_or_default();
        let cells = cells(r);
        let record = cells.iter().map(Cell::csv).chain([csv_text(&findings)]);
        w.write_record(record.map(|c| c.into_owned()))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The request a finding is about; none for a broken chain.
pub fn finding_id(f: &Finding) -> Option<&str> {
    match f {
        Finding::BreakGlassNotReviewed { id, .. }
        | Finding::AutomaticApproval { id, .. }
        | Finding::RevokeLag { id, .. }
        | Finding::ActivePastExpiry { id, .. }
        | Finding::GrantFailed { id, .. }
        | Finding::RevokeFailed { id, .. }
        | Finding::GrantNotReviewed { id, .. }
        | Finding::GrantInappropriate { id, .. } => Some(id),
        Finding::OrphanPolicyRemoved { request, .. } => request.as_deref(),
        Finding::ChainBroken { .. }
        | Finding::Tampered { .. }
        | Finding::OrphanAssignmentRemoved { .. } => None,
    }
}

/// The finding's serde tag (`kind`), read from the derive rather than kept by hand.
pub fn finding_kind(f: &Finding) -> String {
    stint_domain::tag::tag_of(f)
        .map(|k| k.into_owned())
        .unwrap_or_default()
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
        Finding::GrantFailed {
            id,
            account: Some(account),
            error,
        } => format!(
            "{id}: grant failed in account {account}{}",
            error.as_deref().map_or(String::new(), |e| format!(": {e}"))
        ),
        Finding::GrantFailed { id, .. } => format!("{id}: grant failed"),
        Finding::RevokeFailed { id, failures } => format!("{id}: revoke failed {failures} time(s)"),
        Finding::OrphanPolicyRemoved {
            principal,
            policy_name,
            request,
        } => format!(
            "policy {policy_name} on {principal} had no grant to hold it ({}); the sweep removed it",
            request.as_deref().map_or("no such request".to_owned(), |r| format!("request {r}"))
        ),
        Finding::OrphanAssignmentRemoved {
            permission_set,
            account,
            principal,
        } => format!(
            "assignment of {permission_set} to {principal} in {account} had no active grant; the sweep removed it"
        ),
        Finding::ChainBroken {
            stream,
            version,
            event_id,
            problem,
        } => format!("CHAIN BROKEN in {stream} at version {version} (event {event_id}): {problem}"),
        Finding::Tampered {
            tamper,
            stream,
            version,
            checkpoint,
            detail,
        } => format!(
            "TAMPERED: {}",
            stint_domain::audit::Finding {
                kind: *tamper,
                stream: stream.clone(),
                version: *version,
                checkpoint: *checkpoint,
                detail: detail.clone(),
            }
        ),
        Finding::GrantNotReviewed {
            id,
            role,
            period,
            deadline,
        } => format!("{role} grant {id} of {period} not reviewed by its deadline {deadline}"),
        Finding::GrantInappropriate {
            id,
            role,
            period,
            reviewer,
            comment,
        } => format!("{role} grant {id} of {period} judged inappropriate by {reviewer}: {comment}"),
    }
}

/// Access-review coverage: per period and role, how many grants were reviewed and how.
fn reviews_html(r: &Report) -> Markup {
    html! {
        h2 { "Access reviews" }
        @if r.reviews.is_empty() {
            p { "No review period in this report." }
        }
        @for p in &r.reviews {
            p {
                "Period " (p.period) ", due " (p.deadline.to_rfc3339_opts(SecondsFormat::Secs, true))
                @if p.overdue { " (deadline passed)" }
            }
            table {
                tr {
                    th { "role" } th { "grants" } th { "reviewed" } th { "appropriate" }
                    th { "inappropriate" } th { "unreviewed" } th { "coverage" }
                }
                @for (role, c) in &p.by_role {
                    tr {
                        td { (role) } td { (c.grants) } td { (c.reviewed) } td { (c.appropriate) }
                        td { (c.inappropriate) }
                        td class=(if p.overdue && c.unreviewed > 0 { "bad" } else { "" }) { (c.unreviewed) }
                        td { (format!("{:.0}%", c.percent())) }
                    }
                }
            }
        }
    }
}

/// The coverage lines of the plain-text email.
fn reviews_text(r: &Report, s: &mut String) {
    let _ = writeln!(s, "\nAccess reviews:");
    for p in &r.reviews {
        let due = p.deadline.to_rfc3339_opts(SecondsFormat::Secs, true);
        let _ = writeln!(
            s,
            "- {} (due {due}{})",
            p.period,
            if p.overdue { ", passed" } else { "" }
        );
        for (role, c) in &p.by_role {
            let _ = writeln!(
                s,
                "  {role}: {} of {} reviewed ({:.0}%), {} inappropriate, {} unreviewed",
                c.reviewed,
                c.grants,
                c.percent(),
                c.inappropriate,
                c.unreviewed
            );
        }
    }
}

/// The service levels' CSV columns: one row per measure, role and source (`*` for all).
pub const STATS_CSV_HEADER: [&str; 8] = [
    "measure", "role", "source", "count", "p50_ms", "p90_ms", "p99_ms", "max_ms",
];

/// The service levels as RFC 4180 CSV (`GET /stats?format=csv`, and the report's second
/// attachment). Role names come from the catalog, so they are neutralised like any text.
pub fn stats_csv(levels: &ServiceLevels) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(STATS_CSV_HEADER)?;
    for r in &levels.rows {
        let l = &r.levels;
        w.write_record([
            r.measure.as_str().to_owned(),
            csv_text(&r.role).into_owned(),
            csv_text(&r.source).into_owned(),
            l.count.to_string(),
            l.p50_ms.to_string(),
            l.p90_ms.to_string(),
            l.p99_ms.to_string(),
            l.max_ms.to_string(),
        ])?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Milliseconds as people read them: "850 ms", "4.2 s", "12 min 5 s", "3 h 10 min".
pub fn duration_ms(ms: i64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1_000.0)
    } else if ms < 3_600_000 {
        format!("{} min {} s", ms / 60_000, ms % 60_000 / 1_000)
    } else {
        format!("{} h {} min", ms / 3_600_000, ms % 3_600_000 / 60_000)
    }
}

/// The service-levels table: a row per measure, role and source, percentiles in words.
pub fn service_levels_html(levels: &ServiceLevels) -> Markup {
    html! {
        h2 { "Service levels" }
        @if levels.rows.is_empty() {
            p { "Nothing was approved, granted or revoked at expiry in this period." }
        } @else {
            p { "Percentiles by nearest rank; * is every role or source. Revoke lag counts grants that ran to their expiry." }
            table {
                tr {
                    th { "measure" } th { "role" } th { "source" } th { "count" }
                    th { "p50" } th { "p90" } th { "p99" } th { "max" }
                }
                @for r in &levels.rows {
                    tr {
                        td { (r.measure.as_str()) } td { (r.role) } td { (r.source) }
                        td { (r.levels.count) }
                        td { (duration_ms(r.levels.p50_ms)) } td { (duration_ms(r.levels.p90_ms)) }
                        td { (duration_ms(r.levels.p99_ms)) } td { (duration_ms(r.levels.max_ms)) }
                    }
                }
            }
        }
    }
}

/// The service levels as aligned plain-text lines (the email, and `stint stats`).
pub fn service_levels_text(levels: &ServiceLevels) -> String {
    let mut s = String::new();
    if levels.rows.is_empty() {
        s.push_str("Nothing was approved, granted or revoked at expiry in this period.\n");
        return s;
    }
    let _ = writeln!(
        s,
        "{:<20} {:<16} {:<12} {:>6} {:>14} {:>14} {:>14}",
        "measure", "role", "source", "count", "p50", "p90", "p99"
    );
    for r in &levels.rows {
        let l = &r.levels;
        let _ = writeln!(
            s,
            "{:<20} {:<16} {:<12} {:>6} {:>14} {:>14} {:>14}",
            r.measure.as_str(),
            r.role,
            r.source,
            l.count,
            duration_ms(l.p50_ms),
            duration_ms(l.p90_ms),
            duration_ms(l.p99_ms)
        );
    }
    s
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
        let count = |tampered: bool| {
            r.findings
                .iter()
                .filter(|f| match f {
                    Finding::ChainBroken { .. } => !tampered,
                    Finding::Tampered { .. } => tampered,
                    _ => false,
                })
                .count()
        };
        format!(
            "NOT VERIFIED: {} broken chain(s), {} finding(s) against the signed checkpoints",
            count(false),
            count(true)
        )
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}\
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:13px}\
.bad{color:#b00;font-weight:bold}.ok{color:#070;font-weight:bold}";

fn period(r: &Report) -> String {
    format!(
        "{} to {}",
        r.from.to_rfc3339_opts(SecondsFormat::Secs, true),
        r.to.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

/// A self-contained page: summary, findings, an inline SVG chart, and the rows.
pub fn to_html(r: &Report) -> String {
    let period = period(r);
    let s = &r.summary;
    let median = s
        .median_secs_to_approve
        .map_or("n/a".into(), |x| format!("{x} s"));
    let counts = [
        ("By role", &s.by_role),
        ("By source", &s.by_source),
        ("By outcome", &s.by_outcome),
    ];
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Stint access report " (period) }
                style { (STYLE) }
            }
            body {
                h1 { "Stint access report" }
                p { (period) }
                p class=(if r.verified { "ok" } else { "bad" }) { (headline(r)) }
                p { "Period digest " code { (r.period_digest.as_str()) } }
                p { (anchoring_line(r)) }
                h2 { "Summary" }
                p { (s.requests) " requests; median time to approve " (median) "." }
                @for (title, map) in counts {
                    table {
                        tr { th { (title) } th { "requests" } }
                        @for (k, v) in map {
                            tr { td { (k) } td { (v) } }
                        }
                    }
                }
                table {
                    tr { th { "role" } th { "access hours" } }
                    @for (k, v) in &s.access_hours_by_role {
                        tr { td { (k) } td { (format!("{v:.2}")) } }
                    }
                }
                table {
                    tr { th { "top requesters" } th { "requests" } }
                    @for (k, v) in &s.top_requesters {
                        tr { td { (k) } td { (v) } }
                    }
                }
                h2 { "Access hours per role per day" }
                (chart(r))
                h2 { "Findings (" (r.findings.len()) ")" }
                ul {
                    @for f in &r.findings {
                        li.bad[matches!(f, Finding::ChainBroken { .. })] { (describe(f)) }
                    }
                }
                (service_levels_html(&r.service_levels))
                (reviews_html(r))
                (catalog_changes_html(&r.catalog_changes))
                h2 { "Requests" }
                @if r.rows.len() > HTML_ROWS {
                    p { "The first " (HTML_ROWS) " of " (r.rows.len()) " requests; the CSV has them all." }
                }
                table {
                    tr {
                        @for c in &CSV_HEADER[..CSV_HEADER.len() - 1] {
                            th { (c) }
                        }
                    }
                    @for row in r.rows.iter().take(HTML_ROWS) {
                        tr {
                            @for c in cells(row) {
                                td { (c.as_str()) }
                            }
                        }
                    }
                }
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}

/// The catalog versions recorded in the period: when, which, who loaded it, what changed.
fn catalog_changes_html(changes: &[CatalogChangeRow]) -> Markup {
    html! {
        h2 { "Catalog changes (" (changes.len()) ")" }
        @if changes.is_empty() {
            p { "No catalog change was recorded in this period." }
        } @else {
            table {
                tr { th { "recorded at" } th { "catalog" } th { "loaded by" } th { "what changed" } }
                @for c in changes {
                    tr {
                        td { (t(&Some(c.at))) }
                        td { code { (c.hash) } br; (c.source) }
                        td { (c.loaded_by) }
                        td {
                            @if c.changes.is_empty() {
                                "the text changed; no role, rule, approver or principal did"
                            } @else {
                                ul { @for line in &c.changes { li { (line) } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The catalog changes as plain text lines, for the email.
fn catalog_changes_text(s: &mut String, changes: &[CatalogChangeRow]) {
    let _ = writeln!(s, "\nCatalog changes ({}):", changes.len());
    for c in changes {
        let _ = writeln!(
            s,
            "- {} catalog {} from {}, loaded by {}",
            t(&Some(c.at)),
            c.hash,
            c.source,
            c.loaded_by
        );
        for line in &c.changes {
            let _ = writeln!(s, "    {line}");
        }
    }
}

/// One segment of a day's stacked bar.
struct Segment<'a> {
    x: f64,
    y: f64,
    height: f64,
    colour: &'static str,
    day: &'a str,
    role: &'a str,
    hours: f64,
}

/// Stacked bars: one per day, a colour per role, height in access hours. Every SVG element
/// gets a closing tag: inside `<svg>` an HTML parser does not know `<rect>` as void.
fn chart(r: &Report) -> Markup {
    const COLOURS: [&str; 8] = [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    ];
    let colour = |j: usize| COLOURS[j % COLOURS.len()];
    let roles: Vec<&String> = r.summary.access_hours_by_role.keys().collect();
    if r.hours_by_day.is_empty() {
        return html! { p { "No access in this period." } };
    }
    let max = r
        .hours_by_day
        .values()
        .map(|m| m.values().sum::<f64>())
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let (bar, gap, height) = (28.0, 12.0, 200.0);
    let base = height + 20.0;
    let label_y = height + 34.0;
    let width = 60.0 + r.hours_by_day.len() as f64 * (bar + gap);
    let total_height = height + 80.0 + roles.len() as f64 * 16.0;
    let mut segments = Vec::new();
    let mut labels = Vec::new();
    for (i, (day, hours)) in r.hours_by_day.iter().enumerate() {
        let x = 60.0 + i as f64 * (bar + gap);
        let mut y = base;
        for (j, role) in roles.iter().enumerate() {
            let v = hours.get(*role).copied().unwrap_or(0.0);
            if v <= 0.0 {
                continue;
            }
            let h = v / max * height;
            y -= h;
            segments.push(Segment {
                x,
                y,
                height: h,
                colour: colour(j),
                day,
                role,
                hours: v,
            });
        }
        labels.push((x, day));
    }
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(format!("{width:.0}"))
            height=(format!("{total_height:.0}")) role="img"
            aria-label="access hours per role per day" {
            text x="0" y="12" font-size="11" { (format!("{max:.1} h")) }
            line x1="50" y1="20" x2="50" y2=(format!("{base:.0}")) stroke="#999" {}
            @for s in &segments {
                rect x=(format!("{:.1}", s.x)) y=(format!("{:.1}", s.y)) width=(bar)
                    height=(format!("{:.1}", s.height)) fill=(s.colour) {
                    title { (s.day) " " (s.role) ": " (format!("{:.2}", s.hours)) " h" }
                }
            }
            @for (x, day) in &labels {
                text x=(format!("{x:.1}")) y=(format!("{label_y:.0}")) font-size="9"
                    transform=(format!("rotate(45 {x:.1} {label_y:.0})")) { (day) }
            }
            @for (j, role) in roles.iter().enumerate() {
                @let y = height + 70.0 + j as f64 * 16.0;
                rect x="60" y=(format!("{:.0}", y - 9.0)) width="10" height="10" fill=(colour(j)) {}
                text x="76" y=(format!("{y:.0}")) font-size="11" { (role) }
            }
        }
    }
}

/// How far the signed checkpoints vouch for the store, in one sentence.
pub fn anchoring_line(r: &Report) -> String {
    match &r.anchoring {
        None => "The store was not checked against signed checkpoints.".into(),
        Some(a) => format!(
            "Whole store audited: {} events in {} streams against {} signed checkpoint(s){}; {} event(s) since the last; {} finding(s).",
            a.events,
            a.streams,
            a.checkpoints,
            match (a.last_checkpoint, a.last_checkpoint_at) {
                (Some(n), Some(at)) => format!(" (last: {n} at {})", at.format("%Y-%m-%d %H:%M UTC")),
                _ => String::new(),
            },
            a.events_after_last_checkpoint,
            a.findings
        ),
    }
}

/// The plain-text part of the email.
pub fn to_text(r: &Report) -> String {
    let mut s = format!(
        "Stint access report\n{}\n{}\nPeriod digest {}\n{}\n\n{} requests\n",
        period(r),
        headline(r),
        r.period_digest,
        anchoring_line(r),
        r.summary.requests
    );
    let _ = writeln!(s, "\nFindings ({}):", r.findings.len());
    for f in &r.findings {
        let _ = writeln!(s, "- {}", describe(f));
    }
    let _ = writeln!(s, "\nService levels (nearest-rank percentiles):");
    s.push_str(&service_levels_text(&r.service_levels));
    reviews_text(r, &mut s);
    catalog_changes_text(&mut s, &r.catalog_changes);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::collections::BTreeMap;
    use stint_domain::log::Hash;
    use stint_domain::report::Summary;
    use stint_domain::Status;

    const HOSTILE: &str = "stuck <script>alert('x')</script> \"quoted\" & more";

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, h, 0, 0).unwrap()
    }

    fn row(id: &str, justification: &str) -> ReportRow {
        ReportRow {
            accounts: None,
            id: id.into(),
            status: Status::Revoked,
            requester: "alice@example.com".into(),
            principal: "arn:aws:iam::123456789012:role/stint/oncall".into(),
            role: "db-read".into(),
            scope: Some("orders".into()),
            source: "person",
            justification: justification.into(),
            reference: None,
            approved_by: Some("bob@example.com".into()),
            requested_at: Some(at(9)),
            approved_at: Some(at(9)),
            granted_at: Some(at(9)),
            expires_at: Some(at(10)),
            revoked_at: Some(at(10)),
            revoke_reason: Some("expired".into()),
            requested_secs: 3_600,
            actual_secs: Some(3_600),
            revoke_lag_secs: Some(-1),
            session_duration: None,
        }
    }

    fn report(rows: Vec<ReportRow>, findings: Vec<Finding>) -> Report {
        let hours: BTreeMap<String, f64> = [("db-read".to_owned(), 1.0)].into();
        Report {
            from: at(0),
            to: at(23),
            generated_at: at(23),
            verified: true,
            period_digest: Hash::genesis(),
            streams_checked: rows.len(),
            events_in_period: 5,
            summary: Summary {
                requests: rows.len() as u64,
                by_role: [("<db>".to_owned(), 1)].into(),
                access_hours_by_role: hours.clone(),
                ..Summary::default()
            },
            rows,
            findings,
            anchoring: None,
            hours_by_day: [("2026-11-20".to_owned(), hours)].into(),
            reviews: vec![],
            catalog_changes: vec![],
            service_levels: stint_domain::stats::StatsBuilder::new(at(0), at(23)).finish(),
        }
    }

    #[test]
    fn the_html_escapes_hostile_text() {
        let html = to_html(&report(vec![row("r1", HOSTILE)], vec![]));
        assert!(!html.contains("<script>"), "no live script tag");
        // maud escapes & < > and ": enough for text and for its double-quoted attributes,
        // so a ' stays as it is.
        assert!(
            html.contains(
                "<td>stuck &lt;script&gt;alert('x')&lt;/script&gt; &quot;quoted&quot; &amp; more</td>"
            ),
            "{html}"
        );
        assert!(html.contains("<td>&lt;db&gt;</td>"));
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"));
        assert!(html.contains("<p class=\"ok\">verified: 5 events in 1 streams</p>"));
        assert!(html.contains("<svg") && html.contains("<rect") && html.contains("</rect>"));
        assert!(html.ends_with("</table></body></html>\n"));
    }

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_start_with_a_quote() {
        let mut formula = row("r1", "=HYPERLINK(\"http://x\")");
        formula.requester = "@evil".into();
        formula.revoke_reason = Some("+1".into());
        let plain = row("r2", HOSTILE);
        let r = report(
            vec![formula, plain],
            vec![Finding::GrantFailed {
                id: "r1".into(),
                account: None,
                error: None,
            }],
        );
        let text = to_csv(&r).unwrap();
        let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(text.as_bytes())
            .records()
            .map(|x| x.unwrap())
            .collect();
        assert_eq!(&rows[0][7], "'=HYPERLINK(\"http://x\")");
        assert_eq!(&rows[0][2], "'@evil");
        assert_eq!(&rows[0][15], "'+1");
        assert_eq!(&rows[0][18], "-1", "numbers are ours and stay numbers");
        assert_eq!(
            &rows[0][19], "",
            "a single-account request has no accounts cell"
        );
        assert_eq!(
            &rows[0][20], "",
            "an IAM grant has no session duration cell"
        );
        assert_eq!(&rows[0][21], "grant_failed");
        assert_eq!(&rows[1][7], HOSTILE, "other text is kept exactly");
        assert_eq!(&rows[1][21], "");
        for bad in ["-x", "\tx", "\rx"] {
            assert_eq!(csv_text(bad), format!("'{bad}"));
        }
    }

    #[test]
    fn catalog_changes_are_listed_in_the_page_and_the_text() {
        let mut r = report(vec![], vec![]);
        r.catalog_changes = vec![CatalogChangeRow {
            at: at(9),
            hash: "ab".repeat(32),
            previous_hash: None,
            source: "SSM parameter /stint/catalog version 2".into(),
            loaded_by: "system:stint-approve".into(),
            changes: vec!["role db-read: approver groups <owners> → leads".into()],
        }];
        let html = to_html(&r);
        assert!(html.contains("<h2>Catalog changes (1)</h2>"), "{html}");
        assert!(
            html.contains("<li>role db-read: approver groups &lt;owners&gt; → leads</li>"),
            "escaped: {html}"
        );
        let text = to_text(&r);
        assert!(
            text.contains("\nCatalog changes (1):\n- 2026-11-20T09:00:00Z catalog abab"),
            "{text}"
        );
        assert!(text.contains("\n    role db-read: approver groups <owners> → leads\n"));
        r.catalog_changes.clear();
        assert!(to_html(&r).contains("No catalog change was recorded in this period."));
    }

    #[test]
    fn finding_kinds_are_the_serde_tags() {
        let f = Finding::RevokeLag {
            id: "r1".into(),
            lag_seconds: 90,
        };
        assert_eq!(finding_kind(&f), "revoke_lag");
        assert_eq!(
            finding_kind(&Finding::BreakGlassNotReviewed {
                id: "r1".into(),
                review_by: at(1)
            }),
            "break_glass_not_reviewed"
        );
    }
}
