"""Independent check of cosignature/v1 (c2sp.org/tlog-cosignature) with
Python's `cryptography`: the witness vkey is type 0x04 with key ID
SHA-256(name || 0x0A || 0x04 || key)[:4]; the signature line carries
key ID || u64 big-endian time || Ed25519 signature over
"cosignature/v1\\ntime <t>\\n" followed by the checkpoint text.
Reads {"vkey", "note"} on stdin, prints "ok <time>" or exits 1."""

import base64
import hashlib
import json
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def main() -> None:
    job = json.load(sys.stdin)
    name, key_id_hex, material = job["vkey"].split("+", 2)
    blob = base64.b64decode(material)
    if blob[0] != 0x04 or len(blob) != 33:
        sys.exit("not a cosignature/v1 (0x04) Ed25519 vkey")
    key_id = hashlib.sha256(name.encode() + b"\n" + blob).digest()[:4]
    if key_id.hex() != key_id_hex:
        sys.exit(f"key ID {key_id_hex} != SHA-256(name, 0x0A, 0x04, key)[:4] {key_id.hex()}")
    public_key = Ed25519PublicKey.from_public_bytes(blob[1:])
    text, _, signatures = job["note"].rpartition("\n\n")
    text += "\n"
    prefix = "\u2014 " + name + " "
    for line in signatures.splitlines():
        if not line.startswith(prefix):
            continue
        sig = base64.b64decode(line[len(prefix):])
        if sig[:4] != key_id or len(sig) != 4 + 8 + 64:
            continue
        (time,) = struct.unpack(">Q", sig[4:12])
        message = f"cosignature/v1\ntime {time}\n{text}".encode()
        public_key.verify(sig[12:], message)
        print(f"ok {time}")
        return
    sys.exit("no cosignature from that witness")


if __name__ == "__main__":
    main()
