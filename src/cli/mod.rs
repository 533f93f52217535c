//! The command line: parses arguments into validated settings, runs the steps, prints results and maps
//! outcomes to documented exit codes.
#![allow(clippy::disallowed_macros)]

use crate::assess::{self, Assessment, Status};
use crate::collect::{self, CollectError, Progress};
use crate::config::{self, AwsSettings, CollectSettings, EndpointUrl, InvalidValue};
use crate::evidence::{Pack, PackHeader};
use crate::report::{self, Format};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Exit codes: a contract with users' scripts, documented in the README.
pub mod exit {
    /// Success: the pack is complete / verified / the reports were written.
    pub const OK: u8 = 0;
    /// The pack failed verification: it was changed, damaged or signed by another key.
    pub const NOT_VERIFIED: u8 = 1;
    /// Usage error: a flag or value is wrong, or an input cannot be read. Nothing was done.
    pub const USAGE: u8 = 2;
    /// The pack was written, but some evidence could not be collected (gaps are listed).
    pub const INCOMPLETE: u8 = 3;
    /// Nothing usable could be collected (no credentials, no regions); no pack was written.
    pub const NOTHING_COLLECTED: u8 = 4;
    /// The assessment found failing checks.
    pub const CHECKS_FAILED: u8 = 5;
    /// Interrupted (Ctrl-C); no pack was written.
    pub const INTERRUPTED: u8 = 130;
}

const AFTER_HELP: &str = "\
Exit codes:
  0  success: the pack is complete
  1  the pack failed verification (changed, damaged, or signed by another key)
  2  usage error: a flag or value is wrong; nothing was done
  3  the pack was written but has evidence gaps (listed in the summary and in pack.json)
  4  nothing usable could be collected (no credentials, no regions); no pack was written
  5  the assessment found failing checks
  130 interrupted; no pack was written

Credentials come from the standard AWS chain: environment variables, --profile / AWS_PROFILE (including
SSO profiles after `aws sso login`), web identity, ECS and EC2 instance roles. auditpack never writes
credentials anywhere.";

/// Collects CloudTrail log-encryption evidence (CIS AWS 1.3.0 3.7) into a tamper-evident pack.
#[derive(Debug, Parser)]
#[command(name = "auditpack", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command that talks to AWS takes the same way.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Named profile from ~/.aws/config and ~/.aws/credentials (default: AWS_PROFILE, then "default").
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint instead of AWS (e.g. a local emulator); forces path-style
    /// S3 addressing.
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress bar and no log output below errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Collect every trail, its key and its bucket into a new evidence pack.
    ///
    /// Every API response is stored byte for byte with its SHA-256, in a hash-chained index. The pack is
    /// built in a hidden directory beside --out and moved into place only when complete.
    ///
    /// Example: auditpack collect --out packs/2026-Q4 --regions us-east-1,eu-west-1
    Collect(CollectArgs),
    /// Assess a pack offline and print each trail's verdict (exit 5 if any check fails).
    ///
    /// Reads only the pack, never AWS: anyone holding the pack gets the same verdicts.
    ///
    /// Example: auditpack assess --pack packs/2026-Q4
    Assess(AssessArgs),
    /// Render HTML, PDF, CSV and JSON reports from a pack, offline.
    ///
    /// All formats come from the same findings and are byte-for-byte reproducible from the pack.
    /// By default they are written into the pack's reports/ directory.
    ///
    /// Example: auditpack report --pack samples/acme-2026-Q4 --out report/
    Report(ReportArgs),
    /// Create an Ed25519 signing key pair: FILE (private, mode 0600) and FILE.pub.
    ///
    /// Example: auditpack keygen --out keys/audit-2026
    Keygen(KeygenArgs),
    /// Sign a pack: record the signer, render the reports with an integrity section, write a manifest
    /// of every file and a detached signature over it.
    ///
    /// Example: auditpack sign --pack packs/2026-Q4 --key keys/audit-2026
    Sign(SignArgs),
    /// Verify a pack offline, as an assessor: signature, every file, every record, the chain, and that
    /// the findings and reports follow from the evidence. Exit 0 verified, 1 not verified, 2 could not run.
    ///
    /// Example: auditpack verify --pack packs/2026-Q4 --public-key keys/audit-2026.pub
    Verify(VerifyArgs),
    /// Upload a signed pack to an S3 archive under P/<account>/<YYYY>-Q<n>/<pack-id>/.
    ///
    /// Every object carries a SHA-256 checksum and server-side encryption and is never overwritten;
    /// a rerun skips objects already archived with the same checksum. The remote copy is checked
    /// against the manifest afterwards.
    ///
    /// Example: auditpack upload --pack packs/2026-Q4 --bucket acme-audit-archive --prefix cis --retain-days 400
    Upload(UploadArgs),
    /// The quarter in one command: collect, report, sign and, with --bucket, upload. Stops at the
    /// first step that fails and says which.
    ///
    /// Example: auditpack run --out packs/2026-Q4 --key keys/audit-2026 --bucket acme-audit-archive
    Run(RunArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("signer").required(true).args(["key", "kms_key_id"])))]
pub struct RunArgs {
    #[command(flatten)]
    pub collect: CollectArgs,
    /// Ed25519 private key file from `auditpack keygen`.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Asymmetric AWS KMS key (ECC_NIST_P256) to sign with.
    #[arg(long, value_name = "ARN", value_parser = config::parse_kms_key_ref)]
    pub kms_key_id: Option<String>,
    /// Archive bucket; without it the pack is not uploaded.
    #[arg(long, value_name = "NAME", value_parser = config::parse_bucket_name)]
    pub bucket: Option<String>,
    /// Key prefix in the archive bucket.
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,
    /// Encrypt archived objects with this KMS key (SSE-KMS).
    #[arg(long, value_name = "ARN", value_parser = config::parse_kms_key_ref)]
    pub sse_kms_key_id: Option<String>,
    /// Object Lock retention (COMPLIANCE) in days for archived objects.
    #[arg(long, value_name = "N")]
    pub retain_days: Option<u32>,
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The signed evidence pack directory.
    #[arg(long, value_name = "DIR")]
    pub pack: PathBuf,
    /// The archive bucket.
    #[arg(long, value_name = "NAME", value_parser = config::parse_bucket_name)]
    pub bucket: String,
    /// Key prefix before <account-id>/<YYYY>-Q<n>/<pack-id>/.
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,
    /// Encrypt objects with this KMS key (SSE-KMS) instead of SSE-S3.
    #[arg(long, value_name = "ARN", value_parser = config::parse_kms_key_ref)]
    pub sse_kms_key_id: Option<String>,
    /// Keep every object under Object Lock retention in COMPLIANCE mode for N days (the bucket must
    /// have Object Lock enabled).
    #[arg(long, value_name = "N")]
    pub retain_days: Option<u32>,
    /// Most uploads in flight at once.
    #[arg(long, value_name = "N", default_value_t = config::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Private key file to create (refused if it or FILE.pub exists).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("signer").required(true).args(["key", "kms_key_id"])))]
pub struct SignArgs {
    /// The evidence pack directory.
    #[arg(long, value_name = "DIR")]
    pub pack: PathBuf,
    /// Ed25519 private key file from `auditpack keygen`.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Asymmetric AWS KMS key (ECC_NIST_P256) to sign with, by ARN, id or alias.
    #[arg(long, value_name = "ARN", value_parser = config::parse_kms_key_ref)]
    pub kms_key_id: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("anchor").required(false).args(["public_key", "kms_key_id"])))]
#[command(group(clap::ArgGroup::new("source").required(true).args(["pack", "s3"])))]
pub struct VerifyArgs {
    /// The evidence pack directory.
    #[arg(long, value_name = "DIR")]
    pub pack: Option<PathBuf>,
    /// An archived pack, verified in place: s3://BUCKET/P/<account-id>/<YYYY>-Q<n>/<pack-id>.
    #[arg(long, value_name = "URI")]
    pub s3: Option<String>,
    /// The signer's public key: an auditpack .pub file, or a PEM public key (e.g. a KMS key's).
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// The KMS key the pack must have been signed with.
    #[arg(long, value_name = "ARN", value_parser = config::parse_kms_key_ref)]
    pub kms_key_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct AssessArgs {
    /// The evidence pack directory.
    #[arg(long, value_name = "DIR")]
    pub pack: PathBuf,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The evidence pack directory.
    #[arg(long, value_name = "DIR")]
    pub pack: PathBuf,
    /// Where to write the reports (default: <pack>/reports).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Comma-separated formats: html, pdf, csv, json (default: all four).
    #[arg(long, value_name = "LIST", default_value = "html,pdf,csv,json")]
    pub format: String,
}

/// Validated settings for `auditpack report`.
#[derive(Debug)]
pub struct ReportSettings {
    pub pack: PathBuf,
    pub out: PathBuf,
    pub formats: Vec<Format>,
}

impl ReportArgs {
    pub fn settings(&self) -> Result<ReportSettings, InvalidValue> {
        let pack = existing_pack_dir(&self.pack)?;
        let mut formats = Vec::new();
        for name in self.format.split(',') {
            let format = Format::parse(name).ok_or_else(|| InvalidValue {
                flag: "--format",
                value: self.format.clone(),
                allowed: format!(
                    "a comma-separated list of html, pdf, csv, json ({name:?} is not one)"
                ),
            })?;
            if !formats.contains(&format) {
                formats.push(format);
            }
        }
        Ok(ReportSettings {
            out: self.out.clone().unwrap_or_else(|| pack.join("reports")),
            pack,
            formats,
        })
    }
}

/// Checks that `--pack` names a directory holding a pack header.
fn existing_pack_dir(path: &std::path::Path) -> Result<PathBuf, InvalidValue> {
    let invalid = |allowed: &str| InvalidValue {
        flag: "--pack",
        value: path.display().to_string(),
        allowed: allowed.to_string(),
    };
    if !path.is_dir() {
        return Err(invalid(
            "an existing evidence pack directory (this path does not exist or is not a directory)",
        ));
    }
    if !path.join(crate::evidence::HEADER_FILE).is_file() {
        return Err(invalid(
            "an evidence pack directory written by `auditpack collect` (it has no pack.json; an unfinished .partial directory is not a pack)",
        ));
    }
    Ok(path.to_path_buf())
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("scope").required(false).args(["org", "accounts", "accounts_file"])))]
pub struct CollectArgs {
    /// Directory to create the pack in; must not exist yet or be empty (evidence is never overwritten).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Comma-separated regions to scan (default: every region enabled for each account, from
    /// ec2:DescribeRegions).
    #[arg(long, value_name = "R1,R2")]
    pub regions: Option<String>,
    /// Most API calls in flight at once, over all accounts and regions; one region gets at most three
    /// quarters of them, so a slow region cannot stall the rest.
    #[arg(long, value_name = "N", default_value_t = config::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Every active account of the AWS Organization (organizations:ListAccounts, run from the
    /// management account or a delegated administrator), the caller's own account included; needs
    /// --role-name.
    #[arg(long, requires = "role_name")]
    pub org: bool,
    /// Comma-separated 12-digit account ids to collect from, e.g. 111111111111,222222222222. The
    /// caller's own account is collected with its own credentials if listed; the others through
    /// --role-name.
    #[arg(long, value_name = "ID,ID")]
    pub accounts: Option<String>,
    /// File listing the accounts, one per line as `account_id[,name]` (CSV; `#` comments and a
    /// header line are allowed).
    #[arg(long, value_name = "FILE")]
    pub accounts_file: Option<PathBuf>,
    /// Role to assume in each member account (arn:aws:iam::<account>:role/NAME), e.g. AuditpackReader.
    /// An account whose role cannot be assumed is recorded as an evidence gap.
    #[arg(long, value_name = "NAME")]
    pub role_name: Option<String>,
    /// External id the member accounts' role trust policies require (sts:ExternalId).
    #[arg(long, value_name = "ID", requires = "role_name")]
    pub external_id: Option<String>,
    /// How throttled and failed calls are retried (5 attempts with exponential backoff either way).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = config::RetryMode::Standard)]
    pub retry_mode: config::RetryMode,
}

impl GlobalArgs {
    fn aws_settings(&self) -> Result<AwsSettings, InvalidValue> {
        let endpoint_url = match self.endpoint_url.as_deref() {
            Some(url) if !url.is_empty() => Some(EndpointUrl::parse(url)?),
            _ => None,
        };
        let profile = match self.profile.as_deref() {
            Some("") => {
                return Err(InvalidValue {
                    flag: "--profile",
                    value: String::new(),
                    allowed: "a profile name from ~/.aws/config".into(),
                })
            }
            other => other.map(str::to_owned),
        };
        Ok(AwsSettings {
            profile,
            endpoint_url,
        })
    }
}

impl CollectArgs {
    /// Turns the raw flags into validated settings, once.
    pub fn settings(&self, global: &GlobalArgs) -> Result<CollectSettings, InvalidValue> {
        Ok(CollectSettings {
            aws: global.aws_settings()?,
            out: config::parse_new_output_dir("--out", &self.out)?,
            regions: self
                .regions
                .as_deref()
                .map(config::parse_region_list)
                .transpose()?,
            concurrency: config::parse_concurrency(self.concurrency)?,
            accounts: self.account_scope()?,
            role: self
                .role_name
                .as_deref()
                .map(|name| -> Result<_, InvalidValue> {
                    Ok(config::RoleSettings {
                        role_name: config::RoleName::parse(name)?,
                        external_id: self
                            .external_id
                            .as_deref()
                            .map(config::parse_external_id)
                            .transpose()?,
                    })
                })
                .transpose()?,
            retry_mode: self.retry_mode,
        })
    }

    fn account_scope(&self) -> Result<config::AccountScope, InvalidValue> {
        Ok(match (&self.accounts, &self.accounts_file) {
            _ if self.org => config::AccountScope::Organization,
            (Some(list), _) => config::AccountScope::Listed {
                source: "--accounts",
                accounts: config::parse_account_list(list)?,
            },
            (None, Some(file)) => config::AccountScope::Listed {
                source: "--accounts-file",
                accounts: config::read_accounts_file(file)?,
            },
            (None, None) => config::AccountScope::Caller,
        })
    }
}

/// Entry point of the binary.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    init_logging(&cli.global);
    let code = match &cli.command {
        Command::Collect(args) => run_collect(args, &cli.global),
        Command::Assess(args) => run_assess(args),
        Command::Report(args) => run_report(args),
        Command::Keygen(args) => run_keygen(args),
        Command::Sign(args) => run_sign(args, &cli.global),
        Command::Verify(args) => run_verify(args, &cli.global),
        Command::Upload(args) => run_upload(args, &cli.global),
        Command::Run(args) => run_quarter(args, &cli.global),
    };
    match code {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}

fn init_logging(global: &GlobalArgs) {
    let default = match (global.quiet, global.verbose) {
        (true, _) => "error",
        // The SDK warns about every credential and region source it tries; those are noise unless asked.
        (false, 0) => "warn,aws_config=error,aws_runtime=error",
        (false, 1) => "auditpack=info,warn,aws_config=error,aws_runtime=error",
        (false, 2) => "auditpack=debug,info",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")
}

/// The progress bar on stderr; hidden when stderr is not a terminal or with --quiet.
struct Bar(ProgressBar);

impl Bar {
    fn new(quiet: bool) -> Self {
        let bar = if quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} calls  {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        };
        Self(bar)
    }
}

impl Progress for Bar {
    fn stage(&self, name: &str) {
        self.0.set_message(name.to_string());
    }
    fn call_queued(&self) {
        self.0.inc_length(1);
    }
    fn call_done(&self) {
        self.0.inc(1);
    }
}

fn run_collect(args: &CollectArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let settings = match args.settings(global) {
        Ok(settings) => settings,
        Err(e) => return Ok(usage_error(e)),
    };
    let bar = Arc::new(Bar::new(global.quiet));
    let progress: Arc<dyn Progress> = bar.clone();
    let rt = runtime()?;
    let result = rt.block_on(async {
        tokio::select! {
            result = collect::collect(&settings, progress) => result,
            _ = tokio::signal::ctrl_c() => Err(CollectError::Interrupted),
        }
    });
    bar.0.finish_and_clear();
    // Leave no request running after the pack is final or abandoned.
    rt.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(outcome) => {
            print_collect_summary(&outcome.path, &outcome.header);
            Ok(if outcome.header.complete {
                exit::OK
            } else {
                exit::INCOMPLETE
            })
        }
        Err(CollectError::Interrupted) => {
            eprintln!(
                "error: interrupted; the partial pack was removed and nothing was written to {}",
                settings.out.display()
            );
            Ok(exit::INTERRUPTED)
        }
        Err(e @ CollectError::RoleNeeded { .. }) => Ok(usage_error(e)),
        Err(
            e @ (CollectError::NoIdentity { .. }
            | CollectError::NoRegions { .. }
            | CollectError::NoOrganization { .. }),
        ) => {
            eprintln!("error: {e}");
            Ok(exit::NOTHING_COLLECTED)
        }
        Err(CollectError::Evidence(e)) => {
            eprintln!("error: {e}");
            Ok(exit::NOTHING_COLLECTED)
        }
    }
}

fn print_collect_summary(path: &std::path::Path, header: &PackHeader) {
    let c = &header.counts;
    println!("Evidence pack written to {}", path.display());
    println!("  pack id   {}", header.pack_id);
    println!(
        "  account   {} (collected as {})",
        header.account_id, header.caller_arn
    );
    if header.accounts.len() > 1 || header.accounts.iter().any(|a| !a.collected) {
        let entered = header.accounts.iter().filter(|a| a.collected).count();
        println!(
            "  accounts  {} in scope, {entered} collected",
            header.accounts.len()
        );
        for a in &header.accounts {
            println!(
                "    - {}{}: {}",
                a.account_id,
                a.name
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default(),
                if a.collected {
                    format!("collected in {} regions", a.regions.len())
                } else {
                    "NOT collected (see the gaps below)".to_string()
                }
            );
        }
    }
    println!(
        "  regions   {} ({})",
        header.regions.len(),
        header.regions.join(", ")
    );
    println!(
        "  found     {} trails, {} KMS keys, {} buckets",
        c.trails, c.keys, c.buckets
    );
    println!("  recorded  {} API calls, {} responses", c.calls, c.records);
    if header.gaps.is_empty() {
        println!("  gaps      none: the pack is complete");
        return;
    }
    println!(
        "  gaps      {} (evidence that could not be collected):",
        header.gaps.len()
    );
    let mut advice: Vec<String> = Vec::new();
    for gap in &header.gaps {
        println!(
            "    - {} {}:{} in {}{}: {}: {}",
            gap.resource,
            gap.service,
            gap.operation,
            gap.region,
            gap.account
                .as_deref()
                .map(|a| format!(" (account {a})"))
                .unwrap_or_default(),
            gap.error_code,
            gap.message
        );
        let what = crate::evidence::gap_advice(gap);
        if !advice.contains(&what) {
            advice.push(what);
        }
    }
    println!("What to do:");
    for what in &advice {
        println!("    - {what}");
    }
    println!(
        "The pack is INCOMPLETE (exit {}): checks that depend on the missing evidence will be UNKNOWN, \
         and trails in regions that could not be listed are missing. Collect again into a new directory \
         once the causes above are fixed.",
        exit::INCOMPLETE
    );
    eprintln!(
        "warning: the pack is incomplete: {} evidence gap(s), listed in the summary and in pack.json",
        header.gaps.len()
    );
}

/// Prints a usage error (a flag, value or input that cannot be used) and gives its exit code.
fn usage_error(error: impl std::fmt::Display) -> u8 {
    eprintln!("error: {error}");
    exit::USAGE
}

/// Opens and assesses a pack; damage is reported as "not verified" (exit 1), naming the file.
fn open_and_assess(pack_dir: &std::path::Path) -> Result<Assessment, u8> {
    let pack = Pack::open(pack_dir).map_err(|e| {
        eprintln!("error: {e}");
        exit::NOT_VERIFIED
    })?;
    assess::assess(&pack).map_err(|e| {
        eprintln!("error: {e}");
        exit::NOT_VERIFIED
    })
}

fn print_verdicts(a: &Assessment) -> Result<(), assess::SpoolError> {
    let primary = a.mapping.primary_cis_aws();
    println!(
        "{} — account {} — pack {}",
        a.rule.title, a.pack.account_id, a.pack.pack_id
    );
    for t in a.trails.iter() {
        let t = t?;
        let status = t.primary().map(|f| f.status.as_str()).unwrap_or("UNKNOWN");
        let others: Vec<String> = t
            .findings
            .iter()
            .filter(|f| !f.primary && matches!(f.status, Status::Fail | Status::Unknown))
            .map(|f| format!("{} {}", f.check_id, f.status.as_str()))
            .collect();
        println!(
            "  {status:<7} {}  {}{}",
            t.trail_arn,
            primary,
            if others.is_empty() {
                String::new()
            } else {
                format!("  [{}]", others.join(", "))
            }
        );
    }
    let s = &a.summary;
    println!(
        "{} trails: rule {} PASS, {} FAIL, {} UNKNOWN; all checks {} PASS, {} FAIL, {} UNKNOWN, {} N/A; {} evidence gaps",
        s.trails, s.rule.pass, s.rule.fail, s.rule.unknown, s.checks.pass, s.checks.fail, s.checks.unknown,
        s.checks.not_applicable, s.gaps
    );
    for u in &s.regions_not_listed {
        println!(
            "  NOT ASSESSED: the trails of {} in account {} could not be listed ({}); any trail there is missing above",
            u.region, u.account_id, u.reason
        );
    }
    if s.accounts.len() > 1 || s.accounts_not_collected > 0 {
        println!("By account:");
        for row in &s.accounts {
            // The reports' words for the account's evidence, then its trails' verdicts.
            let evidence = report::account_evidence(row);
            let state = if row.collected {
                format!(
                    "{evidence}; {} trails: {} PASS, {} FAIL, {} UNKNOWN",
                    row.trails, row.rule.pass, row.rule.fail, row.rule.unknown
                )
            } else {
                evidence
            };
            println!(
                "  {}{}  {state}  ({} gaps)",
                row.account_id,
                row.name
                    .as_deref()
                    .map(|n| format!(" {n}"))
                    .unwrap_or_default(),
                row.gaps
            );
        }
    }
    Ok(())
}

fn run_assess(args: &AssessArgs) -> anyhow::Result<u8> {
    let pack = match existing_pack_dir(&args.pack) {
        Ok(p) => p,
        Err(e) => return Ok(usage_error(e)),
    };
    let a = match open_and_assess(&pack) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    print_verdicts(&a).context("listing the verdicts")?;
    Ok(if a.summary.checks.fail > 0 {
        exit::CHECKS_FAILED
    } else if a.summary.checks.unknown > 0
        || a.summary.accounts_not_collected > 0
        || !a.summary.regions_not_listed.is_empty()
    {
        exit::INCOMPLETE
    } else {
        exit::OK
    })
}

fn run_report(args: &ReportArgs) -> anyhow::Result<u8> {
    let settings = match args.settings() {
        Ok(s) => s,
        Err(e) => return Ok(usage_error(e)),
    };
    let a = match open_and_assess(&settings.pack) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let integrity =
        crate::sign::integrity_for(&settings.pack).context("reading the pack's signing record")?;
    let written = report::write(&a, integrity.as_ref(), &settings.formats, &settings.out)
        .context("writing the reports")?;
    let s = &a.summary;
    println!(
        "Assessed {} trails from pack {}: rule {} PASS, {} FAIL, {} UNKNOWN ({} evidence gaps)",
        s.trails, a.pack.pack_id, s.rule.pass, s.rule.fail, s.rule.unknown, s.gaps
    );
    for path in &written {
        println!("  wrote {}", path.display());
    }
    if let Some(html) = written
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "html"))
    {
        println!(
            "Open {} in a browser (it is self-contained and printable).",
            html.display()
        );
    }
    Ok(exit::OK)
}

fn run_keygen(args: &KeygenArgs) -> anyhow::Result<u8> {
    match crate::sign::keygen(&args.out) {
        Ok((public, fingerprint)) => {
            println!(
                "Wrote private key {} (mode 0600; keep it secret)",
                args.out.display()
            );
            println!("Wrote public key  {} ({fingerprint})", public.display());
            println!(
                "Give the .pub file to your assessor: auditpack verify --pack DIR --public-key {}",
                public.display()
            );
            Ok(exit::OK)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(exit::USAGE)
        }
    }
}

fn run_sign(args: &SignArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let pack = match existing_pack_dir(&args.pack) {
        Ok(p) => p,
        Err(e) => return Ok(usage_error(e)),
    };
    let signer: Box<dyn crate::sign::Signer> = match (&args.key, &args.kms_key_id) {
        (Some(key), _) => match crate::sign::LocalSigner::from_file(key) {
            Ok(s) => Box::new(s),
            Err(e) => return Ok(usage_error(e)),
        },
        (None, Some(kms)) => {
            let aws = match global.aws_settings() {
                Ok(a) => a,
                Err(e) => return Ok(usage_error(e)),
            };
            match crate::archive::KmsSigner::connect(&aws, kms) {
                Ok(s) => Box::new(s),
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(exit::NOTHING_COLLECTED);
                }
            }
        }
        (None, None) => unreachable!("clap requires --key or --kms-key-id"),
    };
    let signed_at = crate::evidence::now_rfc3339();
    match crate::sign::sign_pack(&pack, signer.as_ref(), &signed_at) {
        Ok(signed) => {
            println!(
                "Signed {} ({} files in the manifest)",
                pack.display(),
                signed.files
            );
            println!(
                "  signer     {} {}",
                signed.info.algorithm, signed.info.key_fingerprint
            );
            if let Some(arn) = &signed.info.kms_key_arn {
                println!("  KMS key    {arn}");
            }
            println!("  manifest   sha256 {}", signed.manifest_sha256);
            println!("  signed at  {}", signed.info.signed_at);
            Ok(exit::OK)
        }
        Err(e @ crate::sign::SignError::AlreadySigned { .. }) => {
            eprintln!("error: {e}");
            Ok(exit::USAGE)
        }
        Err(e @ crate::sign::SignError::Damaged { .. }) => {
            eprintln!("error: {e}");
            Ok(exit::NOT_VERIFIED)
        }
        Err(e) => Err(e.into()),
    }
}

fn run_verify(args: &VerifyArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    use crate::sign::TrustAnchor;
    // An archived pack is fetched into a private temporary directory and verified there.
    let _download;
    let pack_dir = match (&args.pack, &args.s3) {
        (Some(pack), _) => pack.clone(),
        (None, Some(uri)) => {
            let (aws, uri) =
                match global
                    .aws_settings()
                    .map_err(|e| e.to_string())
                    .and_then(|aws| {
                        crate::archive::ArchiveUri::parse(uri)
                            .map(|u| (aws, u))
                            .map_err(|e| e.to_string())
                    }) {
                    Ok(v) => v,
                    Err(e) => return Ok(usage_error(e)),
                };
            let dir = tempfile::tempdir().context("creating a temporary directory")?;
            let dest = dir.path().join("pack");
            let rt = runtime()?;
            match rt.block_on(crate::archive::download(&aws, &uri, &dest)) {
                Ok(n) => println!("Fetched {n} objects from {uri}"),
                Err(e @ crate::archive::ArchiveError::NotVerified { .. }) => {
                    eprintln!("error: {e}");
                    return Ok(exit::NOT_VERIFIED);
                }
                Err(e) => return Ok(usage_error(e)),
            }
            _download = dir;
            dest
        }
        (None, None) => unreachable!("clap requires --pack or --s3"),
    };
    let anchor = match (&args.public_key, &args.kms_key_id) {
        (Some(path), _) => TrustAnchor::PublicKey(path.clone()),
        (None, Some(arn)) => TrustAnchor::KmsKey(arn.clone()),
        (None, None) => TrustAnchor::None,
    };
    let verification = match crate::sign::verify_dir(&pack_dir, &anchor) {
        Ok(v) => v,
        Err(e) => return Ok(usage_error(e)),
    };
    println!(
        "Verifying {}",
        args.s3
            .clone()
            .unwrap_or_else(|| pack_dir.display().to_string())
    );
    for line in &verification.lines {
        println!(
            "  {:<9} {:<4} {}",
            line.name,
            if line.ok { "OK" } else { "FAIL" },
            line.summary
        );
        for problem in &line.problems {
            println!("              - {problem}");
        }
    }
    if verification.verified() {
        if verification.origin_checked {
            println!("VERIFIED: the pack is intact and was signed by the key you named.");
        } else {
            println!("VERIFIED (integrity only): the pack is intact, but who signed it was NOT checked; pass --public-key or --kms-key-id.");
        }
        Ok(exit::OK)
    } else {
        println!("NOT VERIFIED: see the problems above.");
        Ok(exit::NOT_VERIFIED)
    }
}

fn run_upload(args: &UploadArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let settings = (|| -> Result<crate::archive::UploadSettings, InvalidValue> {
        if args.retain_days == Some(0) {
            return Err(InvalidValue {
                flag: "--retain-days",
                value: "0".into(),
                allowed: "a number of days from 1".into(),
            });
        }
        Ok(crate::archive::UploadSettings {
            aws: global.aws_settings()?,
            pack: existing_pack_dir(&args.pack)?,
            bucket: args.bucket.clone(),
            prefix: args.prefix.clone(),
            sse_kms_key_id: args.sse_kms_key_id.clone(),
            retain_days: args.retain_days,
            concurrency: config::parse_concurrency(args.concurrency)?,
        })
    })();
    let settings = match settings {
        Ok(s) => s,
        Err(e) => return Ok(usage_error(e)),
    };
    let rt = runtime()?;
    match rt.block_on(crate::archive::upload(&settings)) {
        Ok(outcome) => {
            println!(
                "Archived {} ({} objects uploaded, {} already there); the remote copy matches the manifest",
                outcome.uri, outcome.uploaded, outcome.skipped
            );
            println!("{}", outcome.uri);
            Ok(exit::OK)
        }
        Err(e @ crate::archive::ArchiveError::NotVerified { .. }) => {
            eprintln!("error: {e}");
            Ok(exit::NOT_VERIFIED)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(exit::NOTHING_COLLECTED)
        }
    }
}

/// One step of `auditpack run`, returning its exit code.
type Step<'a> = Box<dyn Fn() -> anyhow::Result<u8> + 'a>;

/// collect -> report -> sign -> upload, stopping at the first step that fails.
fn run_quarter(args: &RunArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let pack = args.collect.out.clone();
    let collected = run_collect(&args.collect, global)?;
    if collected != exit::OK && collected != exit::INCOMPLETE {
        eprintln!("auditpack run: stopped at step 1 (collect), exit {collected}");
        return Ok(collected);
    }
    let steps: [(&str, Step); 3] = [
        (
            "report",
            Box::new(|| {
                run_report(&ReportArgs {
                    pack: pack.clone(),
                    out: None,
                    format: "html,pdf,csv,json".into(),
                })
            }),
        ),
        (
            "sign",
            Box::new(|| {
                run_sign(
                    &SignArgs {
                        pack: pack.clone(),
                        key: args.key.clone(),
                        kms_key_id: args.kms_key_id.clone(),
                    },
                    global,
                )
            }),
        ),
        (
            "upload",
            Box::new(|| match &args.bucket {
                None => Ok(exit::OK),
                Some(bucket) => run_upload(
                    &UploadArgs {
                        pack: pack.clone(),
                        bucket: bucket.clone(),
                        prefix: args.prefix.clone(),
                        sse_kms_key_id: args.sse_kms_key_id.clone(),
                        retain_days: args.retain_days,
                        concurrency: args.collect.concurrency,
                    },
                    global,
                ),
            }),
        ),
    ];
    for (i, (name, step)) in steps.iter().enumerate() {
        let code = step()?;
        if code != exit::OK {
            eprintln!(
                "auditpack run: stopped at step {} ({name}), exit {code}",
                i + 2
            );
            return Ok(code);
        }
    }
    println!(
        "auditpack run: collected, reported, signed{}",
        if args.bucket.is_some() {
            " and archived"
        } else {
            ""
        }
    );
    Ok(collected)
}
