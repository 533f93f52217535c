//! The recording interceptor: captures every attempt's raw HTTP response for the pack.
//!
//! One `Recorder` is attached to each API call. `read_after_deserialization` sees the fully buffered
//! body of success and error responses once per attempt; `read_after_attempt` catches attempts that
//! ended without a response (timeouts, connection failures).

use crate::evidence::{now_rfc3339, CallSpec, Capture, RecordSink};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeDeserializationInterceptorContextMut,
    BeforeTransmitInterceptorContextRef, Error, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

/// Extracts (code, message) from a type-erased operation error of a known operation.
type ErrorMetaFn = fn(&Error) -> Option<(Option<String>, Option<String>)>;

fn error_meta<E>(error: &Error) -> Option<(Option<String>, Option<String>)>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    error
        .downcast_ref::<E>()
        .map(|e| (e.code().map(str::to_owned), e.message().map(str::to_owned)))
}

/// The innermost cause of an error, shortened: the part a user can act on, without the SDK's
/// debug dump of the whole response (the response itself is in the pack).
pub(crate) fn innermost_message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    let text = current.to_string();
    const LIMIT: usize = 300;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// A parser's complaint about an answer, as a sentence: the SDK's deserialisers describe what they
/// met with their internal structures (`StartEl { name: Name { ... } }`), which mean nothing to a
/// reader. What they expected is kept; the dump is not.
pub(crate) fn unreadable_answer(operation: &str, parser_message: &str) -> String {
    let expected = parser_message
        .split("expected ")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|word| !word.is_empty());
    let why = match expected {
        Some(element) => format!("its body is not the {element} document the API returns"),
        None => {
            let head = parser_message.split('{').next().unwrap_or_default().trim();
            let head = head.trim_end_matches([':', ',', ' ']);
            if head.is_empty() {
                "its body is not in the shape the API returns".to_string()
            } else {
                format!("{head} (the parser's words)")
            }
        }
    };
    format!("the SDK could not read the answer as a {operation} response: {why}; the answer is kept in the pack")
}

/// Why an answer was not read: its `Content-Length` is more than a record holds.
#[derive(Debug, thiserror::Error)]
#[error("the answer is {0} bytes, more than the {max} bytes an evidence record holds", max = crate::evidence::MAX_RECORD_BYTES)]
pub(crate) struct TooLarge(u64);

/// Whether an error (or its cause) is an answer refused for its size: announced ([`TooLarge`]) or
/// found while reading it (`http_body_util::LengthLimitError`).
pub(crate) fn too_large(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<TooLarge>() || e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// Records each attempt of one API call into the pack.
#[derive(Debug)]
pub struct Recorder {
    call: u64,
    spec: Arc<CallSpec>,
    sink: RecordSink,
    attempts: AtomicU32,
    recorded: AtomicU32,
    error_meta: ErrorMetaFn,
    /// Whether the last answer was a success with an empty body (see [`Recorder::empty_answer`]).
    empty_answer: Arc<AtomicBool>,
}

/// Whether a call's answers hold credentials, which never reach the pack: sts:AssumeRole, the only
/// such operation auditpack calls. Its bodies are stored through [`redact_credentials`].
fn carries_credentials(spec: &CallSpec) -> bool {
    crate::evidence::Op::AssumeRole.is(&spec.service, &spec.operation)
}

/// Elements of an STS answer whose values are secrets and never reach the pack.
const SECRET_ELEMENTS: [&str; 3] = ["AccessKeyId", "SecretAccessKey", "SessionToken"];
/// What a secret element holds in the pack instead.
pub const REDACTED: &str = "REDACTED";

/// Replaces the text of every secret element of an XML body with `REDACTED`; returns the new body and
/// the names of the elements that were replaced. A body that is not well-formed XML is dropped whole
/// (`None`), since it cannot be shown to be free of secrets.
pub(crate) fn redact_credentials(body: &[u8]) -> Option<(Vec<u8>, Vec<String>)> {
    use quick_xml::events::{BytesText, Event};
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut writer = quick_xml::Writer::new(Vec::with_capacity(body.len()));
    // The secret element being copied, and whether its value was already replaced.
    let mut inside: Option<(String, bool)> = None;
    let mut replaced: Vec<String> = Vec::new();
    loop {
        let event = reader.read_event().ok()?;
        match (event, inside.as_mut()) {
            (Event::Eof, _) => break,
            (Event::Text(_) | Event::CData(_) | Event::GeneralRef(_), Some((name, done))) => {
                // One REDACTED for the whole value, however many pieces the parser splits it into.
                if !*done {
                    *done = true;
                    if !replaced.contains(name) {
                        replaced.push(name.clone());
                    }
                    writer
                        .write_event(Event::Text(BytesText::new(REDACTED)))
                        .ok()?;
                }
            }
            (event @ Event::Start(_), _) => {
                if let Event::Start(start) = &event {
                    let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                    inside = SECRET_ELEMENTS
                        .contains(&name.as_str())
                        .then_some((name, false));
                }
                writer.write_event(event).ok()?;
            }
            (event @ Event::End(_), _) => {
                inside = None;
                writer.write_event(event).ok()?;
            }
            (other, _) => writer.write_event(other).ok()?,
        }
    }
    Some((writer.into_inner(), replaced))
}

impl Recorder {
    /// A recorder for call number `call` of an operation whose error type is `E`.
    pub fn new<E>(call: u64, spec: Arc<CallSpec>, sink: RecordSink) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        Self {
            call,
            spec,
            sink,
            attempts: AtomicU32::new(0),
            recorded: AtomicU32::new(0),
            error_meta: error_meta::<E>,
            empty_answer: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Set when the last attempt's answer was a success with nothing in its body. Every call
    /// auditpack makes but `HeadBucket` answers with a document, so such an answer (a proxy's, a
    /// cut-off one) holds no evidence, though the SDK reads an empty JSON body as an answer with
    /// every member absent.
    pub fn empty_answer(&self) -> Arc<AtomicBool> {
        self.empty_answer.clone()
    }

    fn capture(&self, attempt: u32) -> Capture {
        Capture {
            call: self.call,
            attempt,
            spec: self.spec.clone(),
            http_status: None,
            request_id: None,
            server_date: None,
            received_at: now_rfc3339(),
            content_type: None,
            body: None,
            error_code: None,
            error_message: None,
            sdk_error: None,
            redacted: None,
        }
    }

    fn describe_error(&self, error: &OrchestratorError<Error>, capture: &mut Capture) {
        match error.as_operation_error().and_then(self.error_meta) {
            Some((code, message)) => {
                capture.error_code = code;
                capture.error_message = message;
            }
            None => capture.sdk_error = Some(innermost_message(error)),
        }
    }
}

fn header(headers: &aws_smithy_runtime_api::http::Headers, name: &str) -> Option<String> {
    headers.get(name).map(str::to_owned)
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "auditpack-recorder"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Reads no more of an answer than a pack can hold ([`crate::evidence::MAX_RECORD_BYTES`]): a
    /// larger one fails the attempt (recorded as a failure with no body) instead of filling memory.
    /// One whose `Content-Length` says so is refused unread, and not asked again (an interceptor's
    /// error is not retried); one sent in chunks is cut off at the limit.
    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let announced = context
            .response()
            .headers()
            .get("content-length")
            .and_then(|n| n.trim().parse::<u64>().ok());
        if let Some(size) = announced.filter(|&n| n > crate::evidence::MAX_RECORD_BYTES) {
            return Err(Box::new(TooLarge(size)));
        }
        let body = context.response_mut().body_mut();
        let whole = std::mem::replace(body, SdkBody::taken());
        *body = SdkBody::from_body_1_x(http_body_util::Limited::new(
            whole,
            crate::evidence::MAX_RECORD_BYTES as usize,
        ));
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = self.attempts.load(Ordering::SeqCst);
        let response = context.response();
        let headers = response.headers();
        let mut capture = self.capture(attempt);
        capture.http_status = Some(response.status().as_u16());
        capture.request_id = header(headers, "x-amzn-requestid")
            .or_else(|| header(headers, "x-amz-request-id"))
            .or_else(|| header(headers, "x-amzn-request-id"));
        capture.server_date = header(headers, "date");
        capture.content_type = header(headers, "content-type");
        let body = response.body().bytes().unwrap_or_default();
        self.empty_answer.store(
            (200..300).contains(&response.status().as_u16())
                && !crate::evidence::Op::HeadBucket.is(&self.spec.service, &self.spec.operation)
                && body.iter().all(u8::is_ascii_whitespace),
            Ordering::SeqCst,
        );
        if carries_credentials(&self.spec) {
            match redact_credentials(body) {
                Some((clean, replaced)) => {
                    capture.body = Some(clean);
                    capture.redacted = Some(replaced);
                }
                None => capture.redacted = Some(vec!["body".to_string()]),
            }
        } else {
            capture.body = Some(body.to_vec());
        }
        if let Err(error) = context.output_or_error() {
            self.describe_error(error, &mut capture);
        }
        self.recorded.store(attempt, Ordering::SeqCst);
        self.sink.record(capture);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = self.attempts.load(Ordering::SeqCst);
        if attempt == 0 || self.recorded.load(Ordering::SeqCst) == attempt {
            return Ok(());
        }
        // The attempt ended before a response could be deserialized: record the failure itself.
        let mut capture = self.capture(attempt);
        if let Some(response) = context.response() {
            capture.http_status = Some(response.status().as_u16());
            capture.server_date = header(response.headers(), "date");
        }
        capture.sdk_error = Some(match context.output_or_error() {
            Some(Err(error)) => innermost_message(error),
            _ => "the attempt ended without a response".to_string(),
        });
        self.recorded.store(attempt, Ordering::SeqCst);
        self.sink.record(capture);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parser_dump_becomes_a_sentence() {
        // What the S3 deserialiser says when GetBucketPolicyStatus gets a ListBucketResult.
        let dump = "error parsing XML: invalid root, expected PolicyStatus got StartEl { name: Name { \
                    prefix: \"\", local: \"ListBucketResult\" }, attributes: [], closed: false, depth: 0 }";
        let text = unreadable_answer("GetBucketPolicyStatus", dump);
        assert_eq!(
            text,
            "the SDK could not read the answer as a GetBucketPolicyStatus response: its body is not \
             the PolicyStatus document the API returns; the answer is kept in the pack"
        );
        let other = unreadable_answer(
            "DescribeKey",
            "EOF while parsing an object at line 1 column 9",
        );
        assert!(
            other.contains("EOF while parsing an object at line 1 column 9 (the parser's words)")
        );
        assert!(!unreadable_answer("X", "bad { dump }").contains('{'));
    }

    /// An AssumeRole answer as STS sends it (shape from the STS API reference).
    const ASSUME_ROLE: &str = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>ASIAEXAMPLEKEY</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>FQoGZXIvYXdzEPT//////////wEXAMPLEtoken&amp;more</SessionToken>
      <Expiration>2026-11-28T15:00:00Z</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::222222222222:assumed-role/AuditpackReader/auditpack</Arn>
      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:auditpack</AssumedRoleId>
    </AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleResponse>"#;

    #[test]
    fn credentials_are_replaced_and_everything_else_kept() {
        let (clean, replaced) = redact_credentials(ASSUME_ROLE.as_bytes()).unwrap();
        let clean = String::from_utf8(clean).unwrap();
        for secret in ["ASIAEXAMPLEKEY", "wJalrXUtnFEMI", "FQoGZXIvYXdz", "more"] {
            assert!(!clean.contains(secret), "{secret} leaked: {clean}");
        }
        assert_eq!(replaced, ["AccessKeyId", "SecretAccessKey", "SessionToken"]);
        assert!(clean.contains("<SecretAccessKey>REDACTED</SecretAccessKey>"));
        assert!(clean.contains("2026-11-28T15:00:00Z"));
        assert!(clean.contains("assumed-role/AuditpackReader/auditpack"));
        assert!(clean.contains("c6104cbe-af31-11e0-8154-cbc7ccf896c7"));
    }

    #[test]
    fn an_error_answer_passes_unchanged_and_garbage_is_dropped() {
        let denied = r#"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>"#;
        let (clean, replaced) = redact_credentials(denied.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(clean).unwrap(), denied);
        assert!(replaced.is_empty());
        assert!(redact_credentials(b"<a><SecretAccessKey>x</b>").is_none());
    }
}
