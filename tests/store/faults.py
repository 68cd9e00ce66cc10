"""Fault-injecting wrappers: a real backend with one method overridden (fail once, flip a bit, truncate)."""

from __future__ import annotations

import io
import threading
from typing import Any, BinaryIO

from resources.errors import StorageUnavailableError
from resources.object_storage import ObjectStorage, ObjectWriter


class Wrapped(ObjectStorage):
    """Delegates every call to the real backend; subclasses override one method."""

    def __init__(self, inner: ObjectStorage) -> None:
        self.inner = inner
        self.url = inner.url

    def open_writer(self, key: str, *, if_absent: bool = False) -> ObjectWriter:
        return self.inner.open_writer(key, if_absent=if_absent)

    def open_reader(self, key: str) -> BinaryIO:
        return self.inner.open_reader(key)

    def stat(self, key: str) -> Any:
        return self.inner.stat(key)

    def list(self, prefix: str) -> Any:
        return self.inner.list(prefix)

    def list_children(self, prefix: str) -> list[str]:
        return self.inner.list_children(prefix)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def touch(self, key: str) -> None:
        self.inner.touch(key)

    def delete_incomplete(self, prefix: str, older_than: Any = None) -> int:
        return self.inner.delete_incomplete(prefix, older_than)


class FailWriteOnce(Wrapped):
    """The first commit of a write fails as a 5xx would; later writes go through."""

    failed = False

    def open_writer(self, key: str, *, if_absent: bool = False) -> ObjectWriter:
        writer = self.inner.open_writer(key, if_absent=if_absent)
        if self.failed:
            return writer
        self.failed = True
        original = writer.commit

        def commit() -> bool:
            writer.abort()
            raise StorageUnavailableError(f"write {key}: injected 503")

        writer.commit = commit  # type: ignore[method-assign]
        del original
        return writer


class FlipBitOnRead(Wrapped):
    """Reads return the stored bytes with one bit flipped at ``offset`` (negative: from the end)."""

    def __init__(self, inner: ObjectStorage, offset: int) -> None:
        super().__init__(inner)
        self.offset = offset

    def open_reader(self, key: str) -> BinaryIO:
        data = bytearray(self.inner.get(key))
        data[self.offset] ^= 0x01
        return io.BytesIO(bytes(data))


class TruncateOnRead(Wrapped):
    """Reads stop ``cut`` bytes before the end, as a dropped connection would."""

    def __init__(self, inner: ObjectStorage, cut: int) -> None:
        super().__init__(inner)
        self.cut = cut

    def open_reader(self, key: str) -> BinaryIO:
        return io.BytesIO(self.inner.get(key)[: -self.cut])


class DropConnectionOnRead(Wrapped):
    """Reads fail with a retryable error after ``after`` bytes, as a reset connection would."""

    def __init__(self, inner: ObjectStorage, after: int) -> None:
        super().__init__(inner)
        self.after = after

    def open_reader(self, key: str) -> BinaryIO:
        return io.BufferedReader(_Dropping(self.inner.get(key), self.after, key))


class _Dropping(io.RawIOBase):
    def __init__(self, data: bytes, after: int, key: str) -> None:
        super().__init__()
        self._data, self._after, self._key = io.BytesIO(data), after, key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._data.tell() >= self._after:
            raise StorageUnavailableError(f"read {self._key}: injected connection reset")
        return self._data.readinto(memoryview(buffer)[: self._after - self._data.tell()])


class BlockOnDelete(Wrapped):
    """After ``after`` deletes under ``prefix`` go through, the next one prints BLOCKED and hangs: a
    process at a known point of its work, for a test to SIGKILL."""

    def __init__(self, inner: ObjectStorage, prefix: str, after: int) -> None:
        super().__init__(inner)
        self.prefix, self.after = prefix, after

    def delete(self, key: str) -> None:
        if key.startswith(self.prefix):
            if self.after == 0:
                print("BLOCKED", flush=True)
                threading.Event().wait()
            self.after -= 1
        self.inner.delete(key)
