//! The AWS side of auditpack, in one place: the SDK configuration every command shares (credential
//! chain, profile, endpoint, retries, timeouts, one HTTP client), the KMS signer ([`KmsSigner`]), the
//! archive's S3 transport ([`s3`]) and the enabled regions ([`regions`]). `collect` builds its
//! service clients from [`load_sdk_config`]; `sign` and `archive` call only this module.

mod kms;
pub mod regions;
pub mod s3;

pub use kms::{fetch_public_key, KmsError, KmsSigner};

use crate::config::{AwsSettings, RetryMode};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_types::region::Region;
use std::time::Duration;

/// Region used for global calls (STS, Account ListRegions) when none is configured.
pub const FALLBACK_REGION: &str = "us-east-1";
/// Attempts per call, with the SDK's standard exponential backoff between them.
pub const MAX_ATTEMPTS: u32 = 5;

/// Loads the SDK configuration: the standard credential chain, the profile and the endpoint override,
/// with the standard retry mode.
pub async fn load_sdk_config(aws: &AwsSettings) -> SdkConfig {
    load_sdk_config_with(aws, RetryMode::Standard).await
}

/// [`load_sdk_config`] with a choice of retry mode.
pub async fn load_sdk_config_with(aws: &AwsSettings, retry: RetryMode) -> SdkConfig {
    let retry = match retry {
        RetryMode::Standard => RetryConfig::standard(),
        RetryMode::Adaptive => RetryConfig::adaptive(),
    };
    // The region comes from the loader's own chain (environment, the profile named here, instance
    // metadata), which uses the HTTP client below; us-east-1 when none gives one.
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry.with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(30))
                .operation_timeout(Duration::from_secs(120))
                .build(),
        );
    loader = loader.http_client(shared_http_client());
    if let Some(profile) = &aws.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = &aws.endpoint_url {
        loader = loader.endpoint_url(endpoint.as_str());
    }
    let config = loader.load().await;
    if config.region().is_some() {
        return config;
    }
    config
        .into_builder()
        .region(Region::new(FALLBACK_REGION))
        .build()
}

/// One HTTP client for every service, region and account of a run. Without it, each SDK client built
/// from the config makes its own: its own connection pool, and its own TLS configuration with the
/// parsed root certificates (about 0.8 MB each), for every (account, region, service).
/// Configured as the SDK's default client is for the behaviour version [`load_sdk_config_with`] asks
/// for (`latest`, so at least v2025_08_07), but with ring as rustls' crypto provider instead of
/// aws-lc (a large C build); proxies from the environment.
pub fn shared_http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::{proxy::ProxyConfig, tls, Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// An SDK failure as one sentence: the service's error code and message when it answered, else what
/// kept the answer from arriving. Never a debug dump of the request or response.
pub fn error_text<E, R>(error: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    let innermost = |e: &dyn std::error::Error| {
        let mut text = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            text = s.to_string();
            source = s.source();
        }
        text
    };
    match error {
        SdkError::ServiceError(context) => {
            let e = context.err();
            match (e.code(), e.message()) {
                (Some(code), Some(message)) if !message.is_empty() => format!("{code}: {message}"),
                (Some(code), _) => code.to_string(),
                _ => format!(
                    "the service answered an error it did not name ({})",
                    innermost(e)
                ),
            }
        }
        SdkError::TimeoutError(_) => "no answer in time".to_string(),
        SdkError::DispatchFailure(failure) => format!(
            "the request did not reach the service ({})",
            failure
                .as_connector_error()
                .map(|c| innermost(c))
                .unwrap_or_else(|| "connection failed".into())
        ),
        SdkError::ResponseError(_) => {
            format!("the answer could not be read ({})", innermost(error))
        }
        SdkError::ConstructionFailure(_) => {
            format!("the request could not be built ({})", innermost(error))
        }
        other => innermost(other),
    }
}
