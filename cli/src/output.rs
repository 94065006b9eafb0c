//! Readable output: tables and timelines. `--json` skips all of this.

use serde_json::Value;
use std::fmt::Write;

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Aligned columns, padded to the widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
    };
    let _ = writeln!(
        out,
        "{}",
        line(header.iter().map(|h| h.to_string()).collect()).trim_end()
    );
    for r in rows {
        let _ = writeln!(out, "{}", line(r.clone()).trim_end());
    }
    out
}

pub fn expiry_note(v: &Value) -> String {
    match v["grant"]["expires_at"].as_str() {
        Some(e) if v["status"] == "active" => format!(" until {e}"),
        _ => String::new(),
    }
}

pub fn request(v: &Value) -> String {
    let r = &v["request"];
    format!(
        "{}  {}  {} {} on {} for {}{}\n",
        s(&v["id"]),
        s(&v["status"]),
        s(&r["role"]),
        r["scope"]
            .as_str()
            .map(|x| format!("[{x}]"))
            .unwrap_or_default(),
        s(&r["principal"]),
        s(&r["duration"]),
        expiry_note(v)
    ) + &request_accounts(v)
}

/// A request naming several accounts: one line per account, with where its grant stands
/// (and why it failed); nothing for a single-account request.
pub fn request_accounts(v: &Value) -> String {
    let Some(each) = v["accounts"].as_object() else {
        return String::new();
    };
    let mut out = String::new();
    for (account, g) in each {
        let why = g["error"]
            .as_str()
            .filter(|_| g["status"] != "revoked")
            .map(|e| format!("  ({e})"))
            .unwrap_or_default();
        let _ = writeln!(out, "  account {account}  {}{why}", s(&g["status"]));
    }
    out
}

pub fn list(v: &Value) -> String {
    let rows: Vec<Vec<String>> = v["requests"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    let q = &r["request"];
                    vec![
                        s(&r["id"]),
                        s(&r["status"]),
                        s(&q["role"]),
                        s(&q["scope"]),
                        s(&q["requester"]),
                        s(&q["duration"]),
                        s(&r["grant"]["expires_at"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    if rows.is_empty() {
        return "no requests\n".into();
    }
    let mut out = table(
        &[
            "ID",
            "STATUS",
            "ROLE",
            "SCOPE",
            "REQUESTER",
            "FOR",
            "EXPIRES",
        ],
        &rows,
    );
    if v["next_cursor"].is_string() {
        out.push_str("(more requests follow: raise --limit to see them)\n");
    }
    out
}

pub fn show(v: &Value) -> String {
    let r = &v["request"];
    let mut out = String::new();
    let _ = writeln!(out, "request    {}", s(&v["id"]));
    let _ = writeln!(out, "status     {}", s(&v["status"]));
    let _ = writeln!(
        out,
        "role       {} {}",
        s(&r["role"]),
        r["scope"].as_str().unwrap_or("")
    );
    let _ = writeln!(out, "principal  {}", s(&r["principal"]));
    if v["accounts"].is_object() {
        let _ = writeln!(out, "accounts\n{}", request_accounts(v).trim_end());
    }
    let _ = writeln!(out, "requester  {}", s(&r["requester"]));
    let _ = writeln!(out, "for        {}", s(&r["duration"]));
    let _ = writeln!(out, "reason     {}", s(&r["justification"]));
    if let Some(g) = v["grant"].as_object() {
        let _ = writeln!(
            out,
            "granted    {} .. {}  ({})",
            s(&g["starts_at"]),
            s(&g["expires_at"]),
            s(&g["policy_name"])
        );
    }
    if let Some(x) = v["revocation"].as_object() {
        let _ = writeln!(
            out,
            "revoked    {} ({}, {} s after expiry)",
            s(&x["at"]),
            s(&x["reason"]),
            s(&x["lag_seconds"])
        );
    }
    let _ = writeln!(out, "\ntimeline");
    let rows: Vec<Vec<String>> = v["timeline"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    vec![
                        s(&e["version"]),
                        s(&e["occurred_at"]),
                        s(&e["type"]),
                        s(&e["actor"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    out.push_str(&table(&["#", "AT", "EVENT", "BY"], &rows));
    if let Some(policy) = v["timeline"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["type"] == "AccessGranted"))
        .map(|e| &e["payload"]["policy"])
    {
        let _ = writeln!(
            out,
            "\npolicy attached\n{}",
            serde_json::to_string_pretty(policy).unwrap_or_default()
        );
    }
    out
}

/// Milliseconds as people read them.
fn ms(v: &Value) -> String {
    match v.as_i64() {
        Some(ms) => stint_app::render::report::duration_ms(ms),
        None => "-".into(),
    }
}

/// `GET /stats`: the window, then a row per measure, role and source.
pub fn stats(v: &Value) -> String {
    let mut out = format!(
        "service levels {} to {} ({} percentiles, {} streams read)\n",
        s(&v["from"]),
        s(&v["to"]),
        s(&v["percentile"]),
        s(&v["streams_checked"])
    );
    if let Some(broken) = v["broken"].as_array().filter(|b| !b.is_empty()) {
        let _ = writeln!(out, "BROKEN streams: {}", broken.len());
    }
    let rows: Vec<Vec<String>> = v["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    vec![
                        s(&r["measure"]),
                        s(&r["role"]),
                        s(&r["source"]),
                        s(&r["count"]),
                        ms(&r["p50_ms"]),
                        ms(&r["p90_ms"]),
                        ms(&r["p99_ms"]),
                        ms(&r["max_ms"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    if rows.is_empty() {
        out.push_str("nothing was approved, granted or revoked at expiry in this window\n");
        return out;
    }
    out.push_str(&table(
        &[
            "measure", "role", "source", "count", "p50", "p90", "p99", "max",
        ],
        &rows,
    ));
    out
}

/// Each role's accounts: one row per account covered, and the management account refused.
pub fn accounts(v: &Value) -> String {
    let mut rows = Vec::new();
    for r in v["roles"].as_array().into_iter().flatten() {
        let targets = r["targets"]
            .as_array()
            .map(|t| t.iter().map(s).collect::<Vec<_>>().join(","))
            .unwrap_or_default();
        for a in r["covered"].as_array().into_iter().flatten() {
            rows.push(vec![s(&r["role"]), s(a), "covered".into(), targets.clone()]);
        }
        if let Some(m) = r["refused_management"].as_str() {
            let why = "refused: management account".to_owned();
            rows.push(vec![s(&r["role"]), m.to_owned(), why, targets.clone()]);
        }
    }
    if rows.is_empty() {
        return "no role names accounts\n".into();
    }
    table(&["ROLE", "ACCOUNT", "STATUS", "FROM"], &rows)
}

/// A period's grants and their reviews, with coverage per role.
pub fn reviews(v: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "period {}  due {}{}",
        s(&v["period"]),
        s(&v["deadline"]),
        if v["overdue"] == true {
            "  (deadline passed)"
        } else {
            ""
        }
    );
    if let Some(cov) = v["coverage"].as_object() {
        for (role, c) in cov {
            let _ = writeln!(
                out,
                "{role}: {} of {} reviewed, {} inappropriate, {} unreviewed",
                s(&c["reviewed"]),
                s(&c["grants"]),
                s(&c["inappropriate"]),
                s(&c["unreviewed"])
            );
        }
    }
    if let Some(broken) = v["broken"].as_array().filter(|b| !b.is_empty()) {
        let _ = writeln!(out, "BROKEN streams: {}", broken.len());
    }
    let rows: Vec<Vec<String>> = v["grants"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|g| {
                    let review = match g["review"].as_object() {
                        Some(r) => format!("{} by {}", s(&r["verdict"]), s(&r["reviewer"])),
                        None if g["may_review"] == true => "to review".into(),
                        None => "-".into(),
                    };
                    vec![
                        s(&g["request_id"]),
                        s(&g["role"]),
                        s(&g["scope"]),
                        s(&g["requester"]),
                        s(&g["granted_at"]),
                        s(&g["status"]),
                        review,
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    if rows.is_empty() {
        out.push_str("no grants to show\n");
        return out;
    }
    out.push('\n');
    out.push_str(&table(
        &[
            "ID",
            "ROLE",
            "SCOPE",
            "REQUESTER",
            "GRANTED",
            "STATUS",
            "REVIEW",
        ],
        &rows,
    ));
    out
}

/// The request after a review: its id and the review recorded.
pub fn reviewed(v: &Value) -> String {
    let r = &v["review"];
    format!(
        "{}  {} by {} for {}{}\n",
        s(&v["id"]),
        s(&r["verdict"]),
        s(&r["reviewer"]),
        s(&r["period"]),
        r["comment"]
            .as_str()
            .map(|c| format!(": {c}"))
            .unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_for_several_accounts_prints_a_line_per_account() {
        let v = json!({
            "id": "01JDQZ8X3V2Q6W4M9K7T5R1N0A",
            "status": "active",
            "request": { "role": "dev-oncall", "principal": "arn:aws:iam::111111111111:role/stint/oncall", "duration": "1h" },
            "grant": {
                "starts_at": "2026-12-01T09:00:00Z",
                "expires_at": "2026-12-01T10:00:00Z",
                "policy_name": "stint-01JDQZ8X3V2Q6W4M9K7T5R1N0A"
            },
            "timeline": [],
            "accounts": {
                "111111111111": { "status": "active" },
                "222222222222": { "status": "grant_failed", "error": "role does not exist" },
                "333333333333": { "status": "revoked", "error": "throttled once" }
            }
        });
        let out = request(&v);
        assert!(out.contains("  account 111111111111  active\n"), "{out}");
        assert!(
            out.contains("  account 222222222222  grant_failed  (role does not exist)\n"),
            "{out}"
        );
        assert!(out.contains("  account 333333333333  revoked\n"), "{out}");
        let single = json!({ "id": "x", "status": "active", "request": {} });
        assert!(!request(&single).contains("account"));
        assert!(show(&v).contains("accounts\n  account 111111111111  active"));
    }
}
