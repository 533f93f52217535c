//! CloudTrail Event history: the period's changes to every trail, key and bucket in scope, looked up
//! by event name in the account and Region that record them, every page recorded.
//!
//! LookupEvents allows two requests a second per account and Region (API reference), shared with
//! every other caller there. Each (account, Region) has one worker that asks its event names one
//! after the other through a [`Pacer`]; different accounts and Regions run side by side, each call
//! inside the run's concurrency bound. A throttled attempt is retried after more than the pacer's
//! spacing, and recorded, never dropped ([`Collector::call_paced`]).

use super::run::{lock, Pacer};
use super::{Call, Collector, Outcome};
use crate::config::{rfc3339, HistorySettings};
use crate::evidence::history::{
    BEYOND_HISTORY, DELETED_TRAIL_EVENT, ENDLESS_LISTING, EVENTS_PER_PAGE, RETENTION_DAYS,
    TRAIL_EVENTS, UNREADABLE_EVENT,
};
use crate::evidence::Op;
use aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput;
use aws_sdk_cloudtrail::types::{Event, LookupAttribute, LookupAttributeKey};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Time between two LookupEvents sent to one account and Region: a little over the half second
/// the quota of two a second allows, so that two sends cannot arrive closer than that.
pub(crate) const LOOKUP_SPACING: Duration = Duration::from_millis(550);

/// Pages one event name may take (50 events each: a million events). A lookup that reaches it is an
/// evidence gap, never a complete history.
const MAX_EVENT_PAGES: usize = 20_000;

/// Keys and buckets a trail named during the period (in a CreateTrail or UpdateTrail event) that
/// collection must also ask about: what the trail used before today's key or bucket.
#[derive(Clone)]
pub(crate) struct Named {
    /// The trail's account, which named it.
    pub seer: Arc<Collector>,
    pub resource: String,
    /// The trail's Region (a key's own Region is in its ARN).
    pub region: String,
    pub kind: NamedKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NamedKind {
    Key,
    Bucket,
}

/// The lookups of one account and Region: the event names still to ask, one worker at a time.
struct Lane {
    pending: VecDeque<&'static str>,
    asked: BTreeSet<&'static str>,
    running: bool,
    pacer: Arc<Pacer>,
}

/// Every Event history lookup of one collection.
pub(crate) struct History {
    window: HistorySettings,
    lanes: Mutex<HashMap<(String, String), Lane>>,
    tasks: Mutex<tokio::task::JoinSet<()>>,
    named: Mutex<Vec<Named>>,
}

impl History {
    pub(crate) fn new(window: HistorySettings) -> Arc<Self> {
        Arc::new(Self {
            window,
            lanes: Mutex::default(),
            tasks: Mutex::default(),
            named: Mutex::default(),
        })
    }

    /// Asks the Event history of `c`'s account in `region` for `names` (those not asked yet).
    pub(crate) fn want(self: &Arc<Self>, c: &Arc<Collector>, region: &str, names: &[&'static str]) {
        let account = c.account.clone().unwrap_or_default();
        let start = {
            let mut lanes = lock(&self.lanes);
            let lane = lanes
                .entry((account, region.to_string()))
                .or_insert_with(|| Lane {
                    pending: VecDeque::new(),
                    asked: BTreeSet::new(),
                    running: false,
                    pacer: Arc::new(Pacer::new(LOOKUP_SPACING)),
                });
            for &name in names {
                if lane.asked.insert(name) {
                    lane.pending.push_back(name);
                }
            }
            let start = !lane.running && !lane.pending.is_empty();
            lane.running |= start;
            start.then(|| lane.pacer.clone())
        };
        if let Some(pacer) = start {
            let (history, c, region) = (self.clone(), c.clone(), region.to_string());
            lock(&self.tasks).spawn(async move { history.work(&c, &region, &pacer).await });
        }
    }

    /// One account and Region's worker: its event names one after the other, until none is left.
    async fn work(self: &Arc<Self>, c: &Arc<Collector>, region: &str, pacer: &Pacer) {
        let key = (c.account.clone().unwrap_or_default(), region.to_string());
        loop {
            let next = {
                let mut lanes = lock(&self.lanes);
                let Some(lane) = lanes.get_mut(&key) else {
                    return;
                };
                let next = lane.pending.pop_front();
                lane.running = next.is_some();
                next
            };
            let Some(name) = next else { return };
            self.look_up(c, region, name, pacer).await;
        }
    }

    /// The workers started so far, taken out to be awaited (workers started meanwhile stay).
    pub(crate) fn take_tasks(&self) -> tokio::task::JoinSet<()> {
        std::mem::take(&mut *lock(&self.tasks))
    }

    /// Keys and buckets the period's trail events named, taken out to be fetched.
    pub(crate) fn take_named(&self) -> Vec<Named> {
        std::mem::take(&mut *lock(&self.named))
    }

    /// Every page of one event name's lookup in one account and Region.
    async fn look_up(
        self: &Arc<Self>,
        c: &Arc<Collector>,
        region: &str,
        name: &str,
        pacer: &Pacer,
    ) {
        let client = c.clients.history(region);
        let (start, end) = (self.window.lookup_start, self.window.lookup_end);
        let attribute = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::EventName)
            .attribute_value(name)
            .build()
            .expect("both members are set");
        let mut token: Option<String> = None;
        let mut tokens: BTreeSet<String> = BTreeSet::new();
        for page in 0..MAX_EVENT_PAGES {
            let params = json!({
                "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": name}],
                "StartTime": rfc3339(start),
                "EndTime": rfc3339(end),
                "MaxResults": EVENTS_PER_PAGE,
                "NextToken": token,
            });
            let call = Call::new(Op::LookupEvents, region, name, params)
                .requiring("Events", |out: &LookupEventsOutput| out.events.is_some())
                .lookup();
            let (number, outcome) = c
                .call_paced(call, pacer, |rec| {
                    client
                        .lookup_events()
                        .lookup_attributes(attribute.clone())
                        .start_time(aws_smithy_types::DateTime::from_secs(start.timestamp()))
                        .end_time(aws_smithy_types::DateTime::from_secs(end.timestamp()))
                        .max_results(EVENTS_PER_PAGE)
                        .set_next_token(token.clone())
                        .customize()
                        .interceptor(rec)
                        .send()
                })
                .await;
            if page == 0 {
                self.note_beyond_history(c, number, region, name);
            }
            if let Outcome::Gap(failure) = &outcome {
                let unknown = format!(
                    " (the {name} events of account {} in {region} from {} to {} are not known)",
                    c.account.as_deref().unwrap_or("?"),
                    rfc3339(start),
                    rfc3339(end)
                );
                c.run.annotate_gap(number, &unknown);
                settle_blocked(c, region, name, failure);
            }
            let Outcome::Ok(out) = outcome else { return };
            self.read_events(c, number, region, name, out.events());
            match out.next_token.filter(|t| !t.is_empty()) {
                None => return,
                Some(next) if !tokens.insert(next.clone()) => {
                    let message = format!(
                        "LookupEvents of {name} answered a NextToken it had already given, so its pages \
                         would never end; the events read so far are kept, the rest of the period's {name} \
                         events are not known"
                    );
                    gap(c, number, region, name, ENDLESS_LISTING, message);
                    return;
                }
                Some(next) => token = Some(next),
            }
        }
        let message = format!(
            "LookupEvents of {name} still had more pages after {MAX_EVENT_PAGES} ({} events); the rest \
             of the period's {name} events are not known",
            MAX_EVENT_PAGES * EVENTS_PER_PAGE as usize
        );
        gap(c, 0, region, name, ENDLESS_LISTING, message);
    }

    /// The part of the period older than Event history keeps is a gap of every lookup.
    fn note_beyond_history(&self, c: &Collector, call: u64, region: &str, name: &str) {
        if let Some((from, to)) = self.window.beyond_history() {
            let message = format!(
                "Event history keeps {RETENTION_DAYS} days: the {name} events from {} to {} (the start \
                 of the period) cannot be read; the period is proven from {} only",
                rfc3339(from),
                rfc3339(to),
                rfc3339(to)
            );
            gap(c, call, region, name, BEYOND_HISTORY, message);
        }
    }

    /// What a page's events tell collection: an unreadable event is a gap; a deleted trail brings
    /// its Region's trail events; a key or bucket a trail named is fetched too.
    fn read_events(
        self: &Arc<Self>,
        c: &Arc<Collector>,
        call: u64,
        region: &str,
        name: &str,
        events: &[Event],
    ) {
        for event in events {
            let parsed = event
                .cloud_trail_event()
                .and_then(|text| serde_json::from_str::<Value>(text).ok())
                .filter(Value::is_object);
            let Some(record) = parsed else {
                let message = format!(
                    "event {} ({name} at {}) in Event history is not a JSON object, so what it changed \
                     cannot be told; it is kept in the pack",
                    event.event_id().unwrap_or("without an EventId"),
                    event
                        .event_time()
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| "an unknown time".into())
                );
                gap(c, call, region, name, UNREADABLE_EVENT, message);
                continue;
            };
            if record.get("errorCode").is_some_and(|e| !e.is_null()) {
                continue; // a refused call changed nothing
            }
            if name == DELETED_TRAIL_EVENT {
                self.want(c, region, TRAIL_EVENTS);
            }
            self.note_named(c, region, &record);
        }
    }

    /// The key and bucket a CreateTrail or UpdateTrail event's answer names.
    fn note_named(&self, c: &Arc<Collector>, region: &str, record: &Value) {
        let answer = &record["responseElements"];
        let named = [
            ("kmsKeyId", NamedKind::Key),
            ("s3BucketName", NamedKind::Bucket),
        ];
        let mut found = lock(&self.named);
        for (field, kind) in named {
            if let Some(resource) = answer[field].as_str().filter(|r| !r.is_empty()) {
                found.push(Named {
                    seer: c.clone(),
                    resource: resource.to_string(),
                    region: region.to_string(),
                    kind,
                });
            }
        }
    }
}

/// Records an Event history gap of call `call` (0 when no call is to blame).
fn gap(c: &Collector, call: u64, region: &str, name: &str, code: &str, message: String) {
    let spec = crate::evidence::CallSpec {
        account: c.account.clone(),
        service: Op::LookupEvents.service().to_string(),
        operation: Op::LookupEvents.name().to_string(),
        region: region.to_string(),
        resource: name.to_string(),
        params: Value::Null,
    };
    c.push_gap(call, &spec, code.to_string(), message);
}

/// A Region an SCP denies (Control Tower's Region deny) refuses the lookup of deleted trails with an
/// explicit deny; nobody in the account can create or delete a trail there either, so the refusal is
/// recorded as blocked by policy, as the Region's DescribeTrails is, not as a gap. Any other lookup's
/// refusal stays a gap: its trail, key or bucket's changes are unknown.
fn settle_blocked(c: &Collector, region: &str, name: &str, failure: &super::Failure) {
    if name == DELETED_TRAIL_EVENT
        && crate::evidence::blocked_by_policy(&failure.code, &failure.message)
    {
        c.run.supersede(|g| {
            g.account == c.account
                && Op::LookupEvents.is(&g.service, &g.operation)
                && g.region == region
                && g.resource == name
        });
    }
}
