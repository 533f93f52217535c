//! Scope and settings: the rule catalogue (from `templates/controls.toml`) and validated settings types.
//!
//! Everything the command line accepts is checked here once; later stages only see these types.

mod period;

pub use period::{resolve as resolve_period, rfc3339, HistorySettings, PeriodChoice};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The control mapping data file, compiled into the binary so reports never depend on the working directory.
const CONTROLS_TOML: &str = include_str!("../templates/controls.toml");

/// Upper bound for `--concurrency`: far above what any AWS account's API quotas reward.
pub const MAX_CONCURRENCY: usize = 256;
/// Default number of API calls in flight.
pub const DEFAULT_CONCURRENCY: usize = 32;

/// A validation failure of a command-line value: names the flag, the value and what is allowed.
#[derive(Debug, thiserror::Error)]
#[error("invalid value {value:?} for {flag}: {allowed}")]
pub struct InvalidValue {
    pub flag: &'static str,
    pub value: String,
    pub allowed: String,
}

impl InvalidValue {
    pub fn new(flag: &'static str, value: impl Into<String>, allowed: impl Into<String>) -> Self {
        Self {
            flag,
            value: value.into(),
            allowed: allowed.into(),
        }
    }
}

/// The rule and its control mapping, as written in `templates/controls.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Catalogue {
    pub rule: Rule,
    pub mapping: Mapping,
    pub checks: Vec<CheckInfo>,
}

/// What the reports say about one check: everything but the logic, which lives in `assess`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckInfo {
    pub id: String,
    pub title: String,
    /// Whether the check is the rule itself or supports it.
    pub role: CheckRole,
    /// What the check judges: a trail or an account.
    pub subject: Subject,
    /// The rule's own verdict for its subject (CIS AWS 3.7); the others support it.
    pub primary: bool,
    pub cis_aws: String,
    pub cis_v7: String,
    pub remediation: String,
}

/// Whether a check is the rule (its FAIL fails the rule) or supports it (advisory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckRole {
    Rule,
    Supporting,
}

impl CheckRole {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckRole::Rule => "rule",
            CheckRole::Supporting => "supporting",
        }
    }
}

/// What a check judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Subject {
    Trail,
    Account,
}

impl Catalogue {
    /// The catalogue entry for a check id.
    pub fn check(&self, id: &str) -> Option<&CheckInfo> {
        self.checks.iter().find(|c| c.id == id)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub description: String,
    pub rationale: String,
    pub impact: String,
    pub default_value: String,
    pub remediation: Vec<String>,
    pub references: Vec<Reference>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Reference {
    pub title: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mapping {
    pub cce: String,
    pub cis_aws: Vec<CisAwsControl>,
    pub cis_v7: IdTitleControl,
    pub cis_v7_sub: Vec<IdTitle>,
    pub cis_v8: Vec<IdTitle>,
    pub nist_800_53_r5: Vec<IdTitle>,
    pub equivalents: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CisAwsControl {
    pub benchmark: String,
    pub version: String,
    pub control: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IdTitleControl {
    pub control: String,
    pub title: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IdTitle {
    pub id: String,
    pub title: String,
}

impl Mapping {
    /// "CIS AWS 1.3.0 3.7", the primary control the reports cite.
    pub fn primary_cis_aws(&self) -> String {
        self.cis_aws
            .first()
            .map(|c| format!("CIS AWS {} {}", c.version, c.control))
            .unwrap_or_default()
    }

    /// "CIS v7 6", the CIS Controls v7 control the rule maps to.
    pub fn cis_v7_label(&self) -> String {
        format!("CIS v7 {}", self.cis_v7.control)
    }
}

/// The catalogue compiled into this binary.
pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        toml::from_str(CONTROLS_TOML)
            .expect("templates/controls.toml is valid (checked by a unit test)")
    })
}

/// An AWS region name such as `eu-west-1` or `us-gov-west-1`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RegionName(String);

impl RegionName {
    /// Checks the shape of a region name: lowercase words joined by `-`, ending in a number.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        let parts: Vec<&str> = value.split('-').collect();
        let shape_ok = parts.len() >= 3
            && parts.iter().all(|p| !p.is_empty())
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| p.chars().all(|c| c.is_ascii_lowercase()))
            && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
            && parts[0].len() == 2;
        if shape_ok {
            Ok(Self(value.to_string()))
        } else {
            Err(InvalidValue::new(
                "--regions",
                value,
                "a region name such as us-east-1 or eu-west-2 (lowercase, words joined by '-', ending in a number)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RegionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Validates `--regions r1,r2,...` (clap splits at the commas): each region valid, none repeated.
pub fn parse_region_list(parts: &[String]) -> Result<Vec<RegionName>, InvalidValue> {
    parse_unique_list("--regions", "region", parts, RegionName::parse)
}

/// Validates the parts of a comma-separated `flag` value of `what`s (clap's `value_delimiter`
/// splits them): each part valid, none repeated.
fn parse_unique_list<T: PartialEq + fmt::Display>(
    flag: &'static str,
    what: &str,
    parts: &[String],
    parse: impl Fn(&str) -> Result<T, InvalidValue>,
) -> Result<Vec<T>, InvalidValue> {
    let value = parts.join(",");
    let mut items: Vec<T> = Vec::new();
    for part in parts.iter().map(|p| p.trim()) {
        let item = parse(part)?;
        if items.contains(&item) {
            return Err(InvalidValue::new(
                flag,
                value,
                format!("each {what} once; {item} is repeated"),
            ));
        }
        items.push(item);
    }
    Ok(items)
}

/// Checks an `http://` or `https://` URL given for `flag`: a host, a valid port, no path tricks, and
/// never credentials (a `user:password@` in a URL would be written into packs and logs).
pub fn parse_http_url(flag: &'static str, value: &str) -> Result<url::Url, InvalidValue> {
    let invalid = |why: &str| {
        InvalidValue::new(
            flag,
            redact_userinfo(value),
            format!(
                "an http:// or https:// URL with a host, such as http://127.0.0.1:5000 ({why})"
            ),
        )
    };
    let parsed = url::Url::parse(value).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("the scheme is not http or https"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("there is no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "credentials in a URL are refused: auditpack would have to store them; use the AWS credential chain",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("a query or fragment is not allowed"));
    }
    Ok(parsed)
}

/// `value` with any `user:password@` replaced, for messages.
fn redact_userinfo(value: &str) -> String {
    match (value.find("://"), value.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!(
                "{}://(credentials removed)@{}",
                &value[..scheme],
                &value[at + 1..]
            )
        }
        _ => value.to_string(),
    }
}

/// A validated endpoint URL such as `http://127.0.0.1:5000`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EndpointUrl(String);

impl EndpointUrl {
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        let url = parse_http_url("--endpoint-url", value)?;
        if url.path() != "/" {
            return Err(InvalidValue::new(
                "--endpoint-url",
                value,
                "an http:// or https:// URL with a host and no path, such as http://127.0.0.1:5000",
            ));
        }
        Ok(Self(url.as_str().trim_end_matches('/').to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether the current user may create files in `dir`.
fn writable(dir: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        rustix::fs::access(
            dir,
            rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
        )
        .is_ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        !std::fs::metadata(dir).is_ok_and(|m| m.permissions().readonly())
    }
}

/// Checks `--prefix` of the S3 archive: `/`-separated words of letters, digits, `.`, `_`, `-` and
/// `!*'()`, with no empty, `.` or `..` part and no leading or trailing `/`: never a key that climbs
/// out of the prefix or needs escaping.
pub fn parse_archive_prefix(value: &str) -> Result<String, InvalidValue> {
    let ok = !value.is_empty()
        && value.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-!*'()".contains(&b))
        });
    if ok {
        Ok(value.to_string())
    } else {
        Err(InvalidValue::new(
            "--prefix",
            value,
            "/-separated words of letters, digits and . _ - ! * ' ( ), with no empty, . or .. part, e.g. cis/prod",
        ))
    }
}

/// Checks `--concurrency`.
pub fn parse_concurrency(value: i64) -> Result<usize, InvalidValue> {
    match usize::try_from(value) {
        Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => Ok(n),
        _ => Err(InvalidValue::new(
            "--concurrency",
            value.to_string(),
            format!("a whole number from 1 to {MAX_CONCURRENCY}"),
        )),
    }
}

/// Checks an output directory: it may not exist yet, or be empty; anything else would mix with evidence.
pub fn parse_new_output_dir(flag: &'static str, path: &Path) -> Result<PathBuf, InvalidValue> {
    if path.as_os_str().is_empty() {
        return Err(InvalidValue::new(flag, "", "a directory path"));
    }
    let invalid = |allowed: String| InvalidValue::new(flag, path.display().to_string(), allowed);
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(invalid(
            "a real directory path, not a symbolic link (evidence is never written through a link)"
                .into(),
        ));
    }
    // The pack is built beside --out and moved into place: its parent must be writable now, not
    // found out after a whole collection.
    let parent = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => parent.to_path_buf(),
        None => PathBuf::from("."),
    };
    if parent.is_dir() && !writable(&parent) {
        return Err(invalid(format!(
            "a path in a directory you can write to; {} is not writable",
            parent.display()
        )));
    }
    match std::fs::read_dir(path) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                Err(InvalidValue::new(
                    flag,
                    path.display().to_string(),
                    "a new or empty directory; this one already holds files, and auditpack never overwrites evidence. Choose another path",
                ))
            } else {
                Ok(path.to_path_buf())
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            match parent {
                Some(p) if !p.is_dir() => Err(InvalidValue::new(
                    flag,
                    path.display().to_string(),
                    format!(
                        "a path whose parent directory exists; create {} first",
                        p.display()
                    ),
                )),
                _ => Ok(path.to_path_buf()),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Err(InvalidValue::new(
            flag,
            path.display().to_string(),
            "a directory path; this is an existing file",
        )),
        Err(e) => Err(InvalidValue::new(
            flag,
            path.display().to_string(),
            format!("a readable directory path ({e})"),
        )),
    }
}

/// Checks a directory reports are written into: it may exist (reports in it are replaced) or not yet
/// (it is created), but it is never a symbolic link or a file.
pub fn parse_report_dir(flag: &'static str, path: &Path) -> Result<PathBuf, InvalidValue> {
    let invalid = |allowed: &str| InvalidValue::new(flag, path.display().to_string(), allowed);
    if path.as_os_str().is_empty() {
        return Err(invalid("a directory path"));
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(invalid(
            "a real directory path, not a symbolic link (reports are never written through a link)",
        )),
        Ok(meta) if !meta.is_dir() => Err(invalid("a directory path; this is an existing file")),
        Ok(_) if !writable(path) => Err(invalid("a directory you can write to")),
        _ => Ok(path.to_path_buf()),
    }
}

/// How the AWS SDK is reached: shared by every command that talks to AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    pub profile: Option<String>,
    pub endpoint_url: Option<EndpointUrl>,
}

/// Validated settings for `auditpack collect`.
#[derive(Debug, Clone)]
pub struct CollectSettings {
    pub aws: AwsSettings,
    pub out: PathBuf,
    /// `None`: every region enabled for each account, found with account:ListRegions.
    pub regions: Option<Vec<RegionName>>,
    pub concurrency: usize,
    /// Which accounts to collect from.
    pub accounts: AccountScope,
    /// How member accounts are entered; required when `accounts` names other accounts.
    pub role: Option<RoleSettings>,
    pub retry_mode: RetryMode,
    /// The period whose changes Event history is asked for; `None` with `--no-history`.
    pub history: Option<HistorySettings>,
}

/// How the SDK retries throttled and failed calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RetryMode {
    /// Exponential backoff with jitter, up to 5 attempts per call.
    #[default]
    Standard,
    /// Standard, plus a client-side rate limiter that slows down when AWS throttles.
    Adaptive,
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(flag: &'static str, value: &str) -> Result<Self, InvalidValue> {
        if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(value.to_string()))
        } else {
            Err(InvalidValue::new(
                flag,
                value,
                "a 12-digit AWS account id such as 111122223333 (digits only, leading zeros kept)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An account to collect from, with the name an organisation gives it when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountTarget {
    pub id: AccountId,
    pub name: Option<String>,
}

/// Which accounts `collect` covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AccountScope {
    /// Only the account of the caller's credentials.
    #[default]
    Caller,
    /// Exactly these accounts (`--accounts` or `--accounts-file`), the caller's own account included
    /// only when listed.
    Listed {
        source: &'static str,
        accounts: Vec<AccountTarget>,
    },
    /// Every active account of the caller's AWS Organization, found with ListAccounts.
    Organization,
}

/// Validates `--accounts 111111111111,222222222222` (clap splits at the commas): each id valid,
/// none repeated.
pub fn parse_account_list(parts: &[String]) -> Result<Vec<AccountTarget>, InvalidValue> {
    let ids = parse_unique_list("--accounts", "account", parts, |part| {
        AccountId::parse("--accounts", part)
    })?;
    Ok(ids
        .into_iter()
        .map(|id| AccountTarget { id, name: None })
        .collect())
}

/// Largest accounts file read: far beyond any organisation's account list.
const MAX_ACCOUNTS_FILE: u64 = 16 << 20;

/// Reads `--accounts-file`: CSV lines `account_id[,name]`; blank lines and `#` comments are skipped,
/// and a first line whose first field names a column ("account_id", "Account ID") is a header.
/// At most [`crate::evidence::MAX_ACCOUNTS`] accounts.
pub fn read_accounts_file(path: &Path) -> Result<Vec<AccountTarget>, InvalidValue> {
    const FLAG: &str = "--accounts-file";
    let shown = path.display().to_string();
    let text = crate::evidence::read_capped(path, MAX_ACCOUNTS_FILE)
        .map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::InvalidData => format!("at most {MAX_ACCOUNTS_FILE} bytes"),
                _ => e.to_string(),
            };
            InvalidValue::new(
                FLAG,
                shown.clone(),
                format!("a readable regular file listing account ids ({why})"),
            )
        })
        .and_then(|bytes| {
            String::from_utf8(bytes).map_err(|_| {
                InvalidValue::new(FLAG, shown.clone(), "a UTF-8 text file listing account ids")
            })
        })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut accounts: Vec<AccountTarget> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            InvalidValue::new(
                FLAG,
                shown.clone(),
                format!("CSV lines `account_id[,name]` ({e})"),
            )
        })?;
        let line = record.position().map(|p| p.line()).unwrap_or(n as u64 + 1);
        if record
            .iter()
            .any(|field| field.contains('\n') || field.contains('\r'))
        {
            // A quote opened and never closed swallows the lines after it into one field.
            return Err(InvalidValue::new(
                FLAG,
                format!("{shown} line {line}"),
                "one account per line; a quote opened on this line is never closed",
            ));
        }
        let first = record.get(0).unwrap_or_default();
        if first.is_empty() {
            continue;
        }
        if n == 0 && first.to_ascii_lowercase().contains("account") {
            continue;
        }
        let id = AccountId::parse(FLAG, first).map_err(|e| {
            InvalidValue::new(FLAG, format!("{shown} line {line}: {first}"), e.allowed)
        })?;
        if !seen.insert(id.clone()) {
            return Err(InvalidValue::new(
                FLAG,
                format!("{shown} line {line}: {id}"),
                "each account once; this one is listed earlier in the file",
            ));
        }
        let name = record.get(1).filter(|n| !n.is_empty()).map(str::to_owned);
        if accounts.len() == crate::evidence::MAX_ACCOUNTS {
            return Err(InvalidValue::new(
                FLAG,
                format!("{shown} line {line}"),
                format!(
                    "at most {} accounts in one pack; split the file and collect a pack for each part",
                    crate::evidence::MAX_ACCOUNTS
                ),
            ));
        }
        accounts.push(AccountTarget { id, name });
    }
    if accounts.is_empty() {
        return Err(InvalidValue::new(
            FLAG,
            shown,
            "a file with at least one account id (one per line, optionally followed by ,name)",
        ));
    }
    Ok(accounts)
}

/// An IAM role name, optionally with a path (`AuditRead` or `security/AuditRead`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleName(String);

impl RoleName {
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        let allowed =
            "an IAM role name such as AuditpackReader (1-64 of A-Z a-z 0-9 + = , . @ _ -), \
                       optionally after a path such as security/; not a full ARN";
        let value = value.trim_start_matches('/');
        let segments: Vec<&str> = value.split('/').collect();
        let name = segments.last().copied().unwrap_or_default();
        let chars_ok = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        };
        let ok = !name.is_empty()
            && name.len() <= 64
            && value.len() <= 512
            && segments.iter().all(|s| !s.is_empty() && chars_ok(s));
        if ok {
            Ok(Self(value.to_string()))
        } else {
            Err(InvalidValue::new("--role-name", value, allowed))
        }
    }

    /// The role's ARN in `account`, in `partition` (`aws`, `aws-us-gov`, `aws-cn`, ...).
    pub fn arn_in(&self, partition: &str, account: &AccountId) -> String {
        format!("arn:{partition}:iam::{account}:role/{}", self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks an STS external id: 2-1224 characters of letters, digits and `+=,.@:/-_`.
pub fn parse_external_id(value: &str) -> Result<String, InvalidValue> {
    let ok = (2..=1224).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c));
    if ok {
        Ok(value.to_string())
    } else {
        Err(InvalidValue::new(
            "--external-id",
            value,
            "2 to 1224 characters of letters, digits and + = , . @ : / - _ (as agreed with the account owner)",
        ))
    }
}

/// Checks a KMS key reference: a key ARN (`arn:aws:kms:<region>:<account>:key/<id>`), an alias ARN,
/// a key id (a UUID or a multi-Region `mrk-` id) or an alias name (`alias/<name>`). For clap's
/// `value_parser`: the flag name is added by clap.
pub fn parse_kms_key_ref(value: &str) -> Result<String, String> {
    let alias_ok = |name: &str| {
        !name.is_empty()
            && name.len() <= 250
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
    };
    let id_ok = |id: &str| {
        let uuid = id.len() == 36
            && id.chars().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit(),
            });
        let mrk = id
            .strip_prefix("mrk-")
            .is_some_and(|hex| hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()));
        uuid || mrk
    };
    let ok = match value.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", partition, "kms", region, account, resource] => {
            partition.starts_with("aws")
                && RegionName::parse(region).is_ok()
                && AccountId::parse("", account).is_ok()
                && (resource.strip_prefix("key/").is_some_and(id_ok)
                    || resource.strip_prefix("alias/").is_some_and(alias_ok))
        }
        [single] => single.strip_prefix("alias/").is_some_and(alias_ok) || id_ok(single),
        _ => false,
    };
    if ok {
        Ok(value.to_string())
    } else {
        Err(
            "expected a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), an alias ARN, a key id \
             (UUID or mrk-...) or an alias name (alias/NAME)"
                .to_string(),
        )
    }
}

/// Checks an S3 bucket name: 3-63 characters of lowercase letters, digits, `.` and `-`, starting and
/// ending with a letter or digit, not shaped like an IP address. For clap's `value_parser`.
pub fn parse_bucket_name(value: &str) -> Result<String, String> {
    let ok = (3..=63).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !value.contains("..")
        && value.parse::<std::net::Ipv4Addr>().is_err();
    if ok {
        Ok(value.to_string())
    } else {
        Err("expected an S3 bucket name: 3-63 lowercase letters, digits, '.' and '-', starting and \
             ending with a letter or digit (no s3:// prefix, no path)"
            .to_string())
    }
}

/// How `collect` enters member accounts: `sts:AssumeRole` on the named role in each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSettings {
    pub role_name: RoleName,
    pub external_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_parses_and_carries_the_rule_facts() {
        let c = catalogue();
        assert_eq!(c.rule.id, "yg4-3in-tkd");
        assert_eq!(c.mapping.cce, "CCE-78919-8");
        assert_eq!(c.mapping.primary_cis_aws(), "CIS AWS 1.3.0 3.7");
        assert_eq!(c.mapping.cis_v7.control, "6");
        assert!(c.rule.references.iter().any(|r| r
            .url
            .contains("encrypting-cloudtrail-log-files-with-aws-kms")));
    }

    #[test]
    fn region_names_are_checked() {
        for ok in [
            "us-east-1",
            "eu-west-2",
            "ap-southeast-4",
            "us-gov-west-1",
            "il-central-1",
        ] {
            assert!(RegionName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "us_east_1",
            "useast1",
            "us-east-1 ",
            "x-y-1",
            "us--1",
        ] {
            let err = RegionName::parse(bad).unwrap_err();
            assert_eq!(err.flag, "--regions");
        }
    }

    #[test]
    fn region_list_rejects_repeats_and_empties() {
        // The parts as clap's value_delimiter hands them over.
        let parts = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            parse_region_list(&parts("us-east-1, eu-west-1"))
                .unwrap()
                .len(),
            2
        );
        assert!(parse_region_list(&parts("us-east-1,us-east-1"))
            .unwrap_err()
            .to_string()
            .contains("repeated"));
        assert!(parse_region_list(&parts("us-east-1,")).is_err());
    }

    #[test]
    fn endpoint_and_concurrency_are_checked() {
        assert_eq!(
            EndpointUrl::parse("http://127.0.0.1:5000/")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:5000"
        );
        assert!(EndpointUrl::parse("127.0.0.1:5000").is_err());
        assert!(EndpointUrl::parse("http://").is_err());
        assert!(parse_concurrency(0).is_err());
        assert!(parse_concurrency(MAX_CONCURRENCY as i64 + 1).is_err());
        assert!(parse_concurrency(-1).is_err());
        assert_eq!(parse_concurrency(8).unwrap(), 8);
    }

    #[test]
    fn output_dir_must_be_new_or_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(parse_new_output_dir("--out", dir.path()).is_ok());
        assert!(parse_new_output_dir("--out", &dir.path().join("new")).is_ok());
        assert!(parse_new_output_dir("--out", &dir.path().join("missing/new")).is_err());
        std::fs::write(dir.path().join("f"), b"x").unwrap();
        let err = parse_new_output_dir("--out", dir.path()).unwrap_err();
        assert!(err.to_string().contains("never overwrites"));
        assert!(parse_new_output_dir("--out", &dir.path().join("f")).is_err());
    }
}
