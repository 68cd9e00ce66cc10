"""`backhub audit verify` exits 0 on an intact log and 1 naming the bad record; show/tail/head read it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backhub_pipeline.cli import main
from resources.audit import AuditLog, record_name

ROOT = Path(__file__).resolve().parents[2]


def _backhub(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BACKHUB_AUDIT_URL"}
    return subprocess.run(
        [sys.executable, "-m", "backhub_pipeline.cli", "audit", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )


def _backhub_here(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The same command in this process: cheaper, for behaviour beyond the exit code."""
    code = main(["audit", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _log(tmp_path: Path) -> tuple[str, AuditLog]:
    url = (tmp_path / "audit").as_uri()
    log = AuditLog.from_url(url)
    for customer in ("acme", "globex", "acme"):
        log.append(actor="run:1", action="backup", outcome="ok", customer=customer, snapshot="2024-03-01")
    log.append(actor="operator", action="erase", outcome="ok", customer="globex")
    return url, log


def test_verify_exits_zero_on_an_intact_log(tmp_path: Path) -> None:
    url, log = _log(tmp_path)
    result = _backhub("--url", url, "verify")
    assert result.returncode == 0, result.stderr
    assert "OK, 4 records" in result.stdout
    assert f"head 4:{log.head()[1]}" in result.stdout


def test_verify_exits_one_and_names_the_tampered_record(tmp_path: Path) -> None:
    url, _log_ = _log(tmp_path)
    path = tmp_path / "audit" / record_name(2)
    path.write_text(path.read_text().replace('"ok"', '"failed"'))
    result = _backhub("--url", url, "verify")
    assert result.returncode == 1
    assert "seq 2: edited" in result.stdout


def test_verify_with_an_anchor_catches_a_truncated_tail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _log_ = _log(tmp_path)
    _code, anchor, _err = _backhub_here(capsys, "--url", url, "head")
    (tmp_path / "audit" / record_name(4)).unlink()
    (tmp_path / "audit" / "head.json").unlink()
    assert _backhub_here(capsys, "--url", url, "verify")[0] == 0
    code, out, _err = _backhub_here(capsys, "--url", url, "verify", "--anchor", anchor.strip())
    assert code == 1
    assert "seq 4: deleted" in out


def test_a_malformed_anchor_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, _log_ = _log(tmp_path)
    code, _out, err = _backhub_here(capsys, "--url", url, "verify", "--anchor", "nonsense")
    assert code == 2  # a usage error (exit codes: 0 ok, 1 integrity, 2 usage)
    assert "expected SEQ:SHA256HEX" in err


def test_show_filters_and_tail_prints_the_newest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, _log_ = _log(tmp_path)
    _code, shown, _err = _backhub_here(capsys, "--url", url, "show", "--customer", "globex", "--json")
    assert [json.loads(line)["seq"] for line in shown.splitlines()] == [2, 4]
    code, tail, _err = _backhub_here(capsys, "--url", url, "tail", "-n", "1")
    assert code == 0
    assert tail.split()[0] == "4" and tail.split()[2] == "erase"
