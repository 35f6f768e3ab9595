#!/usr/bin/env python3
"""Records/s signed and submitted from Python with the causeway SDK, and the
Rust CLI (`causeway submit --key --kind`) doing the same in the same run as
the baseline: N authorizations, batched, each receipt's checkpoint and
inclusion verified with the log's keys, against a fresh causeway-server.

    python3 benches/python/sdk_throughput.py --bin-dir target/release [--records 5000]

Needs the SDK installed (pip install ./sdk/python) in this interpreter,
and `cryptography`."""

import argparse
import base64
import datetime as dt
import json
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import causeway


def start_server(bin_dir: Path, tmp: Path, key: causeway.Key):
    policy = tmp / "policy.toml"
    policy.write_text(
        'max_future_skew = "5m"\n\n[[principal]]\nname = "alice@example.com"\nrole = "human"\n'
        f'keys = ["{base64.b64encode(key.public_der).decode()}"]\n'
    )
    proc = subprocess.Popen(
        [str(bin_dir / "causeway-server"), "--data-dir", str(tmp / "log"), "--grpc-addr",
         "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--origin", "bench.causeway/log",
         "--policy", str(policy)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    vkeys, url = [], ""
    for line in proc.stdout:
        if line.startswith("vkey "):
            vkeys.append(line[5:].strip())
        if line.startswith("causeway-server ready "):
            fields = dict(f.split("=", 1) for f in line.split()[2:] if "=" in f)
            url = f"http://{fields['grpc']}"
            break
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return proc, url, vkeys


def records(n: int, tag: str):
    now = dt.datetime.now(dt.timezone.utc)
    return [
        causeway.authorization(
            approver="alice@example.com", approver_issuer="https://sso.example.com",
            ticket=f"{tag}-{i}", objective="bench", method="m", test_approach="t", backout="b",
            targets=["prod/api"], actions=["deploy"], not_after=now + dt.timedelta(hours=1),
            time=now,
        )
        for i in range(n)
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin-dir", type=Path, required=True)
    ap.add_argument("--records", type=int, default=5000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    key = causeway.new_key()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        proc, url, vkeys = start_server(args.bin_dir, tmp, key)
        try:
            # Python: build, sign (in the Rust core) and submit, verified.
            batch = records(args.records, "PY")
            t0 = time.perf_counter()
            receipts = causeway.Producer(url, key.pem, log_vkeys=vkeys).submit(*batch)
            py_s = time.perf_counter() - t0
            assert len(receipts) == args.records and all(r.verified for r in receipts)
            # The CLI: the same records as JSON files, one invocation.
            files = []
            for i, r in enumerate(records(args.records, "CLI")):
                f = tmp / f"r{i}.json"
                f.write_text(r.json())
                files.append(str(f))
            (tmp / "key.pem").write_text(key.pem)
            cmd = [str(args.bin_dir / "causeway"), "submit", "--log", url, "--key",
                   str(tmp / "key.pem"), "--kind", "authorization", "--json"]
            for v in vkeys:
                cmd += ["--vkey", v]
            t0 = time.perf_counter()
            out = subprocess.run(cmd + files, capture_output=True, text=True)
            cli_s = time.perf_counter() - t0
            if out.returncode != 0:
                raise SystemExit(f"causeway submit failed: {out.stderr}")
        finally:
            proc.kill()
            proc.wait()
    py_rate, cli_rate = args.records / py_s, args.records / cli_s
    if args.json:
        print(json.dumps({"records": args.records, "python_per_s": py_rate, "cli_per_s": cli_rate,
                          "ratio": py_rate / cli_rate}))
        return
    print("| producer | records | seconds | records/s | ratio |")
    print("|---|---|---|---|---|")
    print(f"| Rust CLI `causeway submit --key --kind --vkey` (baseline) | {args.records} | {cli_s:.2f} | {cli_rate:,.0f} | 1.00 |")
    print(f"| Python SDK `Producer(log_vkeys=...).submit(*records)` | {args.records} | {py_s:.2f} | {py_rate:,.0f} | {py_rate / cli_rate:.2f} |")


if __name__ == "__main__":
    main()
