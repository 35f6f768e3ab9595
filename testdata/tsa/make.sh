#!/usr/bin/env bash
# Regenerates the RFC 3161 fixtures in this directory; README.md says what
# each file is for. Needs bash, OpenSSL 3.x and python3 (standard library).
#
# Every file name is fixed; the contents are not (fresh keys, serials and
# genTimes on each run), so the Rust tests only rely on what this script
# pins: the message, the nonce, the policies and which rule each file
# breaks. Private keys live in a temporary directory and are deleted: the
# tests need only certificates and replies.
set -euo pipefail
cd "$(dirname "$0")"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -f ./*.pem ./*.tsr ./*.tsq message.txt

printf 'Causeway RFC 3161 fixture\n' >message.txt

# The nonce every query carries. Its top bit is set so that the DER
# INTEGER needs a leading zero byte, which verifiers must ignore.
NONCE=0x8BADF00DDEADBEEF

# --- keys and certificates -------------------------------------------------

key_rsa() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }
key_ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:"$2" -out "$1"; }

# cert NAME SUBJECT_CN ISSUER_NAME SERIAL EXTENSIONS...: a certificate for
# $work/NAME.key, signed by ISSUER_NAME's key, valid for 20 years from now.
cert() {
  local name=$1 cn=$2 issuer=$3 serial=$4
  shift 4
  printf '%s\n' "$@" >"$work/$name.ext"
  openssl req -new -key "$work/$name.key" -subj "/O=Causeway Test/CN=$cn" -out "$work/$name.csr"
  openssl x509 -req -in "$work/$name.csr" -CA "$issuer.pem" -CAkey "$work/$issuer.key" \
    -set_serial "$serial" -days 7300 -sha256 -extfile "$work/$name.ext" -out "$name.pem" 2>/dev/null
}

TSA_EXT=(
  "basicConstraints=critical,CA:FALSE"
  "keyUsage=critical,digitalSignature"
  "extendedKeyUsage=critical,timeStamping"
  "subjectKeyIdentifier=hash"
)
CA_EXT=(
  "basicConstraints=critical,CA:TRUE"
  "keyUsage=critical,keyCertSign,cRLSign"
  "subjectKeyIdentifier=hash"
)

key_rsa "$work/root-ca.key"
openssl req -x509 -new -key "$work/root-ca.key" -subj "/O=Causeway Test/CN=Causeway Test Root CA" \
  -days 7300 -sha256 -set_serial 0x01 -out root-ca.pem \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

key_ec "$work/intermediate-ca.key" P-256
cert intermediate-ca "Causeway Test Intermediate CA" root-ca 0x02 \
  "basicConstraints=critical,CA:TRUE,pathlen:0" "keyUsage=critical,keyCertSign,cRLSign"

# (a) RSA-2048 TSA directly under the root.
key_rsa "$work/tsa-rsa.key"
cert tsa-rsa "Causeway Test TSA RSA" root-ca 0x10 "${TSA_EXT[@]}"
# (b) ECDSA P-256 TSA under the intermediate.
key_ec "$work/tsa-p256.key" P-256
cert tsa-p256 "Causeway Test TSA P-256" intermediate-ca 0x11 "${TSA_EXT[@]}"
# ECDSA P-384 TSA under the root (SHA-384 signer digest, ESS v1).
key_ec "$work/tsa-p384.key" P-384
cert tsa-p384 "Causeway Test TSA P-384" root-ca 0x12 "${TSA_EXT[@]}"
# ECDSA P-521: valid for OpenSSL, a curve the verifier does not support.
key_ec "$work/tsa-p521.key" P-521
cert tsa-p521 "Causeway Test TSA P-521" root-ca 0x14 "${TSA_EXT[@]}"

# (f) A TSA certificate that expired long before any reply it signs.
# `openssl x509` of OpenSSL 3.0 cannot backdate; `openssl ca` can.
key_rsa "$work/tsa-expired.key"
mkdir -p "$work/ca/new"
: >"$work/ca/index.txt"
printf '13\n' >"$work/ca/serial"
cat >"$work/ca.cnf" <<CNF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = $work/ca/index.txt
new_certs_dir = $work/ca/new
serial = $work/ca/serial
default_md = sha256
policy = any
unique_subject = no
[ any ]
organizationName = optional
commonName = supplied
CNF
printf '%s\n' "${TSA_EXT[@]}" >"$work/tsa-expired.ext"
openssl req -new -key "$work/tsa-expired.key" -subj "/O=Causeway Test/CN=Causeway Test TSA Expired" \
  -out "$work/tsa-expired.csr"
openssl ca -batch -notext -config "$work/ca.cnf" -cert root-ca.pem -keyfile "$work/root-ca.key" \
  -startdate 20200101000000Z -enddate 20210101000000Z -extfile "$work/tsa-expired.ext" \
  -in "$work/tsa-expired.csr" -out tsa-expired.pem 2>/dev/null

# An "intermediate" that is not a CA, and a TSA under it.
key_ec "$work/not-a-ca.key" P-256
cert not-a-ca "Causeway Test Not A CA" root-ca 0x20 \
  "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyCertSign"
key_ec "$work/tsa-under-not-a-ca.key" P-256
cert tsa-under-not-a-ca "Causeway Test TSA Under Not A CA" not-a-ca 0x21 "${TSA_EXT[@]}"

# A CA whose keyUsage lacks keyCertSign, and a TSA under it.
key_ec "$work/ca-no-keycertsign.key" P-256
cert ca-no-keycertsign "Causeway Test CA Without keyCertSign" root-ca 0x22 \
  "basicConstraints=critical,CA:TRUE" "keyUsage=critical,digitalSignature,cRLSign"
key_ec "$work/tsa-under-no-keycertsign.key" P-256
cert tsa-under-no-keycertsign "Causeway Test TSA Under CA Without keyCertSign" ca-no-keycertsign 0x23 \
  "${TSA_EXT[@]}"

# (c), (d), (e): certificates OpenSSL refuses to sign time stamps with, all
# for one RSA key. `openssl ts -reply` is run with a conforming certificate
# for that key (tsa-base.pem) and its reply is then re-pointed at each bad
# certificate below (see patch_signer). Serials are all 4 bytes long so the
# patch keeps every length.
key_rsa "$work/tsa-base.key"
for name in tsa-eku-noncritical tsa-is-ca tsa-eku-multi; do
  cp "$work/tsa-base.key" "$work/$name.key"
done
cert tsa-base "Causeway Test TSA Base" root-ca 0x5EC0DE01 "${TSA_EXT[@]}"
cert tsa-eku-noncritical "Causeway Test TSA Non-critical EKU" root-ca 0x5EC0DE02 \
  "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=timeStamping"
cert tsa-is-ca "Causeway Test TSA That Is A CA" root-ca 0x5EC0DE03 \
  "basicConstraints=critical,CA:TRUE" "keyUsage=critical,digitalSignature,keyCertSign" \
  "extendedKeyUsage=critical,timeStamping"
cert tsa-eku-multi "Causeway Test TSA Two Purposes" root-ca 0x5EC0DE04 \
  "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=critical,timeStamping,serverAuth"

# --- queries ---------------------------------------------------------------

# query OUT ALG POLICY CERTREQ [NONCE]: a TimeStampReq over message.txt
# with the fixed nonce (none when NONCE is "no"). `openssl ts -query` draws
# a random nonce, so the query is written with ASN1_generate_nconf instead.
query() {
  local out=$1 alg=$2 policy=$3 certreq=$4 nonce=${5:-yes} digest
  digest=$(openssl dgst -"$alg" -r message.txt | cut -d' ' -f1)
  {
    echo "asn1 = SEQUENCE:req"
    echo "[req]"
    echo "version = INTEGER:1"
    echo "imprint = SEQUENCE:imprint"
    if [ -n "$policy" ]; then echo "policy = OID:$policy"; fi
    if [ "$nonce" = yes ]; then echo "nonce = INTEGER:$NONCE"; fi
    if [ "$certreq" = yes ]; then echo "certReq = BOOLEAN:TRUE"; fi
    echo "[imprint]"
    echo "alg = SEQUENCE:alg"
    echo "digest = FORMAT:HEX,OCTETSTRING:$digest"
    echo "[alg]"
    echo "oid = OID:$alg"
    echo "params = NULL"
  } >"$work/$out.cnf"
  openssl asn1parse -genconf "$work/$out.cnf" -out "$out" >/dev/null
}
query query-sha256.tsq sha256 "" yes
query query-sha256-nocert.tsq sha256 "" no
query query-sha384-policy2.tsq sha384 1.2.3.4.2 yes
query query-bad-policy.tsq sha256 1.2.3.4.9 yes
query query-sha256-no-nonce.tsq sha256 "" yes no

# --- the TSA ---------------------------------------------------------------

# tsa_config FILE SIGNER_DIGEST ESS_ALG: an `openssl ts` configuration
# (no `certs =` line: the chain is passed with -chain where wanted).
tsa_config() {
  printf '%s\n' \
    "[ tsa ]" \
    "default_tsa = tsa_config" \
    "[ tsa_config ]" \
    "serial = $work/tsaserial" \
    "crypto_device = builtin" \
    "signer_digest = $2" \
    "default_policy = 1.2.3.4.1" \
    "other_policies = 1.2.3.4.2" \
    "digests = sha256, sha384, sha512" \
    "accuracy = secs:1" \
    "ordering = no" \
    "tsa_name = yes" \
    "ess_cert_id_chain = no" \
    "ess_cert_id_alg = $3" \
    "clock_precision_digits = 3" >"$1"
}
printf '01\n' >"$work/tsaserial"
tsa_config "$work/tsa.cnf" sha256 sha256
tsa_config "$work/tsa-p384.cnf" sha384 sha1

# reply QUERY SIGNER OUT [openssl ts -reply options...]
reply() {
  local q=$1 signer=$2 out=$3
  shift 3
  openssl ts -reply -config "${TSA_CNF:-$work/tsa.cnf}" -queryfile "$q" -signer "$signer.pem" \
    -inkey "$work/$signer.key" -out "$out" "$@" 2>/dev/null
}

reply query-sha256.tsq tsa-rsa reply-rsa.tsr
reply query-sha256.tsq tsa-p256 reply-p256.tsr -chain intermediate-ca.pem
# genTime with fractional seconds: retry until the milliseconds are not
# all zero (then OpenSSL writes no fraction at all).
for _ in 1 2 3 4 5; do
  TSA_CNF=$work/tsa-p384.cnf reply query-sha384-policy2.tsq tsa-p384 reply-p384.tsr
  openssl ts -reply -in reply-p384.tsr -text 2>/dev/null | grep -q 'Time stamp: .*:[0-9][0-9]\.[0-9]' && break
done
reply query-sha256.tsq tsa-p521 reply-p521.tsr
reply query-sha256.tsq tsa-expired reply-expired-signer.tsr
reply query-sha256.tsq tsa-under-not-a-ca reply-issuer-not-ca.tsr -chain not-a-ca.pem
reply query-sha256.tsq tsa-under-no-keycertsign reply-issuer-no-keycertsign.tsr -chain ca-no-keycertsign.pem
reply query-bad-policy.tsq tsa-rsa reply-rejection.tsr
reply query-sha256-no-nonce.tsq tsa-rsa reply-no-nonce.tsr
reply query-sha256-nocert.tsq tsa-base reply-base.tsr

# patch_signer BASE_REPLY GOOD_CERT BAD_CERT KEY OUT: re-points a reply that
# embeds no certificate from GOOD_CERT to BAD_CERT (same key, same issuer,
# serial of the same length): SignerInfo sid serial, ESS certHash and
# issuerSerial serial, then a fresh signature over the signed attributes.
patch_signer() {
  python3 - "$@" <<'PY'
import hashlib, subprocess, sys

base, good_pem, bad_pem, key, out = sys.argv[1:]

def pem_der(path):
    return subprocess.run(["openssl", "x509", "-in", path, "-outform", "DER"],
                          check=True, capture_output=True).stdout

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

def serial_tlv(cert):
    # Certificate -> tbsCertificate -> [version, serialNumber, ...]
    _, vs, ve = tlv(cert, 0)
    _, tvs, tve = tlv(cert, vs)
    version, serial = children(cert, tvs, tve)[:2]
    assert version[0] == 0xA0
    return cert[serial[1]:serial[3]]

def replace_all(buf, old, new, counts):
    assert len(old) == len(new), "a patch must keep the length"
    assert buf.count(old) in counts, (buf.count(old), counts)
    return buf.replace(old, new)

good, bad = pem_der(good_pem), pem_der(bad_pem)
data = open(base, "rb").read()
# The sid, and the ESS issuerSerial when OpenSSL writes one.
data = replace_all(data, serial_tlv(good), serial_tlv(bad), (1, 2))
data = replace_all(data, hashlib.sha256(good).digest(), hashlib.sha256(bad).digest(), (1,))

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
signed = bytearray(data[attrs[1]:attrs[3]])
signed[0] = 0x31  # signed over as SET OF, not as [0] IMPLICIT
sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key],
                     input=bytes(signed), check=True, capture_output=True).stdout
assert len(sig) == signature[3] - signature[2]
data = data[:signature[2]] + sig + data[signature[3]:]
open(out, "wb").write(data)
PY
}
patch_signer reply-base.tsr tsa-base.pem tsa-eku-noncritical.pem "$work/tsa-base.key" reply-eku-noncritical.tsr
patch_signer reply-base.tsr tsa-base.pem tsa-is-ca.pem "$work/tsa-base.key" reply-tsa-is-ca.tsr
patch_signer reply-base.tsr tsa-base.pem tsa-eku-multi.pem "$work/tsa-base.key" reply-eku-multi.tsr

# --- independent checks with OpenSSL ----------------------------------------

ok() { openssl ts -verify "$@" >/dev/null 2>&1 || { echo "openssl ts -verify $* failed" >&2; exit 1; }; }
refused() { if openssl ts -verify "$@" >/dev/null 2>&1; then echo "openssl ts -verify $* passed" >&2; exit 1; fi; }
cat root-ca.pem intermediate-ca.pem >"$work/bundle.pem"
ok -data message.txt -in reply-rsa.tsr -CAfile root-ca.pem
ok -data message.txt -in reply-p256.tsr -CAfile root-ca.pem
ok -data message.txt -in reply-p384.tsr -CAfile root-ca.pem
ok -data message.txt -in reply-no-nonce.tsr -CAfile root-ca.pem
ok -data message.txt -in reply-p521.tsr -CAfile root-ca.pem
ok -data message.txt -in reply-base.tsr -CAfile root-ca.pem -untrusted tsa-base.pem
refused -data message.txt -in reply-expired-signer.tsr -CAfile root-ca.pem
refused -data message.txt -in reply-issuer-not-ca.tsr -CAfile root-ca.pem
refused -data message.txt -in reply-issuer-no-keycertsign.tsr -CAfile root-ca.pem
refused -data message.txt -in reply-eku-noncritical.tsr -CAfile root-ca.pem -untrusted tsa-eku-noncritical.pem
refused -data message.txt -in reply-tsa-is-ca.tsr -CAfile root-ca.pem -untrusted tsa-is-ca.pem
refused -data message.txt -in reply-eku-multi.tsr -CAfile root-ca.pem -untrusted tsa-eku-multi.pem
openssl ts -reply -in reply-rejection.tsr -text 2>/dev/null | grep -q 'Status: Rejected'
echo "fixtures written to $(pwd)"
