"""Asset bodies (docs/format.md section 9): typed readers and writers of each asset's manifest body.

The store keeps a manifest's ``body`` opaque (``resources/snapshot_store/manifest.py``); the assets
write it, and the checks, verify, listing and restore read it, all through the types here, so the body
format has one home. Each type reads with ``from_json`` (or ``of(manifest)``) and writes with
``to_json``; ``to_json(from_json(x)) == x`` for every body format 1 allows.

A body that lacks a key the format requires, holds a key it does not define, or holds a value of
the wrong type is an ``IntegrityError`` naming the manifest and the entry, never a ``KeyError``: a
reader that does not understand a body must not guess at it (it may have been written by a newer
backhub, or damaged by hand).

Here in ``assets`` rather than ``resources/snapshot_store``: the store treats bodies as opaque (they
are the assets' content, not the store's format), and both the assets and ``backhub_pipeline.restore``
import ``assets``, so one module serves writers and readers without an import pointing up.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from resources.canonical import canonical_json
from resources.errors import IntegrityError
from resources.snapshot_store import Manifest, SnapshotStore

_T = TypeVar("_T")

COUNT_KEYS = ("issues", "pull_requests", "comments", "reviews", "review_comments", "events", "pull_commits")
# Fields of GitHub's repository object copied into an inventory entry, for the other assets and listings.
SUMMARY_FIELDS = ("id", "full_name", "private", "fork", "archived", "disabled", "has_wiki", "has_issues",
                  "has_discussions", "default_branch", "size", "pushed_at")
# Every body also carries these (written by ``Capture.commit``).
_COMMON = ("api_requests", "capture_started_at", "captured_at")


def where_of(manifest: Manifest) -> str:
    return f"manifest {manifest.customer}/{manifest.date}/{manifest.asset}"


class _Fields:
    """One JSON object being read: each key taken once, anything left over is an unknown key."""

    def __init__(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise IntegrityError(f"{where}: expected an object, found {type(value).__name__}")
        self._value, self._left, self.where = value, set(value), where

    def take(self, key: str, kind: type[_T] | tuple[type, ...], *, required: bool = True) -> Any:
        if key not in self._value:
            if required:
                raise IntegrityError(f"{self.where}: missing key {key!r}")
            return None
        self._left.discard(key)
        value = self._value[key]
        if value is None and not required:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, (int,))):
            raise IntegrityError(f"{self.where}: {key!r} is {type(value).__name__}, not as docs/format.md section 9 says")
        return value

    def done(self) -> None:
        if self._left:
            raise IntegrityError(f"{self.where}: unknown key(s) {', '.join(sorted(self._left))} (written by a newer "
                                 "backhub? read it with that version)")


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


# -- shared pieces -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlobLink:
    """``{blob, size}``: a blob and its plaintext size."""

    blob: str
    size: int

    @classmethod
    def from_json(cls, value: Any, where: str) -> BlobLink:
        f = _Fields(value, where)
        link = cls(blob=f.take("blob", str), size=f.take("size", int))
        f.done()
        return link

    def to_json(self) -> dict[str, Any]:
        return {"blob": self.blob, "size": self.size}


@dataclass(frozen=True, kw_only=True)
class _Captured:
    """What every body carries: ``api_requests`` (requests the asset made) and the capture's real start
    and end (``Capture.commit`` stamps them, whatever the date key)."""

    api_requests: int | None = None
    capture_started_at: str | None = None
    captured_at: str | None = None

    @classmethod
    def of(cls, manifest: Manifest) -> Any:
        """The body of ``manifest``, read as this type."""
        return cls.from_json(manifest.body, where_of(manifest))

    @classmethod
    def from_json(cls, value: Any, where: str) -> Any:
        raise NotImplementedError


def _common(f: _Fields) -> dict[str, Any]:
    return {key: f.take(key, int if key == "api_requests" else str, required=False) for key in _COMMON}


def _common_json(body: _Captured) -> dict[str, Any]:
    return _without_none({key: getattr(body, key) for key in _COMMON})


def _keyed(f: _Fields, where: str, kind: Any) -> dict[str, Any]:
    """``repositories``: repository id -> entry of ``kind``."""
    return {key: kind.from_json(entry, f"{where}: repository {key}") for key, entry in f.take("repositories", dict).items()}


def _keyed_json(entries: Mapping[str, Any]) -> dict[str, Any]:
    return {key: entry.to_json() for key, entry in entries.items()}


# -- 9.1 inventory -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsLink:
    """``{blob, size, read_on}``: a repository's protections and settings, and the snapshot that read them."""

    blob: str
    size: int
    read_on: str

    @classmethod
    def from_json(cls, value: Any, where: str) -> SettingsLink:
        f = _Fields(value, where)
        link = cls(blob=f.take("blob", str), size=f.take("size", int), read_on=f.take("read_on", str))
        f.done()
        return link

    def to_json(self) -> dict[str, Any]:
        return {"blob": self.blob, "size": self.size, "read_on": self.read_on}


@dataclass(frozen=True)
class ReleaseAsset:
    """One file attached to a release: its ``blob``, or the ``reason`` it was not kept."""

    id: int
    release_id: int
    tag: str | None
    name: str | None
    size: int
    updated_at: str | None = None
    content_type: str | None = None
    blob: str | None = None
    reason: str | None = None

    @classmethod
    def from_json(cls, value: Any, where: str) -> ReleaseAsset:
        f = _Fields(value, where)
        asset = cls(id=f.take("id", int), release_id=f.take("release_id", int), tag=f.take("tag", str, required=False),
                    name=f.take("name", str, required=False), size=f.take("size", int),
                    updated_at=f.take("updated_at", str, required=False),
                    content_type=f.take("content_type", str, required=False),
                    blob=f.take("blob", str, required=False), reason=f.take("reason", str, required=False))
        f.done()
        if (asset.blob is None) == (asset.reason is None):
            raise IntegrityError(f"{where}: a release asset has either a blob or a reason")
        return asset

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "release_id": self.release_id, "tag": self.tag, "name": self.name, "size": self.size,
                "updated_at": self.updated_at, "content_type": self.content_type,
                **_without_none({"blob": self.blob, "reason": self.reason})}


@dataclass(frozen=True)
class InventoryEntry:
    """One repository of the inventory: its summary, and its metadata blob or the reason it has none."""

    id: int
    full_name: str
    summary: Mapping[str, Any] = field(default_factory=dict)  # SUMMARY_FIELDS as GitHub served them
    blob: str | None = None
    blob_size: int | None = None
    reason: str | None = None
    settings: SettingsLink | None = None  # absent in entries written before settings were captured
    release_assets: tuple[ReleaseAsset, ...] | None = None  # likewise

    @property
    def key(self) -> str:
        """The repository's key in the other assets' bodies: its GitHub id as a string."""
        return str(self.id)

    @classmethod
    def from_json(cls, value: Any, where: str) -> InventoryEntry:
        f = _Fields(value, where)
        # A field absent from the JSON stays absent (has_discussions came after format 1's first bodies).
        summary = {name: f.take(name, object, required=name in ("id", "full_name")) for name in SUMMARY_FIELDS
                   if name in value or name in ("id", "full_name")}
        settings = f.take("settings", dict, required=False)
        assets = f.take("release_assets", list, required=False)
        entry = cls(id=f.take("id", int), full_name=f.take("full_name", str), summary=summary,
                    blob=f.take("blob", str, required=False), blob_size=f.take("blob_size", int, required=False),
                    reason=f.take("reason", str, required=False),
                    settings=None if settings is None else SettingsLink.from_json(settings, f"{where}: settings"),
                    release_assets=None if assets is None else tuple(
                        ReleaseAsset.from_json(asset, f"{where}: release_assets[{index}]")
                        for index, asset in enumerate(assets)))
        f.done()
        if (entry.blob is None) == (entry.reason is None):
            raise IntegrityError(f"{where}: an inventory entry has either a blob or a reason")
        return entry

    def to_json(self) -> dict[str, Any]:
        return {**{name: self.summary.get(name) for name in SUMMARY_FIELDS if name in self.summary},
                "id": self.id, "full_name": self.full_name,
                **_without_none({"blob": self.blob, "blob_size": self.blob_size, "reason": self.reason,
                                 "settings": self.settings.to_json() if self.settings else None,
                                 "release_assets": None if self.release_assets is None
                                 else [asset.to_json() for asset in self.release_assets]})}

    def get(self, name: str, default: Any = None) -> Any:
        """A summary field (``private``, ``has_wiki``, ``default_branch``...)."""
        return self.summary.get(name, default)


@dataclass(frozen=True)
class InventoryBody(_Captured):
    installation_id: int
    repositories: tuple[InventoryEntry, ...]
    etag_cache: BlobLink | None = None

    @classmethod
    def from_json(cls, value: Any, where: str) -> InventoryBody:
        f = _Fields(value, f"{where}: body")
        listed = f.take("repositories", list)
        cache = f.take("etag_cache", dict, required=False)
        body = cls(installation_id=f.take("installation_id", int),
                   repositories=tuple(InventoryEntry.from_json(entry, f"{where}: repositories[{index}]")
                                      for index, entry in enumerate(listed)),
                   etag_cache=BlobLink.from_json(cache, f"{where}: etag_cache") if cache is not None else None,
                   **_common(f))
        f.done()
        return body

    def to_json(self) -> dict[str, Any]:
        return {"installation_id": self.installation_id, "repositories": [e.to_json() for e in self.repositories],
                **_without_none({"etag_cache": self.etag_cache.to_json() if self.etag_cache else None}),
                **_common_json(self)}

    def blobs(self) -> dict[str, int]:
        """Blob id -> plaintext size of every blob the body names."""
        found = {entry.blob: int(entry.blob_size or 0) for entry in self.repositories if entry.blob}
        for entry in self.repositories:
            if entry.settings:
                found[entry.settings.blob] = entry.settings.size
            found.update({asset.blob: asset.size for asset in entry.release_assets or () if asset.blob})
        if self.etag_cache:  # stored with the snapshot like any blob, so counted in its logical size
            found[self.etag_cache.blob] = self.etag_cache.size
        return found


# -- 9.2 repositories and wikis ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChainLink:
    """``{blob, size, kind, date}``: one bundle of a chain, ``full`` or ``incremental``."""

    blob: str
    size: int
    kind: str
    date: str

    @classmethod
    def from_json(cls, value: Any, where: str) -> ChainLink:
        f = _Fields(value, where)
        link = cls(blob=f.take("blob", str), size=f.take("size", int), kind=f.take("kind", str),
                   date=f.take("date", str))
        f.done()
        return link

    def to_json(self) -> dict[str, Any]:
        return {"blob": self.blob, "size": self.size, "kind": self.kind, "date": self.date}


@dataclass(frozen=True)
class LfsObject:
    """One Git LFS object a repository's refs reach: its ``blob`` (the object's bytes, sha256 checked
    against the oid), or the ``reason`` it is not kept (GitHub had no such object)."""

    size: int
    blob: str | None = None
    reason: str | None = None

    @classmethod
    def from_json(cls, value: Any, where: str) -> LfsObject:
        f = _Fields(value, where)
        item = cls(size=f.take("size", int), blob=f.take("blob", str, required=False),
                   reason=f.take("reason", str, required=False))
        f.done()
        if (item.blob is None) == (item.reason is None):
            raise IntegrityError(f"{where}: an LFS object has either a blob or a reason")
        return item

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, **_without_none({"blob": self.blob, "reason": self.reason})}


@dataclass(frozen=True)
class GitEntry:
    """One repository's (or wiki's) git data: ``tips`` and the ``chain`` that rebuilds them; or a recorded
    ``reason`` (gone, skipped), a wiki ``state`` without data, or ``failed`` (the capture of this
    repository failed for good, with the error; the completeness check names it)."""

    full_name: str
    tips: Mapping[str, str] | None = None
    chain: tuple[ChainLink, ...] | None = None
    bundle: str | None = None
    recut_reason: str | None = None
    fetched: bool | None = None
    state: str | None = None  # wikis: disabled, never_created, populated
    reason: str | None = None
    failed: str | None = None
    lfs: Mapping[str, LfsObject] | None = None  # oid -> object; absent before LFS was captured, and for wikis

    @property
    def has_data(self) -> bool:
        """Git data (tips, maybe empty) or a wiki's recorded state."""
        return self.tips is not None or self.state is not None

    @property
    def unavailable(self) -> str | None:
        """Why this entry holds no data: its recorded reason, or that its capture failed (and how)."""
        return self.reason or (f"backup failed: {self.failed}" if self.failed else None)

    @property
    def links(self) -> tuple[ChainLink, ...]:
        return self.chain or ()

    @property
    def refs(self) -> dict[str, str]:
        return dict(self.tips or {})

    @classmethod
    def from_json(cls, value: Any, where: str) -> GitEntry:
        f = _Fields(value, where)
        chain = f.take("chain", list, required=False)
        tips = f.take("tips", dict, required=False)
        if tips is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in tips.items()):
            raise IntegrityError(f"{where}: 'tips' maps refs to object ids")
        lfs = f.take("lfs", dict, required=False)
        entry = cls(full_name=f.take("full_name", str), tips=tips,
                    chain=None if chain is None else tuple(ChainLink.from_json(link, f"{where}: chain[{index}]")
                                                           for index, link in enumerate(chain)),
                    bundle=f.take("bundle", str, required=False), recut_reason=f.take("recut_reason", str, required=False),
                    fetched=f.take("fetched", bool, required=False), state=f.take("state", str, required=False),
                    reason=f.take("reason", str, required=False), failed=f.take("failed", str, required=False),
                    lfs=None if lfs is None else {oid: LfsObject.from_json(item, f"{where}: lfs {oid}")
                                                  for oid, item in lfs.items()})
        f.done()
        return entry

    def to_json(self) -> dict[str, Any]:
        return _without_none({
            "full_name": self.full_name, "tips": dict(self.tips) if self.tips is not None else None,
            "chain": [link.to_json() for link in self.chain] if self.chain is not None else None,
            "bundle": self.bundle, "recut_reason": self.recut_reason, "fetched": self.fetched, "state": self.state,
            "reason": self.reason, "failed": self.failed,
            "lfs": {oid: item.to_json() for oid, item in self.lfs.items()} if self.lfs is not None else None})


@dataclass(frozen=True)
class GitBody(_Captured):
    """The body of ``repositories`` and of ``wikis``: ``{repository id: GitEntry}``."""

    repositories: Mapping[str, GitEntry]

    @classmethod
    def from_json(cls, value: Any, where: str) -> GitBody:
        f = _Fields(value, f"{where}: body")
        body = cls(repositories=_keyed(f, where, GitEntry), **_common(f))
        f.done()
        return body

    def to_json(self) -> dict[str, Any]:
        return {"repositories": _keyed_json(self.repositories), **_common_json(self)}

    def blobs(self) -> dict[str, int]:
        chains = {link.blob: link.size for entry in self.repositories.values() for link in entry.links}
        return {**chains, **{item.blob: item.size for entry in self.repositories.values()
                             for item in (entry.lfs or {}).values() if item.blob}}


# -- 9.3 issues --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueChunk:
    """``{blob, size, counts}``: one chunk of issue records by number range."""

    blob: str
    size: int
    counts: Mapping[str, int]

    @classmethod
    def from_json(cls, value: Any, where: str) -> IssueChunk:
        f = _Fields(value, where)
        chunk = cls(blob=f.take("blob", str), size=f.take("size", int), counts=f.take("counts", dict))
        f.done()
        return chunk

    def to_json(self) -> dict[str, Any]:
        return {"blob": self.blob, "size": self.size, "counts": dict(self.counts)}


@dataclass(frozen=True)
class DiscussionsPart:
    """One repository's discussions (GraphQL), beside its issues: chunks of records keyed by discussion
    number, with counts and tomorrow's watermark; or the ``reason`` there are none."""

    chunks: Mapping[str, IssueChunk] | None = None
    counts: Mapping[str, int] | None = None
    watermark: str | None = None
    full_read_at: str | None = None
    read: str | None = None  # full, incremental
    updated_records: int | None = None
    graphql_points: int | None = None
    reason: str | None = None

    @classmethod
    def from_json(cls, value: Any, where: str) -> DiscussionsPart:
        f = _Fields(value, where)
        chunks = f.take("chunks", dict, required=False)
        part = cls(chunks=None if chunks is None else {key: IssueChunk.from_json(chunk, f"{where}: chunk {key}")
                                                        for key, chunk in chunks.items()},
                   counts=f.take("counts", dict, required=False), watermark=f.take("watermark", str, required=False),
                   full_read_at=f.take("full_read_at", str, required=False), read=f.take("read", str, required=False),
                   updated_records=f.take("updated_records", int, required=False),
                   graphql_points=f.take("graphql_points", int, required=False),
                   reason=f.take("reason", str, required=False))
        f.done()
        return part

    def to_json(self) -> dict[str, Any]:
        return _without_none({
            "chunks": {key: chunk.to_json() for key, chunk in self.chunks.items()} if self.chunks is not None else None,
            "counts": dict(self.counts) if self.counts is not None else None, "watermark": self.watermark,
            "full_read_at": self.full_read_at, "read": self.read, "updated_records": self.updated_records,
            "graphql_points": self.graphql_points, "reason": self.reason})


@dataclass(frozen=True)
class IssuesEntry:
    """One repository's issues: its chunks and what the next capture needs; or a ``reason`` or ``failed``."""

    full_name: str
    chunks: Mapping[str, IssueChunk] | None = None
    counts: Mapping[str, int] | None = None
    watermark: str | None = None
    full_read_at: str | None = None
    read: str | None = None  # full, incremental, skipped
    probe: Mapping[str, Any] | None = None
    updated_records: int | None = None
    healed_comment_threads: int | None = None
    events_watermark: str | None = None  # created_at of the newest issue event read
    pull_commit_reads: int | None = None
    reason: str | None = None
    failed: str | None = None
    discussions: DiscussionsPart | None = None  # absent: captured before discussions were

    @property
    def has_data(self) -> bool:
        return self.chunks is not None

    @property
    def unavailable(self) -> str | None:
        """Why this entry holds no data: its recorded reason, or that its capture failed (and how)."""
        return self.reason or (f"backup failed: {self.failed}" if self.failed else None)

    @classmethod
    def from_json(cls, value: Any, where: str) -> IssuesEntry:
        f = _Fields(value, where)
        chunks = f.take("chunks", dict, required=False)
        entry = cls(full_name=f.take("full_name", str),
                    chunks=None if chunks is None else {key: IssueChunk.from_json(chunk, f"{where}: chunk {key}")
                                                        for key, chunk in chunks.items()},
                    counts=f.take("counts", dict, required=False), watermark=f.take("watermark", str, required=False),
                    full_read_at=f.take("full_read_at", str, required=False), read=f.take("read", str, required=False),
                    probe=f.take("probe", dict, required=False),
                    updated_records=f.take("updated_records", int, required=False),
                    healed_comment_threads=f.take("healed_comment_threads", int, required=False),
                    events_watermark=f.take("events_watermark", str, required=False),
                    pull_commit_reads=f.take("pull_commit_reads", int, required=False),
                    reason=f.take("reason", str, required=False), failed=f.take("failed", str, required=False),
                    discussions=_optional_part(f.take("discussions", dict, required=False), f"{where}: discussions"))
        f.done()
        return entry

    def to_json(self) -> dict[str, Any]:
        return _without_none({
            "full_name": self.full_name,
            "chunks": {key: chunk.to_json() for key, chunk in self.chunks.items()} if self.chunks is not None else None,
            "counts": dict(self.counts) if self.counts is not None else None, "watermark": self.watermark,
            "full_read_at": self.full_read_at, "read": self.read, "probe": self.probe,
            "updated_records": self.updated_records, "healed_comment_threads": self.healed_comment_threads,
            "events_watermark": self.events_watermark, "pull_commit_reads": self.pull_commit_reads,
            "reason": self.reason, "failed": self.failed,
            "discussions": self.discussions.to_json() if self.discussions is not None else None})

    def replace(self, **changes: Any) -> IssuesEntry:
        return dataclasses.replace(self, **changes)


def _optional_part(value: Any, where: str) -> DiscussionsPart | None:
    return None if value is None else DiscussionsPart.from_json(value, where)


@dataclass(frozen=True)
class IssuesBody(_Captured):
    """The body of ``issues``: ``{repository id: IssuesEntry}`` and the chunk size numbers are grouped by."""

    repositories: Mapping[str, IssuesEntry]
    chunk_size: int = 100
    # True: one search for the installation said which repositories changed; False: it could not, and
    # each repository was probed; None: written before the search existed.
    searched: bool | None = None

    @classmethod
    def from_json(cls, value: Any, where: str) -> IssuesBody:
        f = _Fields(value, f"{where}: body")
        body = cls(repositories=_keyed(f, where, IssuesEntry),
                   chunk_size=f.take("chunk_size", int, required=False) or 100,
                   searched=f.take("searched", bool, required=False), **_common(f))
        f.done()
        return body

    def to_json(self) -> dict[str, Any]:
        return {"repositories": _keyed_json(self.repositories), "chunk_size": self.chunk_size,
                **_without_none({"searched": self.searched}), **_common_json(self)}

    def blobs(self) -> dict[str, int]:
        return {chunk.blob: chunk.size for entry in self.repositories.values()
                for chunk in [*(entry.chunks or {}).values(),
                              *((entry.discussions.chunks or {}) if entry.discussions else {}).values()]}


Body = InventoryBody | GitBody | IssuesBody
_BY_ASSET: dict[str, Any] = {"inventory": InventoryBody, "repositories": GitBody, "wikis": GitBody,
                             "issues": IssuesBody}


def read_body(manifest: Manifest) -> Body:
    """The typed body of any backup asset's manifest."""
    kind = _BY_ASSET.get(manifest.asset)
    if kind is None:
        raise IntegrityError(f"{where_of(manifest)}: no body format for asset {manifest.asset!r}")
    return kind.of(manifest)


# -- 9.3 issue chunk blobs: JSON Lines of records ----------------------------------------------------


def encode_chunk(records: dict[int, dict[str, Any]]) -> bytes:
    return b"".join(canonical_json(records[number]) + b"\n" for number in sorted(records))


def decode_chunk(data: bytes) -> dict[int, dict[str, Any]]:
    records = {}
    for line in data.splitlines():
        if line.strip():
            record = json.loads(line)
            records[record["number"]] = record
    return records


def chunk_counts(records: dict[int, dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(COUNT_KEYS, 0)
    for record in records.values():
        issue = record.get("issue") or {}
        counts["pull_requests" if ("pull_request" in issue or "pull" in record) else "issues"] += 1
        counts["comments"] += len(record["comments"])
        counts["reviews"] += len(record["reviews"])
        counts["review_comments"] += len(record["review_comments"])
        counts["events"] += len(record.get("events", ()))
        counts["pull_commits"] += len(record.get("commits", ()))
    return counts


def read_records(store: SnapshotStore, customer: str, entry: IssuesEntry | DiscussionsPart) -> Iterator[dict[str, Any]]:
    """Every stored record of one repository's issues entry (or its discussions part), in number order."""
    chunks = entry.chunks or {}
    for chunk_id in sorted(chunks, key=int):
        yield from decode_chunk(store.read_blob(customer, chunks[chunk_id].blob)).values()
