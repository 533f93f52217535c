//! Looking up evidence in a pack: the final attempt of each call, by operation and resource, with its
//! body parsed on demand.

use crate::evidence::{absence_codes, EvidenceError, Gap, IndexEntry, Pack};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
pub use typed_arena::Arena;

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
///
/// Only the questions are kept in memory (about 200 bytes a record); each answer's index entry is read
/// from the pack when asked for, into an arena the caller drops when done (one per trail), so memory
/// does not grow with the number of records read.
pub struct Store<'p> {
    pack: &'p Pack,
    /// `operation US region US resource` (US = U+001F) -> the final records answering it.
    by_key: HashMap<Box<str>, Vec<Slot>>,
    /// `operation US resource` -> the same, in any region.
    by_resource: HashMap<Box<str>, Vec<Slot>>,
    /// Operation -> its final records, in call order.
    by_operation: HashMap<Box<str>, Vec<u32>>,
}

/// A final record and the account that made the call.
#[derive(Debug, Clone)]
struct Slot {
    record: u32,
    account: Option<Arc<str>>,
}

const SEP: char = '\u{1f}';

fn key(operation: &str, region: &str, resource: &str) -> String {
    format!("{operation}{SEP}{region}{SEP}{resource}")
}

fn resource_key(operation: &str, resource: &str) -> String {
    format!("{operation}{SEP}{resource}")
}

/// The slot from `account` if there is one, else the first.
fn pick<'s>(slots: &'s [Slot], account: Option<&str>) -> Option<&'s Slot> {
    slots
        .iter()
        .find(|s| account.is_some() && s.account.as_deref() == account)
        .or_else(|| slots.first())
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

impl<'p> Store<'p> {
    /// Reads the pack's index once, keeping the question each final record answers.
    pub fn new(pack: &'p Pack) -> Result<Self, EvidenceError> {
        let finals = pack.final_attempts();
        // Each final record's place in call order.
        let mut rank = vec![u32::MAX; pack.len()];
        for (r, &i) in finals.iter().enumerate() {
            rank[i] = r as u32;
        }
        let mut accounts: HashMap<String, Arc<str>> = HashMap::new();
        let mut by_key: HashMap<Box<str>, Vec<Slot>> = HashMap::new();
        let mut by_resource: HashMap<Box<str>, Vec<Slot>> = HashMap::new();
        let mut by_operation: HashMap<Box<str>, Vec<(u32, u32)>> = HashMap::new();
        let mut finals_in_order: Vec<(u32, Box<str>, Box<str>, Slot)> = Vec::new();
        for (i, entry) in pack.entries().enumerate() {
            if rank[i] == u32::MAX {
                continue;
            }
            let entry = entry?;
            let account = entry.account.as_deref().map(|a| {
                accounts
                    .entry(a.to_string())
                    .or_insert_with(|| Arc::from(a))
                    .clone()
            });
            let slot = Slot {
                record: i as u32,
                account,
            };
            finals_in_order.push((
                rank[i],
                key(&entry.operation, &entry.region, &entry.resource).into(),
                resource_key(&entry.operation, &entry.resource).into(),
                slot,
            ));
            by_operation
                .entry(entry.operation.as_str().into())
                .or_default()
                .push((rank[i], i as u32));
        }
        // Lists keep call order, as `pick` takes the first when no account is preferred.
        finals_in_order.sort_by_key(|(r, ..)| *r);
        for (_, k, rk, slot) in finals_in_order {
            by_key.entry(k).or_default().push(slot.clone());
            by_resource.entry(rk).or_default().push(slot);
        }
        Ok(Self {
            pack,
            by_key,
            by_resource,
            by_operation: by_operation
                .into_iter()
                .map(|(op, mut records)| {
                    records.sort_unstable();
                    (op, records.into_iter().map(|(_, i)| i).collect())
                })
                .collect(),
        })
    }

    fn load<'r>(
        &self,
        arena: &'r Arena<IndexEntry>,
        record: u32,
    ) -> Result<&'r IndexEntry, EvidenceError> {
        Ok(arena.alloc(self.pack.entry(record as usize)?))
    }

    /// The final records of an operation, in call order.
    pub fn all<'r>(
        &self,
        arena: &'r Arena<IndexEntry>,
        operation: &str,
    ) -> Result<Vec<&'r IndexEntry>, EvidenceError> {
        self.by_operation
            .get(operation)
            .map(|records| records.iter().map(|&r| self.load(arena, r)).collect())
            .unwrap_or_else(|| Ok(Vec::new()))
    }

    /// The answer to `operation` on `resource`, in `region` when given (else in any region), as
    /// `account` got it when that account asked (else as whichever account asked). The record is
    /// read into `arena`.
    pub fn answer<'r>(
        &self,
        arena: &'r Arena<IndexEntry>,
        operation: &str,
        resource: &str,
        region: Option<&str>,
        account: Option<&str>,
    ) -> Result<Answer<'r>, EvidenceError> {
        let slots = match region {
            Some(region) => self.by_key.get(key(operation, region, resource).as_str()),
            None => self
                .by_resource
                .get(resource_key(operation, resource).as_str()),
        };
        let Some(slot) = slots.and_then(|s| pick(s, account)) else {
            return Ok(Answer::Missing {
                reason: self.missing_reason(operation, resource),
            });
        };
        self.answer_from(self.load(arena, slot.record)?)
    }

    /// The answer one record gives.
    pub fn answer_from<'r>(&self, entry: &'r IndexEntry) -> Result<Answer<'r>, EvidenceError> {
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
