//! Decides, by IAM's evaluation rules, whether a KMS key policy lets CloudTrail use a key.
//!
//! The question is whether the service principal `cloudtrail.amazonaws.com` may call
//! `kms:GenerateDataKey` (every log file) or `kms:DescribeKey` (the CloudTrail user guide's
//! required key policy elements) on the key for one trail.
//!
//! Only the key policy is read. Grants cannot change the answer: the KMS developer guide
//! ("Grants in AWS KMS", grantee principal) says a grantee "cannot be a service principal", so no
//! grant lets `cloudtrail.amazonaws.com` use a key its policy does not. SCPs and RCPs do not apply to
//! service principals' own calls in the key's account the way the evidence could show, and are
//! not read. Where the answer hangs on something
//! the evidence does not hold (an unknown condition key, an operator not evaluated here), the
//! verdict is `Unknown` and says which statement and which key or element caused it.
//!
//! Sources (AWS documentation):
//! - IAM UG, "Policy evaluation logic" and "The difference between explicit and implicit denies":
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html>
//! - IAM UG, JSON element references (Effect, Principal, NotPrincipal, Action, NotAction, Resource,
//!   Condition, condition operators, multivalued keys), cited where each rule is applied.
//! - KMS DG, "Creating a key policy": <https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html>
//! - CloudTrail UG, "Configure AWS KMS key policies for CloudTrail":
//!   <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html>

use serde_json::{Map, Value};

/// The request CloudTrail makes to KMS when it encrypts a log file of `trail_arn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloudTrailRequest<'a> {
    /// The trail's ARN, `arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME`.
    pub trail_arn: &'a str,
    /// The trail's owner; for an organisation trail, the management account.
    pub source_account: &'a str,
    /// The key's ARN, `arn:aws:kms:REGION:ACCOUNT:key/ID`.
    pub key_arn: &'a str,
    /// The action asked.
    pub action: KmsAction,
    /// What `kms:EncryptionContext:aws:s3:arn` can hold, from the trail's bucket and prefix.
    pub s3_context: S3Context<'a>,
}

/// The two actions the CloudTrail user guide's key policy elements give CloudTrail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsAction {
    /// `kms:GenerateDataKey`: the configuration check and every log file's delivery.
    GenerateDataKey,
    /// `kms:DescribeKey`: "If `cloudtrail.amazonaws.com` is not granted those permissions
    /// [GenerateDataKey and DescribeKey] in the key policy, you cannot create or update a trail"
    /// (user guide, for a bucket with an S3 Bucket Key).
    DescribeKey,
}

impl KmsAction {
    /// The action's name, lower-cased because action names compare case-insensitively.
    fn lower(self) -> &'static str {
        match self {
            KmsAction::GenerateDataKey => "kms:generatedatakey",
            KmsAction::DescribeKey => "kms:describekey",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KmsAction::GenerateDataKey => "kms:GenerateDataKey",
            KmsAction::DescribeKey => "kms:DescribeKey",
        }
    }
}

/// The value of the encryption context pair `aws:s3:arn` in CloudTrail's GenerateDataKey request.
/// KMS developer guide, "How AWS CloudTrail uses AWS KMS": without an S3 Bucket Key it is the ARN
/// of the log file's object, `arn:aws:s3:::BUCKET/[PREFIX/]AWSLogs/...` (the configuration check
/// uses `.../AWSLogs/ACCOUNT/`); S3 user guide, "Reducing the cost of SSE-KMS with Amazon S3 Bucket
/// Keys": with a Bucket Key "the encryption context value is the ARN of the bucket".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct S3Context<'a> {
    /// The trail's bucket, when it names one.
    pub bucket: Option<&'a str>,
    /// The trail's `S3KeyPrefix`, when it has one.
    pub prefix: Option<&'a str>,
    /// Whether the bucket uses an S3 Bucket Key: `None` when the evidence does not say.
    pub bucket_key: Option<bool>,
}

/// What the key policy says about CloudTrail's `kms:GenerateDataKey` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyVerdict {
    /// An Allow statement admits the request and no Deny applies. `by` names the statement (Sid, or "statement N" 1-based).
    Allowed { by: String },
    /// A Deny statement applies (explicit deny wins). `by` names it.
    Denied { by: String },
    /// No statement allows it (implicit deny). `why` says so in one sentence.
    NotAllowed { why: String },
    /// The answer depends on something auditpack cannot know from the evidence: `why` names the statement and the condition key/operator (or element) it cannot evaluate. Never PASS in that case.
    Unknown { why: String },
    /// The document is not a valid policy (not an object, Statement missing or malformed, Effect not Allow/Deny...). `why` says what.
    Malformed { why: String },
}

/// The service principal CloudTrail uses. CloudTrail UG, key policy page: the encrypt statement
/// names `"Service": "cloudtrail.amazonaws.com"`.
const SERVICE_PRINCIPAL: &str = "cloudtrail.amazonaws.com";

/// Decides whether `policy` lets `cloudtrail.amazonaws.com` call `request.action` on
/// `request.key_arn` for `request.trail_arn`. KMS DG "How AWS CloudTrail uses AWS KMS": both the
/// configuration check and every log file delivery send a `GenerateDataKey` request.
pub fn cloudtrail_may(policy: &Value, request: &CloudTrailRequest) -> PolicyVerdict {
    match evaluate(policy, request) {
        Ok(outcomes) => decide(&outcomes, request.action),
        Err(why) => PolicyVerdict::Malformed { why },
    }
}

/// Three-valued answer to "does this part of a statement match the request?".
#[derive(Debug, Clone, PartialEq, Eq)]
enum Truth {
    Yes,
    No,
    /// It depends on something the evidence does not hold; the text says what.
    Maybe(String),
}

impl Truth {
    fn from_bool(value: bool) -> Truth {
        if value {
            Truth::Yes
        } else {
            Truth::No
        }
    }

    /// Negation; what is unknown stays unknown.
    fn not(self) -> Truth {
        match self {
            Truth::Yes => Truth::No,
            Truth::No => Truth::Yes,
            maybe => maybe,
        }
    }
}

/// Logical AND: one `No` decides; otherwise the first `Maybe` keeps the answer open.
fn all(parts: impl IntoIterator<Item = Truth>) -> Truth {
    let mut open = None;
    for part in parts {
        match part {
            Truth::No => return Truth::No,
            Truth::Maybe(why) => {
                open.get_or_insert(why);
            }
            Truth::Yes => {}
        }
    }
    open.map_or(Truth::Yes, Truth::Maybe)
}

/// Logical OR: one `Yes` decides; otherwise the first `Maybe` keeps the answer open.
fn any(parts: impl IntoIterator<Item = Truth>) -> Truth {
    let mut open = None;
    for part in parts {
        match part {
            Truth::Yes => return Truth::Yes,
            Truth::Maybe(why) => {
                open.get_or_insert(why);
            }
            Truth::No => {}
        }
    }
    open.map_or(Truth::No, Truth::Maybe)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

/// One statement's answer.
#[derive(Debug)]
struct Outcome {
    sid: Option<String>,
    index: usize,
    effect: Effect,
    applies: Truth,
    /// Why a statement is ignored although it is well formed (a missing Action or Resource).
    note: Option<String>,
}

impl Outcome {
    /// The name the verdict's `by` carries: the Sid, or "statement N".
    fn by(&self) -> String {
        self.sid
            .clone()
            .unwrap_or_else(|| format!("statement {}", self.index))
    }

    /// The name used inside sentences.
    fn label(&self) -> String {
        label(self.sid.as_deref(), self.index)
    }
}

/// Names a statement inside a sentence: `statement "Sid"`, or `statement N`.
fn label(sid: Option<&str>, index: usize) -> String {
    match sid {
        Some(sid) => format!("statement \"{sid}\""),
        None => format!("statement {index}"),
    }
}

fn evaluate(policy: &Value, request: &CloudTrailRequest) -> Result<Vec<Outcome>, String> {
    statements(policy)?
        .into_iter()
        .enumerate()
        .map(|(i, statement)| evaluate_statement(i + 1, statement, request))
        .collect()
}

/// `Statement` is one object or a list of them. KMS DG "Creating a key policy": "A key policy
/// document must have at least one statement."
fn statements(policy: &Value) -> Result<Vec<&Value>, String> {
    let document = policy
        .as_object()
        .ok_or("the policy document is not a JSON object")?;
    match document.get("Statement") {
        None => Err("the policy has no Statement element".into()),
        Some(Value::Array(list)) if list.is_empty() => {
            Err("the policy's Statement list is empty".into())
        }
        Some(Value::Array(list)) => Ok(list.iter().collect()),
        Some(single @ Value::Object(_)) => Ok(vec![single]),
        Some(_) => Err("the policy's Statement is neither an object nor a list".into()),
    }
}

/// Rules the verdict from every statement: an applying Deny wins; with no Allow that applies or
/// might apply the request is implicitly denied whatever the Denies say; otherwise a Deny that
/// might apply leaves the answer open, and then an applying Allow admits the request.
fn decide(outcomes: &[Outcome], action: KmsAction) -> PolicyVerdict {
    let of = |effect| outcomes.iter().filter(move |o| o.effect == effect);
    if let Some(deny) = of(Effect::Deny).find(|o| o.applies == Truth::Yes) {
        return PolicyVerdict::Denied { by: deny.by() };
    }
    let allow = of(Effect::Allow).find(|o| o.applies == Truth::Yes);
    let open_allow = first_open(of(Effect::Allow));
    let open_deny = first_open(of(Effect::Deny));
    match (allow, open_allow, open_deny) {
        (None, None, _) => PolicyVerdict::NotAllowed {
            why: not_allowed_reason(outcomes, action),
        },
        (_, _, Some((deny, why))) => PolicyVerdict::Unknown {
            why: format!("{} (Deny) might apply: {why}", deny.label()),
        },
        (Some(allow), _, None) => PolicyVerdict::Allowed { by: allow.by() },
        (None, Some((allow, why)), None) => PolicyVerdict::Unknown {
            why: format!("{} (Allow) might apply: {why}", allow.label()),
        },
    }
}

fn first_open<'a>(
    mut outcomes: impl Iterator<Item = &'a Outcome>,
) -> Option<(&'a Outcome, &'a str)> {
    outcomes.find_map(|o| match &o.applies {
        Truth::Maybe(why) => Some((o, why.as_str())),
        _ => None,
    })
}

fn not_allowed_reason(outcomes: &[Outcome], action: KmsAction) -> String {
    let mut why = format!(
        "no statement allows {SERVICE_PRINCIPAL} to call {} on this key for this trail",
        action.name()
    );
    for note in outcomes.iter().filter_map(|o| o.note.as_ref()) {
        why.push_str("; ");
        why.push_str(note);
    }
    why
}

fn evaluate_statement(
    index: usize,
    statement: &Value,
    request: &CloudTrailRequest,
) -> Result<Outcome, String> {
    let at = |why: String| format!("statement {index}: {why}");
    let body = statement
        .as_object()
        .ok_or_else(|| at("is not a JSON object".into()))?;
    let sid = sid(body);
    let effect = effect(body).map_err(at)?;
    let principal = principal_part(body).map_err(at)?;
    let action = action_part(body, request.action).map_err(at)?;
    let resource = resource_part(body, request.key_arn).map_err(at)?;
    let condition = condition_part(body, request).map_err(at)?;
    let (applies, note) = match (action, resource) {
        (Some(action), Some(resource)) => (all([principal, action, resource, condition]), None),
        (None, _) => (
            Truth::No,
            Some(no_effect_note(sid.as_deref(), index, "Action")),
        ),
        (_, None) => (
            Truth::No,
            Some(no_effect_note(sid.as_deref(), index, "Resource")),
        ),
    };
    Ok(Outcome {
        sid,
        index,
        effect,
        applies,
        note,
    })
}

/// The statement's Sid, when it has a non-empty one.
fn sid(body: &Map<String, Value>) -> Option<String> {
    let sid = body.get("Sid").and_then(Value::as_str)?;
    (!sid.is_empty()).then(|| sid.to_owned())
}

/// KMS API reference, PutKeyPolicy `Policy`: "If either of the required Resource or Action
/// elements are missing from a key policy statement, the policy statement has no effect."
/// KMS accepts such a policy, so it is ineffective rather than malformed.
fn no_effect_note(sid: Option<&str>, index: usize, missing: &str) -> String {
    format!(
        "{} has no {missing} (or Not{missing}) element, so it has no effect",
        label(sid, index)
    )
}

/// IAM UG, "IAM JSON policy elements: Effect": valid values are `Allow` and `Deny`, and "The
/// `Effect` value is case sensitive."
fn effect(body: &Map<String, Value>) -> Result<Effect, String> {
    match body.get("Effect") {
        Some(Value::String(s)) if s == "Allow" => Ok(Effect::Allow),
        Some(Value::String(s)) if s == "Deny" => Ok(Effect::Deny),
        Some(other) => Err(format!(
            "Effect is {other}; it must be \"Allow\" or \"Deny\" (case-sensitive)"
        )),
        None => Err("has no Effect element".into()),
    }
}

/// Reads an element that is one string or a list of strings.
fn strings(value: &Value) -> Option<Vec<&str>> {
    match value {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(items) => items.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

/// Reads the one of `element` / `Not{element}` that is present. Both at once is malformed; neither
/// is `None`, left to the caller to judge.
fn either<'a>(
    body: &'a Map<String, Value>,
    element: &str,
) -> Result<Option<(&'a Value, bool)>, String> {
    let negated = format!("Not{element}");
    match (body.get(element), body.get(&negated)) {
        (Some(_), Some(_)) => Err(format!("has both {element} and {negated}")),
        (Some(value), None) => Ok(Some((value, false))),
        (None, Some(value)) => Ok(Some((value, true))),
        (None, None) => Ok(None),
    }
}

/// Principal or NotPrincipal. KMS API reference, PutKeyPolicy: "Each statement in the key policy
/// must contain one or more principals", so a statement without one is malformed.
/// IAM UG, NotPrincipal: the statement applies to every principal *except* those named.
fn principal_part(body: &Map<String, Value>) -> Result<Truth, String> {
    let (value, negated) =
        either(body, "Principal")?.ok_or("has neither Principal nor NotPrincipal")?;
    let named = principal_names_cloudtrail(value)?;
    Ok(if negated { named.not() } else { named })
}

/// Whether a Principal value names CloudTrail's service principal.
/// IAM UG, "AWS JSON policy elements: Principal": `"*"` and `{"AWS": "*"}` specify all principals;
/// a service principal is named under `Service`, alone or in a list. An account, role or user
/// (under `AWS`), a federated or canonical-user principal, is not a service principal.
fn principal_names_cloudtrail(value: &Value) -> Result<Truth, String> {
    let map = match value {
        Value::String(s) if s == "*" => return Ok(Truth::Yes),
        Value::Object(map) if !map.is_empty() => map,
        _ => {
            return Err(format!(
                "Principal {value} is neither \"*\" nor an object naming principals"
            ))
        }
    };
    let mut parts = Vec::new();
    for (kind, ids) in map {
        let ids = strings(ids)
            .ok_or_else(|| format!("Principal {kind} is not a string or list of strings"))?;
        parts.push(match kind.as_str() {
            "AWS" => Truth::from_bool(ids.contains(&"*")),
            "Service" => any(ids.into_iter().map(service_is_cloudtrail)),
            "Federated" | "CanonicalUser" => Truth::No,
            other => {
                return Err(format!(
                    "Principal has an unknown principal type \"{other}\""
                ))
            }
        });
    }
    Ok(any(parts))
}

/// The docs give no case rule for service principal names and forbid wildcards in principals
/// ("You cannot use a wildcard to match part of a principal name or ARN"), so only the exact
/// name is a match; a name equal but for letter case, or one with a wildcard, stays open.
fn service_is_cloudtrail(id: &str) -> Truth {
    if id == SERVICE_PRINCIPAL {
        Truth::Yes
    } else if id.eq_ignore_ascii_case(SERVICE_PRINCIPAL) {
        Truth::Maybe(format!(
            "its Principal names service \"{id}\", which differs from {SERVICE_PRINCIPAL} only in letter case; AWS does not document whether service principal names compare case-insensitively"
        ))
    } else if id.contains(['*', '?']) {
        Truth::Maybe(format!(
            "its Principal names service \"{id}\"; AWS documents no wildcard matching for principals"
        ))
    } else {
        Truth::No
    }
}

/// Action or NotAction; `None` when both are missing. IAM UG, "Action": "The prefix and the action
/// name are case insensitive"; `*` may stand for any run of characters. `?` is taken as any one
/// character, as everywhere else IAM documents wildcards.
fn action_part(body: &Map<String, Value>, action: KmsAction) -> Result<Option<Truth>, String> {
    let Some((value, negated)) = either(body, "Action")? else {
        return Ok(None);
    };
    let actions = strings(value).ok_or("Action is not a string or list of strings")?;
    let listed = actions
        .iter()
        .any(|pattern| wildcard_match(&pattern.to_lowercase(), action.lower()));
    let listed = Truth::from_bool(listed);
    Ok(Some(if negated { listed.not() } else { listed }))
}

/// Resource or NotResource; `None` when both are missing. KMS DG "Creating a key policy": "In a
/// key policy, the value of the Resource element is "*", which means 'this KMS key'."
fn resource_part(body: &Map<String, Value>, key_arn: &str) -> Result<Option<Truth>, String> {
    let Some((value, negated)) = either(body, "Resource")? else {
        return Ok(None);
    };
    let patterns = strings(value).ok_or("Resource is not a string or list of strings")?;
    let listed = any(patterns.into_iter().map(|p| resource_names_key(p, key_arn)));
    Ok(Some(if negated { listed.not() } else { listed }))
}

/// IAM UG, "Resource": wildcards `*` and `?` match within the colon-separated ARN segments.
/// ARNs match case-sensitively (as the ARN condition operators document); a pattern that matches
/// only when letter case is ignored, or holds a policy variable, stays open.
fn resource_names_key(pattern: &str, key_arn: &str) -> Truth {
    if pattern == "*" {
        return Truth::Yes;
    }
    if pattern.contains("${") {
        return Truth::Maybe(format!(
            "its Resource \"{pattern}\" holds a policy variable"
        ));
    }
    match arn_match(pattern, key_arn) {
        Truth::No if arn_match(&pattern.to_lowercase(), &key_arn.to_lowercase()) == Truth::Yes => {
            Truth::Maybe(format!(
                "its Resource \"{pattern}\" matches the key ARN only if letter case is ignored"
            ))
        }
        other => other,
    }
}

/// IAM UG, condition operators, ARN: "Each of the six colon-delimited components of the ARN is
/// checked separately and each can include multi-character match wildcards (*) or
/// single-character match wildcards (?)." The docs do not say how a pattern that is not a
/// six-part ARN is matched, so that stays open.
fn arn_match(pattern: &str, arn: &str) -> Truth {
    let pattern_parts: Vec<&str> = pattern.splitn(6, ':').collect();
    let arn_parts: Vec<&str> = arn.splitn(6, ':').collect();
    if pattern_parts.len() != 6 || arn_parts.len() != 6 {
        return Truth::Maybe(format!("\"{pattern}\" is not a six-part ARN"));
    }
    let each = pattern_parts.iter().zip(&arn_parts);
    Truth::from_bool(each.into_iter().all(|(p, a)| wildcard_match(p, a)))
}

/// `*` matches any run of characters (also none), `?` exactly one; every other character only itself.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and the text position it currently stands for: on a mismatch
    // the star swallows one more character and matching resumes after it.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            star = Some((star_p, star_t + 1));
            p = star_p + 1;
            t = star_t + 1;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// The Condition block. IAM UG, "Conditions with multiple context keys or values": several
/// operators are ANDed, several keys under one operator are ANDed, several values of one key are
/// ORed (NORed for a negated operator).
fn condition_part(body: &Map<String, Value>, request: &CloudTrailRequest) -> Result<Truth, String> {
    let Some(block) = body.get("Condition") else {
        return Ok(Truth::Yes);
    };
    let block = block.as_object().ok_or("Condition is not an object")?;
    let mut parts = Vec::new();
    for (operator, keys) in block {
        let keys = keys
            .as_object()
            .ok_or_else(|| format!("Condition operator {operator} does not map keys to values"))?;
        for (key, values) in keys {
            let values = condition_values(values)
                .ok_or_else(|| format!("Condition {operator} {key} has a value that is not a string, number, boolean or list of them"))?;
            parts.push(evaluate_condition(operator, key, &values, request));
        }
    }
    Ok(all(parts))
}

/// Condition values are strings, or booleans and numbers written without quotes, or lists of them.
fn condition_values(value: &Value) -> Option<Vec<String>> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match value {
        Value::Array(items) => items.iter().map(scalar).collect(),
        single => scalar(single).map(|s| vec![s]),
    }
}

/// The comparison an operator makes, before negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Arn,
    Bool,
    Null,
}

/// `ForAnyValue:` / `ForAllValues:` set qualifiers for multivalued keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    AnyValue,
    AllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Operator {
    comparison: Comparison,
    negated: bool,
    if_exists: bool,
    set: Option<SetQualifier>,
}

/// Parses an operator name. Names are matched exactly as the IAM UG spells them; the docs give no
/// case rule for operator names, so a differently cased name is not evaluated.
fn parse_operator(name: &str) -> Option<Operator> {
    let (set, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
        (Some(SetQualifier::AnyValue), rest)
    } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
        (Some(SetQualifier::AllValues), rest)
    } else {
        (None, name)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let (comparison, negated) = base_operator(base)?;
    // IAM UG, "...IfExists condition operators": IfExists may end any operator "except the
    // Null condition"; a set qualifier on Null has no documented meaning either.
    if comparison == Comparison::Null && (if_exists || set.is_some()) {
        return None;
    }
    Some(Operator {
        comparison,
        negated,
        if_exists,
        set,
    })
}

/// IAM UG, "IAM JSON policy elements: Condition operators". `ArnEquals`/`ArnLike` (and their
/// negations) "behave identically".
fn base_operator(name: &str) -> Option<(Comparison, bool)> {
    Some(match name {
        "StringEquals" => (Comparison::StringEquals, false),
        "StringNotEquals" => (Comparison::StringEquals, true),
        "StringEqualsIgnoreCase" => (Comparison::StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (Comparison::StringEqualsIgnoreCase, true),
        "StringLike" => (Comparison::StringLike, false),
        "StringNotLike" => (Comparison::StringLike, true),
        "ArnEquals" | "ArnLike" => (Comparison::Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Comparison::Arn, true),
        "Bool" => (Comparison::Bool, false),
        "Null" => (Comparison::Null, false),
        _ => return None,
    })
}

/// What auditpack knows about one condition key in CloudTrail's request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Known {
    /// Present, with exactly these values.
    Values(Vec<String>),
    /// A multivalued key known to hold at least these values; the docs do not say the list is complete.
    Includes(Vec<String>),
    /// Present, but its value is not known.
    PresentUnknown,
    /// Documented as absent for a request made by a service principal.
    Absent,
    /// One value, but which one depends on what the evidence does not fix (each is judged).
    OneOf(Vec<Candidate>),
}

/// One possible value of a single-valued key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Candidate {
    Exact(String),
    /// A value that begins with this text and goes on with a part no policy can know (a log file's path).
    Starts(String),
}

/// The request context auditpack knows, for a key lower-cased (IAM UG, Condition: "Condition key
/// names are not case-sensitive"; KMS DG, kms:EncryptionContext: the whole key, context key
/// included, "is not case sensitive"). `None`: not known, so a condition on it is open.
fn request_context(key: &str, request: &CloudTrailRequest) -> Option<Known> {
    let key = key.to_lowercase();
    let one = |value: &str| Known::Values(vec![value.to_owned()]);
    Some(match key.as_str() {
        // CloudTrail UG, key policy page: "The value of aws:SourceArn is always the trail ARN".
        "aws:sourcearn" => one(request.trail_arn),
        // Same page: "The value of aws:SourceAccount is the account ID of the trail owner, or for
        // organization trails, the management account ID."
        "aws:sourceaccount" => one(request.source_account),
        // DescribeKey takes no encryption context (KMS API reference): the keys are absent.
        k if k.starts_with("kms:encryptioncontext") && request.action == KmsAction::DescribeKey => {
            Known::Absent
        }
        // KMS DG "How AWS CloudTrail uses AWS KMS": the GenerateDataKey encryption context holds
        // `aws:cloudtrail:arn` (the trail ARN) and `aws:s3:arn` (the log file's object ARN, or the
        // bucket's with an S3 Bucket Key). The page lists these two; it does not say no other
        // pair is ever added.
        "kms:encryptioncontext:aws:cloudtrail:arn" => one(request.trail_arn),
        "kms:encryptioncontext:aws:s3:arn" => s3_candidates(&request.s3_context),
        "kms:encryptioncontextkeys" => {
            Known::Includes(vec!["aws:cloudtrail:arn".into(), "aws:s3:arn".into()])
        }
        // IAM UG, global condition keys: aws:PrincipalServiceName "contains the name of the
        // service principal ... the AWS CloudTrail service principal name is cloudtrail.amazonaws.com";
        // aws:PrincipalIsAWSService "is set to true when a service uses a service principal".
        "aws:principalservicename" => one(SERVICE_PRINCIPAL),
        "aws:principalisawsservice" => one("true"),
        _ => return principal_context(&key),
    })
}

/// What `aws:s3:arn` can be: each log file's object ARN (a fixed start, then a path per file), and
/// the bucket's ARN where the bucket may use an S3 Bucket Key.
fn s3_candidates(context: &S3Context) -> Known {
    let Some(bucket) = context.bucket else {
        return Known::PresentUnknown;
    };
    let prefix = match context.prefix.filter(|p| !p.is_empty()) {
        Some(prefix) => format!("arn:aws:s3:::{bucket}/{prefix}/AWSLogs/"),
        None => format!("arn:aws:s3:::{bucket}/AWSLogs/"),
    };
    let mut candidates = vec![Candidate::Starts(prefix)];
    if context.bucket_key != Some(false) {
        candidates.push(Candidate::Exact(format!("arn:aws:s3:::{bucket}")));
    }
    Known::OneOf(candidates)
}

/// Keys about the calling principal, from their "Availability" lines in the IAM UG global keys page.
fn principal_context(key: &str) -> Option<Known> {
    Some(match key {
        // "included in the request context only if the principal is a member of an organization";
        // the aws:PrincipalOrgID note adds that such a condition shuts out "AWS CloudTrail sending
        // log data". A service principal is no member of an organization.
        "aws:principalorgid" | "aws:principalorgpaths" => Known::Absent,
        // Included for IAM users, and for roles, with attached tags; a service principal is neither.
        tag if tag.starts_with("aws:principaltag/") => Known::Absent,
        // "always included in the request context for IAM users"; roles, root and anonymous
        // requests do not carry it, and a service principal is not an IAM user.
        "aws:username" => Known::Absent,
        // Documented as present in every request (or every signed request, or whenever a service
        // principal calls), with no value given for a service principal.
        "aws:principalaccount"
        | "aws:userid"
        | "aws:principaltype"
        | "aws:securetransport"
        | "aws:principalservicenameslist" => Known::PresentUnknown,
        _ => return None,
    })
}

/// Evaluates one key of one operator against the request context.
fn evaluate_condition(
    operator: &str,
    key: &str,
    values: &[String],
    request: &CloudTrailRequest,
) -> Truth {
    let Some(op) = parse_operator(operator) else {
        return Truth::Maybe(format!(
            "its condition uses operator {operator} (on {key}), which auditpack does not evaluate"
        ));
    };
    let Some(known) = request_context(key, request) else {
        return Truth::Maybe(format!(
            "its condition {operator} on {key} needs that key's value in CloudTrail's request, which the evidence does not hold"
        ));
    };
    let open = |what: &str| {
        Truth::Maybe(format!(
            "its condition {operator} on {key} cannot be decided: {what}"
        ))
    };
    if op.comparison == Comparison::Null {
        return null_check(values, &known, open);
    }
    match known {
        Known::Absent => absent_key(op),
        Known::PresentUnknown => open("the key is present but its value is not known"),
        Known::Values(context) => known_values(op, values, &context, open),
        Known::Includes(context) => partial_values(op, values, &context, open),
        Known::OneOf(candidates) => one_of(op, values, &candidates, open),
    }
}

/// A single-valued key that holds one of `candidates`: decided when every candidate gives the same
/// answer; otherwise open, saying what it turns on.
fn one_of(
    op: Operator,
    values: &[String],
    candidates: &[Candidate],
    open: impl Fn(&str) -> Truth,
) -> Truth {
    let each: Vec<Truth> = candidates
        .iter()
        .map(|candidate| match candidate {
            Candidate::Exact(value) => one_value(op, values, value),
            Candidate::Starts(start) => {
                let matched = any(values
                    .iter()
                    .map(|v| compare_start(op.comparison, v, start)));
                if op.negated {
                    matched.not()
                } else {
                    matched
                }
            }
        })
        .collect();
    if each.iter().all(|t| *t == Truth::Yes) {
        return Truth::Yes;
    }
    if each.iter().all(|t| *t == Truth::No) {
        return Truth::No;
    }
    if let Some(Truth::Maybe(why)) = each.iter().find(|t| matches!(t, Truth::Maybe(_))) {
        return Truth::Maybe(why.clone());
    }
    open("the value is the bucket's ARN if the bucket uses an S3 Bucket Key, else each log file's object ARN, and the evidence does not show which")
}

/// Compares a policy value with every value that begins with `start`: `Yes` when it matches them
/// all (a pattern that matches `start` and ends in `*`), `No` when it matches none (its literal
/// beginning parts from `start`), else open.
fn compare_start(comparison: Comparison, policy: &str, start: &str) -> Truth {
    if policy.contains("${") {
        return Truth::Maybe(format!("the value \"{policy}\" holds a policy variable"));
    }
    let (policy_cmp, start_cmp) = match comparison {
        Comparison::StringEqualsIgnoreCase => (policy.to_lowercase(), start.to_lowercase()),
        _ => (policy.to_owned(), start.to_owned()),
    };
    let wildcards = matches!(comparison, Comparison::StringLike | Comparison::Arn);
    let literal = match policy_cmp.find(['*', '?']) {
        Some(at) if wildcards => &policy_cmp[..at],
        _ => policy_cmp.as_str(),
    };
    let exact = literal.len() == policy_cmp.len();
    if !(literal.starts_with(start_cmp.as_str()) || start_cmp.starts_with(literal)) {
        return Truth::No;
    }
    if exact && !literal.starts_with(start_cmp.as_str()) {
        // An exact value shorter than the log files' common start equals none of them.
        return Truth::No;
    }
    let all_match =
        wildcards && policy_cmp.ends_with('*') && wildcard_match(&policy_cmp, &start_cmp);
    if all_match {
        return Truth::Yes;
    }
    Truth::Maybe(format!(
        "the value \"{policy}\" matches only some of the log files' object ARNs under {start}"
    ))
}

/// IAM UG, condition operators: "If the key that you specify in a policy condition is not present
/// in the request context, the values do not match and the condition is false. If the policy
/// condition requires that the key is not matched, such as StringNotLike or ArnNotLike, and the
/// right key is not present, the condition is true." `...IfExists`: "If the key is not present,
/// evaluate the condition element as true." Multivalued keys: `ForAllValues` "also returns true if
/// there are no keys in the request"; `ForAnyValue` "For no matching key ... returns false".
fn absent_key(op: Operator) -> Truth {
    Truth::from_bool(match (op.if_exists, op.set) {
        (true, _) => true,
        (false, Some(SetQualifier::AllValues)) => true,
        (false, Some(SetQualifier::AnyValue)) => false,
        (false, None) => op.negated,
    })
}

/// IAM UG, "Condition operator to check existence of condition keys": `true` means the key is
/// absent, `false` that it is present.
fn null_check(values: &[String], known: &Known, open: impl Fn(&str) -> Truth) -> Truth {
    let present = *known != Known::Absent;
    any(values.iter().map(|value| match parse_bool(value) {
        Some(wants_absent) => Truth::from_bool(wants_absent != present),
        None => open("a Null value must be true or false"),
    }))
}

/// Keys whose values are all known.
fn known_values(
    op: Operator,
    values: &[String],
    context: &[String],
    open: impl Fn(&str) -> Truth,
) -> Truth {
    let each = context.iter().map(|c| one_value(op, values, c));
    match op.set {
        Some(SetQualifier::AnyValue) => any(each),
        Some(SetQualifier::AllValues) => all(each),
        None if context.len() == 1 => one_value(op, values, &context[0]),
        // IAM UG: "To compare your condition against a request context with multiple key values,
        // you must use the ForAllValues or ForAnyValue set operators."
        None => open("a multivalued key is compared without ForAnyValue or ForAllValues"),
    }
}

/// Multivalued keys known only in part: one matching known value settles `ForAnyValue`, one
/// failing known value settles `ForAllValues`; anything else depends on the values not known.
fn partial_values(
    op: Operator,
    values: &[String],
    context: &[String],
    open: impl Fn(&str) -> Truth,
) -> Truth {
    let each = context.iter().map(|c| one_value(op, values, c));
    let unknown_rest = || open("the request may hold values other than the documented ones");
    match op.set {
        Some(SetQualifier::AnyValue) => match any(each) {
            Truth::No => unknown_rest(),
            decided => decided,
        },
        Some(SetQualifier::AllValues) => match all(each) {
            Truth::Yes => unknown_rest(),
            decided => decided,
        },
        None => open("a multivalued key is compared without ForAnyValue or ForAllValues"),
    }
}

/// One request value against the policy's values: ORed, or NORed for a negated operator.
fn one_value(op: Operator, values: &[String], context: &str) -> Truth {
    let matched = any(values.iter().map(|v| compare(op.comparison, v, context)));
    if op.negated {
        matched.not()
    } else {
        matched
    }
}

/// Compares one policy value with one request value, by the operator's rule (IAM UG, condition
/// operators): StringEquals exact and case-sensitive; IgnoreCase ignores case; StringLike
/// case-sensitive with `*` and `?`; ARN per segment; Bool boolean matching.
fn compare(comparison: Comparison, policy: &str, context: &str) -> Truth {
    // IAM UG, "Policy variables": string and ARN operators substitute `${...}` from the request
    // context, which auditpack does not model.
    if policy.contains("${") && comparison != Comparison::Bool {
        return Truth::Maybe(format!("the value \"{policy}\" holds a policy variable"));
    }
    match comparison {
        Comparison::StringEquals => Truth::from_bool(policy == context),
        Comparison::StringEqualsIgnoreCase => {
            Truth::from_bool(policy.to_lowercase() == context.to_lowercase())
        }
        Comparison::StringLike => Truth::from_bool(wildcard_match(policy, context)),
        Comparison::Arn => arn_match(policy, context),
        Comparison::Bool => match (parse_bool(policy), parse_bool(context)) {
            (Some(p), Some(c)) => Truth::from_bool(p == c),
            _ => Truth::Maybe(format!("the Bool value \"{policy}\" is not true or false")),
        },
        // Null never reaches a per-value comparison; it is decided on presence alone.
        Comparison::Null => Truth::Maybe("Null compares presence, not values".into()),
    }
}

/// The docs write booleans as `"true"`/`"false"`; other casings are read the same way.
fn parse_bool(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
