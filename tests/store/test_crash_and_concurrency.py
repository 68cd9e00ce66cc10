"""Crashes and concurrent writers: nothing half-written is visible, nothing is corrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from resources.errors import IntegrityError, StorageUnavailableError
from resources.snapshot_store import SnapshotStore
from tests.store.conftest import StoreEnv
from tests.store.faults import FailWriteOnce
from tests.store.writer import blobs


def writer(env: StoreEnv, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.store.writer", *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **env.env_vars()},
    )


def test_writer_killed_between_blobs_and_manifest_leaves_no_snapshot(env: StoreEnv) -> None:
    process = writer(env, "acme", "2026-11-28", "issues", "one", "--pause-before-manifest")
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "BLOBS STORED"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    store = env.store()
    assert store.list_snapshots("acme") == {}
    assert not store.manifest_exists("acme", "2026-11-28", "issues")
    assert store.latest_manifest_before("acme", "2026-11-29", "issues") is None

    again = writer(env, "acme", "2026-11-28", "issues", "one")
    out, _ = again.communicate(timeout=120)
    assert again.returncode == 0 and out.splitlines() == ["BLOBS STORED", "COMMITTED"]
    assert store.list_snapshots("acme") == {"2026-11-28": ["issues"]}
    report = store.verify("acme", "2026-11-28", read_data=True)
    assert report.ok, report.problems
    assert report.bytes_read == sum(len(b) for b in blobs("one"))


def test_two_processes_writing_for_the_same_customer_corrupt_nothing(env: StoreEnv) -> None:
    # A fresh customer: both processes also race to create the keyset.
    first = writer(env, "acme", "2026-11-28", "issues", "first")
    second = writer(env, "acme", "2026-11-28", "wikis", "second")
    for process in (first, second):
        out, _ = process.communicate(timeout=180)
        assert process.returncode == 0, out
    store = env.store()
    assert store.list_snapshots("acme") == {"2026-11-28": ["issues", "wikis"]}
    report = store.verify("acme", "2026-11-28", read_data=True)
    assert report.ok, report.problems
    assert report.blobs_checked == 24
    for asset, seed in (("issues", "first"), ("wikis", "second")):
        manifest = store.read_manifest("acme", "2026-11-28", asset)
        assert [store.read_blob("acme", b) for b in manifest.blobs] == blobs(seed)


def test_failed_write_leaves_nothing_and_a_retry_completes(env: StoreEnv) -> None:
    store = env.store()
    store.keyring.customer_keys("acme", create=True)
    store.storage = FailWriteOnce(store.storage)
    data = os.urandom(100_000)
    with pytest.raises(StorageUnavailableError, match="injected 503"):
        store.put_blob("acme", data)
    assert list(env.raw_store().list("")) == []
    ref = store.put_blob("acme", data)
    assert ref.new and store.read_blob("acme", ref.id) == data


def test_manifest_refuses_to_commit_without_its_blobs(store: SnapshotStore) -> None:
    present = store.put_blob("acme", b"here").id
    absent = "ab" * 32
    with pytest.raises(IntegrityError, match=absent):
        store.write_manifest("acme", "2026-11-28", "issues", {}, [present, absent])
    assert store.list_snapshots("acme") == {}
