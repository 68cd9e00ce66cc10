"""Reading a blob as a stream: decrypt, decompress and re-hash as the caller reads (docs/format.md 4.2).

Tampering is found where it is (a bad segment fails when reached); the final checks (end of stream,
keyed hash of the plaintext) run at EOF. Hashing runs on a second thread beside the decryption.
"""

from __future__ import annotations

import collections
import contextlib
import hmac
import io
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO

from resources.errors import IntegrityError
from resources.keyring import CustomerKeys
from resources.snapshot_store.framing import BLOB_MAGIC, BLOB_PREFIX, CHUNK, blob_aad


class BlobReader(io.RawIOBase):
    """Decrypts, decompresses and re-hashes one blob as it is read."""

    def __init__(self, raw: BinaryIO, keys: CustomerKeys, customer: str, bid: str) -> None:
        super().__init__()
        self._raw, self._bid, self._customer = raw, bid, customer
        self._where = f"load blob {bid} of customer {customer}"
        self._hasher = BackgroundHasher(keys.blob_hasher())
        self._eof = False
        import zstandard

        from resources.keyring import _tink

        self._errors: tuple[type[BaseException], ...] = (_tink().TinkError, zstandard.ZstdError)
        try:
            prefix = _read_exactly(raw, len(BLOB_PREFIX))
        except Exception:
            raw.close()
            raise
        if prefix[: len(BLOB_MAGIC)] != BLOB_MAGIC:
            raw.close()
            raise self._corrupt("not a blob (bad magic)")
        if prefix != BLOB_PREFIX:
            raw.close()
            raise self._corrupt(f"unsupported version/codec {prefix[6:].hex()}")
        # Tink turns an exception raised by the source into "decryption failed": keep the original,
        # so a dropped connection stays a retryable StorageUnavailableError, not corruption.
        self._source = _SourceGuard(raw)
        self._decrypting = keys.streaming_aead.new_decrypting_stream(self._source, blob_aad(bid))
        self._plain = zstandard.ZstdDecompressor().stream_reader(
            self._decrypting, read_size=CHUNK, read_across_frames=False, closefd=False
        )

    def _corrupt(self, what: str) -> IntegrityError:
        return IntegrityError(
            f"{self._where}: {what}; the blob is corrupt or was tampered with: snapshots that name "
            "it cannot be restored from this store (run verify --read-data to list them)"
        )

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._eof:
            return 0
        try:
            data = self._plain.read(len(buffer))
        except self._errors:
            self._source.reraise()
            raise self._corrupt("authentication failed") from None
        if not data:
            self._finish()
            return 0
        self._hasher.update(data)
        n = len(data)
        buffer[:n] = data
        return n

    def _finish(self) -> None:
        self._eof = True
        try:
            trailing = self._decrypting.read(1)  # authenticates the final segment, finds appended data
        except self._errors:
            self._source.reraise()
            raise self._corrupt("authentication of the last segment failed") from None
        if trailing:
            raise self._corrupt("data after the end of the compressed stream")
        if not hmac.compare_digest(self._hasher.hexdigest(), self._bid):
            raise self._corrupt("the plaintext does not hash to the blob id")

    def close(self) -> None:
        if not self.closed:
            self._hasher.close()
            with contextlib.suppress(Exception):
                self._plain.close()
            with contextlib.suppress(Exception):
                self._decrypting.close()
            with contextlib.suppress(Exception):
                self._raw.close()
        super().close()


class BackgroundHasher:
    """Feeds an HMAC on a helper thread (hashlib releases the GIL), in order, a few chunks behind.

    Hashing is the single largest CPU cost of reading and writing a blob; on a second core it runs
    beside decryption and decompression instead of after them. Memory: at most _HASH_BACKLOG chunks.
    """

    def __init__(self, hasher: hmac.HMAC) -> None:
        self._hasher = hasher
        self._pool: ThreadPoolExecutor | None = None
        self._pending: collections.deque[Future[None]] = collections.deque()

    def update(self, data: bytes) -> None:
        if len(data) < 64 * 1024:
            self._drain()
            self._hasher.update(data)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="blob-hash")
        while len(self._pending) >= _HASH_BACKLOG:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._hasher.update, bytes(data)))

    def _drain(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def hexdigest(self) -> str:
        self._drain()
        return self._hasher.hexdigest()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._pending.clear()


_HASH_BACKLOG = 4


class _SourceGuard(io.RawIOBase):
    """Reads through to the stored object, remembering the first error the storage raised."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._raw.read(len(buffer))
        except BaseException as exc:
            self.error = exc
            raise
        n = len(data)
        buffer[:n] = data
        return n

    def reraise(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def _read_exactly(raw: BinaryIO, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = raw.read(n - len(data))
        if not chunk:
            break
        data += chunk
    return data
