"""The keyring: one Tink keyset per customer, wrapped by a master AEAD, stored apart from the backups.

A customer's keyset document lives at ``<keyring root>/<customer>`` and holds three Tink keysets,
each encrypted by the master AEAD with associated data naming the customer and the purpose
(docs/format.md, "Keyring"):

    blob      AES256_GCM_HKDF_1MB streaming AEAD   encrypts blobs
    manifest  AES256_GCM AEAD                      encrypts manifests
    blob-id   HMAC_SHA256 PRF                      derives the key of the blob-id HMAC

The master AEAD is AWS KMS (``aws-kms://arn:aws:kms:...``, Tink's awskms client over a boto3 KMS
client so a custom endpoint works) or a local Tink keyset file (``file:///path``, created with mode
0600 if absent: the embedded default). Destroying a customer's keyset (crypto-shredding) replaces the
document with a tombstone: their blobs and manifests can never be decrypted again.

Key material never leaves this module except as Tink primitives inside ``CustomerKeys``, whose repr
shows only the customer; errors never carry key bytes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import json
import logging
import os
import stat
import threading
from typing import Any
from urllib.parse import unquote, urlparse

import dagster as dg
from botocore.exceptions import BotoCoreError

from resources import names
from resources.errors import ConfigurationError, KeyringError, ObjectNotFoundError, StorageUnavailableError
from resources.object_storage import ObjectStorage, boto3_session, storage_from_url

__all__ = ["CustomerKeys", "Keyring", "KeyringResource"]

log = logging.getLogger(__name__)

KEYSET_FORMAT = "backhub-keyset"
KEYSET_VERSION = 1
PURPOSES = ("blob", "manifest", "blob-id")
BLOB_ID_KEY_INFO = b"backhub/blob-id/v1"


@functools.cache
def _tink() -> Any:
    """Import and register Tink's primitives on first use, never at import time."""
    import tink
    from tink import aead, prf, streaming_aead

    aead.register()
    streaming_aead.register()
    prf.register()
    return tink


def keyset_aad(customer: str, purpose: str) -> bytes:
    return b"backhub-keyset/v1\x00" + customer.encode() + b"\x00" + purpose.encode()


class CustomerKeys:
    """The unwrapped keys of one customer, as Tink primitives. Never printed, never pickled."""

    __slots__ = ("customer", "streaming_aead", "manifest_aead", "_id_key")

    def __init__(self, customer: str, streaming_aead: Any, manifest_aead: Any, id_key: bytes) -> None:
        self.customer = customer
        self.streaming_aead = streaming_aead
        self.manifest_aead = manifest_aead
        self._id_key = id_key

    def blob_hasher(self) -> hmac.HMAC:
        """A fresh HMAC-SHA256 whose hex digest is the blob id of the bytes fed to it."""
        return hmac.new(self._id_key, digestmod=hashlib.sha256)

    def blob_id(self, data: bytes) -> str:
        hasher = self.blob_hasher()
        hasher.update(data)
        return hasher.hexdigest()

    def __repr__(self) -> str:
        return f"CustomerKeys(customer={self.customer!r})"

    def __reduce__(self) -> Any:
        raise TypeError("CustomerKeys cannot be pickled")


class Keyring:
    """Creates, unwraps and shreds customer keysets. Unwrapped keys are cached for this client's life."""

    def __init__(self, storage: ObjectStorage, master_aead: Any, master_description: str) -> None:
        self.storage = storage
        self._master = master_aead
        self._master_description = master_description
        self._cache: dict[str, CustomerKeys] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Keyring({self.storage.url!r}, master={self._master_description!r})"

    @classmethod
    def from_urls(
        cls, keyring_url: str, master_key_uri: str, *, s3_endpoint_url: str | None = None, read_only: bool = False
    ) -> Keyring:
        """``read_only``: a missing local master key is an error, never created (commands that only read)."""
        storage = storage_from_url(keyring_url, s3_endpoint_url=s3_endpoint_url)
        master, description = _master_aead(master_key_uri, s3_endpoint_url, read_only=read_only)
        return cls(storage, master, description)

    # -- public API ---------------------------------------------------------------------------

    def customer_keys(self, customer: str, *, create: bool = False) -> CustomerKeys:
        """The customer's keys; with ``create``, a new keyset is made if (and only if) none exists.

        KeyringError if the keyset is missing (and ``create`` is false), shredded, or cannot be
        unwrapped with this master key. An existing keyset is never replaced.
        """
        names.customer(customer)
        with self._lock:
            cached = self._cache.get(customer)
        if cached is not None:
            return cached
        try:
            document = self.storage.get(customer)
        except ObjectNotFoundError:
            if not create:
                raise KeyringError(f"load keyset of customer {customer}: no keyset exists") from None
            self._create(customer)
            document = self.storage.get(customer)  # whichever writer won the race
        keys = self._unwrap(customer, document)
        with self._lock:
            self._cache[customer] = keys
        return keys

    def exists(self, customer: str) -> bool:
        """True if the customer has a usable (not shredded) keyset document."""
        names.customer(customer)
        try:
            document = _parse_document(customer, self.storage.get(customer))
        except ObjectNotFoundError:
            return False
        return "keysets" in document

    def is_shredded(self, customer: str) -> bool:
        names.customer(customer)
        try:
            document = _parse_document(customer, self.storage.get(customer))
        except ObjectNotFoundError:
            return False
        return "shredded_at" in document

    def destroy(self, customer: str) -> None:
        """Crypto-shredding: replace the wrapped keyset by a tombstone. Irreversible."""
        names.customer(customer)
        tombstone = {
            "format": KEYSET_FORMAT,
            "version": KEYSET_VERSION,
            "customer": customer,
            "shredded_at": _now(),
        }
        self.storage.put(customer, _dump(tombstone))
        with self._lock:
            self._cache.pop(customer, None)
        log.info("keyset of customer %s shredded", customer)

    def clear_tombstone(self, customer: str) -> None:
        """Forget that a customer was shredded, so ``create=True`` may make a fresh keyset."""
        if not self.is_shredded(customer):
            raise KeyringError(f"clear tombstone of customer {customer}: the keyset is not shredded")
        self.storage.delete(customer)

    # -- internals ------------------------------------------------------------------------------

    def _create(self, customer: str) -> None:
        tink = _tink()
        from tink import aead, prf, streaming_aead

        templates = {
            "blob": streaming_aead.streaming_aead_key_templates.AES256_GCM_HKDF_1MB,
            "manifest": aead.aead_key_templates.AES256_GCM,
            "blob-id": prf.prf_key_templates.HMAC_SHA256,
        }
        keysets: dict[str, Any] = {}
        try:
            for purpose, template in templates.items():
                handle = tink.new_keyset_handle(template)
                keysets[purpose] = json.loads(
                    tink.json_proto_keyset_format.serialize_encrypted(
                        handle, self._master, keyset_aad(customer, purpose)
                    )
                )
        except (tink.TinkError, BotoCoreError) as exc:
            raise _master_error(f"create keyset of customer {customer}", exc) from None
        document = {
            "format": KEYSET_FORMAT,
            "version": KEYSET_VERSION,
            "customer": customer,
            "created_at": _now(),
            "master": self._master_description,
            "keysets": keysets,
        }
        if self.storage.put(customer, _dump(document), if_absent=True):
            log.info("created keyset of customer %s", customer)

    def _unwrap(self, customer: str, raw: bytes) -> CustomerKeys:
        tink = _tink()
        from tink import aead, prf, streaming_aead

        document = _parse_document(customer, raw)
        if "shredded_at" in document:
            raise KeyringError(
                f"load keyset of customer {customer}: shredded at {document['shredded_at']}; "
                "their snapshots can no longer be decrypted"
            )
        keysets = document.get("keysets")
        if not isinstance(keysets, dict) or set(keysets) != set(PURPOSES):
            raise KeyringError(f"load keyset of customer {customer}: malformed keyset document")
        handles = {}
        for purpose in PURPOSES:
            try:
                handles[purpose] = tink.json_proto_keyset_format.parse_encrypted(
                    json.dumps(keysets[purpose]), self._master, keyset_aad(customer, purpose)
                )
            except (tink.TinkError, BotoCoreError) as exc:
                raise _master_error(f"unwrap keyset of customer {customer}", exc) from None
        try:
            prf_set = handles["blob-id"].primitive(prf.PrfSet)
            id_key = prf_set.primary().compute(BLOB_ID_KEY_INFO, 32)
            return CustomerKeys(
                customer,
                handles["blob"].primitive(streaming_aead.StreamingAead),
                handles["manifest"].primitive(aead.Aead),
                id_key,
            )
        except tink.TinkError as exc:
            raise KeyringError(
                f"load keyset of customer {customer}: unusable keyset ({type(exc).__name__})"
            ) from None


def _master_error(operation: str, exc: Exception) -> Exception:
    text = str(exc)
    if isinstance(exc, BotoCoreError) or any(s in text for s in ("Could not connect", "Connection", "Throttl", "Timeout", "InternalFailure")):
        return StorageUnavailableError(f"{operation}: the master key service did not answer")
    return KeyringError(
        f"{operation}: the master key cannot decrypt it (wrong master key, or the keyset was "
        "tampered with)"
    )


def _parse_document(customer: str, raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except ValueError:
        raise KeyringError(f"load keyset of customer {customer}: not a keyset document") from None
    if (
        not isinstance(document, dict)
        or document.get("format") != KEYSET_FORMAT
        or document.get("customer") != customer
    ):
        raise KeyringError(f"load keyset of customer {customer}: not this customer's keyset document")
    if document.get("version") != KEYSET_VERSION:
        raise KeyringError(
            f"load keyset of customer {customer}: unsupported version {document.get('version')!r}"
        )
    return document


def _dump(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, indent=1).encode() + b"\n"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# -- master key ---------------------------------------------------------------------------------


def _master_aead(uri: str, s3_endpoint_url: str | None, *, read_only: bool = False) -> tuple[Any, str]:
    """The master AEAD and a description of it that is safe to log (no key material)."""
    if not isinstance(uri, str) or not uri:
        raise ConfigurationError("master key URI is empty")
    if uri.startswith("aws-kms://"):
        return _kms_master(uri, s3_endpoint_url), uri
    parsed = urlparse(uri)
    if parsed.scheme == "file" and parsed.netloc in {"", "localhost"} and parsed.path.startswith("/"):
        path = unquote(parsed.path)
        if read_only and not os.path.exists(path):
            raise ConfigurationError(f"no master key at {path}: set BACKHUB_MASTER_KEY_URI (or DAGSTER_HOME) to the "
                                     "installation's; a command that only reads never creates one")
        return _local_master(path), f"file://{path}"
    raise ConfigurationError(
        f"unsupported master key URI {uri!r}: expected file:///path or aws-kms://arn:aws:kms:..."
    )


def _kms_master(uri: str, endpoint_url: str | None) -> Any:
    tink = _tink()
    from botocore.config import Config
    from tink.integration import awskms

    arn = uri[len("aws-kms://") :]
    parts = arn.split(":")
    if len(parts) < 6 or parts[:3] != ["arn", "aws", "kms"]:
        raise ConfigurationError(f"invalid KMS key URI {uri!r}: expected aws-kms://arn:aws:kms:REGION:...")
    client = boto3_session().client(
        "kms",
        region_name=parts[3],
        endpoint_url=endpoint_url,
        config=Config(retries={"mode": "adaptive", "max_attempts": 8}, connect_timeout=10, read_timeout=30),
    )
    try:
        return awskms.new_client(boto3_client=client, key_uri=uri).get_aead(uri)
    except tink.TinkError as exc:
        raise ConfigurationError(f"invalid KMS key URI {uri!r}") from exc


def _local_master(path: str) -> Any:
    tink = _tink()
    from tink import aead, secret_key_access

    if not os.path.exists(path):
        handle = tink.new_keyset_handle(aead.aead_key_templates.AES256_GCM)
        text = tink.json_proto_keyset_format.serialize(handle, secret_key_access.TOKEN)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: use theirs
        except OSError as exc:
            raise ConfigurationError(f"create master keyset {path}: {exc.strerror}") from None
        else:
            with os.fdopen(fd, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            log.info("created master keyset %s (mode 0600)", path)
    try:
        mode = os.stat(path).st_mode
        with open(path) as f:
            text = f.read()
    except OSError as exc:
        raise ConfigurationError(f"read master keyset {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("master keyset %s is readable by others (mode %o): chmod 600 it", path, mode & 0o777)
    try:
        handle = tink.json_proto_keyset_format.parse(text, secret_key_access.TOKEN)
        return handle.primitive(aead.Aead)
    except (tink.TinkError, ValueError, KeyError):
        raise ConfigurationError(f"read master keyset {path}: not a Tink AEAD keyset") from None
    finally:
        with contextlib.suppress(NameError):
            del text


class KeyringResource(dg.ConfigurableResource):
    """The customer keyring: where wrapped keysets live and which master key wraps them.

    ``keyring_url``: ``file:///path`` or ``s3://bucket/prefix`` (keep it apart from the backups).
    ``master_key_uri``: ``file:///path/master-keyset.json`` or ``aws-kms://arn:aws:kms:...``.
    ``s3_endpoint_url``: a custom S3/KMS endpoint (MinIO, a test server); AWS when unset.
    """

    keyring_url: str
    master_key_uri: str
    s3_endpoint_url: str | None = None

    def get_client(self) -> Keyring:
        return Keyring.from_urls(self.keyring_url, self.master_key_uri, s3_endpoint_url=self.s3_endpoint_url)
