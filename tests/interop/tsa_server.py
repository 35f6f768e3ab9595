"""A real RFC 3161 time-stamp authority for the integration tests: OpenSSL's
`openssl ts -reply` behind a small HTTP server. OpenSSL does the
timestamping; this script only creates the keys and certificates, moves
bytes and can be told to misbehave.

Usage: python3 tsa_server.py DIR KEYTYPE [PORT]
  DIR      working directory (keys, certificates, config); created if needed
  KEYTYPE  "ec" (ECDSA P-256) or "rsa" (RSA-2048)
  PORT     listen port on 127.0.0.1 (default 0: any free port)

Prints "ready port=<port> roots=<DIR>/ca.pem" once listening. Requests:
  POST /          a DER TimeStampReq (application/timestamp-query); answers
                  a DER TimeStampResp (application/timestamp-reply)
  POST /mode      body "ok", "garbage", "wrong-nonce", "no-nonce",
                  "rejection", "slow" or "error": how to answer from now on
"""

import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time

CNF = """
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = placeholder
[ ca_ext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ tsa_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = {dir}/serial
crypto_device = builtin
signer_cert = {dir}/tsa.pem
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
other_policies = 1.3.6.1.4.1.99999.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def run(*args, **kw):
    subprocess.run(args, check=True, capture_output=True, **kw)


def keygen(path, keytype):
    if keytype == "ec":
        run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    else:
        run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path)


def setup(d, keytype):
    os.makedirs(d, exist_ok=True)
    cnf = os.path.join(d, "tsa.cnf")
    if os.path.exists(os.path.join(d, "tsa.pem")):
        return cnf
    with open(cnf, "w") as f:
        f.write(CNF.replace("{dir}", d))
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("01\n")
    keygen(os.path.join(d, "ca.key"), keytype)
    run("openssl", "req", "-new", "-x509", "-days", "3650", "-key", os.path.join(d, "ca.key"),
        "-subj", f"/O=Causeway tests/CN=Test TSA Root ({keytype})", "-config", cnf,
        "-extensions", "ca_ext", "-out", os.path.join(d, "ca.pem"))
    keygen(os.path.join(d, "tsa.key"), keytype)
    run("openssl", "req", "-new", "-key", os.path.join(d, "tsa.key"),
        "-subj", f"/O=Causeway tests/CN=Test TSA ({keytype})", "-config", cnf,
        "-out", os.path.join(d, "tsa.csr"))
    run("openssl", "x509", "-req", "-in", os.path.join(d, "tsa.csr"), "-days", "3650",
        "-CA", os.path.join(d, "ca.pem"), "-CAkey", os.path.join(d, "ca.key"), "-CAcreateserial",
        "-extfile", cnf, "-extensions", "tsa_ext", "-out", os.path.join(d, "tsa.pem"))
    return cnf


SHA256_OID = bytes.fromhex("0609608648016503040201")


def sha256_imprint(query):
    """The SHA-256 hashedMessage of a DER TimeStampReq: the OCTET STRING
    (04 20) after the sha256 AlgorithmIdentifier, parameters NULL or absent."""
    at = query.index(SHA256_OID) + len(SHA256_OID)
    if query[at:at + 2] == b"\x05\x00":
        at += 2
    if query[at:at + 2] != b"\x04\x20":
        raise ValueError("not a SHA-256 TimeStampReq")
    return query[at + 2:at + 34]


class State:
    mode = "ok"
    lock = threading.Lock()


def make_handler(d, cnf):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body, ctype="application/timestamp-reply"):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/mode":
                State.mode = body.decode().strip()
                return self.reply(200, b"ok\n", "text/plain")
            mode = State.mode
            if mode == "error":
                return self.reply(503, b"TSA unavailable\n", "text/plain")
            if mode == "garbage":
                return self.reply(200, os.urandom(300))
            if mode == "slow":
                time.sleep(30)
            with tempfile.TemporaryDirectory() as tmp:
                query = os.path.join(tmp, "q.tsq")
                if mode in ("wrong-nonce", "no-nonce"):
                    # Re-ask for the same imprint with another nonce (or none).
                    digest = sha256_imprint(body).hex()
                    args = ["openssl", "ts", "-query", "-digest", digest, "-sha256", "-cert", "-out", query]
                    if mode == "no-nonce":
                        args.append("-no_nonce")
                    run(*args)
                else:
                    with open(query, "wb") as f:
                        f.write(body)
                out = os.path.join(tmp, "r.tsr")
                args = ["openssl", "ts", "-reply", "-config", cnf, "-queryfile", query, "-out", out]
                if mode == "rejection":
                    # A SHA-1 query (not in `digests`) makes OpenSSL answer
                    # "rejection" (badAlg).
                    run("openssl", "ts", "-query", "-sha1", "-digest", "00" * 20, "-cert",
                        "-out", query)
                with State.lock:
                    result = subprocess.run(args, capture_output=True)
                if result.returncode != 0 or not os.path.exists(out):
                    return self.reply(500, result.stderr, "text/plain")
                with open(out, "rb") as f:
                    return self.reply(200, f.read())

    return Handler


def main():
    d = os.path.abspath(sys.argv[1])
    keytype = sys.argv[2]
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    cnf = setup(d, keytype)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), make_handler(d, cnf))
    print(f"ready port={server.server_address[1]} roots={d}/ca.pem", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
