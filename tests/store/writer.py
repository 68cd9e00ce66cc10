"""A snapshot writer run as its own process by the crash and concurrency tests.

    python -m tests.store.writer CUSTOMER DATE ASSET SEED [--pause-before-manifest]

Opens the store from STORE_URL, KEYRING_URL, MASTER_KEY_URI, S3_ENDPOINT_URL; stores 12 blobs
(half shared by every writer, half its own), prints "BLOBS STORED", optionally waits to be killed,
then commits the manifest and prints "COMMITTED".
"""

from __future__ import annotations

import os
import sys
import time

from resources.keyring import Keyring
from resources.snapshot_store import SnapshotStore


def blobs(seed: str) -> list[bytes]:
    shared = [b"shared blob %d " % i * (1000 * (i + 1)) for i in range(6)]
    own = [f"{seed} own blob {i} ".encode() * 3000 for i in range(6)]
    return shared + own


def main() -> None:
    customer, date, asset, seed = sys.argv[1:5]
    endpoint = os.environ["S3_ENDPOINT_URL"] or None
    keyring = Keyring.from_urls(os.environ["KEYRING_URL"], os.environ["MASTER_KEY_URI"], s3_endpoint_url=endpoint)
    store = SnapshotStore.from_urls(os.environ["STORE_URL"], keyring, s3_endpoint_url=endpoint)
    refs = [store.put_blob(customer, data) for data in blobs(seed)]
    print("BLOBS STORED", flush=True)
    if "--pause-before-manifest" in sys.argv:
        time.sleep(600)
    store.write_manifest(customer, date, asset, {"seed": seed}, [r.id for r in refs])
    print("COMMITTED", flush=True)


if __name__ == "__main__":
    main()
