"""Tampering at rest is caught, with an error that names the blob or the manifest."""

from __future__ import annotations

import os

import pytest

from resources.errors import IntegrityError, SnapshotNotFoundError, StorageUnavailableError
from resources.snapshot_store import SnapshotStore
from tests.store.conftest import StoreEnv
from tests.store.faults import DropConnectionOnRead, FlipBitOnRead, TruncateOnRead

SEGMENT = 1024 * 1024
PREFIX = 8  # BHBLOB, version, codec
TINK_HEADER = 40  # length byte, 32-byte salt, 7-byte nonce prefix


def blob_key(customer: str, bid: str) -> str:
    return f"customers/{customer}/blobs/{bid[:2]}/{bid}"


@pytest.fixture
def stored(store: SnapshotStore) -> str:
    """An incompressible blob of three Tink segments."""
    return store.put_blob("acme", os.urandom(2 * SEGMENT + 4321)).id


def expect_tamper_caught(store: SnapshotStore, bid: str) -> None:
    with pytest.raises(IntegrityError, match=bid):
        store.read_blob("acme", bid)
    store.write_manifest("acme", "2026-11-28", "repositories", {}, [bid])
    report = store.verify("acme", "2026-11-28", read_data=True)
    assert not report.ok and any(bid in p for p in report.problems)


@pytest.mark.parametrize(
    "offset",
    [0, 6, 7, PREFIX, PREFIX + 5, PREFIX + TINK_HEADER + 3, SEGMENT + 100, -SEGMENT + 10, -17, -1],
    ids=[
        "magic",
        "version",
        "codec",
        "tink-header-length",
        "salt",
        "first-segment",
        "middle-segment",
        "last-segment",
        "last-segment-end",
        "last-tag",
    ],
)
def test_flipped_byte_anywhere_is_caught(env: StoreEnv, store: SnapshotStore, stored: str, offset: int) -> None:
    raw = env.raw_store()
    data = bytearray(raw.get(blob_key("acme", stored)))
    data[offset] ^= 0x20
    raw.put(blob_key("acme", stored), bytes(data))
    expect_tamper_caught(store, stored)


@pytest.mark.parametrize("cut", [1, 16, SEGMENT // 2, "segment-boundary"])
def test_truncation_is_caught(env: StoreEnv, store: SnapshotStore, stored: str, cut: int | str) -> None:
    raw = env.raw_store()
    data = raw.get(blob_key("acme", stored))
    keep = PREFIX + 2 * SEGMENT if cut == "segment-boundary" else len(data) - int(cut)
    raw.put(blob_key("acme", stored), data[:keep])
    expect_tamper_caught(store, stored)


@pytest.mark.parametrize("extra", [b"\x00", os.urandom(16), os.urandom(SEGMENT)], ids=["1", "16", "segment"])
def test_appended_bytes_are_caught(env: StoreEnv, store: SnapshotStore, stored: str, extra: bytes) -> None:
    raw = env.raw_store()
    raw.put(blob_key("acme", stored), raw.get(blob_key("acme", stored)) + extra)
    expect_tamper_caught(store, stored)


def test_blob_swapped_for_another_blob_of_the_same_customer_is_caught(
    env: StoreEnv, store: SnapshotStore, stored: str
) -> None:
    other = store.put_blob("acme", b"another blob").id
    raw = env.raw_store()
    raw.put(blob_key("acme", stored), raw.get(blob_key("acme", other)))
    expect_tamper_caught(store, stored)


def test_blob_copied_from_another_customer_is_caught(env: StoreEnv, store: SnapshotStore) -> None:
    mine = store.put_blob("acme", b"same plaintext").id
    theirs = store.put_blob("globex", b"same plaintext").id
    raw = env.raw_store()
    raw.put(blob_key("acme", mine), raw.get(blob_key("globex", theirs)))
    expect_tamper_caught(store, mine)


@pytest.mark.parametrize("offset", [3, 200, -1])
def test_bit_flipped_in_transit_is_caught(env: StoreEnv, stored: str, offset: int) -> None:
    store = env.store()
    store.storage = FlipBitOnRead(store.storage, offset)
    with pytest.raises(IntegrityError, match=stored):
        store.read_blob("acme", stored)


def test_read_cut_short_in_transit_is_caught(env: StoreEnv, stored: str) -> None:
    store = env.store()
    store.storage = TruncateOnRead(store.storage, 1000)
    with pytest.raises(IntegrityError, match=stored):
        with store.open_blob("acme", stored) as f:
            while f.read(4096):
                pass


def test_missing_blob_is_reported_by_verify(env: StoreEnv, store: SnapshotStore, stored: str) -> None:
    store.write_manifest("acme", "2026-11-28", "repositories", {}, [stored])
    env.raw_store().delete(blob_key("acme", stored))
    report = store.verify("acme", "2026-11-28")
    assert not report.ok and report.problems == [f"blob {stored} of acme/2026-11-28/repositories: missing"]
    with pytest.raises(IntegrityError, match=stored):
        store.read_blob("acme", stored)


# -- manifests --------------------------------------------------------------------------------


def manifest_key(date: str, asset: str = "issues") -> str:
    return f"customers/acme/snapshots/{date}/{asset}.json"


@pytest.mark.parametrize("offset", [0, 4, 10, -1])
def test_edited_manifest_is_caught(env: StoreEnv, store: SnapshotStore, offset: int) -> None:
    store.write_manifest("acme", "2026-11-28", "issues", {"issues": 3}, [])
    raw = env.raw_store()
    data = bytearray(raw.get(manifest_key("2026-11-28")))
    data[offset] ^= 0x01
    raw.put(manifest_key("2026-11-28"), bytes(data))
    with pytest.raises(IntegrityError, match="acme/2026-11-28/issues"):
        store.read_manifest("acme", "2026-11-28", "issues")
    assert not store.verify("acme", "2026-11-28").ok


@pytest.mark.parametrize(
    "source",
    [("2026-11-27", "issues"), ("2026-11-28", "wikis")],
    ids=["another-date", "another-asset"],
)
def test_manifest_replaced_by_another_snapshots_is_caught(
    env: StoreEnv, store: SnapshotStore, source: tuple[str, str]
) -> None:
    store.write_manifest("acme", "2026-11-27", "issues", {"day": 27}, [])
    store.write_manifest("acme", "2026-11-28", "wikis", {"day": 28}, [])
    store.write_manifest("acme", "2026-11-28", "issues", {"day": 28}, [])
    raw = env.raw_store()
    raw.put(manifest_key("2026-11-28"), raw.get(manifest_key(*source)))
    with pytest.raises(IntegrityError, match="acme/2026-11-28/issues"):
        store.read_manifest("acme", "2026-11-28", "issues")


def test_manifest_copied_from_another_customer_is_caught(env: StoreEnv, store: SnapshotStore) -> None:
    store.write_manifest("globex", "2026-11-28", "issues", {}, [])
    store.write_manifest("acme", "2026-11-28", "issues", {}, [])
    raw = env.raw_store()
    raw.put(manifest_key("2026-11-28"), raw.get("customers/globex/snapshots/2026-11-28/issues.json"))
    with pytest.raises(IntegrityError, match="acme/2026-11-28/issues"):
        store.read_manifest("acme", "2026-11-28", "issues")


def test_manifest_replaced_by_an_older_version_of_itself_is_caught(env: StoreEnv, store: SnapshotStore) -> None:
    raw = env.raw_store()
    first = store.write_manifest("acme", "2026-11-28", "issues", {"version": 1}, [])
    old_bytes = raw.get(manifest_key("2026-11-28"))
    second = store.write_manifest("acme", "2026-11-28", "issues", {"version": 2}, [])
    assert second.supersedes == first.digest and second.generation == 2
    store.write_manifest("acme", "2026-11-29", "issues", {"version": 3}, [])
    assert store.verify("acme", "2026-11-28").ok

    raw.put(manifest_key("2026-11-28"), old_bytes)
    # It decrypts (it is genuine, only stale): the next day's parent link and the digest catch it.
    assert store.read_manifest("acme", "2026-11-28", "issues").body == {"version": 1}
    report = store.verify("acme", "2026-11-28")
    assert not report.ok
    assert "acme/2026-11-28/issues" in report.problems[0] and "replaced" in report.problems[0]
    with pytest.raises(IntegrityError, match="acme/2026-11-28/issues"):
        store.read_manifest("acme", "2026-11-28", "issues", expected_digest=second.digest)


def test_a_past_day_committed_again_after_the_next_day_is_not_taken_for_tampering(store: SnapshotStore) -> None:
    store.write_manifest("acme", "2026-11-28", "issues", {"try": 1}, [])
    store.write_manifest("acme", "2026-11-29", "issues", {}, [])
    # The failed day is retried twice: each commit is a newer generation than the one 11-29 followed.
    store.write_manifest("acme", "2026-11-28", "issues", {"try": 2}, [])
    store.write_manifest("acme", "2026-11-28", "issues", {"try": 3}, [])
    report = store.verify("acme", "2026-11-28")
    assert report.ok, report.problems


def test_deleted_manifest_means_no_snapshot(env: StoreEnv, store: SnapshotStore) -> None:
    store.write_manifest("acme", "2026-11-28", "issues", {}, [])
    store.delete_manifest("acme", "2026-11-28", "issues")
    assert store.list_snapshots("acme") == {}
    with pytest.raises(SnapshotNotFoundError):
        store.read_manifest("acme", "2026-11-28", "issues")


def test_connection_dropped_mid_blob_is_retryable_not_corruption(env: StoreEnv, stored: str) -> None:
    store = env.store()
    store.storage = DropConnectionOnRead(store.storage, SEGMENT + SEGMENT // 2)
    with pytest.raises(StorageUnavailableError, match="injected connection reset"):
        store.read_blob("acme", stored)
