//! Collection: the only module that talks to AWS. Finds every trail, key and bucket the rule depends on
//! and records every response into an evidence pack.

mod cloudtrail;
mod kms;
mod recorder;
mod s3;
mod scope;

pub use recorder::Recorder;

use crate::config::{catalogue, AwsSettings, CollectSettings};
use crate::evidence::{
    now_rfc3339, CallSpec, Counts, EvidenceError, Gap, PackHeader, PackWriter, RecordSink, RuleRef,
    ToolInfo, PACK_FORMAT,
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
use std::sync::{Arc, Mutex, OnceLock};
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

/// Loads the SDK configuration: the standard credential chain, the profile and the endpoint override.
pub async fn load_sdk_config(aws: &AwsSettings) -> SdkConfig {
    let region = RegionProviderChain::default_provider().or_else(Region::new(FALLBACK_REGION));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
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

/// Shared state of one collection run: clients, the concurrency bound, the record sink and the gaps.
pub(crate) struct Collector {
    clients: Clients,
    limit: Semaphore,
    sink: RecordSink,
    next_call: AtomicU64,
    account: OnceLock<String>,
    gaps: Mutex<Vec<Gap>>,
    progress: Arc<dyn Progress>,
}

impl Collector {
    /// Runs one API call under the concurrency bound, recording every attempt, and classifies the result.
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
        self.progress.call_queued();
        let permit = self.limit.acquire().await;
        let call = self.next_call.fetch_add(1, Ordering::SeqCst) + 1;
        let spec = Arc::new(CallSpec {
            account: self.account.get().cloned(),
            service: service.to_string(),
            operation: operation.to_string(),
            region: region.to_string(),
            resource: resource.to_string(),
            params,
        });
        let recorder = Recorder::new::<E>(call, spec.clone(), self.sink.clone());
        let result = send(recorder).await;
        drop(permit);
        self.progress.call_done();
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
        self.gaps
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
    let sdk = load_sdk_config(&settings.aws).await;
    let pack_id = uuid::Uuid::now_v7().to_string();
    let writer = PackWriter::create(&settings.out, &pack_id)?;
    tracing::info!(pack_id = %pack_id, partial = %writer.temp_path().display(), "collection started");
    let started_at = now_rfc3339();
    let collector = Arc::new(Collector {
        clients: Clients {
            sdk,
            path_style: settings.aws.endpoint_url.is_some(),
            cloudtrail: Default::default(),
            kms: Default::default(),
            s3: Default::default(),
        },
        limit: Semaphore::new(settings.concurrency),
        sink: writer.sink(),
        next_call: AtomicU64::new(0),
        account: OnceLock::new(),
        gaps: Mutex::new(Vec::new()),
        progress: progress.clone(),
    });

    progress.stage("identifying the caller");
    let identity = match scope::caller_identity(&collector).await {
        Ok(identity) => identity,
        Err(e) => {
            writer.abandon();
            return Err(e);
        }
    };
    let _ = collector.account.set(identity.account.clone());

    progress.stage("listing regions");
    let (regions, regions_source) = match &settings.regions {
        Some(regions) => (
            regions.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            "--regions".to_string(),
        ),
        None => match scope::enabled_regions(&collector).await {
            Ok(regions) => (regions, "ec2:DescribeRegions".to_string()),
            Err(e) => {
                writer.abandon();
                return Err(e);
            }
        },
    };

    progress.stage("listing trails");
    let trails = cloudtrail::describe_all(&collector, &regions).await;

    progress.stage("collecting trail, key and bucket evidence");
    let stats = collect_dependents(&collector, &trails).await;

    let gaps = {
        let mut gaps =
            std::mem::take(&mut *collector.gaps.lock().unwrap_or_else(|p| p.into_inner()));
        gaps.sort();
        gaps
    };
    let calls = collector.next_call.load(Ordering::SeqCst);
    drop(collector);
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
            trails: trails.len() as u64,
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
    })?;
    Ok(CollectOutcome { path, header })
}

struct DependentStats {
    keys: u64,
    buckets: u64,
}

/// Fetches, concurrently, each trail's status and selectors, each distinct key and each distinct bucket.
async fn collect_dependents(
    collector: &Arc<Collector>,
    trails: &BTreeMap<String, cloudtrail::TrailSummary>,
) -> DependentStats {
    let mut key_refs: BTreeSet<(String, String)> = BTreeSet::new();
    let mut buckets: BTreeMap<String, String> = BTreeMap::new();
    for trail in trails.values() {
        if let Some(key) = &trail.kms_key_id {
            key_refs.insert((
                crate::evidence::key_region(key, &trail.home_region),
                key.clone(),
            ));
        }
        if let Some(bucket) = &trail.bucket {
            buckets
                .entry(bucket.clone())
                .or_insert_with(|| trail.home_region.clone());
        }
    }
    let key_tracker = Arc::new(Mutex::new(kms::KeyTracker::default()));
    let mut tasks = tokio::task::JoinSet::new();
    for trail in trails.values() {
        let (c, trail) = (collector.clone(), trail.clone());
        tasks.spawn(async move { cloudtrail::trail_details(&c, &trail).await });
    }
    let key_ref_count = key_refs.len();
    for (region, key_ref) in key_refs {
        let c = collector.clone();
        let tracker = key_tracker.clone();
        tasks.spawn(async move { kms::key_evidence(&c, &region, &key_ref, &tracker).await });
    }
    for (bucket, region) in buckets.iter() {
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
