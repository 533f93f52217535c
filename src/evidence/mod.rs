//! The evidence pack on disk: raw response bodies, the hash-chained index and the pack header.
//!
//! The format is specified in `docs/pack-format.md`; this module is its only writer and reader.

mod chain;
pub mod history;
mod ops;
mod reader;
mod writer;

pub use chain::{genesis_hash, line_hash, sha256_hex};
pub use ops::Op;
pub use reader::{open_regular, read_capped, ChainProblem, Pack};
pub use writer::{install_exceptions, ChainState, PackWriter, RecordSink};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Format identifier written into every pack header.
pub const PACK_FORMAT: &str = "auditpack-pack/1";
/// The pack header, written last.
pub const HEADER_FILE: &str = "pack.json";
/// One JSON object per line, one line per recorded response (or failed attempt).
pub const INDEX_FILE: &str = "index.jsonl";
/// Directory of raw response bodies.
pub const RECORDS_DIR: &str = "records";
/// Accepted exceptions, copied into the pack by `assess --exceptions` or `report --exceptions`
/// (optional; README, "Accepted exceptions").
pub const EXCEPTIONS_FILE: &str = "exceptions.toml";
/// Largest `exceptions.toml` read (1 MiB: thousands of exceptions).
pub const MAX_EXCEPTIONS_BYTES: u64 = 1 << 20;
/// Largest API answer a pack holds (16 MiB). The largest real answers auditpack asks for are far
/// smaller (a key policy is at most 32 KiB, a ListBuckets page of 10,000 buckets about 2 MiB); a
/// larger answer is not read during collection, and a record claiming more is refused on reading.
pub const MAX_RECORD_BYTES: u64 = 16 << 20;
/// Largest `pack.json` a reader loads (64 MiB: about 100,000 accounts' scope entries).
pub const MAX_HEADER_BYTES: u64 = 64 << 20;
/// Most accounts a pack's scope may hold: above the largest organisations AWS documents.
pub const MAX_ACCOUNTS: usize = 100_000;

/// Errors reading or writing a pack.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("{path}: {op} failed: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: refusing to write the pack here: {reason}")]
    OutputExists { path: PathBuf, reason: String },
    #[error("{path}: not a readable auditpack pack: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error(
        "{dir}: could not make the pack's records durable: syncing the filesystem that holds it \
         failed ({source}), so a write to that disk failed during the run. The partial pack was \
         removed; check the disk (free space, errors in the system log) and collect again"
    )]
    NotDurable {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("pack writer stopped unexpectedly; the partial pack in {path} was not finished")]
    WriterGone { path: PathBuf },
}

impl EvidenceError {
    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            op,
            source,
        }
    }
}

/// What the collector knows about one API call before it is sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CallSpec {
    /// The account the call was made in, when known before the call.
    pub account: Option<String>,
    /// Service name as in the SDK crate: `cloudtrail`, `kms`, `s3`, `sts`, `account`,
    /// `organizations` (`ec2` in packs before 2026-11-30).
    pub service: String,
    /// Operation name as in the API reference: `DescribeTrails`, `GetBucketEncryption`, ...
    pub operation: String,
    pub region: String,
    /// What the call is about: a trail ARN, key id or ARN, bucket name, or the region for list calls.
    pub resource: String,
    /// The request parameters, as the collector set them.
    pub params: serde_json::Value,
}

/// One attempt's response (or failure), as captured by the recorder, before the writer numbers and hashes it.
#[derive(Debug, Clone)]
pub struct Capture {
    pub call: u64,
    pub attempt: u32,
    pub spec: std::sync::Arc<CallSpec>,
    pub http_status: Option<u16>,
    pub request_id: Option<String>,
    pub server_date: Option<String>,
    pub received_at: String,
    pub content_type: Option<String>,
    /// `None` when no HTTP response arrived (timeout, connection failure).
    pub body: Option<Vec<u8>>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Why the attempt produced no usable response, when the SDK could not parse it or none arrived.
    pub sdk_error: Option<String>,
    /// Elements whose values were replaced before the body was stored (credentials), if any.
    pub redacted: Option<Vec<String>>,
}

/// One line of `index.jsonl`. Field order is the serialisation order and part of the format.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IndexEntry {
    pub seq: u64,
    pub prev: String,
    pub call: u64,
    pub attempt: u32,
    pub account: Option<String>,
    pub service: String,
    pub operation: String,
    pub region: String,
    pub resource: String,
    pub params: serde_json::Value,
    pub http_status: Option<u16>,
    pub request_id: Option<String>,
    pub server_date: Option<String>,
    pub received_at: String,
    pub content_type: Option<String>,
    pub body: Option<String>,
    pub body_size: u64,
    pub body_sha256: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub sdk_error: Option<String>,
    /// Elements whose values were replaced with `REDACTED` before the body was stored: the temporary
    /// credentials in an `sts:AssumeRole` answer. The stored body is then not the byte-for-byte answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted: Option<Vec<String>>,
}

/// A call whose final attempt gave no usable evidence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Gap {
    pub account: Option<String>,
    pub service: String,
    pub operation: String,
    pub region: String,
    pub resource: String,
    /// The AWS error code, or `UnparseableResponse` / `NoResponse` when there was none.
    pub error_code: String,
    pub message: String,
    /// The `call` number of the index entries that recorded it.
    pub call: u64,
}

/// Tool identification in the header.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

/// The rule the pack was collected for, with its identifiers and references.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RuleRef {
    pub id: String,
    pub title: String,
    pub cis_aws: Vec<String>,
    pub cce: String,
    pub cis_controls_v7: String,
    pub references: Vec<String>,
}

/// Counts shown in the closing summary and the report cover.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    pub trails: u64,
    pub keys: u64,
    pub buckets: u64,
    pub calls: u64,
    pub records: u64,
    pub gaps: u64,
}

/// `pack.json`: who collected what, when, and the head of the record chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PackHeader {
    pub format: String,
    pub pack_id: String,
    pub tool: ToolInfo,
    pub account_id: String,
    pub caller_arn: String,
    pub caller_user_id: String,
    pub regions: Vec<String>,
    /// `--regions` or `account:ListRegions` (see docs/pack-format.md).
    pub regions_source: String,
    pub endpoint_url: Option<String>,
    pub profile: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub rule: RuleRef,
    pub counts: Counts,
    pub chain_genesis: String,
    pub chain_head: String,
    pub complete: bool,
    pub gaps: Vec<Gap>,
    /// Every account in scope and how it was reached. Packs from a single-account run list one.
    #[serde(default)]
    pub accounts: Vec<AccountRecord>,
    /// Calls refused by an explicit deny (an SCP) whose evidence the pack has anyway: another region's
    /// answers list every trail of the account, or the trail was read in a region it is shadowed in.
    /// Not gaps; listed so the assessor sees what was blocked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_by_policy: Vec<Gap>,
    /// Keys and buckets trails depend on that belong to accounts outside the scope: their own kind of
    /// gap (the pack is not complete while there are any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outside_scope: Vec<OutsideScope>,
    /// The period whose changes were read from CloudTrail Event history; absent when none were
    /// (`--no-history`, or packs from before it was read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<history::HistoryWindow>,
}

/// One account of the pack's scope.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountRecord {
    pub account_id: String,
    /// The name AWS Organizations or the accounts file gives it.
    pub name: Option<String>,
    /// `caller`, `--accounts`, `--accounts-file` or `organizations:ListAccounts`.
    pub source: String,
    /// The role assumed to enter the account; `None` for the caller's own account.
    pub role_arn: Option<String>,
    /// Whether evidence could be collected in the account (false: its role could not be assumed, or
    /// its regions could not be listed; the gaps say why).
    pub collected: bool,
    /// The regions scanned in this account.
    pub regions: Vec<String>,
}

/// Whether an error answer is evidence that a thing is absent or not configured, rather than a gap in
/// the evidence. `account` is the account the call was made in.
pub fn is_absence(
    service: &str,
    operation: &str,
    resource: &str,
    account: Option<&str>,
    code: &str,
) -> bool {
    match (Op::find(service, operation), code) {
        (Some(Op::GetBucketEncryption), "ServerSideEncryptionConfigurationNotFoundError")
        | (Some(Op::GetPublicAccessBlock), "NoSuchPublicAccessBlockConfiguration")
        | (Some(Op::GetObjectLockConfiguration), "ObjectLockConfigurationNotFoundError")
        | (Some(Op::GetBucketPolicyStatus), "NoSuchBucketPolicy") => true,
        // Bucket names are global in a partition: S3 saying there is no such bucket means there is
        // none, whoever asks (HeadBucket, having no body, says it as 404 NotFound).
        (_, "NoSuchBucket") => service == "s3",
        (Some(Op::HeadBucket), "NotFound") => true,
        // KMS saying a key does not exist is evidence only from the account the key's ARN names:
        // elsewhere it may mean the key is simply not visible.
        (Some(Op::DescribeKey), "NotFoundException") => {
            account.is_some() && account == resource.split(':').nth(4)
        }
        _ => false,
    }
}

/// Whether a failure is a refusal by policy rather than a missing permission: AWS words an explicit
/// deny (an SCP, such as Control Tower's region deny, a permissions boundary, a resource policy) as
/// "... with an explicit deny in a service control policy" and the like.
pub fn blocked_by_policy(code: &str, message: &str) -> bool {
    matches!(
        code,
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation"
    ) && message.contains("explicit deny")
}

/// A key or bucket a trail depends on whose owner is outside the run's scope: nothing was asked about
/// it (the calls that matter are only allowed to its owner), so its checks cannot be decided.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct OutsideScope {
    /// [`OutsideScope::KMS_KEY`] or [`OutsideScope::S3_BUCKET`].
    pub kind: String,
    /// The key reference or bucket name, as the trail gives it.
    pub resource: String,
    /// The owning account, when known (a key's ARN names it; a bucket's owner is not published).
    pub owner: Option<String>,
    pub region: Option<String>,
}

impl OutsideScope {
    pub const KMS_KEY: &'static str = "kms-key";
    pub const S3_BUCKET: &'static str = "s3-bucket";

    /// What to do, naming the flag that would bring the owner into scope.
    pub fn advice(&self) -> String {
        match &self.owner {
            Some(owner) => format!(
                "collect account {owner} too (add it to --accounts or --accounts-file, or use --org) so \
                 its {} is asked about with its own credentials",
                self.kind_words()
            ),
            None => format!(
                "the {} belongs to an account outside this run (S3 does not say which): add the account \
                 that owns it with --accounts or --accounts-file, or use --org",
                self.kind_words()
            ),
        }
    }

    fn kind_words(&self) -> &'static str {
        match self.kind.as_str() {
            Self::KMS_KEY => "KMS key",
            _ => "S3 bucket",
        }
    }
}

/// Gaps of one kind: one operation failing with one error code.
#[derive(Debug)]
pub struct GapKind<'a> {
    pub service: &'a str,
    pub operation: &'a str,
    pub error_code: &'a str,
    /// In the order the pack lists them.
    pub gaps: Vec<&'a Gap>,
}

impl GapKind<'_> {
    /// The accounts the gaps are in (a single-account pack's gaps name none: one).
    pub fn accounts(&self) -> usize {
        let accounts: std::collections::BTreeSet<_> = self
            .gaps
            .iter()
            .filter_map(|g| g.account.as_deref())
            .collect();
        accounts.len().max(1)
    }

    /// The regions the gaps are in.
    pub fn regions(&self) -> usize {
        let regions: std::collections::BTreeSet<_> =
            self.gaps.iter().map(|g| g.region.as_str()).collect();
        regions.len()
    }
}

/// `gaps` by kind, the commonest first (then by operation and error code).
pub fn gap_kinds(gaps: &[Gap]) -> Vec<GapKind<'_>> {
    let mut kinds: std::collections::BTreeMap<(&str, &str, &str), Vec<&Gap>> =
        std::collections::BTreeMap::new();
    for gap in gaps {
        kinds
            .entry((&gap.service, &gap.operation, &gap.error_code))
            .or_default()
            .push(gap);
    }
    let mut kinds: Vec<GapKind<'_>> = (kinds.into_iter())
        .map(|((service, operation, error_code), gaps)| GapKind {
            service,
            operation,
            error_code,
            gaps,
        })
        .collect();
    kinds.sort_by_key(|k| std::cmp::Reverse(k.gaps.len()));
    kinds
}

/// What to do about a gap, by the kind of failure its error code shows. `endpoint_url` is the
/// endpoint the pack was collected from (`None`: AWS itself), so the advice blames only what was
/// there.
pub fn gap_advice(gap: &Gap, endpoint_url: Option<&str>) -> String {
    const THROTTLED: &[&str] = &[
        "Throttling",
        "ThrottlingException",
        "SlowDown",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
    ];
    const DENIED: &[&str] = &[
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "AWSOrganizationsNotInUseException",
    ];
    let code = gap.error_code.as_str();
    if Op::AssumeRole.is(&gap.service, &gap.operation) {
        return format!(
            "the account could not be entered: make sure {} exists in it and trusts the caller (and the \
             --external-id, if its trust policy requires one), then collect again",
            gap.resource
        );
    }
    if blocked_by_policy(code, &gap.message) && gap.message.contains("resource-based policy") {
        return format!(
            "the policy of {} itself denies {}:{} to the identity collecting: ask the owner of {} \
             to let the audit role read it, then collect again",
            gap.resource, gap.service, gap.operation, gap.resource
        );
    }
    if blocked_by_policy(code, &gap.message) {
        return format!(
            "blocked by policy in {}: an explicit deny (such as an SCP denying the region) refused \
             {}:{}; if the region is denied on purpose, every trail homed there must also be listed by \
             another region (ListTrails) for the account to be covered; otherwise ask whoever manages \
             the organisation's policies to exempt read-only {} calls",
            gap.region, gap.service, gap.operation, gap.service
        );
    }
    if THROTTLED.contains(&code) {
        "still throttled after every retry: collect again with a lower --concurrency, or with \
         --retry-mode adaptive"
            .to_string()
    } else if DENIED.contains(&code) {
        format!(
            "allow {}:{} to the identity collecting in this account, then collect again",
            gap.service, gap.operation
        )
    } else if code == "NoResponse"
        || code.starts_with("HttpStatus5")
        || code.starts_with("Internal")
        || code == "ServiceUnavailable"
    {
        format!(
            "no usable answer after every retry: check network access to the {} endpoint in {} (proxy, \
             firewall, VPC endpoint) and collect again, or leave the region out with --regions and tell \
             the assessor why",
            gap.service, gap.region
        )
    } else if code == "IncompleteAnswer" {
        "the answer said success but lacked what AWS always sends (an empty or cut-off body): check \
         for a proxy between you and AWS, then collect again"
            .to_string()
    } else if code == "AnswerTooLarge" {
        "the answer was larger than any AWS answer to this call can be, so it was not read: check the \
         endpoint (--endpoint-url, AWS_ENDPOINT_URL) and any proxy, then collect again"
            .to_string()
    } else if code == "UnparseableResponse" {
        match endpoint_url {
            Some(url) => format!(
                "the answer is kept in the pack but is not the shape AWS's API reference gives for \
                 {}:{}: the endpoint {url} (an emulator or proxy) answered in the wrong shape; collect \
                 from AWS, or fix the endpoint",
                gap.service, gap.operation
            ),
            None => format!(
                "the answer is kept in the pack but this auditpack could not read it as {}:{}: check for \
                 a proxy between you and AWS; if there is none, report it with the record from the pack",
                gap.service, gap.operation
            ),
        }
    } else if code.starts_with("NoSuch") || code.ends_with("NotFoundException") {
        "a trail names a resource that does not exist: fix the trail's configuration".to_string()
    } else {
        "see the message; the failed answer is in the pack".to_string()
    }
}

/// The region a trail's key reference is resolved in: the ARN's region, or the trail's home region for
/// key ids and aliases. `kms:DescribeKey` records use it as their region.
pub fn key_region(key_ref: &str, home_region: &str) -> String {
    if key_ref.starts_with("arn:") {
        if let Some(region) = key_ref.split(':').nth(3).filter(|r| !r.is_empty()) {
            return region.to_string();
        }
    }
    home_region.to_string()
}

/// File extension for a body, from its first byte that is not ASCII whitespace (space, tab, LF,
/// form feed, CR), so the records directory is easy to browse (services do not always send an
/// accurate content type): `json` for `{` or `[`, `xml` for `<`, `bin` otherwise.
pub(crate) fn body_extension(body: &[u8]) -> &'static str {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | Some(b'[') => "json",
        Some(b'<') => "xml",
        _ => "bin",
    }
}

/// The only name the body of index line `seq` may have: `records/`, the sequence number zero-padded
/// to at least six digits, and [`body_extension`].
pub(crate) fn body_file_name(seq: u64, body: &[u8]) -> String {
    format!("{RECORDS_DIR}/{seq:06}.{}", body_extension(body))
}

/// Current UTC time in the pack's timestamp format (RFC 3339, nanoseconds, `Z`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn capture(call: u64, attempt: u32, body: Option<&[u8]>) -> Capture {
        Capture {
            call,
            attempt,
            spec: Arc::new(CallSpec {
                account: Some("111122223333".into()),
                service: "s3".into(),
                operation: "GetBucketEncryption".into(),
                region: "us-east-1".into(),
                resource: format!("bucket-{call}"),
                params: serde_json::json!({"Bucket": format!("bucket-{call}")}),
            }),
            http_status: body.map(|_| 200),
            request_id: Some("req".into()),
            server_date: Some("Sat, 28 Nov 2026 11:00:00 GMT".into()),
            received_at: now_rfc3339(),
            content_type: Some("application/xml".into()),
            body: body.map(<[u8]>::to_vec),
            error_code: None,
            error_message: None,
            sdk_error: body.is_none().then(|| "timed out".to_string()),
            redacted: None,
        }
    }

    fn header_for(pack_id: &str, chain: &ChainState) -> PackHeader {
        PackHeader {
            format: PACK_FORMAT.into(),
            pack_id: pack_id.into(),
            tool: ToolInfo {
                name: "auditpack".into(),
                version: "test".into(),
            },
            account_id: "111122223333".into(),
            caller_arn: "arn:aws:iam::111122223333:user/t".into(),
            caller_user_id: "AIDA".into(),
            regions: vec!["us-east-1".into()],
            regions_source: "--regions".into(),
            endpoint_url: None,
            profile: None,
            started_at: now_rfc3339(),
            finished_at: now_rfc3339(),
            rule: RuleRef {
                id: "r".into(),
                title: "t".into(),
                cis_aws: vec![],
                cce: "c".into(),
                cis_controls_v7: "6".into(),
                references: vec![],
            },
            counts: Counts {
                records: chain.records,
                ..Counts::default()
            },
            chain_genesis: chain.genesis.clone(),
            chain_head: chain.head.clone(),
            complete: true,
            gaps: vec![],
            accounts: vec![],
            blocked_by_policy: vec![],
            outside_scope: vec![],
            history: None,
        }
    }

    /// Writes a three-record pack (two attempts of call 1, one failed attempt of call 2, one of call 3).
    fn write_pack(dir: &std::path::Path) -> std::path::PathBuf {
        let out = dir.join("pack");
        let writer = PackWriter::create(&out, "pack-1").unwrap();
        let sink = writer.sink();
        sink.record(capture(1, 1, Some(b"<Error><Code>SlowDown</Code></Error>")));
        sink.record(capture(1, 2, Some(b"<ServerSideEncryptionConfiguration/>")));
        sink.record(capture(2, 1, None));
        sink.record(capture(3, 1, Some(b"{\"a\":1}")));
        writer
            .finish(|chain| header_for("pack-1", chain))
            .unwrap()
            .0
    }

    #[test]
    fn absence_is_told_from_gaps_by_who_answered() {
        let key = "arn:aws:kms:eu-west-1:111122223333:key/k";
        assert!(is_absence(
            "kms",
            "DescribeKey",
            key,
            Some("111122223333"),
            "NotFoundException"
        ));
        assert!(
            !is_absence(
                "kms",
                "DescribeKey",
                key,
                Some("444455556666"),
                "NotFoundException"
            ),
            "another account's NotFound may only mean it cannot see the key"
        );
        assert!(is_absence(
            "s3",
            "GetBucketLocation",
            "b",
            Some("444455556666"),
            "NoSuchBucket"
        ));
        assert!(is_absence("s3", "HeadBucket", "b", None, "NotFound"));
        assert!(!is_absence(
            "s3",
            "GetBucketEncryption",
            "b",
            None,
            "AccessDenied"
        ));
        let scp = "User: arn:aws:sts::1:assumed-role/R/s is not authorized to perform: \
                   cloudtrail:DescribeTrails with an explicit deny in a service control policy";
        assert!(blocked_by_policy("AccessDeniedException", scp));
        assert!(!blocked_by_policy(
            "AccessDeniedException",
            "User: x is not authorized to perform: cloudtrail:DescribeTrails"
        ));
    }

    #[test]
    fn advice_says_whose_policy_denied_the_call() {
        let gap = |message: &str| Gap {
            account: Some("1".into()),
            service: "kms".into(),
            operation: "DescribeKey".into(),
            region: "us-east-1".into(),
            resource: "arn:aws:kms:us-east-1:1:key/k".into(),
            error_code: "AccessDeniedException".into(),
            message: message.into(),
            call: 7,
        };
        let key_policy = gap_advice(
            &gap(
                "User: u is not authorized to perform: kms:DescribeKey on resource: k with an \
             explicit deny in a resource-based policy",
            ),
            None,
        );
        assert!(key_policy.contains("the policy of arn:aws:kms:us-east-1:1:key/k itself denies"));
        assert!(!key_policy.contains("SCP"), "{key_policy}");
        let scp = gap_advice(
            &gap(
                "User: u is not authorized to perform: kms:DescribeKey with an explicit deny in a \
             service control policy",
            ),
            None,
        );
        assert!(scp.contains("SCP"), "{scp}");
        // An unreadable answer blames the emulator only when there was one.
        let mut unread = gap("x");
        unread.error_code = "UnparseableResponse".into();
        assert!(gap_advice(&unread, Some("http://127.0.0.1:5000")).contains("127.0.0.1:5000"));
        let from_aws = gap_advice(&unread, None);
        assert!(!from_aws.contains("emulator"), "{from_aws}");
    }

    #[test]
    fn key_region_comes_from_the_arn_or_the_trail() {
        assert_eq!(
            key_region("arn:aws:kms:eu-west-1:111122223333:key/abc", "us-east-1"),
            "eu-west-1"
        );
        assert_eq!(key_region("alias/logs", "us-east-2"), "us-east-2");
        assert_eq!(key_region("1234abcd-12ab", "ap-south-1"), "ap-south-1");
    }

    #[test]
    fn a_written_pack_reads_back_with_an_intact_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_pack(dir.path());
        let pack = Pack::open(&path).unwrap();
        assert_eq!(pack.len(), 4);
        assert!(pack.chain_problems.is_empty(), "{:?}", pack.chain_problems);
        assert!(pack.body_problems().is_empty());
        let entries: Vec<IndexEntry> = pack.entries().map(Result::unwrap).collect();
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[0].prev, genesis_hash("pack-1"));
        assert_eq!(entries[2].body, None, "a failed attempt has no body");
        assert_eq!(entries[3].body.as_deref(), Some("records/000004.json"));
        for (i, entry) in entries.iter().enumerate() {
            assert_eq!(&pack.entry(i).unwrap(), entry, "record {i} read alone");
        }
        let finals: Vec<(u64, u32)> = pack
            .final_attempts()
            .into_iter()
            .map(|i| (entries[i].call, entries[i].attempt))
            .collect();
        assert_eq!(finals, vec![(1, 2), (2, 1), (3, 1)]);
        // Nothing of the partial directory is left beside the pack.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    fn rewrite_index(path: &std::path::Path, edit: impl FnOnce(&mut Vec<String>)) {
        let index = path.join(INDEX_FILE);
        let mut lines: Vec<String> = std::fs::read_to_string(&index)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        edit(&mut lines);
        std::fs::write(&index, lines.join("\n") + "\n").unwrap();
    }

    /// Edits index entries, then re-chains the index and the header as a careful forger would, so only
    /// the record rules can catch the edit.
    fn edit_and_rechain(path: &std::path::Path, edit: impl Fn(&mut IndexEntry)) {
        let header_path = path.join(HEADER_FILE);
        let mut header: PackHeader =
            serde_json::from_slice(&std::fs::read(&header_path).unwrap()).unwrap();
        let mut prev = genesis_hash(&header.pack_id);
        let mut out = String::new();
        for line in std::fs::read_to_string(path.join(INDEX_FILE))
            .unwrap()
            .lines()
        {
            let mut entry: IndexEntry = serde_json::from_str(line).unwrap();
            edit(&mut entry);
            entry.prev = prev.clone();
            let text = serde_json::to_string(&entry).unwrap();
            prev = line_hash(text.as_bytes());
            out.push_str(&text);
            out.push('\n');
        }
        std::fs::write(path.join(INDEX_FILE), out).unwrap();
        header.chain_head = prev;
        std::fs::write(&header_path, serde_json::to_vec_pretty(&header).unwrap()).unwrap();
    }

    #[test]
    fn records_must_have_their_one_name_and_records_holds_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_pack(dir.path());
        assert!(Pack::open(&path).unwrap().record_problems().is_empty());
        // Record 4's body renamed (and the index edited to match): not the name its seq gives.
        std::fs::rename(
            path.join("records/000004.json"),
            path.join("records/4.json"),
        )
        .unwrap();
        edit_and_rechain(&path, |e| {
            if e.seq == 4 {
                e.body = Some("records/4.json".into());
            }
        });
        let pack = Pack::open(&path).unwrap();
        assert!(pack.chain_problems.is_empty(), "{:?}", pack.chain_problems);
        let problems = pack.record_problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("must be named records/000004.json"),
            "{problems:?}"
        );

        // Two lines sharing one body file: the second is not its own name.
        let dir = tempfile::tempdir().unwrap();
        let path = write_pack(dir.path());
        let shared = std::fs::read(path.join("records/000001.xml")).unwrap();
        std::fs::remove_file(path.join("records/000002.xml")).unwrap();
        edit_and_rechain(&path, |e| {
            if e.seq == 2 {
                e.body = Some("records/000001.xml".into());
                e.body_size = shared.len() as u64;
                e.body_sha256 = Some(sha256_hex(&shared));
            }
        });
        let problems = Pack::open(&path).unwrap().record_problems();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("must be named records/000002.xml")),
            "{problems:?}"
        );

        // An orphan file and a link in records/.
        let dir = tempfile::tempdir().unwrap();
        let path = write_pack(dir.path());
        std::fs::write(path.join("records/000009.json"), b"{}").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", path.join("records/000010.json")).unwrap();
        let problems = Pack::open(&path).unwrap().record_problems();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("records/000009.json is not the body")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("records/000010.json is not a regular file")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_body_that_is_a_link_or_larger_than_the_index_says_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_pack(dir.path());
        let body = path.join("records/000004.json");
        std::fs::remove_file(&body).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", &body).unwrap();
        let problems = Pack::open(&path).unwrap().body_problems();
        assert!(problems[0].contains("not a regular file"), "{problems:?}");
        std::fs::remove_file(&body).unwrap();
        std::fs::write(&body, vec![b'x'; 1 << 20]).unwrap();
        let problems = Pack::open(&path).unwrap().body_problems();
        assert!(
            problems[0].contains("larger than the 7 bytes the index gives it"),
            "{problems:?}"
        );
    }

    #[test]
    fn swapped_removed_or_edited_records_break_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_pack(dir.path());
        rewrite_index(&path, |lines| lines.swap(1, 2));
        assert!(
            !Pack::open(&path).unwrap().chain_problems.is_empty(),
            "swap"
        );

        let dir = tempfile::tempdir().unwrap();
        let path = write_pack(dir.path());
        rewrite_index(&path, |lines| {
            lines.pop();
        });
        let problems = Pack::open(&path).unwrap().chain_problems;
        assert!(
            problems.iter().any(|p| p.message.contains("header says 4")),
            "{problems:?}"
        );

        let dir = tempfile::tempdir().unwrap();
        let path = write_pack(dir.path());
        rewrite_index(&path, |lines| {
            lines[0] = lines[0].replace("us-east-1", "us-east-2")
        });
        assert!(
            !Pack::open(&path).unwrap().chain_problems.is_empty(),
            "edit"
        );
    }

    #[test]
    fn an_index_changed_after_opening_is_caught_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_pack(dir.path());
        let pack = Pack::open(&path).unwrap();
        rewrite_index(&path, |lines| lines.swap(1, 2));
        let err = pack.entry(1).unwrap_err().to_string();
        assert!(
            err.contains("index.jsonl") && err.contains("changed"),
            "{err}"
        );
        assert!(pack.entries().any(|e| e.is_err()));
    }

    #[test]
    fn a_changed_body_is_caught_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_pack(dir.path());
        std::fs::write(path.join("records/000004.json"), b"{\"a\":2}").unwrap();
        let pack = Pack::open(&path).unwrap();
        let problems = pack.body_problems();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("000004.json"), "{problems:?}");
    }

    #[test]
    fn a_pack_is_never_written_over_existing_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("pack");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("keep"), b"evidence").unwrap();
        assert!(matches!(
            PackWriter::create(&out, "p"),
            Err(EvidenceError::OutputExists { .. })
        ));
        assert_eq!(std::fs::read(out.join("keep")).unwrap(), b"evidence");
    }

    #[test]
    fn an_abandoned_pack_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let writer = PackWriter::create(&dir.path().join("pack"), "p").unwrap();
        writer.sink().record(capture(1, 1, Some(b"x")));
        writer.abandon();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
