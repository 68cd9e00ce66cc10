"""The keyring: one Tink keyset per customer, wrapped by a master AEAD, stored apart from the backups.

A customer's keyset document lives at ``<keyring root>/<customer>`` and holds three Tink keysets,
each encrypted by the master AEAD with associated data naming the customer and the purpose
(docs/format.md, "Keyring"):

    blob      AES256_GCM_HKDF_1MB streaming AEAD   encrypts blobs
    manifest  AES256_GCM AEAD                      encrypts manifests
    blob-id   HMAC_SHA256 PRF                      derives the key of the blob-id HMAC

The master AEAD is AWS KMS (``aws-kms://arn:aws:kms:...``, Tink's awskms client over a boto3 KMS
client so a custom endpoint works) or a local Tink keyset file (``file:///path``: the embedded default).
A local master key is created only by ``initialise`` (a new installation's first step, which the demo
takes for its home): any other use of a missing master key file is a configuration error, so a mistyped
``BACKHUB_MASTER_KEY_URI`` can never mint a new key and wrap customers with it. Every customer keyset
records the id of the master key that wraps it (``master_key_id``: a one-way fingerprint, never the key),
and so does the keyring itself (``MASTER_RECORD``); a master key other than the keyring's is refused in
one line before anything is unwrapped or created. Destroying a customer's keyset (crypto-shredding) replaces the
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
from resources.errors import (
    ConfigurationError,
    InvalidNameError,
    KeyringError,
    ObjectNotFoundError,
    StorageUnavailableError,
)
from resources.object_storage import ObjectStorage, boto3_session, storage_from_url

__all__ = ["CustomerKeys", "Keyring", "KeyringResource", "create_master_key", "initialise"]

log = logging.getLogger(__name__)

KEYSET_FORMAT = "backhub-keyset"
KEYSET_VERSION = 1
PURPOSES = ("blob", "manifest", "blob-id")
BLOB_ID_KEY_INFO = b"backhub/blob-id/v1"
#: The keyring's record of its master key id: not a valid customer name, so never a customer's keyset.
MASTER_RECORD = "_master-key"
MASTER_RECORD_FORMAT = "backhub-keyring-master"
MASTER_KEY_ID_INFO = b"backhub/master-key-id/v1\x00"


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

    def __init__(self, storage: ObjectStorage, master_aead: Any, master_description: str,
                 master_key_id: str | None = None) -> None:
        self.storage = storage
        self._master = master_aead
        self._master_description = master_description
        self.master_key_id = master_key_id or master_description
        self._master_checked = False
        self._cache: dict[str, CustomerKeys] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Keyring({self.storage.url!r}, master={self._master_description!r})"

    @classmethod
    def from_urls(
        cls, keyring_url: str, master_key_uri: str, *, s3_endpoint_url: str | None = None,
    ) -> Keyring:
        storage = storage_from_url(keyring_url, s3_endpoint_url=s3_endpoint_url)
        master, description, key_id = _master_aead(master_key_uri, s3_endpoint_url)
        return cls(storage, master, description, key_id)

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
            self.check_master()
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

    def check_master(self) -> None:
        """Refuse a master key other than the one this keyring's keysets are wrapped by.

        The keyring records its master key's id (``MASTER_RECORD``); a keyring from before that record
        is judged by its keysets, then given the record. ConfigurationError names the variable to fix.
        """
        if self._master_checked:
            return
        try:
            recorded = _parse_master_record(self.storage.get(MASTER_RECORD))
        except ObjectNotFoundError:
            customer = self._first_wrapped_customer()
            if customer is not None:
                self._unwrap(customer, self.storage.get(customer))  # refuses another master key
            self.record_master()
        else:
            if recorded != self.master_key_id:
                raise _other_master_error(f"keyring {self.storage.url}", recorded, self.master_key_id)
        self._master_checked = True

    def record_master(self) -> None:
        """Record this master key's id as the keyring's, unless the keyring already records one."""
        record = {"format": MASTER_RECORD_FORMAT, "version": KEYSET_VERSION,
                  "master_key_id": self.master_key_id, "recorded_at": _now()}
        self.storage.put(MASTER_RECORD, _dump(record), if_absent=True)

    # -- internals ------------------------------------------------------------------------------

    def _first_wrapped_customer(self) -> str | None:
        for info in self.storage.list(""):
            if "/" in info.key or info.key == MASTER_RECORD:
                continue
            with contextlib.suppress(KeyringError, InvalidNameError, ObjectNotFoundError):
                if self.exists(info.key):
                    return info.key
        return None

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
            "master_key_id": self.master_key_id,
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
        wrapped_by = document.get("master_key_id")
        if wrapped_by is not None and wrapped_by != self.master_key_id:
            raise _other_master_error(f"keyset of customer {customer}", wrapped_by, self.master_key_id)
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


def _other_master_error(what: str, recorded: str, configured: str) -> ConfigurationError:
    return ConfigurationError(
        f"{what} is wrapped by master key {recorded}, but BACKHUB_MASTER_KEY_URI names master key "
        f"{configured}: point BACKHUB_MASTER_KEY_URI at the master key this keyring was created with"
    )


def _parse_master_record(raw: bytes) -> str:
    try:
        record = json.loads(raw)
    except ValueError:
        record = None
    if not isinstance(record, dict) or record.get("format") != MASTER_RECORD_FORMAT \
            or not isinstance(record.get("master_key_id"), str):
        raise KeyringError(f"load {MASTER_RECORD}: not a keyring master key record")
    return record["master_key_id"]


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


def initialise(keyring_url: str, master_key_uri: str, *, s3_endpoint_url: str | None = None) -> Keyring:
    """A new installation's first step: create the local master key if it does not exist yet, and
    record it as the keyring's master key. The only place a master key is ever created; idempotent,
    and refuses (ConfigurationError) a master key other than the one an existing keyring records."""
    path = _local_master_path(master_key_uri)
    created = path is not None and not os.path.exists(path)
    create_master_key(master_key_uri)
    try:
        keyring = Keyring.from_urls(keyring_url, master_key_uri, s3_endpoint_url=s3_endpoint_url)
        keyring.check_master()
    except ConfigurationError:
        if created and path is not None:
            os.unlink(path)  # a key for a keyring that has its own: never leave it behind
        raise
    return keyring


def create_master_key(master_key_uri: str) -> None:
    """Create a local master key file (mode 0600) if it does not exist; a KMS key is the operator's."""
    path = _local_master_path(master_key_uri)
    if path is not None and not os.path.exists(path):
        _create_local_master(path)


def _local_master_path(uri: str) -> str | None:
    parsed = urlparse(uri) if isinstance(uri, str) else None
    if parsed and parsed.scheme == "file" and parsed.netloc in {"", "localhost"} and parsed.path.startswith("/"):
        return unquote(parsed.path)
    return None


def _master_aead(uri: str, s3_endpoint_url: str | None) -> tuple[Any, str, str]:
    """The master AEAD, a description of it that is safe to log, and its id (no key material)."""
    if not isinstance(uri, str) or not uri:
        raise ConfigurationError("BACKHUB_MASTER_KEY_URI is empty: set it to the installation's master key")
    if uri.startswith("aws-kms://"):
        return _kms_master(uri, s3_endpoint_url), uri, uri
    path = _local_master_path(uri)
    if path is not None:
        master, key_id = _local_master(path)
        return master, f"file://{path}", key_id
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


def _create_local_master(path: str) -> None:
    tink = _tink()
    from tink import aead, secret_key_access

    handle = tink.new_keyset_handle(aead.aead_key_templates.AES256_GCM)
    text = tink.json_proto_keyset_format.serialize(handle, secret_key_access.TOKEN)
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process created it first: use theirs
    except OSError as exc:
        raise ConfigurationError(f"create master keyset {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    log.info("created master keyset %s (mode 0600)", path)


def _local_master(path: str) -> tuple[Any, str]:
    tink = _tink()
    from tink import aead, secret_key_access

    if not os.path.exists(path):
        raise ConfigurationError(
            f"master key file://{path} does not exist: point BACKHUB_MASTER_KEY_URI at this installation's "
            "master key (a new installation creates it once, with `backhub init`)"
        )
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
        # A one-way fingerprint of the key material: names the key, cannot recover it.
        material = tink.proto_keyset_format.serialize(handle, secret_key_access.TOKEN)
        key_id = "local:" + hashlib.sha256(MASTER_KEY_ID_INFO + material).hexdigest()[:32]
        del material
        return handle.primitive(aead.Aead), key_id
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
