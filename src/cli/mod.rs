//! The command line: parses arguments into validated settings, runs the steps, prints results and maps
//! outcomes to documented exit codes.
#![allow(clippy::disallowed_macros)]

/// Prints a line that may hold text from AWS or a pack, with its live characters (ESC, CR, bidi
/// overrides, ...) made visible, so nothing a trail name or an error message holds acts on the terminal.
macro_rules! say {
    ($($arg:tt)*) => { println!("{}", crate::report::visible(&format!($($arg)*))) };
}
/// [`say!`] on standard error.
macro_rules! tell {
    ($($arg:tt)*) => { eprintln!("{}", crate::report::visible(&format!($($arg)*))) };
}

mod archive;
mod assess;
mod collect;
mod diff;
mod failure;
mod seal;
mod summary;

use crate::config::{AwsSettings, EndpointUrl, InvalidValue};
use anyhow::Context;
use archive::{run_quarter, run_upload, RunArgs, UploadArgs};
use assess::{run_assess, run_report, AssessArgs, ReportArgs};
use clap::{Parser, Subcommand};
use collect::{run_collect, CollectArgs};
use diff::{run_diff, DiffArgs};
use seal::{
    run_keygen, run_public_key, run_sign, run_verify, KeygenArgs, PublicKeyArgs, SignArgs,
    VerifyArgs,
};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit codes: a contract with users' scripts. [`EXIT_CODES`] is the one table; `--help` prints it and
/// a test keeps the README's table equal to it.
pub mod exit {
    /// Success: the pack is complete, the reports were written, or the pack verified against the key
    /// the verifier named.
    pub const OK: u8 = 0;
    /// The pack failed verification: it was changed or damaged, or not signed by the key named.
    pub const NOT_VERIFIED: u8 = 1;
    /// Usage error: a flag, value or input cannot be used. Nothing was done.
    pub const USAGE: u8 = 2;
    /// The pack was written, but some evidence could not be collected (gaps are listed).
    pub const INCOMPLETE: u8 = 3;
    /// Nothing usable could be collected (no credentials, no regions); no pack was written.
    pub const NOTHING_COLLECTED: u8 = 4;
    /// `assess`: the rule fails for a trail or an account (with `--strict`, any check fails), not
    /// counting FAILs an exception accepts.
    pub const CHECKS_FAILED: u8 = 5;
    /// `verify` without a named key: the pack is intact, but who signed it was not checked.
    pub const SIGNER_NOT_CHECKED: u8 = 6;
    /// A service or a write failed midway (KMS, S3, the timestamp authority, the disk); what the
    /// command had started was rolled back.
    pub const STEP_FAILED: u8 = 7;
    /// Interrupted (Ctrl-C or SIGTERM); no pack was written.
    pub const INTERRUPTED: u8 = 130;
}

/// Every exit code and what it means: `--help`, the README and the tests all read this table.
pub const EXIT_CODES: &[(u8, &str)] = &[
    (exit::OK, "success: the pack is complete, the reports were written, or the pack verified against the key you named"),
    (exit::NOT_VERIFIED, "the pack failed verification (changed, damaged, or not signed by the key you named)"),
    (exit::USAGE, "usage error: a flag, value or input cannot be used; nothing was done"),
    (exit::INCOMPLETE, "the pack was written but has evidence gaps (listed in the summary and in pack.json); from assess: a check is UNKNOWN, an account was not collected or a region's trails could not be listed"),
    (exit::NOTHING_COLLECTED, "nothing usable could be collected (no credentials, no regions, organisation not listable); no pack was written"),
    (exit::CHECKS_FAILED, "assess: the rule fails for a trail or an account (with --strict: any check fails), not counting FAILs an exception accepts"),
    (exit::SIGNER_NOT_CHECKED, "verify: the pack is intact, but who signed it was not checked (name the signer with --public-key or --kms-key-id)"),
    (exit::STEP_FAILED, "a service or a write failed midway (AWS KMS or S3, the timestamp authority, the disk); what the command had started was rolled back, and the error says what to do"),
    (exit::INTERRUPTED, "interrupted (Ctrl-C or SIGTERM); no pack was written"),
];

/// The text after `--help`: the exit codes and where credentials come from.
fn after_help() -> String {
    let mut text = String::from("Exit codes:\n");
    for (code, meaning) in EXIT_CODES {
        text.push_str(&format!("  {code:<3} {meaning}\n"));
    }
    text.push_str(
        "\nCredentials come from the standard AWS chain: environment variables, --profile / AWS_PROFILE \
         (including SSO profiles after `aws sso login`), web identity, ECS and EC2 instance roles. \
         auditpack never writes credentials anywhere.",
    );
    text
}

/// Collects CloudTrail log-encryption evidence (CIS AWS 1.3.0 3.7) into a tamper-evident pack.
#[derive(Debug, Parser)]
#[command(name = "auditpack", version, about, long_about = None, after_help = after_help())]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command that talks to AWS takes the same way.
#[derive(Debug, clap::Args)]
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
    /// Assess a pack offline and print each trail's and account's verdict (exit 5 if the rule fails).
    ///
    /// Reads only the pack, never AWS: anyone holding the pack gets the same verdicts. The rule's own
    /// checks decide the exit code; --strict makes every check count.
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
    /// A missing parent directory is created, readable by you only.
    ///
    /// Example: auditpack keygen --out keys/audit-2026
    Keygen(KeygenArgs),
    /// Write a signer's public key as PEM (openssl reads it; so does verify --public-key).
    ///
    /// From an auditpack key file (private or .pub), or from a KMS key with kms:GetPublicKey. Give it
    /// to your assessor through a channel they trust, not inside the pack.
    ///
    /// Example: auditpack public-key --kms-key-id arn:aws:kms:eu-west-1:111122223333:key/... --out signer.pem
    PublicKey(PublicKeyArgs),
    /// Sign a pack: render the reports with an integrity section, write a manifest of every file and a
    /// signature over it (optionally an RFC 3161 timestamp), all or nothing.
    ///
    /// The signer's public key is also written beside the pack as <pack>.signer.pem.
    ///
    /// Example: auditpack sign --pack packs/2026-Q4 --key keys/audit-2026
    Sign(SignArgs),
    /// Verify a pack as an assessor: who signed it (against the key you name), every file, every
    /// record, the chain, the timestamp, and that the findings and reports follow from the evidence.
    ///
    /// Exit 0 only when the pack is intact and signed by the key you named; 1 not verified; 6 intact
    /// but no key was named; 2 could not run. Offline, except --kms-key-id (kms:GetPublicKey) and --s3.
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
    /// What changed between two packs: trails and accounts added or removed, verdicts that moved,
    /// keys and buckets whose recorded answers changed, each citing the records of both packs.
    ///
    /// Both packs are verified first (against the key you name) and assessed by this version's
    /// checks. Exit 0 when both verified against the key you named, 6 when no key was named, 1 when
    /// a pack failed verification (nothing is compared).
    ///
    /// Example: auditpack diff --from packs/2026-Q3 --to packs/2026-Q4 --public-key keys/audit-2026.pub --out diff/
    Diff(DiffArgs),
    /// The quarter in one command: collect, report, sign and, with --bucket, upload. Stops at the
    /// first step that fails and says which.
    ///
    /// Example: auditpack run --out packs/2026-Q4 --key keys/audit-2026 --bucket acme-audit-archive
    Run(RunArgs),
}

/// A list flag's values, each once, in the order first named (`--format html,csv,html` writes two).
pub(crate) fn each_once<T: PartialEq + Copy>(values: &[T]) -> Vec<T> {
    let mut once: Vec<T> = Vec::with_capacity(values.len());
    for value in values {
        if !once.contains(value) {
            once.push(*value);
        }
    }
    once
}

/// Checks that `--pack` names a directory holding a pack header.
pub(crate) fn existing_pack_dir(path: &std::path::Path) -> Result<PathBuf, InvalidValue> {
    existing_pack_dir_for("--pack", path)
}

/// Checks that `flag` names a directory holding a pack header.
pub(crate) fn existing_pack_dir_for(
    flag: &'static str,
    path: &std::path::Path,
) -> Result<PathBuf, InvalidValue> {
    let invalid = |allowed: &str| InvalidValue {
        flag,
        value: path.display().to_string(),
        allowed: allowed.to_string(),
    };
    if !path.is_dir() {
        return Err(invalid(
            "an existing evidence pack directory (this path does not exist or is not a directory)",
        ));
    }
    match std::fs::symlink_metadata(path.join(crate::evidence::HEADER_FILE)) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => {
            return Err(invalid(
                "an evidence pack directory whose pack.json is a regular file (this one's is a link, a directory or a device, which auditpack never reads)",
            ))
        }
        Err(_) => {
            return Err(invalid(
                "an evidence pack directory written by `auditpack collect` (it has no pack.json; an unfinished .partial directory is not a pack)",
            ))
        }
    }
    Ok(path.to_path_buf())
}

impl GlobalArgs {
    pub(crate) fn aws_settings(&self) -> Result<AwsSettings, InvalidValue> {
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
        Command::PublicKey(args) => run_public_key(args, &cli.global),
        Command::Sign(args) => run_sign(args, &cli.global),
        Command::Verify(args) => run_verify(args, &cli.global),
        Command::Upload(args) => run_upload(args, &cli.global),
        Command::Run(args) => run_quarter(args, &cli.global),
        Command::Diff(args) => run_diff(args, &cli.global),
    };
    match code {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            tell!("error: {e:#}");
            ExitCode::from(exit::STEP_FAILED)
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

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")
}

/// Prints a usage error (a flag, value or input that cannot be used) and gives its exit code: for
/// refusals that are not an [`InvalidValue`] (see [`failure::fail`] for every other failure).
pub(crate) fn usage_error(error: impl std::fmt::Display) -> u8 {
    tell!("error: {error}");
    exit::USAGE
}
