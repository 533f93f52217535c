//! `auditpack upload` and `auditpack run`: archiving a signed pack, and the quarter in one command.

use super::assess::{check_exceptions_file, run_report, ReportArgs};
use super::collect::{run_collect, CollectArgs};
use super::failure::fail;
use super::seal::{sign_with, signer_settings};
use super::{existing_pack_dir, exit, runtime, usage_error, GlobalArgs};
use crate::config::{self, InvalidValue};
use crate::report::Format;
use clap::Args;
use std::path::PathBuf;

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
    /// Timestamp the signed manifest with this RFC 3161 timestamp authority (see `sign --tsa-url`).
    #[arg(long, value_name = "URL")]
    pub tsa_url: Option<String>,
    /// Archive bucket; without it the pack is not uploaded.
    #[arg(long, value_name = "NAME", value_parser = config::parse_bucket_name)]
    pub bucket: Option<String>,
    /// Key prefix in the archive bucket.
    #[arg(long, value_name = "P", value_parser = config::parse_archive_prefix)]
    pub prefix: Option<String>,
    /// Encrypt archived objects with this KMS key (SSE-KMS).
    #[arg(long, value_name = "ARN", value_parser = config::parse_kms_key_ref)]
    pub sse_kms_key_id: Option<String>,
    /// Object Lock retention (COMPLIANCE) in days for archived objects.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub retain_days: Option<i64>,
    /// Accepted exceptions (TOML, README "Accepted exceptions"), copied into the new pack before it
    /// is reported and signed.
    #[arg(long, value_name = "FILE")]
    pub exceptions: Option<PathBuf>,
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
    #[arg(long, value_name = "P", value_parser = config::parse_archive_prefix)]
    pub prefix: Option<String>,
    /// Encrypt objects with this KMS key (SSE-KMS) instead of SSE-S3.
    #[arg(long, value_name = "ARN", value_parser = config::parse_kms_key_ref)]
    pub sse_kms_key_id: Option<String>,
    /// Keep every object under Object Lock retention in COMPLIANCE mode for N days (the bucket must
    /// have Object Lock enabled).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub retain_days: Option<i64>,
    /// Most uploads in flight at once.
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = config::DEFAULT_CONCURRENCY as i64)]
    pub concurrency: i64,
}

/// Checks the archive flags of `upload` and `run`.
fn upload_settings(
    args: &UploadArgs,
    global: &GlobalArgs,
    pack: PathBuf,
) -> Result<crate::archive::UploadSettings, InvalidValue> {
    let retain_days = args
        .retain_days
        .map(|days| {
            u32::try_from(days)
                .ok()
                .filter(|&d| d >= 1)
                .ok_or_else(|| InvalidValue {
                    flag: "--retain-days",
                    value: days.to_string(),
                    allowed: "a whole number of days from 1".into(),
                })
        })
        .transpose()?;
    Ok(crate::archive::UploadSettings {
        aws: global.aws_settings()?,
        pack,
        bucket: args.bucket.clone(),
        prefix: args.prefix.clone(),
        sse_kms_key_id: args.sse_kms_key_id.clone(),
        retain_days,
        concurrency: config::parse_concurrency(args.concurrency)?,
    })
}

pub(crate) fn run_upload(args: &UploadArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let settings =
        match existing_pack_dir(&args.pack).and_then(|pack| upload_settings(args, global, pack)) {
            Ok(s) => s,
            Err(e) => return Ok(usage_error(e)),
        };
    upload_with(&settings)
}

fn upload_with(settings: &crate::archive::UploadSettings) -> anyhow::Result<u8> {
    let rt = runtime()?;
    match rt.block_on(crate::archive::upload(settings)) {
        Ok(outcome) => {
            say!(
                "Archived {} ({} objects uploaded, {} already there); the remote copy matches the manifest",
                outcome.uri, outcome.uploaded, outcome.skipped
            );
            say!("{}", outcome.uri);
            Ok(exit::OK)
        }
        Err(e) => Ok(fail(&e)),
    }
}

/// collect -> report -> sign -> upload, stopping at the first step that fails. Every flag of every
/// step is checked before collecting starts.
pub(crate) fn run_quarter(args: &RunArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let pack = args.collect.out.clone();
    let signer = match signer_settings(
        args.key.as_deref(),
        args.kms_key_id.as_deref(),
        args.tsa_url.as_deref(),
    ) {
        Ok(s) => s,
        Err(e) => return Ok(usage_error(e)),
    };
    let upload = match &args.bucket {
        None => None,
        Some(bucket) => {
            let upload_args = UploadArgs {
                pack: pack.clone(),
                bucket: bucket.clone(),
                prefix: args.prefix.clone(),
                sse_kms_key_id: args.sse_kms_key_id.clone(),
                retain_days: args.retain_days,
                concurrency: args.collect.concurrency,
            };
            match upload_settings(&upload_args, global, pack.clone()) {
                Ok(s) => Some(s),
                Err(e) => return Ok(usage_error(e)),
            }
        }
    };
    if let Err(e) = args.collect.settings(global) {
        return Ok(usage_error(e));
    }
    if let Some(file) = &args.exceptions {
        if let Err(e) = check_exceptions_file(file) {
            return Ok(usage_error(e));
        }
    }
    let collected = run_collect(&args.collect, global)?;
    if collected != exit::OK && collected != exit::INCOMPLETE {
        tell!("auditpack run: stopped at step 1 (collect), exit {collected}");
        return Ok(collected);
    }
    let stopped = |step: usize, name: &str, code: u8| {
        tell!("auditpack run: stopped at step {step} ({name}), exit {code}");
        Ok(code)
    };
    // The reports are rendered into the pack by sign, which seals them; `report` first gives the
    // user the assessment's summary as the standalone command does.
    let reported = run_report(&ReportArgs {
        pack: pack.clone(),
        out: None,
        format: Format::DEFAULT.to_vec(),
        exceptions: args.exceptions.clone(),
    })?;
    if reported != exit::OK {
        return stopped(2, "report", reported);
    }
    let signed = sign_with(&pack, signer, global)?;
    if signed != exit::OK {
        return stopped(3, "sign", signed);
    }
    if let Some(upload) = &upload {
        let uploaded = upload_with(upload)?;
        if uploaded != exit::OK {
            return stopped(4, "upload", uploaded);
        }
    }
    say!(
        "auditpack run: collected, reported, signed{}",
        if upload.is_some() {
            " and archived"
        } else {
            ""
        }
    );
    Ok(collected)
}
