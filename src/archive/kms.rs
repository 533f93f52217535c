//! Signing with an asymmetric AWS KMS key (ECC_NIST_P256, ECDSA_SHA_256). The key's ARN and public key
//! come from GetPublicKey and are recorded in the pack, so it verifies offline.

use super::ArchiveError;
use crate::collect::load_sdk_config;
use crate::config::AwsSettings;
use crate::sign::{SignError, Signer};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use aws_smithy_types::error::display::DisplayErrorContext;

const ALGORITHM: &str = "ECDSA_SHA_256";

/// A KMS key that signs on auditpack's behalf. Owns a small runtime: signing is called from sync code.
pub struct KmsSigner {
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_kms::Client,
    key_arn: String,
    public_key_der: Vec<u8>,
}

impl KmsSigner {
    /// Looks the key up with GetPublicKey and checks it can sign with ECDSA_SHA_256.
    pub fn connect(aws: &AwsSettings, key_id: &str) -> Result<Self, ArchiveError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ArchiveError::Runtime(e.to_string()))?;
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
        let out = runtime
            .block_on(client.get_public_key().key_id(key_id).send())
            .map_err(|e| ArchiveError::Aws {
                resource: key_id.to_string(),
                operation: "kms:GetPublicKey",
                message: DisplayErrorContext(&e).to_string(),
                hint: "check the key id or ARN, the region, and kms:GetPublicKey permission",
            })?;
        let algorithms = out.signing_algorithms();
        if !algorithms.contains(&SigningAlgorithmSpec::EcdsaSha256) {
            return Err(ArchiveError::UnsuitableKey {
                key: key_id.to_string(),
                reason: format!(
                    "its key spec is {:?} with signing algorithms {:?}; auditpack signs with an ECC_NIST_P256 key (ECDSA_SHA_256)",
                    out.key_spec(),
                    algorithms
                ),
            });
        }
        let mut key_arn = out.key_id().unwrap_or(key_id).to_string();
        if !key_arn.starts_with("arn:") {
            // Real KMS answers GetPublicKey with the ARN; some emulators with the bare id.
            let described = runtime
                .block_on(client.describe_key().key_id(&key_arn).send())
                .map_err(|e| ArchiveError::Aws {
                    resource: key_id.to_string(),
                    operation: "kms:DescribeKey",
                    message: DisplayErrorContext(&e).to_string(),
                    hint: "check kms:DescribeKey permission",
                })?;
            if let Some(arn) = described.key_metadata().and_then(|m| m.arn()) {
                key_arn = arn.to_string();
            }
        }
        let public_key_der = out
            .public_key()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        Ok(Self {
            runtime,
            client,
            key_arn,
            public_key_der,
        })
    }
}

impl Signer for KmsSigner {
    fn algorithm(&self) -> &str {
        ALGORITHM
    }
    fn public_key(&self) -> &[u8] {
        &self.public_key_der
    }
    fn kms_key_arn(&self) -> Option<&str> {
        Some(&self.key_arn)
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let out = self
            .runtime
            .block_on(
                self.client
                    .sign()
                    .key_id(&self.key_arn)
                    .message(Blob::new(message))
                    .message_type(MessageType::Raw)
                    .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                    .send(),
            )
            .map_err(|e| SignError::Signer {
                signer: format!("KMS key {}", self.key_arn),
                reason: format!("kms:Sign failed: {}", DisplayErrorContext(&e)),
            })?;
        out.signature()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| SignError::Signer {
                signer: format!("KMS key {}", self.key_arn),
                reason: "kms:Sign returned no signature".into(),
            })
    }
    fn signs_manifest(&self) -> bool {
        false
    }
}
