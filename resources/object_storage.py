"""Object storage: one small interface, two backends (``file://`` and ``s3://``).

The snapshot store, the keyring and the audit log talk to storage only through ``ObjectStorage``. Keys are
``/``-separated relative names (``customers/acme/blobs/3f/3f...``); every backend maps them under its
root. Writes are atomic (a reader sees the whole object or none) and can be made conditional
(``if_absent``: two writers of the same key are safe, the first one wins). Errors leave as our own
hierarchy: ``ObjectNotFoundError`` (permanent), ``StorageUnavailableError`` (retryable: timeouts,
throttling, 5xx), ``ConfigurationError`` (wrong bucket, credentials, URL) and ``StorageError``
(any other permanent refusal). S3 Object Lock is a capability of the S3 backend (``ObjectLock``):
when configured and enabled on the bucket, every ``if_absent`` write is retained.

Nothing here touches the disk or the network until a method is called.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import queue
import re
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlparse

from resources.errors import (
    ConfigurationError,
    ObjectNotFoundError,
    StorageError,
    StorageUnavailableError,
)
from resources.private_files import make_private_dirs

__all__ = [
    "FileStorage",
    "ObjectInfo",
    "ObjectNotFoundError",
    "ObjectStorage",
    "ObjectWriter",
    "S3Storage",
    "StorageError",
    "storage_from_url",
]

_KEY = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")
_TMP_PREFIX = ".tmp-"
#: Objects up to this size go up in one PUT; larger ones as a multipart upload of parts this size.
PART_SIZE = 8 * 1024 * 1024
#: Parts uploaded at once per writer; memory per writer is about PART_SIZE * (MAX_IN_FLIGHT + 1).
MAX_IN_FLIGHT = 2
#: Reads from S3 go in chunks this size, up to READ_AHEAD of them fetched ahead of the reader.
_READ_CHUNK = 1024 * 1024
READ_AHEAD = 4


def check_key(key: str) -> str:
    """Refuse keys that could escape the root or confuse a backend."""
    if (
        not isinstance(key, str)
        or not _KEY.fullmatch(key)
        or any(part in {".", ".."} or part.startswith(_TMP_PREFIX) for part in key.split("/"))
    ):
        raise ValueError(f"invalid object key {key!r}")
    return key


@dataclass(frozen=True)
class ObjectInfo:
    key: str  # relative to the storage root
    size: int
    modified: dt.datetime  # the store's own timestamp, UTC


@dataclass(frozen=True)
class ObjectLock:
    """S3 Object Lock retention for objects written ``if_absent`` (immutable by contract), when the
    bucket has Object Lock enabled: ``mode`` GOVERNANCE or COMPLIANCE, retained ``days`` from the write."""

    mode: str
    days: int


class ObjectWriter(io.RawIOBase):
    """A write-only stream into one object. ``commit()`` publishes it; leaving without commit discards.

    ``commit()`` returns True if this writer created the object, False if ``if_absent`` was set and the
    object already existed (the existing object is kept untouched).
    """

    bytes_written: int = 0

    def writable(self) -> bool:
        return True

    def commit(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def abort(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if not self.closed:
            self.abort()
        super().__exit__(exc_type, exc, tb)


class ObjectStorage:
    """The storage interface both backends implement (and the fault-injecting test wrappers override)."""

    url: str

    def open_writer(self, key: str, *, if_absent: bool = False) -> ObjectWriter:
        raise NotImplementedError

    def open_reader(self, key: str) -> BinaryIO:
        """A streaming reader of the whole object. ObjectNotFoundError if absent."""
        raise NotImplementedError

    def stat(self, key: str) -> ObjectInfo:
        raise NotImplementedError

    def list(self, prefix: str, *, start_after: str = "") -> Iterator[ObjectInfo]:
        """Every complete object whose key starts with ``prefix`` (a folder, ending in ``/``).

        In key order within a folder; ``start_after`` skips keys up to and including that one.
        """
        raise NotImplementedError

    def versions(self, prefix: str) -> dict[str, tuple[int, bool]] | None:
        """Per key under ``prefix``: (versions ever written, deleted now); None where no versions are kept."""
        return None

    def list_children(self, prefix: str) -> list[str]:
        """Names directly under ``prefix`` (a folder, ending in ``/``) that hold objects."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Delete one object; deleting an absent object is not an error."""
        raise NotImplementedError

    def touch(self, key: str) -> None:
        """Set the object's timestamp to now without changing its bytes."""
        raise NotImplementedError

    def delete_incomplete(self, prefix: str, older_than: dt.datetime | None = None) -> int:
        """Remove leftovers of writers that died (temp files, unfinished multipart uploads)."""
        raise NotImplementedError

    # Conveniences built on the primitives above.
    def put(self, key: str, data: bytes, *, if_absent: bool = False) -> bool:
        with self.open_writer(key, if_absent=if_absent) as writer:
            writer.write(data)
            return writer.commit()

    def get(self, key: str) -> bytes:
        with self.open_reader(key) as reader:
            return reader.read()

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFoundError:
            return False
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


# --------------------------------------------------------------------------------------------------
# file://


class FileStorage(ObjectStorage):
    """A local directory with the same layout as the bucket. Atomic by temp file + link/rename."""

    def __init__(self, root: os.PathLike[str] | str) -> None:
        self.root = Path(root)
        self.url = self.root.as_uri()

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def open_writer(self, key: str, *, if_absent: bool = False) -> ObjectWriter:
        return _FileWriter(self._path(key), key, if_absent)

    def open_reader(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return open(path, "rb")  # noqa: SIM115 - the caller closes it
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(f"read {key}: no such object") from exc
        except OSError as exc:
            raise _os_error(f"read {key}", exc) from exc

    def stat(self, key: str) -> ObjectInfo:
        try:
            st = self._path(key).stat()
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(f"stat {key}: no such object") from exc
        except OSError as exc:
            raise _os_error(f"stat {key}", exc) from exc
        return ObjectInfo(key, st.st_size, dt.datetime.fromtimestamp(st.st_mtime, dt.UTC))

    def list(self, prefix: str, *, start_after: str = "") -> Iterator[ObjectInfo]:
        base = self.root.joinpath(*[p for p in prefix.split("/") if p])
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                if name.startswith(_TMP_PREFIX):
                    continue
                path = Path(dirpath, name)
                key = path.relative_to(self.root).as_posix()
                if start_after and key <= start_after:
                    continue
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue  # deleted while we listed
                yield ObjectInfo(key, st.st_size, dt.datetime.fromtimestamp(st.st_mtime, dt.UTC))

    def list_children(self, prefix: str) -> list[str]:
        base = self.root.joinpath(*[p for p in prefix.split("/") if p])
        try:
            return sorted(e.name for e in base.iterdir() if not e.name.startswith(_TMP_PREFIX))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise _os_error(f"list {prefix}", exc) from exc

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _os_error(f"delete {key}", exc) from exc
        # Tidy empty folders up to the root; a concurrent writer recreates what it needs.
        parent = path.parent
        while parent != self.root and self.root in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def touch(self, key: str) -> None:
        try:
            os.utime(self._path(key))
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(f"touch {key}: no such object") from exc
        except OSError as exc:
            raise _os_error(f"touch {key}", exc) from exc

    def delete_incomplete(self, prefix: str, older_than: dt.datetime | None = None) -> int:
        base = self.root.joinpath(*[p for p in prefix.split("/") if p])
        count = 0
        if not base.is_dir():
            return 0
        for dirpath, _dirnames, filenames in os.walk(base):
            for name in filenames:
                if not name.startswith(_TMP_PREFIX):
                    continue
                path = Path(dirpath, name)
                with contextlib.suppress(FileNotFoundError):
                    mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
                    if older_than is None or mtime < older_than:
                        path.unlink()
                        count += 1
        return count


class _FileWriter(ObjectWriter):
    def __init__(self, path: Path, key: str, if_absent: bool) -> None:
        super().__init__()
        self._path, self._key, self._if_absent = path, key, if_absent
        try:
            make_private_dirs(path.parent)
            fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)
        except OSError as exc:
            raise _os_error(f"write {key}", exc) from exc
        self._tmp = Path(tmp)
        self._file = os.fdopen(fd, "wb")

    def write(self, data: Any) -> int:
        try:
            n = self._file.write(data)
        except OSError as exc:
            self.abort()
            raise _os_error(f"write {self._key}", exc, self._path.parent) from exc
        self.bytes_written += n
        return n

    def commit(self) -> bool:
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            if self._if_absent:
                try:
                    os.link(self._tmp, self._path)  # atomic, and fails if the name exists
                    created = True
                except FileExistsError:
                    created = False
                self._tmp.unlink()
            else:
                os.replace(self._tmp, self._path)
                created = True
            _fsync_dir(self._path.parent)
        except OSError as exc:
            self.abort()
            raise _os_error(f"write {self._key}", exc, self._path.parent) from exc
        super().close()
        return created

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink()
        super().close()

    def close(self) -> None:
        if not self.closed:
            self.abort()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _os_error(operation: str, exc: OSError, path: Path | None = None) -> Exception:
    import errno

    if exc.errno in {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR}:
        return ConfigurationError(f"{operation}: {exc.strerror}")
    if exc.errno in {errno.ENOSPC, errno.EDQUOT}:  # a full disk does not empty itself between retries
        return StorageError(f"{operation}: no space left on the device holding {path or exc.filename or 'the store'}: "
                            "free space there or move the store")
    if exc.errno in {errno.EIO, errno.EAGAIN, errno.EBUSY, errno.ESTALE}:
        return StorageUnavailableError(f"{operation}: {exc.strerror}")
    return StorageError(f"{operation}: {exc.strerror}")


# --------------------------------------------------------------------------------------------------
# s3://

_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_CONFIG = {"NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}
_RETRYABLE = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "OperationAborted",
    "ConditionalRequestConflict",
}


def _s3_error(operation: str, exc: Exception) -> Exception:
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        message = f"{operation}: {code or status} {error.get('Message', '')}".rstrip()
        if code in _CONFIG or status == 403:  # before 404: NoSuchBucket is a 404 too
            return ConfigurationError(message)
        if code in _NOT_FOUND or status == 404:
            return ObjectNotFoundError(message)
        if code in _RETRYABLE or status >= 500 or status == 429:
            return StorageUnavailableError(message)
        return StorageError(message)
    if isinstance(exc, BotoCoreError):
        # Connection refused/reset, timeouts, incomplete reads: the network, not the request.
        return StorageUnavailableError(f"{operation}: {type(exc).__name__}: {exc}")
    return StorageUnavailableError(f"{operation}: {type(exc).__name__}: {exc}")


def _precondition_failed(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    code = exc.response.get("Error", {}).get("Code", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    # 412: the key exists. 409: another conditional write to it is in flight, and the first one wins.
    return code in {"PreconditionFailed", "ConditionalRequestConflict"} or status in (409, 412)


class S3Storage(ObjectStorage):
    """A bucket and prefix on any S3 endpoint (AWS, MinIO, Ceph, moto).

    Requests server-side encryption (SSE-S3, ``AES256``) on every write as a second layer under our
    own encryption; conditional writes use ``If-None-Match: *``. boto3 retries throttling and 5xx
    in ``adaptive`` mode; what is still failing after that leaves as ``StorageUnavailableError``.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        server_side_encryption: str = "AES256",
        max_attempts: int = 8,
        object_lock: ObjectLock | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self.region = region
        self.sse = server_side_encryption
        self.max_attempts = max_attempts
        self.object_lock = object_lock
        self._lock_enabled: bool | None = None
        self.url = f"s3://{bucket}/{self.prefix}"
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                from botocore.config import Config

                config = Config(
                    retries={"mode": "adaptive", "max_attempts": self.max_attempts},
                    connect_timeout=10,
                    read_timeout=60,
                    # A snapshot stores up to 16 repositories at once (BACKHUB_PARALLELISM), each with
                    # MAX_IN_FLIGHT parts in flight: connections beyond the pool would be discarded.
                    max_pool_connections=16 * MAX_IN_FLIGHT + 4,
                    s3={"addressing_style": "path"} if self.endpoint_url else None,
                )
                self._client = boto3_session().client(
                    "s3", endpoint_url=self.endpoint_url, region_name=self.region, config=config
                )
            return self._client

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _sse(self) -> dict[str, str]:
        return {"ServerSideEncryption": self.sse} if self.sse else {}

    def object_lock_enabled(self) -> bool:
        """Whether the bucket has Object Lock enabled (asked once per storage)."""
        if self._lock_enabled is None:
            from botocore.exceptions import ClientError

            try:
                config = self.client.get_object_lock_configuration(Bucket=self.bucket)
                enabled = config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in {"ObjectLockConfigurationNotFoundError", "NotImplemented", "AccessDenied"}:
                    raise _s3_error("read the object lock configuration of the bucket", exc) from exc
                enabled = False
            except Exception as exc:
                raise _s3_error("read the object lock configuration of the bucket", exc) from exc
            self._lock_enabled = enabled
        return self._lock_enabled

    def _retention(self, if_absent: bool) -> dict[str, Any]:
        """Object Lock headers for an immutable (``if_absent``) write, when configured and enabled."""
        if not if_absent or self.object_lock is None or not self.object_lock_enabled():
            return {}
        until = dt.datetime.now(dt.UTC) + dt.timedelta(days=self.object_lock.days)
        return {"ObjectLockMode": self.object_lock.mode, "ObjectLockRetainUntilDate": until}

    def open_writer(self, key: str, *, if_absent: bool = False) -> ObjectWriter:
        return _S3Writer(self, key, if_absent)

    def open_reader(self, key: str) -> BinaryIO:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            raise _s3_error(f"read {key}", exc) from exc
        reader = _S3Reader(response["Body"], key, response.get("ContentLength", 0))
        return io.BufferedReader(reader, buffer_size=_READ_CHUNK)  # type: ignore[return-value]

    def stat(self, key: str) -> ObjectInfo:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            raise _s3_error(f"stat {key}", exc) from exc
        return ObjectInfo(key, response["ContentLength"], response["LastModified"].astimezone(dt.UTC))

    def list(self, prefix: str, *, start_after: str = "") -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        extra = {"StartAfter": self.prefix + start_after} if start_after else {}
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix, **extra):
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        item["Key"][len(self.prefix) :],
                        item["Size"],
                        item["LastModified"].astimezone(dt.UTC),
                    )
        except Exception as exc:
            raise _s3_error(f"list {prefix}", exc) from exc

    def versions(self, prefix: str) -> dict[str, tuple[int, bool]] | None:
        try:
            status = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status")
            if status not in {"Enabled", "Suspended"}:
                return None
            seen: dict[str, tuple[int, bool]] = {}
            paginator = self.client.get_paginator("list_object_versions")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for version in page.get("Versions", []):
                    key = version["Key"][len(self.prefix) :]
                    count, deleted = seen.get(key, (0, False))
                    seen[key] = (count + 1, deleted)
                for marker in page.get("DeleteMarkers", []):
                    key = marker["Key"][len(self.prefix) :]
                    count, deleted = seen.get(key, (0, False))
                    seen[key] = (count, deleted or bool(marker.get("IsLatest")))
            return seen
        except Exception as exc:
            raise _s3_error(f"list versions under {prefix}", exc) from exc

    def list_children(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        names: set[str] = set()
        full = self.prefix + prefix
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full, Delimiter="/"):
                for common in page.get("CommonPrefixes", []):
                    names.add(common["Prefix"][len(full) :].rstrip("/"))
                for item in page.get("Contents", []):
                    names.add(item["Key"][len(full) :])
        except Exception as exc:
            raise _s3_error(f"list {prefix}", exc) from exc
        return sorted(names)

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            error = _s3_error(f"delete {key}", exc)
            if not isinstance(error, ObjectNotFoundError):
                raise error from exc

    def touch(self, key: str) -> None:
        # A copy onto itself with replaced metadata is S3's only way to renew LastModified.
        full = self._key(key)
        try:
            self.client.copy_object(
                Bucket=self.bucket,
                Key=full,
                CopySource={"Bucket": self.bucket, "Key": full},
                MetadataDirective="REPLACE",
                **self._sse(),
            )
        except Exception as exc:
            raise _s3_error(f"touch {key}", exc) from exc

    def delete_incomplete(self, prefix: str, older_than: dt.datetime | None = None) -> int:
        count = 0
        try:
            paginator = self.client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for upload in page.get("Uploads", []):
                    if older_than is not None and upload["Initiated"] >= older_than:
                        continue
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    count += 1
        except Exception as exc:
            raise _s3_error(f"abort incomplete uploads under {prefix}", exc) from exc
        return count


class _S3Reader(io.RawIOBase):
    """botocore's StreamingBody as a plain raw stream, with errors translated.

    Objects larger than one chunk are read ahead by a helper thread (at most READ_AHEAD chunks of
    1 MiB), so the network transfer overlaps the caller's decryption instead of alternating with it.
    """

    def __init__(self, body: Any, key: str, length: int) -> None:
        super().__init__()
        self._body, self._key = body, key
        self._pending = memoryview(b"")
        self._queue: queue.Queue[bytes | BaseException] | None = None
        self._stop = threading.Event()
        self._done = False
        if length > _READ_CHUNK:
            self._queue = queue.Queue(maxsize=READ_AHEAD)
            threading.Thread(target=self._prefetch, name="s3-read-ahead", daemon=True).start()

    def _prefetch(self) -> None:
        assert self._queue is not None
        while not self._stop.is_set():
            try:
                item: bytes | BaseException = self._body.read(_READ_CHUNK)
            except BaseException as exc:  # handed to the reader, raised there
                item = exc
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.5)
                    break
                except queue.Full:
                    continue
            if not isinstance(item, bytes) or not item:
                return

    def _next(self) -> bytes:
        if self._queue is None:
            return self._body.read(_READ_CHUNK)
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._pending and not self._done:
            try:
                chunk = self._next()
            except Exception as exc:
                raise _s3_error(f"read {self._key}", exc) from exc
            if not chunk:
                self._done = True
            self._pending = memoryview(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            self._stop.set()
            if self._queue is not None:
                with contextlib.suppress(queue.Empty):
                    while True:
                        self._queue.get_nowait()
            with contextlib.suppress(Exception):
                self._body.close()
        super().close()


class _S3Writer(ObjectWriter):
    """Buffers one part; small objects go up in one PUT, large ones as a multipart upload."""

    def __init__(self, storage: S3Storage, key: str, if_absent: bool) -> None:
        super().__init__()
        self._s3, self._key, self._full = storage, key, storage._key(key)
        self._if_absent = if_absent
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[Future[dict[str, Any]]] = []
        self._pool: ThreadPoolExecutor | None = None

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self._buffer += view
        self.bytes_written += len(view)
        while len(self._buffer) > PART_SIZE:
            # Keep at least one byte in hand so the last part is never empty.
            with memoryview(self._buffer) as whole:
                part = bytes(whole[:PART_SIZE])  # one copy, not a slice and then a copy
            del self._buffer[:PART_SIZE]
            self._send_part(part)
        return len(view)

    def _send_part(self, data: bytes) -> None:
        client = self._s3.client
        if self._upload_id is None:
            try:
                response = client.create_multipart_upload(
                    Bucket=self._s3.bucket, Key=self._full, **self._s3._sse(), **self._s3._retention(self._if_absent)
                )
            except Exception as exc:
                self.abort()
                raise _s3_error(f"write {self._key}", exc) from exc
            self._upload_id = response["UploadId"]
            self._pool = ThreadPoolExecutor(MAX_IN_FLIGHT, thread_name_prefix="s3-part")
        # Bound memory: wait for the oldest part when MAX_IN_FLIGHT are already on the way.
        pending = [f for f in self._parts if not f.done()]
        if len(pending) >= MAX_IN_FLIGHT:
            self._wait(pending[0])
        number = len(self._parts) + 1
        assert self._pool is not None
        self._parts.append(self._pool.submit(self._upload_part, number, data))

    def _upload_part(self, number: int, data: bytes) -> dict[str, Any]:
        response = self._s3.client.upload_part(
            Bucket=self._s3.bucket, Key=self._full, UploadId=self._upload_id, PartNumber=number, Body=data
        )
        return {"PartNumber": number, "ETag": response["ETag"]}

    def _wait(self, future: Future[dict[str, Any]]) -> dict[str, Any]:
        try:
            return future.result()
        except Exception as exc:
            self.abort()
            raise _s3_error(f"write {self._key}", exc) from exc

    def commit(self) -> bool:
        client = self._s3.client
        condition = {"IfNoneMatch": "*"} if self._if_absent else {}
        try:
            if self._upload_id is None:
                try:
                    client.put_object(
                        Bucket=self._s3.bucket,
                        Key=self._full,
                        Body=bytes(self._buffer),
                        **condition,
                        **self._s3._sse(),
                        **self._s3._retention(self._if_absent),
                    )
                except Exception as exc:
                    if self._if_absent and _precondition_failed(exc):
                        return False
                    raise _s3_error(f"write {self._key}", exc) from exc
                return True
            self._send_part(bytes(self._buffer))
            self._buffer = bytearray()
            parts = [self._wait(f) for f in self._parts]
            try:
                client.complete_multipart_upload(
                    Bucket=self._s3.bucket,
                    Key=self._full,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": parts},
                    **condition,
                )
            except Exception as exc:
                self.abort()
                if self._if_absent and _precondition_failed(exc):
                    return False
                raise _s3_error(f"write {self._key}", exc) from exc
            self._upload_id = None
            return True
        finally:
            self._finish()

    def abort(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            with contextlib.suppress(Exception):
                self._s3.client.abort_multipart_upload(
                    Bucket=self._s3.bucket, Key=self._full, UploadId=upload_id
                )
        self._finish()

    def _finish(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._buffer = bytearray()
        self._parts = []
        super().close()

    def close(self) -> None:
        if not self.closed:
            self.abort()


# --------------------------------------------------------------------------------------------------


_session_lock = threading.Lock()
_session: Any = None


def boto3_session() -> Any:
    """One boto3 session per process, made on first use: clients made from it share loaded models."""
    global _session
    with _session_lock:
        if _session is None:
            import boto3

            _session = boto3.session.Session()
        return _session


def storage_from_url(
    url: str, *, s3_endpoint_url: str | None = None, object_lock: ObjectLock | None = None
) -> ObjectStorage:
    """``file:///abs/path`` or ``s3://bucket/prefix``; anything else is a ConfigurationError."""
    if not isinstance(url, str) or not url:
        raise ConfigurationError("storage URL is empty")
    parsed = urlparse(url)
    if parsed.scheme == "file":
        if parsed.netloc not in {"", "localhost"} or not parsed.path.startswith("/"):
            raise ConfigurationError(f"invalid file URL {url!r}: expected file:///absolute/path")
        return FileStorage(unquote(parsed.path))
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ConfigurationError(f"invalid S3 URL {url!r}: expected s3://bucket/prefix")
        prefix = parsed.path.strip("/")
        if prefix and not _KEY.fullmatch(prefix):
            raise ConfigurationError(f"invalid S3 URL {url!r}: unsafe prefix")
        return S3Storage(parsed.netloc, prefix, endpoint_url=s3_endpoint_url, object_lock=object_lock)
    raise ConfigurationError(f"unsupported storage URL {url!r}: expected file:// or s3://")
