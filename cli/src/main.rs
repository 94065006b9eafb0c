//! `stint`: ask for, decide on and inspect access requests, and `stint serve`, the whole
//! broker on one machine. Exit codes: 0 done, 1 refused by the API, 2 usage, 3 server or
//! network trouble, 4 verification failed, 5 the watched request ended without a grant.

mod client;
mod output;
mod serve;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

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
        user: String,
        /// Comma-separated groups.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        #[arg(long, default_value = "12h")]
        ttl: String,
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
        ttl: String,
        #[arg(long, default_value = ".stint")]
        data: PathBuf,
    },
    /// Ask for a role.
    Request {
        role: String,
        #[arg(long)]
        scope: Option<String>,
        /// How long, e.g. 30m, 1h30m (the role's default when left out).
        #[arg(long = "for")]
        duration: Option<String>,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        ticket: Option<String>,
        /// The IAM role ARN to attach the grant to.
        #[arg(long, env = "STINT_PRINCIPAL")]
        principal: String,
        /// A scheduled start (RFC 3339).
        #[arg(long)]
        start: Option<String>,
        #[arg(long)]
        break_glass: bool,
    },
    /// Approve a request.
    Approve {
        id: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Deny a request.
    Deny {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Cancel your own pending request.
    Cancel { id: String },
    /// Revoke an active grant now.
    Revoke { id: String },
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
    },
    /// Show a request and its timeline.
    Show { id: String },
    /// Wait until a request is granted or ends, showing each change.
    Watch {
        id: String,
        #[arg(long, default_value = "15m")]
        timeout: String,
    },
    /// The compliance report for a period (auditor or admin groups).
    Report {
        /// Start (RFC 3339); default: seven whole days ago.
        #[arg(long)]
        from: Option<String>,
        /// End (RFC 3339); default: the start of today (UTC).
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value = "csv", value_parser = ["csv", "json", "html"])]
        format: String,
    },
    /// Verify the hash chains of the local store (or of a deployment's table).
    Verify {
        #[arg(long, default_value = ".stint")]
        data: PathBuf,
        /// Verify the DynamoDB event table of a deployment instead (AWS configuration from the
        /// environment; AWS_ENDPOINT_URL is honoured).
        #[arg(long)]
        table: Option<String>,
        /// Start of the period (RFC 3339); default: 400 days ago.
        #[arg(long)]
        from: Option<String>,
        /// End of the period (RFC 3339); default: now.
        #[arg(long)]
        to: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Token {
            ref user,
            ref groups,
            ref ttl,
            ref data,
        } => client::token(user, groups, ttl, data),
        Command::PipelineToken {
            ref repository,
            ref git_ref,
            ref environment,
            ref ttl,
            ref data,
        } => client::pipeline_token(repository, git_ref, environment.as_deref(), ttl, data),
        Command::Verify {
            ref data,
            ref table,
            ref from,
            ref to,
        } => serve::verify(
            data,
            table.as_deref(),
            from.as_deref(),
            to.as_deref(),
            cli.json,
        ),
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
