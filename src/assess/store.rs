//! Looking up evidence in a pack: the final attempt of each call, by operation and resource, with its
//! body parsed on demand.

use crate::evidence::{absence_codes, EvidenceError, Gap, IndexEntry, Pack};
use serde_json::Value;
use std::collections::HashMap;

/// What the pack holds for one question ("GetKeyRotationStatus of key X").
#[derive(Debug)]
pub enum Answer<'a> {
    /// A successful response.
    Ok {
        entry: &'a IndexEntry,
        body: Vec<u8>,
    },
    /// The service said the thing is not configured.
    Absent { entry: &'a IndexEntry },
    /// An error response, or a response that arrived but could not be used.
    Failed {
        entry: &'a IndexEntry,
        reason: String,
    },
    /// No such call was recorded; `reason` says why, naming a related gap when there is one.
    Missing { reason: String },
}

impl<'a> Answer<'a> {
    /// The record this answer came from, if any.
    pub fn entry(&self) -> Option<&'a IndexEntry> {
        match self {
            Answer::Ok { entry, .. } | Answer::Absent { entry } | Answer::Failed { entry, .. } => {
                Some(entry)
            }
            Answer::Missing { .. } => None,
        }
    }
}

/// Index of the final attempts of a pack's calls. A question can have an answer from several accounts
/// (a region's DescribeTrails, a key alias); lookups say which account's answer they prefer.
pub struct Store<'a> {
    pack: &'a Pack,
    by_key: HashMap<(&'a str, &'a str, &'a str), Vec<&'a IndexEntry>>,
    by_resource: HashMap<(&'a str, &'a str), Vec<&'a IndexEntry>>,
}

/// The entry from `account` if there is one, else the first.
fn pick<'a>(entries: &[&'a IndexEntry], account: Option<&str>) -> Option<&'a IndexEntry> {
    entries
        .iter()
        .find(|e| account.is_some() && e.account.as_deref() == account)
        .or_else(|| entries.first())
        .copied()
}

/// Describes a failed record for a reader: the operation, resource, region, error and record number.
pub fn describe_failure(entry: &IndexEntry) -> String {
    let what = match (&entry.error_code, &entry.error_message, &entry.sdk_error) {
        (Some(code), Some(message), _) => format!("{code}: {message}"),
        (Some(code), None, _) => code.clone(),
        (None, _, Some(sdk)) => sdk.clone(),
        (None, _, None) => format!("HTTP {}", entry.http_status.unwrap_or_default()),
    };
    format!(
        "{}:{} on {} in {} failed ({what}; record #{})",
        entry.service, entry.operation, entry.resource, entry.region, entry.seq
    )
}

fn is_success(entry: &IndexEntry) -> bool {
    entry.error_code.is_none()
        && entry.sdk_error.is_none()
        && entry.body.is_some()
        && entry.http_status.is_some_and(|s| (200..300).contains(&s))
}

impl<'a> Store<'a> {
    pub fn new(pack: &'a Pack) -> Self {
        let mut by_key = HashMap::new();
        let mut by_resource = HashMap::new();
        for entry in pack.final_attempts() {
            let key = (
                entry.operation.as_str(),
                entry.resource.as_str(),
                entry.region.as_str(),
            );
            by_key.entry(key).or_insert_with(Vec::new).push(entry);
            by_resource
                .entry((entry.operation.as_str(), entry.resource.as_str()))
                .or_insert_with(Vec::new)
                .push(entry);
        }
        Self {
            pack,
            by_key,
            by_resource,
        }
    }

    /// The final records of an operation, in call order.
    pub fn all(&self, operation: &str) -> Vec<&'a IndexEntry> {
        let mut entries: Vec<_> = self
            .by_key
            .iter()
            .filter(|((op, _, _), _)| *op == operation)
            .flat_map(|(_, e)| e.iter().copied())
            .collect();
        entries.sort_by_key(|e| e.call);
        entries
    }

    /// The answer to `operation` on `resource`, in `region` when given (else in any region), as
    /// `account` got it when that account asked (else as whichever account asked).
    pub fn answer(
        &self,
        operation: &str,
        resource: &str,
        region: Option<&str>,
        account: Option<&str>,
    ) -> Result<Answer<'a>, EvidenceError> {
        let entries = match region {
            Some(region) => self.by_key.get(&(operation, resource, region)),
            None => self.by_resource.get(&(operation, resource)),
        };
        let Some(entry) = entries.and_then(|e| pick(e, account)) else {
            return Ok(Answer::Missing {
                reason: self.missing_reason(operation, resource),
            });
        };
        self.answer_from(entry)
    }

    /// The answer one record gives.
    pub fn answer_from(&self, entry: &'a IndexEntry) -> Result<Answer<'a>, EvidenceError> {
        if is_success(entry) {
            let body = self.pack.body(entry)?.unwrap_or_default();
            return Ok(Answer::Ok { entry, body });
        }
        let code = entry.error_code.as_deref().unwrap_or_default();
        if absence_codes(&entry.operation).contains(&code) {
            return Ok(Answer::Absent { entry });
        }
        Ok(Answer::Failed {
            entry,
            reason: describe_failure(entry),
        })
    }

    fn missing_reason(&self, operation: &str, resource: &str) -> String {
        let related: Vec<&Gap> = self
            .pack
            .header
            .gaps
            .iter()
            .filter(|g| g.resource == resource)
            .collect();
        match related.first() {
            Some(gap) => format!(
                "no {operation} evidence for {resource}: it was not collected because {}:{} failed ({}: {})",
                gap.service, gap.operation, gap.error_code, gap.message
            ),
            None => format!("no {operation} evidence for {resource} in the pack"),
        }
    }
}

/// Parses a JSON body; an unreadable body is a failure naming the record.
pub fn json_body(entry: &IndexEntry, body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| {
        format!(
            "{}:{} response (record #{}) is not valid JSON: {e}",
            entry.service, entry.operation, entry.seq
        )
    })
}
