//! `auditpack collect`: flags to validated settings, the progress bar, the closing summary.

use super::failure::{fail, ExitStatus};
use super::{exit, runtime, usage_error, GlobalArgs};
use crate::collect::{self, CollectError, Progress};
use crate::config::{self, CollectSettings, InvalidValue};
use crate::evidence::PackHeader;
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
            print_collect_summary(&outcome.path, &outcome.header);
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

fn print_collect_summary(path: &std::path::Path, header: &PackHeader) {
    let c = &header.counts;
    say!("Evidence pack written to {}", path.display());
    say!("  pack id   {}", header.pack_id);
    say!(
        "  account   {} (collected as {})",
        header.account_id,
        header.caller_arn
    );
    if header.accounts.len() > 1 || header.accounts.iter().any(|a| !a.collected) {
        let entered = header.accounts.iter().filter(|a| a.collected).count();
        say!(
            "  accounts  {} in scope, {entered} collected",
            header.accounts.len()
        );
        for a in &header.accounts {
            say!(
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
    say!(
        "  regions   {} ({})",
        header.regions.len(),
        header.regions.join(", ")
    );
    say!(
        "  found     {} trails, {} KMS keys, {} buckets",
        c.trails,
        c.keys,
        c.buckets
    );
    say!("  recorded  {} API calls, {} responses", c.calls, c.records);
    for blocked in &header.blocked_by_policy {
        say!(
            "  blocked   {}:{} in {}{}: blocked by policy, and the evidence was had another way (not a gap)",
            blocked.service,
            blocked.operation,
            blocked.region,
            blocked
                .account
                .as_deref()
                .map(|a| format!(" (account {a})"))
                .unwrap_or_default()
        );
    }
    for outside in &header.outside_scope {
        say!(
            "  outside   {} {} belongs to {}: nothing was asked about it; {}",
            outside.kind,
            outside.resource,
            outside
                .owner
                .as_deref()
                .map(|o| format!("account {o}, outside this run's scope"))
                .unwrap_or_else(|| "an account outside this run's scope".into()),
            outside.advice()
        );
    }
    if header.gaps.is_empty() {
        if header.complete {
            say!("  gaps      none: the pack is complete");
        } else {
            say!(
                "  gaps      none, but the pack is INCOMPLETE (exit {}): resources above are outside the scope",
                exit::INCOMPLETE
            );
        }
        return;
    }
    say!(
        "  gaps      {} (evidence that could not be collected):",
        header.gaps.len()
    );
    let mut advice: Vec<String> = Vec::new();
    for gap in &header.gaps {
        say!(
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
    say!("What to do:");
    for what in &advice {
        say!("    - {what}");
    }
    say!(
        "The pack is INCOMPLETE (exit {}): checks that depend on the missing evidence will be UNKNOWN, \
         and trails in regions that could not be listed are missing. Collect again into a new directory \
         once the causes above are fixed.",
        exit::INCOMPLETE
    );
    tell!(
        "warning: the pack is incomplete: {} evidence gap(s), listed in the summary and in pack.json",
        header.gaps.len()
    );
}
