"""A writer that holds a blob's plaintext rewrites a stored copy that no longer authenticates (heal)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from resources.errors import StorageUnavailableError
from resources.snapshot_store import SnapshotStore
from tests.store.conftest import StoreEnv
from tests.store.faults import DropConnectionOnRead

SEGMENT = 1024 * 1024


def blob_key(customer: str, bid: str) -> str:
    return f"customers/{customer}/blobs/{bid[:2]}/{bid}"


def flip(env: StoreEnv, bid: str, offset: int) -> bytes:
    raw = env.raw_store()
    data = bytearray(raw.get(blob_key("acme", bid)))
    data[offset] ^= 0x01
    raw.put(blob_key("acme", bid), bytes(data))
    return bytes(data)


@pytest.mark.parametrize("offset", [SEGMENT + 100, -1], ids=["middle-segment", "last-tag"])
def test_a_put_of_the_same_plaintext_rewrites_a_corrupted_copy(env: StoreEnv, store: SnapshotStore, offset: int) -> None:
    plaintext = os.urandom(2 * SEGMENT + 4321)
    bid = store.put_blob("acme", plaintext).id
    corrupt = flip(env, bid, offset)  # the size stays the same: only reading it shows the damage

    ref = store.put_blob("acme", plaintext)

    assert (ref.id, ref.new, ref.healed) == (bid, True, True)
    assert env.raw_store().get(blob_key("acme", bid)) != corrupt
    assert store.read_blob("acme", bid) == plaintext
    store.write_manifest("acme", "2026-11-28", "repositories", {}, [bid])
    assert store.verify("acme", "2026-11-28", read_data=True).ok


def test_a_streamed_file_heals_a_corrupted_copy_too(env: StoreEnv, store: SnapshotStore, tmp_path: Path) -> None:
    path = tmp_path / "bundle"
    path.write_bytes(os.urandom(SEGMENT + 77))
    bid = store.put_blob_file("acme", path).id
    flip(env, bid, 60)

    ref = store.put_blob_file("acme", path)

    assert ref.healed and store.read_blob("acme", bid) == path.read_bytes()


def test_an_intact_copy_is_reused_untouched(env: StoreEnv, store: SnapshotStore) -> None:
    plaintext = b"unchanged metadata " * 500
    bid = store.put_blob("acme", plaintext).id
    before = env.raw_store().get(blob_key("acme", bid))

    ref = store.put_blob("acme", plaintext)

    assert (ref.new, ref.healed) == (False, False)
    assert env.raw_store().get(blob_key("acme", bid)) == before


def test_a_storage_outage_while_checking_the_copy_is_raised_not_healed(env: StoreEnv, store: SnapshotStore) -> None:
    plaintext = os.urandom(SEGMENT + 10)
    bid = store.put_blob("acme", plaintext).id
    before = env.raw_store().get(blob_key("acme", bid))
    flaky = SnapshotStore(DropConnectionOnRead(env.raw_store(), after=1000), env.keyring())

    with pytest.raises(StorageUnavailableError):
        flaky.put_blob("acme", plaintext)

    assert env.raw_store().get(blob_key("acme", bid)) == before
