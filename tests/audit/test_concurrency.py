"""Appends from several processes at once form one unbroken chain and lose nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from resources.audit import AuditLog

ROOT = Path(__file__).resolve().parents[2]
WRITER = """
import sys
from resources.audit import AuditLog
url, endpoint, worker, count = sys.argv[1], sys.argv[2] or None, sys.argv[3], int(sys.argv[4])
log = AuditLog.from_url(url, s3_endpoint_url=endpoint)
sys.stdin.readline()  # start together
for i in range(count):
    log.append(actor=f"worker-{worker}", action="backup", outcome="ok", details={"i": i})
"""
# Enough writers to collide often; fewer on S3, where every attempt is a few HTTP round trips.
LOAD = {"file": (4, 12), "s3": (3, 6)}


def test_concurrent_appends_from_processes_form_one_chain(log_url) -> None:
    url, endpoint = log_url
    workers, each = LOAD["s3" if endpoint else "file"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, endpoint or "", str(n), str(each)],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        for n in range(workers)
    ]
    for writer in writers:  # all are importing by now; release them at once
        writer.stdin.write(b"go\n")
        writer.stdin.flush()
    for writer in writers:
        _out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err.decode()

    log = AuditLog.from_url(url, s3_endpoint_url=endpoint)
    result = log.verify()
    assert result.ok, result.problems
    assert result.records == workers * each
    written = Counter((r.actor, r.details["i"]) for r in log.records())
    assert set(written) == {(f"worker-{n}", i) for n in range(workers) for i in range(each)}
    assert max(written.values()) == 1
    # each writer's own records appear in the order it wrote them
    for n in range(workers):
        mine = [r.details["i"] for r in log.records() if r.actor == f"worker-{n}"]
        assert mine == sorted(mine)
