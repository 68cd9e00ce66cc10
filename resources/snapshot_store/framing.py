"""A blob at rest: an 8-byte prefix, then the plaintext zstd-compressed and Tink-encrypted (docs/format.md section 4).

The prefix and the blob id are the stream's associated data, so a blob moved under another id or
rewritten with another version byte fails authentication.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from resources.errors import IntegrityError
from resources.keyring import CustomerKeys

BLOB_MAGIC = b"BHBLOB"
BLOB_VERSION = 1
CODEC_ZSTD = 1
BLOB_PREFIX = BLOB_MAGIC + bytes([BLOB_VERSION, CODEC_ZSTD])  # 8 bytes
#: Plaintext is read, hashed and written in pieces of this size: memory stays bounded.
CHUNK = 1024 * 1024


def blob_aad(bid: str) -> bytes:
    return BLOB_PREFIX + bid.encode("ascii")


def write_blob(writer: Any, keys: CustomerKeys, bid: str, chunks: Iterable[Any], size: int, level: int) -> None:
    """Frame, compress and encrypt ``chunks`` (``size`` bytes of plaintext) into ``writer``."""
    import zstandard

    from resources.keyring import _tink

    tink = _tink()
    writer.write(BLOB_PREFIX)
    try:
        destination = _NoClose(writer)
        encrypting = keys.streaming_aead.new_encrypting_stream(destination, blob_aad(bid))
        compressor = zstandard.ZstdCompressor(level=level).compressobj(size=size)
        for chunk in chunks:
            encrypting.write(compressor.compress(chunk))
        encrypting.write(compressor.flush())
        encrypting.close()
    except tink.TinkError as exc:
        if destination.error is not None:  # the storage refused the bytes (a full disk): say that, not "encryption"
            raise destination.error from None
        raise IntegrityError(f"store blob {bid}: encryption failed ({exc})") from None


class _NoClose(io.RawIOBase):
    """Passes writes through; closing it leaves the target open (Tink closes its destination)."""

    def __init__(self, target: Any) -> None:
        super().__init__()
        self._target = target
        self.error: Exception | None = None  # what the target raised: Tink reports it only as a TinkError

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        try:
            return self._target.write(data)
        except Exception as exc:
            self.error = exc
            raise
