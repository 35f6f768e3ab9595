"""Write governance records to a Causeway log and verify what it says.

The formats, the signing and the verification are the Rust crates the log
itself runs (``causeway._native``); this package builds records from Python
values and shapes the API::

    import causeway
    alice = causeway.Producer("http://127.0.0.1:7400", open("alice.pem").read())
    receipt = alice.submit(causeway.authorization(...))

Times are timezone-aware ``datetime`` objects; references to earlier
records are their :class:`Receipt` or leaf hash (64 hex digits).

What the log says is checked by a :class:`Verifier`: checkpoints, proofs,
offline proof bundles (:meth:`Verifier.bundle`) and entries read from the
log's C2SP tiles alone (:meth:`Verifier.tiles`).
"""

from __future__ import annotations

import base64
import datetime as _dt
import json as _json
import time as _systime
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence, Union

from . import _native
from ._native import LogError, VerificationError

__all__ = [
    "LogError",
    "VerificationError",
    "Record",
    "Receipt",
    "Checkpoint",
    "Producer",
    "Verifier",
    "BundleEntry",
    "BundleReport",
    "Tiles",
    "TileInclusion",
    "Session",
    "authorization",
    "preflight",
    "credential",
    "action",
    "outcome",
    "exception",
    "closure",
    "review",
    "key_id",
    "new_key",
    "Key",
]

Ref = Union["Receipt", str]
"""A reference to an earlier record: its receipt or its leaf hash."""


def _time(t: _dt.datetime) -> str:
    if not isinstance(t, _dt.datetime):
        raise TypeError(f"expected a datetime, got {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(
            f"{t!r} has no time zone: give an aware datetime, e.g. datetime.now(timezone.utc)"
        )
    utc = t.astimezone(_dt.timezone.utc)
    # Milliseconds, as every Causeway producer dates records.
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _ref(r: Ref) -> str:
    if isinstance(r, Receipt):
        return r.leaf_hash
    if isinstance(r, str) and len(r) == 64:
        return r.lower()
    raise ValueError(f"{r!r} is not a Receipt or a 64-hex-digit leaf hash")


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _posix_now() -> int:
    # What witness cosignatures' dates are checked against.
    return int(_systime.time())


@dataclass(frozen=True)
class Key:
    """An ECDSA P-256 key: PKCS#8 PEM and its DER SPKI."""

    pem: str
    public_der: bytes

    @property
    def key_id(self) -> str:
        """The key ID the log knows it by."""
        return _native.key_id(self.public_der)


def new_key() -> Key:
    """A fresh ECDSA P-256 key from the OS's randomness, e.g. an agent's
    session key."""
    pem = _native.generate_key()
    return Key(pem, _native.public_key_der(pem))


def key_id(public_key_der: bytes) -> str:
    """The key ID the log knows a key by: hex SHA-256 of its DER SPKI."""
    return _native.key_id(public_key_der)


@dataclass(frozen=True)
class Record:
    """A record, checked when built: its kind and its JSON form."""

    kind: str
    fields: Mapping[str, object]

    def __post_init__(self) -> None:
        # The Rust decoder checks every field now, not at submission.
        _native.canonical_json(self.kind, _json.dumps(self.fields))

    def json(self) -> str:
        """The canonical JSON form (sorted keys, absent optionals)."""
        return _native.canonical_json(self.kind, _json.dumps(self.fields))


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint."""

    origin: str
    size: int
    root: str
    note: str


@dataclass(frozen=True)
class Receipt:
    """What the log acknowledged for one record."""

    index: int
    leaf_hash: str
    checkpoint_note: str
    duplicate: bool
    kind: str
    verified: bool
    """True when the checkpoint's signatures and the entry's inclusion in
    it were verified with the log's keys."""


class Verifier:
    """Checks what a log says against its verifier keys (and, with
    ``quorum``, its witnesses' cosignatures): checkpoints, proofs and
    proof bundles offline, entries from the log's tiles (:meth:`tiles`)."""

    def __init__(
        self,
        vkeys: Sequence[str],
        witness_vkeys: Sequence[str] = (),
        quorum: int = 0,
    ) -> None:
        if not vkeys:
            raise ValueError("give the log's verifier keys (`causeway-server` prints them)")
        if quorum > len(witness_vkeys):
            raise ValueError(f"quorum {quorum} is more than the {len(witness_vkeys)} witnesses")
        self.vkeys = list(vkeys)
        self.witness_vkeys = list(witness_vkeys)
        self.quorum = quorum

    @staticmethod
    def signed_note(note: str, vkeys: Sequence[str]) -> list[str]:
        """Verifies any C2SP signed note with these keys; returns the
        signers (``name+keyid``) whose signatures verified."""
        return _native.verify_signed_note(note, list(vkeys))

    def checkpoint(self, note: str) -> Checkpoint:
        """Verifies a checkpoint note; raises VerificationError."""
        origin, size, root = _native.verify_note(
            note, self.vkeys, self.witness_vkeys, self.quorum, _posix_now()
        )
        return Checkpoint(origin, size, root, note)

    def inclusion(self, note: str, index: int, leaf_hash: str, proof: Sequence[str]) -> None:
        """Verifies that ``leaf_hash`` is entry ``index`` of the tree the
        checkpoint ``note`` commits to; raises VerificationError."""
        self.checkpoint(note)
        _native.verify_inclusion(note, self.vkeys, index, leaf_hash, list(proof))

    def receipt(self, log: "_native.Log", receipt: Receipt) -> None:
        """Fetches and verifies a receipt's inclusion in its checkpoint."""
        cp = self.checkpoint(receipt.checkpoint_note)
        _, _, leaf, proof = log.inclusion_proof(receipt.index, cp.size)
        if leaf != receipt.leaf_hash:
            raise VerificationError(
                f"the log proves leaf {leaf} at index {receipt.index}, not {receipt.leaf_hash}"
            )
        self.inclusion(receipt.checkpoint_note, receipt.index, leaf, proof)

    def bundle(
        self,
        data: str | bytes,
        *,
        tsa_roots: bytes | None = None,
        policy: str | None = None,
    ) -> BundleReport:
        """Verifies an offline proof bundle (``causeway-proof-bundle/v1``,
        the file ``causeway prove bundle`` writes), with no network, as
        ``causeway verify`` does: its checkpoint with the log's keys and
        this verifier's witness quorum, every entry's inclusion in it, and
        that the record is the leaf the bundle names.

        ``tsa_roots`` (PEM or DER certificates of the TSA) also verifies
        the bundle's RFC 3161 anchor, which must then be present: it
        proves when the checkpoint existed. ``policy`` (the text of a
        producer policy TOML file, JWKS inline) also checks every record's
        signature, authorization and causal references, as of the record's
        own time.

        Raises VerificationError with the Rust verifier's message when
        anything does not verify, ValueError when ``tsa_roots`` or
        ``policy`` cannot be read.
        """
        if isinstance(data, (bytes, bytearray, memoryview)):
            try:
                text = bytes(data).decode("utf-8")
            except UnicodeDecodeError as e:
                raise VerificationError(f"not a proof bundle: not UTF-8 ({e})") from None
        else:
            text = data
        v = _native.verify_bundle(
            text,
            self.vkeys,
            self.witness_vkeys,
            self.quorum,
            _posix_now(),
            None if tsa_roots is None else bytes(tsa_roots),
            policy,
        )
        return BundleReport(
            index=v.index,
            leaf_hash=v.leaf_hash,
            kind=v.kind,
            checkpoint=Checkpoint(*v.checkpoint),
            ancestors=tuple(BundleEntry(i, h, k) for i, h, k in v.ancestors),
            cosigned=tuple(v.cosigned),
            has_anchor=v.has_anchor,
            anchor_verified=v.anchored_at is not None,
            anchored_at=v.anchored_at,
            anchor_signer=v.anchor_signer,
            records_verified=v.records_verified,
        )

    def tiles(self, url: str, *, ca_pem: bytes | None = None, timeout: float = 30.0) -> Tiles:
        """The log's C2SP tlog-tiles below ``url`` (its HTTP endpoint,
        e.g. ``http://127.0.0.1:7401``, or a static mirror), verified with
        this verifier's keys and witness quorum: see :class:`Tiles`.
        ``ca_pem`` is trusted for an ``https://`` URL besides the system's
        roots; ``timeout`` (seconds) bounds each request, body included."""
        return Tiles(self, url, ca_pem=ca_pem, timeout=timeout)


@dataclass(frozen=True)
class BundleEntry:
    """An entry of a verified proof bundle, proved in its checkpoint."""

    index: int
    leaf_hash: str
    kind: str | None
    """The record kind, or None if the entry is not a record envelope."""


@dataclass(frozen=True)
class BundleReport:
    """What a verified proof bundle proves: its record (``index``,
    ``leaf_hash``, ``kind``) and causal ``ancestors`` are entries of the
    tree of ``checkpoint``."""

    index: int
    leaf_hash: str
    kind: str | None
    checkpoint: Checkpoint
    ancestors: tuple[BundleEntry, ...]
    """Every other entry of the bundle, in index order: the records the
    record references, directly or through each other."""
    cosigned: tuple[str, ...]
    """The witnesses (verifier keys) whose cosignatures counted towards
    the verifier's quorum."""
    has_anchor: bool
    """Whether the bundle carries an RFC 3161 anchor, verified or not."""
    anchor_verified: bool
    """True when the anchor was verified against ``tsa_roots``."""
    anchored_at: str | None
    """The anchor's genTime (RFC 3339), when verified: the checkpoint's
    tree existed by then."""
    anchor_signer: str | None
    """The TSA certificate's subject, when the anchor was verified."""
    records_verified: bool
    """True when every record was checked under a producer ``policy``."""


@dataclass(frozen=True)
class TileInclusion:
    """An entry proved in a checkpoint's tree from tiles alone."""

    index: int
    leaf_hash: str
    checkpoint: Checkpoint


class Tiles:
    """A log read through its C2SP tlog-tiles alone: the checkpoint served
    beside the tiles is verified with the :class:`Verifier`'s keys and
    witness quorum, and every proof is computed here from the hash tiles,
    so no proof endpoint of the server is trusted. Each call fetches the
    latest checkpoint. Make one with :meth:`Verifier.tiles`.

    Raises VerificationError when the checkpoint or the tiles do not
    verify, LogError (``UNREACHABLE``, or ``HTTP_<status>``) when they
    cannot be fetched."""

    def __init__(
        self,
        verifier: Verifier,
        url: str,
        *,
        ca_pem: bytes | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = url
        self._native = _native.Tiles(
            url, verifier.vkeys, verifier.witness_vkeys, verifier.quorum, ca_pem, timeout
        )

    def checkpoint(self) -> Checkpoint:
        """The latest checkpoint served with the tiles, verified."""
        return Checkpoint(*self._native.checkpoint(_posix_now()))

    def inclusion(self, index: int, leaf_hash: str | None = None) -> TileInclusion:
        """Verifies that entry ``index`` is in the latest checkpoint's tree,
        by an inclusion proof computed from the tiles, and, given
        ``leaf_hash``, that it is that leaf. (Tiles are addressed by
        index: they cannot look a leaf up by its hash.)"""
        cp, leaf = self._native.inclusion(
            index, None if leaf_hash is None else _ref(leaf_hash), _posix_now()
        )
        return TileInclusion(index, leaf, Checkpoint(*cp))

    def receipt(self, receipt: Receipt) -> TileInclusion:
        """Verifies a receipt's entry from the tiles: its index holds its
        leaf hash in the latest checkpoint's tree, and that tree extends
        the receipt's checkpoint."""
        self.consistency(receipt.checkpoint_note)
        return self.inclusion(receipt.index, receipt.leaf_hash)

    def entry(self, index: int) -> bytes:
        """Entry ``index`` (a record's protobuf Envelope) from the log's
        entry bundle, checked against its leaf in the hash tiles and
        proved in the latest checkpoint's tree. ``_native.decode`` reads
        it."""
        _, data = self._native.entry(index, _posix_now())
        return bytes(data)

    def consistency(self, old_note: str) -> Checkpoint:
        """Verifies that the tree of the signed checkpoint ``old_note``
        (e.g. a receipt's, verified with the same keys) is a prefix of the
        latest one, by a consistency proof computed from the tiles: the
        log has not rewritten what it showed then. Returns the latest
        checkpoint."""
        return Checkpoint(*self._native.consistency(old_note, _posix_now()))


Signer = Callable[[bytes], bytes]
"""An external signer: given the PAE bytes, returns the DER ECDSA P-256
signature over their SHA-256 (what a KMS's `Sign` with ECDSA_SHA_256 does)."""


class Producer:
    """Signs records with one key and writes them to a log.

    ``key`` is a PKCS#8 PEM ECDSA P-256 private key; or pass ``signer`` (a
    :data:`Signer`) and ``public_key_der`` for a key held in a KMS or HSM.
    ``ca_pem``, ``cert_pem``/``key_pem`` configure TLS and mutual TLS.
    With ``log_vkeys``, every receipt's checkpoint and inclusion are
    verified before :meth:`submit` returns.
    """

    def __init__(
        self,
        log_url: str,
        key: str | None = None,
        *,
        signer: Signer | None = None,
        public_key_der: bytes | None = None,
        ca_pem: bytes | None = None,
        cert_pem: bytes | None = None,
        key_pem: bytes | None = None,
        log_vkeys: Sequence[str] = (),
        witness_vkeys: Sequence[str] = (),
        quorum: int = 0,
    ) -> None:
        if (key is None) == (signer is None):
            raise ValueError("give exactly one of key (PEM) or signer")
        if signer is not None and public_key_der is None:
            raise ValueError("a signer needs its public_key_der")
        self._key = key
        self._signer = signer
        self.public_key_der = (
            _native.public_key_der(key) if key is not None else bytes(public_key_der or b"")
        )
        self.key_id = _native.key_id(self.public_key_der)
        self.log = _native.Log(log_url, ca_pem, cert_pem, key_pem)
        self._log_args = (log_url, ca_pem, cert_pem, key_pem)
        self.verifier = (
            Verifier(log_vkeys, witness_vkeys, quorum) if log_vkeys else None
        )

    def sign(self, record: Record) -> bytes:
        """The log entry (protobuf Envelope) of ``record``, signed."""
        payload_json = _json.dumps(record.fields)
        if self._key is not None:
            return _native.sign(record.kind, payload_json, self._key)
        payload_type, payload, pae = _native.to_sign(record.kind, payload_json)
        assert self._signer is not None
        return _native.assemble(payload_type, payload, self.public_key_der, self._signer(pae))

    def submit(self, *records: Record) -> Receipt | list[Receipt]:
        """Signs and writes records, in order, in as few requests as the
        log's limits allow. A record already in the log returns its
        original receipt (``duplicate``). Returns one receipt, or a list
        for several records. Raises LogError (``.args = (code, message)``)
        when the log refuses, VerificationError when its answer does not
        verify."""
        if not records:
            raise ValueError("nothing to submit")
        entries = [self.sign(r) for r in records]
        added, note = self.log.add_entries(entries)
        for entry, (_, leaf, duplicate) in zip(entries, added):
            if not duplicate and leaf != _native.leaf_hash(entry):
                raise VerificationError(
                    f"the log acknowledged leaf {leaf}, the entry hashes to {_native.leaf_hash(entry)}"
                )
        verified = self.verifier is not None
        if self.verifier is not None:
            # The checkpoint once (and its witnesses), then every entry's
            # inclusion in it.
            self.verifier.checkpoint(note)
            self.log.verify_included(note, self.verifier.vkeys, [(i, h) for i, h, _ in added])
        receipts = [
            Receipt(index, leaf, note, duplicate, record.kind, verified)
            for record, (index, leaf, duplicate) in zip(records, added)
        ]
        return receipts[0] if len(receipts) == 1 else receipts

    def session(self, credential: Ref, session_key: "str | Key") -> "Session":
        """A session writing actions under ``credential`` with its session
        key (a context manager that writes the closure on exit)."""
        return Session(self, credential, session_key)


class Session:
    """An agent's session: numbers its actions from 1 and, on leaving the
    ``with`` block, writes the closure (``voluntary``, or ``forced`` when
    the block raised) with the action count and the time span."""

    def __init__(self, producer: Producer, credential: Ref, session_key: "str | Key") -> None:
        if isinstance(session_key, Key):
            session_key = session_key.pem
        url, ca, cert, key = producer._log_args
        self.producer = Producer(
            url,
            session_key,
            ca_pem=ca,
            cert_pem=cert,
            key_pem=key,
            log_vkeys=producer.verifier.vkeys if producer.verifier else (),
        )
        self.credential = _ref(credential)
        self.seq = 0
        self.started_at: _dt.datetime | None = None
        self.closure_receipt: Receipt | None = None

    def __enter__(self) -> "Session":
        self.started_at = _now()
        return self

    def action(
        self,
        tool: str,
        target: str,
        summary: str,
        *,
        digest: str = "",
        result: str = "ok",
        operation: str | None = None,
        time: _dt.datetime | None = None,
    ) -> Receipt:
        """Writes the session's next action."""
        self.seq += 1
        receipt = self.producer.submit(
            action(
                self.credential,
                self.seq,
                tool,
                target,
                summary,
                digest=digest,
                result=result,
                operation=operation,
                time=time,
            )
        )
        assert isinstance(receipt, Receipt)
        return receipt

    def __exit__(self, exc_type, exc, tb) -> None:
        ended = _now()
        receipt = self.producer.submit(
            closure(
                self.credential,
                "forced" if exc_type else "voluntary",
                started_at=self.started_at or ended,
                ended_at=ended,
                actions=self.seq,
                summary=f"{self.seq} actions" + (f"; ended by {exc_type.__name__}" if exc_type else ""),
                time=ended,
            )
        )
        assert isinstance(receipt, Receipt)
        self.closure_receipt = receipt


# Builders: one per record kind, Python values in, a checked Record out.


def authorization(
    *,
    approver: str,
    approver_issuer: str,
    ticket: str,
    objective: str,
    method: str,
    test_approach: str,
    backout: str,
    targets: Sequence[str],
    actions: Sequence[str],
    not_after: _dt.datetime,
    not_before: _dt.datetime | None = None,
    change_class: str = "standard",
    authn_method: str = "oidc",
    mfa: bool = True,
    assurance: str = "aal2",
    authenticated_at: _dt.datetime | None = None,
    id_token: str | None = None,
    time: _dt.datetime | None = None,
) -> Record:
    """Event A: a human approves a scoped plan."""
    t = time or _now()
    authn: dict[str, object] = {
        "method": authn_method,
        "mfa": mfa,
        "assurance": assurance,
        "authenticated_at": _time(authenticated_at or t),
    }
    if id_token is not None:
        authn["id_token"] = id_token
    return Record(
        "authorization",
        {
            "approver": {"subject": approver, "issuer": approver_issuer},
            "authn": authn,
            "plan": {
                "objective": objective,
                "method": method,
                "test_approach": test_approach,
                "backout": backout,
            },
            "scope": {"change_class": change_class, "targets": list(targets), "actions": list(actions)},
            "ticket": ticket,
            "not_before": _time(not_before or t),
            "not_after": _time(not_after),
            "time": _time(t),
        },
    )


def preflight(
    subject: Ref,
    checks: Iterable[Mapping[str, object]],
    verdict: str,
    *,
    stage: str = "issuance",
    time: _dt.datetime | None = None,
) -> Record:
    """A pre-flight verification of an authorization or credential; each
    check is ``{"name", "result", "detail", "cves"}``."""
    return Record(
        "preflight",
        {
            "subject": _ref(subject),
            "stage": stage,
            "checks": [dict(c) for c in checks],
            "verdict": verdict,
            "time": _time(time or _now()),
        },
    )


def credential(
    authorization: Ref,
    *,
    serial: str,
    agent_id: str,
    session_public_key_der: bytes,
    targets: Sequence[str],
    actions: Sequence[str],
    expires_at: _dt.datetime,
    preflight: Ref | None = None,
    parent: Ref | None = None,
    change_class: str = "standard",
    model: str = "",
    version: str = "",
    issued_at: _dt.datetime | None = None,
    time: _dt.datetime | None = None,
) -> Record:
    """A credential bound to an authorization, for one agent's session key."""
    t = time or _now()
    fields: dict[str, object] = {
        "serial": serial,
        "agent": {"id": agent_id, "model": model, "version": version},
        "authorization": _ref(authorization),
        "scope": {"change_class": change_class, "targets": list(targets), "actions": list(actions)},
        "session_key": base64.b64encode(session_public_key_der).decode(),
        "issued_at": _time(issued_at or t),
        "expires_at": _time(expires_at),
        "time": _time(t),
    }
    if preflight is not None:
        fields["preflight"] = _ref(preflight)
    if parent is not None:
        fields["parent"] = _ref(parent)
    return Record("credential", fields)


def action(
    credential: Ref,
    seq: int,
    tool: str,
    target: str,
    summary: str,
    *,
    digest: str = "",
    result: str = "ok",
    operation: str | None = None,
    time: _dt.datetime | None = None,
) -> Record:
    """Event B: an agent acts under a credential (signed by its session key)."""
    fields: dict[str, object] = {
        "credential": _ref(credential),
        "seq": seq,
        "tool": tool,
        "target": target,
        "summary": summary,
        "digest": digest,
        "result": result,
        "time": _time(time or _now()),
    }
    if operation is not None:
        fields["operation"] = operation
    return Record("action", fields)


def outcome(
    action: Ref,
    credential: Ref,
    status: str,
    result_digest: str,
    *,
    error: str | None = None,
    time: _dt.datetime | None = None,
) -> Record:
    """How an action's call returned (``ok`` or ``error``)."""
    fields: dict[str, object] = {
        "action": _ref(action),
        "credential": _ref(credential),
        "status": status,
        "result_digest": result_digest,
        "time": _time(time or _now()),
    }
    if error is not None:
        fields["error"] = error
    return Record("outcome", fields)


def exception(
    credential: Ref,
    reason: str,
    *,
    revoked: bool = False,
    action: Ref | None = None,
    call_digest: str | None = None,
    time: _dt.datetime | None = None,
) -> Record:
    """An exception against a credential, possibly revoking it."""
    fields: dict[str, object] = {
        "credential": _ref(credential),
        "reason": reason,
        "revoked": revoked,
        "time": _time(time or _now()),
    }
    if action is not None:
        fields["action"] = _ref(action)
    if call_digest is not None:
        fields["call_digest"] = call_digest
    return Record("exception", fields)


def closure(
    credential: Ref,
    reason: str,
    *,
    started_at: _dt.datetime,
    ended_at: _dt.datetime,
    actions: int,
    summary: str,
    time: _dt.datetime | None = None,
) -> Record:
    """The end of a credential's session (``voluntary``, ``forced``, ``expired``)."""
    return Record(
        "closure",
        {
            "credential": _ref(credential),
            "reason": reason,
            "started_at": _time(started_at),
            "ended_at": _time(ended_at),
            "actions": actions,
            "summary": summary,
            "time": _time(time or ended_at),
        },
    )


def review(
    subject: Ref,
    *,
    reviewer: str,
    reviewer_issuer: str,
    verdict: str,
    started_at: _dt.datetime,
    finished_at: _dt.datetime,
    items: int,
    time: _dt.datetime | None = None,
) -> Record:
    """A human review of an authorization, credential or closure."""
    return Record(
        "review",
        {
            "subject": _ref(subject),
            "reviewer": {"subject": reviewer, "issuer": reviewer_issuer},
            "verdict": verdict,
            "started_at": _time(started_at),
            "finished_at": _time(finished_at),
            "items": items,
            "time": _time(time or finished_at),
        },
    )
