//! `stint`: ask for, decide on and inspect access requests, and `stint serve`, the whole
//! broker on one machine. Exit codes: 0 done, 1 refused by the API, 2 usage, 3 server or
//! network trouble, 4 verification failed, 5 the watched request ended without a grant, 6 a
//! sign-in is needed (or was refused).

mod audit;
mod client;
mod config;
mod cost;
mod doctor;
mod evidence;
mod login;
mod output;
mod progress;
mod serve;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use stint_domain::org::AccountId;
use stint_domain::{
    AccessDuration, GroupName, Justification, Period, PrincipalArn, RequestId, ReviewComment,
    RoleName, Scope, TicketRef, UserId, Verdict,
};

#[derive(Parser)]
#[command(
    name = "stint",
    version,
    about = "Temporary, scoped, audited production access"
)]
struct Cli {
    /// The API: `stint serve`'s address, or the API Gateway URL [default: the profile's, else
    /// http://127.0.0.1:8787].
    #[arg(long, global = true, env = "STINT_API")]
    api: Option<String>,
    /// The settings profile (`stint config`) [default: the file's default_profile, else
    /// `default`].
    #[arg(long, global = true, env = "STINT_PROFILE")]
    profile: Option<String>,
    /// A bearer token (default: the profile's `stint login`; `stint token` locally).
    #[arg(long, global = true, env = "STINT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// A file holding the bearer token.
    #[arg(long, global = true, env = "STINT_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// Print JSON instead of tables, for scripts.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole broker locally: HTTP API, embedded store, in-process bus and timers.
    Serve(serve::ServeArgs),
    /// Print a local bearer token for a user, signed with the key in the data folder.
    Token {
        #[arg(long)]
        user: UserId,
        /// Comma-separated groups.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<GroupName>,
        #[arg(long, default_value = "12h")]
        ttl: AccessDuration,
        #[arg(long, default_value = ".stint")]
        data: PathBuf,
    },
    /// Print a local CI-job token (the second issuer, standing in for GitHub Actions OIDC),
    /// for the `/pipeline` routes.
    PipelineToken {
        #[arg(long)]
        repository: String,
        #[arg(long = "ref")]
        git_ref: String,
        #[arg(long)]
        environment: Option<String>,
        #[arg(long, default_value = "1h")]
        ttl: AccessDuration,
        #[arg(long, default_value = ".stint")]
        data: PathBuf,
    },
    /// Sign in with the profile's issuer (OIDC, PKCE, a loopback redirect) and remember it.
    Login {
        /// Only print the sign-in URL (for a machine with no browser: open it elsewhere, on a
        /// browser that can reach this machine's loopback address through a tunnel).
        #[arg(long)]
        no_browser: bool,
        /// Sign in with a code entered on any browser (the device authorization grant), where
        /// the issuer offers it.
        #[arg(long, conflicts_with = "no_browser")]
        device: bool,
    },
    /// Forget the profile's sign-in.
    Logout,
    /// Read and change the settings file's profiles.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Print a shell completion script: `stint completions bash > /etc/bash_completion.d/stint`.
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff): `stint man | man -l -`.
    Man,
    /// Check the settings, the API, the clock, the sign-in, and (with --catalog) a catalog or
    /// (with --stack) a deployment.
    Doctor {
        /// A catalog file to check too (local mode).
        #[arg(long)]
        catalog: Option<PathBuf>,
        /// A deployment's CloudFormation stack to check: its status, its outputs, that the
        /// profile's API is its ApiUrl, and that its table, bucket and key are there (AWS
        /// configuration from the environment).
        #[arg(long)]
        stack: Option<String>,
    },
    /// Write a starter catalog, each key explained, to start from.
    Init {
        #[arg(default_value = "stint.toml")]
        path: PathBuf,
    },
    /// Ask for a role. Without a role, on a terminal, it offers the roles, scopes and
    /// principals you may use and asks for each; elsewhere it says which roles you may request.
    Request {
        role: Option<RoleName>,
        #[arg(long)]
        scope: Option<Scope>,
        /// How long, e.g. 30m, 1h30m (the role's default when left out).
        #[arg(long = "for")]
        duration: Option<AccessDuration>,
        #[arg(long, value_parser = Justification::parse)]
        reason: Option<Justification>,
        #[arg(long, value_parser = TicketRef::parse)]
        ticket: Option<TicketRef>,
        /// The IAM role ARN to attach the grant to [default: the profile's principal]. With
        /// --account or --all-accounts, write its account as {account}.
        #[arg(long, env = "STINT_PRINCIPAL", value_parser = principal_arg)]
        principal: Option<String>,
        /// An account of the role to grant in; repeat it for several (one approval covers
        /// them all, each account gets its own grant).
        #[arg(long = "account", value_parser = AccountId::parse)]
        accounts: Vec<AccountId>,
        /// Every account the role covers now (meant for break-glass; at most 50).
        #[arg(long, conflicts_with = "accounts")]
        all_accounts: bool,
        /// A scheduled start (RFC 3339).
        #[arg(long, value_parser = rfc3339)]
        start: Option<DateTime<Utc>>,
        #[arg(long)]
        break_glass: bool,
        /// Print only the new request's id, for scripts: `ID=$(stint request ... --quiet)`.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Approve a request.
    Approve {
        id: RequestId,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Deny a request.
    Deny {
        id: RequestId,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Cancel your own pending request.
    Cancel { id: RequestId },
    /// Revoke an active grant now.
    Revoke { id: RequestId },
    /// Extend an active grant: your own where the role lets you, or as one of its approvers.
    Extend {
        id: RequestId,
        /// How much longer, e.g. 30m, 1h.
        #[arg(long = "for")]
        duration: AccessDuration,
    },
    /// List requests.
    Ls {
        #[arg(long)]
        pending: bool,
        #[arg(long)]
        mine: bool,
        #[arg(long)]
        active: bool,
        /// Pending requests you may approve.
        #[arg(long)]
        awaiting: bool,
        #[arg(long, default_value_t = 14)]
        days: u32,
        /// Show at most this many (default: every page the API has, following `next_cursor`).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
    },
    /// Show a request and its timeline.
    Show { id: RequestId },
    /// The accounts each role that names accounts, OUs or the root grants in now (resolved
    /// through AWS Organizations), and the management account where a role's entries reach it
    /// but the role does not allow it.
    Accounts {
        #[arg(long)]
        role: Option<RoleName>,
    },
    /// Wait until a request is granted or ends, showing each change.
    Watch {
        id: RequestId,
        #[arg(long, default_value = "15m")]
        timeout: AccessDuration,
    },
    /// The compliance report for a period (auditor or admin groups).
    Report {
        /// Start (RFC 3339); default: seven whole days ago.
        #[arg(long, value_parser = rfc3339)]
        from: Option<DateTime<Utc>>,
        /// End (RFC 3339); default: the start of today (UTC).
        #[arg(long, value_parser = rfc3339)]
        to: Option<DateTime<Utc>>,
        #[arg(long, default_value = "csv", value_parser = ["csv", "json", "html"])]
        format: String,
    },
    /// Service levels from the event log: p50, p90 and p99 of time to approve,
    /// approved-to-granted and revoke lag, per role and source (auditor or admin groups).
    Stats {
        /// Start (RFC 3339); default: seven whole days ago.
        #[arg(long, value_parser = rfc3339)]
        from: Option<DateTime<Utc>>,
        /// End (RFC 3339); default: the start of today (UTC).
        #[arg(long, value_parser = rfc3339)]
        to: Option<DateTime<Utc>>,
        /// table (default), or csv; --json for the API's JSON.
        #[arg(long, default_value = "table", value_parser = ["table", "csv"])]
        format: String,
    },
    /// Access reviews: list a period's grants and their reviews, or judge one grant.
    Review {
        /// The request whose grant to judge (with --verdict); without it, list the period.
        #[arg(requires = "verdict")]
        id: Option<RequestId>,
        /// appropriate or inappropriate.
        #[arg(long, requires = "id")]
        verdict: Option<Verdict>,
        /// Why; required for inappropriate.
        #[arg(long, requires = "id", value_parser = ReviewComment::parse)]
        comment: Option<ReviewComment>,
        /// The review period, YYYY-MM (default: the current month, UTC). With an id, it must be
        /// the grant's own period.
        #[arg(long)]
        period: Option<Period>,
        /// List only the grants you may still review.
        #[arg(long, conflicts_with = "id")]
        todo: bool,
    },
    /// Audit the whole store: every event's hash, every chain, the index attributes, and the
    /// store against the signed checkpoints (the local data folder, or a deployment's table).
    Verify {
        #[command(flatten)]
        target: audit::Target,
        /// A trusted copy of the checkpoints' public key (PEM): for the store, instead of the
        /// one beside the checkpoints; with --evidence, instead of the pack's own.
        #[arg(long)]
        public_key: Option<PathBuf>,
        /// Also print the digest of the events in a period: its start (RFC 3339).
        #[arg(long, value_parser = rfc3339, requires = "to")]
        from: Option<DateTime<Utc>>,
        /// The period's end (RFC 3339).
        #[arg(long, value_parser = rfc3339, requires = "from")]
        to: Option<DateTime<Utc>>,
        /// Check an evidence pack (`stint evidence`) instead, offline.
        #[arg(long, value_name = "PACK")]
        evidence: Option<PathBuf>,
    },
    /// Write a signed checkpoint of the stream heads that moved since the last one.
    Checkpoint {
        #[command(flatten)]
        target: audit::Target,
    },
    /// Build the evidence pack of a period: report, events, checkpoints, key and VERIFY.md.
    Evidence(evidence::EvidenceArgs),
    /// What Stint costs on AWS per 1,000 lifecycles and per month, from measured units.
    Cost(cost::CostArgs),
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Set a key of the profile: api, issuer, client_id, principal, output (table or json).
    Set { key: String, value: String },
    /// Remove a key from the profile.
    Unset { key: String },
    /// Print a key of the profile as it is in effect (flags and environment included).
    Get { key: String },
    /// Print every key of the profile in effect, and the other profiles' names.
    List,
    /// Make a profile the default.
    Use { profile: String },
}

fn settings(cli: &Cli) -> Result<config::Settings, Failure> {
    let dir = config::dir()?;
    let file = config::load(&dir)?;
    Ok(config::Settings::resolve(
        dir,
        &file,
        cli.profile.as_deref(),
        cli.api.as_deref(),
        cli.json,
    ))
}

fn run_config(cli: &Cli, action: &ConfigAction) -> Result<(), Failure> {
    let s = settings(cli)?;
    let mut file = config::load(&s.dir)?;
    let effective = |key: &str| -> Result<Option<String>, Failure> {
        Ok(match key {
            "api" => Some(s.api.clone()),
            "issuer" => Some(s.issuer.clone()),
            "client_id" => Some(s.client_id.clone()),
            "principal" => s.principal.clone(),
            "output" => Some(if s.json { "json" } else { "table" }.to_owned()),
            other => config::Profile::default().get(other)?.cloned(),
        })
    };
    match action {
        ConfigAction::Set { key, value } => {
            let p = file.profiles.entry(s.profile.clone()).or_default();
            p.set(key, Some(value.trim().to_owned()))?;
            config::save(&s.dir, &file)?;
        }
        ConfigAction::Unset { key } => {
            if let Some(p) = file.profiles.get_mut(&s.profile) {
                p.set(key, None)?;
                config::save(&s.dir, &file)?;
            }
        }
        ConfigAction::Get { key } => match effective(key)? {
            Some(v) => println!("{v}"),
            None => {
                return Err(Failure {
                    code: 1,
                    message: format!("{key} is not set"),
                })
            }
        },
        ConfigAction::List => {
            println!("profile = {}", s.profile);
            for key in config::KEYS {
                if let Some(v) = effective(key)? {
                    println!("{key} = {v}");
                }
            }
            let others: Vec<&String> = file.profiles.keys().filter(|p| **p != s.profile).collect();
            if !others.is_empty() {
                println!(
                    "# other profiles: {}",
                    others
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        ConfigAction::Use { profile } => {
            file.default_profile = Some(profile.clone());
            file.profiles.entry(profile.clone()).or_default();
            config::save(&s.dir, &file)?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Login { device: true, .. } => settings(&cli).and_then(|s| login::login_device(&s)),
        Command::Login { no_browser, .. } => settings(&cli).and_then(|s| {
            use std::io::IsTerminal;
            login::login(&s, !no_browser && std::io::stderr().is_terminal())
        }),
        Command::Logout => settings(&cli).and_then(|s| login::logout(&s)),
        Command::Config { ref action } => run_config(&cli, action),
        Command::Doctor {
            ref catalog,
            ref stack,
        } => settings(&cli).and_then(|s| {
            let token = client::token_from(&cli, &s);
            doctor::doctor(&s, token, catalog.as_deref(), stack.as_deref())
        }),
        Command::Init { ref path } => doctor::init(path),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "stint", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .map_err(|e| Failure::trouble(e.to_string()))
        }
        Command::Serve(args) => serve::run(args),
        Command::Token {
            ref user,
            ref groups,
            ttl,
            ref data,
        } => client::token(user, groups, ttl, data),
        Command::PipelineToken {
            ref repository,
            ref git_ref,
            ref environment,
            ttl,
            ref data,
        } => client::pipeline_token(repository, git_ref, environment.as_deref(), ttl, data),
        Command::Verify {
            evidence: Some(ref pack),
            ref public_key,
            ..
        } => evidence::verify(pack, public_key.as_deref(), cli.json),
        Command::Evidence(ref args) => evidence::build(args, cli.json),
        Command::Verify {
            ref target,
            ref public_key,
            from,
            to,
            ..
        } => audit::verify(target, public_key.as_deref(), from.zip(to), cli.json),
        Command::Checkpoint { ref target } => audit::checkpoint(target, cli.json),
        Command::Cost(ref args) => cost::run(args, cli.json),
        ref other => settings(&cli)
            .and_then(|s| client::Client::new(&cli, &s))
            .and_then(|c| c.run(other)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stint: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

/// An RFC 3339 instant, for clap: a bad one is a usage error that names the flag.
/// A principal ARN, or (for several accounts) one whose account is written `{account}`.
pub fn principal_arg(s: &str) -> Result<String, String> {
    let filled = s.replace(stint_domain::catalog::ACCOUNT_PLACEHOLDER, "000000000000");
    PrincipalArn::parse(&filled)
        .map(|_| s.to_owned())
        .map_err(|e| e.to_string())
}

pub fn rfc3339(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
}

/// A failure with its exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(m: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: m.into(),
        }
    }
    pub fn trouble(m: impl Into<String>) -> Self {
        Failure {
            code: 3,
            message: m.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("stint").chain(args.iter().copied()))
    }

    const ID: &str = "01JDQ3Z6W4X9V8T7S6R5Q4P3N2";
    const PRINCIPAL: &str = "arn:aws:iam::123456789012:role/stint/oncall";

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn completions_and_the_man_page_are_generated_for_every_shell() {
        use clap_complete::Shell;
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::PowerShell,
            Shell::Elvish,
        ] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "stint", &mut out);
            let text = String::from_utf8(out).unwrap();
            for word in ["login", "request", "approve", "config"] {
                assert!(text.contains(word), "{shell}: no {word}");
            }
        }
        let mut man = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut man)
            .unwrap();
        let man = String::from_utf8(man).unwrap();
        assert!(
            man.starts_with(".ie") || man.contains(".TH stint"),
            "{}",
            &man[..200]
        );
        assert!(man.contains("login"));
    }

    #[test]
    fn values_arrive_as_domain_types() {
        let cli = parse(&[
            "request",
            "db-read",
            "--scope",
            "orders",
            "--for",
            "1h30m",
            "--reason",
            " stuck orders ",
            "--ticket",
            "OPS-1",
            "--principal",
            PRINCIPAL,
            "--start",
            "2026-11-29T10:00:00+01:00",
        ])
        .unwrap();
        let Command::Request {
            role,
            scope,
            duration,
            reason,
            ticket,
            principal,
            start,
            break_glass,
            ..
        } = cli.command
        else {
            panic!("not a request");
        };
        assert_eq!(role.map(|r| r.to_string()).as_deref(), Some("db-read"));
        assert_eq!(scope.map(|s| s.to_string()).as_deref(), Some("orders"));
        assert_eq!(duration.map(AccessDuration::secs), Some(5_400));
        assert_eq!(
            reason.map(|r| r.to_string()).as_deref(),
            Some("stuck orders")
        );
        assert_eq!(ticket.map(|t| t.to_string()).as_deref(), Some("OPS-1"));
        assert_eq!(principal.map(|p| p.to_string()).as_deref(), Some(PRINCIPAL));
        assert_eq!(
            start.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-11-29T09:00:00+00:00")
        );
        assert!(!break_glass);

        let Command::Token {
            user, groups, ttl, ..
        } = parse(&["token", "--user", "Bob", "--groups", "sre,db-owners"])
            .unwrap()
            .command
        else {
            panic!("not a token");
        };
        assert_eq!(user.as_str(), "bob");
        assert_eq!(groups.len(), 2);
        assert_eq!(
            ttl.secs(),
            12 * 3_600,
            "the default goes through the parser"
        );

        let Command::Watch { id, timeout } = parse(&["watch", ID]).unwrap().command else {
            panic!("not a watch");
        };
        assert_eq!(id.to_string(), ID);
        assert_eq!(timeout.secs(), 15 * 60);
    }

    #[test]
    fn a_review_is_listed_or_judged_and_a_half_given_review_is_a_usage_error() {
        let Command::Review {
            id,
            verdict,
            comment,
            period,
            todo,
        } = parse(&[
            "review",
            ID,
            "--verdict",
            "inappropriate",
            "--comment",
            " no ticket ",
            "--period",
            "2026-11",
        ])
        .unwrap()
        .command
        else {
            panic!("not a review");
        };
        assert_eq!(id.map(|i| i.to_string()).as_deref(), Some(ID));
        assert_eq!(verdict, Some(Verdict::Inappropriate));
        assert_eq!(comment.map(|c| c.to_string()).as_deref(), Some("no ticket"));
        assert_eq!(period.map(|p| p.to_string()).as_deref(), Some("2026-11"));
        assert!(!todo);
        assert!(matches!(
            parse(&["review", "--todo"]).unwrap().command,
            Command::Review {
                id: None,
                todo: true,
                ..
            }
        ));
        for args in [
            vec!["review", ID],
            vec!["review", "--verdict", "appropriate"],
            vec!["review", ID, "--verdict", "appropriate", "--todo"],
        ] {
            let e = parse(&args)
                .err()
                .unwrap_or_else(|| panic!("{args:?} parsed"));
            assert_eq!(e.exit_code(), 2, "{args:?}: {e}");
        }
    }

    #[test]
    fn clap_refuses_bad_values_itself() {
        let request = |extra: &[&str]| {
            let mut args = vec!["request", "db-read", "--reason", "why", "--principal"];
            args.push(PRINCIPAL);
            args.extend_from_slice(extra);
            parse(&args)
        };
        for (args, flag) in [
            (
                vec![
                    "request",
                    "DB read",
                    "--reason",
                    "x",
                    "--principal",
                    PRINCIPAL,
                ],
                "[ROLE]",
            ),
            (vec!["approve", "not-an-id"], "<ID>"),
            (vec!["show", "42"], "<ID>"),
            (vec!["watch", ID, "--timeout", "soon"], "--timeout"),
            (vec!["token", "--user", "bob", "--ttl", "0s"], "--ttl"),
            (
                vec!["token", "--user", "bob", "--groups", "sre, "],
                "--groups",
            ),
            (vec!["report", "--from", "yesterday"], "--from"),
            (vec!["review", "--period", "2026-13"], "--period"),
            (vec!["review", "--period", "26-11"], "--period"),
            (vec!["review", ID, "--verdict", "fine"], "--verdict"),
            (
                vec!["review", ID, "--verdict", "inappropriate", "--comment", " "],
                "--comment",
            ),
            (vec!["verify", "--to", "2026-13-01T00:00:00Z"], "--to"),
        ] {
            let e = parse(&args)
                .err()
                .unwrap_or_else(|| panic!("{args:?} parsed"));
            assert_eq!(e.kind(), ErrorKind::ValueValidation, "{args:?}: {e}");
            assert!(e.to_string().contains(flag), "{args:?}: {e}");
            assert_eq!(e.exit_code(), 2, "usage errors exit 2 as before");
        }
        for (extra, flag) in [
            (&["--for", "5x"][..], "--for"),
            (&["--scope", "Orders!"][..], "--scope"),
            (&["--start", "tomorrow"][..], "--start"),
        ] {
            let e = request(extra)
                .err()
                .unwrap_or_else(|| panic!("{extra:?} parsed"));
            assert_eq!(e.kind(), ErrorKind::ValueValidation, "{extra:?}: {e}");
            assert!(e.to_string().contains(flag), "{extra:?}: {e}");
        }
        let e = parse(&[
            "request",
            "db-read",
            "--reason",
            " ",
            "--principal",
            PRINCIPAL,
        ])
        .err()
        .unwrap();
        assert!(
            e.to_string().contains("justification must not be empty"),
            "{e}"
        );
        let e = parse(&[
            "request",
            "db-read",
            "--reason",
            "x",
            "--principal",
            "alice",
        ])
        .err()
        .unwrap();
        assert!(e.to_string().contains("--principal"), "{e}");
    }
}
