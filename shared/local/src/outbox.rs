//! A mailer that keeps messages in a folder on disk: local mode has no SES.

use async_trait::async_trait;
use std::path::PathBuf;
use stint_app::ports::{Mailer, ProviderError};

/// Writes each message to `<dir>/<n>.eml`, for local mode and for reading in tests.
pub struct OutboxMailer {
    dir: PathBuf,
}

impl OutboxMailer {
    pub fn new(dir: PathBuf) -> Self {
        OutboxMailer { dir }
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send_raw(
        &self,
        _from: &str,
        _to: &[String],
        message: Vec<u8>,
    ) -> Result<(), ProviderError> {
        let io = |e: std::io::Error| ProviderError::Unavailable(format!("outbox: {e}"));
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
        let name = format!("{}.eml", ulid::Ulid::generate());
        tokio::fs::write(self.dir.join(name), message)
            .await
            .map_err(io)
    }
}
