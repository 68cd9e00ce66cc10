"""``backhub webhooks serve`` as an operator runs it: a subprocess on a loopback port, fed by hand-made
deliveries and by the GitHub emulator's own webhook after a day of activity."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from backhub_pipeline.change_feed.change_log import ChangeLog
from tests.fixtures_emulator import start_emulator
from tests.servers import free_port, wait_for_http

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET = "a webhook secret nobody guesses"


@dataclass
class Receiver:
    url: str
    home: Path
    process: subprocess.Popen[str]

    @property
    def log_path(self) -> Path:
        return self.home / "change-log.sqlite"

    def records(self) -> list:
        return ChangeLog(self.log_path).records()

    def post(self, event: str, payload: dict, *, delivery: str | None = None, secret: str = SECRET) -> requests.Response:
        body = json.dumps(payload).encode()
        signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return requests.post(self.url, data=body, timeout=30, headers={
            "Content-Type": "application/json", "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()), "X-Hub-Signature-256": signature})


def environment(home: Path, **extra: str) -> dict[str, str]:
    base = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return {**base, "PYTHONPATH": str(REPO_ROOT), "DAGSTER_HOME": str(home), **extra}


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    home = tmp_path / "home"
    home.mkdir()  # an installation's home exists; serve creates no folder
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "backhub_pipeline.cli", "webhooks", "serve", "--port", str(port), "--path", "/github"],
        env=environment(home, BACKHUB_WEBHOOK_SECRET=SECRET), cwd=REPO_ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
        yield Receiver(f"http://127.0.0.1:{port}/github", home, process)
    finally:
        process.terminate()
        try:
            _, stderr = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
        assert SECRET not in stderr


PUSH = {"ref": "refs/heads/main", "repository": {"id": 501, "full_name": "acme/private-plans"},
        "installation": {"id": 9}, "commits": [{"message": "confidential"}]}


def test_a_delivery_becomes_one_compact_record(receiver: Receiver) -> None:
    answer = receiver.post("push", PUSH, delivery="d-1")
    assert answer.status_code == 202
    [record] = receiver.records()
    assert (record.delivery_id, record.repository_id, record.installation_id, record.event, record.kind) == \
        ("d-1", 501, 9, "push", "git")
    raw = receiver.log_path.read_bytes() + b"".join(p.read_bytes() for p in receiver.home.glob("change-log.sqlite-*"))
    assert b"confidential" not in raw and b"private-plans" not in raw


def test_a_signature_mismatch_is_refused_with_401_and_recorded_nowhere(receiver: Receiver) -> None:
    assert receiver.post("push", PUSH, secret="not the secret").status_code == 401
    unsigned = requests.post(receiver.url, json=PUSH, timeout=30,
                             headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-2"})
    assert unsigned.status_code == 401
    assert receiver.records() == []


def test_a_duplicate_delivery_is_recorded_once(receiver: Receiver) -> None:
    assert receiver.post("push", PUSH, delivery="d-3").status_code == 202
    again = receiver.post("push", PUSH, delivery="d-3")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert [r.delivery_id for r in receiver.records()] == ["d-3"]


def test_a_ping_or_a_malformed_delivery_records_nothing(receiver: Receiver) -> None:
    assert receiver.post("ping", {"zen": "Keep it logically awesome."}).status_code == 200
    body = b"not json"
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    bad = requests.post(receiver.url, data=body, timeout=30, headers={
        "X-GitHub-Event": "push", "X-GitHub-Delivery": "d-4", "X-Hub-Signature-256": signature})
    assert bad.status_code == 400
    assert receiver.records() == []


def test_serve_without_a_secret_exits_2_naming_the_variable(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "backhub_pipeline.cli", "webhooks", "serve", "--port", str(free_port())],
                          env=environment(tmp_path / "home"), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "BACKHUB_WEBHOOK_SECRET" in done.stderr
    assert not (tmp_path / "home" / "change-log.sqlite").exists()


def test_serve_with_a_mistyped_home_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "backhub_pipeline.cli", "webhooks", "serve", "--port", str(free_port())],
                          env=environment(tmp_path / "no-such-home", BACKHUB_WEBHOOK_SECRET=SECRET), cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().count("\n") == 0 and "DAGSTER_HOME" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_body_past_the_limit_is_refused_even_without_content_length(receiver: Receiver) -> None:
    from backhub_pipeline.change_feed.receiver import MAX_BODY_BYTES

    def chunks():  # a chunked upload: no Content-Length to check up front
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536

    response = requests.post(receiver.url, data=chunks(), headers={"X-GitHub-Event": "push",
                                                                   "X-GitHub-Delivery": "big"}, timeout=60)
    assert response.status_code == 413
    assert "content-length" not in {k.lower() for k in response.request.headers}


def test_a_day_of_emulated_activity_leaves_a_record_for_every_repository_that_changed(tmp_path: Path, receiver: Receiver) -> None:
    em = start_emulator(tmp_path / "emulator")
    try:
        em.control("POST", "app/hook", {"url": receiver.url, "secret": SECRET})
        before = em.state()
        em.control("POST", "advance", {"days": 1})
        assert em.control("POST", "app/hook/flush", {"timeout": 120})["idle"]
        after = em.state()
    finally:
        em.stop()

    def repos(state: dict) -> dict[int, tuple[str, dict]]:
        return {repo["id"]: (account["installation_id"], repo) for account in state["accounts"].values()
                if account["installation_id"] for repo in account["repositories"].values()}

    old, new = repos(before), repos(after)
    records = receiver.records()
    by_kind: dict[str, set[int]] = {}
    for record in records:
        by_kind.setdefault(record.kind, set()).add(record.repository_id)
        assert record.installation_id == (new.get(record.repository_id) or old[record.repository_id])[0]
    git_changed = {rid for rid, (_, repo) in new.items()
                   if {k: v for k, v in repo["refs"].items() if not k.startswith("refs/pull/")}
                   != {k: v for k, v in (old.get(rid, (0, {"refs": {}}))[1]["refs"]).items() if not k.startswith("refs/pull/")}}
    issues_changed = {rid for rid, (_, repo) in new.items() if rid in old and repo["issues"] != old[rid][1]["issues"]}
    wiki_changed = {rid for rid, (_, repo) in new.items() if rid in old and repo["wiki"] != old[rid][1]["wiki"]}
    gone_or_new = set(old) ^ set(new)
    renamed = {rid for rid in set(old) & set(new) if old[rid][1]["full_name"] != new[rid][1]["full_name"]}
    assert git_changed and issues_changed and wiki_changed and gone_or_new and renamed
    assert git_changed <= by_kind["git"]
    assert issues_changed <= by_kind["issues"]
    assert wiki_changed <= by_kind["wiki"]
    assert gone_or_new | renamed <= by_kind["metadata"]
    unchanged = set(old) - git_changed - issues_changed - wiki_changed - gone_or_new - renamed
    assert not unchanged & {r.repository_id for r in records}


def test_duplicated_and_reordered_deliveries_leave_exactly_one_record_set(tmp_path: Path, receiver: Receiver) -> None:
    em = start_emulator(tmp_path / "emulator")
    try:
        em.control("POST", "app/hook", {"url": receiver.url, "secret": SECRET})
        em.control("POST", "app/hook/faults", {"rate": 0.5, "kinds": ["duplicate", "reorder"]})
        em.control("POST", "advance", {"days": 1})
        assert em.control("POST", "app/hook/flush", {"timeout": 120})["idle"]
        injected = em.control("POST", "app/hook/faults", {})["injected"]
        with requests.Session() as session:
            from tests.emulator.conftest import app_jwt

            listed, url = [], f"{em.api_url}/app/hook/deliveries?per_page=100"
            while url:
                page = session.get(url, headers={"Authorization": f"Bearer {app_jwt(em)}"}, timeout=30)
                listed += page.json()
                url = page.links.get("next", {}).get("url")
    finally:
        em.stop()
    assert injected > 0
    guids = [d["guid"] for d in listed]
    assert len(guids) > len(set(guids))  # some events were delivered twice
    records = receiver.records()
    assert {r.delivery_id for r in records} == set(guids)
    keys = [(r.delivery_id, r.repository_id) for r in records]
    assert len(keys) == len(set(keys)) == len(set(guids))  # one record per event (each names one repository)
    expected = {(d["guid"], d["repository_id"], d["installation_id"], d["event"], d["action"]) for d in listed}
    assert {(r.delivery_id, r.repository_id, r.installation_id, r.event, r.action) for r in records} == expected
