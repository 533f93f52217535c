//! Accepted exceptions: the `[[exception]]` tables of a pack's `exceptions.toml`, validated, and how
//! they accept FAIL findings. A FAIL an in-force exception matches stays FAIL, carries the
//! [`Acceptance`], and no longer decides `assess`'s exit code; UNKNOWN is never accepted (an
//! exception cannot stand in for missing evidence). Expiry is judged against the day the evidence
//! was collected, never the clock, so the same pack always gives the same verdicts.

use super::model::{Acceptance, ExceptionOutcome, ExceptionState, ExceptionsReport, Finding};
use super::{Status, ACCOUNT_CHECKS, CHECKS};
use chrono::NaiveDate;
use globset::{Glob, GlobMatcher};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The fields auditpack reads; any other field of an exception is kept and shown as written.
const KNOWN_FIELDS: [&str; 8] = [
    "account",
    "trail",
    "key",
    "check",
    "justification",
    "approver",
    "ticket",
    "expires",
];

/// Why an exceptions file cannot be used. `file` is the path as the user gave it (or the pack's
/// copy), `index` the exception's position in the file, from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExceptionsError {
    #[error("{file}: not a valid exceptions file: {problem}; it holds [[exception]] tables (README, \"Accepted exceptions\")")]
    Syntax { file: String, problem: String },
    #[error("{file}: exception {index}, field `{field}`: {problem}")]
    Field {
        file: String,
        index: usize,
        field: &'static str,
        problem: String,
    },
}

/// The file: only `[[exception]]` tables (deny others, so a misspelt `[[exceptions]]` is not
/// silently an empty file).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExceptionsFile {
    #[serde(default)]
    exception: Vec<toml::Table>,
}

/// A glob over names or ARNs, with the text it was written as.
#[derive(Debug, Clone)]
struct Pattern {
    text: String,
    matcher: GlobMatcher,
}

impl Pattern {
    fn matches(&self, candidate: &str) -> bool {
        self.matcher.is_match(candidate)
    }
}

/// One validated exception.
#[derive(Debug, Clone)]
struct Exception {
    account: Pattern,
    /// `None`: any trail (absent, or `"*"`).
    trail: Option<Pattern>,
    /// `None`: any key (absent, or `"*"`).
    key: Option<Pattern>,
    /// `None`: any check (`"*"`).
    check: Option<String>,
    expires: NaiveDate,
    acceptance: Arc<Acceptance>,
    outcome: ExceptionOutcome,
}

/// What a finding is about, for matching: a trail (its name, ARN and key) or an account.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub account: &'a str,
    /// `(name, arn)` of a trail; `None` for an account's own findings.
    pub trail: Option<(&'a str, &'a str)>,
    /// The trail's KMS key as the trail names it.
    pub key: Option<&'a str>,
}

impl Exception {
    /// Whether the exception names this subject and check. An account's findings have no trail or
    /// key, so only an exception naming neither (or `"*"` for both) matches them.
    fn matches(&self, subject: &Subject<'_>, check_id: &str) -> bool {
        if self.check.as_deref().is_some_and(|c| c != check_id)
            || !self.account.matches(subject.account)
        {
            return false;
        }
        if let Some(pattern) = &self.trail {
            match subject.trail {
                Some((name, arn)) if pattern.matches(name) || pattern.matches(arn) => {}
                _ => return false,
            }
        }
        if let Some(pattern) = &self.key {
            match subject.key {
                Some(key) if key_forms(key).any(|k| pattern.matches(k)) => {}
                _ => return false,
            }
        }
        true
    }
}

/// The forms a key pattern may name: the trail's reference as written (usually the key ARN), its
/// resource part (`key/<id>` or `alias/<name>`), and the bare key id or alias name.
fn key_forms(key: &str) -> impl Iterator<Item = &str> {
    let resource = key.rsplit(':').next().unwrap_or(key);
    let id = resource.rsplit('/').next().unwrap_or(resource);
    [key, resource, id].into_iter()
}

/// Every check id an exception may name.
fn known_checks() -> impl Iterator<Item = &'static str> {
    CHECKS
        .iter()
        .map(|c| c.id)
        .chain(ACCOUNT_CHECKS.iter().map(|c| c.id))
}

/// The validated exceptions of one file, and what each has accepted so far.
#[derive(Debug, Clone)]
pub struct Exceptions {
    sha256: String,
    /// The day the evidence was collected; `None` when the pack does not say (then nothing is in
    /// force: an exception whose expiry cannot be judged accepts nothing).
    judged_on: Option<NaiveDate>,
    list: Vec<Exception>,
}

impl Exceptions {
    /// Parses and validates `bytes`, the exceptions file named `file` in messages. Expiry is judged
    /// against `judged_on`.
    pub fn parse(
        file: &str,
        bytes: &[u8],
        judged_on: Option<NaiveDate>,
    ) -> Result<Self, ExceptionsError> {
        let syntax = |problem: String| ExceptionsError::Syntax {
            file: file.to_string(),
            problem,
        };
        let text = std::str::from_utf8(bytes)
            .map_err(|e| syntax(format!("it is not UTF-8 text ({e})")))?;
        let parsed: ExceptionsFile =
            toml::from_str(text).map_err(|e| syntax(e.message().to_string()))?;
        let list = parsed
            .exception
            .into_iter()
            .enumerate()
            .map(|(i, table)| validate(file, i + 1, table))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            sha256: crate::evidence::sha256_hex(bytes),
            judged_on,
            list,
        })
    }

    /// Whether exception `e` is in force on the day the evidence was collected.
    fn in_force(&self, e: &Exception) -> bool {
        self.judged_on.is_some_and(|day| e.expires >= day)
    }

    /// Marks the FAILs of `findings` that an in-force exception matches as accepted by the first
    /// such exception in the file, and counts, for every exception, the FAILs it matches.
    pub fn apply(&mut self, subject: &Subject<'_>, findings: &mut [Finding]) {
        let judged_on = self.judged_on;
        for finding in findings.iter_mut().filter(|f| f.status == Status::Fail) {
            for e in self.list.iter_mut() {
                if !e.matches(subject, &finding.check_id) {
                    continue;
                }
                e.outcome.matched += 1;
                let in_force = judged_on.is_some_and(|day| e.expires >= day);
                if in_force && finding.accepted.is_none() {
                    finding.accepted = Some(e.acceptance.clone());
                    e.outcome.accepted += 1;
                }
            }
        }
    }

    /// The file and each exception's outcome, for the assessment.
    pub fn report(&self) -> ExceptionsReport {
        let exceptions = self
            .list
            .iter()
            .map(|e| {
                let mut outcome = e.outcome.clone();
                outcome.state = if !self.in_force(e) {
                    ExceptionState::Expired
                } else if outcome.matched > 0 {
                    // An exception whose FAILs an earlier one took is not stale: it applies too.
                    ExceptionState::Applied
                } else {
                    ExceptionState::Unmatched
                };
                outcome
            })
            .collect();
        ExceptionsReport {
            // The pack's own name for it: the findings must not depend on where the pack is.
            file: crate::evidence::EXCEPTIONS_FILE.to_string(),
            sha256: self.sha256.clone(),
            judged_on: self.judged_on.map(|d| d.format("%Y-%m-%d").to_string()),
            exceptions,
        }
    }

    /// How many exceptions the file holds.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// The day of an RFC 3339 time such as `pack.json`'s `finished_at`.
pub fn day_of(rfc3339: &str) -> Option<NaiveDate> {
    rfc3339
        .get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

/// One `[[exception]]` table, validated field by field.
fn validate(
    file: &str,
    index: usize,
    mut table: toml::Table,
) -> Result<Exception, ExceptionsError> {
    let bad = |field: &'static str, problem: String| ExceptionsError::Field {
        file: file.to_string(),
        index,
        field,
        problem,
    };
    let mut take =
        |field: &'static str, required: bool| -> Result<Option<String>, ExceptionsError> {
            match table.remove(field) {
                None if required => Err(bad(field, "is missing".into())),
                None => Ok(None),
                Some(toml::Value::String(s)) if s.trim().is_empty() => {
                    Err(bad(field, "is empty".into()))
                }
                // Surrounding spaces are not part of a name, a date or a sentence.
                Some(toml::Value::String(s)) => Ok(Some(s.trim().to_string())),
                // An unquoted TOML date (expires = 2027-03-31) is a date too.
                Some(toml::Value::Datetime(d)) if field == "expires" => Ok(Some(d.to_string())),
                Some(other) => Err(bad(
                    field,
                    format!("must be a quoted string, not {} {other}", other.type_str()),
                )),
            }
        };
    let account_text = take("account", true)?.unwrap_or_default();
    let trail_text = take("trail", false)?;
    let key_text = take("key", false)?;
    let check_text = take("check", true)?.unwrap_or_default();
    let justification = take("justification", true)?.unwrap_or_default();
    let approver = take("approver", true)?.unwrap_or_default();
    let ticket = take("ticket", false)?;
    let expires_text = take("expires", true)?.unwrap_or_default();
    let account = account_pattern(&account_text).map_err(|p| bad("account", p))?;
    let trail = optional_pattern(trail_text.as_deref()).map_err(|p| bad("trail", p))?;
    let key = optional_pattern(key_text.as_deref()).map_err(|p| bad("key", p))?;
    let check = match check_text.as_str() {
        "*" => None,
        id if known_checks().any(|known| known == id) => Some(id.to_string()),
        other => {
            return Err(bad(
                "check",
                format!(
                    "{other:?} is not a check id; use \"*\" or one of {}",
                    known_checks().collect::<Vec<_>>().join(", ")
                ),
            ))
        }
    };
    let expires = NaiveDate::parse_from_str(&expires_text, "%Y-%m-%d")
        .ok()
        .filter(|_| expires_text.len() == 10)
        .ok_or_else(|| {
            bad(
                "expires",
                format!("{expires_text:?} is not a date; write it as YYYY-MM-DD"),
            )
        })?;
    let extra: BTreeMap<String, serde_json::Value> = table
        .into_iter()
        .filter(|(name, _)| !KNOWN_FIELDS.contains(&name.as_str()))
        .map(|(name, value)| (name, json_of(value)))
        .collect();
    let expires_text = expires.format("%Y-%m-%d").to_string();
    let acceptance = Arc::new(Acceptance {
        exception: index,
        approver: approver.clone(),
        expires: expires_text.clone(),
        justification: justification.clone(),
        ticket: ticket.clone(),
    });
    let outcome = ExceptionOutcome {
        index,
        account: account.text.clone(),
        trail: trail_text,
        key: key_text,
        check: check_text,
        justification,
        approver,
        ticket,
        expires: expires_text,
        extra,
        state: ExceptionState::Unmatched,
        matched: 0,
        accepted: 0,
    };
    Ok(Exception {
        account,
        trail,
        key,
        check,
        expires,
        acceptance,
        outcome,
    })
}

/// Whether `text` is meant as a glob rather than a literal value.
fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '[', '{'])
}

fn glob(text: &str) -> Result<Pattern, String> {
    Glob::new(text)
        .map(|g| Pattern {
            text: text.to_string(),
            matcher: g.compile_matcher(),
        })
        .map_err(|e| format!("{text:?} is not a valid glob ({})", e.kind()))
}

/// An account: 12 digits, `"*"`, or a glob over account ids.
fn account_pattern(text: &str) -> Result<Pattern, String> {
    if is_glob(text) || (text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())) {
        glob(text)
    } else {
        Err(format!(
            "{text:?} is not an account id; use 12 digits, \"*\" for every account, or a glob such as \"1234*\""
        ))
    }
}

/// A trail or key pattern: a name, an ARN or a glob over them; `"*"` (like no pattern) is any.
fn optional_pattern(text: Option<&str>) -> Result<Option<Pattern>, String> {
    match text {
        None | Some("*") => Ok(None),
        Some(text) => glob(text).map(Some),
    }
}

/// A TOML value as JSON, dates as their text.
fn json_of(value: toml::Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        toml::Value::String(s) => Json::String(s),
        toml::Value::Integer(i) => Json::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number),
        toml::Value::Boolean(b) => Json::Bool(b),
        toml::Value::Datetime(d) => Json::String(d.to_string()),
        toml::Value::Array(items) => Json::Array(items.into_iter().map(json_of).collect()),
        toml::Value::Table(table) => {
            Json::Object(table.into_iter().map(|(k, v)| (k, json_of(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[exception]]
account = "123456789012"
trail = "legacy-*"
check = "cloudtrail-kms-encryption"
justification = "migrating to the organisation trail"
approver = "security-lead@example.com"
ticket = "SEC-1234"
expires = "2027-03-31"
risk = "low"
"#;

    fn day(text: &str) -> Option<NaiveDate> {
        day_of(text)
    }

    fn parse(text: &str) -> Result<Exceptions, ExceptionsError> {
        Exceptions::parse("ex.toml", text.as_bytes(), day("2026-11-28"))
    }

    /// `GOOD` with `field` replaced (or removed, for `None`).
    fn with(field: &str, value: Option<&str>) -> String {
        let mut lines: Vec<String> = GOOD
            .lines()
            .filter(|l| !l.starts_with(&format!("{field} =")))
            .map(str::to_owned)
            .collect();
        if let Some(v) = value {
            lines.push(format!("{field} = {v}"));
        }
        lines.join("\n")
    }

    #[test]
    fn the_shape_of_the_issue_parses_and_keeps_extra_fields() {
        let ex = parse(GOOD).unwrap();
        assert_eq!(ex.len(), 1);
        let report = ex.report();
        let e = &report.exceptions[0];
        assert_eq!(e.index, 1);
        assert_eq!(e.expires, "2027-03-31");
        assert_eq!(e.ticket.as_deref(), Some("SEC-1234"));
        assert_eq!(e.extra["risk"], serde_json::json!("low"));
        assert_eq!(e.state, ExceptionState::Unmatched);
        assert_eq!(report.judged_on.as_deref(), Some("2026-11-28"));
        assert!(parse("").unwrap().is_empty(), "an empty file has none");
        let unquoted = with("expires", Some("2027-03-31"));
        assert_eq!(
            parse(&unquoted).unwrap().report().exceptions[0].expires,
            "2027-03-31"
        );
    }

    #[test]
    fn a_bad_field_is_named_with_the_exception_index() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("account", None, "field `account`: is missing"),
            ("account", Some("\"12345\""), "is not an account id"),
            ("account", Some("123456789012"), "must be a quoted string"),
            ("trail", Some("\"legacy-[\""), "is not a valid glob"),
            ("key", Some("\"{a,\""), "is not a valid glob"),
            ("check", Some("\"cloudtrail-kms\""), "is not a check id"),
            ("check", None, "field `check`: is missing"),
            (
                "justification",
                Some("\"  \""),
                "field `justification`: is empty",
            ),
            ("approver", None, "field `approver`: is missing"),
            ("expires", Some("\"2027-02-30\""), "is not a date"),
            ("expires", Some("\"31/03/2027\""), "is not a date"),
            ("expires", Some("\"2027-3-31\""), "is not a date"),
            ("expires", Some("2027-03-31T10:00:00Z"), "is not a date"),
            (
                "ticket",
                Some("1234"),
                "field `ticket`: must be a quoted string",
            ),
        ];
        for (field, value, needle) in cases {
            let text = format!("{}\n{}", GOOD, with(field, *value));
            let err = parse(&text).unwrap_err().to_string();
            assert!(
                err.starts_with("ex.toml: exception 2, field"),
                "{field}: {err}"
            );
            assert!(err.contains(needle), "{field} = {value:?}: {err}");
        }
    }

    #[test]
    fn a_file_that_is_not_exceptions_is_refused() {
        for (text, needle) in [
            (
                "[[exceptions]]\naccount = \"*\"",
                "unknown field `exceptions`",
            ),
            ("exception = 3", "invalid type"),
            ("[[exception]\n", "ex.toml: not a valid exceptions file"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
        let err = Exceptions::parse("ex.toml", b"\xff\xfe", None).unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
    }

    fn fail(check: &str) -> Finding {
        Finding {
            check_id: check.into(),
            check_title: "t".into(),
            primary: false,
            role: crate::config::CheckRole::Rule,
            status: Status::Fail,
            reason: "r".into(),
            cis_aws_control: "3.7".into(),
            cis_v7_control: "6.2".into(),
            remediation: None,
            evidence: Vec::new(),
            accepted: None,
        }
    }

    const TRAIL_ARN: &str = "arn:aws:cloudtrail:eu-west-1:123456789012:trail/legacy-eu";
    const KEY_ARN: &str = "arn:aws:kms:eu-west-1:123456789012:key/1111-2222";

    fn trail_subject() -> Subject<'static> {
        Subject {
            account: "123456789012",
            trail: Some(("legacy-eu", TRAIL_ARN)),
            key: Some(KEY_ARN),
        }
    }

    fn account_subject() -> Subject<'static> {
        Subject {
            account: "123456789012",
            trail: None,
            key: None,
        }
    }

    /// Whether an exception with these fields accepts a FAIL of `check` for `subject`.
    fn accepts(fields: &[(&str, &str)], subject: Subject<'_>, check: &str) -> bool {
        let mut text = String::from(
            "[[exception]]\njustification = \"j\"\napprover = \"a\"\nexpires = \"2027-01-01\"\n",
        );
        for (field, value) in fields {
            text.push_str(&format!("{field} = {value:?}\n"));
        }
        let mut ex = parse(&text).unwrap();
        let mut findings = [fail(check)];
        ex.apply(&subject, &mut findings);
        findings[0].accepted.is_some()
    }

    /// An exception's fields, the subject and check of a FAIL, and whether it is accepted.
    type Case<'a> = (&'a [(&'a str, &'a str)], Subject<'static>, &'a str, bool);

    #[test]
    fn patterns_match_names_arns_keys_and_stars() {
        let enc = "cloudtrail-kms-encryption";
        let cov = "account-cloudtrail-kms-coverage";
        let table: &[Case<'_>] = &[
            (
                &[
                    ("account", "123456789012"),
                    ("trail", "legacy-*"),
                    ("check", enc),
                ],
                trail_subject(),
                enc,
                true,
            ),
            (
                &[("account", "*"), ("trail", TRAIL_ARN), ("check", "*")],
                trail_subject(),
                enc,
                true,
            ),
            (
                &[
                    ("account", "*"),
                    ("trail", "arn:aws:cloudtrail:*:trail/legacy-*"),
                    ("check", "*"),
                ],
                trail_subject(),
                enc,
                true,
            ),
            (
                &[("account", "1234*"), ("trail", "*"), ("check", "*")],
                trail_subject(),
                enc,
                true,
            ),
            (
                &[("account", "210987654321"), ("check", "*")],
                trail_subject(),
                enc,
                false,
            ),
            (
                &[("account", "*"), ("trail", "prod-*"), ("check", "*")],
                trail_subject(),
                enc,
                false,
            ),
            (
                &[
                    ("account", "*"),
                    ("trail", "legacy-*"),
                    ("check", "kms-key-rotation"),
                ],
                trail_subject(),
                enc,
                false,
            ),
            (
                &[("account", "*"), ("key", KEY_ARN), ("check", "*")],
                trail_subject(),
                enc,
                true,
            ),
            (
                &[("account", "*"), ("key", "1111-*"), ("check", "*")],
                trail_subject(),
                enc,
                true,
            ),
            (
                &[("account", "*"), ("key", "key/1111-2222"), ("check", "*")],
                trail_subject(),
                enc,
                true,
            ),
            (
                &[("account", "*"), ("key", "9999-*"), ("check", "*")],
                trail_subject(),
                enc,
                false,
            ),
            (
                &[("account", "*"), ("key", "*"), ("check", "*")],
                Subject {
                    key: None,
                    ..trail_subject()
                },
                enc,
                true,
            ),
            (
                &[("account", "*"), ("key", "1111-*"), ("check", "*")],
                Subject {
                    key: None,
                    ..trail_subject()
                },
                enc,
                false,
            ),
            // An account's own findings: only an exception naming no trail or key.
            (
                &[("account", "123456789012"), ("check", cov)],
                account_subject(),
                cov,
                true,
            ),
            (
                &[("account", "*"), ("trail", "*"), ("check", "*")],
                account_subject(),
                cov,
                true,
            ),
            (
                &[("account", "*"), ("trail", "legacy-*"), ("check", "*")],
                account_subject(),
                cov,
                false,
            ),
        ];
        for (i, (fields, subject, check, expected)) in table.iter().enumerate() {
            assert_eq!(
                accepts(fields, *subject, check),
                *expected,
                "case {i}: {fields:?}"
            );
        }
    }

    #[test]
    fn expiry_is_judged_against_the_collection_day_and_unknown_is_never_accepted() {
        let text = |expires: &str| {
            format!("[[exception]]\naccount = \"*\"\ncheck = \"*\"\njustification = \"j\"\napprover = \"a\"\nexpires = \"{expires}\"\n")
        };
        for (expires, judged_on, state) in [
            (
                "2026-11-28",
                Some("2026-11-28T23:59:00Z"),
                ExceptionState::Applied,
            ),
            (
                "2026-11-27",
                Some("2026-11-28T00:00:01Z"),
                ExceptionState::Expired,
            ),
            ("2030-01-01", None, ExceptionState::Expired),
        ] {
            let mut ex =
                Exceptions::parse("ex.toml", text(expires).as_bytes(), judged_on.and_then(day))
                    .unwrap();
            let mut findings = [fail("kms-key-usable")];
            ex.apply(&trail_subject(), &mut findings);
            let report = ex.report();
            assert_eq!(
                report.exceptions[0].state, state,
                "{expires} on {judged_on:?}"
            );
            assert_eq!(report.exceptions[0].matched, 1);
            assert_eq!(
                findings[0].accepted.is_some(),
                state == ExceptionState::Applied
            );
        }
        let mut ex =
            Exceptions::parse("ex.toml", text("2030-01-01").as_bytes(), day("2026-11-28")).unwrap();
        let mut unknown = [Finding {
            status: Status::Unknown,
            ..fail("kms-key-usable")
        }];
        ex.apply(&trail_subject(), &mut unknown);
        assert!(unknown[0].accepted.is_none());
        assert_eq!(ex.report().exceptions[0].state, ExceptionState::Unmatched);
    }

    #[test]
    fn the_first_matching_exception_accepts_and_both_count_the_match() {
        let text = format!("{GOOD}\n{}", GOOD.replace("SEC-1234", "SEC-9"));
        let mut ex = parse(&text).unwrap();
        let mut findings = [fail("cloudtrail-kms-encryption")];
        ex.apply(&trail_subject(), &mut findings);
        assert_eq!(findings[0].accepted.as_ref().unwrap().exception, 1);
        let report = ex.report();
        assert_eq!(
            report
                .exceptions
                .iter()
                .map(|e| (e.matched, e.accepted, e.state))
                .collect::<Vec<_>>(),
            [
                (1, 1, ExceptionState::Applied),
                (1, 0, ExceptionState::Applied)
            ]
        );
    }

    #[test]
    fn the_label_says_until_when_and_by_whom() {
        let acceptance = Acceptance {
            exception: 1,
            approver: "security-lead@example.com".into(),
            expires: "2027-03-31".into(),
            justification: "j".into(),
            ticket: Some("SEC-1234".into()),
        };
        assert_eq!(
            acceptance.label(),
            "accepted until 2027-03-31 by security-lead@example.com (SEC-1234)"
        );
    }
}
