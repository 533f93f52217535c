//! AWS KMS as a signer (an ECC_NIST_P256 key, ECDSA_SHA_256) and as the source of a signer's public
//! key for `verify --kms-key-id`. The key's public half always comes from `kms:GetPublicKey`.

use super::load_sdk_config;
use crate::config::AwsSettings;
use crate::sign::{NamedKey, PublicKey, SignError, Signer};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use sha2::Digest;

/// Why a KMS key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    #[error("KMS key {key}: {operation} failed: {message}; {hint}")]
    Aws {
        key: String,
        operation: &'static str,
        message: String,
        hint: &'static str,
    },
    #[error("KMS key {key} cannot have signed an auditpack pack: {reason}")]
    Unsuitable { key: String, reason: String },
    #[error("could not start the async runtime: {0}")]
    Runtime(String),
}

/// A KMS client for `key_id`'s region (from its ARN, else the configured one), on a small runtime of
/// its own: signing and verifying are called from synchronous code.
fn client_for(
    aws: &AwsSettings,
    key_id: &str,
) -> Result<(tokio::runtime::Runtime, aws_sdk_kms::Client), KmsError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| KmsError::Runtime(e.to_string()))?;
    let client = runtime.block_on(async {
        let mut conf = aws_sdk_kms::config::Builder::from(&load_sdk_config(aws).await);
        if let Some(region) = key_id
            .split(':')
            .nth(3)
            .filter(|r| key_id.starts_with("arn:") && !r.is_empty())
        {
            conf = conf.region(aws_types::region::Region::new(region.to_string()));
        }
        aws_sdk_kms::Client::from_conf(conf.build())
    });
    Ok((runtime, client))
}

/// Asks KMS for the key's public half and checks it is a key auditpack signs with; the answer names
/// the key's ARN, which a pack signed by it records.
fn public_key_of(
    runtime: &tokio::runtime::Runtime,
    client: &aws_sdk_kms::Client,
    key_id: &str,
) -> Result<NamedKey, KmsError> {
    let out = runtime
        .block_on(client.get_public_key().key_id(key_id).send())
        .map_err(|e| {
            use aws_sdk_kms::operation::get_public_key::GetPublicKeyError;
            match e.as_service_error() {
                // A symmetric or HMAC key has no public half: it cannot have signed anything.
                Some(GetPublicKeyError::UnsupportedOperationException(_)) => KmsError::Unsuitable {
                    key: key_id.to_string(),
                    reason: format!("it has no public key ({})", super::error_text(&e)),
                },
                _ => KmsError::Aws {
                    key: key_id.to_string(),
                    operation: "kms:GetPublicKey",
                    message: super::error_text(&e),
                    hint: "check the key id or ARN, its region, and that your credentials allow kms:GetPublicKey on it",
                },
            }
        })?;
    let unsuitable = |reason: String| KmsError::Unsuitable {
        key: key_id.to_string(),
        reason,
    };
    if !out
        .signing_algorithms()
        .contains(&SigningAlgorithmSpec::EcdsaSha256)
    {
        return Err(unsuitable(format!(
            "its key spec is {} with signing algorithms {:?}; auditpack signs only with ECC_NIST_P256 keys (ECDSA_SHA_256)",
            out.key_spec().map_or("unknown", |s| s.as_str()),
            out.signing_algorithms()
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
        )));
    }
    let der = out.public_key().map(|b| b.as_ref()).unwrap_or_default();
    let key = match PublicKey::from_spki_der(der) {
        Ok(key @ PublicKey::P256(_)) => key,
        _ => {
            return Err(unsuitable(
                "kms:GetPublicKey did not answer an ECC_NIST_P256 public key".into(),
            ))
        }
    };
    let mut arn = out.key_id().unwrap_or(key_id).to_string();
    if !arn.starts_with("arn:") {
        // AWS answers GetPublicKey with the key's ARN; resolve it if an endpoint did not.
        let described = runtime
            .block_on(client.describe_key().key_id(&arn).send())
            .map_err(|e| KmsError::Aws {
                key: key_id.to_string(),
                operation: "kms:DescribeKey",
                message: super::error_text(&e),
                hint: "check that your credentials allow kms:DescribeKey on the key",
            })?;
        if let Some(full) = described.key_metadata().and_then(|m| m.arn()) {
            arn = full.to_string();
        }
    }
    Ok(NamedKey {
        key,
        source: format!("kms:GetPublicKey of {arn}"),
        kms_key_arn: Some(arn),
        arn_proven: true,
    })
}

/// The public key of a KMS key the verifier names, from `kms:GetPublicKey` with the verifier's own
/// credentials: the anchor of `verify --kms-key-id` (a pack's recorded ARN is never trusted).
pub fn fetch_public_key(aws: &AwsSettings, key_id: &str) -> Result<NamedKey, KmsError> {
    let (runtime, client) = client_for(aws, key_id)?;
    public_key_of(&runtime, &client, key_id)
}

/// A KMS key that signs on auditpack's behalf.
pub struct KmsSigner {
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_kms::Client,
    named: NamedKey,
    arn: String,
}

impl KmsSigner {
    /// Looks the key up with GetPublicKey and checks it can sign with ECDSA_SHA_256.
    pub fn connect(aws: &AwsSettings, key_id: &str) -> Result<Self, KmsError> {
        let (runtime, client) = client_for(aws, key_id)?;
        let named = public_key_of(&runtime, &client, key_id)?;
        let arn = named.kms_key_arn.clone().unwrap_or_default();
        Ok(Self {
            runtime,
            client,
            named,
            arn,
        })
    }
}

impl Signer for KmsSigner {
    fn public_key(&self) -> &PublicKey {
        &self.named.key
    }
    fn kms_key_arn(&self) -> Option<&str> {
        Some(&self.arn)
    }
    fn describe(&self) -> String {
        format!("KMS key {}", self.arn)
    }
    /// KMS signs the SHA-256 of the manifest (`MessageType=DIGEST`; a RAW message is limited to
    /// 4,096 bytes), which is the ECDSA_SHA_256 signature of the manifest itself.
    fn sign(&self, manifest: &[u8]) -> Result<Vec<u8>, SignError> {
        let digest = sha2::Sha256::digest(manifest);
        let failed = |reason: String| SignError::Signer {
            signer: self.describe(),
            reason,
        };
        let out = self
            .runtime
            .block_on(
                self.client
                    .sign()
                    .key_id(&self.arn)
                    .message(Blob::new(digest.to_vec()))
                    .message_type(MessageType::Digest)
                    .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                    .send(),
            )
            .map_err(|e| failed(format!("kms:Sign failed: {}", super::error_text(&e))))?;
        out.signature()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| failed("kms:Sign returned no signature".into()))
    }
}
