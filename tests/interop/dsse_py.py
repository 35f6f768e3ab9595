"""Independent check of a Causeway record envelope with Python's
`cryptography`: DSSE PAE ("DSSEv1" SP len(type) SP type SP len(body) SP
body), an ECDSA P-256 / SHA-256 DER signature over it, and key ID = hex
SHA-256 of the DER SubjectPublicKeyInfo.
Reads {"envelope": <DSSE JSON>, "public_key": <base64 DER SPKI>} on stdin,
prints "ok <payloadType>" or exits 1."""

import base64
import hashlib
import json
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def pae(payload_type: bytes, body: bytes) -> bytes:
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(body), body)


def main() -> None:
    job = json.load(sys.stdin)
    envelope = job["envelope"]
    spki = base64.b64decode(job["public_key"])
    key = serialization.load_der_public_key(spki)
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        sys.exit("not a P-256 key")
    payload_type = envelope["payloadType"].encode()
    body = base64.b64decode(envelope["payload"])
    signatures = envelope["signatures"]
    if len(signatures) != 1:
        sys.exit(f"expected one signature, got {len(signatures)}")
    if signatures[0]["keyid"] != hashlib.sha256(spki).hexdigest():
        sys.exit("keyid is not SHA-256 of the SPKI")
    key.verify(base64.b64decode(signatures[0]["sig"]), pae(payload_type, body), ec.ECDSA(hashes.SHA256()))
    print("ok", envelope["payloadType"])


if __name__ == "__main__":
    main()
