//! Who is calling: the names in the client certificate that mutual TLS
//! verified (its subject CN and DNS SANs).

use der::Decode as _;
use tonic::{Request, Status};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

/// The names of the caller's certificate.
///
/// # Errors
/// UNAUTHENTICATED without a client certificate (the TLS layer requires
/// one, so this is a safety net), or when it cannot be read.
pub fn names<T>(request: &Request<T>) -> Result<Vec<String>, Status> {
    let certs = request.peer_certs().ok_or_else(|| {
        Status::unauthenticated(
            "no client certificate: connect with mutual TLS and a certificate the issuer's \
             tls.client_ca issued",
        )
    })?;
    let leaf = certs
        .first()
        .ok_or_else(|| Status::unauthenticated("the client certificate chain is empty"))?;
    let cert = Certificate::from_der(leaf.as_ref())
        .map_err(|e| Status::unauthenticated(format!("unreadable client certificate: {e}")))?;
    let mut out = Vec::new();
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid == const_oid::db::rfc4519::CN {
                if let Ok(s) = atv.value.decode_as::<der::asn1::Utf8StringRef<'_>>() {
                    out.push(s.as_str().to_owned());
                } else if let Ok(s) = atv.value.decode_as::<der::asn1::PrintableStringRef<'_>>() {
                    out.push(s.as_str().to_owned());
                }
            }
        }
    }
    if let Ok(Some((_, san))) = cert.tbs_certificate.get::<SubjectAltName>() {
        for name in san.0 {
            if let GeneralName::DnsName(dns) = name {
                out.push(dns.as_str().to_owned());
            }
        }
    }
    Ok(out)
}
