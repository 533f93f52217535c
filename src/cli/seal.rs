//! `auditpack keygen`, `public-key`, `sign` and `verify`: keys, sealing a pack (the command layer
//! renders the reports that `sign` seals) and checking a seal against a key the verifier names.

use super::failure::{fail, ExitStatus};
use super::{existing_pack_dir, exit, runtime, usage_error, GlobalArgs};
use crate::assess;
use crate::config::{self, InvalidValue};
use crate::report::{self, Format};
use crate::sign::{
    self, CheckLine, CheckState, NamedKey, PublicKey, SignError, Signer, SigningInfo, Timestamper,
    TrustAnchor, VerifyOptions,
};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Private key file to create (refused if it or FILE.pub exists); a missing parent directory is
    /// created with mode 0700.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["key", "kms_key_id"])))]
pub struct PublicKeyArgs {
    /// An auditpack key file: the private key from `keygen`, or its .pub.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// A KMS signing key (ECC_NIST_P256): its public half is fetched with kms:GetPublicKey.
    #[arg(long, value_name = "ARN", value_parser = config::parse_kms_key_ref)]
    pub kms_key_id: Option<String>,
    /// Where to write the PEM (refused if it exists); default: standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
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
    /// Also get an RFC 3161 timestamp over the manifest from this timestamp authority (http:// or
    /// https://), stored in the pack as timestamp.tsr: trusted time, where signed_at is the signer's
    /// clock.
    #[arg(long, value_name = "URL")]
    pub tsa_url: Option<String>,
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
    /// The signer's public key, obtained from the signer (not from the pack): an auditpack .pub file,
    /// or a PEM public key (Ed25519 or P-256) such as `auditpack public-key` or openssl writes.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// The KMS key the pack must have been signed with: its public key is fetched with
    /// kms:GetPublicKey using your own credentials (the pack's own claim is never trusted).
    #[arg(long, value_name = "ARN", value_parser = config::parse_kms_key_ref)]
    pub kms_key_id: Option<String>,
    /// Trusted certificates of the timestamp authority (PEM): the pack's timestamp must chain to one.
    #[arg(long, value_name = "FILE")]
    pub tsa_ca: Option<PathBuf>,
}

pub(crate) fn run_keygen(args: &KeygenArgs) -> anyhow::Result<u8> {
    match sign::keygen(&args.out) {
        Ok((public, fingerprint)) => {
            say!(
                "Wrote private key {} (mode 0600; keep it secret)",
                args.out.display()
            );
            say!("Wrote public key  {} ({fingerprint})", public.display());
            say!(
                "Give the .pub file to your assessor through a channel they trust: auditpack verify --pack DIR --public-key {}",
                public.display()
            );
            say!(
                "For openssl: auditpack public-key --key {} --out signer.pem",
                public.display()
            );
            Ok(exit::OK)
        }
        Err(e) => Ok(fail(&e)),
    }
}

pub(crate) fn run_public_key(args: &PublicKeyArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let named = match (&args.key, &args.kms_key_id) {
        (Some(file), _) => match sign::load_private_key(file) {
            Ok(private) => NamedKey {
                key: PublicKey::Ed25519(private.verifying_key()),
                kms_key_arn: None,
                arn_proven: false,
                source: file.display().to_string(),
            },
            Err(_) => match sign::load_public_key_file(file) {
                Ok(named) => named,
                Err(e) => return Ok(usage_error(e)),
            },
        },
        (None, Some(key_id)) => {
            let aws = match global.aws_settings() {
                Ok(aws) => aws,
                Err(e) => return Ok(usage_error(e)),
            };
            match crate::aws::fetch_public_key(&aws, key_id) {
                Ok(named) => named,
                Err(e) => return Ok(fail(&e)),
            }
        }
        (None, None) => unreachable!("clap requires --key or --kms-key-id"),
    };
    let pem = named.key.to_pem_file(named.kms_key_arn.as_deref());
    match &args.out {
        None => print!("{pem}"),
        Some(out) => match write_public_key(out, &pem) {
            Ok(()) => tell!(
                "Wrote {} ({} {})",
                out.display(),
                named.key.algorithm(),
                named.key.fingerprint()
            ),
            Err(e) => return Ok(fail(&e)),
        },
    }
    Ok(exit::OK)
}

/// Writes a public key file, or accepts one that already holds exactly this text.
fn write_public_key(path: &Path, pem: &str) -> Result<(), SignError> {
    if std::fs::symlink_metadata(path).is_ok() {
        return match crate::evidence::read_capped(path, 64 << 10) {
            Ok(existing) if existing == pem.as_bytes() => Ok(()),
            _ => Err(SignError::KeyExists {
                path: path.to_path_buf(),
            }),
        };
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    let mut file = options.open(path).map_err(|source| SignError::Io {
        path: path.to_path_buf(),
        op: "create",
        source,
    })?;
    std::io::Write::write_all(&mut file, pem.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|source| SignError::Io {
            path: path.to_path_buf(),
            op: "write",
            source,
        })
}

/// Where `sign` writes the signer's public key: `<pack>.signer.pem` beside the pack directory.
pub(crate) fn signer_pem_path(pack: &Path) -> PathBuf {
    let pack = match pack.file_name() {
        Some(_) => pack.to_path_buf(),
        None => pack.canonicalize().unwrap_or_else(|_| pack.to_path_buf()),
    };
    let mut name = pack.file_name().unwrap_or_default().to_os_string();
    name.push(".signer.pem");
    pack.with_file_name(name)
}

/// Who signs, as chosen on the command line, checked before anything is done.
pub(crate) enum SignerChoice {
    Local(Box<sign::LocalSigner>),
    Kms(String),
}

/// Validated settings of the signing part of `sign` and `run`.
pub(crate) struct SignerSettings {
    pub signer: SignerChoice,
    pub tsa_url: Option<url::Url>,
}

/// Checks `--key`/`--kms-key-id` and `--tsa-url` (a key file that cannot be read is a usage error).
pub(crate) fn signer_settings(
    key: Option<&Path>,
    kms_key_id: Option<&str>,
    tsa_url: Option<&str>,
) -> Result<SignerSettings, String> {
    let signer = match (key, kms_key_id) {
        (Some(file), _) => SignerChoice::Local(Box::new(
            sign::LocalSigner::from_file(file).map_err(|e| e.to_string())?,
        )),
        (None, Some(id)) => SignerChoice::Kms(id.to_string()),
        (None, None) => {
            return Err("name the signing key with --key FILE or --kms-key-id ARN".into())
        }
    };
    let tsa_url = tsa_url
        .map(|url| config::parse_http_url("--tsa-url", url))
        .transpose()
        .map_err(|e: InvalidValue| e.to_string())?;
    Ok(SignerSettings { signer, tsa_url })
}

pub(crate) fn run_sign(args: &SignArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let pack = match existing_pack_dir(&args.pack) {
        Ok(p) => p,
        Err(e) => return Ok(usage_error(e)),
    };
    let settings = match signer_settings(
        args.key.as_deref(),
        args.kms_key_id.as_deref(),
        args.tsa_url.as_deref(),
    ) {
        Ok(s) => s,
        Err(e) => return Ok(usage_error(e)),
    };
    sign_with(&pack, settings, global)
}

/// Signs `pack` with validated settings: stage, render, seal, then write the signer's public key
/// beside the pack.
pub(crate) fn sign_with(
    pack: &Path,
    settings: SignerSettings,
    global: &GlobalArgs,
) -> anyhow::Result<u8> {
    let signer: Box<dyn Signer> = match settings.signer {
        SignerChoice::Local(local) => local,
        SignerChoice::Kms(key_id) => {
            let aws = match global.aws_settings() {
                Ok(a) => a,
                Err(e) => return Ok(usage_error(e)),
            };
            match crate::aws::KmsSigner::connect(&aws, &key_id) {
                Ok(s) => Box::new(s),
                Err(e) => return Ok(fail(&e)),
            }
        }
    };
    let pem_path = signer_pem_path(pack);
    let pem = signer.public_key().to_pem_file(signer.kms_key_arn());
    if std::fs::symlink_metadata(&pem_path).is_ok()
        && crate::evidence::read_capped(&pem_path, 64 << 10)
            .ok()
            .as_deref()
            != Some(pem.as_bytes())
    {
        return Ok(usage_error(format!(
            "{} exists and does not hold this signer's public key; move it away (sign writes the signer's key there)",
            pem_path.display()
        )));
    }
    let tsa = settings.tsa_url.map(crate::tsa::HttpTimestamper::new);
    let signed = match seal(
        pack,
        signer.as_ref(),
        tsa.as_ref().map(|t| t as &dyn Timestamper),
    ) {
        Ok(signed) => signed,
        Err(e) => {
            let code = e.exit_code();
            if code == exit::STEP_FAILED && !e.is_service_failure() {
                tell!(
                    "error: {e}. The pack was left as it was; sign it again once the cause is fixed"
                );
            } else {
                tell!("error: {e}");
            }
            return Ok(code);
        }
    };
    say!(
        "Signed {} ({} files in the manifest)",
        pack.display(),
        signed.files
    );
    say!(
        "  signer     {} {}",
        signed.info.algorithm,
        signed.info.key_fingerprint
    );
    if let Some(arn) = &signed.info.kms_key_arn {
        say!("  KMS key    {arn}");
    }
    say!("  manifest   sha256 {}", signed.manifest_sha256);
    say!(
        "  signed at  {} (this machine's clock)",
        signed.info.signed_at
    );
    if let Some(ts) = &signed.timestamp {
        say!("  timestamp  {} by {} (timestamp.tsr)", ts.gen_time, ts.tsa);
    }
    match write_public_key(&pem_path, &pem) {
        Ok(()) => {
            say!(
                "  public key {} (give it to your assessor through a channel they trust)",
                pem_path.display()
            );
            Ok(exit::OK)
        }
        Err(e) => {
            tell!(
                "error: the pack is signed, but the signer's public key could not be written beside it: {e}; \
                 export it with `auditpack public-key`"
            );
            Ok(exit::STEP_FAILED)
        }
    }
}

/// Stages the signing record and the reports, then seals: all or nothing.
fn seal(
    pack: &Path,
    signer: &dyn Signer,
    tsa: Option<&dyn Timestamper>,
) -> Result<sign::Signed, SignError> {
    let mut prepared = sign::prepare(pack)?;
    let assessment = assess::assess(prepared.pack()).map_err(|e| SignError::Damaged {
        path: pack.to_path_buf(),
        reason: e.to_string(),
    })?;
    let formats = Format::ALL;
    let mut files: Vec<String> = formats.iter().map(|f| f.file_name().to_string()).collect();
    files.sort();
    let info = SigningInfo::new(
        signer,
        &crate::evidence::now_rfc3339(),
        files,
        tsa.map(|t| t.describe()),
    );
    prepared.stage_signing_info(info.clone())?;
    report::write(
        &assessment,
        Some(&info.integrity()),
        &formats,
        &prepared.reports_dir(),
    )?;
    prepared.seal(signer, tsa)
}

pub(crate) fn run_verify(args: &VerifyArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let options = VerifyOptions {
        tsa_trust: match args
            .tsa_ca
            .as_deref()
            .map(sign::timestamp::load_trust)
            .transpose()
        {
            Ok(trust) => trust,
            Err(e) => return Ok(usage_error(e)),
        },
    };
    let anchor = match trust_anchor(
        args.public_key.as_deref(),
        args.kms_key_id.as_deref(),
        global,
    ) {
        Ok(anchor) => anchor,
        Err(code) => return Ok(code),
    };
    // An archived pack is fetched into a private temporary directory and verified there.
    let _download;
    let pack_dir = match (&args.pack, &args.s3) {
        (Some(pack), _) => pack.clone(),
        (None, Some(uri)) => {
            let fetched = fetch_archived(uri, global)?;
            match fetched {
                Ok((dir, dest)) => {
                    _download = dir;
                    dest
                }
                Err(code) => return Ok(code),
            }
        }
        (None, None) => unreachable!("clap requires --pack or --s3"),
    };
    let verification = match sign::verify_dir(&pack_dir, &anchor, &options) {
        Ok(v) => v,
        Err(e) => return Ok(usage_error(e)),
    };
    say!(
        "Verifying {}",
        args.s3
            .clone()
            .unwrap_or_else(|| pack_dir.display().to_string())
    );
    for line in &verification.lines {
        print_check_line(line);
    }
    Ok(if !verification.verified() {
        say!("NOT VERIFIED: see the problems above.");
        exit::NOT_VERIFIED
    } else if let (true, TrustAnchor::Key(named)) = (verification.origin_checked, &anchor) {
        say!(
            "VERIFIED: the pack is intact and was signed by the key you named ({}).{}",
            named.source,
            match verification.time_trusted {
                Some(false) => " Its time is NOT trusted: the timestamp's authority was not checked (name it with --tsa-ca FILE).",
                Some(true) => " Its time is proven by a timestamp authority you trust.",
                None => "",
            }
        );
        exit::OK
    } else {
        say!(
            "INTACT, SIGNER NOT CHECKED (exit {}): the pack is intact and its signature is valid, but you \
             named no key, so anyone could have made it. Name the signer's public key with --public-key \
             FILE or --kms-key-id ARN.",
            exit::SIGNER_NOT_CHECKED
        );
        exit::SIGNER_NOT_CHECKED
    })
}

/// Prints one verification step and its problems (each naming the file or record), as `verify`
/// lists them.
pub(crate) fn print_check_line(line: &CheckLine) {
    let state = match line.state {
        CheckState::Ok => "OK",
        CheckState::Fail => "FAIL",
        CheckState::Skipped => "SKIP",
    };
    say!("  {:<9} {state:<4} {}", line.name, line.summary);
    for problem in &line.problems {
        say!("              - {problem}");
    }
}

/// The key the verifier names, from a public key file or `kms:GetPublicKey`; `Err` is the exit code
/// of a failure already printed.
pub(crate) fn trust_anchor(
    public_key: Option<&Path>,
    kms_key_id: Option<&str>,
    global: &GlobalArgs,
) -> Result<TrustAnchor, u8> {
    Ok(match (public_key, kms_key_id) {
        (Some(path), _) => match sign::load_public_key_file(path) {
            Ok(named) => TrustAnchor::Key(Box::new(named)),
            Err(e) => return Err(usage_error(e)),
        },
        (None, Some(key_id)) => {
            let aws = global.aws_settings().map_err(usage_error)?;
            match crate::aws::fetch_public_key(&aws, key_id) {
                Ok(named) => TrustAnchor::Key(Box::new(named)),
                Err(e @ crate::aws::KmsError::Unsuitable { .. }) => {
                    say!("NOT VERIFIED: {e}.");
                    return Err(exit::NOT_VERIFIED);
                }
                Err(e) => return Err(fail(&e)),
            }
        }
        (None, None) => TrustAnchor::None,
    })
}

/// Fetches an archived pack into a private temporary directory: the directory (kept alive by the
/// caller) and the pack's path in it, or the exit code of the failure.
type Fetched = Result<(tempfile::TempDir, PathBuf), u8>;

fn fetch_archived(uri: &str, global: &GlobalArgs) -> anyhow::Result<Fetched> {
    use anyhow::Context;
    let parsed = global
        .aws_settings()
        .map_err(|e| e.to_string())
        .and_then(|aws| {
            crate::archive::ArchiveUri::parse(uri)
                .map(|u| (aws, u))
                .map_err(|e| e.to_string())
        });
    let (aws, uri) = match parsed {
        Ok(v) => v,
        Err(e) => return Ok(Err(usage_error(e))),
    };
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let dest = dir.path().join("pack");
    let rt = runtime()?;
    match rt.block_on(crate::archive::download(&aws, &uri, &dest)) {
        Ok(n) => say!("Fetched {n} objects from {uri}"),
        Err(e @ crate::archive::ArchiveError::NotVerified { .. }) => {
            tell!("error: {e}");
            return Ok(Err(exit::NOT_VERIFIED));
        }
        Err(e) => {
            tell!("error: {e}");
            return Ok(Err(exit::STEP_FAILED));
        }
    }
    Ok(Ok((dir, dest)))
}
