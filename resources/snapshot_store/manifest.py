"""The manifest envelope: a 5-byte prefix, then Tink AEAD over canonical JSON (docs/format.md section 5).

The associated data names customer, date and asset, so a manifest copied to another path does not
decrypt. The body is the asset's own content and opaque here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from resources.errors import IntegrityError
from resources.keyring import CustomerKeys
from resources.snapshot_store.layout import blob_id

MANIFEST_MAGIC = b"BHMF"
MANIFEST_VERSION = 1
MANIFEST_PREFIX = MANIFEST_MAGIC + bytes([MANIFEST_VERSION])  # 5 bytes
MANIFEST_FORMAT = "backhub-manifest"


@dataclass(frozen=True)
class Manifest:
    customer: str
    date: str
    asset: str
    created_at: str  # ISO-8601 UTC
    blobs: tuple[str, ...]  # every blob id the snapshot needs
    body: dict = field(hash=False)  # the asset's own content: opaque to the store
    digest: str = ""  # SHA-256 (hex) of the manifest object as stored: its identity
    generation: int = 1  # 1 + the generation of the manifest it replaced at the same path
    supersedes: str | None = None  # digest of the manifest it replaced at the same path
    parent_date: str | None = None  # the latest earlier snapshot of the asset when this was written
    parent_digest: str | None = None
    parent_generation: int | None = None  # that manifest's generation (absent in older manifests)


def manifest_aad(customer: str, date: str, asset: str) -> bytes:
    return b"backhub-manifest/v1\x00" + "\x00".join((customer, date, asset)).encode("ascii")


def encode_manifest(document: dict[str, Any], keys: CustomerKeys) -> bytes:
    """The stored bytes of a manifest ``document`` (which names its own customer, date and asset)."""
    plaintext = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    aad = manifest_aad(document["customer"], document["date"], document["asset"])
    return MANIFEST_PREFIX + keys.manifest_aead.encrypt(plaintext, aad)


def decode_manifest(customer: str, date: str, asset: str, raw: bytes, keys: CustomerKeys) -> Manifest:
    """The manifest stored at (customer, date, asset); IntegrityError if it is not intact or not that one."""
    from resources.keyring import _tink

    tink = _tink()
    where = f"load manifest {customer}/{date}/{asset}"
    if raw[: len(MANIFEST_MAGIC)] != MANIFEST_MAGIC:
        raise IntegrityError(f"{where}: not a manifest (bad magic)")
    if raw[len(MANIFEST_MAGIC) : len(MANIFEST_PREFIX)] != bytes([MANIFEST_VERSION]):
        raise IntegrityError(f"{where}: unsupported format version {raw[4:5].hex()}")
    try:
        plaintext = keys.manifest_aead.decrypt(raw[len(MANIFEST_PREFIX) :], manifest_aad(customer, date, asset))
    except tink.TinkError:
        raise IntegrityError(
            f"{where}: does not decrypt: edited, corrupt, or moved here from another snapshot; "
            "restore it from a replica or delete the snapshot"
        ) from None
    try:
        doc = json.loads(plaintext)
        parent = doc["parent"] or {}
        manifest = Manifest(
            customer=doc["customer"],
            date=doc["date"],
            asset=doc["asset"],
            created_at=doc["created_at"],
            blobs=tuple(blob_id(b) for b in doc["blobs"]),
            body=doc["body"],
            digest=hashlib.sha256(raw).hexdigest(),
            generation=int(doc["generation"]),
            supersedes=doc["supersedes"],
            parent_date=parent.get("date"),
            parent_digest=parent.get("digest"),
            parent_generation=parent.get("generation"),
        )
    except (ValueError, KeyError, TypeError, AttributeError):  # InvalidNameError is a ValueError
        raise IntegrityError(f"{where}: malformed content") from None
    if doc.get("format") != MANIFEST_FORMAT or (manifest.customer, manifest.date, manifest.asset) != (
        customer,
        date,
        asset,
    ):
        raise IntegrityError(f"{where}: records another identity")
    return manifest
