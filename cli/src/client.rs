//! The HTTP client side of `stint`: each command is one or two calls to the API.

use crate::output;
use crate::{Cli, Command, Failure};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};
use stint_domain::{AccessDuration, GroupName, RequestId, UserId};
use stint_http::claims::ClaimRules;
use stint_http::jwt::LocalJwt;

pub struct Client {
    api: String,
    /// The profile's default principal, for `stint request` without `--principal`.
    principal: Option<String>,
    token: Option<String>,
    json: bool,
    agent: ureq::Agent,
}

/// `stint token`: a local token, signed with the key `stint serve` uses.
pub fn token(
    user: &UserId,
    groups: &[GroupName],
    ttl: AccessDuration,
    data: &Path,
) -> Result<(), Failure> {
    // The same claim names `stint serve` reads (STINT_USER_CLAIM, STINT_GROUPS_CLAIM).
    let jwt = LocalJwt::load_or_create(data)
        .map_err(|e| Failure::trouble(format!("{}: {e}", data.display())))?
        .with_rules(ClaimRules::from_env());
    let token = jwt
        .issue(user, groups, ttl.to_chrono(), chrono::Utc::now())
        .map_err(|e| Failure::trouble(e.0))?;
    println!("{token}");
    Ok(())
}

pub fn pipeline_token(
    repository: &str,
    git_ref: &str,
    environment: Option<&str>,
    ttl: AccessDuration,
    data: &Path,
) -> Result<(), Failure> {
    let jwt = LocalJwt::load_or_create(data)
        .map_err(|e| Failure::trouble(format!("{}: {e}", data.display())))?;
    let token = jwt
        .issue_pipeline(
            repository,
            git_ref,
            environment,
            ttl.to_chrono(),
            chrono::Utc::now(),
        )
        .map_err(|e| Failure::trouble(e.0))?;
    println!("{token}");
    Ok(())
}

/// The bearer token: `--token`, `STINT_TOKEN`, `--token-file`, or else the profile's sign-in
/// (refreshed if it has expired).
pub fn token_from(
    cli: &Cli,
    settings: &crate::config::Settings,
) -> Result<Option<String>, Failure> {
    Ok(match (&cli.token, &cli.token_file) {
        (Some(t), _) => Some(t.trim().to_owned()),
        (None, Some(f)) => Some(
            std::fs::read_to_string(f)
                .map_err(|e| Failure::usage(format!("{}: {e}", f.display())))?
                .trim()
                .to_owned(),
        ),
        (None, None) => crate::login::cached_token(settings)?,
    })
}

impl Client {
    pub fn new(cli: &Cli, settings: &crate::config::Settings) -> Result<Client, Failure> {
        let token = token_from(cli, settings)?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Ok(Client {
            api: settings.api.clone(),
            principal: settings.principal.clone(),
            token,
            json: settings.json,
            agent,
        })
    }

    /// A GET whose body is printed as it comes (CSV, HTML).
    fn get_text(&self, path: &str) -> Result<String, Failure> {
        let url = format!("{}{path}", self.api);
        let mut r = self.agent.get(&url);
        if let Some(t) = &self.token {
            r = r.header("Authorization", format!("Bearer {t}"));
        }
        let mut response = r
            .call()
            .map_err(|e| Failure::trouble(format!("cannot reach {url}: {e}")))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(512 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| Failure::trouble(e.to_string()))?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let message = format!(
            "{} ({} {status})",
            v["message"].as_str().unwrap_or("no message"),
            v["error"].as_str().unwrap_or("error")
        );
        Err(if status >= 500 {
            Failure::trouble(message)
        } else {
            Failure { code: 1, message }
        })
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.api);
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let response = match (method, body) {
            ("GET", _) => {
                let mut r = self.agent.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            (_, body) => {
                let mut r = self.agent.post(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.send_json(body.unwrap_or_else(|| json!({})))
            }
        };
        let mut response =
            response.map_err(|e| Failure::trouble(format!("cannot reach {url}: {e}")))?;
        let status = response.status().as_u16();
        let value: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let message = value["message"].as_str().unwrap_or("no message");
        let field = value["field"]
            .as_str()
            .map(|f| format!(", field {f}"))
            .unwrap_or_default();
        let text = format!(
            "{message} ({} {status}{field})",
            value["error"].as_str().unwrap_or("error")
        );
        Err(if status >= 500 {
            Failure::trouble(text)
        } else {
            Failure {
                code: 1,
                message: text,
            }
        })
    }

    fn print(&self, value: &Value, table: impl FnOnce(&Value) -> String) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
        } else {
            print!("{}", table(value));
        }
    }

    /// `GET /requests` page after page, following `next_cursor` until there are no more or
    /// `limit` requests are in hand. Returns `{"requests": [...]}`, with the `next_cursor` to
    /// go on from when `limit` stopped it early.
    fn list_pages(&self, query: &[String], limit: Option<usize>) -> Result<Value, Failure> {
        const PAGE: usize = 200; // the API's largest page
        let mut all: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let want = limit.map_or(PAGE, |l| (l - all.len()).min(PAGE));
            let mut q = query.to_vec();
            q.push(format!("limit={want}"));
            if let Some(c) = &cursor {
                q.push(format!("cursor={c}"));
            }
            let v = self.call("GET", &format!("/requests?{}", q.join("&")), None)?;
            if let Some(page) = v["requests"].as_array() {
                all.extend(page.iter().cloned());
            }
            cursor = v["next_cursor"].as_str().map(str::to_owned);
            let full = limit.is_some_and(|l| all.len() >= l);
            if cursor.is_none() || full {
                break;
            }
        }
        let mut out = json!({ "requests": all });
        if let Some(c) = cursor {
            out["next_cursor"] = json!(c);
        }
        Ok(out)
    }

    /// `stint request` without its role or reason: on a terminal, offers what the caller may
    /// request (from `GET /roles`) and asks; elsewhere, says what is missing and what is offered.
    fn ask_interactively(
        &self,
        role: Option<&stint_domain::RoleName>,
        reason: Option<&stint_domain::Justification>,
    ) -> Result<Value, Failure> {
        use std::io::IsTerminal;
        let offers = self.call("GET", "/roles", None)?;
        let offers = offers["roles"].as_array().cloned().unwrap_or_default();
        let names: Vec<String> = offers
            .iter()
            .filter_map(|o| o["role"].as_str().map(str::to_owned))
            .collect();
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            let missing = if role.is_none() { "a role" } else { "--reason" };
            return Err(Failure::usage(format!(
                "stint request needs {missing}; the roles you may request: {}",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            )));
        }
        if names.is_empty() {
            return Err(Failure::usage("the catalog lets you request no role"));
        }
        let fail = |e: dialoguer::Error| Failure::usage(format!("cancelled: {e}"));
        let pick = match role {
            Some(r) => names.iter().position(|n| n == r.as_str()).ok_or_else(|| {
                Failure::usage(format!(
                    "you may not request {r}; you may request: {}",
                    names.join(", ")
                ))
            })?,
            None => {
                let labels: Vec<String> = offers
                    .iter()
                    .map(|o| {
                        format!(
                            "{} — {} (default {}, at most {})",
                            o["role"].as_str().unwrap_or(""),
                            o["description"].as_str().unwrap_or(""),
                            o["default_duration"].as_str().unwrap_or("?"),
                            o["max_duration"].as_str().unwrap_or("?")
                        )
                    })
                    .collect();
                dialoguer::Select::new()
                    .with_prompt("Role")
                    .items(&labels)
                    .default(0)
                    .interact()
                    .map_err(fail)?
            }
        };
        let offer = &offers[pick];
        let strings = |k: &str| -> Vec<String> {
            offer[k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let literal = |p: &String| !p.contains('*') && !p.contains('?') && !p.contains('{');
        let scopes = strings("scopes");
        let scope = if scopes.is_empty() {
            None
        } else if scopes.iter().all(literal) {
            let i = dialoguer::Select::new()
                .with_prompt("Scope")
                .items(&scopes)
                .default(0)
                .interact()
                .map_err(fail)?;
            Some(scopes[i].clone())
        } else {
            Some(
                dialoguer::Input::<String>::new()
                    .with_prompt(format!("Scope (one of {})", scopes.join(", ")))
                    .interact_text()
                    .map_err(fail)?,
            )
        };
        let mut principal = dialoguer::Input::<String>::new().with_prompt(format!(
            "Principal (an IAM role ARN matching {})",
            strings("principals").join(" or ")
        ));
        if let Some(p) = &self.principal {
            principal = principal.default(p.clone());
        }
        let principal = principal.interact_text().map_err(fail)?;
        let duration = dialoguer::Input::<String>::new()
            .with_prompt(format!(
                "Duration (at most {})",
                offer["max_duration"].as_str().unwrap_or("?")
            ))
            .default(
                offer["default_duration"]
                    .as_str()
                    .unwrap_or("1h")
                    .to_owned(),
            )
            .interact_text()
            .map_err(fail)?;
        let reason = match reason {
            Some(r) => r.as_str().to_owned(),
            None => dialoguer::Input::<String>::new()
                .with_prompt("Reason")
                .interact_text()
                .map_err(fail)?,
        };
        Ok(json!({
            "role": names[pick],
            "scope": scope,
            "principal": principal,
            "duration": duration,
            "justification": reason,
        }))
    }

    pub fn run(&self, command: &Command) -> Result<(), Failure> {
        match command {
            Command::Request {
                role,
                scope,
                duration,
                reason,
                ticket,
                principal,
                accounts,
                all_accounts,
                start,
                break_glass,
                quiet,
            } => {
                let body = match (role, reason) {
                    (Some(role), Some(reason)) => {
                        let principal = match principal {
                            Some(p) => p.clone(),
                            None => self.principal.clone().ok_or_else(|| {
                                Failure::usage(
                                    "--principal is required (or set the profile's: stint config set principal <arn>)",
                                )
                            })?,
                        };
                        json!({
                            "role": role,
                            "principal": principal,
                            "accounts": (!accounts.is_empty()).then_some(accounts),
                            "all_accounts": all_accounts.then_some(true),
                            "justification": reason,
                            "break_glass": break_glass,
                            "scope": scope,
                            "duration": duration,
                            "ticket": ticket,
                            "start": start,
                        })
                    }
                    _ => self.ask_interactively(role.as_ref(), reason.as_ref())?,
                }
                .without_nulls();
                let v = self.call("POST", "/requests", Some(body))?;
                if *quiet {
                    println!("{}", v["id"].as_str().unwrap_or_default());
                } else {
                    self.print(&v, output::request);
                }
            }
            Command::Approve { id, comment } => {
                let v = self.call(
                    "POST",
                    &format!("/requests/{id}/approve"),
                    Some(json!({ "comment": comment }).without_nulls()),
                )?;
                self.print(&v, output::request);
            }
            Command::Deny { id, reason } => {
                let v = self.call(
                    "POST",
                    &format!("/requests/{id}/deny"),
                    Some(json!({ "reason": reason }).without_nulls()),
                )?;
                self.print(&v, output::request);
            }
            Command::Cancel { id } => {
                let v = self.call("POST", &format!("/requests/{id}/cancel"), None)?;
                self.print(&v, output::request);
            }
            Command::Revoke { id } => {
                let v = self.call("POST", &format!("/requests/{id}/revoke"), None)?;
                self.print(&v, output::request);
            }
            Command::Extend { id, duration } => {
                let v = self.call(
                    "POST",
                    &format!("/requests/{id}/extend"),
                    Some(json!({ "duration": duration })),
                )?;
                self.print(&v, output::request);
            }
            Command::Ls {
                pending,
                mine,
                active,
                awaiting,
                days,
                limit,
            } => {
                let mut q = vec![format!("days={days}")];
                if *pending {
                    q.push("status=pending".into());
                }
                if *active {
                    q.push("status=active".into());
                }
                if *mine {
                    q.push("mine=true".into());
                }
                if *awaiting {
                    q.push("awaiting=true".into());
                }
                let v = self.list_pages(&q, limit.map(|n| n as usize))?;
                self.print(&v, output::list);
            }
            Command::Accounts { role } => {
                let path = match role {
                    Some(r) => format!("/accounts?role={r}"),
                    None => "/accounts".into(),
                };
                let v = self.call("GET", &path, None)?;
                self.print(&v, output::accounts);
            }
            Command::Show { id } => {
                let v = self.call("GET", &format!("/requests/{id}"), None)?;
                self.print(&v, output::show);
            }
            Command::Watch { id, timeout } => self.watch(*id, *timeout)?,
            Command::Report { from, to, format } => {
                let mut q = vec![format!("format={format}")];
                for (k, v) in [("from", from), ("to", to)] {
                    if let Some(v) = v {
                        // UTC with a Z: nothing in it needs percent-encoding.
                        let v = v.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
                        q.push(format!("{k}={v}"));
                    }
                }
                let progress = crate::progress::Progress::start(self.json, "compiling the report");
                let text = self.get_text(&format!("/reports?{}", q.join("&")))?;
                drop(progress);
                print!("{text}");
            }
            Command::Stats { from, to, format } => {
                let mut q = Vec::new();
                for (k, v) in [("from", from), ("to", to)] {
                    if let Some(v) = v {
                        // UTC with a Z: nothing in it needs percent-encoding.
                        let v = v.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
                        q.push(format!("{k}={v}"));
                    }
                }
                if format == "csv" && !self.json {
                    q.push("format=csv".into());
                    print!("{}", self.get_text(&format!("/stats?{}", q.join("&")))?);
                } else {
                    let v = self.call("GET", &format!("/stats?{}", q.join("&")), None)?;
                    self.print(&v, output::stats);
                }
            }
            Command::Review {
                id: Some(id),
                verdict,
                comment,
                period,
                ..
            } => {
                let body = json!({ "verdict": verdict, "comment": comment, "period": period })
                    .without_nulls();
                let v = self.call("POST", &format!("/reviews/{id}"), Some(body))?;
                self.print(&v, output::reviewed);
            }
            Command::Review {
                id: None,
                period,
                todo,
                ..
            } => {
                let query = period.map(|p| format!("?period={p}")).unwrap_or_default();
                let mut v = self.call("GET", &format!("/reviews{query}"), None)?;
                if *todo {
                    if let Some(grants) = v["grants"].as_array_mut() {
                        grants.retain(|g| g["may_review"] == true);
                    }
                }
                self.print(&v, output::reviews);
            }
            Command::Serve(_)
            | Command::Token { .. }
            | Command::PipelineToken { .. }
            | Command::Verify { .. }
            | Command::Checkpoint { .. }
            | Command::Login { .. }
            | Command::Logout
            | Command::Config { .. }
            | Command::Completions { .. }
            | Command::Man
            | Command::Doctor { .. }
            | Command::Init { .. }
            | Command::Evidence(_)
            | Command::Cost(_) => unreachable_command()?,
        }
        Ok(())
    }

    /// Polls once a second and prints each status change, until granted or ended.
    fn watch(&self, id: RequestId, limit: AccessDuration) -> Result<(), Failure> {
        let deadline = Instant::now() + Duration::from_secs(limit.secs());
        let mut last = String::new();
        let progress = crate::progress::Progress::start(self.json, &format!("watching {id}"));
        loop {
            let v = self.call("GET", &format!("/requests/{id}"), None)?;
            let status = v["status"].as_str().unwrap_or("?").to_owned();
            if status != last {
                if self.json {
                    println!(
                        "{}",
                        json!({ "id": id, "status": status, "expires_at": v["grant"]["expires_at"] })
                    );
                } else {
                    progress.println(&format!(
                        "{} {status}{}",
                        chrono::Utc::now().format("%H:%M:%S"),
                        output::expiry_note(&v)
                    ));
                    progress.say(format!(
                        "{id} is {status}: waiting for it to be granted or to end"
                    ));
                }
                last = status.clone();
            }
            match status.as_str() {
                "active" | "revoked" => return Ok(()),
                "denied" | "cancelled" | "lapsed" | "grant_failed" => {
                    return Err(Failure {
                        code: 5,
                        message: format!("request {id} ended {status}"),
                    })
                }
                _ if Instant::now() >= deadline => {
                    return Err(Failure {
                        code: 5,
                        message: format!("still {status} after {limit}"),
                    })
                }
                _ => std::thread::sleep(Duration::from_secs(1)),
            }
        }
    }
}

fn unreachable_command() -> Result<(), Failure> {
    Err(Failure::usage("this command does not call the API"))
}

trait WithoutNulls {
    fn without_nulls(self) -> Value;
}
impl WithoutNulls for Value {
    fn without_nulls(mut self) -> Value {
        if let Some(m) = self.as_object_mut() {
            m.retain(|_, v| !v.is_null());
        }
        self
    }
}
