//! The machinery every call goes through: per-region SDK clients with an account's credentials, the
//! run's concurrency bounds (global and per region), recording, and classifying each outcome.

use super::{recorder, Failure, Outcome, Progress, Recorder, INCOMPLETE, TOO_LARGE, UNPARSEABLE};
use crate::aws::FALLBACK_REGION;
use crate::evidence::{CallSpec, Gap, Op, RecordSink};
use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::region::Region;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// Attempts of a LookupEvents call (see [`Clients::history`]).
pub(crate) const HISTORY_ATTEMPTS: u32 = 8;

/// Per-region SDK clients, built once and shared (they share one connection pool).
pub(super) struct Clients {
    pub(super) sdk: SdkConfig,
    pub(super) path_style: bool,
    pub(super) cloudtrail: Mutex<HashMap<String, aws_sdk_cloudtrail::Client>>,
    pub(super) kms: Mutex<HashMap<String, aws_sdk_kms::Client>>,
    s3: Mutex<HashMap<String, aws_sdk_s3::Client>>,
    /// CloudTrail clients that do not retry: LookupEvents retries through its pacer instead.
    history: Mutex<HashMap<String, aws_sdk_cloudtrail::Client>>,
}

fn cached<C: Clone>(map: &Mutex<HashMap<String, C>>, region: &str, build: impl FnOnce() -> C) -> C {
    let mut map = lock(map);
    map.entry(region.to_string()).or_insert_with(build).clone()
}

impl Clients {
    pub(super) fn new(sdk: SdkConfig, path_style: bool) -> Self {
        Self {
            sdk,
            path_style,
            cloudtrail: Default::default(),
            kms: Default::default(),
            s3: Default::default(),
            history: Default::default(),
        }
    }

    pub(super) fn cloudtrail(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        cached(&self.cloudtrail, region, || {
            let conf = aws_sdk_cloudtrail::config::Builder::from(&self.sdk)
                .region(Region::new(region.to_string()))
                .build();
            aws_sdk_cloudtrail::Client::from_conf(conf)
        })
    }

    /// A CloudTrail client for LookupEvents, whose quota is two requests a second per account and
    /// region: its retries wait 1.1 s, then 2.2, 4.4 and 8 s, without jitter (a jittered backoff
    /// can be shorter than the half second the quota allows between two requests), up to 8
    /// attempts, as a quota shared with every other caller there may throttle a well-paced client
    /// for a while.
    pub(super) fn history(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        cached(&self.history, region, || {
            let first = std::time::Duration::from_millis(1_100);
            let retries = aws_config::retry::RetryConfig::standard()
                .with_max_attempts(HISTORY_ATTEMPTS)
                .with_initial_backoff(first)
                .with_max_backoff(std::time::Duration::from_secs(8))
                .with_use_static_exponential_base(true);
            let conf = aws_sdk_cloudtrail::config::Builder::from(&self.sdk)
                .region(Region::new(region.to_string()))
                .retry_config(retries)
                .build();
            aws_sdk_cloudtrail::Client::from_conf(conf)
        })
    }

    pub(super) fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        cached(&self.kms, region, || {
            let conf = aws_sdk_kms::config::Builder::from(&self.sdk)
                .region(Region::new(region.to_string()))
                .build();
            aws_sdk_kms::Client::from_conf(conf)
        })
    }

    pub(super) fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        cached(&self.s3, region, || {
            let conf = aws_sdk_s3::config::Builder::from(&self.sdk)
                .region(Region::new(region.to_string()))
                .force_path_style(self.path_style)
                .build();
            aws_sdk_s3::Client::from_conf(conf)
        })
    }

    pub(super) fn home_region(&self) -> String {
        self.sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| FALLBACK_REGION.to_string())
    }
}

/// State shared by every account of one collection run: the concurrency bounds, the record sink and
/// the gaps.
pub(crate) struct Run {
    /// The bound on calls in flight (`--concurrency`).
    pub(super) calls: Bound,
    /// Event history lookups' own bound, of the same size: each account and region sends them at
    /// most one every [`super::history::LOOKUP_SPACING`], under a quota of their own, so they take no
    /// permits from the calls that find the trails, keys and buckets.
    pub(super) lookups: Bound,
    pub(super) sink: RecordSink,
    pub(super) next_call: AtomicU64,
    pub(super) gaps: Mutex<Vec<Gap>>,
    /// Gaps a policy block made whose evidence was had another way (see `PackHeader::blocked_by_policy`).
    pub(super) blocked: Mutex<Vec<Gap>>,
    pub(super) progress: Arc<dyn Progress>,
    pub(super) path_style: bool,
    /// From the caller's ARN (`arn:<partition>:sts::...`), for the ARNs of member roles.
    pub(super) partition: std::sync::OnceLock<String>,
}

/// A bound on calls in flight: at most `limit` over every account and region, and, per region (all
/// services and accounts together), at most three quarters of it, so one slow or throttled region
/// cannot hold every permit while the others wait.
pub(crate) struct Bound {
    limit: Semaphore,
    lanes: Mutex<HashMap<String, Arc<Semaphore>>>,
    lane_permits: usize,
}

/// The permits a call holds until it is answered: its region's, and the bound's.
type Permits<'a> = (
    tokio::sync::OwnedSemaphorePermit,
    tokio::sync::SemaphorePermit<'a>,
);

impl Bound {
    pub(crate) fn new(concurrency: usize) -> Self {
        Self {
            limit: Semaphore::new(concurrency),
            lanes: Mutex::new(HashMap::new()),
            lane_permits: lane_permits(concurrency),
        }
    }

    /// Waits for a permit in `region`, then for one of the bound's.
    async fn enter(&self, region: &str) -> Permits<'_> {
        let lane = lock(&self.lanes)
            .entry(region.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.lane_permits)))
            .clone();
        let lane = lane.acquire_owned().await.expect("never closed");
        (lane, self.limit.acquire().await.expect("never closed"))
    }
}

/// Share of the bound one region may hold: three quarters, so a single-region run keeps most of its
/// concurrency while a slow region always leaves a quarter to the others.
pub(super) fn lane_permits(concurrency: usize) -> usize {
    (concurrency - concurrency.div_ceil(4)).max(1)
}

/// Which bound a call waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bounded {
    Calls,
    Lookups,
    /// None: a call others wait on while they hold permits (see [`Call::unbounded`]).
    Not,
}

/// One API call, described once: the operation, the region it is sent to, what it is about, the
/// parameters auditpack set (as recorded), and what a success answer must hold.
pub(crate) struct Call<'a, O> {
    op: Op,
    region: &'a str,
    resource: &'a str,
    params: serde_json::Value,
    required: Option<Required<O>>,
    bound: Bounded,
}

impl<'a, O> Call<'a, O> {
    pub(crate) fn new(
        op: Op,
        region: &'a str,
        resource: &'a str,
        params: serde_json::Value,
    ) -> Self {
        Self {
            op,
            region,
            resource,
            params,
            required: None,
            bound: Bounded::Calls,
        }
    }

    /// For an answer that must hold `member` (AWS always sends it): a 2xx answer without it, such as
    /// the empty body of a broken proxy, is a gap (`IncompleteAnswer`), never an empty result. The
    /// SDK reads an empty JSON body as an answer with every member absent.
    pub(crate) fn requiring(mut self, member: &'static str, holds: fn(&O) -> bool) -> Self {
        self.required = Some((member, holds));
        self
    }

    /// Outside the concurrency bounds: for a call that other calls wait on while they hold their
    /// permits (renewing a member account's session), which bounded could wait for them.
    pub(crate) fn unbounded(mut self) -> Self {
        self.bound = Bounded::Not;
        self
    }

    /// Within Event history lookups' own bound ([`Run::lookups`]).
    pub(crate) fn lookup(mut self) -> Self {
        self.bound = Bounded::Lookups;
        self
    }
}

/// A member AWS always sends in a call's answer, and how to tell the answer holds it.
type Required<O> = (&'static str, fn(&O) -> bool);

/// A call once numbered: what its records and gap say about it.
struct Started {
    number: u64,
    spec: Arc<CallSpec>,
}

/// Spaces the calls of one quota (an account's LookupEvents in one region, 2 a second): each call
/// is sent at least `spacing` after the answer to the one before it. One task at a time uses a
/// pacer, so nothing else of its quota is in flight meanwhile.
pub(crate) struct Pacer {
    spacing: std::time::Duration,
    next: Mutex<tokio::time::Instant>,
}

impl Pacer {
    pub(crate) fn new(spacing: std::time::Duration) -> Self {
        Self {
            spacing,
            next: Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Waits until the next call may be sent.
    pub(crate) async fn ready(&self) {
        let at = *lock(&self.next);
        tokio::time::sleep_until(at).await;
    }

    /// A call was sent now: the next waits `spacing` from here.
    pub(crate) fn sent(&self) {
        *lock(&self.next) = tokio::time::Instant::now() + self.spacing;
    }
}

/// Collection in one account: its clients (with its credentials) over the shared run.
pub(crate) struct Collector {
    pub(super) run: Arc<Run>,
    pub(super) clients: Clients,
    pub(super) account: Option<String>,
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

    pub(super) fn new(run: Arc<Run>, sdk: SdkConfig, account: Option<String>) -> Self {
        let path_style = run.path_style;
        Self {
            run,
            clients: Clients::new(sdk, path_style),
            account,
        }
    }

    /// Runs one API call under the concurrency bounds, recording every attempt (answers that carry
    /// credentials are stored redacted, see [`Recorder`]; the SDK retries throttled and failed
    /// attempts), and classifies the result.
    pub(crate) async fn call<O, E, F, Fut>(&self, call: Call<'_, O>, send: F) -> Outcome<O>
    where
        F: FnOnce(Recorder) -> Fut,
        Fut: Future<Output = Result<O, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.call_numbered(call, send).await.1
    }

    /// [`Collector::call`], also returning the call's number (its records' `call`).
    pub(crate) async fn call_numbered<O, E, F, Fut>(
        &self,
        call: Call<'_, O>,
        send: F,
    ) -> (u64, Outcome<O>)
    where
        F: FnOnce(Recorder) -> Fut,
        Fut: Future<Output = Result<O, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let started = self.start(&call);
        let (result, empty) = self.attempt(&started, call.bound, send).await;
        self.run.progress.call_done();
        (started.number, self.settle(&started, &call, result, empty))
    }

    /// [`Collector::call_numbered`] for an operation with a quota per account and region
    /// (LookupEvents): the call waits for `pacer` before it is sent, and the next waits from its
    /// answer. The client `send` uses must space its own retries by more than the pacer does (see
    /// [`Clients::history`]), so that no two attempts are closer than the pacer's spacing.
    pub(crate) async fn call_paced<O, E, F, Fut>(
        &self,
        call: Call<'_, O>,
        pacer: &Pacer,
        send: F,
    ) -> (u64, Outcome<O>)
    where
        F: FnOnce(Recorder) -> Fut,
        Fut: Future<Output = Result<O, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        pacer.ready().await;
        let outcome = self.call_numbered(call, send).await;
        pacer.sent();
        outcome
    }

    /// Numbers a call and describes it for its records.
    fn start<O>(&self, call: &Call<'_, O>) -> Started {
        self.run.progress.call_queued();
        let number = self.run.next_call.fetch_add(1, Ordering::SeqCst) + 1;
        let spec = Arc::new(CallSpec {
            account: self.account.clone(),
            service: call.op.service().to_string(),
            operation: call.op.name().to_string(),
            region: call.region.to_string(),
            resource: call.resource.to_string(),
            params: call.params.clone(),
        });
        Started { number, spec }
    }

    /// Sends one call (with the SDK's own retries) within `bound`.
    /// Returns the result and whether the answer was a success with an empty body.
    async fn attempt<O, E, F, Fut>(
        &self,
        started: &Started,
        bound: Bounded,
        send: F,
    ) -> (Result<O, SdkError<E, HttpResponse>>, bool)
    where
        F: FnOnce(Recorder) -> Fut,
        Fut: Future<Output = Result<O, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let run = &self.run;
        // Held until the call is answered.
        let permits = match bound {
            Bounded::Calls => Some(run.calls.enter(&started.spec.region).await),
            Bounded::Lookups => Some(run.lookups.enter(&started.spec.region).await),
            Bounded::Not => None,
        };
        let recorder = Recorder::new::<E>(started.number, started.spec.clone(), run.sink.clone());
        let empty_answer = recorder.empty_answer();
        // Boxed, so that a call still waiting for its permits stays small: every account's listing
        // of every region waits at once (thousands in an organisation), and an SDK call's state is
        // kilobytes.
        let result = Box::pin(send(recorder)).await;
        drop(permits);
        (result, empty_answer.load(Ordering::SeqCst))
    }

    /// What a call's final result is as evidence: the answer, an absence, or a gap.
    fn settle<O, E>(
        &self,
        started: &Started,
        call: &Call<'_, O>,
        result: Result<O, SdkError<E, HttpResponse>>,
        empty: bool,
    ) -> Outcome<O>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let op = call.op;
        let incomplete = |message: String| {
            Outcome::Gap(self.push_gap(started.number, &started.spec, INCOMPLETE.into(), message))
        };
        match result {
            Ok(_) if empty => incomplete(format!(
                "{op} answered with success but an empty body, which holds no \
                 evidence (AWS answers this call with a document; an empty answer comes from a \
                 proxy or a cut-off connection). Run the collection again"
            )),
            Ok(output) => match call.required {
                Some((member, holds)) if !holds(&output) => incomplete(format!(
                    "{op} answered with success but without {member}, which AWS \
                     always sends (an empty or cut-off body, e.g. from a proxy); the answer is kept \
                     in the pack. Run the collection again"
                )),
                _ => Outcome::Ok(output),
            },
            Err(error) => self.classify_error(started.number, &started.spec, &error),
        }
    }

    /// Once the evidence a policy block refused was had another way (the same question answered in
    /// another region), the block is no longer a gap: it moves to the pack's `blocked_by_policy`.
    pub(crate) fn supersede_blocked(&self, op: Op, resource: &str) {
        self.run.supersede(|g| {
            g.account == self.account && op.is(&g.service, &g.operation) && g.resource == resource
        });
    }

    /// A probe's refusal that is itself the finding (a bucket outside the scope answers 403): not a
    /// gap, since the pack's `outside_scope` says what it means.
    pub(crate) fn withdraw_gap(&self, op: Op, resource: &str) {
        self.run.withdraw(|g| {
            g.account == self.account && op.is(&g.service, &g.operation) && g.resource == resource
        });
    }

    pub(super) fn classify_error<O, E>(
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
            (None, SdkError::ResponseError(_)) if recorder::too_large(error) => {
                TOO_LARGE.to_string()
            }
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
        if crate::evidence::is_absence(
            &spec.service,
            &spec.operation,
            &spec.resource,
            spec.account.as_deref(),
            &code,
        ) {
            return Outcome::Absent;
        }
        let message = match error.message() {
            Some(message) => message.to_string(),
            None if code == TOO_LARGE => format!(
                "the answer is larger than the {} MiB an evidence record holds, so it was not read \
                 and is not in the pack (no AWS answer to this call comes near that size)",
                crate::evidence::MAX_RECORD_BYTES >> 20
            ),
            None if code == UNPARSEABLE => {
                recorder::unreadable_answer(&spec.operation, &recorder::innermost_message(error))
            }
            None => recorder::innermost_message(error),
        };
        Outcome::Gap(self.push_gap(call, spec, code, message))
    }

    /// Records a gap of call `call`.
    pub(crate) fn push_gap(
        &self,
        call: u64,
        spec: &CallSpec,
        code: String,
        message: String,
    ) -> Failure {
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
            message: message.clone(),
            call,
        });
        Failure { code, message }
    }
}

impl Run {
    /// Adds `more` to the message of call `call`'s gap: what its failure leaves unknown.
    pub(crate) fn annotate_gap(&self, call: u64, more: &str) {
        for gap in lock(&self.gaps).iter_mut().filter(|g| g.call == call) {
            gap.message.push_str(more);
        }
    }

    /// Drops the gaps `which` selects: what they would say is recorded another way.
    pub(crate) fn withdraw(&self, which: impl Fn(&Gap) -> bool) {
        lock(&self.gaps).retain(|g| !which(g));
    }

    /// Moves the policy-block gaps `which` selects from the gaps to the blocked list.
    pub(crate) fn supersede(&self, which: impl Fn(&Gap) -> bool) {
        let mut gaps = lock(&self.gaps);
        let (moved, kept): (Vec<Gap>, Vec<Gap>) =
            std::mem::take(&mut *gaps).into_iter().partition(|g| {
                which(g) && crate::evidence::blocked_by_policy(&g.error_code, &g.message)
            });
        *gaps = kept;
        lock(&self.blocked).extend(moved);
    }

    /// The gaps and the superseded blocks, each sorted, taken out of the run.
    pub(crate) fn take_gaps(&self) -> (Vec<Gap>, Vec<Gap>) {
        let mut gaps = std::mem::take(&mut *lock(&self.gaps));
        let mut blocked = std::mem::take(&mut *lock(&self.blocked));
        gaps.sort();
        blocked.sort();
        (gaps, blocked)
    }
}

/// Locks a mutex; a panic elsewhere while it was held leaves the data usable here.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
