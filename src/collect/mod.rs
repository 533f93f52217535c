//! Collection: the only module that talks to AWS. Finds every trail, key and bucket the rule depends on
//! and records every response into an evidence pack.

mod cloudtrail;
mod kms;
mod recorder;
mod s3;
mod scope;

pub use recorder::Recorder;

use crate::config::{
    catalogue, AccountId, AccountScope, AccountTarget, AwsSettings, CollectSettings, RetryMode,
};
use crate::evidence::{
    now_rfc3339, AccountRecord, CallSpec, Counts, EvidenceError, Gap, PackHeader, PackWriter,
    RecordSink, RuleRef, ToolInfo, PACK_FORMAT,
};
use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::region::Region;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Region used for global calls (STS, EC2 DescribeRegions) when none is configured.
pub const FALLBACK_REGION: &str = "us-east-1";
/// Attempts per call, with the SDK's standard exponential backoff between them.
const MAX_ATTEMPTS: u32 = 5;
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

/// Loads the SDK configuration: the standard credential chain, the profile and the endpoint override,
/// with the standard retry mode.
pub async fn load_sdk_config(aws: &AwsSettings) -> SdkConfig {
    load_sdk_config_with(aws, RetryMode::Standard).await
}

/// [`load_sdk_config`] with a choice of retry mode.
pub async fn load_sdk_config_with(aws: &AwsSettings, retry: RetryMode) -> SdkConfig {
    let region = RegionProviderChain::default_provider().or_else(Region::new(FALLBACK_REGION));
    let retry = match retry {
        RetryMode::Standard => RetryConfig::standard(),
        RetryMode::Adaptive => RetryConfig::adaptive(),
    };
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .retry_config(retry.with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(30))
                .operation_timeout(Duration::from_secs(120))
                .build(),
        );
    if let Some(profile) = &aws.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = &aws.endpoint_url {
        loader = loader.endpoint_url(endpoint.as_str());
    }
    loader.load().await
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
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
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
    /// Per service and region, at most `lane_permits` calls in flight, so one slow or throttled region
    /// cannot hold every global permit while the others wait.
    lanes: Mutex<HashMap<(String, String), Arc<Semaphore>>>,
    lane_permits: usize,
    sink: RecordSink,
    next_call: AtomicU64,
    gaps: Mutex<Vec<Gap>>,
    progress: Arc<dyn Progress>,
    path_style: bool,
}

impl Run {
    fn lane(&self, service: &str, region: &str) -> Arc<Semaphore> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        lanes
            .entry((service.to_string(), region.to_string()))
            .or_insert_with(|| Arc::new(Semaphore::new(self.lane_permits)))
            .clone()
    }
}

/// Share of the global bound one service in one region may hold.
fn lane_permits(concurrency: usize) -> usize {
    concurrency.div_ceil(2).max(1)
}

/// Collection in one account: its clients (with its credentials) over the shared run.
pub(crate) struct Collector {
    run: Arc<Run>,
    clients: Clients,
    account: Option<String>,
}

impl Collector {
    fn new(run: Arc<Run>, sdk: SdkConfig, account: Option<String>) -> Self {
        let path_style = run.path_style;
        Self {
            run,
            clients: Clients::new(sdk, path_style),
            account,
        }
    }

    /// Runs one API call under the concurrency bounds, recording every attempt, and classifies the result.
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
        self.call_inner(service, operation, region, resource, params, false, send)
            .await
    }

    /// [`Collector::call`] for answers that carry credentials: they are stored redacted.
    pub(crate) async fn call_redacted<O, E, F, Fut>(
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
        self.call_inner(service, operation, region, resource, params, true, send)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn call_inner<O, E, F, Fut>(
        &self,
        service: &str,
        operation: &str,
        region: &str,
        resource: &str,
        params: serde_json::Value,
        redact: bool,
        send: F,
    ) -> Outcome<O>
    where
        F: FnOnce(Recorder) -> Fut,
        Fut: Future<Output = Result<O, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let run = &self.run;
        run.progress.call_queued();
        let lane = run.lane(service, region);
        let lane_permit = lane.acquire().await;
        let permit = run.limit.acquire().await;
        let call = run.next_call.fetch_add(1, Ordering::SeqCst) + 1;
        let spec = Arc::new(CallSpec {
            account: self.account.clone(),
            service: service.to_string(),
            operation: operation.to_string(),
            region: region.to_string(),
            resource: resource.to_string(),
            params,
        });
        let mut recorder = Recorder::new::<E>(call, spec.clone(), run.sink.clone());
        if redact {
            recorder = recorder.redacting();
        }
        let result = send(recorder).await;
        drop(permit);
        drop(lane_permit);
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
        self.run
            .gaps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Gap {
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
        let mut gaps = std::mem::take(&mut *run.gaps.lock().unwrap_or_else(|p| p.into_inner()));
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

/// One account in scope, once entered (or not).
struct EnteredAccount {
    record: AccountRecord,
    /// `None` when the account could not be entered or its regions listed.
    collector: Option<Arc<Collector>>,
    trails: BTreeMap<String, cloudtrail::TrailSummary>,
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
        )
    }))
    .await;
    let mut accounts = Vec::with_capacity(entered.len());
    let mut collectors: BTreeMap<String, Arc<Collector>> = BTreeMap::new();
    let mut trails: BTreeMap<String, (cloudtrail::TrailSummary, Arc<Collector>)> = BTreeMap::new();
    for entered in entered {
        let entered = entered?;
        if let Some(collector) = &entered.collector {
            collectors.insert(entered.record.account_id.clone(), collector.clone());
            for (arn, trail) in entered.trails {
                trails.entry(arn).or_insert((trail, collector.clone()));
            }
        }
        accounts.push(entered.record);
    }
    // A trail seen from several accounts (an organisation trail) is fetched by the account that owns it.
    for (arn, (_, collector)) in trails.iter_mut() {
        if let Some(owner) = arn_account(arn).and_then(|a| collectors.get(a)) {
            *collector = owner.clone();
        }
    }
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
    let stats = collect_dependents(&collectors, &trails).await;
    Ok(Scanned {
        identity,
        accounts,
        regions,
        regions_source,
        trails: trails.len() as u64,
        stats,
    })
}

/// The account in an ARN (`arn:partition:service:region:account:...`).
fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// Enters one account (its own credentials for the caller's account, AssumeRole otherwise), lists its
/// regions unless they were given, and describes its trails. Fails only for a single-account run whose
/// regions cannot be listed.
async fn enter_account(
    settings: &CollectSettings,
    run: &Arc<Run>,
    caller: &Arc<Collector>,
    caller_id: &AccountId,
    target: &AccountTarget,
    source: &str,
    session_name: &str,
) -> Result<EnteredAccount, CollectError> {
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
            return Ok(EnteredAccount {
                record,
                collector: None,
                trails: BTreeMap::new(),
            });
        };
        record.role_arn = Some(role.role_name.arn_in(&target.id));
        match scope::assume_role(caller, &target.id, role, session_name).await {
            Some(sdk) => Arc::new(Collector::new(
                run.clone(),
                sdk,
                Some(target.id.to_string()),
            )),
            None => {
                tracing::warn!(account = %target.id, "the role could not be assumed; the account is an evidence gap");
                return Ok(EnteredAccount {
                    record,
                    collector: None,
                    trails: BTreeMap::new(),
                });
            }
        }
    };
    let regions = match &settings.regions {
        Some(regions) => regions.iter().map(|r| r.to_string()).collect(),
        None => match scope::enabled_regions(&collector).await {
            Ok(regions) => regions,
            Err(e) => {
                tracing::warn!(account = %target.id, "{e}");
                return Ok(EnteredAccount {
                    record,
                    collector: None,
                    trails: BTreeMap::new(),
                });
            }
        },
    };
    let trails = cloudtrail::describe_all(&collector, &regions).await;
    record.collected = true;
    record.regions = regions;
    Ok(EnteredAccount {
        record,
        collector: Some(collector),
        trails,
    })
}

struct DependentStats {
    keys: u64,
    buckets: u64,
}

/// Fetches, concurrently, each trail's status and selectors, each distinct key and each distinct bucket.
/// A key is fetched by the account that owns it when that account is in scope, otherwise by the first
/// account whose trail names it; a bucket by the first account whose trail writes to it.
async fn collect_dependents(
    collectors: &BTreeMap<String, Arc<Collector>>,
    trails: &BTreeMap<String, (cloudtrail::TrailSummary, Arc<Collector>)>,
) -> DependentStats {
    // (region, key reference, qualifier) -> collector; the qualifier keeps aliases and bare key ids of
    // different accounts apart, while an ARN is the same key whoever names it.
    let mut key_refs: BTreeMap<(String, String, String), Arc<Collector>> = BTreeMap::new();
    let mut buckets: BTreeMap<String, (String, Arc<Collector>)> = BTreeMap::new();
    for (trail, collector) in trails.values() {
        if let Some(key) = &trail.kms_key_id {
            let region = crate::evidence::key_region(key, &trail.home_region);
            let (qualifier, chosen) = match arn_account(key) {
                Some(owner) if key.starts_with("arn:") => (
                    String::new(),
                    collectors.get(owner).unwrap_or(collector).clone(),
                ),
                _ => (
                    collector.account.clone().unwrap_or_default(),
                    collector.clone(),
                ),
            };
            key_refs
                .entry((region, key.clone(), qualifier))
                .or_insert(chosen);
        }
        if let Some(bucket) = &trail.bucket {
            buckets
                .entry(bucket.clone())
                .or_insert_with(|| (trail.home_region.clone(), collector.clone()));
        }
    }
    let key_tracker = Arc::new(Mutex::new(kms::KeyTracker::default()));
    let mut tasks = tokio::task::JoinSet::new();
    for (trail, collector) in trails.values() {
        let (c, trail) = (collector.clone(), trail.clone());
        tasks.spawn(async move { cloudtrail::trail_details(&c, &trail).await });
    }
    let key_ref_count = key_refs.len();
    for ((region, key_ref, _), collector) in key_refs {
        let tracker = key_tracker.clone();
        tasks
            .spawn(async move { kms::key_evidence(&collector, &region, &key_ref, &tracker).await });
    }
    for (bucket, (region, collector)) in buckets.iter() {
        let c = collector.clone();
        let (bucket, region) = (bucket.clone(), region.clone());
        tasks.spawn(async move { s3::bucket_evidence(&c, &bucket, &region).await });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            tracing::error!(error = %e, "a collection task failed");
        }
    }
    let tracker = key_tracker.lock().unwrap_or_else(|p| p.into_inner());
    let unresolved = key_ref_count.saturating_sub(tracker.resolved_refs);
    DependentStats {
        keys: (tracker.arns.len() + unresolved) as u64,
        buckets: buckets.len() as u64,
    }
}
