"""The snapshot store as a Dagster resource: configuration in, a ``SnapshotStore`` out."""

from __future__ import annotations

import dagster as dg

from resources.keyring import Keyring
from resources.snapshot_store.store import SnapshotStore


class SnapshotStoreResource(dg.ConfigurableResource):
    """The snapshot store and the keyring that opens it.

    ``store_url``: ``file:///path`` or ``s3://bucket/prefix``; ``keyring_url`` and ``master_key_uri``
    as in ``KeyringResource``; ``s3_endpoint_url`` for a non-AWS S3/KMS endpoint.
    """

    store_url: str
    keyring_url: str
    master_key_uri: str
    s3_endpoint_url: str | None = None

    def get_client(self) -> SnapshotStore:
        keyring = Keyring.from_urls(self.keyring_url, self.master_key_uri, s3_endpoint_url=self.s3_endpoint_url)
        return SnapshotStore.from_urls(self.store_url, keyring, s3_endpoint_url=self.s3_endpoint_url)
