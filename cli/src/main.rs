//! `stint`: ask for, decide on and inspect access requests, and `stint serve`, the whole
//! broker on one machine. Exit codes: 0 done, 1 refused by the API, 2 usage, 3 server or
//! network trouble, 4 verification failed, 5 the watched request ended without a grant.

mod audit;
mod client;
mod evidence;
mod output;
mod serve;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
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
    /// The API: `stint serve`'s address, or the API Gateway URL.
    #[arg(
        long,
        global = true,
        env = "STINT_API",
        default_value = "http://127.0.0.1:8787"
    )]
    api: String,
    /// A bearer token (see `stint token` locally).
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
    /// Ask for a role.
    Request {
        role: RoleName,
        #[arg(long)]
        scope: Option<Scope>,
        /// How long, e.g. 30m, 1h30m (the role's default when left out).
        #[arg(long = "for")]
        duration: Option<AccessDuration>,
        #[arg(long, value_parser = Justification::parse)]
        reason: Justification,
        #[arg(long, value_parser = TicketRef::parse)]
        ticket: Option<TicketRef>,
        /// The IAM role ARN to attach the grant to.
        #[arg(long, env = "STINT_PRINCIPAL")]
        principal: PrincipalArn,
        /// A scheduled start (RFC 3339).
        #[arg(long, value_parser = rfc3339)]
        start: Option<DateTime<Utc>>,
        #[arg(long)]
        break_glass: bool,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
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
        ref other => client::Client::new(&cli).and_then(|c| c.run(other)),
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
pub fn rfc3339(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
}

/// A failure with its exit code.
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
        } = cli.command
        else {
            panic!("not a request");
        };
        assert_eq!(role.as_str(), "db-read");
        assert_eq!(scope.map(|s| s.to_string()).as_deref(), Some("orders"));
        assert_eq!(duration.map(AccessDuration::secs), Some(5_400));
        assert_eq!(reason.as_str(), "stuck orders");
        assert_eq!(ticket.map(|t| t.to_string()).as_deref(), Some("OPS-1"));
        assert_eq!(principal.as_str(), PRINCIPAL);
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
                "<ROLE>",
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
