//! `auditpack diff`: verifies two packs, assesses both with this version's checks, and says what
//! changed from one to the other.

use super::failure::fail;
use super::seal::{print_check_line, trust_anchor};
use super::{existing_pack_dir_for, exit, usage_error, GlobalArgs};
use crate::assess::{self, Assessment, TrailAssessment};
use crate::compare::{self, Input, PackDiff, RecordedState, Side};
use crate::config::{self, InvalidValue};
use crate::evidence::Pack;
use crate::report::{self, diff::DiffFormat};
use crate::sign::{self, CheckState, TrustAnchor, Verification, VerifyOptions};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("anchor").required(false).args(["public_key", "kms_key_id"])))]
pub struct DiffArgs {
    /// The earlier pack (e.g. last quarter's).
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// The later pack.
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// Write the comparison here (created if missing); without it, only the summary is printed.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Comma-separated outputs to write into --out.
    #[arg(
        long,
        value_name = "LIST",
        value_enum,
        value_delimiter = ',',
        default_values_t = DiffFormat::DEFAULT
    )]
    pub format: Vec<DiffFormat>,
    /// The signer's public key (both packs must be signed by it): an auditpack .pub file or a PEM.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// The KMS key both packs must be signed with (its public key is fetched with kms:GetPublicKey).
    #[arg(long, value_name = "ARN", value_parser = config::parse_kms_key_ref)]
    pub kms_key_id: Option<String>,
}

/// Validated settings for `auditpack diff`.
#[derive(Debug)]
pub struct DiffSettings {
    pub from: PathBuf,
    pub to: PathBuf,
    pub out: Option<PathBuf>,
    pub formats: Vec<DiffFormat>,
}

impl DiffArgs {
    pub fn settings(&self) -> Result<DiffSettings, InvalidValue> {
        let from = existing_pack_dir_for("--from", &self.from)?;
        let to = existing_pack_dir_for("--to", &self.to)?;
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if same(&from, &to) {
            return Err(InvalidValue::new(
                "--to",
                to.display().to_string(),
                "a different pack from --from (comparing a pack with itself shows nothing)",
            ));
        }
        let out = self
            .out
            .as_deref()
            .map(|out| config::parse_report_dir("--out", out))
            .transpose()?;
        if let Some(out) = &out {
            for pack in [&from, &to] {
                if out.starts_with(pack) || same(out, pack) {
                    return Err(InvalidValue::new(
                        "--out",
                        out.display().to_string(),
                        format!(
                            "a directory outside the packs compared ({} is inside {}; evidence is never written to)",
                            out.display(),
                            pack.display()
                        ),
                    ));
                }
            }
        }
        Ok(DiffSettings {
            from,
            to,
            out,
            formats: super::each_once(&self.format),
        })
    }
}

/// A pack, verified, assessed and read for the comparison.
struct Loaded {
    side: Side,
    assessment: Assessment,
    trails: Vec<TrailAssessment>,
    state: RecordedState,
    origin_checked: bool,
}

/// Verifies the pack in `dir`, printing what failed; `Err` is the exit code.
fn verified(flag: &str, dir: &Path, anchor: &TrustAnchor) -> Result<Verification, u8> {
    let verification =
        sign::verify_dir(dir, anchor, &VerifyOptions::default()).map_err(usage_error)?;
    if !verification.verified() {
        say!("NOT VERIFIED: {flag} {}", dir.display());
        for line in verification
            .lines
            .iter()
            .filter(|l| l.state == CheckState::Fail)
        {
            print_check_line(line);
        }
        return Err(exit::NOT_VERIFIED);
    }
    Ok(verification)
}

/// Reads what the comparison needs from the verified pack in `dir`; `Err` is the exit code.
fn load(dir: &Path, verification: &Verification, anchor: &TrustAnchor) -> Result<Loaded, u8> {
    let pack = Pack::open(dir).map_err(|e| fail(&assess::AssessError::from(e)))?;
    let assessment = assess::assess(&pack).map_err(|e| fail(&e))?;
    let trails = assessment
        .trails
        .to_vec()
        .map_err(|e| fail(&assess::AssessError::from(e)))?;
    let state = RecordedState::of(&pack).map_err(|e| fail(&assess::AssessError::from(e)))?;
    // The pack verified, so its signing record is readable and is the one the signature covers.
    let signer = sign::read_small(&dir.join(sign::SIGNING_FILE))
        .ok()
        .and_then(|bytes| sign::SigningInfo::parse(&bytes).ok())
        .map(|info| {
            let kms = info
                .kms_key_arn
                .map(|arn| format!(" (KMS key {arn})"))
                .unwrap_or_default();
            format!(
                "{} {}{kms}, at {}",
                info.algorithm, info.key_fingerprint, info.signed_at
            )
        })
        .unwrap_or_else(|| "(no signing record)".into());
    let signer_checked = match (verification.origin_checked, anchor) {
        (true, TrustAnchor::Key(named)) => {
            format!("verified against the key you named ({})", named.source)
        }
        _ => "NOT CHECKED: no key was named, so anyone could have signed it".into(),
    };
    let info = &assessment.pack;
    let side = Side {
        pack_id: info.pack_id.clone(),
        account_id: info.account_id.clone(),
        collected_at: info.finished_at.clone(),
        tool_version: info.tool_version.clone(),
        signer,
        signer_checked,
    };
    Ok(Loaded {
        side,
        assessment,
        trails,
        state,
        origin_checked: verification.origin_checked,
    })
}

pub(crate) fn run_diff(args: &DiffArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let settings = match args.settings() {
        Ok(s) => s,
        Err(e) => return Ok(usage_error(e)),
    };
    let anchor = match trust_anchor(
        args.public_key.as_deref(),
        args.kms_key_id.as_deref(),
        global,
    ) {
        Ok(anchor) => anchor,
        Err(code) => return Ok(code),
    };
    // Both are verified (and any failure of either printed) before either is assessed.
    let (from_check, to_check) = match (
        verified("--from", &settings.from, &anchor),
        verified("--to", &settings.to, &anchor),
    ) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(code), _) | (_, Err(code)) => {
            if code != exit::NOT_VERIFIED {
                return Ok(code);
            }
            say!(
                "Nothing was compared: a pack that does not verify cannot be trusted to say what \
                 changed. Sign unsigned packs first (auditpack sign), or compare the packs you \
                 received signed."
            );
            return Ok(code);
        }
    };
    let (from, to) = match (
        load(&settings.from, &from_check, &anchor),
        load(&settings.to, &to_check, &anchor),
    ) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(code), _) | (_, Err(code)) => return Ok(code),
    };
    let origin_checked = from.origin_checked && to.origin_checked;
    let diff = compare::compare(
        Input {
            side: from.side,
            assessment: &from.assessment,
            trails: &from.trails,
            state: &from.state,
        },
        Input {
            side: to.side,
            assessment: &to.assessment,
            trails: &to.trails,
            state: &to.state,
        },
    );
    print_summary(&diff);
    if let Some(out) = &settings.out {
        match report::write_diff(&diff, &settings.formats, out) {
            Ok(written) => {
                for path in written {
                    say!("  wrote {}", path.display());
                }
            }
            Err(e) => return Ok(fail(&e)),
        }
    }
    Ok(if origin_checked {
        exit::OK
    } else {
        say!(
            "SIGNERS NOT CHECKED (exit {}): both packs are intact, but you named no key, so anyone \
             could have made them. Name the signer with --public-key FILE or --kms-key-id ARN.",
            exit::SIGNER_NOT_CHECKED
        );
        exit::SIGNER_NOT_CHECKED
    })
}

fn print_summary(diff: &PackDiff) {
    for (label, side) in [("from", &diff.from), ("to", &diff.to)] {
        say!(
            "{label:<4} pack {} (account {}, collected {}), signed by {}: {}",
            side.pack_id,
            side.account_id,
            side.collected_at,
            side.signer,
            side.signer_checked
        );
    }
    let s = &diff.summary;
    if s.is_empty() {
        say!("Nothing changed between the two packs.");
        return;
    }
    say!(
        "Changes: {} newly failing, {} newly unknown, {} fixed, {} other verdicts; {} keys or buckets \
         changed; trails {} added, {} removed, {} changed; accounts {} added, {} removed",
        s.newly_failing,
        s.newly_unknown,
        s.fixed,
        s.other_verdicts,
        s.resources_changed,
        s.trails_added,
        s.trails_removed,
        s.trails_changed,
        s.accounts_added,
        s.accounts_removed
    );
    if s.period_failures_appeared + s.period_failures_disappeared > 0 {
        say!(
            "Period: {} period failure(s) appear, {} disappear (the -period checks: whether the \
             rule held throughout each pack's period)",
            s.period_failures_appeared,
            s.period_failures_disappeared
        );
    }
    for v in &diff.verdicts {
        say!(
            "  {:<13} {} {} ({}): {} -> {}: {}",
            v.change.as_str(),
            v.subject,
            v.name,
            v.check_id,
            v.from.as_str(),
            v.to.as_str(),
            v.to_reason
        );
    }
    for r in &diff.resources {
        let ops: Vec<&str> = r.answers.iter().map(|a| a.operation.as_str()).collect();
        say!(
            "  {:<13} {} {}: {} answered differently",
            "state changed",
            r.kind,
            r.resource,
            ops.join(", ")
        );
    }
    for c in &diff.trails_changed {
        for f in &c.fields {
            say!(
                "  {:<13} trail {}: {} {} -> {}",
                "changed",
                c.trail.arn,
                f.field,
                f.from,
                f.to
            );
        }
    }
    for (what, trails) in [
        ("added", &diff.trails_added),
        ("removed", &diff.trails_removed),
    ] {
        for t in trails {
            say!("  {:<13} trail {}", what, t.arn);
        }
    }
    for (what, ids) in [
        ("added", &diff.accounts_added),
        ("removed", &diff.accounts_removed),
    ] {
        for id in ids {
            say!("  {:<13} account {id}", what);
        }
    }
}
