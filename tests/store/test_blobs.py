"""Blob round trips, deduplication and streaming, on both backends."""

from __future__ import annotations

import hashlib
import os
import random
import tracemalloc
from pathlib import Path

import pytest

from resources.errors import InvalidNameError
from resources.snapshot_store import BLOB_PREFIX, SnapshotStore
from tests.store.conftest import StoreEnv, all_objects


def compressible(size: int, seed: int = 7) -> bytes:
    """Random-ish text that zstd shrinks to about half, like source code and JSON."""
    rng = random.Random(seed)
    words = [rng.randbytes(rng.randint(2, 9)).hex().encode() for _ in range(4096)]
    out = bytearray()
    while len(out) < size:
        out += b" ".join(rng.choices(words, k=64)) + b"\n"
    return bytes(out[:size])


@pytest.mark.parametrize("data", [b"", b"x", b"hello, world\n"], ids=["empty", "one-byte", "tiny"])
def test_small_blob_round_trips(store: SnapshotStore, data: bytes) -> None:
    ref = store.put_blob("acme", data)
    assert ref.new and ref.size == len(data)
    assert store.read_blob("acme", ref.id) == data
    assert store.blob_exists("acme", ref.id)


def test_blob_spanning_several_segments_round_trips(store: SnapshotStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # incompressible: four 1 MiB Tink segments
    ref = store.put_blob("acme", data)
    with store.open_blob("acme", ref.id) as f:
        assert f.read(10) == data[:10]
        assert f.read() == data[10:]


def test_large_blob_streams_both_ways_with_bounded_memory(store: SnapshotStore, tmp_path: Path) -> None:
    size = 64 * 1024 * 1024
    source = tmp_path / "large.bin"
    digest = hashlib.sha256()
    with open(source, "wb") as f:
        block = compressible(1024 * 1024)
        for i in range(size // len(block)):
            chunk = block[i:] + block[:i] + os.urandom(4096)  # mostly compressible, never identical
            f.write(chunk)
            digest.update(chunk)
    tracemalloc.start()
    try:
        ref = store.put_blob_file("acme", source)
        _, peak_write = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        restored = tmp_path / "restored.bin"
        assert store.copy_blob_to("acme", ref.id, restored) == source.stat().st_size
        _, peak_read = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ref.new and ref.size == source.stat().st_size and ref.stored_size < ref.size
    assert hashlib.sha256(restored.read_bytes()).digest() == digest.digest()
    limit = 40 * 1024 * 1024  # well under the blob: S3 holds about four 8 MiB parts at once
    assert peak_write < limit, f"storing held {peak_write / 2**20:.1f} MiB"
    assert peak_read < limit, f"reading held {peak_read / 2**20:.1f} MiB"


def test_identical_plaintext_is_stored_once(env: StoreEnv, store: SnapshotStore, tmp_path: Path) -> None:
    first = store.put_blob("acme", b"same content")
    again = store.put_blob("acme", b"same content")
    path = tmp_path / "same.txt"
    path.write_bytes(b"same content")
    from_file = store.put_blob_file("acme", path)
    assert first.new and not again.new and not from_file.new
    assert first.id == again.id == from_file.id
    blobs = [k for k in all_objects(env.raw_store()) if "/blobs/" in k]
    assert blobs == [f"customers/acme/blobs/{first.id[:2]}/{first.id}"]


def test_equal_plaintext_of_two_customers_is_stored_as_unrelated_objects(
    env: StoreEnv, store: SnapshotStore
) -> None:
    a = store.put_blob("acme", b"the same secret")
    b = store.put_blob("globex", b"the same secret")
    assert a.id != b.id and a.new and b.new
    raw = env.raw_store()
    a_bytes = raw.get(f"customers/acme/blobs/{a.id[:2]}/{a.id}")
    b_bytes = raw.get(f"customers/globex/blobs/{b.id[:2]}/{b.id}")
    assert a_bytes[: len(BLOB_PREFIX)] == b_bytes[: len(BLOB_PREFIX)] == BLOB_PREFIX
    assert a_bytes[len(BLOB_PREFIX) :][:40] != b_bytes[len(BLOB_PREFIX) :][:40]
    assert not store.blob_exists("globex", a.id)


def test_no_plaintext_at_rest(env: StoreEnv, store: SnapshotStore) -> None:
    markers = [b"MARKER-%d-%s" % (i, os.urandom(8).hex().encode()) for i in range(3)]
    blob = store.put_blob("acme", os.urandom(5000) + markers[0] + os.urandom(5000))
    big = store.put_blob("acme", os.urandom(2 * 1024 * 1024) + markers[1])
    store.write_manifest(
        "acme", "2026-11-28", "issues", {"title": markers[2].decode(), "note": markers[0].decode()},
        [blob.id, big.id],
    )
    stored = {**all_objects(env.raw_store()), **all_objects(env.raw_keyring())}
    assert len(stored) >= 4
    for key, data in stored.items():
        for marker in markers:
            assert marker not in data, f"{marker!r} in plaintext at {key}"
            assert marker.hex().encode() not in data


def test_blob_id_is_validated_before_it_becomes_a_key(store: SnapshotStore) -> None:
    for bad in ["../../keyring/acme", "A" * 64, "ab", "0" * 63 + "/"]:
        with pytest.raises(InvalidNameError):
            store.read_blob("acme", bad)
    with pytest.raises(InvalidNameError):
        store.put_blob("../etc", b"x")
