//! `auditpack assess` and `auditpack report`: judging a pack offline and rendering its reports.

use super::failure::fail;
use super::{existing_pack_dir, exit, usage_error};
use crate::assess::{self, Assessment, ExceptionState, Exceptions, Status};
use crate::config::InvalidValue;
use crate::evidence::{Pack, EXCEPTIONS_FILE, MAX_EXCEPTIONS_BYTES};
use crate::report::{self, Format};
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct AssessArgs {
    /// The evidence pack directory.
    #[arg(long, value_name = "DIR")]
    pub pack: PathBuf,
    /// Fail (exit 5) on any failing check, supporting ones included; by default only the rule's own
    /// checks (the trail names a usable customer managed key; every account's regions are recorded by
    /// such a trail) decide exit 5.
    #[arg(long)]
    pub strict: bool,
    /// Accepted exceptions (TOML, README "Accepted exceptions"): copied into the pack as
    /// exceptions.toml (an unsigned pack only), then applied. Without it, the pack's own copy is used.
    #[arg(long, value_name = "FILE")]
    pub exceptions: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The evidence pack directory.
    #[arg(long, value_name = "DIR")]
    pub pack: PathBuf,
    /// Where to write the reports (default: <pack>/reports).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Comma-separated formats to write (a format named twice is written once).
    #[arg(
        long,
        value_name = "LIST",
        value_enum,
        value_delimiter = ',',
        default_values_t = Format::DEFAULT
    )]
    pub format: Vec<Format>,
    /// Accepted exceptions (TOML, README "Accepted exceptions"): copied into the pack as
    /// exceptions.toml (an unsigned pack only), then applied. Without it, the pack's own copy is used.
    #[arg(long, value_name = "FILE")]
    pub exceptions: Option<PathBuf>,
}

/// Validated settings for `auditpack report`.
#[derive(Debug)]
pub struct ReportSettings {
    pub pack: PathBuf,
    pub out: PathBuf,
    pub formats: Vec<Format>,
    pub exceptions: Option<ExceptionsInput>,
}

/// Validated settings for `auditpack assess`.
#[derive(Debug)]
pub struct AssessSettings {
    pub pack: PathBuf,
    pub strict: bool,
    pub exceptions: Option<ExceptionsInput>,
}

/// Why the command cannot run: a flag's value, or an exceptions file that cannot be used (it names
/// the file, the exception and the field). Either is a usage error.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Value(#[from] InvalidValue),
    #[error(transparent)]
    Exceptions(#[from] assess::ExceptionsError),
}

/// `--exceptions FILE`, read and validated: the bytes to put into the pack, if they are not there
/// already.
#[derive(Debug)]
pub struct ExceptionsInput {
    pub bytes: Vec<u8>,
    /// False when the pack already holds exactly these bytes.
    pub install: bool,
}

impl AssessArgs {
    pub fn settings(&self) -> Result<AssessSettings, SettingsError> {
        let pack = existing_pack_dir(&self.pack)?;
        let exceptions = exceptions_input(self.exceptions.as_deref(), &pack)?;
        Ok(AssessSettings {
            pack,
            strict: self.strict,
            exceptions,
        })
    }
}

/// Reads and validates an exceptions file, giving its bytes.
pub(crate) fn check_exceptions_file(file: &Path) -> Result<Vec<u8>, SettingsError> {
    let bytes =
        crate::evidence::read_capped(file, MAX_EXCEPTIONS_BYTES).map_err(|e| InvalidValue {
            flag: "--exceptions",
            value: file.display().to_string(),
            allowed: format!(
                "a readable exceptions file of at most {MAX_EXCEPTIONS_BYTES} bytes ({e})"
            ),
        })?;
    Exceptions::parse(&file.display().to_string(), &bytes, None)?;
    Ok(bytes)
}

/// Reads and validates `--exceptions FILE` for `pack`: the file must be a valid exceptions file,
/// and the pack must be unsigned and hold no other exceptions file (one that is byte-identical is
/// fine: nothing changes).
fn exceptions_input(
    file: Option<&Path>,
    pack: &Path,
) -> Result<Option<ExceptionsInput>, SettingsError> {
    let Some(file) = file else {
        return Ok(None);
    };
    let invalid = |allowed: String| InvalidValue {
        flag: "--exceptions",
        value: file.display().to_string(),
        allowed,
    };
    let bytes = check_exceptions_file(file)?;
    let in_pack = pack.join(EXCEPTIONS_FILE);
    let present = std::fs::symlink_metadata(&in_pack).is_ok();
    if present {
        let same = crate::evidence::read_capped(&in_pack, MAX_EXCEPTIONS_BYTES)
            .is_ok_and(|held| held == bytes);
        if same {
            return Ok(Some(ExceptionsInput {
                bytes,
                install: false,
            }));
        }
    }
    if crate::sign::is_signed(pack) {
        return Err(invalid(format!(
            "exceptions for an unsigned pack: {} is signed, and a signed pack is sealed, so its {EXCEPTIONS_FILE} cannot be added or changed. Add the exceptions before signing (`auditpack report --pack DIR --exceptions FILE`, then `auditpack sign`), or sign a new pack",
            pack.display()
        ))
        .into());
    }
    if present {
        return Err(invalid(format!(
            "the same exceptions as the pack's own: {} holds a different {EXCEPTIONS_FILE}, which is never replaced silently. Edit that file, or remove it and run again with              --exceptions",
            pack.display()
        ))
        .into());
    }
    Ok(Some(ExceptionsInput {
        bytes,
        install: true,
    }))
}

/// Copies validated exceptions into the pack (atomically), when they are not there already.
fn install(pack: &Path, exceptions: Option<&ExceptionsInput>) -> anyhow::Result<()> {
    if let Some(input) = exceptions.filter(|e| e.install) {
        crate::evidence::install_exceptions(pack, &input.bytes).with_context(|| {
            format!(
                "copying the exceptions into {}",
                pack.join(EXCEPTIONS_FILE).display()
            )
        })?;
        say!(
            "Copied the exceptions into {}",
            pack.join(EXCEPTIONS_FILE).display()
        );
    }
    Ok(())
}

impl ReportArgs {
    pub fn settings(&self) -> Result<ReportSettings, SettingsError> {
        let pack = existing_pack_dir(&self.pack)?;
        let formats = super::each_once(&self.format);
        let out = match &self.out {
            Some(out) => crate::config::parse_report_dir("--out", out)?,
            None => pack.join("reports"),
        };
        if crate::sign::is_signed(&pack) && inside(&out, &pack) {
            return Err(SettingsError::from(InvalidValue {
                flag: "--out",
                value: out.display().to_string(),
                allowed: format!(
                    "a directory outside the signed pack {}: its reports are sealed by its signature and are never rewritten (render a copy elsewhere with --out DIR)",
                    pack.display()
                ),
            }));
        }
        let exceptions = exceptions_input(self.exceptions.as_deref(), &pack)?;
        Ok(ReportSettings {
            out,
            pack,
            formats,
            exceptions,
        })
    }
}

/// Whether `path` (which may not exist yet) is `dir` or inside it, links resolved.
fn inside(path: &Path, dir: &Path) -> bool {
    let Ok(dir) = dir.canonicalize() else {
        return false;
    };
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while existing.canonicalize().is_err() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
        if existing.as_os_str().is_empty() {
            existing = PathBuf::from(".");
        }
    }
    let mut resolved = existing.canonicalize().unwrap_or(existing);
    for name in rest.iter().rev() {
        resolved.push(name);
    }
    resolved.starts_with(&dir)
}

/// Opens a pack, copies validated exceptions into it (only into a pack that opens with an intact
/// chain: a damaged pack is never written to), and assesses it; damage is reported as "not
/// verified" (exit 1), naming the file.
fn open_and_assess(
    pack_dir: &std::path::Path,
    exceptions: Option<&ExceptionsInput>,
) -> Result<Assessment, u8> {
    let failed = |e: assess::AssessError| fail(&e);
    let pack = Pack::open(pack_dir).map_err(|e| failed(e.into()))?;
    if pack.chain_problems.is_empty() {
        if let Err(e) = install(pack_dir, exceptions) {
            tell!("error: {e:#}");
            return Err(exit::STEP_FAILED);
        }
    }
    assess::assess(&pack).map_err(failed)
}

fn print_verdicts(a: &Assessment) -> Result<(), assess::SpoolError> {
    let primary = a.mapping.primary_cis_aws();
    say!(
        "{} — account {} — pack {}",
        a.rule.title,
        a.pack.account_id,
        a.pack.pack_id
    );
    say!("{}", report::period_line(a));
    let flagged = |findings: &[assess::Finding]| -> String {
        let others: Vec<String> = findings
            .iter()
            .filter(|f| matches!(f.status, Status::Fail | Status::Unknown))
            .map(|f| match &f.accepted {
                Some(acceptance) => format!(
                    "{} {} ({}, {})",
                    f.check_id,
                    f.status.as_str(),
                    f.role.as_str(),
                    acceptance.label()
                ),
                None => format!("{} {} ({})", f.check_id, f.status.as_str(), f.role.as_str()),
            })
            .collect();
        if others.is_empty() {
            String::new()
        } else {
            format!("  [{}]", others.join(", "))
        }
    };
    for t in a.trails.iter() {
        let t = t?;
        let covers = if t.organization && t.covers.len() > 1 {
            format!(
                "  (organisation trail, listed in {} accounts)",
                t.covers.len()
            )
        } else {
            String::new()
        };
        say!(
            "  {:<7} {}  {primary}{covers}{}{}",
            t.rule.as_str(),
            t.trail_arn,
            accepted_note(t.rule_accepted),
            flagged(&t.findings)
        );
    }
    for account in &a.accounts {
        say!(
            "  {:<7} account {}{}  {primary} per account{}{}",
            account.rule.as_str(),
            account.account_id,
            account
                .name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default(),
            accepted_note(account.rule_accepted),
            flagged(&account.findings)
        );
        for f in account.findings.iter().filter(|f| f.status != Status::Pass) {
            say!("            {}: {}", f.check_id, f.reason);
        }
    }
    let s = &a.summary;
    say!(
        "{} trails: rule {} PASS, {} FAIL, {} UNKNOWN; {} accounts: rule {} PASS, {} FAIL, {} UNKNOWN; \
         all checks {} PASS, {} FAIL ({} of them supporting), {} UNKNOWN, {} N/A; {} evidence gaps",
        s.trails, s.rule.pass, s.rule.fail, s.rule.unknown, s.account_rule.total(), s.account_rule.pass,
        s.account_rule.fail, s.account_rule.unknown, s.checks.pass, s.checks.fail, s.supporting_failures,
        s.checks.unknown, s.checks.not_applicable, s.gaps
    );
    print_exceptions(a);
    for u in &s.regions_not_listed {
        say!(
            "  NOT ASSESSED: the trails of {} in account {} could not be listed ({}); any trail there is missing above",
            u.region, u.account_id, u.reason
        );
    }
    for u in &s.regions_blocked {
        say!(
            "  BLOCKED BY POLICY: {} in account {}: {}",
            u.region,
            u.account_id,
            u.reason
        );
    }
    for o in &s.outside_scope {
        say!("  OUTSIDE SCOPE: {} {}: {}", o.kind, o.resource, o.advice());
    }
    if s.accounts.len() > 1 || s.accounts_not_collected > 0 {
        say!("By account:");
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
            say!(
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

/// The note after a FAIL verdict whose failures exceptions all accept.
fn accepted_note(accepted: bool) -> &'static str {
    if accepted {
        "  (FAIL accepted by exceptions)"
    } else {
        ""
    }
}

/// The exceptions and what became of each: applied, expired, or matching no FAIL.
fn print_exceptions(a: &Assessment) {
    let Some(report) = &a.exceptions else {
        return;
    };
    let s = &a.summary;
    say!(
        "Exceptions ({}, {} of them; expiry judged on {}, the day the evidence was collected): {} FAIL accepted \
         ({} trails' and {} accounts' rule FAIL); an accepted FAIL stays FAIL but does not decide the exit code",
        report.file,
        report.exceptions.len(),
        report.judged_on.as_deref().unwrap_or("an unknown day, so none is in force"),
        s.accepted.checks,
        s.accepted.rule,
        s.accepted.account_rule
    );
    for e in &report.exceptions {
        let what = match e.state {
            ExceptionState::Applied => format!(
                "matches {} FAIL, accepts {}; until {} by {}",
                e.matched, e.accepted, e.expires, e.approver
            ),
            ExceptionState::Expired => format!(
                "expired: its last day was {}, before the evidence was collected; it accepts nothing{}",
                e.expires,
                if e.matched > 0 {
                    format!(", though {} FAIL match it", e.matched)
                } else {
                    String::new()
                }
            ),
            ExceptionState::Unmatched => format!(
                "no FAIL matches it (until {} by {})",
                e.expires, e.approver
            ),
        };
        say!(
            "  #{} {:<9} {}: {what}; {}",
            e.index,
            e.state.as_str(),
            e.scope(),
            e.justification
        );
    }
}

pub(crate) fn run_assess(args: &AssessArgs) -> anyhow::Result<u8> {
    let settings = match args.settings() {
        Ok(s) => s,
        Err(e) => return Ok(usage_error(e)),
    };
    let a = match open_and_assess(&settings.pack, settings.exceptions.as_ref()) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    print_verdicts(&a).context("listing the verdicts")?;
    Ok(match a.summary.outcome(settings.strict) {
        assess::Outcome::Failed => exit::CHECKS_FAILED,
        assess::Outcome::Incomplete => exit::INCOMPLETE,
        assess::Outcome::Passed => exit::OK,
    })
}

pub(crate) fn run_report(args: &ReportArgs) -> anyhow::Result<u8> {
    let settings = match args.settings() {
        Ok(s) => s,
        Err(e) => return Ok(usage_error(e)),
    };
    let a = match open_and_assess(&settings.pack, settings.exceptions.as_ref()) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let integrity =
        crate::sign::integrity_for(&settings.pack).context("reading the pack's signing record")?;
    let written = match report::write(&a, integrity.as_ref(), &settings.formats, &settings.out) {
        Err(e @ report::ReportError::Refused { .. }) => return Ok(fail(&e)),
        written => written.context("writing the reports")?,
    };
    let s = &a.summary;
    say!(
        "Assessed {} trails from pack {}: rule {} PASS, {} FAIL, {} UNKNOWN ({} evidence gaps)",
        s.trails,
        a.pack.pack_id,
        s.rule.pass,
        s.rule.fail,
        s.rule.unknown,
        s.gaps
    );
    if let Some(report) = &a.exceptions {
        let count = |state| report.in_state(state).count();
        say!(
            "Exceptions: {} FAIL accepted (they stay FAIL in every report); {} exceptions applied, {} expired, {} matched no FAIL",
            s.accepted.checks,
            count(ExceptionState::Applied),
            count(ExceptionState::Expired),
            count(ExceptionState::Unmatched)
        );
    }
    for path in &written {
        say!("  wrote {}", path.display());
    }
    if let Some(html) = written
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "html"))
    {
        say!(
            "Open {} in a browser (it is self-contained and printable).",
            html.display()
        );
    }
    Ok(exit::OK)
}
