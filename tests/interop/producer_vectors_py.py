"""Independent check of the producer vectors (testdata/vectors/producer/)
with Python's standard library and `cryptography`, following
docs/producers.md alone: for every vector, the PAE is rebuilt from the
payload, the key ID is hex SHA-256 of the DER SPKI, the signature is DER
ECDSA P-256 over SHA-256 of the PAE, the entry is the protobuf Envelope
{1: payload_type, 2: payload, 3: {1: keyid, 2: sig}} with fields in order,
and the leaf hash is SHA-256(0x00 || entry).

Reads the vectors file path on stdin; prints "ok <n>" or exits 1."""

import base64
import hashlib
import json
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number: int, value: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2); empty ones are omitted."""
    if not value:
        return b""
    return varint(number << 3 | 2) + varint(len(value)) + value


def pae(payload_type: bytes, body: bytes) -> bytes:
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(body), body)


def main() -> None:
    doc = json.load(open(sys.stdin.read().strip()))
    payload_type = doc["payload_type"].encode()
    spki = base64.b64decode(doc["public_key"])
    key = serialization.load_der_public_key(spki)
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        sys.exit("not a P-256 key")
    keyid = hashlib.sha256(spki).hexdigest()
    for v in doc["vectors"]:
        name = v["name"]
        payload = bytes.fromhex(v["payload"])
        sig = bytes.fromhex(v["sig"])
        if pae(payload_type, payload) != bytes.fromhex(v["pae"]):
            sys.exit(f"{name}: PAE differs")
        if v["keyid"] != keyid:
            sys.exit(f"{name}: key ID differs")
        key.verify(sig, pae(payload_type, payload), ec.ECDSA(hashes.SHA256()))
        signature = field(1, keyid.encode()) + field(2, sig)
        entry = field(1, payload_type) + field(2, payload) + field(3, signature)
        if entry != bytes.fromhex(v["entry"]):
            sys.exit(f"{name}: envelope bytes differ")
        if hashlib.sha256(b"\x00" + entry).hexdigest() != v["leaf_hash"]:
            sys.exit(f"{name}: leaf hash differs")
    print(f"ok {len(doc['vectors'])}")


if __name__ == "__main__":
    main()
