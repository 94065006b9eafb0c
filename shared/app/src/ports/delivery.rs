//! Delivery ports for reports: mail to auditors and an archive for the record.

use super::ProviderError;
use async_trait::async_trait;

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends a complete MIME message.
    async fn send_raw(
        &self,
        from: &str,
        to: &[String],
        message: Vec<u8>,
    ) -> Result<(), ProviderError>;
}

#[async_trait]
pub trait Archive: Send + Sync {
    /// Stores `body` under `key`; returns the version id when the store keeps versions.
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<Option<String>, ProviderError>;

    /// Stores `body` under `key` only if nothing is there yet; `Ok(false)` if something is, so
    /// a redelivered run adds nothing. An archive that cannot write conditionally may fall
    /// back to `put`, storing another version.
    async fn put_new(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<bool, ProviderError> {
        self.put(key, body, content_type).await.map(|_| true)
    }
}
