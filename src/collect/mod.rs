//! Collection: the only module that talks to AWS. Finds every trail, key and bucket the rule depends on
//! and records every response into an evidence pack.

mod cloudtrail;
mod dispatch;
mod history;
mod kms;
mod recorder;
mod regions;
mod run;
mod s3;
mod scope;

pub use recorder::Recorder;

use crate::aws::load_sdk_config_with;
use crate::config::{catalogue, AccountId, AccountScope, AccountTarget, CollectSettings};
use crate::evidence::{
    now_rfc3339, AccountRecord, Counts, EvidenceError, Op, PackHeader, PackWriter, RuleRef,
    ToolInfo, PACK_FORMAT,
};
use aws_config::SdkConfig;
use dispatch::{DependentStats, Dispatch};
use run::{lock, Bound, Call, Collector, Run};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Gap code for a response the SDK could not parse; the body is still in the pack.
pub const UNPARSEABLE: &str = "UnparseableResponse";
/// The gap code of a success answer without a member AWS always sends ([`Collector::call_requiring`]).
pub const INCOMPLETE: &str = "IncompleteAnswer";
/// The gap code of an answer larger than a record can hold, which is not read ([`Recorder`]).
pub const TOO_LARGE: &str = "AnswerTooLarge";

/// Why a collection could not produce a pack.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    #[error(
        "could not identify the caller (sts:GetCallerIdentity in {region} failed: {message}). Nothing was \
         collected. {hint}"
    )]
    NoIdentity {
        region: String,
        message: String,
        /// What to do, by what went wrong ([`scope::identity_hint`]).
        hint: &'static str,
    },
    #[error(
        "could not list the account's enabled regions (account:ListRegions from {region} failed: {message}). \
         Nothing was collected. Allow account:ListRegions (or account:GetRegionOptStatus, which AWS's \
         SecurityAudit policy grants) or name the regions with --regions r1,r2"
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
    /// No usable answer; recorded as a gap, which this is.
    Gap(Failure),
}

/// Why a call gave no usable answer: its gap's error code and message, carried with the outcome so
/// that what is reported is this call's failure (and never another account's, under `--org`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl<T> Outcome<T> {
    /// What to say when the call gave no answer: its failure, or that the thing does not exist.
    pub(crate) fn failure_text(&self, absent: &str) -> String {
        match self {
            Outcome::Gap(failure) => failure.to_string(),
            Outcome::Absent => absent.to_string(),
            Outcome::Ok(_) => String::new(),
        }
    }
}

impl<T> Outcome<T> {
    pub(crate) fn ok(self) -> Option<T> {
        match self {
            Outcome::Ok(t) => Some(t),
            _ => None,
        }
    }

    pub(crate) fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok(_))
    }

    /// The same outcome with the answer replaced.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Outcome::Ok(t) => Outcome::Ok(f(t)),
            Outcome::Absent => Outcome::Absent,
            Outcome::Gap(failure) => Outcome::Gap(failure),
        }
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
        calls: Bound::new(settings.concurrency),
        lookups: Bound::new(settings.concurrency),
        sink: writer.sink(),
        next_call: AtomicU64::new(0),
        gaps: Mutex::new(Vec::new()),
        blocked: Mutex::new(Vec::new()),
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
    let (gaps, blocked_by_policy) = run.take_gaps();
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
        complete: gaps.is_empty() && stats.outside.is_empty(),
        gaps,
        accounts,
        blocked_by_policy,
        outside_scope: stats.outside,
        history: settings.history.as_ref().map(|h| h.window()),
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
    /// Its regions were probed one by one, ListRegions being refused.
    probed: bool,
    /// Why its regions could not be listed, if they could not.
    no_regions: Option<CollectError>,
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
            hint: scope::identity_hint(UNPARSEABLE, ""),
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
        settings.history.clone().map(history::History::new),
    );
    let entry = Entry {
        settings,
        run,
        caller: &caller,
        caller_id: &caller_id,
        source,
        session_name: format!("auditpack-{pack_id}"),
        dispatch: &dispatch,
    };
    let entered =
        futures::future::join_all(targets.iter().map(|target| enter_account(&entry, target))).await;
    let probed: Vec<String> = entered
        .iter()
        .filter(|e| e.probed)
        .map(|e| e.record.account_id.clone())
        .collect();
    if single && entered.iter().all(|e| !e.record.collected) {
        // A single-account run that could not even list its regions has nothing to offer.
        let failure = entered.into_iter().find_map(|e| e.no_regions);
        return Err(failure.unwrap_or_else(|| CollectError::NoRegions {
            region: caller.clients.home_region(),
            message: "the account could not be entered".into(),
        }));
    }
    let accounts: Vec<AccountRecord> = entered.into_iter().map(|e| e.record).collect();
    let (regions, regions_source) = match &settings.regions {
        Some(regions) => (
            regions.iter().map(|r| r.to_string()).collect(),
            "--regions".to_string(),
        ),
        None => {
            let all: BTreeSet<&String> = accounts.iter().flat_map(|a| &a.regions).collect();
            let source = if probed.is_empty() {
                "account:ListRegions".to_string()
            } else {
                format!(
                    "account:ListRegions; account:GetRegionOptStatus for each region auditpack \
                     knows in {} (ListRegions refused)",
                    probed.join(", ")
                )
            };
            (all.into_iter().cloned().collect(), source)
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

/// What entering each account of the scope shares: the run's settings, the caller, how accounts are
/// entered and where their trails go.
struct Entry<'a> {
    settings: &'a CollectSettings,
    run: &'a Arc<Run>,
    caller: &'a Arc<Collector>,
    caller_id: &'a AccountId,
    /// Where the scope came from, as `pack.json` names it.
    source: &'a str,
    session_name: String,
    dispatch: &'a Dispatch,
}

/// Enters one account (its own credentials for the caller's account, AssumeRole otherwise), lists its
/// regions unless they were given, and lists each region's trails, handing them to `dispatch` region
/// by region.
async fn enter_account(entry: &Entry<'_>, target: &AccountTarget) -> EnteredAccount {
    let Entry {
        settings,
        run,
        caller,
        caller_id,
        source,
        dispatch,
        ..
    } = *entry;
    let session_name = entry.session_name.as_str();
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
            return EnteredAccount {
                record,
                probed: false,
                no_regions: None,
            };
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
                return EnteredAccount {
                    record,
                    probed: false,
                    no_regions: None,
                };
            }
        }
    };
    dispatch.entered(&collector);
    let mut probed = false;
    let regions = match &settings.regions {
        Some(regions) => regions.iter().map(|r| r.to_string()).collect(),
        None => match regions::enabled_regions(&collector).await {
            Ok((regions, source)) => {
                probed = source == regions::RegionSource::Probed;
                regions
            }
            Err(e) => {
                tracing::warn!(account = %target.id, "{e}");
                return EnteredAccount {
                    record,
                    probed: false,
                    no_regions: Some(e),
                };
            }
        },
    };
    dispatch.regions_known(&collector, &regions);
    // ListTrails from the configured region first (it names every trail of the account, wherever
    // it is homed), then the account's other regions if a policy refuses that one.
    let home = collector.clients.home_region();
    let mut list_from: Vec<String> = regions.iter().filter(|r| **r == home).cloned().collect();
    list_from.extend(regions.iter().filter(|r| **r != home).cloned());
    let listings = futures::future::join_all(regions.iter().map(|region| async {
        let trails = cloudtrail::list_region(&collector, region).await;
        let arns: Vec<String> = trails.iter().map(|t| t.arn.clone()).collect();
        for trail in trails {
            dispatch.listed(&collector, trail);
        }
        arns
    }));
    let buckets = async {
        let buckets = s3::list_buckets(&collector).await;
        dispatch.buckets_listed(target.id.as_str(), buckets);
    };
    let (listings, all_trails, ()) = tokio::join!(
        listings,
        cloudtrail::list_trails(&collector, &list_from),
        buckets
    );
    let found: BTreeSet<String> = listings.into_iter().flatten().collect();
    if let Some(all_trails) = all_trails {
        settle_blocked_regions(run, &target.id, &regions, &found, &all_trails);
    }
    record.collected = true;
    record.regions = regions;
    EnteredAccount {
        record,
        probed,
        no_regions: None,
    }
}

/// A region whose DescribeTrails a policy refused is still covered when every trail ListTrails names
/// as homed there was listed by another region (as the shadow of a multi-region or organisation
/// trail): its refusal is then not a gap but a recorded block.
fn settle_blocked_regions(
    run: &Run,
    account: &AccountId,
    regions: &[String],
    found: &BTreeSet<String>,
    all_trails: &[(String, String)],
) {
    for region in regions {
        let covered = all_trails
            .iter()
            .filter(|(_, home)| home == region)
            .all(|(arn, _)| found.contains(arn));
        if covered {
            run.supersede(|g| {
                g.account.as_deref() == Some(account.as_str())
                    && Op::DescribeTrails.is(&g.service, &g.operation)
                    && &g.region == region
            });
        }
    }
}
