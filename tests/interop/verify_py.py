"""Independent check of Causeway's ECDSA P-256 note signatures (type 0x02)
with Python's `cryptography`: key ID = SHA-256(DER SPKI)[:4], signature =
DER ECDSA over SHA-256 of the note text. Reads {"vkey", "note"} on stdin,
prints "ok" or exits 1."""

import base64
import hashlib
import json
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def main() -> None:
    job = json.load(sys.stdin)
    name, key_id_hex, material = job["vkey"].split("+", 2)
    blob = base64.b64decode(material)
    if blob[0] != 0x02:
        sys.exit("not an ECDSA (0x02) vkey")
    spki = blob[1:]
    key_id = hashlib.sha256(spki).digest()[:4]
    if key_id.hex() != key_id_hex:
        sys.exit(f"key ID {key_id_hex} != SHA-256(SPKI)[:4] {key_id.hex()}")
    public_key = serialization.load_der_public_key(spki)
    note = job["note"]
    text, _, signatures = note.rpartition("\n\n")
    text += "\n"
    found = False
    for line in signatures.splitlines():
        prefix = "\u2014 " + name + " "
        if not line.startswith(prefix):
            continue
        sig = base64.b64decode(line[len(prefix):])
        if sig[:4] != key_id:
            continue
        public_key.verify(sig[4:], text.encode(), ec.ECDSA(hashes.SHA256()))
        found = True
    if not found:
        sys.exit("no signature by the ECDSA key")
    print("ok")


if __name__ == "__main__":
    main()
