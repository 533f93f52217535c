//! Collection: the only module that talks to AWS. Finds every trail, key and bucket the rule depends on
//! and records every response into an evidence pack.

mod cloudtrail;
mod kms;
mod recorder;
mod s3;
mod scope;

pub use recorder::Recorder;

use crate::aws::{load_sdk_config_with, FALLBACK_REGION};
use crate::config::{catalogue, AccountId, AccountScope, AccountTarget, CollectSettings};
use crate::evidence::{
    now_rfc3339, AccountRecord, CallSpec, Counts, EvidenceError, Gap, PackHeader, PackWriter,
    RecordSink, RuleRef, ToolInfo, PACK_FORMAT,
};
use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::region::Region;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// Gap code for a response the SDK could not parse; the body is still in the pack.
pub const UNPARSEABLE: &str = "UnparseableResponse";

/// Why a collection could not produce a pack.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    #[error(
        "could not identify the caller (sts:GetCallerIdentity in {region} failed: {message}). Nothing was \
         collected. Give auditpack credentials: --profile NAME (after `aws sso login` for SSO profiles), \
         AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance role; for an emulator also pass --endpoint-url"
    )]
    NoIdentity { region: String, message: String },
    #[error(
        "could not list the account's enabled regions (ec2:DescribeRegions in {region} failed: {message}). \
         Nothing was collected. Allow ec2:DescribeRegions or name the regions with --regions r1,r2"
    )]
    NoRegions { region: String, message: String },
    #[error(
        "could not list the organisation's accounts (organizations:ListAccounts in {region} failed: {message}). \
         Nothing was collected. Run --org with credentials of the management account or of a delegated \
         administrator allowed organizations:ListAccounts, or name the accounts with --accounts"
    )]
    NoOrganization { region: String, message: String },
    #[error(
        "--role-name is needed to enter account(s) {accounts}: the credentials belong to account {caller}. \
         Pass --role-name NAME (a role each account trusts the caller to assume), or collect only {caller}"
    )]
    RoleNeeded { caller: String, accounts: String },
    #[error("collection was interrupted; no pack was written")]
    Interrupted,
}

/// Progress reporting, implemented by the command line (a progress bar) or by nothing at all.
pub trait Progress: Send + Sync {
    /// A new stage of the run began.
    fn stage(&self, name: &str);
    /// One more API call was queued.
    fn call_queued(&self);
    /// One queued API call finished (whatever its outcome).
    fn call_done(&self);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _name: &str) {}
    fn call_queued(&self) {}
    fn call_done(&self) {}
}

/// What a finished collection produced.
#[derive(Debug)]
pub struct CollectOutcome {
    pub path: PathBuf,
    pub header: PackHeader,
}

/// The result of one recorded API call, as the collector uses it to decide what to fetch next.
pub(crate) enum Outcome<T> {
    /// The service answered with the evidence.
    Ok(T),
    /// The service answered that the thing is not configured: evidence of absence.
    Absent,
    /// No usable answer; recorded as a gap with this error code.
    Gap(String),
}

impl<T> Outcome<T> {
    pub(crate) fn ok(self) -> Option<T> {
        match self {
            Outcome::Ok(t) => Some(t),
            _ => None,
        }
    }
}

/// Per-region SDK clients, built once and shared (they share one connection pool).
struct Clients {
    sdk: SdkConfig,
    path_style: bool,
    cloudtrail: Mutex<HashMap<String, aws_sdk_cloudtrail::Client>>,
    kms: Mutex<HashMap<String, aws_sdk_kms::Client>>,
    s3: Mutex<HashMap<String, aws_sdk_s3::Client>>,
}

fn cached<C: Clone>(map: &Mutex<HashMap<String, C>>, region: &str, build: impl FnOnce() -> C) -> C {
    let mut map = lock(map);
    map.entry(region.to_string()).or_insert_with(build).clone()
}

impl Clients {
    fn new(sdk: SdkConfig, path_style: bool) -> Self {
        Self {
            sdk,
            path_style,
            cloudtrail: Default::default(),
            kms: Default::default(),
            s3: Default::default(),
        }
    }

    fn cloudtrail(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        cached(&self.cloudtrail, region, || {
            let conf = aws_sdk_cloudtrail::config::Builder::from(&self.sdk)
                .region(Region::new(region.to_string()))
                .build();
            aws_sdk_cloudtrail::Client::from_conf(conf)
        })
    }

    fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        cached(&self.kms, region, || {
            let conf = aws_sdk_kms::config::Builder::from(&self.sdk)
                .region(Region::new(region.to_string()))
                .build();
            aws_sdk_kms::Client::from_conf(conf)
        })
    }

    fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        cached(&self.s3, region, || {
            let conf = aws_sdk_s3::config::Builder::from(&self.sdk)
                .region(Region::new(region.to_string()))
                .force_path_style(self.path_style)
                .build();
            aws_sdk_s3::Client::from_conf(conf)
        })
    }

    fn home_region(&self) -> String {
        self.sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| FALLBACK_REGION.to_string())
    }
}

/// State shared by every account of one collection run: the concurrency bounds, the record sink and
/// the gaps.
pub(crate) struct Run {
    /// The global bound on calls in flight (`--concurrency`).
    limit: Semaphore,
    /// Per region (all services and accounts together), at most `lane_permits` calls in flight, so one
    /// slow or throttled region cannot hold every global permit while the others wait.
    lanes: Mutex<HashMap<String, Arc<Semaphore>>>,
    lane_permits: usize,
    sink: RecordSink,
    next_call: AtomicU64,
    gaps: Mutex<Vec<Gap>>,
    progress: Arc<dyn Progress>,
    path_style: bool,
    /// From the caller's ARN (`arn:<partition>:sts::...`), for the ARNs of member roles.
    partition: std::sync::OnceLock<String>,
}

impl Run {
    fn lane(&self, region: &str) -> Arc<Semaphore> {
        let mut lanes = lock(&self.lanes);
        lanes
            .entry(region.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.lane_permits)))
            .clone()
    }
}

/// Share of the global bound one region may hold: three quarters, so a single-region run keeps most
/// of its concurrency while a slow region always leaves a quarter to the others.
fn lane_permits(concurrency: usize) -> usize {
    (concurrency - concurrency.div_ceil(4)).max(1)
}

/// Collection in one account: its clients (with its credentials) over the shared run.
pub(crate) struct Collector {
    run: Arc<Run>,
    clients: Clients,
    account: Option<String>,
}

impl Collector {
    /// The AWS partition of this collection (from the caller's ARN once known; `aws` before).
    pub(crate) fn partition(&self) -> String {
        self.run
            .partition
            .get()
            .cloned()
            .unwrap_or_else(|| "aws".to_string())
    }

    fn new(run: Arc<Run>, sdk: SdkConfig, account: Option<String>) -> Self {
        let path_style = run.path_style;
        Self {
            run,
            clients: Clients::new(sdk, path_style),
            account,
        }
    }

    /// Runs one API call under the concurrency bounds, recording every attempt (answers that carry
    /// credentials are stored redacted, see [`Recorder`]), and classifies the result.
    pub(crate) async fn call<O, E, F, Fut>(
        &self,
        service: &str,
        operation: &str,
        region: &str,
        resource: &str,
        params: serde_json::Value,
        send: F,
    ) -> Outcome<O>
    where
        F: FnOnce(Recorder) -> Fut,
        Fut: Future<Output = Result<O, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.call_within(true, service, operation, region, resource, params, send)
            .await
    }

    /// [`Collector::call`], outside the concurrency bounds when `bounded` is false: for a call that
    /// other calls wait on while they hold their permits (renewing a member account's session), which
    /// bounded could wait for them.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn call_within<O, E, F, Fut>(
        &self,
        bounded: bool,
        service: &str,
        operation: &str,
        region: &str,
        resource: &str,
        params: serde_json::Value,
        send: F,
    ) -> Outcome<O>
    where
        F: FnOnce(Recorder) -> Fut,
        Fut: Future<Output = Result<O, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let run = &self.run;
        run.progress.call_queued();
        // (region lane, global bound), held until the call is answered.
        let permits = if bounded {
            let lane = run.lane(region).acquire_owned().await;
            Some((lane, run.limit.acquire().await))
        } else {
            None
        };
        let call = run.next_call.fetch_add(1, Ordering::SeqCst) + 1;
        let spec = Arc::new(CallSpec {
            account: self.account.clone(),
            service: service.to_string(),
            operation: operation.to_string(),
            region: region.to_string(),
            resource: resource.to_string(),
            params,
        });
        let recorder = Recorder::new::<E>(call, spec.clone(), run.sink.clone());
        // Boxed, so that a call still waiting for its permits stays small: every account's listing
        // of every region waits at once (thousands in an organisation), and an SDK call's state is
        // kilobytes.
        let result = Box::pin(send(recorder)).await;
        drop(permits);
        run.progress.call_done();
        match result {
            Ok(output) => Outcome::Ok(output),
            Err(error) => self.classify_error(call, &spec, &error),
        }
    }

    fn classify_error<O, E>(
        &self,
        call: u64,
        spec: &CallSpec,
        error: &SdkError<E, HttpResponse>,
    ) -> Outcome<O>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = error.raw_response().map(|r| r.status().as_u16());
        let code = match (error.code(), error) {
            (Some(code), _) => code.to_string(),
            (None, SdkError::ResponseError(_)) => UNPARSEABLE.to_string(),
            (None, SdkError::ServiceError(_))
                if status.is_some_and(|s| (200..300).contains(&s)) =>
            {
                UNPARSEABLE.to_string()
            }
            (None, SdkError::ServiceError(_)) => {
                format!("HttpStatus{}", status.unwrap_or_default())
            }
            (None, SdkError::ConstructionFailure(_)) => "RequestNotSent".to_string(),
            (None, _) => "NoResponse".to_string(),
        };
        if crate::evidence::absence_codes(&spec.operation).contains(&code.as_str()) {
            return Outcome::Absent;
        }
        let message = match error.message() {
            Some(message) => message.to_string(),
            None if code == UNPARSEABLE => format!(
                "the SDK could not parse the response (it is kept in the pack): {}",
                recorder::innermost_message(error)
            ),
            None => recorder::innermost_message(error),
        };
        tracing::info!(
            operation = %spec.operation, resource = %spec.resource, region = %spec.region, code = %code,
            "evidence gap: {message}"
        );
        lock(&self.run.gaps).push(Gap {
            account: spec.account.clone(),
            service: spec.service.clone(),
            operation: spec.operation.clone(),
            region: spec.region.clone(),
            resource: spec.resource.clone(),
            error_code: code.clone(),
            message,
            call,
        });
        Outcome::Gap(code)
    }
}

/// Collects the evidence described in the settings into a new pack at `settings.out`.
pub async fn collect(
    settings: &CollectSettings,
    progress: Arc<dyn Progress>,
) -> Result<CollectOutcome, CollectError> {
    let sdk = load_sdk_config_with(&settings.aws, settings.retry_mode).await;
    let pack_id = uuid::Uuid::now_v7().to_string();
    let writer = PackWriter::create(&settings.out, &pack_id)?;
    tracing::info!(pack_id = %pack_id, partial = %writer.temp_path().display(), "collection started");
    let started_at = now_rfc3339();
    let run = Arc::new(Run {
        limit: Semaphore::new(settings.concurrency),
        lanes: Mutex::new(HashMap::new()),
        lane_permits: lane_permits(settings.concurrency),
        sink: writer.sink(),
        next_call: AtomicU64::new(0),
        gaps: Mutex::new(Vec::new()),
        progress: progress.clone(),
        path_style: settings.aws.endpoint_url.is_some(),
        partition: std::sync::OnceLock::new(),
    });
    let scanned = match scan(settings, &run, sdk, &pack_id, progress.as_ref()).await {
        Ok(scanned) => scanned,
        Err(e) => {
            drop(run);
            writer.abandon();
            return Err(e);
        }
    };
    let Scanned {
        identity,
        accounts,
        regions,
        regions_source,
        trails,
        stats,
    } = scanned;
    let gaps = {
        let mut gaps = std::mem::take(&mut *lock(&run.gaps));
        gaps.sort();
        gaps
    };
    let calls = run.next_call.load(Ordering::SeqCst);
    drop(run);
    let finished_at = now_rfc3339();
    let catalogue = catalogue();
    let (path, header) = writer.finish(|chain| PackHeader {
        format: PACK_FORMAT.to_string(),
        pack_id: pack_id.clone(),
        tool: ToolInfo {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
        account_id: identity.account.clone(),
        caller_arn: identity.arn.clone(),
        caller_user_id: identity.user_id.clone(),
        regions,
        regions_source,
        endpoint_url: settings
            .aws
            .endpoint_url
            .as_ref()
            .map(|e| e.as_str().to_string()),
        profile: settings.aws.profile.clone(),
        started_at,
        finished_at,
        rule: RuleRef {
            id: catalogue.rule.id.clone(),
            title: catalogue.rule.title.clone(),
            cis_aws: catalogue
                .mapping
                .cis_aws
                .iter()
                .map(|c| format!("{} {} {}", c.benchmark, c.version, c.control))
                .collect(),
            cce: catalogue.mapping.cce.clone(),
            cis_controls_v7: format!(
                "{} {}",
                catalogue.mapping.cis_v7.control, catalogue.mapping.cis_v7.title
            ),
            references: catalogue
                .rule
                .references
                .iter()
                .map(|r| r.url.clone())
                .collect(),
        },
        counts: Counts {
            trails,
            keys: stats.keys,
            buckets: stats.buckets,
            calls,
            records: chain.records,
            gaps: gaps.len() as u64,
        },
        chain_genesis: chain.genesis.clone(),
        chain_head: chain.head.clone(),
        complete: gaps.is_empty(),
        gaps,
        accounts,
    })?;
    Ok(CollectOutcome { path, header })
}

/// What the calls of a run found, before the pack is sealed.
struct Scanned {
    identity: scope::Identity,
    accounts: Vec<AccountRecord>,
    regions: Vec<String>,
    regions_source: String,
    trails: u64,
    stats: DependentStats,
}

/// One account in scope, once entered (or not) and its trails listed.
struct EnteredAccount {
    record: AccountRecord,
}

/// Identifies the caller, finds the accounts and their trails, then fetches everything the trails depend on.
async fn scan(
    settings: &CollectSettings,
    run: &Arc<Run>,
    sdk: SdkConfig,
    pack_id: &str,
    progress: &dyn Progress,
) -> Result<Scanned, CollectError> {
    progress.stage("identifying the caller");
    let caller = Collector::new(run.clone(), sdk, None);
    let identity = scope::caller_identity(&caller).await?;
    if let Some(partition) = identity.arn.split(':').nth(1).filter(|p| !p.is_empty()) {
        let _ = run.partition.set(partition.to_string());
    }
    let caller = Arc::new(Collector {
        account: Some(identity.account.clone()),
        ..caller
    });
    let caller_id = AccountId::parse("sts:GetCallerIdentity", &identity.account).map_err(|e| {
        CollectError::NoIdentity {
            region: caller.clients.home_region(),
            message: e.to_string(),
        }
    })?;

    let (targets, source) = match &settings.accounts {
        AccountScope::Caller => (
            vec![AccountTarget {
                id: caller_id.clone(),
                name: None,
            }],
            "caller",
        ),
        AccountScope::Listed { source, accounts } => (accounts.clone(), *source),
        AccountScope::Organization => {
            progress.stage("listing the organisation's accounts");
            (
                scope::organization_accounts(&caller).await?,
                "organizations:ListAccounts",
            )
        }
    };
    let strangers: Vec<&str> = targets
        .iter()
        .filter(|t| t.id != caller_id)
        .map(|t| t.id.as_str())
        .collect();
    if settings.role.is_none() && !strangers.is_empty() {
        return Err(CollectError::RoleNeeded {
            caller: caller_id.to_string(),
            accounts: strangers.join(", "),
        });
    }
    let single = settings.accounts == AccountScope::Caller;

    progress.stage(if single {
        "listing regions and trails"
    } else {
        "entering accounts, listing regions and trails"
    });
    let dispatch = Dispatch::new(
        targets.iter().map(|t| t.id.to_string()).collect(),
        settings.concurrency,
    );
    let session_name = format!("auditpack-{pack_id}");
    let entered = futures::future::join_all(targets.iter().map(|target| {
        enter_account(
            settings,
            run,
            &caller,
            &caller_id,
            target,
            source,
            &session_name,
            &dispatch,
        )
    }))
    .await;
    let accounts: Vec<AccountRecord> = entered.into_iter().map(|e| e.record).collect();
    if single && accounts.iter().all(|a| !a.collected) {
        // A single-account run that could not even list its regions has nothing to offer.
        return Err(CollectError::NoRegions {
            region: caller.clients.home_region(),
            message: scope::last_gap_message(&caller),
        });
    }
    let (regions, regions_source) = match &settings.regions {
        Some(regions) => (
            regions.iter().map(|r| r.to_string()).collect(),
            "--regions".to_string(),
        ),
        None => {
            let all: BTreeSet<&String> = accounts.iter().flat_map(|a| &a.regions).collect();
            (
                all.into_iter().cloned().collect(),
                "ec2:DescribeRegions".to_string(),
            )
        }
    };

    progress.stage("collecting trail, key and bucket evidence");
    let stats = dispatch.finish().await;
    Ok(Scanned {
        identity,
        accounts,
        regions,
        regions_source,
        trails: stats.trails,
        stats,
    })
}

/// Locks a mutex; a panic elsewhere while it was held leaves the data usable here.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// A trail as one account listed it: (that account, the trail, the account's collector).
type Sighting = (String, cloudtrail::TrailSummary, Arc<Collector>);

/// Hands out the work each listed trail brings, as soon as its region has been listed, so a slow
/// or dead region holds up nothing but itself: the trail's status and selectors once per trail, and
/// its key and bucket once per account (each account's view of them is its own evidence).
struct Dispatch {
    /// The regions' workers.
    tasks: Mutex<tokio::task::JoinSet<()>>,
    queues: Arc<Queues>,
    /// Accounts in scope: an organisation trail seen from a member is fetched by its owner.
    in_scope: BTreeSet<String>,
    trails: Mutex<BTreeSet<String>>,
    /// Trails owned by another account in scope, by ARN, with every account that listed them.
    foreign: Mutex<BTreeMap<String, Vec<Sighting>>>,
    /// (account, region, key reference)
    keys: Mutex<BTreeSet<(String, String, String)>>,
    /// (account, bucket)
    buckets: Mutex<BTreeSet<(String, String)>>,
}

/// One region's follow-up work, waiting for one of the region's workers. An organisation queues one
/// item per trail, so an item is small: the account's collector and one name (the region is the
/// queue's).
enum Work {
    Trail(Arc<Collector>, Box<str>),
    Key(Arc<Collector>, Box<str>),
    Bucket(Arc<Collector>, Box<str>),
}

impl Work {
    async fn run(self, region: &str, tracker: &Mutex<kms::KeyTracker>) {
        match self {
            Work::Trail(c, arn) => cloudtrail::trail_details(&c, &arn, region).await,
            Work::Key(c, key) => kms::key_evidence(&c, region, &key, tracker).await,
            Work::Bucket(c, bucket) => s3::bucket_evidence(&c, &bucket, region).await,
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
            let run = std::panic::AssertUnwindSafe(Box::pin(work.run(region, &self.key_tracker)));
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
    fn new(in_scope: BTreeSet<String>, concurrency: usize) -> Self {
        Self {
            tasks: Mutex::default(),
            queues: Arc::new(Queues {
                lanes: Mutex::default(),
                workers_per_region: (concurrency * 2).max(1),
                key_tracker: Mutex::default(),
            }),
            in_scope,
            trails: Mutex::default(),
            foreign: Mutex::default(),
            keys: Mutex::default(),
            buckets: Mutex::default(),
        }
    }

    /// A trail DescribeTrails listed in `collector`'s account.
    fn listed(&self, collector: &Arc<Collector>, trail: cloudtrail::TrailSummary) {
        let seer = collector.account.clone().unwrap_or_default();
        match arn_account(&trail.arn) {
            Some(owner) if owner != seer && self.in_scope.contains(owner) => {
                lock(&self.foreign)
                    .entry(trail.arn.clone())
                    .or_default()
                    .push((seer, trail, collector.clone()));
            }
            _ => self.dispatch(collector, trail),
        }
    }

    fn dispatch(&self, collector: &Arc<Collector>, trail: cloudtrail::TrailSummary) {
        if !lock(&self.trails).insert(trail.arn.clone()) {
            return;
        }
        let account = collector.account.clone().unwrap_or_default();
        if let Some(key) = &trail.kms_key_id {
            let region = crate::evidence::key_region(key, &trail.home_region);
            if lock(&self.keys).insert((account.clone(), region.clone(), key.clone())) {
                self.queue(&region, Work::Key(collector.clone(), key.as_str().into()));
            }
        }
        if let Some(bucket) = &trail.bucket {
            if lock(&self.buckets).insert((account, bucket.clone())) {
                let work = Work::Bucket(collector.clone(), bucket.as_str().into());
                self.queue(&trail.home_region, work);
            }
        }
        let work = Work::Trail(collector.clone(), trail.arn.into_boxed_str());
        self.queue(&trail.home_region, work);
    }

    /// Queues `work` in its region and starts another worker there if the region has fewer than
    /// its share.
    fn queue(&self, region: &str, work: Work) {
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
    /// not be entered) go to the first account, by id, that saw them; then waits for all the work.
    async fn finish(&self) -> DependentStats {
        let foreign = std::mem::take(&mut *lock(&self.foreign));
        for (_, mut seers) in foreign {
            seers.sort_by(|a, b| a.0.cmp(&b.0));
            if let Some((_, trail, collector)) = seers.into_iter().next() {
                self.dispatch(&collector, trail);
            }
        }
        // Until no worker is left (none queues more work today; if one ever did, its new worker
        // would be in the set taken next round).
        loop {
            let mut tasks = std::mem::take(&mut *lock(&self.tasks));
            if tasks.is_empty() {
                break;
            }
            while let Some(joined) = tasks.join_next().await {
                log_task_failure(joined);
            }
        }
        let tracker = lock(&self.queues.key_tracker);
        let key_refs = lock(&self.keys).len();
        let unresolved = key_refs.saturating_sub(tracker.resolved_refs);
        let distinct_keys: BTreeSet<&String> = tracker.arns.iter().map(|(_, arn)| arn).collect();
        let distinct_buckets: BTreeSet<String> =
            lock(&self.buckets).iter().map(|(_, b)| b.clone()).collect();
        DependentStats {
            trails: lock(&self.trails).len() as u64,
            keys: (distinct_keys.len() + unresolved) as u64,
            buckets: distinct_buckets.len() as u64,
        }
    }
}

fn log_task_failure(joined: Result<(), tokio::task::JoinError>) {
    if let Err(e) = joined {
        tracing::error!(error = %e, "a collection task failed");
    }
}

/// The account in an ARN (`arn:partition:service:region:account:...`).
fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// Enters one account (its own credentials for the caller's account, AssumeRole otherwise), lists its
/// regions unless they were given, and lists each region's trails, handing them to `dispatch` region
/// by region.
#[allow(clippy::too_many_arguments)]
async fn enter_account(
    settings: &CollectSettings,
    run: &Arc<Run>,
    caller: &Arc<Collector>,
    caller_id: &AccountId,
    target: &AccountTarget,
    source: &str,
    session_name: &str,
    dispatch: &Dispatch,
) -> EnteredAccount {
    let mut record = AccountRecord {
        account_id: target.id.to_string(),
        name: target.name.clone(),
        source: source.to_string(),
        role_arn: None,
        collected: false,
        regions: Vec::new(),
    };
    let collector = if &target.id == caller_id {
        caller.clone()
    } else {
        let Some(role) = &settings.role else {
            return EnteredAccount { record };
        };
        record.role_arn = Some(role.role_name.arn_in(&caller.partition(), &target.id));
        match scope::assume_role(caller, &target.id, role, session_name).await {
            Some(sdk) => Arc::new(Collector::new(
                run.clone(),
                sdk,
                Some(target.id.to_string()),
            )),
            None => {
                tracing::warn!(account = %target.id, "the role could not be assumed; the account is an evidence gap");
                return EnteredAccount { record };
            }
        }
    };
    let regions = match &settings.regions {
        Some(regions) => regions.iter().map(|r| r.to_string()).collect(),
        None => match scope::enabled_regions(&collector).await {
            Ok(regions) => regions,
            Err(e) => {
                tracing::warn!(account = %target.id, "{e}");
                return EnteredAccount { record };
            }
        },
    };
    futures::future::join_all(regions.iter().map(|region| async {
        for trail in cloudtrail::list_region(&collector, region).await {
            dispatch.listed(&collector, trail);
        }
    }))
    .await;
    record.collected = true;
    record.regions = regions;
    EnteredAccount { record }
}

struct DependentStats {
    trails: u64,
    keys: u64,
    buckets: u64,
}
