//! The `interactions` Lambda: `POST /slack/interactions`, clicks on Stint's Slack buttons,
//! authenticated by Slack's signature rather than a token. Apart from the other routes so the
//! one that acts on Slack's word has a role of its own: decisions on requests, and for "I'm
//! done" the revoke's policy delete and timer delete, but no policy put.

use lambda_runtime::Error;
use stint_aws::runtime;
use stint_http::slack::SlackApp;

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let sdk = runtime::lambda_sdk_config();
    let stint = runtime::stint_from_env(
        &sdk,
        runtime::hub_iam,
        runtime::scheduler,
        runtime::no_accounts,
    )
    .await?;
    let secret = runtime::slack_signing_secret(&sdk).await?;
    let bot = runtime::slack_bot_token(&sdk)
        .await?
        .map(|t| stint_slack::bot_from_env(&t));
    let api = stint_http::apigw::api_from_env(stint)
        .with_slack(SlackApp::new(secret.map(String::into_bytes), bot));
    stint_http::apigw::run(stint_http::slack_router(api)).await
}
