"""The SDK against a real causeway-server: every record kind through the
Rust core, receipts verified with the log's keys, refusals, duplicates,
an external signer, sessions, the producer vectors and the README's
ten-line producer, run as written."""

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

import causeway

ROOT = Path(__file__).resolve().parents[3]
NOW = lambda: dt.datetime.now(dt.timezone.utc)  # noqa: E731


def approval(**over):
    args = dict(
        approver="alice@example.com", approver_issuer="https://sso.example.com", ticket="CHG-1",
        objective="rotate the API key", method="pipeline", test_approach="canary",
        backout="roll back", targets=["prod/api"], actions=["deploy"],
        not_after=NOW() + dt.timedelta(hours=1),
    )
    args.update(over)
    return causeway.authorization(**args)


def test_the_producer_vectors_are_reproduced_byte_for_byte():
    vectors = json.loads((ROOT / "testdata/vectors/producer/records.json").read_text())
    key = (ROOT / "testdata/vectors/producer/key.pem").read_text()
    for v in vectors["vectors"]:
        record = causeway.Record(v["kind"], json.loads(v["json"]) if isinstance(v["json"], str) else v["json"])
        entry = causeway.Producer("http://127.0.0.1:1", key).sign(record)
        assert entry.hex() == v["entry"], v["kind"]
        assert causeway._native.leaf_hash(entry) == v["leaf_hash"]
        assert causeway.key_id(causeway._native.public_key_der(key)) == v["keyid"]


def test_a_whole_chain_is_written_and_every_receipt_verified(log):
    alice = causeway.Producer(log.url, log.keys["alice"].pem, log_vkeys=log.vkeys)
    issuer = causeway.Producer(log.url, log.keys["issuer"].pem, log_vkeys=log.vkeys)
    verifier = causeway.Producer(log.url, log.keys["verifier"].pem, log_vkeys=log.vkeys)
    auth = alice.submit(approval())
    assert auth.verified and auth.kind == "authorization" and auth.index == 0
    pre = verifier.submit(causeway.preflight(
        auth, [{"name": "osv", "result": "pass", "detail": "0 advisories", "cves": []}], "pass"))
    session_key = causeway_key()
    cred = issuer.submit(causeway.credential(
        auth, preflight=pre, serial="jit-1", agent_id="agent://acme/coder",
        session_public_key_der=session_key[1], targets=["prod/api"], actions=["deploy"],
        expires_at=NOW() + dt.timedelta(minutes=30)))
    with alice.session(cred, session_key[0]) as s:
        a1 = s.action("kubectl", "prod/api", "rollout api v2", operation="deploy")
        a2 = s.action("kubectl", "prod/api", "check rollout", operation="deploy")
        # An outcome too, so every kind the agent writes goes through.
        out = s.producer.submit(causeway.outcome(a1, cred, "ok", "sha256:" + "0" * 64))
        assert out.verified
    assert (a1.index, a2.index) == (cred.index + 1, cred.index + 2)
    assert s.closure_receipt is not None
    assert s.closure_receipt is not None and s.closure_receipt.verified
    kind, body = causeway._native.decode(log_entry(alice, s.closure_receipt.index))
    assert kind == "closure" and json.loads(body)["actions"] == 2
    rev = alice.submit(causeway.review(
        auth, reviewer="alice@example.com", reviewer_issuer="https://sso.example.com",
        verdict="approved", started_at=NOW() - dt.timedelta(minutes=10), finished_at=NOW(), items=2))
    assert rev.verified
    # The session's key is refused after its closure.
    with pytest.raises(causeway.LogError) as refused:
        s.producer.submit(causeway.action(cred, 9, "kubectl", "prod/api", "late"))
    assert refused.value.args[0] == "PERMISSION_DENIED"
    assert "closed" in refused.value.args[1]


def test_bad_input_is_refused_before_it_is_sent_and_the_log_says_what_to_do(log):
    with pytest.raises(ValueError, match="time zone"):
        approval(not_after=dt.datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="verdict"):
        causeway.preflight("ab" * 32, [], "maybe")
    stranger = causeway.Producer(log.url, causeway_key()[0])
    with pytest.raises(causeway.LogError) as e:
        stranger.submit(approval())
    assert e.value.args[0] == "PERMISSION_DENIED"
    assert stranger.key_id in e.value.args[1]


def test_a_duplicate_returns_the_original_receipt(log):
    alice = causeway.Producer(log.url, log.keys["alice"].pem, log_vkeys=log.vkeys)
    record = approval(ticket="CHG-DUP")
    first = alice.submit(record)
    again = alice.submit(record)
    assert again.duplicate and (again.index, again.leaf_hash) == (first.index, first.leaf_hash)


def test_an_external_signer_signs_what_the_log_verifies(log):
    key = log.keys["alice"]

    def kms_sign(pae: bytes) -> bytes:
        return key.private.sign(pae, ec.ECDSA(hashes.SHA256()))

    alice = causeway.Producer(log.url, signer=kms_sign, public_key_der=key.spki, log_vkeys=log.vkeys)
    assert alice.submit(approval(ticket="CHG-KMS")).verified
    # A signer that signs the wrong thing is caught before sending.
    liar = causeway.Producer(log.url, signer=lambda pae: kms_sign(pae + b"x"), public_key_der=key.spki)
    with pytest.raises(causeway.VerificationError, match="signature"):
        liar.submit(approval(ticket="CHG-LIE"))


def test_many_records_are_split_under_the_request_limits(log):
    alice = causeway.Producer(log.url, log.keys["alice"].pem)
    receipts = alice.submit(*[approval(ticket=f"CHG-{i}") for i in range(1200)])
    assert [r.index for r in receipts] == list(range(1200))


def test_a_verifier_refuses_a_checkpoint_signed_by_other_keys(log):
    alice = causeway.Producer(log.url, log.keys["alice"].pem, log_vkeys=log.vkeys)
    receipt = alice.submit(approval(ticket="CHG-V"))
    verifier = causeway.Verifier(log.vkeys)
    assert verifier.checkpoint(receipt.checkpoint_note).size >= 1
    tampered = receipt.checkpoint_note.replace("\n1\n", "\n2\n", 1)
    with pytest.raises(causeway.VerificationError):
        verifier.checkpoint(tampered)
    with pytest.raises(causeway.VerificationError):
        verifier.inclusion(receipt.checkpoint_note, receipt.index, "00" * 32, [])
    with pytest.raises(ValueError, match="quorum"):
        causeway.Verifier(log.vkeys, [], quorum=1)


def test_the_readme_ten_line_producer_runs_as_written(log, tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    snippet = re.search(r"<!-- python-sdk-snippet -->\n```python\n(.*?)```", readme, re.S)
    assert snippet, "README.md lost its Python producer snippet"
    code = snippet.group(1)
    assert len(code.strip().splitlines()) <= 10, "the README promises ten lines"
    # The --dev layout: causeway-dev/vkeys.txt and causeway-dev/producers/.
    dev = log.dir / "causeway-dev"
    (dev / "producers").mkdir(parents=True)
    (dev / "vkeys.txt").write_text("\n".join(log.vkeys) + "\n")
    (dev / "producers/approver.pem").write_text(log.keys["alice"].pem)
    (dev / "producers/issuer.pem").write_text(log.keys["issuer"].pem)
    monkeypatch.chdir(log.dir)
    scope = {"__name__": "snippet"}
    exec(compile(code.replace("http://127.0.0.1:7400", log.url), "README.md", "exec"), scope)
    assert scope["act"].verified and scope["act"].kind == "action"


def causeway_key():
    k = causeway.new_key()
    return k.pem, k.public_der


def log_entry(producer, index):
    return producer.log.entries(index, 1)[0]


def note_vectors():
    """The blocks of testdata/vectors/notes.txt with verifier keys, a
    note and an EXPECT line starting "valid"."""
    text = (ROOT / "testdata/vectors/notes.txt").read_text()
    for block in text.split("\n## ")[1:]:
        vkeys = re.findall(r"^VKEY: (\S+)", block, re.M)
        expect = re.search(r"^EXPECT: (.*)$", block, re.M)
        note = re.search(r"-----BEGIN NOTE-----\n(.*?\n)-----END NOTE-----", block, re.S)
        if vkeys and expect and note and expect.group(1).startswith("valid"):
            yield block.splitlines()[0], vkeys, note.group(1)


def test_the_signed_note_vectors_verify_and_a_flipped_signature_does_not():
    vectors = list(note_vectors())
    assert len(vectors) >= 5, vectors
    for title, vkeys, note in vectors:
        signers = causeway.Verifier.signed_note(note, vkeys)
        assert signers, title
        # Flip one character of the first signature: refused.
        line = next(l for l in note.splitlines() if l.startswith("\u2014 "))
        name, sig = line[2:].rsplit(" ", 1)
        flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
        with pytest.raises(causeway.VerificationError):
            causeway.Verifier.signed_note(note.replace(sig, flipped), vkeys)
