//! The `notify` Lambda: subscribed to the bus, it tells approvers and requesters about their
//! requests on Slack and by email. It never changes a request.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use std::sync::Arc;
use stint_aws::{lambda, runtime};

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let sdk = runtime::lambda_sdk_config();
    let chat = Arc::new(stint_slack::SlackWebhook::default());
    // With a bot token, approvers' messages carry buttons and requesters get direct messages.
    let bot = runtime::slack_bot_token(&sdk)
        .await?
        .map(|t| stint_slack::bot_from_env(&t));
    let notifier = runtime::notifier_from_env(&sdk, chat, bot).await?;
    let notifier = &notifier;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<lambda::Payload>| {
        lambda::handle_notify(notifier, event)
    }))
    .await
}
