//! The period a pack proves: the changes CloudTrail Event history recorded to its trails, keys and
//! buckets (read from the pack's LookupEvents answers), which stretches of the period each lookup
//! shows in full, and, from those and the state collected at the end, what each trail and account
//! was at every moment of the period.

mod account;
mod changes;
mod coverage;
mod events;
mod timeline;
mod trail;
pub(crate) mod words;

pub use account::{account_coverage, Cover, Coverer};
pub use changes::describe;
pub use events::Event;
pub use timeline::{Instant, Known, Stretch};
pub use trail::{decide, Decision, KeyNow, Moment, Phase, TrailNow, TrailPeriod};

use super::store::{json_body, Answer, Arena, Store};
use super::EvidenceLink;
use crate::evidence::history::TRAIL_EVENTS;
use crate::evidence::{EvidenceError, IndexEntry, Op, PackHeader};
use coverage::{Lookup, PageFacts, Shown};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The period of a pack with Event history, read once.
pub struct Period {
    pub start: Instant,
    pub end: Instant,
    /// When the lookups ended: the collection's start.
    pub collected: Instant,
    pub source: String,
    /// Why the window itself cannot be used (a damaged or forged `pack.json`): every period check
    /// is then UNKNOWN.
    pub unreadable: Option<String>,
    /// Every event about the pack's trails, keys and buckets, once each, oldest first.
    pub events: Vec<Event>,
    shown: BTreeMap<Lookup, Shown>,
    partition: String,
    /// Trail ARN -> its events (indexes into `events`).
    trails: BTreeMap<String, Vec<usize>>,
    /// Key ARN -> its events.
    keys: BTreeMap<String, Vec<usize>>,
}

/// The keys and buckets the pack asked about: only their events are kept (a region's Event history
/// holds every bucket's policy changes, not only the trails' buckets').
struct Scope {
    keys: BTreeSet<String>,
    buckets: BTreeSet<String>,
}

impl Scope {
    fn of(store: &Store<'_>) -> Result<Self, EvidenceError> {
        let arena = Arena::new();
        let mut keys = BTreeSet::new();
        for entry in store.all(&arena, Op::DescribeKey)? {
            keys.insert(entry.resource.clone());
            if let Answer::Ok { entry, body } = store.answer_from(entry)? {
                if let Ok(v) = json_body(entry, &body) {
                    keys.extend(v["KeyMetadata"]["Arn"].as_str().map(str::to_owned));
                }
            }
        }
        let mut buckets = BTreeSet::new();
        for op in [Op::GetBucketLocation, Op::HeadBucket] {
            buckets.extend(
                store
                    .all(&arena, op)?
                    .into_iter()
                    .map(|e| e.resource.clone()),
            );
        }
        Ok(Self { keys, buckets })
    }
}

/// What a page of a lookup gave: its facts for coverage, and its events.
type ReadPage<'a> = (PageFacts<'a>, Vec<Event>);

impl Period {
    /// Reads the pack's Event history; `None` when it was collected without.
    pub fn read(store: &Store<'_>, header: &PackHeader) -> Result<Option<Self>, EvidenceError> {
        let Some(window) = &header.history else {
            return Ok(None);
        };
        let parse = |t: &str| words::parse_time(t);
        let (start, end) = (parse(&window.start), parse(&window.end));
        let unreadable = match (start, end) {
            (Some(s), Some(e)) if s < e => None,
            _ => Some(format!(
                "the pack's history window ({} to {}) is not a span of time",
                window.start, window.end
            )),
        };
        let (start, end) = (
            start.unwrap_or_default(),
            end.unwrap_or_default().max(start.unwrap_or_default()),
        );
        let mut period = Period {
            start,
            end,
            collected: parse(&window.lookup_end).unwrap_or(end).max(end),
            unreadable,
            source: window.source.clone(),
            events: Vec::new(),
            shown: BTreeMap::new(),
            partition: header
                .caller_arn
                .split(':')
                .nth(1)
                .unwrap_or("aws")
                .to_string(),
            trails: BTreeMap::new(),
            keys: BTreeMap::new(),
        };
        let scope = Scope::of(store)?;
        let arena = Arena::new();
        let mut lookups: BTreeMap<Lookup, Vec<&IndexEntry>> = BTreeMap::new();
        for entry in store.all(&arena, Op::LookupEvents)? {
            let lookup = Lookup {
                account: entry
                    .account
                    .clone()
                    .unwrap_or_else(|| header.account_id.clone()),
                region: entry.region.clone(),
                name: entry.resource.clone(),
            };
            lookups.entry(lookup).or_default().push(entry);
        }
        let mut seen: BTreeSet<(String, String, String)> = BTreeSet::new();
        for (lookup, entries) in lookups {
            let pages = entries
                .iter()
                .map(|e| read_one(store, &lookup, e))
                .collect::<Result<Vec<_>, _>>()?;
            let (facts, events): (Vec<_>, Vec<_>) = pages.into_iter().unzip();
            period.shown.insert(lookup.clone(), coverage::shown(&facts));
            for event in events.into_iter().flatten() {
                let id = (
                    event.account.clone(),
                    event.region.clone(),
                    event.id.clone(),
                );
                if period.concerns(&event, &scope) && seen.insert(id) {
                    period.events.push(event);
                }
            }
        }
        period
            .events
            .sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        period.index();
        Ok(Some(period))
    }

    /// Whether an event is about something in the pack: every trail event, and the key and bucket
    /// events of the keys and buckets the pack asked about.
    fn concerns(&self, event: &Event, scope: &Scope) -> bool {
        if TRAIL_EVENTS.contains(&event.name.as_str()) {
            return true;
        }
        match self.key_of(event) {
            Some(key) => scope.keys.contains(&key) || scope.keys.iter().any(|k| same_key(k, &key)),
            None => event
                .param("bucketName")
                .is_some_and(|b| scope.buckets.contains(b)),
        }
    }

    fn index(&mut self) {
        for (i, event) in self.events.iter().enumerate() {
            if let Some(trail) = self.trail_of(event) {
                self.trails.entry(trail).or_default().push(i);
            } else if let Some(key) = self.key_of(event) {
                self.keys.entry(key).or_default().push(i);
            }
        }
    }

    /// The trail a CloudTrail event is about, as an ARN (a bare name is the trail of that name in
    /// the account and Region whose history holds the event: trails are changed in their home Region).
    fn trail_of(&self, event: &Event) -> Option<String> {
        if !TRAIL_EVENTS.contains(&event.name.as_str()) {
            return None;
        }
        let named = event
            .answered("trailARN")
            .or_else(|| event.param("name"))
            .or_else(|| event.param("trailName"))
            .filter(|n| !n.is_empty())?;
        Some(if named.starts_with("arn:") {
            named.to_string()
        } else {
            format!(
                "arn:{}:cloudtrail:{}:{}:trail/{named}",
                self.partition, event.region, event.account
            )
        })
    }

    /// The KMS key an event is about, as an ARN: from the event's `resources`, else its `keyId`.
    fn key_of(&self, event: &Event) -> Option<String> {
        if let Some(arn) = event.resources.iter().find(|r| r.contains(":kms:")) {
            return Some(arn.clone());
        }
        let id = event.param("keyId").filter(|k| !k.is_empty())?;
        Some(if id.starts_with("arn:") {
            id.to_string()
        } else {
            format!(
                "arn:{}:kms:{}:{}:key/{id}",
                self.partition, event.region, event.account
            )
        })
    }

    /// The events about a trail, and about a key (by ARN, or by the id an alias-free reference ends
    /// with).
    fn trail_events(&self, arn: &str) -> &[usize] {
        self.trails.get(arn).map_or(&[], Vec::as_slice)
    }

    fn key_events(&self, key: &str) -> Vec<usize> {
        let mut found: Vec<usize> = self
            .keys
            .iter()
            .filter(|(arn, _)| same_key(arn, key))
            .flat_map(|(_, e)| e.iter().copied())
            .collect();
        found.sort_unstable();
        found
    }

    /// The trails with events in the period that `listed` does not hold: deleted during it.
    pub fn other_trails<'a>(
        &'a self,
        listed: &'a BTreeSet<String>,
    ) -> impl Iterator<Item = &'a str> {
        self.trails
            .keys()
            .filter(|arn| !listed.contains(*arn))
            .map(String::as_str)
    }

    /// The stretches of the period a lookup does not show, naming it.
    fn blind(&self, account: &str, region: &str, name: &str) -> Vec<coverage::Blind> {
        let lookup = Lookup {
            account: account.to_string(),
            region: region.to_string(),
            name: name.to_string(),
        };
        match self.shown.get(&lookup) {
            Some(shown) => shown.blind_in(&lookup, self.start, self.collected),
            None => Shown::default().blind_in(&lookup, self.start, self.collected),
        }
    }

    /// The first page of each of these lookups: cited when they show that nothing happened.
    fn first_pages(&self, account: &str, region: &str, names: &[&str]) -> Vec<EvidenceLink> {
        names
            .iter()
            .filter_map(|name| {
                let lookup = Lookup {
                    account: account.to_string(),
                    region: region.to_string(),
                    name: name.to_string(),
                };
                self.shown.get(&lookup)?.first.clone()
            })
            .collect()
    }

    /// Whether a trail's events ever called it an organisation trail.
    pub fn was_organization_trail(&self, arn: &str) -> bool {
        self.trail_events(arn).iter().any(|&i| {
            self.events[i]
                .response
                .get("isOrganizationTrail")
                .and_then(Value::as_bool)
                == Some(true)
        })
    }

    /// What an event is about: a trail's or key's ARN, a bucket's name.
    pub fn resource_of(&self, event: &Event) -> String {
        self.trail_of(event)
            .or_else(|| self.key_of(event))
            .or_else(|| event.param("bucketName").map(str::to_owned))
            .unwrap_or_default()
    }

    /// Whether the period ends at the collection (not at the end of a quarter before it).
    pub fn ends_at_collection(&self) -> bool {
        self.end >= self.collected
    }
}

/// Whether two references name the same key: equal, or one is the other's key id.
fn same_key(a: &str, b: &str) -> bool {
    let id = |k: &str| k.rsplit_once("key/").map_or(k, |(_, id)| id).to_string();
    a == b || (!a.contains("alias/") && !b.contains("alias/") && id(a) == id(b))
}

/// One LookupEvents record, read: its facts for coverage and its events.
fn read_one<'a>(
    store: &Store<'_>,
    lookup: &Lookup,
    entry: &'a IndexEntry,
) -> Result<ReadPage<'a>, EvidenceError> {
    let link = EvidenceLink {
        seq: entry.seq,
        sha256: entry.body_sha256.as_deref().map(Into::into),
    };
    let answer = store.answer_from(entry)?;
    let body: Result<Value, String> = match answer {
        Answer::Ok { entry, body } => json_body(entry, &body),
        Answer::Failed { reason, .. } | Answer::Missing { reason } => Err(reason),
        Answer::Absent { entry } => Err(super::describe_failure(entry)),
    };
    let source = events::Source {
        account: &lookup.account,
        region: &lookup.region,
        record: link.clone(),
    };
    let page = body.and_then(|b| {
        events::read_page(&b, &source)
            .map_err(|why| format!("record #{} is not a LookupEvents answer: {why}", entry.seq))
    });
    Ok(match page {
        Ok(page) => (
            PageFacts {
                entry,
                link,
                read: Ok((page.next, page.unreadable)),
            },
            page.events,
        ),
        Err(why) => (
            PageFacts {
                entry,
                link,
                read: Err(why),
            },
            Vec::new(),
        ),
    })
}

#[cfg(test)]
mod tests;
