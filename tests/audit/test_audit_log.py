"""Appending, reading and verifying the hash-chained audit log, and tampering caught in each way."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import boto3
import dagster as dg
import pytest

from resources.audit import (
    GENESIS_DIGEST,
    AuditLog,
    AuditLogResource,
    canonical_json,
    record_digest,
    record_name,
)
from tests.audit.conftest import new_bucket


class Raw:
    """The attacker's view: the log's objects, read and written without our code."""

    def __init__(self, url: str, endpoint: str | None) -> None:
        parsed = urllib.parse.urlparse(url)
        self.file = Path(parsed.path) if parsed.scheme == "file" else None
        self.bucket, self.prefix = parsed.netloc, parsed.path.strip("/") + "/"
        self.s3 = boto3.client("s3", endpoint_url=endpoint) if self.file is None else None

    def get(self, seq: int) -> dict:
        if self.file is not None:
            return json.loads((self.file / record_name(seq)).read_bytes())
        return json.loads(
            self.s3.get_object(Bucket=self.bucket, Key=self.prefix + record_name(seq))["Body"].read()
        )

    def put(self, seq: int, body: dict) -> None:
        data = canonical_json(body)
        if self.file is not None:
            (self.file / record_name(seq)).write_bytes(data)
        else:
            self.s3.put_object(Bucket=self.bucket, Key=self.prefix + record_name(seq), Body=data)

    def delete(self, seq: int) -> None:
        if self.file is not None:
            (self.file / record_name(seq)).unlink()
        else:
            self.s3.delete_object(Bucket=self.bucket, Key=self.prefix + record_name(seq))


def _fill(log: AuditLog, count: int) -> None:
    start = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    for day in range(count):
        log.append(
            actor="run:abc123",
            action="backup",
            outcome="ok",
            customer="acme",
            snapshot=(start + dt.timedelta(days=day)).date().isoformat(),
            details={"repositories": day},
            time=start + dt.timedelta(days=day, hours=1),
        )


def _forged(body: dict, **changes) -> dict:
    new = {**body, **changes}
    new["digest"] = record_digest(new)
    return new


@pytest.fixture
def raw(log_url) -> Raw:
    return Raw(*log_url)


def test_appended_records_read_back_and_verify(make_log: Callable[[], AuditLog]) -> None:
    log = make_log()
    _fill(log, 5)
    records = list(make_log().records())
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_digest == GENESIS_DIGEST
    assert all(
        later.prev_digest == earlier.digest for earlier, later in zip(records, records[1:], strict=False)
    )
    assert records[2].time == "2024-03-03T01:00:00.000000Z"
    assert (records[2].customer, records[2].snapshot, records[2].details) == (
        "acme",
        "2024-03-03",
        {"repositories": 2},
    )
    result = make_log().verify()
    assert (result.ok, result.records, result.problems) == (True, 5, [])
    assert result.anchor == f"5:{records[-1].digest}"


def test_empty_log_verifies(make_log: Callable[[], AuditLog]) -> None:
    result = make_log().verify()
    assert (result.ok, result.records) == (True, 0)


def test_edited_record_is_named(make_log: Callable[[], AuditLog], raw: Raw) -> None:
    _fill(make_log(), 6)
    raw.put(3, {**raw.get(3), "outcome": "failed"})
    result = make_log().verify()
    assert not result.ok
    assert result.problems == ["seq 3: edited: its content no longer matches its digest"]


def test_edited_record_with_recomputed_digest_is_named(make_log: Callable[[], AuditLog], raw: Raw) -> None:
    _fill(make_log(), 6)
    raw.put(3, _forged(raw.get(3), customer="other"))
    problems = make_log().verify().problems
    assert len(problems) == 1 and problems[0].startswith("seq 3: edited:")


def test_deleted_record_is_named(make_log: Callable[[], AuditLog], raw: Raw) -> None:
    _fill(make_log(), 6)
    raw.delete(4)
    assert make_log().verify().problems == ["seq 4: deleted: missing from the chain"]


def test_deleted_last_record_is_named(make_log: Callable[[], AuditLog], raw: Raw) -> None:
    _fill(make_log(), 6)
    raw.delete(6)
    assert make_log().verify().problems == ["seq 6: deleted: after the last record: the tail was truncated"]


def test_inserted_record_is_named(make_log: Callable[[], AuditLog], raw: Raw) -> None:
    # The forger makes room at seq 3 by moving 3..6 up one number, then writes a record that links
    # correctly to seq 2: the chain still names the original seq 3, so the forgery is exposed.
    _fill(make_log(), 6)
    for seq in range(6, 2, -1):
        raw.put(seq + 1, raw.get(seq))
    raw.put(3, _forged(raw.get(3), action="delete", snapshot="2024-02-01", details={}))
    problems = make_log().verify().problems
    assert problems[0].startswith("seq 3: inserted:")
    assert any(p.startswith("seq 4..7: renumbered:") for p in problems)


def test_reordered_records_are_named(make_log: Callable[[], AuditLog], raw: Raw) -> None:
    _fill(make_log(), 6)
    third, fourth = raw.get(3), raw.get(4)
    raw.put(3, fourth)
    raw.put(4, third)
    assert make_log().verify().problems == [
        "seq 3: reordered: holds the record written as seq 4",
        "seq 4: reordered: holds the record written as seq 3",
    ]


def test_records_swapped_with_renumbered_digests_name_the_moved_records_not_their_neighbour(
    make_log: Callable[[], AuditLog], raw: Raw
) -> None:
    """Swapping two records and recomputing their seq and digest used to call untouched seq 2 edited."""
    _fill(make_log(), 6)
    third, fourth = raw.get(3), raw.get(4)
    raw.put(3, _forged(fourth, seq=3))
    raw.put(4, _forged(third, seq=4))
    problems = make_log().verify().problems
    named = {int(p.split(":")[0].removeprefix("seq ")) for p in problems}
    assert named == {3, 4}
    assert problems[0].startswith("seq 3: reordered: does not follow seq 2")


def test_rewritten_tail_is_caught_by_an_anchor_kept_elsewhere(tmp_path: Path) -> None:
    log = AuditLog.from_url((tmp_path / "audit").as_uri())
    _fill(log, 5)
    seq, digest = log.head()
    raw = Raw((tmp_path / "audit").as_uri(), None)
    # A careful forger truncates the tail and rewrites the head hint too: only the anchor knows.
    raw.delete(5)
    (tmp_path / "audit" / "head.json").write_bytes(canonical_json({"seq": 4, "digest": raw.get(4)["digest"]}))
    assert log.verify().ok
    result = log.verify(anchor=f"{seq}:{digest}")
    assert result.problems == ["seq 5: deleted: after the last record: the tail was truncated"]


def test_an_anchor_that_disagrees_names_the_record(tmp_path: Path) -> None:
    log = AuditLog.from_url((tmp_path / "audit").as_uri())
    _fill(log, 5)
    raw = Raw((tmp_path / "audit").as_uri(), None)
    anchor = f"5:{log.head()[1]}"
    raw.put(5, _forged(raw.get(5), outcome="ok-edited"))
    (tmp_path / "audit" / "head.json").unlink()
    assert log.verify().ok  # a recomputed tail record is invisible without an anchor
    assert log.verify(anchor=anchor).problems == ["seq 5: edited: digest differs from the one in the anchor"]


def test_object_lock_bucket_retains_records_and_exposes_a_deleted_tail(moto_server) -> None:
    bucket = new_bucket(moto_server, object_lock=True)
    log = AuditLog.from_url(
        f"s3://{bucket}/audit", s3_endpoint_url=moto_server.endpoint_url, object_lock_days=2
    )
    _fill(log, 3)
    s3 = boto3.client("s3", endpoint_url=moto_server.endpoint_url)
    head = s3.head_object(Bucket=bucket, Key="audit/" + record_name(3))
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] > dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    # Deleting a locked record leaves a delete marker over the retained version: verify sees it,
    # even at the tail and with the head hint rewritten.
    s3.delete_object(Bucket=bucket, Key="audit/" + record_name(3))
    s3.put_object(Bucket=bucket, Key="audit/head.json", Body=b'{"seq":2,"digest":"x"}')
    problems = log.verify().problems
    assert "seq 3: deleted: a delete marker hides a retained version" in problems


def test_overwritten_record_on_a_versioned_bucket_is_named_even_when_consistent(moto_server) -> None:
    bucket = new_bucket(moto_server, object_lock=True)
    log = AuditLog.from_url(f"s3://{bucket}/audit", s3_endpoint_url=moto_server.endpoint_url)
    _fill(log, 3)
    raw = Raw(f"s3://{bucket}/audit", moto_server.endpoint_url)
    raw.put(3, _forged(raw.get(3), outcome="ok-edited"))
    s3 = boto3.client("s3", endpoint_url=moto_server.endpoint_url)
    s3.delete_object(Bucket=bucket, Key="audit/head.json")
    assert log.verify().problems == ["seq 3: edited: overwritten (2 versions stored)"]


def test_bucket_without_object_lock_still_works(moto_server) -> None:
    bucket = new_bucket(moto_server)
    log = AuditLog.from_url(f"s3://{bucket}", s3_endpoint_url=moto_server.endpoint_url)
    _fill(log, 2)
    s3 = boto3.client("s3", endpoint_url=moto_server.endpoint_url)
    assert "ObjectLockMode" not in s3.head_object(Bucket=bucket, Key=record_name(2))
    assert log.verify().ok


def test_secret_looking_details_are_redacted_before_they_are_stored(
    make_log: Callable[[], AuditLog], raw: Raw
) -> None:
    token = "ghs_" + "A1b2C3d4" * 5
    record = make_log().append(
        actor="run:1",
        action="key.create",
        outcome="ok",
        customer="acme",
        details={
            "key_id": "keyset-7",
            "token": "hunter2",
            "Authorization": "Bearer abcdefghijkl",
            "routing_key": "R0UT1NG",
            "nested": {
                "password": "pw",
                "note": f"cloned with {token}",
                "urls": ["https://u:pw@example.com/x"],
            },
        },
    )
    assert record.details == {
        "key_id": "keyset-7",
        "token": "<redacted>",
        "Authorization": "<redacted>",
        "routing_key": "<redacted>",
        "nested": {"password": "<redacted>", "note": "<redacted>", "urls": ["<redacted>"]},
    }
    stored = json.dumps(raw.get(1))
    for secret in ("hunter2", "abcdefghijkl", "R0UT1NG", '"pw"', token, "u:pw@"):
        assert secret not in stored
    assert make_log().verify().ok


def test_credential_in_actor_is_refused(make_log: Callable[[], AuditLog]) -> None:
    with pytest.raises(ValueError, match="credential"):
        make_log().append(actor="ghp_" + "x" * 36, action="backup", outcome="ok")
    assert make_log().verify().records == 0


def test_invalid_customer_and_naive_time_are_refused(tmp_path: Path) -> None:
    log = AuditLog.from_url((tmp_path / "audit").as_uri())
    with pytest.raises(ValueError):
        log.append(actor="a", action="backup", outcome="ok", customer="../etc")
    with pytest.raises(ValueError, match="timezone"):
        log.append(actor="a", action="backup", outcome="ok", time=dt.datetime(2024, 1, 1))


def test_records_rotated_among_three_numbers_are_each_named(
    make_log: Callable[[], AuditLog], raw: Raw
) -> None:
    _fill(make_log(), 6)
    third, fourth, fifth = raw.get(3), raw.get(4), raw.get(5)
    raw.put(3, fifth)
    raw.put(4, third)
    raw.put(5, fourth)
    assert make_log().verify().problems == [
        "seq 3: reordered: holds the record written as seq 5",
        "seq 4: reordered: holds the record written as seq 3",
        "seq 5: reordered: holds the record written as seq 4",
    ]


def test_an_edit_that_also_rewrites_the_link_names_only_that_record(
    make_log: Callable[[], AuditLog], raw: Raw
) -> None:
    _fill(make_log(), 5)
    raw.put(3, {**raw.get(3), "prev_digest": "f" * 64})
    assert make_log().verify().problems == ["seq 3: edited: its content no longer matches its digest"]


def test_an_unreadable_record_is_named_once(tmp_path: Path) -> None:
    log = AuditLog.from_url((tmp_path / "audit").as_uri())
    _fill(log, 3)
    (tmp_path / "audit" / record_name(2)).write_bytes(b"{not json")
    problems = log.verify().problems
    assert len(problems) == 1 and problems[0].startswith("seq 2: edited: not a valid record")


def test_a_foreign_object_among_the_records_is_reported_as_inserted(tmp_path: Path) -> None:
    log = AuditLog.from_url((tmp_path / "audit").as_uri())
    _fill(log, 2)
    (tmp_path / "audit" / "records" / "00000000000000000001a.json").write_bytes(b"{}")
    assert log.verify().problems == [
        "records/00000000000000000001a.json: inserted: not a record name this log writes"
    ]


def test_the_dagster_resource_hands_out_a_log_that_appends(tmp_path: Path) -> None:
    @dg.asset
    def audited(audit: AuditLogResource) -> None:
        audit.get_client().append(actor="run:test", action="verify", outcome="ok", customer="acme")

    resource = AuditLogResource(url=(tmp_path / "audit").as_uri())
    assert dg.materialize([audited], resources={"audit": resource}).success
    [record] = AuditLog.from_url((tmp_path / "audit").as_uri()).records()
    assert (record.seq, record.action, record.customer) == (1, "verify", "acme")
