"""Verifier.bundle and Verifier.tiles against a real causeway-server: a
proof bundle the real `causeway prove bundle` wrote verifies (under the
log's producer policy too, and with its RFC 3161 anchor under the roots
of the real TSA that made it, and with the cosignature of the real witness
that cosigned it); the same bundle with one byte of its record
changed, or with its checkpoint signed by a key the verifier does not
know, does not; entries submitted through the SDK verify from the log's
tiles alone, across a full and a partial tile, and a wrong leaf hash, or
a mirror that changes one byte of a tile or of the checkpoint, does not; the SDK README's verification snippet runs as written."""

import base64
import datetime as dt
import hashlib
import http.server
import json
import os
import re
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import causeway

ROOT = Path(__file__).resolve().parents[3]
NOW = lambda: dt.datetime.now(dt.timezone.utc)  # noqa: E731


def approval(ticket):
    return causeway.authorization(
        approver="alice@example.com", approver_issuer="https://sso.example.com", ticket=ticket,
        objective="rotate the API key", method="pipeline", test_approach="canary",
        backout="roll back", targets=["prod/api"], actions=["deploy"],
        not_after=NOW() + dt.timedelta(hours=1),
    )


def chain(log):
    """An authorization, its preflight, a credential and an action under
    it, each by its own producer: the action's receipt and its ancestors'."""
    producer = lambda name: causeway.Producer(log.url, log.keys[name].pem, log_vkeys=log.vkeys)  # noqa: E731
    auth = producer("alice").submit(approval("CHG-B"))
    pre = producer("verifier").submit(causeway.preflight(
        auth, [{"name": "osv", "result": "pass", "detail": "0 advisories", "cves": []}], "pass"))
    agent = causeway.new_key()
    cred = producer("issuer").submit(causeway.credential(
        auth, preflight=pre, serial="jit-b", agent_id="agent://acme/coder",
        session_public_key_der=agent.public_der, targets=["prod/api"], actions=["deploy"],
        expires_at=NOW() + dt.timedelta(minutes=30)))
    act = causeway.Producer(log.url, agent.pem, log_vkeys=log.vkeys).submit(
        causeway.action(cred, 1, "kubectl", "prod/api", "rollout api v2", operation="deploy"))
    # `causeway prove bundle` proves against the published tree.
    published(causeway.Verifier(log.vkeys).tiles(log.tiles_url), act.index + 1)
    return act, [auth, pre, cred]


def prove(log, leaf_hash, out):
    """The bundle `causeway prove bundle` writes for a leaf, as text."""
    cli = os.environ.get("CAUSEWAY_CLI")
    if not cli:
        pytest.fail("set CAUSEWAY_CLI to the causeway binary (cargo build -p causeway-client --bins)")
    args = [cli, "prove", "bundle", "--log", log.url, "--leaf-hash", leaf_hash, "--out", str(out)]
    for v in log.vkeys:
        args += ["--vkey", v]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out.read_text()


def ed25519_vkey(name, kind):
    """A fresh Ed25519 key and its C2SP verifier key under `name`: `kind`
    0x01 signs notes, 0x04 cosignatures (c2sp.org/signed-note,
    tlog-cosignature). The key ID is the first 4 bytes of
    SHA-256(name || 0x0A || kind || public key)."""
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_id = hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public).digest()[:4]
    typed_key = base64.b64encode(bytes([kind]) + public).decode()
    return key, key_id, f"{name}+{key_id.hex()}+{typed_key}"


def resigned(note):
    """The checkpoint note's body signed, instead of by the log's keys, by
    a fresh Ed25519 key under the log's name: (note, that key's vkey)."""
    body = note.split("\n\n", 1)[0] + "\n"
    name = note.split("\n\n", 1)[1].split(" ")[1]
    key, key_id, vkey = ed25519_vkey(name, 0x01)
    signature = base64.b64encode(key_id + key.sign(body.encode())).decode()
    return f"{body}\n\u2014 {name} {signature}\n", vkey


def published(tiles, size):
    """The tiles' checkpoint once it covers `size` entries: the tiles, like
    the log's reads, serve the published tree, which may follow the
    acknowledgement (with witnesses, it waits for their cosignatures)."""
    deadline = time.monotonic() + 30
    while (cp := tiles.checkpoint()).size < size:
        assert time.monotonic() < deadline, f"the tiles still serve size {cp.size}"
        time.sleep(0.05)
    return cp


def test_a_bundle_the_cli_wrote_verifies_with_its_record_and_ancestors(log, tmp_path):
    act, ancestors = chain(log)
    text = prove(log, act.leaf_hash, tmp_path / "action.bundle")
    verifier = causeway.Verifier(log.vkeys)
    report = verifier.bundle(text, policy=(log.dir / "policy.toml").read_text())
    assert (report.index, report.leaf_hash, report.kind) == (act.index, act.leaf_hash, "action")
    assert [(a.index, a.leaf_hash, a.kind) for a in report.ancestors] == [
        (r.index, r.leaf_hash, r.kind) for r in ancestors]
    assert report.records_verified
    assert report.checkpoint.size > act.index and report.checkpoint.origin == "test.causeway/log"
    assert verifier.checkpoint(report.checkpoint.note).root == report.checkpoint.root
    # This log has no TSA or witnesses: nothing anchored, nothing cosigned.
    assert not report.has_anchor and not report.anchor_verified and report.anchored_at is None
    assert report.cosigned == ()
    # Under a policy that does not let the issuer sign credentials, the
    # same bundle's credential is refused.
    strict = (log.dir / "policy.toml").read_text().replace('role = "issuer"', 'role = "verifier"')
    with pytest.raises(causeway.VerificationError, match=f"record {ancestors[2].index} does not verify: .*not credential"):
        verifier.bundle(text, policy=strict)
    # Bytes are read as the file's UTF-8; without a policy the records'
    # signatures are not checked, and the report says so.
    plain = verifier.bundle(text.encode())
    assert plain.index == act.index and not plain.records_verified


def test_a_bundle_with_one_byte_of_its_record_changed_does_not_verify(log, tmp_path):
    act, _ = chain(log)
    text = prove(log, act.leaf_hash, tmp_path / "action.bundle")
    item = next(e for e in json.loads(text)["entries"] if e["index"] == act.index)
    entry = bytearray(base64.b64decode(item["entry"]))
    entry[len(entry) // 2] ^= 0x01
    tampered = text.replace(item["entry"], base64.b64encode(bytes(entry)).decode())
    assert tampered != text
    with pytest.raises(causeway.VerificationError, match=f"entry {act.index} is not in the checkpoint's tree"):
        causeway.Verifier(log.vkeys).bundle(tampered)
    # Naming another leaf than the record's is refused too.
    other = next(e for e in json.loads(text)["entries"] if e["index"] != act.index)
    # (The field only: the record's leaf hash is also in its neighbours' proofs.)
    named = f'"leaf_hash":"{act.leaf_hash}"'
    assert named in text
    renamed = text.replace(named, f'"leaf_hash":"{causeway._native.leaf_hash(base64.b64decode(other["entry"]))}"')
    with pytest.raises(causeway.VerificationError, match="does not have the leaf hash the bundle names"):
        causeway.Verifier(log.vkeys).bundle(renamed)
    with pytest.raises(causeway.VerificationError, match="not a causeway-proof-bundle"):
        causeway.Verifier(log.vkeys).bundle(text.replace("causeway-proof-bundle/v1", "other/v1"))
    with pytest.raises(causeway.VerificationError, match="not UTF-8"):
        causeway.Verifier(log.vkeys).bundle(b"\xff" + text.encode())


def test_a_bundle_whose_checkpoint_an_unknown_key_signed_does_not_verify(log, tmp_path):
    act, _ = chain(log)
    text = prove(log, act.leaf_hash, tmp_path / "action.bundle")
    note = json.loads(text)["checkpoint"]
    forged, forger = resigned(note)
    # The same tree, signed under the log's name by another key.
    quoted = lambda s: json.dumps(s, ensure_ascii=False)[1:-1]  # noqa: E731
    forged_text = text.replace(quoted(note), quoted(forged))
    assert json.loads(forged_text)["checkpoint"] == forged
    with pytest.raises(causeway.VerificationError, match="checkpoint does not verify"):
        causeway.Verifier(log.vkeys).bundle(forged_text)
    # The forgery itself is well made: a verifier that trusts that key
    # accepts it, so the refusal above was the key and nothing else.
    assert causeway.Verifier([forger]).bundle(forged_text).index == act.index
    # And the log's own bundle is refused by a verifier of another log.
    with pytest.raises(causeway.VerificationError):
        causeway.Verifier([forger]).bundle(text)


def test_an_anchored_bundle_says_when_its_tree_existed_under_the_tsa_roots(anchored_log, tmp_path):
    log = anchored_log
    act, _ = chain(log)
    # The log anchors each published checkpoint; the bundle is proved
    # against the latest anchored one that covers the record.
    deadline = time.monotonic() + 30
    while json.loads(text := prove(log, act.leaf_hash, tmp_path / "action.bundle"))["anchor"] is None:
        assert time.monotonic() < deadline, "the log did not anchor the record"
        time.sleep(0.1)
    roots = log.tsa.roots.read_bytes()
    report = causeway.Verifier(log.vkeys).bundle(text, tsa_roots=roots)
    assert report.has_anchor and report.anchor_verified and report.index == act.index
    anchored_at = dt.datetime.fromisoformat(report.anchored_at.replace("Z", "+00:00"))
    assert abs(anchored_at - NOW()) < dt.timedelta(minutes=5)
    assert report.anchor_signer and "CN=" in report.anchor_signer
    # Without roots the anchor is carried but not verified, and says so.
    unchecked = causeway.Verifier(log.vkeys).bundle(text)
    assert unchecked.has_anchor and not unchecked.anchor_verified and unchecked.anchored_at is None
    # Another TSA's roots do not vouch for this one.
    other = (ROOT / "testdata/vectors/rfc3161/test_tsa/ts_chain.pem").read_bytes()
    with pytest.raises(causeway.VerificationError, match="anchor does not verify"):
        causeway.Verifier(log.vkeys).bundle(text, tsa_roots=other)


def test_the_witness_quorum_is_checked_on_bundles_and_tiles(witnessed_log, tmp_path):
    log = witnessed_log
    act, _ = chain(log)
    text = prove(log, act.leaf_hash, tmp_path / "action.bundle")
    witnessed = causeway.Verifier(log.vkeys, [log.witness.vkey], quorum=1)
    report = witnessed.bundle(text)
    assert report.cosigned == (log.witness.vkey,)
    # The tiles serve the published tree, which waits for the cosignature.
    tiles = witnessed.tiles(log.tiles_url)
    published(tiles, act.index + 1)
    proved = tiles.inclusion(act.index, act.leaf_hash)
    assert proved.checkpoint.size > act.index
    # A witness that never saw this log: its quorum is not met.
    _, _, stranger = ed25519_vkey("witness.test/stranger", 0x04)
    unmet = causeway.Verifier(log.vkeys, [stranger], quorum=1)
    with pytest.raises(causeway.VerificationError, match="witness policy: .*0 of the required 1"):
        unmet.bundle(text)
    with pytest.raises(causeway.VerificationError, match="witness policy: .*0 of the required 1"):
        unmet.tiles(log.tiles_url).checkpoint()


def test_a_bundle_without_an_anchor_fails_when_tsa_roots_ask_for_one(log, tmp_path):
    act, _ = chain(log)
    text = prove(log, act.leaf_hash, tmp_path / "action.bundle")
    pem = (ROOT / "testdata/vectors/rfc3161/test_tsa/ts_chain.pem").read_bytes()
    with pytest.raises(causeway.VerificationError, match="no RFC 3161 anchor"):
        causeway.Verifier(log.vkeys).bundle(text, tsa_roots=pem)
    with pytest.raises(ValueError, match="policy"):
        causeway.Verifier(log.vkeys).bundle(text, policy="[[principal]\n")


def test_entries_submitted_through_the_sdk_verify_from_the_tiles_alone(log):
    alice = causeway.Producer(log.url, log.keys["alice"].pem, log_vkeys=log.vkeys)
    first = alice.submit(approval("CHG-T0"))
    # Past one full tile of 256: the proofs cross tiles, and the last
    # entries sit in a partial tile.
    receipts = alice.submit(*[approval(f"CHG-T{i}") for i in range(1, 300)])
    tiles = causeway.Verifier(log.vkeys).tiles(log.tiles_url)
    latest = published(tiles, 300)
    assert latest.size == 300
    for r in (first, receipts[100], receipts[-1]):
        proved = tiles.inclusion(r.index, r.leaf_hash)
        assert (proved.index, proved.leaf_hash) == (r.index, r.leaf_hash)
        assert proved.checkpoint == latest
        entry = tiles.entry(r.index)
        assert causeway._native.leaf_hash(entry) == r.leaf_hash
        assert causeway._native.decode(entry)[0] == "authorization"
    assert tiles.inclusion(5).leaf_hash == receipts[4].leaf_hash
    # The tree the first receipt was given is a prefix of today's.
    assert tiles.receipt(first).checkpoint.size == 300
    assert tiles.consistency(first.checkpoint_note) == latest


def test_a_wrong_leaf_hash_or_key_does_not_verify_from_the_tiles(log):
    alice = causeway.Producer(log.url, log.keys["alice"].pem, log_vkeys=log.vkeys)
    a, b = alice.submit(approval("CHG-W1"), approval("CHG-W2"))
    tiles = causeway.Verifier(log.vkeys).tiles(log.tiles_url)
    published(tiles, 2)
    with pytest.raises(causeway.VerificationError, match=f"leaf {a.index} in the tiles is {a.leaf_hash}, not {b.leaf_hash}"):
        tiles.inclusion(a.index, b.leaf_hash)
    with pytest.raises(causeway.VerificationError, match="not in the tree of size 2"):
        tiles.inclusion(2)
    with pytest.raises(causeway.VerificationError):
        tiles.receipt(causeway.Receipt(a.index, b.leaf_hash, a.checkpoint_note, False, "authorization", True))
    _, stranger = resigned(a.checkpoint_note)
    with pytest.raises(causeway.VerificationError, match="checkpoint served with the tiles does not verify"):
        causeway.Verifier([stranger]).tiles(log.tiles_url).checkpoint()
    with pytest.raises(causeway.LogError) as unreachable:
        causeway.Verifier(log.vkeys).tiles("http://127.0.0.1:9", timeout=5).checkpoint()
    assert unreachable.value.args[0] == "UNREACHABLE"


class HostileMirror:
    """A tile mirror on 127.0.0.1 that serves the log's tiles, except that
    `tamper(path, body)` may change a response first."""

    def __init__(self, upstream, tamper):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with urllib.request.urlopen(upstream + self.path) as r:
                    body = tamper(self.path, r.read())
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def flip(at):
    """Flips the last bit of byte `at` of a body."""
    def change(body):
        body = bytearray(body)
        body[at] ^= 0x01
        return bytes(body)
    return change


@pytest.mark.parametrize("what", ["sibling hash", "leaf hash", "entry", "checkpoint"])
def test_a_mirror_that_changes_one_byte_of_a_tile_is_caught(log, what):
    alice = causeway.Producer(log.url, log.keys["alice"].pem, log_vkeys=log.vkeys)
    receipts = alice.submit(*[approval(f"CHG-H{i}") for i in range(4)])
    published(causeway.Verifier(log.vkeys).tiles(log.tiles_url), 4)
    target = receipts[1]
    # Entry 1's proof starts at entry 0's leaf hash, the first 32 bytes of
    # the level-0 tile; entry 1's own leaf hash is the next 32.
    path, change = {
        "sibling hash": ("/tile/0/000", flip(0)),
        "leaf hash": ("/tile/0/000", flip(32)),
        # Each entry of a bundle is a 2-byte big-endian length, then its
        # bytes: a byte inside entry 1.
        "entry": ("/tile/entries/000", lambda b: flip(2 + int.from_bytes(b[:2], "big") + 2 + 10)(b)),
        "checkpoint": ("/checkpoint", lambda b: b.replace(b"\n4\n", b"\n3\n", 1)),
    }[what]
    mirror = HostileMirror(log.tiles_url, lambda p, b: change(b) if p.startswith(path) else b)
    try:
        tiles = causeway.Verifier(log.vkeys).tiles(mirror.url)
        with pytest.raises(causeway.VerificationError) as refused:
            if what == "entry":
                tiles.entry(target.index)
            elif what == "checkpoint":
                tiles.checkpoint()
            else:
                tiles.inclusion(target.index, target.leaf_hash)
        expected = {
            "sibling hash": "does not lead to the checkpoint's root",
            "leaf hash": f"leaf {target.index} in the tiles is",
            "entry": "does not hash to its leaf",
            "checkpoint": "checkpoint served with the tiles does not verify",
        }[what]
        assert expected in str(refused.value)
        # Without the leaf hash to compare, the changed leaf is still
        # caught: its proof does not lead to the signed root.
        if what == "leaf hash":
            with pytest.raises(causeway.VerificationError, match="does not lead to the checkpoint's root"):
                tiles.inclusion(target.index)
    finally:
        mirror.close()


def test_the_sdk_readme_verification_snippet_runs_as_written(log, tmp_path, monkeypatch):
    readme = (ROOT / "sdk/python/README.md").read_text()
    snippet = re.search(r"<!-- python-sdk-verify-snippet -->\n```python\n(.*?)```", readme, re.S)
    assert snippet, "sdk/python/README.md lost its verification snippet"
    act, ancestors = chain(log)
    # The --dev layout, and the bundle the README's shell step writes.
    dev = log.dir / "causeway-dev"
    (dev / "producers").mkdir(parents=True)
    (dev / "vkeys.txt").write_text("\n".join(log.vkeys) + "\n")
    (dev / "producers/policy.toml").write_text((log.dir / "policy.toml").read_text())
    prove(log, act.leaf_hash, log.dir / "record.bundle")
    published(causeway.Verifier(log.vkeys).tiles(log.tiles_url), act.index + 1)
    monkeypatch.chdir(log.dir)
    code = snippet.group(1).replace("http://127.0.0.1:7401", log.tiles_url)
    scope = {"__name__": "snippet"}
    exec(compile(code, "sdk/python/README.md", "exec"), scope)
    assert scope["report"].index == act.index and scope["report"].records_verified
    assert [a.index for a in scope["report"].ancestors] == [r.index for r in ancestors]
    assert scope["proved"].leaf_hash == act.leaf_hash
