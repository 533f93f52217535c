//! One trail over the period: whether it existed, which KMS key it named, whether it was logging,
//! and whether the key it named was usable and let CloudTrail use it, at every moment; judged as the
//! rule judges the trail on the collection day, plus logging and the key policy, since a trail that
//! records nothing, or whose key CloudTrail may not use, encrypts no log file. The key policy fails
//! a stretch only where it is shown to refuse CloudTrail (a PutKeyPolicy that took CloudTrail's
//! permission away, or today's policy, unchanged since): what a policy allowed before its first
//! change in the period no event shows, and on the collection day the rule does not judge it.

use super::coverage::Blind;
use super::events::Event;
use super::timeline::{stretches, Instant, Known, Step, Stretch, Timeline};
use super::Period;
use crate::assess::policy::{
    cloudtrail_may, CloudTrailRequest, KmsAction, PolicyVerdict, S3Context,
};
use crate::assess::EvidenceLink;
use crate::evidence::EvidenceError;
use serde_json::Value;
use std::collections::BTreeSet;

/// The trail events that change what the rule looks at (PutEventSelectors does not).
const RULE_TRAIL_EVENTS: &[&str] = &[
    "DeleteTrail",
    "CreateTrail",
    "UpdateTrail",
    "StopLogging",
    "StartLogging",
];
/// The key events that change whether CloudTrail can encrypt with the key (rotation does not).
const RULE_KEY_EVENTS: &[&str] = &[
    "DisableKey",
    "EnableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "DeleteKey",
    "PutKeyPolicy",
    "DeleteImportedKeyMaterial",
    "DeleteExpiredKeyMaterial",
    "ImportKeyMaterial",
];

/// A trail as collected at the end of the period.
pub struct TrailNow<'a> {
    pub arn: &'a str,
    /// Whether DescribeTrails still lists it.
    pub exists: bool,
    pub key: Known<Option<String>>,
    pub logging: Known<bool>,
    pub multi_region: Known<bool>,
}

/// A key as collected at the end of the period: its KeyState (`Deleted` when its own account says it
/// does not exist) and whether its policy lets CloudTrail use it for the trail.
pub struct KeyNow {
    pub state: Known<String>,
    pub policy: Known<Decision>,
}

/// Whether a key policy lets CloudTrail encrypt the trail's log files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allows,
    /// It does not: why.
    Refuses(String),
    /// It depends on what the evidence does not hold: why.
    Undecided(String),
}

/// Where a trail's stretch of the period stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The trail did not exist (before its creation, after its deletion): not judged.
    Absent,
    Pass,
    Fail,
    Unknown,
}

/// A trail at one stretch of the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moment {
    pub phase: Phase,
    /// What fails or cannot be told, in words (empty for a pass).
    pub why: String,
    /// The change that brought it about, if a change did.
    pub cause: Option<usize>,
    pub multi_region: Option<bool>,
}

/// A trail over the whole period.
#[derive(Debug, Clone)]
pub struct TrailPeriod {
    pub stretches: Vec<Stretch<Moment>>,
    /// The changes to the trail and to the keys it named, in time order.
    pub changes: Vec<usize>,
    /// The lookups' first pages, cited when nothing changed.
    pub lookups: Vec<EvidenceLink>,
}

/// A fact of the trail or of a key, with the lookups that must show its changes.
struct Fact<T> {
    timeline: Timeline<T>,
    blind: Vec<Blind>,
}

impl<T: Clone> Fact<T> {
    fn at(&self, t: Instant) -> (Known<T>, Option<usize>) {
        if let Some(b) = self.blind.iter().find(|b| b.from <= t && t < b.to) {
            return (Known::Unknown(b.why.clone()), None);
        }
        let v = self.timeline.at(t);
        // A value proven by something later holds only if no change in between went unseen.
        if let Some(until) = v.proven_later {
            if let Some(b) = self.blind.iter().find(|b| b.from > t && b.from < until) {
                return (Known::Unknown(b.why.clone()), None);
            }
        }
        (v.value, v.since)
    }

    fn cuts(&self) -> impl Iterator<Item = Instant> + '_ {
        self.timeline
            .boundaries()
            .chain(self.blind.iter().flat_map(|b| [b.from, b.to]))
    }
}

/// A fact of the trail, whose changes the trail's lookups show except where `blind`.
fn fact<T: Clone>(what: &str, steps: Vec<Step<T>>, now: Known<T>, blind: &[Blind]) -> Fact<T> {
    Fact {
        timeline: Timeline::new(format!("the trail's {what}"), steps, now),
        blind: blind.to_vec(),
    }
}

/// The steps of one fact from a trail's events: `read` gives (before, after) for an event, or
/// `None` when the event does not touch the fact.
fn steps<T>(
    period: &Period,
    indexes: &[usize],
    read: impl Fn(&Event) -> Option<(Option<T>, Option<T>)>,
) -> Vec<Step<T>> {
    indexes
        .iter()
        .filter_map(|&i| {
            let event = &period.events[i];
            if event.refused.is_some() {
                return None; // a refused call changed nothing
            }
            let (before, after) = read(event)?;
            Some(Step {
                at: event.at,
                before,
                after,
                change: i,
            })
        })
        .collect()
}

/// The key a CreateTrail or UpdateTrail left the trail with: its answer's `kmsKeyId`, none when the
/// answer leaves it out (CloudTrail's answer carries the trail's whole configuration).
fn key_after(event: &Event) -> Option<Option<String>> {
    event
        .response
        .is_object()
        .then(|| event.answered("kmsKeyId").map(str::to_owned))
}

/// What a change found and left of a fact (`None`: the event does not say).
type Change<T> = (Option<T>, Option<T>);

fn trail_key_step(event: &Event) -> Option<Change<Option<String>>> {
    match event.name.as_str() {
        "CreateTrail" => Some((Some(None), key_after(event))),
        "UpdateTrail" => {
            let after = key_after(event);
            // An update that does not name a key leaves the one its answer shows.
            let touched = event.request.get("kmsKeyId").is_some();
            Some((if touched { None } else { after.clone() }, after))
        }
        _ => None,
    }
}

fn exists_step(event: &Event) -> Option<(Option<bool>, Option<bool>)> {
    Some(match event.name.as_str() {
        "CreateTrail" => (Some(false), Some(true)),
        "DeleteTrail" => (Some(true), Some(false)),
        _ => (Some(true), Some(true)),
    })
}

fn logging_step(event: &Event) -> Option<(Option<bool>, Option<bool>)> {
    match event.name.as_str() {
        // A new trail records nothing until StartLogging (CreateTrail, API reference).
        "CreateTrail" => Some((Some(false), Some(false))),
        "StartLogging" => Some((None, Some(true))),
        "StopLogging" | "DeleteTrail" => Some((None, Some(false))),
        _ => None,
    }
}

fn multi_region_step(event: &Event) -> Option<(Option<bool>, Option<bool>)> {
    if !matches!(event.name.as_str(), "CreateTrail" | "UpdateTrail") {
        return None;
    }
    let after = event
        .response
        .get("isMultiRegionTrail")
        .and_then(Value::as_bool);
    let touched = event.request.get("isMultiRegionTrail").is_some();
    Some((if touched { None } else { after }, after))
}

/// The KeyState a key event leaves, and the one it proves it found (KMS Developer Guide, key
/// states: CancelKeyDeletion and KMS's own DeleteKey act only on a key pending deletion, and a
/// cancelled deletion leaves the key Disabled).
fn key_state_step(event: &Event) -> Option<(Option<String>, Option<String>)> {
    let s = |v: &str| Some(v.to_string());
    Some(match event.name.as_str() {
        "DisableKey" => (None, s("Disabled")),
        "EnableKey" | "ImportKeyMaterial" => (None, s("Enabled")),
        "ScheduleKeyDeletion" => (
            None,
            event
                .answered("keyState")
                .map(str::to_owned)
                .or(s("PendingDeletion")),
        ),
        "CancelKeyDeletion" => (s("PendingDeletion"), s("Disabled")),
        "DeleteKey" => (s("PendingDeletion"), s("Deleted")),
        "DeleteImportedKeyMaterial" | "DeleteExpiredKeyMaterial" => (None, s("PendingImport")),
        _ => return None,
    })
}

/// Whether a key policy lets CloudTrail encrypt `trail`'s log files with `key`.
pub fn decide(policy: &Value, trail: &str, owner: &str, key: &str) -> Known<Decision> {
    let request = CloudTrailRequest {
        trail_arn: trail,
        source_account: owner,
        key_arn: key,
        action: KmsAction::GenerateDataKey,
        // Where the trail delivered at each moment is not followed through the period: a
        // condition on the log files' path stays open here.
        s3_context: S3Context::default(),
    };
    match cloudtrail_may(policy, &request) {
        PolicyVerdict::Allowed { .. } => Known::Is(Decision::Allows),
        PolicyVerdict::Denied { by } => Known::Is(Decision::Refuses(format!(
            "its policy denies CloudTrail kms:GenerateDataKey ({by})"
        ))),
        PolicyVerdict::NotAllowed { why } => Known::Is(Decision::Refuses(why)),
        PolicyVerdict::Unknown { why } | PolicyVerdict::Malformed { why } => {
            Known::Is(Decision::Undecided(why))
        }
    }
}

/// The account and Region whose Event history records a key's changes: those of its ARN, else the
/// trail's.
fn key_home<'a>(key: &'a str, trail_account: &'a str, trail_region: &'a str) -> (&'a str, &'a str) {
    let parts: Vec<&str> = key.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "kms", region, account, ..] if !region.is_empty() && !account.is_empty() => {
            (account, region)
        }
        _ => (trail_account, trail_region),
    }
}

/// One key's facts over the period.
struct KeyFacts {
    key: String,
    state: Fact<String>,
    policy: Fact<Decision>,
}

impl Period {
    fn blind_all(&self, account: &str, region: &str, names: &[&str]) -> Vec<Blind> {
        names
            .iter()
            .flat_map(|name| self.blind(account, region, name))
            .collect()
    }

    fn key_facts(&self, trail: &TrailNow<'_>, key: &str, now: KeyNow) -> KeyFacts {
        let (owner, region) = key_home(key, trail_account(trail.arn), trail_region(trail.arn));
        let events = self.key_events(key);
        let blind = self.blind_all(owner, region, RULE_KEY_EVENTS);
        let trail_owner = trail_account(trail.arn);
        let policy_steps = steps(self, &events, |e| {
            (e.name == "PutKeyPolicy").then(|| {
                let decided = match e
                    .param("policy")
                    .and_then(|p| serde_json::from_str::<Value>(p).ok())
                {
                    Some(p) => decide(&p, trail.arn, trail_owner, key),
                    None => Known::Is(Decision::Undecided(format!(
                        "the PutKeyPolicy event {} holds no readable policy",
                        e.id
                    ))),
                };
                (None, decided.known().cloned())
            })
        });
        KeyFacts {
            key: key.to_string(),
            state: Fact {
                timeline: Timeline::new(
                    format!("the state of key {key}"),
                    steps(self, &events, key_state_step),
                    now.state,
                ),
                blind: blind.clone(),
            },
            policy: Fact {
                timeline: Timeline::new(
                    format!("the policy of key {key}"),
                    policy_steps,
                    now.policy,
                ),
                blind,
            },
        }
    }

    /// The trail over the period. `key_now` gives a key's state at collection (any key the trail
    /// named during the period).
    pub fn trail(
        &self,
        trail: &TrailNow<'_>,
        mut key_now: impl FnMut(&str) -> Result<KeyNow, EvidenceError>,
    ) -> Result<TrailPeriod, EvidenceError> {
        let (account, region) = (trail_account(trail.arn), trail_region(trail.arn));
        let events = self.trail_events(trail.arn);
        let blind = self.blind_all(account, region, RULE_TRAIL_EVENTS);
        let exists = fact(
            "existence",
            steps(self, events, exists_step),
            Known::Is(trail.exists),
            &blind,
        );
        let key = fact(
            "KMS key",
            steps(self, events, trail_key_step),
            trail.key.clone(),
            &blind,
        );
        let logging = fact(
            "logging",
            steps(self, events, logging_step),
            trail.logging.clone(),
            &blind,
        );
        let multi = fact(
            "multi-region setting",
            steps(self, events, multi_region_step),
            trail.multi_region.clone(),
            &blind,
        );
        let mut named: BTreeSet<String> = key.timeline_values();
        named.extend(trail.key.known().cloned().flatten());
        let mut keys = Vec::new();
        for k in named {
            let now = key_now(&k)?;
            keys.push(self.key_facts(trail, &k, now));
        }
        let mut cuts: Vec<Instant> = exists.cuts().chain(key.cuts()).collect();
        cuts.extend(logging.cuts().chain(multi.cuts()));
        for k in &keys {
            cuts.extend(k.state.cuts().chain(k.policy.cuts()));
        }
        let judge = |t: Instant| moment(t, &exists, &key, &logging, &multi, &keys, self);
        let stretches = stretches(self.start, self.end, cuts, judge);
        let mut changes: Vec<usize> = events.to_vec();
        for k in &keys {
            changes.extend(self.key_events(&k.key));
        }
        changes.sort_unstable();
        changes.dedup();
        let mut lookups = self.first_pages(account, region, RULE_TRAIL_EVENTS);
        for k in &keys {
            let (owner, key_region) = key_home(&k.key, account, region);
            lookups.extend(self.first_pages(owner, key_region, RULE_KEY_EVENTS));
        }
        Ok(TrailPeriod {
            stretches,
            changes,
            lookups,
        })
    }
}

impl Fact<Option<String>> {
    /// Every key the trail named during the period, by its events.
    fn timeline_values(&self) -> BTreeSet<String> {
        self.timeline.values().flatten().collect()
    }
}

fn trail_account(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or_default()
}

fn trail_region(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap_or_default()
}

/// The trail at `t`: absent, failing (and why), undecided (and why) or passing.
fn moment(
    t: Instant,
    exists: &Fact<bool>,
    key: &Fact<Option<String>>,
    logging: &Fact<bool>,
    multi: &Fact<bool>,
    keys: &[KeyFacts],
    period: &Period,
) -> Moment {
    let multi_region = multi.at(t).0.known().copied();
    let done = |phase, why: String, cause| Moment {
        phase,
        why,
        cause,
        multi_region,
    };
    match exists.at(t) {
        (Known::Is(false), since) => return done(Phase::Absent, String::new(), since),
        (Known::Unknown(why), _) => return done(Phase::Unknown, why, None),
        _ => {}
    }
    // A trail created in the period is judged once it first starts logging: until then it has
    // never operated (the console starts it a moment after creating it).
    if let (Known::Is(false), Some(i)) = logging.at(t) {
        if period.events[i].name == "CreateTrail" {
            return done(Phase::Absent, String::new(), Some(i));
        }
    }
    let mut fails: Vec<(String, Option<usize>)> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    match key.at(t) {
        (Known::Is(None), since) => fails.push(("the trail named no KMS key".into(), since)),
        (Known::Is(Some(k)), _) => {
            if let Some(facts) = keys.iter().find(|f| f.key == k) {
                key_moment(t, facts, &mut fails, &mut unknown);
            }
        }
        (Known::Unknown(why), _) => unknown.push(why),
    }
    match logging.at(t) {
        (Known::Is(false), since) => fails.push(("the trail was not logging".into(), since)),
        (Known::Unknown(why), _) => unknown.push(why),
        _ => {}
    }
    if !fails.is_empty() {
        let cause = fails.iter().filter_map(|(_, c)| *c).max();
        let why = fails
            .into_iter()
            .map(|(w, _)| w)
            .collect::<Vec<_>>()
            .join("; ");
        return done(Phase::Fail, why, cause);
    }
    match unknown.into_iter().next() {
        Some(why) => done(Phase::Unknown, why, None),
        None => done(Phase::Pass, String::new(), None),
    }
}

fn key_moment(
    t: Instant,
    facts: &KeyFacts,
    fails: &mut Vec<(String, Option<usize>)>,
    unknown: &mut Vec<String>,
) {
    match facts.state.at(t) {
        (Known::Is(state), since) if !crate::assess::key_checks::usable_state(&state) => {
            fails.push((format!("its KMS key {} was {state}", facts.key), since))
        }
        (Known::Unknown(why), _) => unknown.push(why),
        _ => {}
    }
    // The key policy fails the period only where it is shown to refuse CloudTrail: on the
    // collection day the rule does not judge it (kms-key-policy-allows-cloudtrail supports it), and
    // what a policy allowed before its first change in the period no event shows.
    if let (Known::Is(Decision::Refuses(why)), since) = facts.policy.at(t) {
        fails.push((
            format!(
                "the policy of its KMS key {} did not let CloudTrail use it: {why}",
                facts.key
            ),
            since,
        ));
    }
}
