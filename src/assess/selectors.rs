//! Decides from a GetEventSelectors response whether a trail records every management event.
//!
//! "Every" means read and write events, from every event source.
//!
//! Sources (AWS documentation):
//! - CloudTrail API reference, `PutEventSelectors`, `EventSelector`, `AdvancedEventSelector`,
//!   `AdvancedFieldSelector` (also in botocore's cloudtrail 2013-11-01 model):
//!   <https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_AdvancedFieldSelector.html>
//! - CloudTrail UG, "Logging management events":
//!   <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-management-events-with-cloudtrail.html>
//!
//! CloudTrail logs an event if it matches any selector ("if the event matches any event selector,
//! the trail processes and logs the event. If the event doesn't match any event selector, the
//! trail doesn't log the event", PutEventSelectors), so coverage is the union over selectors.

use serde_json::{Map, Value};

/// How much of the management-event stream a trail records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagementEvents {
    /// Read and write management events, from every source.
    All,
    /// Some management events only; `why` says which are left out (write-only, read-only, KMS or RDS Data API events excluded...).
    /// `writes`: some selector records write management events (narrowed or not); a read-only
    /// trail records none of the changes the control is about.
    Partial { why: String, writes: bool },
    /// No management events (data events only, or IncludeManagementEvents false everywhere).
    None { why: String },
    /// The answer has neither form, or a selector auditpack cannot read. `why` says what.
    Unknown { why: String },
}

/// Decides from a GetEventSelectors response body (`{TrailARN, EventSelectors?, AdvancedEventSelectors?}`) whether the trail records all management events.
pub fn management_events(response: &Value) -> ManagementEvents {
    match selector_form(response) {
        Ok(Form::Basic(selectors)) => combine(
            selectors.iter().map(basic_coverage).collect(),
            "IncludeManagementEvents is false in every event selector",
        ),
        Ok(Form::Advanced(selectors)) => combine(
            selectors.iter().map(advanced_coverage).collect(),
            "no advanced event selector has eventCategory Equals Management (data events only)",
        ),
        Err(why) => ManagementEvents::Unknown { why },
    }
}

/// Which of the two selector forms the trail uses.
enum Form<'a> {
    Basic(&'a [Value]),
    Advanced(&'a [Value]),
}

/// Picks the selector form. The API reference says "You cannot apply both event selectors and
/// advanced event selectors to a trail".
///
/// An answer whose lists are all empty is not read as "logs nothing": the API says an event
/// matching no selector is not logged, yet the CloudTrail UG shows `"AdvancedEventSelectors": []`
/// as the answer for a trail with default settings, which log all management events. The docs
/// do not settle which an empty answer means, so it is `Unknown`.
fn selector_form(response: &Value) -> Result<Form<'_>, String> {
    let body = response
        .as_object()
        .ok_or("the GetEventSelectors response is not a JSON object")?;
    let basic = list(body, "EventSelectors")?;
    let advanced = list(body, "AdvancedEventSelectors")?;
    match (non_empty(basic), non_empty(advanced)) {
        (Some(basic), None) => Ok(Form::Basic(basic)),
        (None, Some(advanced)) => Ok(Form::Advanced(advanced)),
        (Some(_), Some(_)) => Err("the response holds both EventSelectors and AdvancedEventSelectors, which a trail cannot have together".into()),
        (None, None) if basic.is_some() || advanced.is_some() => Err("the response's selector lists are empty; AWS does not document whether that means no events or the default (all management events)".into()),
        (None, None) => Err("the response has neither EventSelectors nor AdvancedEventSelectors".into()),
    }
}

fn non_empty(list: Option<&[Value]>) -> Option<&[Value]> {
    list.filter(|items| !items.is_empty())
}

/// Reads an optional list member; JSON `null` counts as absent.
fn list<'a>(body: &'a Map<String, Value>, member: &str) -> Result<Option<&'a [Value]>, String> {
    match body.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items.as_slice())),
        Some(_) => Err(format!("the response's {member} is not a list")),
    }
}

/// What one selector contributes to management-event logging.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Coverage {
    /// Logs read (readOnly) management events.
    read: bool,
    /// Logs write management events.
    write: bool,
    /// What the selector leaves out of the events it logs, one phrase each.
    narrowed: Vec<String>,
}

impl Coverage {
    fn full_read(&self) -> bool {
        self.read && self.narrowed.is_empty()
    }

    fn full_write(&self) -> bool {
        self.write && self.narrowed.is_empty()
    }
}

/// Unions the selectors. A selector auditpack cannot read can only add events, so it does not
/// spoil an `All` made by the others; it does keep anything less than `All` open.
fn combine(selectors: Vec<Result<Coverage, String>>, none_why: &str) -> ManagementEvents {
    let readable: Vec<&Coverage> = selectors.iter().filter_map(|s| s.as_ref().ok()).collect();
    let read = readable.iter().any(|c| c.full_read());
    let write = readable.iter().any(|c| c.full_write());
    if read && write {
        return ManagementEvents::All;
    }
    if let Some(why) = selectors.iter().find_map(|s| s.as_ref().err()) {
        return ManagementEvents::Unknown { why: why.clone() };
    }
    if readable.iter().all(|c| !c.read && !c.write) {
        return ManagementEvents::None {
            why: none_why.into(),
        };
    }
    ManagementEvents::Partial {
        why: partial_reason(&readable, read, write),
        writes: readable.iter().any(|c| c.write),
    }
}

/// Says, for read and for write events in turn, whether no selector logs them or only a
/// narrowed one does.
fn partial_reason(selectors: &[&Coverage], read: bool, write: bool) -> String {
    let readers: Vec<&Coverage> = selectors.iter().copied().filter(|c| c.read).collect();
    let writers: Vec<&Coverage> = selectors.iter().copied().filter(|c| c.write).collect();
    let gaps = [("read", read, readers), ("write", write, writers)];
    let gaps = gaps
        .into_iter()
        .filter(|(_, full, _)| !full)
        .map(|(kind, _, logging)| gap(kind, &logging));
    gaps.collect::<Vec<_>>().join("; ")
}

/// Why `kind` (read or write) management events are not all logged, given the selectors that log
/// some of them (each of them narrowed, or `kind` would be fully logged).
fn gap(kind: &str, logging: &[&Coverage]) -> String {
    if logging.is_empty() {
        return format!("no selector logs {kind} management events");
    }
    let mut narrowed: Vec<&str> = Vec::new();
    for phrase in logging.iter().flat_map(|c| c.narrowed.iter()) {
        if !narrowed.contains(&phrase.as_str()) {
            narrowed.push(phrase);
        }
    }
    format!(
        "{kind} management events are logged only in part: {}",
        narrowed.join(", ")
    )
}

/// A basic event selector. API reference, `EventSelector`: `ReadWriteType` "By default, the value
/// is All"; `IncludeManagementEvents` "By default, the value is true"; `ExcludeManagementEventSources`
/// "can be empty (disables the filter), or it can filter out Key Management Service or Amazon RDS
/// Data API events". An exclusion counts as partial, as CIS counts excluding KMS events.
fn basic_coverage(selector: &Value) -> Result<Coverage, String> {
    let selector = selector
        .as_object()
        .ok_or("an event selector is not a JSON object")?;
    if !includes_management(selector)? {
        return Ok(Coverage::default());
    }
    let (read, write) = read_write_type(selector)?;
    let narrowed = excluded_sources(selector.get("ExcludeManagementEventSources"))?;
    Ok(Coverage {
        read,
        write,
        narrowed,
    })
}

fn includes_management(selector: &Map<String, Value>) -> Result<bool, String> {
    match selector.get("IncludeManagementEvents") {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Bool(include)) => Ok(*include),
        Some(other) => Err(format!(
            "an event selector's IncludeManagementEvents is {other}, not a boolean"
        )),
    }
}

/// Whether the selector logs (read, write) events.
fn read_write_type(selector: &Map<String, Value>) -> Result<(bool, bool), String> {
    match selector.get("ReadWriteType") {
        None | Some(Value::Null) => Ok((true, true)),
        Some(Value::String(s)) if s == "All" => Ok((true, true)),
        Some(Value::String(s)) if s == "ReadOnly" => Ok((true, false)),
        Some(Value::String(s)) if s == "WriteOnly" => Ok((false, true)),
        Some(other) => Err(format!(
            "an event selector's ReadWriteType is {other}, not All, ReadOnly or WriteOnly"
        )),
    }
}

fn excluded_sources(value: Option<&Value>) -> Result<Vec<String>, String> {
    let sources = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(Value::as_str).collect::<Option<Vec<_>>>(),
        Some(_) => None,
    };
    let sources = sources
        .ok_or("an event selector's ExcludeManagementEventSources is not a list of strings")?;
    Ok(sources
        .into_iter()
        .map(|source| format!("events from {source} are excluded"))
        .collect())
}

/// One field selector: its field and each operator with its values.
struct FieldSelector<'a> {
    field: &'a str,
    operators: Vec<(&'a str, Vec<&'a str>)>,
}

/// The operator members of `AdvancedFieldSelector` in the API reference.
const OPERATORS: [&str; 6] = [
    "Equals",
    "StartsWith",
    "EndsWith",
    "NotEquals",
    "NotStartsWith",
    "NotEndsWith",
];

fn field_selector(value: &Value) -> Result<FieldSelector<'_>, String> {
    let body = value
        .as_object()
        .ok_or("a field selector is not a JSON object")?;
    let field = body
        .get("Field")
        .and_then(Value::as_str)
        .ok_or("a field selector has no Field string")?;
    let mut operators = Vec::new();
    for (name, values) in body.iter().filter(|(name, _)| name.as_str() != "Field") {
        if !OPERATORS.contains(&name.as_str()) {
            return Err(format!(
                "the field selector on {field} has an unknown member {name}"
            ));
        }
        let values = values
            .as_array()
            .and_then(|v| v.iter().map(Value::as_str).collect());
        let values = values.ok_or_else(|| {
            format!("the field selector on {field} has {name} that is not a list of strings")
        })?;
        operators.push((name.as_str(), values));
    }
    Ok(FieldSelector { field, operators })
}

/// An advanced event selector. Field selectors within it are ANDed. API reference,
/// `AdvancedFieldSelector`: for management events the fields are `eventCategory` (required, Equals
/// `Management`), `readOnly` (Equals `true` or `false`; "If you do not add this field, CloudTrail
/// logs both read and write events") and `eventSource` (NotEquals `kms.amazonaws.com` or
/// `rdsdata.amazonaws.com`). Anything else on a management selector is taken as narrowing it.
fn advanced_coverage(selector: &Value) -> Result<Coverage, String> {
    let fields = selector
        .get("FieldSelectors")
        .and_then(Value::as_array)
        .ok_or("an advanced event selector has no FieldSelectors list")?;
    let fields: Vec<FieldSelector> = fields
        .iter()
        .map(field_selector)
        .collect::<Result<_, _>>()?;
    if !is_management(&fields)? {
        return Ok(Coverage::default());
    }
    let (read, write) = read_write(&fields)?;
    let narrowed = fields
        .iter()
        .filter(|f| f.field != "eventCategory" && f.field != "readOnly")
        .map(narrowing)
        .collect();
    Ok(Coverage {
        read,
        write,
        narrowed,
    })
}

/// Whether every `eventCategory` field selector admits `Management`. The API reference says the
/// field "is required and must be set to Equals"; a selector breaking that cannot be read.
fn is_management(fields: &[FieldSelector]) -> Result<bool, String> {
    let categories: Vec<&FieldSelector> = fields
        .iter()
        .filter(|f| f.field == "eventCategory")
        .collect();
    if categories.is_empty() {
        return Err("an advanced event selector has no eventCategory field selector".into());
    }
    let mut management = true;
    for category in categories {
        let values = equals_only(category)?;
        management &= values.contains(&"Management");
    }
    Ok(management)
}

/// The `readOnly` field selectors, ANDed: `true` keeps read events, `false` write events.
fn read_write(fields: &[FieldSelector]) -> Result<(bool, bool), String> {
    let (mut read, mut write) = (true, true);
    for field in fields.iter().filter(|f| f.field == "readOnly") {
        let values = equals_only(field)?;
        if let Some(other) = values.iter().find(|v| **v != "true" && **v != "false") {
            return Err(format!(
                "a readOnly field selector has value {other:?}, not true or false"
            ));
        }
        read &= values.contains(&"true");
        write &= values.contains(&"false");
    }
    Ok((read, write))
}

/// The values of a field selector that may only use `Equals` (API reference: Equals "is the only
/// valid operator that you can use with the readOnly, eventCategory, and resources.type fields").
fn equals_only<'a>(field: &FieldSelector<'a>) -> Result<Vec<&'a str>, String> {
    match field.operators.as_slice() {
        [("Equals", values)] => Ok(values.clone()),
        _ => Err(format!(
            "the {} field selector uses an operator other than Equals alone",
            field.field
        )),
    }
}

/// Describes what a field selector other than eventCategory or readOnly leaves out.
fn narrowing(field: &FieldSelector) -> String {
    match (field.field, field.operators.as_slice()) {
        ("eventSource", [("NotEquals", sources)]) if !sources.is_empty() => {
            format!("events from {} are excluded", sources.join(", "))
        }
        (name, operators) => {
            let operators: Vec<&str> = operators.iter().map(|(op, _)| *op).collect();
            format!(
                "a {name} field selector ({}) filters them",
                operators.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TRAIL: &str = "arn:aws:cloudtrail:us-east-1:111122223333:trail/TrailName";

    fn basic(selectors: Value) -> ManagementEvents {
        management_events(&json!({"TrailARN": TRAIL, "EventSelectors": selectors}))
    }

    fn advanced(selectors: Value) -> ManagementEvents {
        management_events(&json!({"TrailARN": TRAIL, "AdvancedEventSelectors": selectors}))
    }

    fn why_of(result: ManagementEvents) -> String {
        match result {
            ManagementEvents::Partial { why, .. }
            | ManagementEvents::None { why }
            | ManagementEvents::Unknown { why } => why,
            ManagementEvents::All => panic!("expected a reason, got All"),
        }
    }

    fn assert_partial_naming(result: ManagementEvents, words: &[&str]) {
        assert!(
            matches!(result, ManagementEvents::Partial { .. }),
            "{result:?}"
        );
        let why = why_of(result);
        for word in words {
            assert!(why.contains(word), "{why:?} does not name {word}");
        }
    }

    fn assert_unknown(result: ManagementEvents) {
        assert!(
            matches!(result, ManagementEvents::Unknown { .. }),
            "{result:?}"
        );
    }

    /// The CloudTrail UG's get-event-selectors output for a trail with default basic selectors.
    #[test]
    fn documented_default_basic_selector_logs_all() {
        let selectors = json!([{"ExcludeManagementEventSources": [], "IncludeManagementEvents": true, "DataResources": [], "ReadWriteType": "All"}]);
        assert_eq!(basic(selectors), ManagementEvents::All);
    }

    #[test]
    fn basic_selector_members_default_to_all_and_true() {
        assert_eq!(basic(json!([{}])), ManagementEvents::All);
        assert_eq!(
            basic(json!([{"ReadWriteType": null, "IncludeManagementEvents": null}])),
            ManagementEvents::All
        );
    }

    #[test]
    fn read_only_basic_selector_is_partial() {
        let read_only = basic(json!([{"ReadWriteType": "ReadOnly"}]));
        assert!(matches!(
            read_only,
            ManagementEvents::Partial { writes: false, .. }
        ));
        assert_partial_naming(read_only, &["no selector logs write"]);
        let advanced_read_only = advanced(json!([{"FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Management"]},
            {"Field": "readOnly", "Equals": ["true"]}
        ]}]));
        assert!(matches!(
            advanced_read_only,
            ManagementEvents::Partial { writes: false, .. }
        ));
    }

    #[test]
    fn write_only_basic_selector_is_partial() {
        let write_only = basic(json!([{"ReadWriteType": "WriteOnly"}]));
        assert!(matches!(
            write_only,
            ManagementEvents::Partial { writes: true, .. }
        ));
        assert_partial_naming(write_only, &["no selector logs read"]);
    }

    #[test]
    fn read_only_and_write_only_selectors_together_log_all() {
        let selectors = json!([{"ReadWriteType": "ReadOnly"}, {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": true}]);
        assert_eq!(basic(selectors), ManagementEvents::All);
    }

    #[test]
    fn include_management_events_false_everywhere_is_none() {
        let selectors = json!([{"IncludeManagementEvents": false, "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}]);
        assert!(matches!(basic(selectors), ManagementEvents::None { .. }));
    }

    #[test]
    fn excluding_kms_or_rds_data_events_is_partial() {
        assert_partial_naming(
            basic(json!([{"ExcludeManagementEventSources": ["kms.amazonaws.com"]}])),
            &["kms.amazonaws.com"],
        );
        assert_partial_naming(
            basic(json!([{"ExcludeManagementEventSources": ["rdsdata.amazonaws.com"]}])),
            &["rdsdata.amazonaws.com"],
        );
    }

    #[test]
    fn full_selector_elsewhere_covers_an_excluding_one() {
        let selectors = json!([{"ExcludeManagementEventSources": ["kms.amazonaws.com"]}, {"ReadWriteType": "All"}]);
        assert_eq!(basic(selectors), ManagementEvents::All);
    }

    #[test]
    fn read_only_full_plus_excluding_all_is_partial_for_writes() {
        let selectors = json!([{"ReadWriteType": "ReadOnly"}, {"ReadWriteType": "All", "ExcludeManagementEventSources": ["kms.amazonaws.com"]}]);
        assert_partial_naming(
            basic(selectors),
            &[
                "write management events are logged only in part",
                "kms.amazonaws.com",
            ],
        );
    }

    #[test]
    fn unreadable_basic_selector_is_unknown() {
        assert_unknown(basic(json!([{"ReadWriteType": "Everything"}])));
        assert_unknown(basic(json!([{"IncludeManagementEvents": "yes"}])));
        assert_unknown(basic(
            json!([{"ExcludeManagementEventSources": "kms.amazonaws.com"}]),
        ));
        assert_unknown(basic(json!(["All"])));
    }

    #[test]
    fn unreadable_selector_beside_a_full_one_still_logs_all() {
        assert_eq!(
            basic(json!([{"ReadWriteType": "Everything"}, {}])),
            ManagementEvents::All
        );
        assert_unknown(basic(
            json!([{"ReadWriteType": "Everything"}, {"ReadWriteType": "ReadOnly"}]),
        ));
    }

    #[test]
    fn empty_selector_lists_are_unknown() {
        assert_unknown(basic(json!([])));
        assert_unknown(advanced(json!([])));
        assert_unknown(management_events(
            &json!({"TrailARN": TRAIL, "EventSelectors": [], "AdvancedEventSelectors": []}),
        ));
    }

    #[test]
    fn response_without_either_form_is_unknown() {
        assert_unknown(management_events(&json!({"TrailARN": TRAIL})));
        assert_unknown(management_events(&json!("not an object")));
        assert_unknown(management_events(
            &json!({"TrailARN": TRAIL, "EventSelectors": {"ReadWriteType": "All"}}),
        ));
    }

    #[test]
    fn response_with_both_forms_is_unknown() {
        let response = json!({"TrailARN": TRAIL, "EventSelectors": [{}], "AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}]});
        assert_unknown(management_events(&response));
    }

    #[test]
    fn empty_basic_list_beside_advanced_selectors_uses_advanced() {
        let response = json!({"TrailARN": TRAIL, "EventSelectors": [], "AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}]});
        assert_eq!(management_events(&response), ManagementEvents::All);
    }

    /// The CloudTrail UG's get-event-selectors output for a trail with default settings.
    #[test]
    fn documented_default_advanced_selector_logs_all() {
        let response = json!({
            "TrailARN": "arn:aws:cloudtrail:us-east-1:111122223333:trail/TrailName",
            "AdvancedEventSelectors": [
                {"Name": "Management events selector", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}
            ]
        });
        assert_eq!(management_events(&response), ManagementEvents::All);
    }

    #[test]
    fn read_only_advanced_selector_is_partial() {
        let selectors = json!([{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "readOnly", "Equals": ["true"]}]}]);
        assert_partial_naming(advanced(selectors), &["no selector logs write"]);
    }

    #[test]
    fn read_and_write_advanced_selectors_together_log_all() {
        let selectors = json!([
            {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "readOnly", "Equals": ["true"]}]},
            {"FieldSelectors": [{"Field": "readOnly", "Equals": ["false"]}, {"Field": "eventCategory", "Equals": ["Management"]}]}
        ]);
        assert_eq!(advanced(selectors), ManagementEvents::All);
        let both = json!([{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "readOnly", "Equals": ["true", "false"]}]}]);
        assert_eq!(advanced(both), ManagementEvents::All);
    }

    /// The CloudTrail UG's example "Log all management events except KMS events".
    #[test]
    fn advanced_selector_excluding_kms_is_partial() {
        let selectors = json!([{
            "Name": "Log all management events except KMS events",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Management"]},
                {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]}
            ]
        }]);
        assert_partial_naming(advanced(selectors), &["kms.amazonaws.com"]);
        let rds = json!([{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "eventSource", "NotEquals": ["rdsdata.amazonaws.com"]}]}]);
        assert_partial_naming(advanced(rds), &["rdsdata.amazonaws.com"]);
    }

    #[test]
    fn other_field_on_a_management_selector_is_partial() {
        let selectors = json!([{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "eventName", "StartsWith": ["Create"]}]}]);
        assert_partial_naming(advanced(selectors), &["eventName", "StartsWith"]);
    }

    #[test]
    fn data_only_advanced_selectors_are_none() {
        let selectors = json!([{
            "Name": "Log data plane actions on MyLambdaFunction",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::Lambda::Function"]},
                {"Field": "resources.ARN", "Equals": ["arn:aws:lambda:us-east-2:111122223333:function/MyLambdaFunction"]}
            ]
        }]);
        assert!(matches!(advanced(selectors), ManagementEvents::None { .. }));
    }

    /// The CloudTrail UG's example trail with one management selector and two data selectors.
    #[test]
    fn management_selector_beside_data_selectors_logs_all() {
        let selectors = json!([
            {"Name": "Log readOnly and writeOnly management events", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
            {"Name": "Log PutObject and DeleteObject events for all but one bucket", "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                {"Field": "eventName", "Equals": ["PutObject", "DeleteObject"]},
                {"Field": "resources.ARN", "NotEquals": ["arn:aws:s3:::sample_bucket_name/"]}
            ]}
        ]);
        assert_eq!(advanced(selectors), ManagementEvents::All);
    }

    #[test]
    fn unreadable_advanced_selectors_are_unknown() {
        let no_category = json!([{"FieldSelectors": [{"Field": "readOnly", "Equals": ["true"]}]}]);
        assert_unknown(advanced(no_category));
        let category_starts_with =
            json!([{"FieldSelectors": [{"Field": "eventCategory", "StartsWith": ["Manage"]}]}]);
        assert_unknown(advanced(category_starts_with));
        let read_only_not_equals = json!([{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "readOnly", "NotEquals": ["true"]}]}]);
        assert_unknown(advanced(read_only_not_equals));
        let bad_read_only = json!([{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "readOnly", "Equals": ["yes"]}]}]);
        assert_unknown(advanced(bad_read_only));
        let unknown_member = json!([{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"], "Matches": ["x"]}]}]);
        assert_unknown(advanced(unknown_member));
        assert_unknown(advanced(json!([{"Name": "no field selectors"}])));
    }
}
