//! Asking an RFC 3161 timestamp authority over HTTP or HTTPS (RFC 3161 section 3.4): one POST of the
//! DER request as `application/timestamp-query`, the DER answer back. The only network call that is
//! not to AWS; it uses the HTTP stack and TLS (rustls with aws-lc, the system's root certificates) the
//! AWS SDK already builds.

use crate::sign::{TimestampError, Timestamper};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// No TSA answer is near this large.
const MAX_ANSWER: usize = 1 << 20;
/// How long a TSA has to answer.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A TSA reached at an `http://` or `https://` URL (validated by `config::parse_http_url`).
pub struct HttpTimestamper {
    url: url::Url,
}

impl HttpTimestamper {
    pub fn new(url: url::Url) -> Self {
        Self { url }
    }

    fn fail(&self, reason: impl Into<String>) -> TimestampError {
        TimestampError::Service {
            tsa: self.url.to_string(),
            reason: reason.into(),
        }
    }

    async fn post<C: Connect + Clone + Send + Sync + 'static>(
        &self,
        connector: C,
        query: &[u8],
    ) -> Result<Vec<u8>, TimestampError> {
        let client: Client<C, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
        let request = hyper::Request::post(self.url.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/timestamp-query")
            .header(hyper::header::ACCEPT, "application/timestamp-reply")
            .body(Full::new(Bytes::copy_from_slice(query)))
            .map_err(|e| self.fail(format!("the request cannot be built ({e})")))?;
        let response = tokio::time::timeout(TIMEOUT, client.request(request))
            .await
            .map_err(|_| self.fail(format!("no answer within {} s", TIMEOUT.as_secs())))?
            .map_err(|e| {
                self.fail(format!(
                    "the request failed ({e}); check the URL and the network path to it"
                ))
            })?;
        let status = response.status();
        let body = tokio::time::timeout(
            TIMEOUT,
            Limited::new(response.into_body(), MAX_ANSWER).collect(),
        )
        .await
        .map_err(|_| self.fail("the answer did not finish in time"))?
        .map_err(|e| self.fail(format!("the answer could not be read ({e})")))?
        .to_bytes();
        if !status.is_success() {
            return Err(self.fail(format!("it answered HTTP {status}")));
        }
        Ok(body.to_vec())
    }
}

impl Timestamper for HttpTimestamper {
    fn describe(&self) -> String {
        self.url.to_string()
    }

    fn request(&self, query: &[u8]) -> Result<Vec<u8>, TimestampError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| self.fail(format!("could not start the async runtime ({e})")))?;
        runtime.block_on(async {
            if self.url.scheme() == "https" {
                let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
                let connector = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_provider_and_native_roots(provider)
                    .map_err(|e| {
                        self.fail(format!(
                            "no usable TLS root certificates on this system ({e})"
                        ))
                    })?
                    .https_only()
                    .enable_http1()
                    .build();
                self.post(connector, query).await
            } else {
                self.post(HttpConnector::new(), query).await
            }
        })
    }
}
