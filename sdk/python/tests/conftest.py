"""A real causeway-server for the SDK's tests, on 127.0.0.1, with a producer
policy trusting keys made here. The server binary comes from
$CAUSEWAY_SERVER, the `causeway` CLI (which writes proof bundles) from
$CAUSEWAY_CLI and the witness from $CAUSEWAY_WITNESS (the Rust harness,
tests/tests/python_sdk.rs, sets them); the TSA is tests/interop/tsa_server.py."""

import base64
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Sequence

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


class Key:
    """A throwaway ECDSA P-256 key."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.pem = self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.spki = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class Log:
    """A running causeway-server."""

    def __init__(self, tmp: Path, extra_args: Sequence[str] = ()) -> None:
        server = os.environ.get("CAUSEWAY_SERVER")
        if not server:
            pytest.fail("set CAUSEWAY_SERVER to the causeway-server binary (cargo build --bins)")
        self.keys = {name: Key() for name in ("alice", "issuer", "verifier")}
        roles = {"alice": ("alice@example.com", "human"), "issuer": ("jit-issuer", "issuer"),
                 "verifier": ("preflight", "verifier")}
        policy = 'max_future_skew = "5m"\nmax_past_skew = "1h"\n'
        for name, key in self.keys.items():
            principal, role = roles[name]
            (tmp / f"{name}.pem").write_text(key.pem)
            policy += (
                f'\n[[principal]]\nname = "{principal}"\nrole = "{role}"\n'
                f'keys = ["{base64.b64encode(key.spki).decode()}"]\n'
            )
        (tmp / "policy.toml").write_text(policy)
        self.dir = tmp
        self.proc = subprocess.Popen(
            [server, "--data-dir", str(tmp / "log"), "--grpc-addr", "127.0.0.1:0",
             "--http-addr", "127.0.0.1:0", "--origin", "test.causeway/log",
             "--policy", str(tmp / "policy.toml"), *extra_args],
            stdout=subprocess.PIPE, stderr=open(tmp / "server.stderr", "w"), text=True,
            env={**os.environ, "RUST_LOG": "warn"},
        )
        self.vkeys: list[str] = []
        self.url = ""
        self.tiles_url = ""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("vkey "):
                self.vkeys.append(line[5:])
            if line.startswith("causeway-server ready "):
                fields = dict(f.split("=", 1) for f in line.split()[2:] if "=" in f)
                self.url = f"http://{fields['grpc']}"
                self.tiles_url = f"http://{fields['http']}"
                break
        if not self.url:
            raise RuntimeError((tmp / "server.stderr").read_text())
        # Keep reading stdout so the server never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


class Tsa:
    """A real RFC 3161 TSA: OpenSSL's `openssl ts -reply` behind the
    repository's test fixture, tests/interop/tsa_server.py."""

    def __init__(self, tmp: Path) -> None:
        script = Path(__file__).resolve().parents[3] / "tests/interop/tsa_server.py"
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(tmp), "ec"],
            stdout=subprocess.PIPE, stderr=open(tmp.parent / "tsa.stderr", "w"), text=True,
        )
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline().split()
        if not ready or ready[0] != "ready":
            self.proc.kill()
            raise RuntimeError((tmp.parent / "tsa.stderr").read_text())
        fields = dict(f.split("=", 1) for f in ready[1:])
        self.url = f"http://127.0.0.1:{fields['port']}/"
        self.roots = Path(fields["roots"])

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


class Witness:
    """A running causeway-witness (the binary from $CAUSEWAY_WITNESS)
    that cosigns for the log keys `logs`."""

    def __init__(self, tmp: Path, logs: Sequence[str]) -> None:
        binary = os.environ.get("CAUSEWAY_WITNESS")
        if not binary:
            pytest.fail("set CAUSEWAY_WITNESS to the causeway-witness binary (cargo build --bins)")
        args = [binary, "--data-dir", str(tmp), "--addr", "127.0.0.1:0", "--name", "witness.test/w1"]
        for vkey in logs:
            args += ["--log", vkey]
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=open(tmp.parent / "witness.stderr", "w"), text=True,
            env={**os.environ, "RUST_LOG": "warn"},
        )
        assert self.proc.stdout is not None
        fields: dict[str, str] = {}
        for line in self.proc.stdout:
            if line.startswith("causeway-witness ready "):
                fields = dict(f.split("=", 1) for f in line.split()[2:] if "=" in f)
                break
        if "vkey" not in fields:
            self.proc.kill()
            raise RuntimeError((tmp.parent / "witness.stderr").read_text())
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        self.url = f"http://{fields['addr']}"
        self.vkey = fields["vkey"]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def log(tmp_path: Path):
    running = Log(tmp_path)
    yield running
    running.stop()


@pytest.fixture
def anchored_log(tmp_path: Path):
    """A log that has its checkpoints timestamped by a real TSA as soon as
    they are published; `.tsa.roots` is the TSA's root certificate."""
    tsa = Tsa(tmp_path / "tsa")
    try:
        running = Log(tmp_path, ["--tsa-url", tsa.url, "--tsa-roots", str(tsa.roots),
                                 "--tsa-interval", "0ms"])
    except BaseException:
        tsa.stop()
        raise
    running.tsa = tsa
    yield running
    running.stop()
    tsa.stop()


@pytest.fixture
def witnessed_log(tmp_path: Path):
    """A log that publishes a checkpoint once its one witness has cosigned
    it (quorum 1); `.witness.vkey` is the witness's cosignature key. The
    log's keys are made first (`causeway-server init`), for the witness to
    trust."""
    init = subprocess.run(
        [os.environ.get("CAUSEWAY_SERVER", "causeway-server"), "init", "--data-dir",
         str(tmp_path / "log"), "--origin", "test.causeway/log", "--json"],
        capture_output=True, text=True,
    )
    assert init.returncode == 0, init.stderr
    witness = Witness(tmp_path / "witness", json.loads(init.stdout)["vkeys"])
    try:
        running = Log(tmp_path, ["--witness", f"{witness.vkey}@{witness.url}", "--witness-quorum", "1"])
    except BaseException:
        witness.stop()
        raise
    running.witness = witness
    yield running
    running.stop()
    witness.stop()
