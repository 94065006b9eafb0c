//! `stint doctor`: checks what the CLI depends on, one line each, and says what to do about a
//! failure: the settings, the API, the clock against the server's, the sign-in, whether the API
//! takes the token, (given `--catalog`) a catalog file, and (given `--stack`) a deployment's
//! CloudFormation stack and each of its outputs. And `stint init`, which writes a starter
//! catalog.

use crate::config::Settings;
use crate::Failure;
use std::path::Path;
use std::time::{Duration, Instant};

/// How far the local clock may be from the server's before tokens start failing (their
/// validators allow a few seconds of leeway).
const SKEW_WARN: i64 = 30;

struct Report {
    failed: usize,
    json: bool,
    lines: Vec<serde_json::Value>,
}

impl Report {
    fn check(&mut self, name: &str, result: Result<String, String>) {
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => {
                self.failed += 1;
                (false, d)
            }
        };
        if self.json {
            self.lines
                .push(serde_json::json!({ "check": name, "ok": ok, "detail": detail }));
        } else {
            println!("{} {name}: {detail}", if ok { "ok  " } else { "FAIL" });
        }
    }
}

pub fn doctor(
    s: &Settings,
    token: Result<Option<String>, Failure>,
    catalog: Option<&Path>,
    stack_name: Option<&str>,
) -> Result<(), Failure> {
    let mut r = Report {
        failed: 0,
        json: s.json,
        lines: vec![],
    };
    r.check(
        "settings",
        Ok(format!(
            "profile {}, API {}, issuer {}, client {} (settings in {})",
            s.profile,
            s.api,
            s.issuer,
            s.client_id,
            s.dir.display()
        )),
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    // The API answers, and says what time it is.
    let started = Instant::now();
    let url = format!("{}/openapi.yaml", s.api);
    let answer = agent.get(&url).call();
    let server_date = match &answer {
        Ok(a) if a.status().as_u16() == 200 => {
            r.check(
                "api",
                Ok(format!(
                    "{url} answered in {} ms",
                    started.elapsed().as_millis()
                )),
            );
            a.headers()
                .get("date")
                .and_then(|d| d.to_str().ok())
                .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
        }
        Ok(a) => {
            r.check(
                "api",
                Err(format!(
                    "{url} answered {}: is this Stint's API? (stint config set api <url>)",
                    a.status()
                )),
            );
            None
        }
        Err(e) => {
            r.check(
                "api",
                Err(format!("cannot reach {url}: {e} (is `stint serve` running? stint config set api <url>)")),
            );
            None
        }
    };
    if let Some(d) = server_date {
        let skew = (chrono::Utc::now() - d.with_timezone(&chrono::Utc)).num_seconds();
        r.check(
            "clock",
            if skew.abs() <= SKEW_WARN {
                Ok(format!("{skew:+} s from the server's"))
            } else {
                Err(format!(
                    "{skew:+} s from the server's: tokens will look expired or not yet valid; set this machine's clock (NTP)"
                ))
            },
        );
    }
    // Signed in, and the API takes it.
    match token {
        Ok(Some(t)) => {
            r.check("sign-in", Ok(describe(&t)));
            let url = format!("{}/requests?limit=1&days=1", s.api);
            match agent
                .get(&url)
                .header("Authorization", format!("Bearer {t}"))
                .call()
            {
                Ok(a) if a.status().as_u16() == 200 => {
                    r.check("token", Ok("the API accepts it".into()))
                }
                Ok(mut a) => {
                    let body = a.body_mut().read_to_string().unwrap_or_default();
                    r.check(
                        "token",
                        Err(format!("the API refused it ({}): {body}", a.status())),
                    );
                }
                Err(e) => r.check("token", Err(format!("cannot reach {url}: {e}"))),
            }
        }
        Ok(None) => r.check(
            "sign-in",
            Err("not signed in: run `stint login` (or give --token)".into()),
        ),
        Err(e) => r.check("sign-in", Err(e.message)),
    }
    if let Some(path) = catalog {
        let result = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: {e}", path.display()))
            .and_then(|text| {
                stint_domain::Catalog::from_toml(&text)
                    .map(|c| format!("{}: {} roles, valid", path.display(), c.roles.len()))
                    .map_err(|e| format!("{}: {e}", path.display()))
            });
        r.check("catalog", result);
    }
    if let Some(name) = stack_name {
        stack(&mut r, s, name);
    }
    if r.json {
        println!(
            "{}",
            serde_json::json!({ "failed": r.failed, "checks": r.lines })
        );
    }
    if r.failed > 0 {
        return Err(Failure {
            code: 1,
            message: format!("{} check(s) failed", r.failed),
        });
    }
    Ok(())
}

/// Who a token names and until when, read without verifying (the API verifies).
fn describe(token: &str) -> String {
    match crate::login::claims(token) {
        Ok(c) => {
            let until = c["exp"]
                .as_i64()
                .and_then(|e| chrono::DateTime::from_timestamp(e, 0))
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "?".into());
            format!(
                "{} from {}, valid until {until}",
                c["email"].as_str().or(c["sub"].as_str()).unwrap_or("?"),
                c["iss"].as_str().unwrap_or("?")
            )
        }
        Err(_) => "a token that is not a JWT".into(),
    }
}

/// The example catalog, every key explained in its comments.
pub const STARTER: &str = include_str!("../../infra/catalog.example.toml");

/// `stint init`: writes the starter catalog, never over an existing file.
pub fn init(path: &Path) -> Result<(), Failure> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::usage(format!("{} exists; not overwriting it", path.display()))
        } else {
            Failure::trouble(format!("{}: {e}", path.display()))
        }
    })?;
    std::io::Write::write_all(&mut f, STARTER.as_bytes())
        .map_err(|e| Failure::trouble(format!("{}: {e}", path.display())))?;
    println!(
        "wrote {p}: a starter catalog; each key is explained in its comments.\n\
         Edit the account ids, roles and groups, then: stint serve --catalog {p}",
        p = path.display()
    );
    Ok(())
}

/// The outputs `stint doctor --stack` reads, as the template names them.
const OUTPUTS: [&str; 5] = [
    "ApiUrl",
    "EventsTableName",
    "ReportBucketName",
    "CheckpointKeyArn",
    "BusName",
];

/// `stint doctor --stack NAME`: the deployment as CloudFormation describes it (AWS configuration
/// from the environment; AWS_ENDPOINT_URL is honoured), and each of its outputs reached.
fn stack(r: &mut Report, s: &Settings, name: &str) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return r.check("stack", Err(e.to_string())),
    };
    rt.block_on(async {
        let sdk = stint_aws::sdk_config().await;
        let cfn = aws_sdk_cloudformation::Client::new(&sdk);
        let described = cfn.describe_stacks().stack_name(name).send().await;
        let found = match described {
            Ok(out) => out.stacks().first().cloned(),
            Err(e) => {
                return r.check(
                    "stack",
                    Err(format!("cannot describe stack {name}: {}", aws_error(&e))),
                )
            }
        };
        let Some(st) = found else {
            return r.check("stack", Err(format!("no stack {name}")));
        };
        let status = st
            .stack_status()
            .map(|x| x.as_str().to_owned())
            .unwrap_or_default();
        r.check(
            "stack",
            if status.ends_with("_COMPLETE")
                && !status.contains("ROLLBACK")
                && !status.contains("DELETE")
            {
                Ok(format!("{name} is {status}"))
            } else {
                Err(format!("{name} is {status}: deploy it again (sam deploy)"))
            },
        );
        let outputs: std::collections::BTreeMap<String, String> = st
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
            .collect();
        let missing: Vec<&str> = OUTPUTS
            .into_iter()
            .filter(|k| !outputs.contains_key(*k))
            .collect();
        r.check(
            "stack outputs",
            if missing.is_empty() {
                Ok(format!("{} outputs", OUTPUTS.len()))
            } else {
                Err(format!(
                    "missing {}: is this a Stint stack?",
                    missing.join(", ")
                ))
            },
        );
        if let Some(url) = outputs.get("ApiUrl") {
            let url = url.trim_end_matches('/');
            r.check(
                "stack api",
                if url == s.api {
                    Ok(format!("the profile's API is the stack's ({url})"))
                } else {
                    Err(format!(
                        "the profile's API is {}, the stack's is {url}: stint config set api {url}",
                        s.api
                    ))
                },
            );
        }
        if let Some(table) = outputs.get("EventsTableName") {
            let ok = aws_sdk_dynamodb::Client::new(&sdk)
                .describe_table()
                .table_name(table)
                .send()
                .await;
            r.check(
                "events table",
                ok.map(|_| format!("{table} is there"))
                    .map_err(|e| format!("{table}: {}", aws_error(&e))),
            );
        }
        if let Some(bucket) = outputs.get("ReportBucketName") {
            let ok = aws_sdk_s3::Client::new(&sdk)
                .head_bucket()
                .bucket(bucket)
                .send()
                .await;
            r.check(
                "report bucket",
                ok.map(|_| format!("{bucket} is there"))
                    .map_err(|e| format!("{bucket}: {}", aws_error(&e))),
            );
        }
        if let Some(key) = outputs.get("CheckpointKeyArn") {
            let ok = aws_sdk_kms::Client::new(&sdk)
                .get_public_key()
                .key_id(key)
                .send()
                .await;
            r.check(
                "checkpoint key",
                ok.map(|_| "its public key can be read (stint verify --key-id)".to_owned())
                    .map_err(|e| format!("{key}: {}", aws_error(&e))),
            );
        }
    });
}

/// An SDK error as a person reads it: the service's code and message, not a debug dump.
fn aws_error<E: std::error::Error + 'static>(e: &E) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_starter_catalog_loads() {
        let c = stint_domain::Catalog::from_toml(super::STARTER).unwrap();
        assert!(!c.roles.is_empty());
    }
}
