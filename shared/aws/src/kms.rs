//! The checkpoint signer over KMS: an asymmetric ECC_NIST_P256 key used for `Sign` only, so
//! the private half never leaves KMS and no function can sign anything but through it.

use super::provider_err;
use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use aws_sdk_kms::Client;
use stint_app::ports::{CheckpointKey, CheckpointSigner, ProviderError};
use stint_domain::checkpoint::{message, PublicKey};

#[derive(Clone, Debug)]
pub struct KmsSigner {
    client: Client,
    key_id: String,
}

impl KmsSigner {
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        KmsSigner {
            client,
            key_id: key_id.into(),
        }
    }
}

#[async_trait]
impl CheckpointKey for KmsSigner {
    async fn public_key(&self) -> Result<PublicKey, ProviderError> {
        let out = self
            .client
            .get_public_key()
            .key_id(&self.key_id)
            .send()
            .await
            .map_err(|e| provider_err("GetPublicKey", e))?;
        let der = out
            .public_key
            .ok_or_else(|| ProviderError::Unavailable("GetPublicKey returned no key".into()))?;
        PublicKey::from_der(der.as_ref()).map_err(ProviderError::Refused)
    }
}

#[async_trait]
impl CheckpointSigner for KmsSigner {
    fn key_id(&self) -> String {
        self.key_id.clone()
    }

    async fn sign(&self, bytes: &[u8]) -> Result<Vec<u8>, ProviderError> {
        // RAW: KMS hashes the (64-byte) message itself, as `openssl dgst -sha256` does.
        let out = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(message(bytes)))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| provider_err("Sign", e))?;
        out.signature
            .map(Blob::into_inner)
            .ok_or_else(|| ProviderError::Unavailable("Sign returned no signature".into()))
    }
}

/// A public key fetched once: it never changes for a key id, and `GetPublicKey` costs a call.
pub struct CachedKey<K> {
    inner: K,
    key: tokio::sync::OnceCell<PublicKey>,
}

impl<K> CachedKey<K> {
    pub fn new(inner: K) -> Self {
        CachedKey {
            inner,
            key: tokio::sync::OnceCell::new(),
        }
    }
}

#[async_trait]
impl<K: CheckpointKey> CheckpointKey for CachedKey<K> {
    async fn public_key(&self) -> Result<PublicKey, ProviderError> {
        self.key
            .get_or_try_init(|| self.inner.public_key())
            .await
            .cloned()
    }
}
