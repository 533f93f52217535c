//! The one mapping from a failure to its documented exit code ([`super::EXIT_CODES`]). Every error a
//! command can end with implements [`ExitStatus`]; the commands print it with [`fail`] and return its
//! code, so the same failure gives the same code whichever command met it.

use super::exit;
use crate::archive::ArchiveError;
use crate::assess::AssessError;
use crate::collect::CollectError;
use crate::config::InvalidValue;
use crate::evidence::EvidenceError;
use crate::report::ReportError;
use crate::sign::SignError;

/// A failure's exit code.
pub(crate) trait ExitStatus: std::fmt::Display {
    fn exit_code(&self) -> u8;
}

/// Prints `error: <failure>` on standard error and returns its exit code.
pub(crate) fn fail(failure: &dyn ExitStatus) -> u8 {
    tell!("error: {failure}");
    failure.exit_code()
}

/// Reading a pack: a missing file, or one that is a link, FIFO or device, or that does not hold what
/// the format says, is the pack's fault (1); a disk or permission failure on this machine says
/// nothing about the pack, and is a failed step (7).
fn reading(e: &EvidenceError) -> u8 {
    match e {
        EvidenceError::Io { source, .. }
            if !matches!(
                source.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidInput
            ) =>
        {
            exit::STEP_FAILED
        }
        _ => exit::NOT_VERIFIED,
    }
}

impl ExitStatus for InvalidValue {
    fn exit_code(&self) -> u8 {
        exit::USAGE
    }
}

impl ExitStatus for CollectError {
    fn exit_code(&self) -> u8 {
        match self {
            CollectError::RoleNeeded { .. } => exit::USAGE,
            CollectError::Interrupted => exit::INTERRUPTED,
            // Nothing was written: the pack is built aside and moved into place only when whole.
            CollectError::NoIdentity { .. }
            | CollectError::NoRegions { .. }
            | CollectError::NoOrganization { .. }
            | CollectError::Evidence(_) => exit::NOTHING_COLLECTED,
        }
    }
}

impl ExitStatus for AssessError {
    fn exit_code(&self) -> u8 {
        match self {
            AssessError::Evidence(e) => reading(e),
            AssessError::BrokenChain { .. } => exit::NOT_VERIFIED,
            // An exceptions file is the user's input, placed in the pack by them.
            AssessError::Exceptions(_) => exit::USAGE,
            // The findings of a large pack spill to TMPDIR.
            AssessError::Spool(_) => exit::STEP_FAILED,
        }
    }
}

impl ExitStatus for ReportError {
    fn exit_code(&self) -> u8 {
        match self {
            // A target that is a link or a directory: the user's --out, refused before writing.
            ReportError::Refused { .. } => exit::USAGE,
            _ => exit::STEP_FAILED,
        }
    }
}

impl ExitStatus for SignError {
    fn exit_code(&self) -> u8 {
        match self {
            SignError::AlreadySigned { .. }
            | SignError::Busy { .. }
            | SignError::BadKey { .. }
            | SignError::KeyExists { .. } => exit::USAGE,
            SignError::Damaged { .. } | SignError::Unsafe { .. } => exit::NOT_VERIFIED,
            SignError::Evidence(e) => reading(e),
            SignError::Report(e) => e.exit_code(),
            SignError::Io { .. } | SignError::Signer { .. } | SignError::Timestamp(_) => {
                exit::STEP_FAILED
            }
        }
    }
}

impl ExitStatus for crate::aws::KmsError {
    fn exit_code(&self) -> u8 {
        match self {
            // A key that cannot sign this way (not ECC_NIST_P256 SIGN_VERIFY, say): the user's choice.
            crate::aws::KmsError::Unsuitable { .. } => exit::USAGE,
            _ => exit::STEP_FAILED,
        }
    }
}

impl ExitStatus for ArchiveError {
    fn exit_code(&self) -> u8 {
        match self {
            ArchiveError::NotVerified { .. } | ArchiveError::RemoteMismatch { .. } => {
                exit::NOT_VERIFIED
            }
            ArchiveError::BadUri(_) | ArchiveError::NoObjectLock { .. } => exit::USAGE,
            ArchiveError::Sign(e) => e.exit_code(),
            ArchiveError::Evidence(e) => reading(e),
            ArchiveError::Aws { .. }
            | ArchiveError::Conflict { .. }
            | ArchiveError::Io { .. }
            | ArchiveError::Runtime(_) => exit::STEP_FAILED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    fn io(kind: ErrorKind) -> EvidenceError {
        EvidenceError::Io {
            path: "pack/index.jsonl".into(),
            op: "read",
            source: Error::new(kind, "x"),
        }
    }

    /// Every documented code but 0, 3, 5 and 6 (outcomes, not failures) is the code of a failure.
    #[test]
    fn each_failure_has_its_documented_code() {
        let path = std::path::PathBuf::from("pack");
        let cases: Vec<(Box<dyn ExitStatus>, u8)> = vec![
            (
                Box::new(InvalidValue {
                    flag: "--out",
                    value: "x".into(),
                    allowed: "y".into(),
                }),
                2,
            ),
            (
                Box::new(CollectError::RoleNeeded {
                    caller: "1".into(),
                    accounts: "2".into(),
                }),
                2,
            ),
            (
                Box::new(CollectError::NoRegions {
                    region: "r".into(),
                    message: "m".into(),
                }),
                4,
            ),
            (Box::new(CollectError::Interrupted), 130),
            (
                Box::new(AssessError::Evidence(io(ErrorKind::InvalidInput))),
                1,
            ),
            (Box::new(AssessError::Evidence(io(ErrorKind::NotFound))), 1),
            (
                Box::new(AssessError::Evidence(io(ErrorKind::PermissionDenied))),
                7,
            ),
            (
                Box::new(AssessError::Evidence(EvidenceError::Malformed {
                    path: path.clone(),
                    reason: "r".into(),
                })),
                1,
            ),
            (
                Box::new(ReportError::Refused {
                    path: path.clone(),
                    reason: "a link",
                }),
                2,
            ),
            (Box::new(SignError::KeyExists { path: path.clone() }), 2),
            (
                Box::new(SignError::Damaged {
                    path: path.clone(),
                    reason: "r".into(),
                }),
                1,
            ),
            (
                Box::new(SignError::Signer {
                    signer: "kms".into(),
                    reason: "r".into(),
                }),
                7,
            ),
            (
                Box::new(SignError::Report(ReportError::Refused {
                    path: path.clone(),
                    reason: "a link",
                })),
                2,
            ),
            (
                Box::new(ArchiveError::NotVerified {
                    path: "p".into(),
                    reason: "r".into(),
                }),
                1,
            ),
            (Box::new(ArchiveError::BadUri("s3://x".into())), 2),
            (
                Box::new(ArchiveError::NoObjectLock { bucket: "b".into() }),
                2,
            ),
            (Box::new(ArchiveError::Runtime("r".into())), 7),
        ];
        for (failure, code) in cases {
            assert_eq!(failure.exit_code(), code, "{failure}");
            assert!(
                super::super::EXIT_CODES.iter().any(|(c, _)| *c == code),
                "{code} is documented"
            );
        }
    }
}
