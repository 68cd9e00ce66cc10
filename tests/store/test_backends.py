"""Backend errors are translated at the boundary: retryable vs permanent, naming the object."""

from __future__ import annotations

from typing import Any

import pytest

from resources.errors import ConfigurationError, ObjectNotFoundError, StorageUnavailableError
from resources.object_storage import S3Storage, storage_from_url
from tests.servers import free_port
from tests.store.conftest import StoreEnv


def test_unreachable_endpoint_is_retryable() -> None:
    storage = S3Storage("bucket", endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1)
    with pytest.raises(StorageUnavailableError, match="stat customers/acme"):
        storage.stat("customers/acme")


def test_missing_bucket_is_a_configuration_error(moto_server: Any) -> None:
    storage = S3Storage("no-such-bucket", endpoint_url=moto_server.endpoint_url)
    with pytest.raises(ConfigurationError, match="NoSuchBucket"):
        storage.put("k", b"v")


def test_missing_object_is_not_found(env: StoreEnv) -> None:
    storage = env.raw_store()
    with pytest.raises(ObjectNotFoundError, match="read a/b"):
        storage.get("a/b")
    assert not storage.exists("a/b")
    storage.delete("a/b")  # deleting what is absent is fine


def test_conditional_write_keeps_the_first_object(env: StoreEnv) -> None:
    storage = env.raw_store()
    assert storage.put("k/first", b"one", if_absent=True)
    assert not storage.put("k/first", b"two", if_absent=True)
    assert storage.get("k/first") == b"one"


def test_multipart_conditional_write_keeps_the_first_object(env: StoreEnv) -> None:
    storage = env.raw_store()
    big = b"a" * (17 * 1024 * 1024)
    assert storage.put("k/big", big, if_absent=True)
    assert not storage.put("k/big", b"b" * len(big), if_absent=True)
    assert storage.get("k/big") == big
    assert storage.delete_incomplete("k/") == 0


@pytest.mark.parametrize("key", ["../x", "a//b", "/abs", "a/../b", "a/.tmp-x", "a b"])
def test_unsafe_keys_are_refused(env: StoreEnv, key: str) -> None:
    with pytest.raises(ValueError):
        env.raw_store().put(key, b"")


@pytest.mark.parametrize("url", ["", "http://x", "file://host/p", "file:relative", "s3:///nobucket"])
def test_bad_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        storage_from_url(url)


def test_listing_after_a_key_skips_it_and_every_key_before_it(env: StoreEnv) -> None:
    raw = env.raw_store()
    for n in range(1, 5):
        raw.put(f"records/{n:04d}.json", b"{}")
    keys = [info.key for info in raw.list("records/", start_after="records/0002.json")]
    assert keys == ["records/0003.json", "records/0004.json"]
