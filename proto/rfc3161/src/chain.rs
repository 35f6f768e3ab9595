//! Rule 11: a path from the signer certificate to a trusted root.
//!
//! The path is searched depth first over every certificate the reply
//! carries and every trusted root, so that a decoy certificate with the
//! right issuer name (a bag may hold anything) cannot hide the real
//! issuer: a candidate issuer must have the name *and* a key that verifies
//! the certificate's signature. The search stops at the first certificate
//! that is one of the trusted roots, byte for byte.

use spki::AlgorithmIdentifierRef;

use super::TimestampError;
use super::cert::{Cert, TrustedRoots, name_text};
use super::signature;
use super::time::{GenTime, rfc3339};

/// The longest path, signer and root included.
pub(crate) const MAX_DEPTH: usize = 8;

/// The most certificate signatures one search verifies. Certificates that
/// share one name and one key all verify each other, so without a budget
/// a crafted reply could make the search try every ordering of them.
pub(crate) const MAX_SIGNATURE_CHECKS: usize = 64;

/// Builds a path from `signer` to one of `roots` through `pool` (the
/// reply's certificates, then the roots) and returns its length, signer
/// and root included.
pub(crate) fn build(
    signer: &Cert,
    pool: &[&Cert],
    roots: &TrustedRoots,
    gen_time: &GenTime,
) -> Result<usize, TimestampError> {
    check_validity(signer, gen_time)?;
    let mut search = Search {
        pool,
        roots,
        gen_time,
        first_error: None,
        hit_limit: false,
        budget: MAX_SIGNATURE_CHECKS,
    };
    let mut path = vec![signer];
    if let Some(len) = search.extend(&mut path) {
        return Ok(len);
    }
    // A specific reason (an expired or non-CA issuer) says more than "no
    // path": report the first one met.
    Err(search
        .first_error
        .unwrap_or_else(|| TimestampError::NoChain {
            issuer: name_text(signer.issuer()),
            too_long: search.hit_limit,
        }))
}

struct Search<'s, 'c> {
    pool: &'s [&'c Cert],
    roots: &'s TrustedRoots,
    gen_time: &'s GenTime,
    first_error: Option<TimestampError>,
    /// Whether the depth limit or the signature budget cut the search.
    hit_limit: bool,
    /// Signature checks left.
    budget: usize,
}

impl<'c> Search<'_, 'c> {
    /// Tries every issuer of the path's last certificate; returns the
    /// length of the first complete path.
    fn extend(&mut self, path: &mut Vec<&'c Cert>) -> Option<usize> {
        let child = *path.last()?;
        if path.len() >= MAX_DEPTH {
            self.hit_limit = true;
            return None;
        }
        let pool = self.pool;
        for &candidate in pool {
            if candidate.subject() != child.issuer() || path.iter().any(|c| c.der == candidate.der)
            {
                continue;
            }
            if self.budget == 0 {
                self.hit_limit = true;
                return None;
            }
            self.budget -= 1;
            match issued(child, candidate) {
                Ok(()) => {}
                // Not this issuer (another key with the same name).
                Err(TimestampError::InvalidSignature { .. }) => continue,
                Err(e) => {
                    self.first_error.get_or_insert(e);
                    continue;
                }
            }
            if let Err(e) = self.check_issuer(candidate, path) {
                self.first_error.get_or_insert(e);
                continue;
            }
            if self.roots.contains(candidate) {
                return Some(path.len() + 1);
            }
            path.push(candidate);
            let found = self.extend(path);
            path.pop();
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// What an issuer in the path must be: valid at genTime, a CA, allowed
    /// to sign certificates, and not below its path length limit. Trusted
    /// roots are checked too: they are trusted to be who they are, not to
    /// be used outside their constraints.
    fn check_issuer(&self, issuer: &Cert, path: &[&Cert]) -> Result<(), TimestampError> {
        check_validity(issuer, self.gen_time)?;
        if !issuer.is_ca()? {
            return Err(TimestampError::IssuerNotCa {
                subject: issuer.subject_text(),
            });
        }
        if let Some(usage) = issuer.key_usage()?
            && !usage.key_cert_sign()
        {
            return Err(TimestampError::IssuerWithoutKeyCertSign {
                subject: issuer.subject_text(),
            });
        }
        if let Some(max) = issuer.path_len_constraint()? {
            // Intermediate CAs between this issuer and the signer;
            // self-issued ones do not count (RFC 5280 §4.2.1.9).
            let below = path.iter().skip(1).filter(|c| !c.is_self_issued()).count();
            if below > usize::from(max) {
                return Err(TimestampError::PathLengthExceeded {
                    subject: issuer.subject_text(),
                    max,
                    found: below,
                });
            }
        }
        Ok(())
    }
}

/// Whether `issuer`'s key signed `child`.
fn issued(child: &Cert, issuer: &Cert) -> Result<(), TimestampError> {
    let algorithm = &child.inner.signature_algorithm;
    // RFC 5280 §4.1.1.2: the outer algorithm must equal the signed one;
    // otherwise the outer one could be swapped for a weaker one.
    if *algorithm != child.inner.tbs_certificate.signature {
        return Err(TimestampError::BadCertificate {
            which: child.subject_text(),
            detail: "its signatureAlgorithm differs from tbsCertificate.signature".into(),
        });
    }
    let signature =
        child
            .inner
            .signature
            .as_bytes()
            .ok_or_else(|| TimestampError::BadCertificate {
                which: child.subject_text(),
                detail: "its signature BIT STRING has unused bits".into(),
            })?;
    let algorithm = AlgorithmIdentifierRef {
        oid: algorithm.oid,
        parameters: algorithm.parameters.as_ref().map(Into::into),
    };
    signature::verify(
        issuer,
        &algorithm,
        None,
        &child.tbs,
        signature,
        &format!("the certificate of {}", child.subject_text()),
    )
}

/// notBefore <= genTime <= notAfter, with genTime's fraction counted.
pub(crate) fn check_validity(cert: &Cert, gen_time: &GenTime) -> Result<(), TimestampError> {
    let (not_before, not_after) = cert.validity();
    let after_end =
        gen_time.unix > not_after || (gen_time.unix == not_after && gen_time.has_fraction());
    if gen_time.unix < not_before || after_end {
        return Err(TimestampError::NotValidAtGenTime {
            subject: cert.subject_text(),
            gen_time: gen_time.rfc3339(),
            not_before: rfc3339(not_before),
            not_after: rfc3339(not_after),
        });
    }
    Ok(())
}
