//! The S3 transport of the archive: one bucket, reached in its own region, and the few calls
//! `archive` makes on it (object checksums, conditional writes with encryption and Object Lock,
//! listings, streamed downloads). What the calls mean for a pack is `archive`'s business; a failure
//! here names the resource and the operation, and `archive` adds what to do.

use crate::config::AwsSettings;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ObjectLockMode, ServerSideEncryption};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// A call on the bucket that failed: the resource, the operation and what AWS said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Failure {
    pub resource: String,
    pub operation: &'static str,
    pub message: String,
}

impl S3Failure {
    fn new(resource: &str, operation: &'static str, message: String) -> Self {
        S3Failure {
            resource: resource.to_string(),
            operation,
            message,
        }
    }
}

/// How a new object is encrypted at rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// SSE-S3 (AES-256, keys S3 manages).
    S3Managed,
    /// SSE-KMS with this key.
    Kms(String),
}

/// What a conditional write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The object is new.
    Created,
    /// An object of that key already existed (S3 answered 412 to `If-None-Match: *`): nothing was
    /// written.
    AlreadyThere,
}

/// An object being downloaded: its announced size, and its body a chunk at a time.
pub struct Download {
    pub content_length: Option<i64>,
    body: ByteStream,
}

impl Download {
    /// The next part of the body, or `None` at its end.
    pub async fn next_chunk(&mut self) -> Option<Result<bytes::Bytes, String>> {
        self.body.next().await.map(|c| c.map_err(|e| e.to_string()))
    }
}

/// One S3 bucket, with a client in the bucket's own region.
pub struct Bucket {
    client: aws_sdk_s3::Client,
    name: String,
}

impl Bucket {
    /// Finds the bucket's region (`s3:GetBucketLocation`) and makes a client there; path-style
    /// addressing when an endpoint is given (an emulator or a private endpoint).
    pub async fn open(aws: &AwsSettings, name: &str) -> Result<Bucket, S3Failure> {
        let sdk = super::load_sdk_config(aws).await;
        let path_style = aws.endpoint_url.is_some();
        let build = |region: Option<String>| {
            let mut conf = aws_sdk_s3::config::Builder::from(&sdk).force_path_style(path_style);
            if let Some(r) = region {
                conf = conf.region(aws_types::region::Region::new(r));
            }
            aws_sdk_s3::Client::from_conf(conf.build())
        };
        let location = build(None)
            .get_bucket_location()
            .bucket(name)
            .send()
            .await
            .map_err(|e| S3Failure::new(name, "s3:GetBucketLocation", super::error_text(&e)))?;
        // No constraint is us-east-1; "EU" is the legacy name of eu-west-1.
        let region = match location.location_constraint().map(|l| l.as_str()) {
            None | Some("") => "us-east-1".to_string(),
            Some("EU") => "eu-west-1".to_string(),
            Some(r) => r.to_string(),
        };
        Ok(Bucket {
            client: build(Some(region)),
            name: name.to_string(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SHA-256 (base64) S3 holds for an object, "none" when it holds none, or `None` when
    /// there is no such object.
    pub async fn checksum(&self, key: &str) -> Result<Option<String>, S3Failure> {
        match (self.client.head_object())
            .bucket(&self.name)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
        {
            Ok(head) => Ok(Some(head.checksum_sha256().unwrap_or("none").to_string())),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(S3Failure::new(key, "s3:HeadObject", super::error_text(&e))),
        }
    }

    /// Writes a new object only if none of that key exists (`If-None-Match: *`), with its SHA-256
    /// (base64) for S3 to check, encrypted as asked, and under Object Lock in compliance mode until
    /// `retain_until` (seconds since the epoch) when given.
    pub async fn put_new(
        &self,
        key: &str,
        body: Vec<u8>,
        sha256_b64: &str,
        encryption: &Encryption,
        retain_until: Option<i64>,
    ) -> Result<Written, S3Failure> {
        let mut put = (self.client.put_object())
            .bucket(&self.name)
            .key(key)
            .body(ByteStream::from(body))
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(sha256_b64)
            .if_none_match("*");
        put = match encryption {
            Encryption::Kms(key) => put
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(key),
            Encryption::S3Managed => put.server_side_encryption(ServerSideEncryption::Aes256),
        };
        if let Some(until) = retain_until {
            put = put
                .object_lock_mode(ObjectLockMode::Compliance)
                .object_lock_retain_until_date(aws_smithy_types::DateTime::from_secs(until));
        }
        match put.send().await {
            Ok(_) => Ok(Written::Created),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => {
                Ok(Written::AlreadyThere)
            }
            Err(e) => Err(S3Failure::new(key, "s3:PutObject", super::error_text(&e))),
        }
    }

    /// Every object key under `prefix/`.
    pub async fn keys(&self, prefix: &str) -> Result<Vec<String>, S3Failure> {
        let pages: Vec<_> = (self.client.list_objects_v2())
            .bucket(&self.name)
            .prefix(format!("{prefix}/"))
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| S3Failure::new(&self.name, "s3:ListObjectsV2", super::error_text(&e)))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.contents())
            .filter_map(|o| o.key().map(str::to_owned))
            .collect())
    }

    /// Whether the bucket has Object Lock enabled. S3 answers
    /// `ObjectLockConfigurationNotFoundError` for a bucket without it; any other failure (a
    /// refusal, say) is a failure, not a missing lock.
    pub async fn object_lock_enabled(&self) -> Result<bool, S3Failure> {
        match (self.client.get_object_lock_configuration())
            .bucket(&self.name)
            .send()
            .await
        {
            Ok(l) => Ok(l
                .object_lock_configuration()
                .and_then(|c| c.object_lock_enabled())
                .is_some_and(|e| e.as_str() == "Enabled")),
            Err(e) if e.code() == Some("ObjectLockConfigurationNotFoundError") => Ok(false),
            Err(e) => Err(S3Failure::new(
                &self.name,
                "s3:GetObjectLockConfiguration",
                super::error_text(&e),
            )),
        }
    }

    /// Starts downloading an object.
    pub async fn get(&self, key: &str) -> Result<Download, S3Failure> {
        let object = (self.client.get_object())
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .map_err(|e| S3Failure::new(key, "s3:GetObject", super::error_text(&e)))?;
        Ok(Download {
            content_length: object.content_length,
            body: object.body,
        })
    }
}
