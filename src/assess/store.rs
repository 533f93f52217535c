//! Looking up evidence in a pack: the final attempt of each call, by operation and resource, with its
//! body parsed on demand.

use crate::evidence::{is_absence, EvidenceError, Gap, IndexEntry, Op, Pack};
use serde_json::Value;
use std::collections::HashMap;
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
/// Only a hash of the question each final record answers is kept in memory (24 bytes a record, in
/// sorted arrays); each answer's index entry is read from the pack when asked for, checked to be an
/// answer to the question (so hash collisions cannot mislead), into an arena the caller drops when
/// done (one per trail). Memory does not grow with the size of the records read.
pub struct Store<'p> {
    pack: &'p Pack,
    /// Hash of (operation, region, resource), sorted by hash, then call order.
    by_key: Vec<Slot>,
    /// Hash of (operation, resource), for questions asked in any region.
    by_resource: Vec<Slot>,
    /// Operation -> its final records, in call order.
    by_operation: HashMap<Box<str>, Vec<u32>>,
    /// The accounts that made calls, numbered for [`Slot::account`].
    accounts: HashMap<Box<str>, u32>,
}

/// A final record under the hash of the question it answers.
#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: u64,
    /// Place in call order.
    rank: u32,
    record: u32,
    /// The account that made the call (`NO_ACCOUNT` when not recorded).
    account: u32,
}

const NO_ACCOUNT: u32 = u32::MAX;

fn hash_of(parts: &[&str]) -> u64 {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same on every run (only ever compared within one run).
    let mut h = std::hash::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

fn key_hash(operation: &str, region: &str, resource: &str) -> u64 {
    hash_of(&[operation, region, resource])
}

fn resource_hash(operation: &str, resource: &str) -> u64 {
    hash_of(&[operation, resource])
}

/// The slots filed under `hash`, in call order.
fn filed(slots: &[Slot], hash: u64) -> &[Slot] {
    let start = slots.partition_point(|s| s.hash < hash);
    let end = start + slots[start..].partition_point(|s| s.hash == hash);
    &slots[start..end]
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

/// Whether a record is a successful answer with a body (read without touching the body).
pub(crate) fn is_success(entry: &IndexEntry) -> bool {
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
        let mut accounts: HashMap<Box<str>, u32> = HashMap::new();
        let mut by_key = Vec::with_capacity(finals.len());
        let mut by_resource = Vec::with_capacity(finals.len());
        let mut by_operation: HashMap<Box<str>, Vec<(u32, u32)>> = HashMap::new();
        for (i, entry) in pack.entries().enumerate() {
            if rank[i] == u32::MAX {
                continue;
            }
            let entry = entry?;
            let account = match entry.account.as_deref() {
                None => NO_ACCOUNT,
                Some(a) => match accounts.get(a) {
                    Some(&n) => n,
                    None => {
                        let n = accounts.len() as u32;
                        accounts.insert(a.into(), n);
                        n
                    }
                },
            };
            let slot = |hash| Slot {
                hash,
                rank: rank[i],
                record: i as u32,
                account,
            };
            by_key.push(slot(key_hash(
                &entry.operation,
                &entry.region,
                &entry.resource,
            )));
            by_resource.push(slot(resource_hash(&entry.operation, &entry.resource)));
            by_operation
                .entry(entry.operation.as_str().into())
                .or_default()
                .push((rank[i], i as u32));
        }
        // Within a hash, call order: `answer` takes the first answer when no account is preferred.
        for slots in [&mut by_key, &mut by_resource] {
            slots.sort_unstable_by_key(|s| (s.hash, s.rank));
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
            accounts,
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
        op: Op,
    ) -> Result<Vec<&'r IndexEntry>, EvidenceError> {
        self.by_operation
            .get(op.name())
            .map(|records| records.iter().map(|&r| self.load(arena, r)).collect())
            .unwrap_or_else(|| Ok(Vec::new()))
    }

    /// The answer to `operation` on `resource`, in `region` when given (else in any region), as
    /// `account` got it when that account asked (else as whichever account asked first). The record
    /// is read into `arena`.
    pub fn answer<'r>(
        &self,
        arena: &'r Arena<IndexEntry>,
        op: Op,
        resource: &str,
        region: Option<&str>,
        account: Option<&str>,
    ) -> Result<Answer<'r>, EvidenceError> {
        let operation = op.name();
        let slots = match region {
            Some(region) => filed(&self.by_key, key_hash(operation, region, resource)),
            None => filed(&self.by_resource, resource_hash(operation, resource)),
        };
        // A record filed under the question's hash answers it unless the hashes collided.
        let answers = |e: &IndexEntry| {
            e.operation == operation
                && e.resource == resource
                && region.is_none_or(|r| e.region == r)
        };
        let preferred = account
            .and_then(|a| self.accounts.get(a))
            .copied()
            .unwrap_or(NO_ACCOUNT);
        let in_order = slots
            .iter()
            .filter(|s| preferred != NO_ACCOUNT && s.account == preferred)
            .chain(slots.iter());
        for slot in in_order {
            let entry = self.load(arena, slot.record)?;
            if answers(entry) {
                return self.answer_from(entry);
            }
        }
        Ok(Answer::Missing {
            reason: self.missing_reason(op, resource),
        })
    }

    /// Every final record of `operation` on `resource`, in any region, that `account` made (every
    /// account's when `None`), in call order.
    pub fn records<'r>(
        &self,
        arena: &'r Arena<IndexEntry>,
        op: Op,
        resource: &str,
        account: Option<&str>,
    ) -> Result<Vec<&'r IndexEntry>, EvidenceError> {
        let operation = op.name();
        let wanted = match account {
            Some(a) => match self.accounts.get(a) {
                Some(&n) => Some(n),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        let mut out = Vec::new();
        for slot in filed(&self.by_resource, resource_hash(operation, resource)) {
            if wanted.is_some_and(|n| slot.account != n) {
                continue;
            }
            let entry = self.load(arena, slot.record)?;
            if entry.operation == operation && entry.resource == resource {
                out.push(entry);
            }
        }
        Ok(out)
    }

    /// The best answer to a question asked in any region: the preferred account's first, and among
    /// those a usable answer (success or absence) before a failure, so that a question refused in one
    /// region (a home region blocked by policy) and answered in another counts as answered.
    pub fn best_answer<'r>(
        &self,
        arena: &'r Arena<IndexEntry>,
        op: Op,
        resource: &str,
        account: Option<&str>,
    ) -> Result<Answer<'r>, EvidenceError> {
        let operation = op.name();
        let slots = filed(&self.by_resource, resource_hash(operation, resource));
        let preferred = account
            .and_then(|a| self.accounts.get(a))
            .copied()
            .unwrap_or(NO_ACCOUNT);
        let mut first_failure = None;
        for own in [true, false] {
            let mine = |s: &&Slot| preferred == NO_ACCOUNT || (s.account == preferred) == own;
            for slot in slots.iter().filter(mine) {
                let entry = self.load(arena, slot.record)?;
                if entry.operation != operation || entry.resource != resource {
                    continue;
                }
                match self.answer_from(entry)? {
                    Answer::Failed { .. } => {
                        first_failure.get_or_insert(entry);
                    }
                    usable => return Ok(usable),
                }
            }
            if preferred == NO_ACCOUNT {
                break;
            }
        }
        match first_failure {
            Some(entry) => self.answer_from(entry),
            None => Ok(Answer::Missing {
                reason: self.missing_reason(op, resource),
            }),
        }
    }

    /// The answer one record gives.
    pub fn answer_from<'r>(&self, entry: &'r IndexEntry) -> Result<Answer<'r>, EvidenceError> {
        if is_success(entry) {
            let body = self.pack.body(entry)?.unwrap_or_default();
            return Ok(Answer::Ok { entry, body });
        }
        let code = entry.error_code.as_deref().unwrap_or_default();
        if is_absence(
            &entry.service,
            &entry.operation,
            &entry.resource,
            entry.account.as_deref(),
            code,
        ) {
            return Ok(Answer::Absent { entry });
        }
        Ok(Answer::Failed {
            entry,
            reason: describe_failure(entry),
        })
    }

    fn missing_reason(&self, op: Op, resource: &str) -> String {
        let operation = op.name();
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
