//! The report archive and the checkpoint archive: an S3 bucket with versioning and Object Lock
//! in compliance mode (set in the template), so nothing written can be changed or deleted.

use super::provider_err;
use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use futures::{StreamExt, TryStreamExt};
use stint_app::ports::{Archive, CheckpointArchive, ProviderError};
use stint_domain::checkpoint::SignedCheckpoint;

#[derive(Clone, Debug)]
pub struct S3Archive {
    client: Client,
    bucket: String,
}

impl S3Archive {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3Archive {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl Archive for S3Archive {
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<Option<String>, ProviderError> {
        let out = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| provider_err("PutObject", e))?;
        Ok(out.version_id().map(str::to_owned))
    }

    async fn put_new(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<bool, ProviderError> {
        create_once(
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type(content_type)
                .body(ByteStream::from(body)),
        )
        .await
    }
}

/// Sends a put that only creates: `Ok(false)` when the key exists (412) or another writer is
/// creating it (409), so an object under Object Lock is written once and never replaced.
async fn create_once(
    put: aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder,
) -> Result<bool, ProviderError> {
    match put.if_none_match("*").send().await {
        Ok(_) => Ok(true),
        Err(e)
            if matches!(
                e.raw_response().map(|r| r.status().as_u16()),
                Some(412 | 409)
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(provider_err("PutObject", e)),
    }
}

/// Signed checkpoints in the archive bucket: `checkpoints/<seq>.json`, its DER signature in
/// hex in the object's `stint-signature` metadata, so a checkpoint and its signature are one
/// write that either happened or did not.
#[derive(Clone, Debug)]
pub struct S3Checkpoints {
    client: Client,
    bucket: String,
}

const PREFIX: &str = "checkpoints/";
/// The user-metadata key (`x-amz-meta-stint-signature`) holding the signature.
pub const SIGNATURE: &str = "stint-signature";

impl S3Checkpoints {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3Checkpoints {
            client,
            bucket: bucket.into(),
        }
    }

    fn key(seq: u64) -> String {
        format!("{PREFIX}{seq:012}.json")
    }

    /// Every stored sequence number, ascending (keys are zero-padded, so S3 lists them in order).
    async fn seqs(&self) -> Result<Vec<u64>, ProviderError> {
        let mut seqs = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(PREFIX)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| provider_err("ListObjectsV2", e))?;
            seqs.extend(page.contents().iter().filter_map(|o| {
                o.key()?
                    .strip_prefix(PREFIX)?
                    .strip_suffix(".json")?
                    .parse::<u64>()
                    .ok()
            }));
        }
        seqs.sort_unstable();
        Ok(seqs)
    }

    async fn read(&self, seq: u64) -> Result<SignedCheckpoint, ProviderError> {
        let key = Self::key(seq);
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| provider_err("GetObject", e))?;
        // A missing or garbled signature reads as empty, which the audit names as bad.
        let signature = out
            .metadata()
            .and_then(|m| m.get(SIGNATURE))
            .and_then(|h| hex::decode(h).ok())
            .unwrap_or_default();
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| ProviderError::Unavailable(format!("GetObject {key}: {e}")))?;
        Ok(SignedCheckpoint {
            seq,
            bytes: body.into_bytes().to_vec(),
            signature,
        })
    }
}

#[async_trait]
impl CheckpointArchive for S3Checkpoints {
    async fn latest(&self) -> Result<Option<SignedCheckpoint>, ProviderError> {
        match self.seqs().await?.last() {
            Some(seq) => Ok(Some(self.read(*seq).await?)),
            None => Ok(None),
        }
    }

    async fn list(&self) -> Result<Vec<SignedCheckpoint>, ProviderError> {
        let seqs = self.seqs().await?;
        futures::stream::iter(seqs.into_iter().map(|s| self.read(s)))
            .buffered(16)
            .try_collect()
            .await
    }

    async fn put(&self, cp: &SignedCheckpoint) -> Result<bool, ProviderError> {
        // The number is claimed once, with its signature in the same write.
        create_once(
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(Self::key(cp.seq))
                .content_type("application/json")
                .metadata(SIGNATURE, hex::encode(&cp.signature))
                .body(ByteStream::from(cp.bytes.clone())),
        )
        .await
    }
}
