//! `auditpack assess` and `auditpack report`: judging a pack offline and rendering its reports.

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
        let out = self.out.clone().unwrap_or_else(|| pack.join("reports"));
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
