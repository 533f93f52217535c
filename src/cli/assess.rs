//! `auditpack assess` and `auditpack report`: judging a pack offline and rendering its reports.

use super::failure::fail;
use super::{existing_pack_dir, exit, usage_error};
use crate::assess::{self, Assessment, Status};
use crate::config::InvalidValue;
use crate::evidence::Pack;
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
        // A format named twice is written once, in the order first named.
        let mut formats: Vec<Format> = Vec::new();
        for format in &self.format {
            if !formats.contains(format) {
                formats.push(*format);
            }
        }
        let out = match &self.out {
            Some(out) => crate::config::parse_report_dir("--out", out)?,
            None => pack.join("reports"),
        };
        if crate::sign::is_signed(&pack) && inside(&out, &pack) {
            return Err(InvalidValue {
                flag: "--out",
                value: out.display().to_string(),
                allowed: format!(
                    "a directory outside the signed pack {}: its reports are sealed by its signature and are never rewritten (render a copy elsewhere with --out DIR)",
                    pack.display()
                ),
            });
        }
        Ok(ReportSettings { out, pack, formats })
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

/// Opens and assesses a pack; damage is reported as "not verified" (exit 1), naming the file.
fn open_and_assess(pack_dir: &std::path::Path) -> Result<Assessment, u8> {
    let failed = |e: assess::AssessError| fail(&e);
    let pack = Pack::open(pack_dir).map_err(|e| failed(e.into()))?;
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
    let flagged = |findings: &[assess::Finding]| -> String {
        let others: Vec<String> = findings
            .iter()
            .filter(|f| matches!(f.status, Status::Fail | Status::Unknown))
            .map(|f| format!("{} {} ({})", f.check_id, f.status.as_str(), f.role.as_str()))
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
            "  {:<7} {}  {primary}{covers}{}",
            t.rule.as_str(),
            t.trail_arn,
            flagged(&t.findings)
        );
    }
    for account in &a.accounts {
        say!(
            "  {:<7} account {}{}  {primary} per account{}",
            account.rule.as_str(),
            account.account_id,
            account
                .name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default(),
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

pub(crate) fn run_assess(args: &AssessArgs) -> anyhow::Result<u8> {
    let pack = match existing_pack_dir(&args.pack) {
        Ok(p) => p,
        Err(e) => return Ok(usage_error(e)),
    };
    let a = match open_and_assess(&pack) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    print_verdicts(&a).context("listing the verdicts")?;
    Ok(match a.summary.outcome(args.strict) {
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
    let a = match open_and_assess(&settings.pack) {
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
