//! Signature verification with a certificate's public key: RSA PKCS #1
//! v1.5 and ECDSA over P-256 or P-384, with SHA-256/384/512. Used for the
//! TSA's signature (rule 9) and for each certificate of the chain
//! (rule 11).

use der::asn1::ObjectIdentifier;
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use rsa::pkcs1::DecodeRsaPublicKey as _;
use spki::AlgorithmIdentifierRef;

use super::cert::Cert;
use super::{HashAlg, TimestampError, oid};

/// How a signature algorithm OID is verified.
enum Scheme {
    Rsa,
    Ecdsa,
}

/// Verifies `signature` over `message` with `signer`'s public key.
///
/// `algorithm` is the signature algorithm as sent. CMS also allows bare
/// `rsaEncryption` or `id-ecPublicKey` there, with the hash given
/// separately: `default_hash` is that hash (the SignerInfo's
/// digestAlgorithm), and `None` where the algorithm must name its hash
/// (certificates). `what` names the signature in errors.
pub(crate) fn verify(
    signer: &Cert,
    algorithm: &AlgorithmIdentifierRef<'_>,
    default_hash: Option<HashAlg>,
    message: &[u8],
    signature: &[u8],
    what: &str,
) -> Result<(), TimestampError> {
    let spki = &signer.inner.tbs_certificate.subject_public_key_info;
    let key_oid = spki.algorithm.oid;
    let unsupported = || TimestampError::UnsupportedSignatureAlgorithm {
        what: what.to_owned(),
        oid: oid::describe(&algorithm.oid),
        key: oid::describe(&key_oid),
    };
    let (scheme, hash) = match algorithm.oid {
        oid::SHA256_WITH_RSA => (Scheme::Rsa, Some(HashAlg::Sha256)),
        oid::SHA384_WITH_RSA => (Scheme::Rsa, Some(HashAlg::Sha384)),
        oid::SHA512_WITH_RSA => (Scheme::Rsa, Some(HashAlg::Sha512)),
        oid::RSA_ENCRYPTION => (Scheme::Rsa, default_hash),
        oid::ECDSA_WITH_SHA256 => (Scheme::Ecdsa, Some(HashAlg::Sha256)),
        oid::ECDSA_WITH_SHA384 => (Scheme::Ecdsa, Some(HashAlg::Sha384)),
        oid::ECDSA_WITH_SHA512 => (Scheme::Ecdsa, Some(HashAlg::Sha512)),
        oid::EC_PUBLIC_KEY => (Scheme::Ecdsa, default_hash),
        _ => return Err(unsupported()),
    };
    let hash = hash.ok_or_else(unsupported)?;
    let bad_key = |detail: String| TimestampError::BadPublicKey {
        subject: signer.subject_text(),
        detail,
    };
    let key_bytes = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| bad_key("the key's BIT STRING has unused bits".into()))?;
    let digest = hash.digest(message);
    let invalid = || TimestampError::InvalidSignature {
        subject: signer.subject_text(),
    };

    match scheme {
        Scheme::Rsa => {
            if key_oid != oid::RSA_ENCRYPTION {
                return Err(unsupported());
            }
            let key = rsa::RsaPublicKey::from_pkcs1_der(key_bytes)
                .map_err(|e| bad_key(format!("not an RSA public key: {e}")))?;
            let padding = match hash {
                HashAlg::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                HashAlg::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                HashAlg::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
            };
            key.verify(padding, &digest, signature)
                .map_err(|_| invalid())
        }
        Scheme::Ecdsa => {
            if key_oid != oid::EC_PUBLIC_KEY {
                return Err(unsupported());
            }
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| bad_key("the EC key names no curve".into()))?;
            match curve {
                oid::SECP256R1 => {
                    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes)
                        .map_err(|_| bad_key("not a P-256 point".into()))?;
                    let sig = p256::ecdsa::Signature::from_der(signature).map_err(|_| invalid())?;
                    key.verify_prehash(&digest, &sig).map_err(|_| invalid())
                }
                oid::SECP384R1 => {
                    let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes)
                        .map_err(|_| bad_key("not a P-384 point".into()))?;
                    let sig = p384::ecdsa::Signature::from_der(signature).map_err(|_| invalid())?;
                    key.verify_prehash(&digest, &sig).map_err(|_| invalid())
                }
                other => Err(TimestampError::UnsupportedSignatureAlgorithm {
                    what: what.to_owned(),
                    oid: oid::describe(&algorithm.oid),
                    key: format!(
                        "{} on curve {}",
                        oid::describe(&key_oid),
                        oid::describe(&other)
                    ),
                }),
            }
        }
    }
}
