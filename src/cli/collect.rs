//! `auditpack collect`: flags to validated settings, the progress bar, the closing summary.

use super::failure::{fail, ExitStatus};
use super::{exit, runtime, usage_error, GlobalArgs};
use crate::collect::{self, CollectError, Progress};
use crate::config::{self, CollectSettings, InvalidValue};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("scope").required(false).args(["org", "accounts", "accounts_file"])))]
pub struct CollectArgs {
    /// Directory to create the pack in; must not exist yet or be empty (evidence is never overwritten).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Comma-separated regions to scan (default: every region enabled for each account, from
    /// account:ListRegions, or account:GetRegionOptStatus region by region when that is refused).
    #[arg(long, value_name = "R1,R2", value_delimiter = ',')]
    pub regions: Option<Vec<String>>,
    /// Most API calls in flight at once, over all accounts and regions; one region gets at most three
    /// quarters of them, so a slow region cannot stall the rest.
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = config::DEFAULT_CONCURRENCY as i64)]
    pub concurrency: i64,
    /// Every active account of the AWS Organization (organizations:ListAccounts, run from the
    /// management account or a delegated administrator), the caller's own account included; needs
    /// --role-name.
    #[arg(long, requires = "role_name")]
    pub org: bool,
    /// Comma-separated 12-digit account ids to collect from, e.g. 111111111111,222222222222. The
    /// caller's own account is collected with its own credentials if listed; the others through
    /// --role-name.
    #[arg(long, value_name = "ID,ID", value_delimiter = ',')]
    pub accounts: Option<Vec<String>>,
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
    #[command(flatten)]
    pub period: PeriodArgs,
}

/// Which period the pack proves, from CloudTrail Event history (cloudtrail:LookupEvents).
#[derive(Debug, Args)]
#[command(next_help_heading = "The period (CloudTrail Event history)")]
pub struct PeriodArgs {
    /// Prove the period from DATE to the collection: YYYY-MM-DD (midnight UTC) or an RFC 3339 time.
    /// Default: the 90 days before collection, all that Event history keeps; a part older than that
    /// is an evidence gap.
    #[arg(long, value_name = "DATE", conflicts_with_all = ["period", "no_history"])]
    pub since: Option<String>,
    /// Prove a calendar quarter, e.g. 2026-Q4 (up to the collection if the quarter has not ended).
    #[arg(long, value_name = "YYYY-Qn", conflicts_with = "no_history")]
    pub period: Option<String>,
    /// Do not read Event history: the pack proves the state on the collection day only, and the
    /// period checks say NOT_APPLICABLE.
    #[arg(long)]
    pub no_history: bool,
}

impl PeriodArgs {
    /// The window, resolved against now (the collection starts right after validation).
    pub fn settings(&self) -> Result<Option<config::HistorySettings>, InvalidValue> {
        let choice = match (&self.since, &self.period) {
            _ if self.no_history => config::PeriodChoice::Skip,
            (Some(since), _) => config::PeriodChoice::Since(since.clone()),
            (None, Some(quarter)) => config::PeriodChoice::Quarter(quarter.clone()),
            (None, None) => config::PeriodChoice::Default,
        };
        config::resolve_period(&choice, chrono::Utc::now())
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
            history: self.period.settings()?,
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

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM (what `kill`, systemd and CI runners send): either
/// stops the collection and removes the partial pack.
async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

pub(crate) fn run_collect(args: &CollectArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let settings = match args.settings(global) {
        Ok(settings) => settings,
        Err(e) => return Ok(usage_error(e)),
    };
    let bar = Arc::new(Bar::new(global.quiet));
    let progress: Arc<dyn Progress> = bar.clone();
    let rt = runtime()?;
    let result = rt.block_on(async {
        // The stop branch is polled first, so the signal handlers are in place before the
        // collection creates its partial pack: a signal can never find the default action.
        tokio::select! {
            biased;
            _ = stop_requested() => Err(CollectError::Interrupted),
            result = collect::collect(&settings, progress) => result,
        }
    });
    bar.0.finish_and_clear();
    // Leave no request running after the pack is final or abandoned.
    rt.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(outcome) => {
            for line in
                super::summary::collect_summary(&outcome.path, &outcome.header, global.quiet)
            {
                say!("{line}");
            }
            if !outcome.header.gaps.is_empty() && !global.quiet {
                tell!(
                    "warning: the pack is incomplete: {} evidence gap(s), summarised above and listed in pack.json",
                    outcome.header.gaps.len()
                );
            }
            Ok(if outcome.header.complete {
                exit::OK
            } else {
                exit::INCOMPLETE
            })
        }
        Err(CollectError::Interrupted) => {
            tell!(
                "error: interrupted; the partial pack was removed and nothing was written to {}",
                settings.out.display()
            );
            Ok(CollectError::Interrupted.exit_code())
        }
        Err(e) => Ok(fail(&e)),
    }
}
