"""The snapshot store (docs/format.md): content-addressed encrypted blobs plus one manifest per snapshot.

One module per part of the format: ``layout`` (where each object lives), ``framing`` (a blob at
rest), ``streams`` (reading a blob), ``manifest`` (the envelope), ``verify``, ``sweep`` (plan, then
execute) and ``erasure``; ``store`` ties them together and ``resource`` hands a store to Dagster.
"""

from resources.snapshot_store.framing import BLOB_PREFIX
from resources.snapshot_store.manifest import Manifest
from resources.snapshot_store.resource import SnapshotStoreResource
from resources.snapshot_store.store import BlobRef, SnapshotStore
from resources.snapshot_store.sweep import SweepPlan, SweepReport
from resources.snapshot_store.verify import VerifyReport

__all__ = [
    "BLOB_PREFIX",
    "BlobRef",
    "Manifest",
    "SnapshotStore",
    "SnapshotStoreResource",
    "SweepPlan",
    "SweepReport",
    "VerifyReport",
]
