"""Wrong master key, missing and shredded keysets: clear errors, nothing overwritten."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from resources.errors import ConfigurationError, KeyringError
from resources.keyring import MASTER_RECORD, Keyring, KeyringResource, initialise
from resources.snapshot_store import SnapshotStoreResource
from tests.store.conftest import StoreEnv, all_objects


def test_wrong_master_key_is_refused_and_overwrites_nothing(env: StoreEnv) -> None:
    store = env.store()
    ref = store.put_blob("acme", b"data")
    store.write_manifest("acme", "2026-11-28", "issues", {}, [ref.id])
    before = {**all_objects(env.raw_keyring()), **all_objects(env.raw_store())}

    wrong = env.store(env.keyring(env.new_master_key()))
    for attempt in (
        lambda: wrong.read_blob("acme", ref.id),
        lambda: wrong.put_blob("acme", b"new data"),
        lambda: wrong.read_manifest("acme", "2026-11-28", "issues"),
        lambda: wrong.write_manifest("acme", "2026-11-29", "issues", {}, [ref.id]),
    ):
        with pytest.raises(ConfigurationError, match="customer acme is wrapped by master key .* "
                                                     "BACKHUB_MASTER_KEY_URI names master key"):
            attempt()
    assert {**all_objects(env.raw_keyring()), **all_objects(env.raw_store())} == before
    assert env.store().read_blob("acme", ref.id) == b"data"


def test_a_keyring_wrapped_by_one_master_key_is_refused_with_another_in_one_line(env: StoreEnv) -> None:
    env.keyring().customer_keys("acme", create=True)
    before = all_objects(env.raw_keyring())
    other = env.keyring(env.new_master_key())
    for attempt in (lambda: other.customer_keys("acme"),
                    lambda: other.customer_keys("globex", create=True)):  # a new customer under master B
        with pytest.raises(ConfigurationError) as raised:
            attempt()
        message = str(raised.value)
        assert "\n" not in message and "BACKHUB_MASTER_KEY_URI" in message
        assert other.master_key_id in message and env.keyring().master_key_id in message
    assert all_objects(env.raw_keyring()) == before  # no keyset wrapped by master B
    assert MASTER_RECORD in before


def test_every_keyset_records_the_id_of_its_master_key_and_never_the_key(env: StoreEnv) -> None:
    keyring = env.keyring()
    keyring.customer_keys("acme", create=True)
    document = json.loads(env.raw_keyring().get("acme"))
    assert document["master_key_id"] == keyring.master_key_id
    assert document["master_key_id"] != env.keyring(env.new_master_key()).master_key_id
    if env.kind == "file":
        master = json.loads(Path(env.master_key_uri[len("file://"):]).read_text())
        assert master["key"][0]["keyData"]["value"] not in env.raw_keyring().get("acme").decode()


def test_a_mistyped_master_key_path_fails_in_one_line_and_creates_nothing(tmp_path: Path) -> None:
    real = tmp_path / "secrets" / "master.json"
    initialise((tmp_path / "keyring").as_uri(), real.as_uri())
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    typo = tmp_path / "secret" / "master.json"
    for opening in (lambda: Keyring.from_urls((tmp_path / "keyring").as_uri(), typo.as_uri()),
                    lambda: SnapshotStoreResource(store_url=(tmp_path / "store").as_uri(),
                                                  keyring_url=(tmp_path / "keyring").as_uri(),
                                                  master_key_uri=typo.as_uri()).get_client()):
        with pytest.raises(ConfigurationError) as raised:
            opening()
        message = str(raised.value)
        assert "\n" not in message and "BACKHUB_MASTER_KEY_URI" in message and str(typo) in message
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_initialise_creates_the_master_key_once_and_refuses_another_for_its_keyring(tmp_path: Path) -> None:
    keyring_url, master = (tmp_path / "keyring").as_uri(), tmp_path / "secrets" / "master.json"
    first = initialise(keyring_url, master.as_uri())
    content = master.read_bytes()
    assert initialise(keyring_url, master.as_uri()).master_key_id == first.master_key_id
    assert master.read_bytes() == content
    with pytest.raises(ConfigurationError, match="BACKHUB_MASTER_KEY_URI"):
        initialise(keyring_url, (tmp_path / "secrets" / "other.json").as_uri())
    assert sorted(p.name for p in master.parent.iterdir()) == ["master.json"]


def test_missing_keyset_is_a_clear_error_and_creates_nothing(env: StoreEnv) -> None:
    store = env.store()
    with pytest.raises(KeyringError, match="customer acme: no keyset exists"):
        store.read_blob("acme", "0" * 64)
    with pytest.raises(KeyringError, match="no keyset exists"):
        store.keyring.customer_keys("acme")
    assert all_objects(env.raw_keyring()) == {}
    assert not store.keyring.exists("acme")


def test_shredded_keyset_leaves_data_unreadable_and_is_never_recreated(env: StoreEnv) -> None:
    store = env.store()
    ref = store.put_blob("acme", b"personal data")
    store.write_manifest("acme", "2026-11-28", "issues", {}, [ref.id])
    store.keyring.destroy("acme")
    tombstone = env.raw_keyring().get("acme")
    assert b"keysets" not in tombstone and b"shredded_at" in tombstone

    fresh = env.store()  # another process: nothing cached
    for attempt in (
        lambda: fresh.read_blob("acme", ref.id),
        lambda: fresh.read_manifest("acme", "2026-11-28", "issues"),
        lambda: fresh.put_blob("acme", b"more"),  # create=True must not resurrect the customer
    ):
        with pytest.raises(KeyringError, match="customer acme: shredded at"):
            attempt()
    assert env.raw_keyring().get("acme") == tombstone
    assert not fresh.keyring.exists("acme") and fresh.keyring.is_shredded("acme")

    fresh.keyring.clear_tombstone("acme")  # a deliberate re-onboarding starts over with new keys
    new = fresh.put_blob("acme", b"personal data")
    assert new.id != ref.id
    with pytest.raises(Exception, match=ref.id):
        fresh.read_blob("acme", ref.id)


def test_concurrent_first_use_agrees_on_one_keyset(env: StoreEnv) -> None:
    ids: list[str] = []
    barrier = threading.Barrier(4)

    def first_use() -> None:
        keyring = env.keyring()
        barrier.wait()
        ids.append(keyring.customer_keys("acme", create=True).blob_id(b"x"))

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 4 and len(set(ids)) == 1


def test_keyset_document_is_bound_to_its_customer(env: StoreEnv) -> None:
    keyring = env.keyring()
    keyring.customer_keys("acme", create=True)
    keyring.customer_keys("globex", create=True)
    raw = env.raw_keyring()
    document = json.loads(raw.get("acme"))
    document["customer"] = "globex"  # relabel acme's wrapped keys as globex's
    raw.put("globex", json.dumps(document).encode())
    with pytest.raises(KeyringError, match="customer globex"):
        env.keyring().customer_keys("globex")


def test_key_material_never_appears_in_reprs_or_errors(env: StoreEnv, tmp_path: Path) -> None:
    keyring = env.keyring()
    keys = keyring.customer_keys("acme", create=True)
    assert repr(keys) == "CustomerKeys(customer='acme')"
    text = repr(keyring) + repr(env.store(keyring)) + repr(KeyringResource(
        keyring_url=env.keyring_url, master_key_uri=env.master_key_uri))
    if env.kind == "file":
        master = json.loads(Path(env.master_key_uri[len("file://"):]).read_text())
        secret = master["key"][0]["keyData"]["value"]
        assert secret not in text
    with pytest.raises(TypeError):
        __import__("pickle").dumps(keys)


def test_local_master_keyset_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "master.json"
    initialise((tmp_path / "kr").as_uri(), path.as_uri())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    content = path.read_bytes()
    initialise((tmp_path / "kr").as_uri(), path.as_uri())
    assert path.read_bytes() == content  # reused, never regenerated


def test_resources_hand_out_working_clients(env: StoreEnv) -> None:
    resource = SnapshotStoreResource(
        store_url=env.store_url,
        keyring_url=env.keyring_url,
        master_key_uri=env.master_key_uri,
        s3_endpoint_url=env.endpoint_url,
    )
    store = resource.get_client()
    ref = store.put_blob("acme", b"via the resource")
    assert env.store().read_blob("acme", ref.id) == b"via the resource"
    assert KeyringResource(
        keyring_url=env.keyring_url, master_key_uri=env.master_key_uri, s3_endpoint_url=env.endpoint_url
    ).get_client().exists("acme")
