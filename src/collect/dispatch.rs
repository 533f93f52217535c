//! What each listed trail brings: its status and selectors, fetched by the trail's owner, and its key
//! and bucket, fetched by the accounts that own them, region by region as soon as each region answers.
//!
//! A key's owner is the account in its ARN. A bucket's owner is not published: it is the in-scope
//! account whose `s3:ListBuckets` lists it; a bucket no account in scope lists is probed with
//! `s3:HeadBucket` (404: it does not exist; 403: it belongs to an account outside the scope).
//! Resources owned outside the scope get no calls: they are recorded as such.

use super::history::{History, NamedKind};
use super::run::{lock, Collector};
use super::{cloudtrail, kms, s3};
use crate::evidence::history::{BUCKET_EVENTS, DELETED_TRAIL_EVENT, KEY_EVENTS, TRAIL_EVENTS};
use crate::evidence::OutsideScope;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// A trail as one account listed it: (that account, the trail, the account's collector).
type Sighting = (String, cloudtrail::TrailSummary, Arc<Collector>);

/// Hands out the work each listed trail brings, so a slow or dead region holds up nothing but itself.
pub(super) struct Dispatch {
    /// The regions' workers.
    tasks: Mutex<tokio::task::JoinSet<()>>,
    queues: Arc<Queues>,
    /// Accounts in scope: an organisation trail seen from a member is fetched by its owner.
    in_scope: BTreeSet<String>,
    /// Trail ARNs whose details were handed out.
    trails: Mutex<BTreeSet<String>>,
    /// Trails owned by another account in scope, by ARN, with every account that listed them.
    foreign: Mutex<BTreeMap<String, Vec<Sighting>>>,
    /// Who owns what, and the keys and buckets waiting to learn it.
    owners: Mutex<Owners>,
    /// Keys and buckets owned by accounts outside the scope.
    outside: Arc<Mutex<Vec<OutsideScope>>>,
}

/// What is known of owners so far. A key or bucket is handed out once, as soon as its owner is
/// known and entered, so a slow region or account holds up only what depends on it.
#[derive(Default)]
struct Owners {
    /// Each entered account's collector: a resource's calls go out with its owner's credentials.
    collectors: HashMap<String, Arc<Collector>>,
    /// Bucket -> (owning account, its region), from the in-scope accounts' ListBuckets answers.
    buckets: HashMap<String, (String, Option<String>)>,
    /// Accounts whose ListBuckets has answered (or failed): when all have, an unowned bucket is probed.
    listed_buckets: BTreeSet<String>,
    /// Every key and bucket a trail named, handed out or not.
    seen_keys: BTreeSet<String>,
    seen_buckets: BTreeSet<String>,
    /// Keys waiting for their owner (in scope, not yet entered): owner -> (key, region).
    pending_keys: BTreeMap<String, Vec<(String, String)>>,
    /// Buckets no ListBuckets has claimed yet: bucket -> (a naming trail's home region, its collector).
    pending_buckets: BTreeMap<String, (String, Arc<Collector>)>,
}

/// One region's follow-up work, waiting for one of the region's workers. An organisation queues one
/// item per trail, so an item is small: the collector and one or two names (the region is the
/// queue's).
enum Work {
    /// A trail's details, in its home region, and the region whose listing found it (where it has a
    /// shadow, to ask when the home region is blocked by policy).
    Trail(Arc<Collector>, Box<str>, Box<str>),
    Key(Arc<Collector>, Box<str>),
    /// A bucket's settings from its owner, with the owner's ListBuckets region for it if given.
    Bucket(Arc<Collector>, Box<str>, Option<Box<str>>),
    /// A bucket no account in scope lists: is it there, and whose is it?
    Probe(Arc<Collector>, Box<str>),
    /// A multi-region trail's status in a region it is shadowed in, asked by its owner: the API
    /// reference says GetTrailStatus "returns trail status from a single Region".
    ShadowStatus(Arc<Collector>, Box<str>),
}

impl Work {
    async fn run(self, region: &str, shared: &Queues) {
        match self {
            Work::Trail(c, arn, listed_in) => {
                cloudtrail::trail_details(&c, &arn, region, &listed_in).await
            }
            Work::Key(c, key) => kms::key_evidence(&c, region, &key, &shared.key_tracker).await,
            Work::Bucket(c, bucket, bucket_region) => {
                let hint = bucket_region.as_deref().unwrap_or(region);
                let found = s3::bucket_evidence(&c, &bucket, hint).await;
                if let (Some(history), Some(bucket_region)) = (&shared.history, found) {
                    history.want(&c, &bucket_region, BUCKET_EVENTS);
                }
            }
            Work::ShadowStatus(c, arn) => cloudtrail::shadow_status(&c, &arn, region).await,
            Work::Probe(c, bucket) => match s3::probe_bucket(&c, &bucket, region).await {
                s3::Probed::Outside(outside) => lock(&shared.outside).push(outside),
                // Whoever deleted it most likely did so in the trail's account and Region.
                s3::Probed::Gone => {
                    if let Some(history) = &shared.history {
                        history.want(&c, region, BUCKET_EVENTS);
                    }
                }
                s3::Probed::Readable | s3::Probed::Unknown => {}
            },
        }
    }
}

/// A queue of work per region, each drained by at most `workers_per_region` tasks. One queue per
/// region, so a slow region's backlog never blocks another's.
struct Queues {
    lanes: Mutex<HashMap<String, Lane>>,
    /// Twice the concurrency bound: enough to keep every permit busy.
    workers_per_region: usize,
    key_tracker: Mutex<kms::KeyTracker>,
    /// Resources owned outside the scope, as the work finds them.
    outside: Arc<Mutex<Vec<OutsideScope>>>,
    /// The period's Event history lookups, when the run reads them.
    history: Option<Arc<History>>,
}

#[derive(Default)]
struct Lane {
    pending: std::collections::VecDeque<Work>,
    workers: usize,
}

impl Queues {
    /// Does the region's work until its queue is empty.
    async fn drain(&self, region: &str) {
        loop {
            let next = {
                let mut lanes = lock(&self.lanes);
                let Some(lane) = lanes.get_mut(region) else {
                    return; // not reached: a worker is started only for a lane with work
                };
                let next = lane.pending.pop_front();
                if next.is_none() {
                    lane.workers -= 1;
                }
                next
            };
            let Some(work) = next else { return };
            // Boxed, so that the worker's own future stays small; a panic loses that item only (the
            // pack then lacks its records, and `assess` says so), not the rest of the region's queue.
            let run = std::panic::AssertUnwindSafe(Box::pin(work.run(region, self)));
            if let Err(panic) = futures::FutureExt::catch_unwind(run).await {
                let message = (panic.downcast_ref::<&str>().copied())
                    .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("(no message)");
                tracing::error!(region, "a collection task failed: {message}");
            }
        }
    }
}

impl Dispatch {
    pub(super) fn new(
        in_scope: BTreeSet<String>,
        concurrency: usize,
        history: Option<Arc<History>>,
    ) -> Self {
        let outside = Arc::new(Mutex::new(Vec::new()));
        Self {
            tasks: Mutex::default(),
            queues: Arc::new(Queues {
                lanes: Mutex::default(),
                workers_per_region: (concurrency * 2).max(1),
                key_tracker: Mutex::default(),
                outside: outside.clone(),
                history,
            }),
            in_scope,
            trails: Mutex::default(),
            foreign: Mutex::default(),
            owners: Mutex::default(),
            outside,
        }
    }

    /// An account's regions are known: each one's Event history is asked for deleted trails.
    pub(super) fn regions_known(&self, collector: &Arc<Collector>, regions: &[String]) {
        if let Some(history) = &self.queues.history {
            for region in regions {
                history.want(collector, region, &[DELETED_TRAIL_EVENT]);
            }
        }
    }

    /// An account was entered: its keys can be asked about now.
    pub(super) fn entered(&self, collector: &Arc<Collector>) {
        let account = collector.account.clone().unwrap_or_default();
        let waiting = {
            let mut owners = lock(&self.owners);
            owners.collectors.insert(account.clone(), collector.clone());
            owners.pending_keys.remove(&account).unwrap_or_default()
        };
        for (key, region) in waiting {
            self.key_work(collector, key, &region);
        }
    }

    /// An account's ListBuckets answered (`None`: it failed): the buckets it owns can be asked about
    /// now, and once every account in scope has answered, buckets nobody claims are probed.
    pub(super) fn buckets_listed(
        &self,
        account: &str,
        buckets: Option<Vec<(String, Option<String>)>>,
    ) {
        let mut ready = Vec::new();
        {
            let mut owners = lock(&self.owners);
            owners.listed_buckets.insert(account.to_string());
            for (bucket, region) in buckets.unwrap_or_default() {
                owners.buckets.insert(bucket, (account.to_string(), region));
            }
            let all_listed = self
                .in_scope
                .iter()
                .all(|a| owners.listed_buckets.contains(a));
            let ready_now: Vec<String> = owners
                .pending_buckets
                .keys()
                .filter(|b| all_listed || owners.buckets.contains_key(*b))
                .cloned()
                .collect();
            for bucket in ready_now {
                let (region, seer) = owners
                    .pending_buckets
                    .remove(&bucket)
                    .expect("listed above");
                ready.push(bucket_work(&owners, bucket, region, seer));
            }
        }
        for (region, work) in ready {
            self.queue(&region, work);
        }
    }

    /// A trail DescribeTrails listed in `collector`'s account.
    pub(super) fn listed(&self, collector: &Arc<Collector>, trail: cloudtrail::TrailSummary) {
        let seer = collector.account.clone().unwrap_or_default();
        let owner = arn_account(&trail.arn);
        // The owner's listing of a shadow: its status in this region is asked here too.
        if trail.listed_in != trail.home_region && owner.is_none_or(|o| o == seer) {
            let work = Work::ShadowStatus(collector.clone(), trail.arn.clone().into_boxed_str());
            self.queue(&trail.listed_in.clone(), work);
        }
        match owner {
            Some(owner) if owner != seer && self.in_scope.contains(owner) => {
                lock(&self.foreign)
                    .entry(trail.arn.clone())
                    .or_default()
                    .push((seer, trail, collector.clone()));
            }
            _ => self.dispatch(collector, trail),
        }
    }

    /// Hands out a trail's details, and its key and bucket as soon as their owners are known.
    fn dispatch(&self, collector: &Arc<Collector>, trail: cloudtrail::TrailSummary) {
        if !lock(&self.trails).insert(trail.arn.clone()) {
            return;
        }
        if let Some(key) = &trail.kms_key_id {
            self.key_named(collector, key, &trail.home_region);
        }
        if let Some(bucket) = &trail.bucket {
            self.bucket_named(collector, bucket, &trail.home_region);
        }
        // A trail's changes are in its owner's Event history; an organisation trail whose owner is
        // outside the scope has none to read here.
        let owner = arn_account(&trail.arn);
        if let Some(history) = &self.queues.history {
            if owner.is_none() || owner == collector.account.as_deref() {
                history.want(collector, &trail.home_region, TRAIL_EVENTS);
            }
        }
        let work = Work::Trail(
            collector.clone(),
            trail.arn.into_boxed_str(),
            trail.listed_in.into_boxed_str(),
        );
        self.queue(&trail.home_region, work);
    }

    /// A key a trail names goes to its owner (the account in its ARN; the trail's own account for an
    /// alias or id): now if entered, once entered if in scope, and nowhere if outside the scope.
    fn key_named(&self, seer: &Arc<Collector>, key: &str, home_region: &str) {
        let region = crate::evidence::key_region(key, home_region);
        let owner = arn_account(key)
            .map(str::to_owned)
            .or_else(|| seer.account.clone())
            .unwrap_or_default();
        let ready = {
            let mut owners = lock(&self.owners);
            if !owners.seen_keys.insert(key.to_string()) {
                return;
            }
            match owners.collectors.get(&owner) {
                Some(c) => Some(c.clone()),
                None if self.in_scope.contains(&owner) => {
                    owners
                        .pending_keys
                        .entry(owner)
                        .or_default()
                        .push((key.to_string(), region));
                    return;
                }
                None => None,
            }
        };
        match ready {
            Some(c) => self.key_work(&c, key.to_string(), &region),
            None => lock(&self.outside).push(OutsideScope {
                kind: OutsideScope::KMS_KEY.into(),
                resource: key.to_string(),
                owner: Some(owner),
                region: Some(region),
            }),
        }
    }

    /// A bucket a trail names goes to the account whose ListBuckets lists it, or is probed once every
    /// account's ListBuckets has answered without claiming it.
    fn bucket_named(&self, seer: &Arc<Collector>, bucket: &str, home_region: &str) {
        let (region, work) = {
            let mut owners = lock(&self.owners);
            if !owners.seen_buckets.insert(bucket.to_string()) {
                return;
            }
            let all_listed = self
                .in_scope
                .iter()
                .all(|a| owners.listed_buckets.contains(a));
            if !owners.buckets.contains_key(bucket) && !all_listed {
                owners
                    .pending_buckets
                    .insert(bucket.to_string(), (home_region.to_string(), seer.clone()));
                return;
            }
            bucket_work(
                &owners,
                bucket.to_string(),
                home_region.to_string(),
                seer.clone(),
            )
        };
        self.queue(&region, work);
    }

    /// A key's evidence from its owner, and the key's changes from the owner's Event history.
    fn key_work(&self, owner: &Arc<Collector>, key: String, region: &str) {
        if let Some(history) = &self.queues.history {
            history.want(owner, region, KEY_EVENTS);
        }
        self.queue(region, Work::Key(owner.clone(), key.into_boxed_str()));
    }

    /// Queues `work` in its region and starts another worker there if the region has fewer than
    /// its share.
    fn queue(&self, region: &str, work: Work) {
        // A bucket whose region its owner's ListBuckets gave has its changes looked up now, not
        // once its location is read.
        if let (Work::Bucket(owner, _, Some(bucket_region)), Some(history)) =
            (&work, &self.queues.history)
        {
            history.want(owner, bucket_region, BUCKET_EVENTS);
        }
        let start = {
            let mut lanes = lock(&self.queues.lanes);
            let lane = lanes.entry(region.to_string()).or_default();
            lane.pending.push_back(work);
            let start = lane.workers < self.queues.workers_per_region;
            if start {
                lane.workers += 1;
            }
            start
        };
        if start {
            let (queues, region) = (self.queues.clone(), region.to_string());
            let mut tasks = lock(&self.tasks);
            // Workers that found their queue empty have ended: let them go.
            while let Some(ended) = tasks.try_join_next() {
                log_task_failure(ended);
            }
            tasks.spawn(async move { queues.drain(&region).await });
        }
    }

    /// Once every account is listed: organisation trails whose owner did not list them (it could
    /// not be entered) go to the first account, by id, that saw them; then keys and buckets go to
    /// their owners; then waits for all the work.
    pub(super) async fn finish(&self) -> DependentStats {
        let foreign = std::mem::take(&mut *lock(&self.foreign));
        for (_, mut seers) in foreign {
            seers.sort_by(|a, b| a.0.cmp(&b.0));
            if let Some((_, trail, collector)) = seers.into_iter().next() {
                self.dispatch(&collector, trail);
            }
        }
        // Keys whose owners were never entered get no calls (the owners' gaps say why); buckets nobody
        // claimed are probed.
        let leftover = {
            let mut owners = lock(&self.owners);
            owners.pending_keys.clear();
            let leftover: Vec<(String, Work)> = std::mem::take(&mut owners.pending_buckets)
                .into_iter()
                .map(|(bucket, (region, seer))| bucket_work(&owners, bucket, region, seer))
                .collect();
            leftover
        };
        for (region, work) in leftover {
            self.queue(&region, work);
        }
        // Until no worker is left: the regions' workers, Event history's, and the work the period's
        // trail events bring (keys and buckets the trails named before today's).
        loop {
            let mut tasks = std::mem::take(&mut *lock(&self.tasks));
            let mut lookups = (self.queues.history.as_ref()).map(|h| h.take_tasks());
            if tasks.is_empty() && lookups.as_ref().is_none_or(|l| l.is_empty()) {
                break;
            }
            while let Some(joined) = tasks.join_next().await {
                log_task_failure(joined);
            }
            while let Some(joined) = lookups.as_mut().and_then(|l| l.try_join_next()) {
                log_task_failure(joined);
            }
            if let Some(lookups) = lookups.as_mut() {
                while let Some(joined) = lookups.join_next().await {
                    log_task_failure(joined);
                }
            }
            self.fetch_named();
        }
        let (key_refs, buckets) = {
            let owners = lock(&self.owners);
            (owners.seen_keys.len(), owners.seen_buckets.len())
        };
        let tracker = lock(&self.queues.key_tracker);
        let unresolved = key_refs.saturating_sub(tracker.resolved_refs);
        let distinct_keys: BTreeSet<&String> = tracker.arns.iter().map(|(_, arn)| arn).collect();
        let mut outside = std::mem::take(&mut *lock(&self.outside));
        outside.sort();
        outside.dedup();
        DependentStats {
            trails: lock(&self.trails).len() as u64,
            keys: (distinct_keys.len() + unresolved) as u64,
            buckets: buckets as u64,
            outside,
        }
    }
}

impl Dispatch {
    /// Keys and buckets the period's trail events named go where today's go (once each).
    fn fetch_named(&self) {
        let Some(history) = &self.queues.history else {
            return;
        };
        for named in history.take_named() {
            match named.kind {
                NamedKind::Key => self.key_named(&named.seer, &named.resource, &named.region),
                NamedKind::Bucket => self.bucket_named(&named.seer, &named.resource, &named.region),
            }
        }
    }
}

/// The work for a bucket: from its owner when an account in scope lists it, else a probe from the
/// account of a trail that names it. Queued in the region given (a trail's home region).
fn bucket_work(
    owners: &Owners,
    bucket: String,
    region: String,
    seer: Arc<Collector>,
) -> (String, Work) {
    let owned = owners
        .buckets
        .get(&bucket)
        .and_then(|(owner, bucket_region)| Some((owners.collectors.get(owner)?, bucket_region)));
    let work = match owned {
        Some((c, bucket_region)) => Work::Bucket(
            c.clone(),
            bucket.into_boxed_str(),
            bucket_region.clone().map(String::into_boxed_str),
        ),
        None => Work::Probe(seer, bucket.into_boxed_str()),
    };
    (region, work)
}

/// What the follow-up work found, for the pack header.
pub(super) struct DependentStats {
    pub trails: u64,
    pub keys: u64,
    pub buckets: u64,
    /// Keys and buckets whose owners are outside the scope, sorted.
    pub outside: Vec<OutsideScope>,
}

fn log_task_failure(joined: Result<(), tokio::task::JoinError>) {
    if let Err(e) = joined {
        tracing::error!(error = %e, "a collection task failed");
    }
}

/// The account in an ARN (`arn:partition:service:region:account:...`).
pub(super) fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}
