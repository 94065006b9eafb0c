//! Checkpoint ports: a signer (KMS, or a key file locally) and a write-once archive for the
//! signed checkpoints (the Object Lock bucket, or a folder locally).

use super::ProviderError;
use async_trait::async_trait;
use stint_domain::checkpoint::{PublicKey, SignedCheckpoint};

/// Where the checkpoints' public key comes from (published for auditors).
#[async_trait]
pub trait CheckpointKey: Send + Sync {
    async fn public_key(&self) -> Result<PublicKey, ProviderError>;
}

#[async_trait]
pub trait CheckpointSigner: CheckpointKey {
    /// The name written into each checkpoint: a KMS key ARN, or `local:<fingerprint>`.
    fn key_id(&self) -> String;
    /// DER ECDSA P-256 (SHA-256) signature over `checkpoint::message(bytes)`.
    async fn sign(&self, bytes: &[u8]) -> Result<Vec<u8>, ProviderError>;
}

#[async_trait]
pub trait CheckpointArchive: Send + Sync {
    /// The checkpoint with the highest sequence number, if any.
    async fn latest(&self) -> Result<Option<SignedCheckpoint>, ProviderError>;
    /// Every checkpoint, in sequence order.
    async fn list(&self) -> Result<Vec<SignedCheckpoint>, ProviderError>;
    /// Stores a new checkpoint; `Ok(false)` if that sequence number is already taken (another
    /// writer won the race) — a stored checkpoint is never replaced.
    async fn put(&self, checkpoint: &SignedCheckpoint) -> Result<bool, ProviderError>;
}
