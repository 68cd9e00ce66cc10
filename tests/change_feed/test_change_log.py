"""The change feed's domain without a server: signatures, the records a delivery makes, the log's
deduplication and its indifference to arrival order."""

from __future__ import annotations

import hashlib
import hmac
import random
from pathlib import Path

from backhub_pipeline.change_feed.change_log import ChangeLog, ChangeRecord
from backhub_pipeline.change_feed.receiver import change_records, signature_matches

SECRET = b"s3cret"


def sign(body: bytes, secret: bytes = SECRET) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def test_the_right_signature_matches() -> None:
    assert signature_matches(SECRET, b'{"a":1}', sign(b'{"a":1}'))


def test_a_signature_with_another_secret_another_body_or_none_does_not_match() -> None:
    body = b'{"a":1}'
    assert not signature_matches(SECRET, body, sign(body, b"other"))
    assert not signature_matches(SECRET, body + b" ", sign(body))
    assert not signature_matches(SECRET, body, None)
    assert not signature_matches(SECRET, body, "")
    assert not signature_matches(SECRET, body, "sha1=" + hmac.new(SECRET, body, hashlib.sha1).hexdigest())
    assert not signature_matches(SECRET, body, sign(body).upper())
    assert not signature_matches(SECRET, body, "sha256=ünï")


def test_a_delivery_is_recorded_without_its_content() -> None:
    payload = {"action": "opened", "issue": {"title": "secret plans", "body": "do not keep"},
               "repository": {"id": 42, "full_name": "acme/secret"}, "installation": {"id": 7}}
    [record] = change_records("issues", "guid-1", payload, "2026-01-02T03:04:05Z")
    assert record == ChangeRecord("guid-1", 42, 7, "issues", "opened", "issues", "2026-01-02T03:04:05Z")
    assert "secret" not in repr(record) and "acme" not in repr(record)


def test_an_installation_event_records_each_repository_it_names_and_else_the_installation() -> None:
    added = {"action": "added", "installation": {"id": 7}, "repositories_added": [{"id": 1}, {"id": 2}],
             "repositories_removed": [{"id": 3}]}
    assert [r.repository_id for r in change_records("installation_repositories", "g", added, "t")] == [1, 2, 3]
    assert {r.kind for r in change_records("installation_repositories", "g", added, "t")} == {"installation"}
    deleted = {"action": "deleted", "installation": {"id": 7}}
    assert [r.repository_id for r in change_records("installation", "g", deleted, "t")] == [0]


def test_kinds_follow_what_a_snapshot_would_read_again() -> None:
    kinds = {event: change_records(event, "g", {"repository": {"id": 1}, "installation": {"id": 2}}, "t")[0].kind
             for event in ("push", "create", "delete", "gollum", "issue_comment", "pull_request_review", "label",
                           "repository", "release")}
    assert kinds == {"push": "git", "create": "git", "delete": "git", "gollum": "wiki", "issue_comment": "issues",
                     "pull_request_review": "issues", "label": "issues", "repository": "metadata",
                     "release": "metadata"}


def test_a_repeated_delivery_is_recorded_once(tmp_path: Path) -> None:
    log = ChangeLog(tmp_path / "changes.sqlite")
    record = ChangeRecord("guid-1", 42, 7, "push", None, "git", "2026-01-02T03:04:05Z")
    assert log.record([record]) == 1
    assert log.record([record]) == 0
    assert log.record([ChangeRecord("guid-1", 42, 7, "push", None, "git", "2026-01-02T09:00:00Z")]) == 0
    assert log.records() == [record] and log.seen("guid-1") and not log.seen("guid-2")


def test_arrival_order_changes_nothing_in_the_records(tmp_path: Path) -> None:
    deliveries = [change_records(event, f"guid-{n}", {"action": "x", "repository": {"id": n % 3},
                                                     "installation": {"id": 7}}, "2026-01-02T03:04:05Z")
                  for n, event in enumerate(["push", "issues", "gollum", "push", "label", "create"] * 3)]
    in_order, shuffled = ChangeLog(tmp_path / "a.sqlite"), ChangeLog(tmp_path / "b.sqlite")
    for records in deliveries:
        in_order.record(records)
    mixed = deliveries + deliveries[:5]  # reordered, some twice
    random.Random(4).shuffle(mixed)
    for records in mixed:
        shuffled.record(records)
    assert set(in_order.records()) == set(shuffled.records()) and len(in_order.records()) == len(deliveries)


def test_records_survive_reopening_the_log(tmp_path: Path) -> None:
    path = tmp_path / "changes.sqlite"
    log = ChangeLog(path)
    log.record([ChangeRecord("guid-1", 42, 7, "push", None, "git", "t")])
    log.close()
    assert [r.delivery_id for r in ChangeLog(path).records()] == ["guid-1"]
