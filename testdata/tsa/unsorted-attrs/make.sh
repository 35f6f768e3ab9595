#!/usr/bin/env bash
# Makes reply.tsr: a real `openssl ts -reply` whose signed attributes are
# then put out of DER SET OF order and signed again, and root-ca.pem, the
# root it chains to. README.md says why. Needs bash, OpenSSL 3.x and python3
# (standard library). Private keys live in a temporary directory and are
# deleted. Uses ../query-sha256.tsq and ../message.txt, which ../make.sh
# writes the same way on every run.
set -euo pipefail
cd "$(dirname "$0")"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/root.key" 2>/dev/null
openssl req -x509 -new -key "$work/root.key" -subj "/O=Causeway Test/CN=Causeway Test Root CA Unsorted" \
  -days 7300 -sha256 -set_serial 0x01 -out root-ca.pem \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

# RSA, so that the new signature has the length of the old one and no
# length around it changes.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/tsa.key" 2>/dev/null
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=critical,timeStamping" "subjectKeyIdentifier=hash" >"$work/tsa.ext"
openssl req -new -key "$work/tsa.key" -subj "/O=Causeway Test/CN=Causeway Test TSA Unsorted" \
  -out "$work/tsa.csr"
openssl x509 -req -in "$work/tsa.csr" -CA root-ca.pem -CAkey "$work/root.key" -set_serial 0x30 \
  -days 7300 -sha256 -extfile "$work/tsa.ext" -out "$work/tsa.pem" 2>/dev/null

printf '%s\n' "[ tsa ]" "default_tsa = tsa_config" "[ tsa_config ]" \
  "serial = $work/tsaserial" "crypto_device = builtin" "signer_digest = sha256" \
  "default_policy = 1.2.3.4.1" "digests = sha256" "accuracy = secs:1" "ordering = no" \
  "tsa_name = yes" "ess_cert_id_chain = no" "ess_cert_id_alg = sha256" >"$work/tsa.cnf"
printf '01\n' >"$work/tsaserial"
openssl ts -reply -config "$work/tsa.cnf" -queryfile ../query-sha256.tsq -signer "$work/tsa.pem" \
  -inkey "$work/tsa.key" -out "$work/sorted.tsr" 2>/dev/null

python3 - "$work/sorted.tsr" "$work/tsa.key" reply.tsr <<'PY'
import subprocess, sys

base, key, out = sys.argv[1:]

def tlv(buf, off):
    """(tag, value start, value end) of the DER element at off."""
    tag, first = buf[off], buf[off + 1]
    if first < 0x80:
        return tag, off + 2, off + 2 + first
    n = first & 0x7F
    length = int.from_bytes(buf[off + 2:off + 2 + n], "big")
    return tag, off + 2 + n, off + 2 + n + length

def children(buf, start, end):
    out, off = [], start
    while off < end:
        tag, vs, ve = tlv(buf, off)
        out.append((tag, off, vs, ve))
        off = ve
    return out

def der_sorted(elements):
    # X.690 11.6: SET OF elements in ascending order of their encodings.
    width = max(map(len, elements))
    return sorted(elements, key=lambda e: e.ljust(width, b"\0"))

data = open(base, "rb").read()
# TimeStampResp -> token -> [0] -> SignedData -> signerInfos -> SignerInfo
_, vs, ve = tlv(data, 0)
token = children(data, vs, ve)[1]
content = children(data, token[2], token[3])[1]
signed_data = children(data, content[2], content[3])[0]
signer_infos = children(data, signed_data[2], signed_data[3])[-1]
signer_info = children(data, signer_infos[2], signer_infos[3])[0]
fields = children(data, signer_info[2], signer_info[3])
attrs = next(f for f in fields if f[0] == 0xA0)
signature = fields[-1] if fields[-1][0] == 0x04 else fields[-2]
assert signature[0] == 0x04

elements = [data[s:e] for _, s, _, e in children(data, attrs[2], attrs[3])]
# OpenSSL writes contentType, signingTime, messageDigest,
# signingCertificateV2: DER order. Swap the middle two, the order RFC 5652
# lists them in and many signers write them.
assert elements == der_sorted(elements) and len(elements) == 4, "OpenSSL sorted them"
oids = [e[4:13] for e in elements]  # the 9-byte PKCS #9 OIDs
assert oids[1].endswith(bytes.fromhex("0905")) and oids[2].endswith(bytes.fromhex("0904")), oids
elements = [elements[0], elements[2], elements[1], elements[3]]
assert elements != der_sorted(elements)
data = data[:attrs[2]] + b"".join(elements) + data[attrs[3]:]

signed = bytearray(data[attrs[1]:attrs[3]])
signed[0] = 0x31  # signed over as SET OF, not as [0] IMPLICIT
sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key],
                     input=bytes(signed), check=True, capture_output=True).stdout
assert len(sig) == signature[3] - signature[2]
data = data[:signature[2]] + sig + data[signature[3]:]
open(out, "wb").write(data)
PY

# OpenSSL verifies signed attributes in the order received.
openssl ts -verify -data ../message.txt -in reply.tsr -CAfile root-ca.pem >/dev/null
echo "written: $(pwd)/reply.tsr, root-ca.pem"
