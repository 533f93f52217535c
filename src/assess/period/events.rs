//! One LookupEvents answer, read: its events (the `CloudTrailEvent` of each, a JSON document in a
//! string), the events that cannot be read, and the token of the next page.

use super::timeline::Instant;
use crate::assess::EvidenceLink;
use serde_json::Value;

/// A management event from Event history, as the period needs it.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub name: String,
    pub at: Instant,
    /// The account and Region whose Event history holds it.
    pub account: String,
    pub region: String,
    /// Who made the call: the identity's ARN, or what the event has instead (a service).
    pub who: String,
    /// The call's error, when it was refused or failed: it changed nothing.
    pub refused: Option<String>,
    pub request: Value,
    pub response: Value,
    /// The ARNs of the event's `resources` (KMS keys, buckets).
    pub resources: Vec<String>,
    /// The record of the page it was read from.
    pub record: EvidenceLink,
}

impl Event {
    /// A request parameter as text.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.request.get(name).and_then(Value::as_str)
    }

    /// An answer element as text, empty counting as absent.
    pub fn answered(&self, name: &str) -> Option<&str> {
        self.response
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// An event of a page whose `CloudTrailEvent` is not a JSON object: what it changed is unknown.
#[derive(Debug, Clone)]
pub struct Unreadable {
    pub id: Option<String>,
    /// The time LookupEvents gave for it, if any.
    pub at: Option<Instant>,
}

/// A page of events, read.
#[derive(Debug, Default)]
pub struct Page {
    pub events: Vec<Event>,
    pub unreadable: Vec<Unreadable>,
    /// `NextToken`, when the answer has more pages.
    pub next: Option<String>,
}

/// Where a page came from.
pub struct Source<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub record: EvidenceLink,
}

/// Reads a LookupEvents answer; `Err` says why it is not one (no `Events` list).
pub fn read_page(body: &Value, source: &Source<'_>) -> Result<Page, String> {
    let Some(events) = body.get("Events").and_then(Value::as_array) else {
        return Err("the answer has no Events list".into());
    };
    let mut page = Page {
        next: body
            .get("NextToken")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        ..Page::default()
    };
    for outer in events {
        let record = outer
            .get("CloudTrailEvent")
            .and_then(Value::as_str)
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .filter(Value::is_object);
        let id = text(outer, "EventId");
        let at = outer
            .get("EventTime")
            .and_then(Value::as_f64)
            .map(|t| t as Instant);
        match record.and_then(|r| event(outer, r, source)) {
            Some(event) => page.events.push(event),
            None => page.unreadable.push(Unreadable { id, at }),
        }
    }
    Ok(page)
}

fn text(value: &Value, field: &str) -> Option<String> {
    value
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// One event from its LookupEvents entry and its CloudTrailEvent document; `None` when it lacks a
/// name or a time.
fn event(outer: &Value, record: Value, source: &Source<'_>) -> Option<Event> {
    let name = text(&record, "eventName").or_else(|| text(outer, "EventName"))?;
    let at = text(&record, "eventTime")
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.timestamp())
        .or_else(|| {
            outer
                .get("EventTime")
                .and_then(Value::as_f64)
                .map(|t| t as Instant)
        })?;
    let id = text(&record, "eventID")
        .or_else(|| text(outer, "EventId"))
        .unwrap_or_else(|| format!("{name}@{at}"));
    let refused = text(&record, "errorCode").map(|code| match text(&record, "errorMessage") {
        Some(message) => format!("{code}: {message}"),
        None => code,
    });
    let resources = record
        .get("resources")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|r| text(r, "ARN")).collect())
        .unwrap_or_default();
    Some(Event {
        id,
        name,
        at,
        account: source.account.to_string(),
        region: source.region.to_string(),
        who: who(&record["userIdentity"]),
        refused,
        request: record
            .get("requestParameters")
            .cloned()
            .unwrap_or(Value::Null),
        response: record
            .get("responseElements")
            .cloned()
            .unwrap_or(Value::Null),
        resources,
        record: source.record.clone(),
    })
}

/// Who made a call, from the event's `userIdentity`: its ARN, else the role its session came from,
/// else the service that made it, else its principal or account (CloudTrail User Guide,
/// "CloudTrail userIdentity element": only `type` is always there, and not for AWS service events).
pub fn who(identity: &Value) -> String {
    let candidates = [
        identity.get("arn"),
        identity.pointer("/sessionContext/sessionIssuer/arn"),
        identity.get("invokedBy"),
        identity.get("principalId"),
    ];
    candidates
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|s| !s.is_empty())
        .map(str::to_owned)
        .or_else(|| text(identity, "accountId").map(|a| format!("account {a}")))
        .unwrap_or_else(|| "an identity the event does not name".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn source() -> Source<'static> {
        Source {
            account: "111122223333",
            region: "us-west-2",
            record: EvidenceLink {
                seq: 7,
                sha256: None,
            },
        }
    }

    /// A console UpdateTrail that removed the key: the real event (elastic/integrations
    /// test-update-trail-json.log), as LookupEvents carries it.
    const UPDATE_TRAIL: &str = r#"{"eventVersion":"1.05","userIdentity":{"type":"IAMUser","principalId":"EXAMPLE_ID","arn":"arn:aws:iam::0123456789012:user/Alice","accountId":"0123456789012","accessKeyId":"EXAMPLE_KEY","userName":"Alice","sessionContext":{"sessionIssuer":{},"webIdFederationData":{},"attributes":{"mfaAuthenticated":"true","creationDate":"2020-01-08T15:12:16Z"}},"invokedBy":"signin.amazonaws.com"},"eventTime":"2020-01-08T20:58:45Z","eventSource":"cloudtrail.amazonaws.com","eventName":"UpdateTrail","awsRegion":"us-west-2","sourceIPAddress":"127.0.0.1","userAgent":"signin.amazonaws.com","requestParameters":{"name":"arn:aws:cloudtrail:us-west-2:0123456789012:trail/TEST-trail","s3BucketName":"test-cloudtrail-bucket","snsTopicName":"","isMultiRegionTrail":true,"enableLogFileValidation":false,"kmsKeyId":""},"responseElements":{"name":"TEST-trail","s3BucketName":"test-cloudtrail-bucket","snsTopicName":"","snsTopicARN":"","includeGlobalServiceEvents":true,"isMultiRegionTrail":true,"trailARN":"arn:aws:cloudtrail:us-west-2:0123456789012:trail/TEST-trail","logFileValidationEnabled":false,"isOrganizationTrail":false},"requestID":"EXAMPLE-f3da-42d1-84f5-EXAMPLE","eventID":"EXAMPLE-b5e9-4846-8407-EXAMPLE","readOnly":false,"eventType":"AwsApiCall","recipientAccountId":"0123456789012"}"#;

    #[test]
    fn a_page_gives_its_events_its_unreadable_events_and_its_next_token() {
        let body = json!({
            "Events": [
                {"EventId": "EXAMPLE-b5e9-4846-8407-EXAMPLE", "EventName": "UpdateTrail", "ReadOnly": "false",
                 "EventTime": 1578517125.0, "CloudTrailEvent": UPDATE_TRAIL},
                {"EventId": "e2", "EventName": "StopLogging", "EventTime": 1578517000.0, "CloudTrailEvent": "not json {"},
            ],
            "NextToken": "kbOt5LlZe++mErCebpy2TgaMgmDvF1kYGFcH64JSjIbZ"
        });
        let page = read_page(&body, &source()).unwrap();
        assert_eq!(page.events.len(), 1);
        let e = &page.events[0];
        assert_eq!(e.name, "UpdateTrail");
        assert_eq!(e.at, 1578517125);
        assert_eq!(e.who, "arn:aws:iam::0123456789012:user/Alice");
        assert_eq!(e.param("kmsKeyId"), Some(""));
        assert_eq!(e.answered("kmsKeyId"), None);
        assert_eq!(
            e.answered("trailARN"),
            Some("arn:aws:cloudtrail:us-west-2:0123456789012:trail/TEST-trail")
        );
        assert_eq!(
            (e.account.as_str(), e.region.as_str()),
            ("111122223333", "us-west-2")
        );
        assert_eq!(page.unreadable.len(), 1);
        assert_eq!(page.unreadable[0].id.as_deref(), Some("e2"));
        assert_eq!(page.unreadable[0].at, Some(1578517000));
        assert!(page.next.is_some());
        assert!(read_page(&json!({"NextToken": "x"}), &source()).is_err());
    }

    #[test]
    fn who_falls_back_to_the_service_for_events_without_an_arn() {
        assert_eq!(
            who(&json!({"accountId": "111122223333", "invokedBy": "AWS Internal"})),
            "AWS Internal"
        );
        assert_eq!(
            who(&json!({"type": "AWSService", "invokedBy": "ec2.amazonaws.com"})),
            "ec2.amazonaws.com"
        );
        assert_eq!(
            who(
                &json!({"type": "AWSAccount", "principalId": "AIDAJ45Q7YFFAREXAMPLE", "accountId": "123456789012"})
            ),
            "AIDAJ45Q7YFFAREXAMPLE"
        );
        assert_eq!(
            who(&json!({"accountId": "123456789012"})),
            "account 123456789012"
        );
        assert_eq!(who(&Value::Null), "an identity the event does not name");
    }

    #[test]
    fn a_refused_call_is_marked_so() {
        let record = json!({"eventName": "StopLogging", "eventTime": "2026-10-01T00:00:00Z",
            "errorCode": "AccessDenied", "errorMessage": "User: x is not authorized",
            "userIdentity": {"arn": "arn:aws:iam::1:user/m"}, "requestParameters": {"name": "t"}});
        let body = json!({"Events": [{"EventId": "a", "CloudTrailEvent": record.to_string()}]});
        let page = read_page(&body, &source()).unwrap();
        assert_eq!(
            page.events[0].refused.as_deref(),
            Some("AccessDenied: User: x is not authorized")
        );
        assert_eq!(page.events[0].id, "a");
    }
}
