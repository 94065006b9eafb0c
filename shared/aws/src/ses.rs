//! Reports by email through SES v2, as raw MIME messages.

use super::provider_err;
use async_trait::async_trait;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use aws_sdk_sesv2::Client;
use stint_app::ports::{Mailer, ProviderError};

#[derive(Clone, Debug)]
pub struct SesMailer {
    client: Client,
}

impl SesMailer {
    pub fn new(client: Client) -> Self {
        SesMailer { client }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send_raw(
        &self,
        from: &str,
        to: &[String],
        message: Vec<u8>,
    ) -> Result<(), ProviderError> {
        let raw = RawMessage::builder()
            .data(Blob::new(message))
            .build()
            .map_err(|e| ProviderError::Refused(e.to_string()))?;
        self.client
            .send_email()
            .from_email_address(from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(to.to_vec()))
                    .build(),
            )
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map_err(|e| provider_err("SendEmail", e))?;
        Ok(())
    }
}
