//! The command line: parses arguments into validated settings, runs the steps, prints results and maps
//! outcomes to documented exit codes.
#![allow(clippy::disallowed_macros)]

use crate::collect::{self, CollectError, Progress};
use crate::config::{self, AwsSettings, CollectSettings, EndpointUrl, InvalidValue};
use crate::evidence::PackHeader;
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
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Directory to create the pack in; must not exist yet or be empty (evidence is never overwritten).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Comma-separated regions to scan (default: every region enabled for the account, from
    /// ec2:DescribeRegions).
    #[arg(long, value_name = "R1,R2")]
    pub regions: Option<String>,
    /// Most API calls in flight at once.
    #[arg(long, value_name = "N", default_value_t = config::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
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
        (false, 0) => "warn,aws_config=error",
        (false, 1) => "auditpack=info,warn,aws_config=error",
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
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::USAGE);
        }
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
        Err(e @ (CollectError::NoIdentity { .. } | CollectError::NoRegions { .. })) => {
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
    for gap in &header.gaps {
        println!(
            "    - {} {}:{} in {}: {}: {}",
            gap.resource, gap.service, gap.operation, gap.region, gap.error_code, gap.message
        );
    }
    println!(
        "The pack is INCOMPLETE (exit {}): checks that depend on the missing evidence will be UNKNOWN. \
         Fix access (or the resource) and collect again into a new directory.",
        exit::INCOMPLETE
    );
}
