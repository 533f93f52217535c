//! RFC 3161 timestamps over a manifest: building the request, and checking a token the way
//! `openssl ts -verify` does — the message imprint, the TSA's CMS signature over the token, its
//! signing-certificate attribute and time-stamping certificate, and, when the verifier names trusted
//! certificates, the chain to one of them. The ASN.1 and CMS types come from RustCrypto's `x509-tsp`,
//! `cms` and `x509-cert`; asking the TSA over HTTP is the command layer's (see `crate::tsa`).

use cms::cert::CertificateChoices;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{Int, ObjectIdentifier as Oid, OctetString, SetOfVec};
use der::{Decode, Encode, Sequence};
use sha2::Digest;
use spki::AlgorithmIdentifierOwned;
use std::path::Path;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectKeyIdentifier};
use x509_cert::Certificate;
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

const ID_SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_CERTIFICATE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.12");
const ID_SIGNING_CERTIFICATE_V2: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.47");
const ID_KP_TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");
#[cfg(test)]
const ID_SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
const ID_SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
const SECP256R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: Oid = Oid::new_unwrap("1.3.132.0.34");
/// Longest chain from the TSA's certificate to a trusted one.
const MAX_CHAIN: usize = 8;
/// Largest token or certificate file read.
const MAX_FILE: u64 = 1 << 20;

/// Why a timestamp could not be had or does not hold.
#[derive(Debug, thiserror::Error)]
pub enum TimestampError {
    #[error("timestamp authority {tsa}: {reason}")]
    Service { tsa: String, reason: String },
    #[error("the timestamp token {0}")]
    Invalid(String),
    #[error("{path}: not usable as trusted TSA certificates: {reason}")]
    Trust { path: String, reason: String },
}

fn invalid(reason: impl Into<String>) -> TimestampError {
    TimestampError::Invalid(reason.into())
}

/// A timestamp authority: sends a DER `TimeStampReq` and returns the DER `TimeStampResp`.
pub trait Timestamper {
    /// The TSA, for messages (its URL).
    fn describe(&self) -> String;
    fn request(&self, query: &[u8]) -> Result<Vec<u8>, TimestampError>;
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq)]
pub struct TimestampInfo {
    /// `genTime`, as RFC 3339 UTC.
    pub gen_time: String,
    /// The TSA certificate's subject.
    pub tsa: String,
    pub policy: String,
    pub serial: String,
    /// The imprint's hash: `sha256`, `sha384` or `sha512`.
    pub hash: &'static str,
    /// The subject of the trusted certificate the TSA chains to, when trusted certificates were named.
    pub trusted_root: Option<String>,
}

/// Asks `tsa` for a token over SHA-256 of `manifest` with a fresh nonce, and checks the answer.
pub(crate) fn obtain(
    tsa: &dyn Timestamper,
    manifest: &[u8],
) -> Result<(Vec<u8>, TimestampInfo), TimestampError> {
    let mut nonce: [u8; 8] = rand::random();
    // A positive INTEGER in its shortest encoding: first byte 0x01..=0x7f.
    nonce[0] = (nonce[0] & 0x7f).max(1);
    let request = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: ID_SHA256,
                parameters: Some(der::asn1::Null.into()),
            },
            hashed_message: OctetString::new(sha2::Sha256::digest(manifest).to_vec())
                .expect("32 bytes"),
        },
        req_policy: None,
        nonce: Some(Int::new(&nonce).expect("a positive integer")),
        cert_req: true,
        extensions: None,
    }
    .to_der()
    .expect("a timestamp request encodes");
    let response = tsa.request(&request)?;
    let info =
        check(&response, manifest, Some(&nonce), None).map_err(|e| TimestampError::Service {
            tsa: tsa.describe(),
            reason: format!("its answer is not a valid token for this manifest: {e}"),
        })?;
    Ok((response, info))
}

/// Reads trusted TSA certificates: a PEM file of one or more certificates (a root, or a root and
/// intermediates).
pub fn load_trust(path: &Path) -> Result<Vec<Certificate>, TimestampError> {
    let bad = |reason: String| TimestampError::Trust {
        path: path.display().to_string(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    let bytes = crate::evidence::read_capped(path, MAX_FILE).map_err(|e| bad(e.to_string()))?;
    let certs = Certificate::load_pem_chain(&bytes)
        .map_err(|e| bad(format!("not a PEM file of certificates ({e})")))?;
    if certs.is_empty() {
        return Err(bad("it holds no certificate".into()));
    }
    Ok(certs)
}

/// Checks a DER `TimeStampResp` against the manifest it should cover, and the nonce when the caller
/// sent one; with `trust`, also that the TSA's certificate chains to one of those certificates.
pub fn check(
    response: &[u8],
    manifest: &[u8],
    nonce: Option<&[u8]>,
    trust: Option<&[Certificate]>,
) -> Result<TimestampInfo, TimestampError> {
    let response = TimeStampResp::from_der(response)
        .map_err(|e| invalid(format!("is not an RFC 3161 TimeStampResp ({e})")))?;
    use cmpv2::status::PkiStatus;
    if !matches!(
        response.status.status,
        PkiStatus::Accepted | PkiStatus::GrantedWithMods
    ) {
        return Err(invalid(format!(
            "was refused by the TSA (status {:?})",
            response.status.status
        )));
    }
    let token = response
        .time_stamp_token
        .ok_or_else(|| invalid("is missing from the TSA's answer"))?;
    if token.content_type != ID_SIGNED_DATA {
        return Err(invalid("is not CMS SignedData"));
    }
    let signed: SignedData = token
        .content
        .decode_as()
        .map_err(|e| invalid(format!("SignedData cannot be read ({e})")))?;
    if signed.encap_content_info.econtent_type != ID_CT_TST_INFO {
        return Err(invalid("does not hold a TSTInfo"));
    }
    let content = signed
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| invalid("has no TSTInfo content"))?
        .decode_as::<OctetString>()
        .map_err(|e| invalid(format!("TSTInfo is not an OCTET STRING ({e})")))?;
    let tst = TstInfo::from_der(content.as_bytes())
        .map_err(|e| invalid(format!("TSTInfo cannot be read ({e})")))?;
    let (hash, imprint) = digest(&tst.message_imprint.hash_algorithm.oid, manifest)
        .ok_or_else(|| invalid("uses a message imprint hash other than SHA-256/384/512"))?;
    if imprint != tst.message_imprint.hashed_message.as_bytes() {
        return Err(invalid(format!(
            "covers another message: its {hash} imprint is {}, but manifest.json hashes to {}",
            hex::encode(tst.message_imprint.hashed_message.as_bytes()),
            hex::encode(&imprint)
        )));
    }
    if let Some(sent) = nonce {
        if tst.nonce.as_ref().map(Int::as_bytes) != Some(sent) {
            return Err(invalid(
                "does not carry the nonce that was sent (a replayed answer?)",
            ));
        }
    }
    let certs: Vec<&Certificate> = signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(cert) => Some(cert),
            _ => None,
        })
        .collect();
    let signer_info = match signed.signer_infos.0.as_slice() {
        [one] => one,
        _ => return Err(invalid("must have exactly one signer")),
    };
    let tsa_cert = certs
        .iter()
        .find(|c| identifies(&signer_info.sid, c))
        .copied()
        .ok_or_else(|| {
            invalid("does not include the TSA's certificate (the request asks for it with certReq)")
        })?;
    check_signer_info(signer_info, content.as_bytes(), tsa_cert)?;
    let gen_time = tst.gen_time.to_unix_duration();
    check_tsa_certificate(tsa_cert, gen_time)?;
    let trusted_root = match trust {
        Some(trusted) => Some(chain_to(tsa_cert, &certs, trusted, gen_time)?),
        None => None,
    };
    Ok(TimestampInfo {
        gen_time: tst.gen_time.to_date_time().to_string(),
        tsa: tsa_cert.tbs_certificate.subject.to_string(),
        policy: tst.policy.to_string(),
        serial: hex::encode(tst.serial_number.as_bytes()),
        hash,
        trusted_root,
    })
}

/// The hash named by `oid` over `data`: SHA-256, -384 or -512 only (docs/signing.md). SHA-1 is
/// not accepted for a message imprint or a signature's digest: collisions in it can be made.
fn digest(oid: &Oid, data: &[u8]) -> Option<(&'static str, Vec<u8>)> {
    Some(match *oid {
        ID_SHA256 => ("sha256", sha2::Sha256::digest(data).to_vec()),
        ID_SHA384 => ("sha384", sha2::Sha384::digest(data).to_vec()),
        ID_SHA512 => ("sha512", sha2::Sha512::digest(data).to_vec()),
        _ => return None,
    })
}

/// `ESSCertID`'s certificate hash, which RFC 2634 fixes as SHA-1: it names the signer's
/// certificate among those in the token, and the certificate is then checked on its own.
fn ess_cert_hash(cert_der: &[u8]) -> Vec<u8> {
    sha1::Sha1::digest(cert_der).to_vec()
}

/// Whether `cert` is the one the signer identifier names.
fn identifies(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(id) => {
            id.issuer == cert.tbs_certificate.issuer
                && id.serial_number == cert.tbs_certificate.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => cert
            .tbs_certificate
            .get::<SubjectKeyIdentifier>()
            .ok()
            .flatten()
            .is_some_and(|(_, own)| own.0 == ski.0),
    }
}

/// `ESSCertIDv2` (RFC 5035): the hash of the signing certificate.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<der::Any>,
}

/// `SigningCertificateV2` (RFC 5035).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<der::Any>,
}

/// `ESSCertID` (RFC 2634): the SHA-1 of the signing certificate.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct EssCertId {
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<der::Any>,
}

/// `SigningCertificate` (RFC 2634).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SigningCertificate {
    certs: Vec<EssCertId>,
    #[asn1(optional = "true")]
    policies: Option<der::Any>,
}

/// The single value of the signed attribute `oid`, if present.
fn attribute<'a>(
    attrs: &'a SetOfVec<x509_cert::attr::Attribute>,
    oid: &Oid,
) -> Option<&'a der::Any> {
    attrs
        .iter()
        .find(|a| a.oid == *oid)
        .and_then(|a| a.values.iter().next())
}

/// Checks the signed attributes (content type, message digest, signing certificate) and the TSA's
/// signature over them.
fn check_signer_info(
    info: &SignerInfo,
    content: &[u8],
    cert: &Certificate,
) -> Result<(), TimestampError> {
    let attrs = info
        .signed_attrs
        .as_ref()
        .ok_or_else(|| invalid("has no signed attributes"))?;
    let content_type: Oid = attribute(attrs, &ID_CONTENT_TYPE)
        .and_then(|v| v.decode_as().ok())
        .ok_or_else(|| invalid("has no content-type attribute"))?;
    if content_type != ID_CT_TST_INFO {
        return Err(invalid("content-type attribute is not id-ct-TSTInfo"));
    }
    let (_, content_digest) = digest(&info.digest_alg.oid, content)
        .ok_or_else(|| invalid("uses an unsupported digest algorithm"))?;
    let message_digest: OctetString = attribute(attrs, &ID_MESSAGE_DIGEST)
        .and_then(|v| v.decode_as().ok())
        .ok_or_else(|| invalid("has no message-digest attribute"))?;
    if message_digest.as_bytes() != content_digest {
        return Err(invalid(
            "message-digest attribute does not match its TSTInfo (the token was altered)",
        ));
    }
    let cert_der = cert
        .to_der()
        .map_err(|e| invalid(format!("TSA certificate cannot be encoded ({e})")))?;
    let bound = if let Some(v2) = attribute(attrs, &ID_SIGNING_CERTIFICATE_V2) {
        let v2: SigningCertificateV2 = v2.decode_as().map_err(|e| {
            invalid(format!(
                "signing-certificate-v2 attribute cannot be read ({e})"
            ))
        })?;
        v2.certs.first().is_some_and(|id| {
            let oid = id.hash_algorithm.as_ref().map_or(ID_SHA256, |a| a.oid);
            digest(&oid, &cert_der).is_some_and(|(_, h)| h == id.cert_hash.as_bytes())
        })
    } else if let Some(v1) = attribute(attrs, &ID_SIGNING_CERTIFICATE) {
        let v1: SigningCertificate = v1.decode_as().map_err(|e| {
            invalid(format!(
                "signing-certificate attribute cannot be read ({e})"
            ))
        })?;
        v1.certs
            .first()
            .is_some_and(|id| ess_cert_hash(&cert_der) == id.cert_hash.as_bytes())
    } else {
        return Err(invalid(
            "has no signing-certificate attribute (RFC 3161 requires one)",
        ));
    };
    if !bound {
        return Err(invalid(
            "signing-certificate attribute names another certificate than the one that signed it",
        ));
    }
    let signed_bytes = attrs
        .to_der()
        .map_err(|e| invalid(format!("signed attributes cannot be encoded ({e})")))?;
    verify_signature(
        cert,
        &info.signature_algorithm,
        Some(&info.digest_alg.oid),
        &signed_bytes,
        info.signature.as_bytes(),
    )
    .map_err(|e| {
        invalid(format!(
            "signature by {} is not valid: {e}",
            cert.tbs_certificate.subject
        ))
    })
}

/// Checks `signature` over `message` with `signer`'s key, for RSA PKCS#1 v1.5 and ECDSA P-256/P-384
/// with SHA-256/384/512.
fn verify_signature(
    signer: &Certificate,
    algorithm: &AlgorithmIdentifierOwned,
    digest_hint: Option<&Oid>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    let hash_oid = match algorithm.oid {
        SHA256_WITH_RSA | ECDSA_WITH_SHA256 => ID_SHA256,
        SHA384_WITH_RSA | ECDSA_WITH_SHA384 => ID_SHA384,
        SHA512_WITH_RSA | ECDSA_WITH_SHA512 => ID_SHA512,
        RSA_ENCRYPTION | EC_PUBLIC_KEY => *digest_hint.ok_or("no digest algorithm")?,
        other => return Err(format!("unsupported signature algorithm {other}")),
    };
    let (hash, hashed) = digest(&hash_oid, message).ok_or("unsupported digest algorithm")?;
    let spki = &signer.tbs_certificate.subject_public_key_info;
    let spki_der = spki.to_der().map_err(|e| e.to_string())?;
    match spki.algorithm.oid {
        RSA_ENCRYPTION => {
            use rsa::pkcs8::DecodePublicKey;
            let key =
                rsa::RsaPublicKey::from_public_key_der(&spki_der).map_err(|e| e.to_string())?;
            let scheme = match hash {
                "sha256" => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                "sha384" => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                "sha512" => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
                _ => return Err(format!("RSA with {hash} is not accepted")),
            };
            key.verify(scheme, &hashed, signature)
                .map_err(|_| "the RSA signature does not verify".to_string())
        }
        EC_PUBLIC_KEY => {
            use p256::ecdsa::signature::hazmat::PrehashVerifier;
            let curve: Oid = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as().ok())
                .ok_or("the EC key names no curve")?;
            let bad = |_| "the ECDSA signature does not verify".to_string();
            match curve {
                SECP256R1 => {
                    use p256::pkcs8::DecodePublicKey;
                    let key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki_der)
                        .map_err(|e| e.to_string())?;
                    let sig = p256::ecdsa::Signature::from_der(signature).map_err(bad)?;
                    key.verify_prehash(&hashed, &sig).map_err(bad)
                }
                SECP384R1 => {
                    use p384::pkcs8::DecodePublicKey;
                    let key = p384::ecdsa::VerifyingKey::from_public_key_der(&spki_der)
                        .map_err(|e| e.to_string())?;
                    let sig = p384::ecdsa::Signature::from_der(signature).map_err(bad)?;
                    key.verify_prehash(&hashed, &sig).map_err(bad)
                }
                other => Err(format!("unsupported curve {other}")),
            }
        }
        other => Err(format!("unsupported key algorithm {other}")),
    }
}

/// Whether `cert` is valid at `time` (seconds since the epoch).
fn valid_at(cert: &Certificate, time: std::time::Duration) -> bool {
    let validity = &cert.tbs_certificate.validity;
    validity.not_before.to_unix_duration() <= time && time <= validity.not_after.to_unix_duration()
}

/// The TSA certificate must be for time stamping only (RFC 3161 2.3) and valid at the token's time.
fn check_tsa_certificate(
    cert: &Certificate,
    gen_time: std::time::Duration,
) -> Result<(), TimestampError> {
    let subject = &cert.tbs_certificate.subject;
    match cert.tbs_certificate.get::<ExtendedKeyUsage>() {
        Ok(Some((true, eku))) if eku.0 == [ID_KP_TIME_STAMPING] => {}
        _ => {
            return Err(invalid(format!(
                "is signed by {subject}, whose certificate is not a time-stamping certificate (RFC 3161 asks for a critical extended key usage of id-kp-timeStamping only)"
            )))
        }
    }
    if !valid_at(cert, gen_time) {
        return Err(invalid(format!(
            "was made at a time the certificate of {subject} was not valid"
        )));
    }
    Ok(())
}

/// Follows issuers from `cert` through the token's and the trusted certificates until a trusted one,
/// checking each signature and validity at `time`; returns the trusted certificate's subject.
fn chain_to(
    cert: &Certificate,
    token_certs: &[&Certificate],
    trusted: &[Certificate],
    time: std::time::Duration,
) -> Result<String, TimestampError> {
    let untrusted = |top: &Certificate| {
        invalid(format!(
            "is signed by {}, whose certificate chains to {}, which is not among the certificates you trust",
            cert.tbs_certificate.subject, top.tbs_certificate.subject
        ))
    };
    let mut current = cert.clone();
    let mut seen = vec![current.clone()];
    for _ in 0..MAX_CHAIN {
        if trusted.contains(&current) {
            return Ok(current.tbs_certificate.subject.to_string());
        }
        let tbs = current.tbs_certificate.to_der().unwrap_or_default();
        let issuer = trusted
            .iter()
            .chain(token_certs.iter().copied())
            .find(|candidate| {
                candidate.tbs_certificate.subject == current.tbs_certificate.issuer
                    && is_ca(candidate)
                    && valid_at(candidate, time)
                    && verify_signature(
                        candidate,
                        &current.signature_algorithm,
                        None,
                        &tbs,
                        current.signature.raw_bytes(),
                    )
                    .is_ok()
            });
        let Some(issuer) = issuer else {
            return Err(invalid(format!(
                "is signed by {}, which does not chain to a certificate you trust: no valid issuer {} was found",
                cert.tbs_certificate.subject, current.tbs_certificate.issuer
            )));
        };
        if trusted.contains(issuer) {
            return Ok(issuer.tbs_certificate.subject.to_string());
        }
        if seen.contains(issuer) {
            // A self-signed root (or a loop) that is not trusted: the end of the chain.
            return Err(untrusted(issuer));
        }
        seen.push(issuer.clone());
        current = issuer.clone();
    }
    Err(untrusted(&current))
}

fn is_ca(cert: &Certificate) -> bool {
    matches!(
        cert.tbs_certificate.get::<BasicConstraints>(),
        Ok(Some((_, BasicConstraints { ca: true, .. })))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_is_no_imprint_or_signature_digest() {
        assert!(digest(&ID_SHA1, b"manifest").is_none());
        for oid in [ID_SHA256, ID_SHA384, ID_SHA512] {
            assert!(digest(&oid, b"manifest").is_some());
        }
        // ESSCertID keeps the SHA-1 RFC 2634 gives it.
        assert_eq!(
            hex::encode(ess_cert_hash(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }
}
