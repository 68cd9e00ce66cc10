"""The tamper-evident audit log: hash-chained JSON records in their own location.

Every backup, verification, restore, deletion, expiry, erasure and key operation appends one record.
Each record carries the SHA-256 digest of the record before it, so editing, deleting, inserting or
reordering records breaks the chain, and ``AuditLog.verify`` says which record and how.

Layout under the log's root (``file:///dir`` or ``s3://bucket/prefix``, through ``resources.object_storage``)::

    records/<seq, 20 digits>.json   one immutable object per record, written only if absent
    head.json                       {"seq", "digest"} of the newest record: a hint for writers and a
                                    lower bound for verify (detects a naively truncated tail)

A record's digest is SHA-256 over its canonical JSON without the ``digest`` field (keys sorted, no
whitespace, UTF-8). The first record has ``seq`` 1 and ``prev_digest`` of 64 zeros.

Appends come from many processes on many machines. There is no lock server: a writer reads the head,
then creates ``records/<head+1>.json`` with a put-if-absent (S3 ``If-None-Match: *``; on a local
folder a fully written temporary file hard-linked into place, which fails if the name exists). The
loser of a race re-reads the head and tries the next number, so the chain never forks and no record
is lost. On S3, when the bucket has Object Lock enabled, each record is written with a retention
(COMPLIANCE or GOVERNANCE mode, configurable days); without Object Lock it works the same, unlocked.

No secret ever reaches a record: ``details`` keys that name secrets (token, password, secret,
authorization, credential, ``*_key``...) and values that look like credentials are replaced by
``"<redacted>"`` before hashing. What verify can and cannot detect is in docs/audit.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import re
import time as _time
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from resources import names
from resources.canonical import canonical_json
from resources.errors import ConfigurationError, IntegrityError, ObjectNotFoundError, StorageUnavailableError
from resources.object_storage import FileStorage, ObjectLock, ObjectStorage, storage_from_url

log = logging.getLogger(__name__)

GENESIS_DIGEST = "0" * 64
RECORDS = "records/"
HEAD = "head.json"
REDACTED = "<redacted>"
_SEQ_WIDTH = 20
_RECORD_NAME = re.compile(r"records/(\d{20})\.json")
_ACTION = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_FIELDS = ("seq", "time", "actor", "action", "customer", "snapshot", "outcome", "details", "prev_digest")
_MAX_APPEND_ATTEMPTS = 200

# A details key names a secret when one of its words is one of these, or its last word is "key"
# ("api_key", "routing_key", "privateKey"), but not "key_id" / "keyset_id", which name a key.
_SECRET_WORDS = frozenset(
    {
        "token",
        "tokens",
        "password",
        "passwd",
        "pwd",
        "secret",
        "secrets",
        "authorization",
        "auth",
        "credential",
        "credentials",
        "cookie",
        "apikey",
        "passphrase",
        "jwt",
        "pem",
    }
)
# Values that look like credentials whatever their key: GitHub tokens, Slack tokens, AWS access key
# ids, PEM blocks, bearer headers, URLs with a password.
_SECRET_VALUE = re.compile(
    r"(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|\b[Bb]earer\s+\S{8,}|(?<=://)[^/\s:@]+:[^/\s@]+(?=@))"
)



def record_digest(body: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a record's canonical JSON without its ``digest`` field."""
    return hashlib.sha256(canonical_json({k: v for k, v in body.items() if k != "digest"})).hexdigest()


def record_name(seq: int) -> str:
    return f"{RECORDS}{seq:0{_SEQ_WIDTH}d}.json"


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    time: str
    actor: str
    action: str
    customer: str | None
    snapshot: str | None
    outcome: str
    details: dict
    prev_digest: str
    digest: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "action": self.action,
            "customer": self.customer,
            "snapshot": self.snapshot,
            "outcome": self.outcome,
            "details": self.details,
            "prev_digest": self.prev_digest,
            "digest": self.digest,
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> AuditRecord:
        missing = [name for name in (*_FIELDS, "digest") if name not in body]
        if missing:
            raise ValueError(f"missing fields {', '.join(missing)}")
        if not isinstance(body["seq"], int) or not isinstance(body["details"], dict):
            raise ValueError("seq must be an integer and details an object")
        return cls(**{name: body[name] for name in (*_FIELDS, "digest")})


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    records: int
    problems: list[str] = field(default_factory=list)
    head_seq: int = 0
    head_digest: str = GENESIS_DIGEST

    @property
    def anchor(self) -> str:
        """``SEQ:DIGEST`` of the newest record: keep it outside the log to detect a truncated tail."""
        return f"{self.head_seq}:{self.head_digest}"


# --------------------------------------------------------------------------------------------------
# Secrets


def _key_is_secret(key: str) -> bool:
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", key)]
    if not words:
        return False
    if any(word in _SECRET_WORDS for word in words):
        return True
    return words[-1] == "key" or "".join(words).endswith(("privatekey", "accesskey", "secretkey"))


def redact(value: Any, *, _path: str = "details") -> tuple[Any, list[str]]:
    """A copy of ``value`` with secret-named keys and credential-like strings replaced; and where."""
    redacted: list[str] = []
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"audit details keys must be strings, got {type(key).__name__} at {_path}")
            if _key_is_secret(key):
                out[key] = REDACTED
                redacted.append(f"{_path}.{key}")
            else:
                out[key], inner = redact(item, _path=f"{_path}.{key}")
                redacted.extend(inner)
        return out, redacted
    if isinstance(value, list | tuple):
        items = []
        for index, item in enumerate(value):
            new, inner = redact(item, _path=f"{_path}[{index}]")
            items.append(new)
            redacted.extend(inner)
        return items, redacted
    if isinstance(value, str) and _SECRET_VALUE.search(value):
        return REDACTED, [_path]
    if value is None or isinstance(value, bool | int | float | str):
        return value, redacted
    raise TypeError(f"audit details must be JSON values, got {type(value).__name__} at {_path}")


def scrub_text(text: str) -> str:
    """``text`` with every credential-looking substring replaced by ``<redacted>``."""
    return _SECRET_VALUE.sub(REDACTED, text)


def _refuse_secret_text(name: str, value: str | None) -> None:
    if value is not None and _SECRET_VALUE.search(value):
        raise ValueError(f"audit {name} looks like it contains a credential; refusing to record it")


# --------------------------------------------------------------------------------------------------
# Storage: the few operations the log needs, on the object storage the snapshot store uses too.


class _Records:
    """The log's objects on an ``ObjectStorage``: a missing object reads as None."""

    def __init__(self, storage: ObjectStorage) -> None:
        self.storage = storage

    def describe(self) -> str:
        return self.storage.url.rstrip("/")

    def put_if_absent(self, name: str, data: bytes) -> bool:
        """Create ``name`` holding ``data``; False if it already exists. Atomic: all or nothing."""
        return self.storage.put(name, data, if_absent=True)

    def put(self, name: str, data: bytes) -> None:
        self.storage.put(name, data)

    def get(self, name: str) -> bytes | None:
        try:
            return self.storage.get(name)
        except ObjectNotFoundError:
            return None

    def list(self, prefix: str, start_after: str = "") -> Iterator[str]:
        """Names under ``prefix`` in lexicographic order, after ``start_after``."""
        for info in self.storage.list(prefix, start_after=start_after):
            yield info.key

    def history(self, prefix: str) -> dict[str, tuple[int, bool]] | None:
        """Per name: (versions ever written, currently deleted), where the store keeps versions."""
        return self.storage.versions(prefix)


# --------------------------------------------------------------------------------------------------
# The log


class AuditLog:
    """Append to, read and verify one hash-chained audit log."""

    def __init__(self, storage: ObjectStorage) -> None:
        self._backend = _Records(storage)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        s3_endpoint_url: str | None = None,
        object_lock_mode: str = "GOVERNANCE",
        object_lock_days: int = 365,
    ) -> AuditLog:
        """``file:///dir`` or ``s3://bucket/prefix``. Nothing is touched until the first call."""
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme == "file":
            if parsed.netloc not in {"", "localhost"} or not parsed.path:
                raise ConfigurationError(f"audit log URL {url!r}: expected file:///absolute/path")
            return cls(FileStorage(Path(urllib.parse.unquote(parsed.path))))
        if parsed.scheme == "s3":
            if not parsed.netloc:
                raise ConfigurationError(f"audit log URL {url!r}: expected s3://bucket/prefix")
            if object_lock_mode not in {"GOVERNANCE", "COMPLIANCE"}:
                raise ConfigurationError(
                    f"object lock mode must be GOVERNANCE or COMPLIANCE, got {object_lock_mode!r}"
                )
            if object_lock_days < 1:
                raise ConfigurationError(
                    f"object lock retention must be at least 1 day, got {object_lock_days}"
                )
            lock = ObjectLock(object_lock_mode, object_lock_days)
            return cls(storage_from_url(url, s3_endpoint_url=s3_endpoint_url, object_lock=lock))
        raise ConfigurationError(f"audit log URL {url!r}: expected file:// or s3://")

    @property
    def location(self) -> str:
        return self._backend.describe()

    # ---- reading

    def _read_head_hint(self) -> int:
        raw = self._backend.get(HEAD)
        if raw is None:
            return 0
        try:
            seq = json.loads(raw)["seq"]
            return seq if isinstance(seq, int) and seq > 0 else 0
        except (ValueError, KeyError, TypeError):
            return 0

    def _last(self, hint: int = 0) -> tuple[int, str]:
        """(seq, digest) of the newest record; (0, genesis) for an empty log."""
        start = record_name(hint - 1) if hint > 1 else ""
        last_name = None
        for name in self._backend.list(RECORDS, start_after=start):
            if _RECORD_NAME.fullmatch(name):
                last_name = name
        if last_name is None:
            if hint > 1:
                return self._last(0)  # the hint pointed past the end: look from the start
            return 0, GENESIS_DIGEST
        raw = self._backend.get(last_name)
        if raw is None:
            raise IntegrityError(f"read audit {last_name} in {self.location}: listed but missing")
        try:
            body = json.loads(raw)
            return int(body["seq"]), str(body["digest"])
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(
                f"read audit {last_name} in {self.location}: not a valid record ({exc}); "
                "run `backhub audit verify` and restore the log from a copy"
            ) from exc

    def head(self) -> tuple[int, str]:
        """(seq, digest) of the newest record: export it somewhere else as an anchor."""
        return self._last(self._read_head_hint())

    def records(self) -> Iterator[AuditRecord]:
        """Every record in sequence order. Raises IntegrityError on an unreadable record."""
        for name in self._backend.list(RECORDS):
            if not _RECORD_NAME.fullmatch(name):
                continue
            raw = self._backend.get(name)
            if raw is None:
                continue
            try:
                yield AuditRecord.from_json(json.loads(raw))
            except (ValueError, TypeError) as exc:
                raise IntegrityError(
                    f"read audit {name} in {self.location}: not a valid record ({exc})"
                ) from exc

    # ---- writing

    def append(
        self,
        *,
        actor: str,
        action: str,
        outcome: str,
        customer: str | None = None,
        snapshot: str | None = None,
        details: dict | None = None,
        time: dt.datetime | None = None,
    ) -> AuditRecord:
        """Append one record and return it, once it is durably stored as the chain's next link."""
        if not isinstance(action, str) or not _ACTION.fullmatch(action):
            raise ValueError(f"invalid audit action {action!r}")
        for label, text in (("actor", actor), ("outcome", outcome)):
            if not isinstance(text, str) or not text or len(text) > 200:
                raise ValueError(f"invalid audit {label} {text!r}")
        if customer is not None:
            names.customer(customer)
        if snapshot is not None and (not isinstance(snapshot, str) or len(snapshot) > 500):
            raise ValueError(f"invalid audit snapshot {snapshot!r}")
        for label, text in (("actor", actor), ("outcome", outcome), ("snapshot", snapshot)):
            _refuse_secret_text(label, text)
        clean, redacted = redact(details or {})
        if redacted:
            log.warning("audit %s: redacted secret-looking details %s", action, ", ".join(redacted))
        when = time or dt.datetime.now(dt.UTC)
        if when.tzinfo is None:
            raise ValueError("audit time must be timezone-aware")
        stamp = when.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")

        hint = self._read_head_hint()
        for attempt in range(_MAX_APPEND_ATTEMPTS):
            seq, prev = self._last(hint)
            body = {
                "seq": seq + 1,
                "time": stamp,
                "actor": actor,
                "action": action,
                "customer": customer,
                "snapshot": snapshot,
                "outcome": outcome,
                "details": clean,
                "prev_digest": prev,
            }
            body["digest"] = record_digest(body)
            if self._backend.put_if_absent(record_name(seq + 1), canonical_json(body)):
                record = AuditRecord.from_json(body)
                self._advance_head(record)
                return record
            # Another writer took seq+1: read the new head and try the next number.
            hint = seq + 1
            _time.sleep(random.uniform(0, min(0.05, 0.002 * (attempt + 1))))
        raise StorageUnavailableError(
            f"append audit record to {self.location}: lost the race {_MAX_APPEND_ATTEMPTS} times"
        )

    def _advance_head(self, record: AuditRecord) -> None:
        # A hint, never the truth: it may lag behind under concurrency, but never points past a
        # record that was written, so verify can use it as a lower bound for the tail.
        try:
            if self._read_head_hint() < record.seq:
                self._backend.put(HEAD, canonical_json({"seq": record.seq, "digest": record.digest}))
        except StorageUnavailableError as exc:
            log.warning("audit: could not advance %s: %s", HEAD, exc)

    # ---- verifying

    def verify(self, *, anchor: str | None = None) -> VerifyResult:
        """Check the whole chain; name each record that was edited, deleted, inserted or reordered.

        ``anchor`` is ``SEQ:DIGEST`` taken earlier from ``head()`` and kept outside the log: with it,
        a truncated tail or a rewritten chain is detected as well.
        """
        anchors: list[tuple[str, int, str]] = []
        if anchor:
            seq_text, _, digest = anchor.partition(":")
            if not seq_text.isdigit() or not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ConfigurationError(f"audit anchor {anchor!r}: expected SEQ:SHA256HEX")
            anchors.append(("the anchor", int(seq_text), digest))
        head_raw = self._backend.get(HEAD)
        if head_raw is not None:
            try:
                head = json.loads(head_raw)
                anchors.append((HEAD, int(head["seq"]), str(head["digest"])))
            except (ValueError, KeyError, TypeError):
                pass  # a hint only; verify stands on the records themselves
        return _check_chain(self._backend, anchors)


@dataclass
class _Node:
    key: int
    seq: int
    digest: str  # as stored
    prev: str
    intact: bool  # stored digest equals the digest of the content


def _check_chain(backend: _Records, anchors: list[tuple[str, int, str]]) -> VerifyResult:
    problems: list[tuple[int, str]] = []
    nodes: list[_Node] = []
    unreadable: set[int] = set()
    for name in backend.list(RECORDS):
        match = _RECORD_NAME.fullmatch(name)
        if not match:
            problems.append((10**_SEQ_WIDTH, f"{name}: inserted: not a record name this log writes"))
            continue
        key = int(match.group(1))
        raw = backend.get(name)
        if raw is None:
            continue
        try:
            body = json.loads(raw)
            record = AuditRecord.from_json(body)
        except (ValueError, TypeError) as exc:
            problems.append((key, f"seq {key}: edited: not a valid record ({exc})"))
            unreadable.add(key)
            continue
        intact = record_digest(body) == record.digest
        if not intact:
            problems.append((key, f"seq {key}: edited: its content no longer matches its digest"))
        nodes.append(_Node(key, record.seq, record.digest, record.prev_digest, intact))

    by_seq: dict[int, list[_Node]] = {}
    for node in nodes:
        by_seq.setdefault(node.seq, []).append(node)
    referenced = {node.prev for node in nodes}
    followers: dict[str, list[_Node]] = {}
    for node in nodes:
        followers.setdefault(node.prev, []).append(node)
    by_digest = {node.digest: node for node in nodes}
    explained: set[int] = set(unreadable) | {n.seq for n in nodes if not n.intact}  # already named

    # Reordered: records stored under each other's numbers (a permutation of keys).
    displaced = [node for node in nodes if node.seq != node.key]
    if displaced and {n.seq for n in displaced} == {n.key for n in displaced}:
        for node in displaced:
            problems.append(
                (node.key, f"seq {node.key}: reordered: holds the record written as seq {node.seq}")
            )
            explained.add(node.seq)
        displaced = []

    # Inserted: a second record claiming a number, that no later record links to.
    inserted = False
    for seq, claimants in sorted(by_seq.items()):
        if len(claimants) < 2:
            continue
        genuine = [n for n in claimants if n.digest in referenced]
        for node in claimants:
            if node in genuine or (not genuine and node is claimants[0]):
                continue
            problems.append(
                (
                    node.key,
                    f"seq {node.key}: inserted: a second record claiming seq {seq}, "
                    "not linked to by any later record",
                )
            )
            explained.add(seq)
            inserted = True
            by_seq[seq] = [n for n in by_seq[seq] if n is not node]
            if by_digest.get(node.digest) is node:
                del by_digest[node.digest]

    # Deleted: numbers missing from 1..the highest seq seen in the records or the anchors.
    highest = max([*(n.seq for n in nodes), *(seq for _label, seq, _d in anchors)], default=0)
    missing = [seq for seq in range(1, highest + 1) if seq not in by_seq and seq not in unreadable]
    last_present = max((n.seq for n in nodes), default=0)
    for seq in missing:
        where = (
            "after the last record: the tail was truncated"
            if seq > last_present
            else "missing from the chain"
        )
        problems.append((seq, f"seq {seq}: deleted: {where}"))
        explained.add(seq)

    # Records shifted to other numbers: the trace of an insertion or deletion made to look seamless,
    # or of a reordering that is not a plain exchange.
    if displaced:
        moved = sorted(displaced, key=lambda n: n.key)
        kind = "renumbered" if (inserted or missing) else "reordered"
        problems.append(
            (
                moved[0].key,
                f"seq {moved[0].key}..{moved[-1].key}: {kind}: stored under numbers "
                f"other than their own (they carry seq {moved[0].seq}..{moved[-1].seq})",
            )
        )

    # Links: each record must name its predecessor's digest; a break not explained above means the
    # predecessor was rewritten (digest recomputed) or a foreign record was put in its place.
    for seq in sorted(by_seq):
        node = by_seq[seq][0]
        expected = GENESIS_DIGEST if seq == 1 else (by_seq[seq - 1][0].digest if seq - 1 in by_seq else None)
        if expected is None or node.prev == expected or {seq, seq - 1} & explained:
            continue
        vouching = [n for n in followers.get(expected, []) if n is not node]
        if node.prev in by_digest:
            other = by_digest[node.prev]
            problems.append(
                (
                    seq,
                    f"seq {seq}: reordered: follows the record stored as seq {other.key}, not seq {seq - 1}",
                )
            )
        elif seq == 1:
            problems.append((seq, "seq 1: edited: does not start from the genesis digest"))
        elif vouching:
            # Another record links to seq-1 as it is, so seq-1 is genuine: this one was moved here
            # (with its number and digest rewritten) from elsewhere in the chain.
            problems.append(
                (
                    seq,
                    f"seq {seq}: reordered: does not follow seq {seq - 1}, which the record stored "
                    f"as seq {vouching[0].key} follows: moved here from elsewhere in the chain",
                )
            )
        else:
            problems.append(
                (
                    seq - 1,
                    f"seq {seq - 1}: edited: its digest is not the one seq {seq} recorded "
                    "(content rewritten and digest recomputed, or replaced)",
                )
            )
        explained.update({seq - 1})

    # The tail, against the head hint and any external anchor.
    for label, seq, digest in anchors:
        if seq in by_seq and seq not in explained and by_seq[seq][0].digest != digest:
            problems.append((seq, f"seq {seq}: edited: digest differs from the one in {label}"))
            explained.add(seq)

    # Versioned buckets keep what was overwritten or deleted: name it even at the tail.
    history = backend.history(RECORDS)
    if history:
        for name, (versions, deleted) in sorted(history.items()):
            match = _RECORD_NAME.fullmatch(name)
            if not match:
                continue
            key = int(match.group(1))
            if deleted and key not in explained:
                problems.append((key, f"seq {key}: deleted: a delete marker hides a retained version"))
                explained.add(key)
            if versions > 1:
                problems.append((key, f"seq {key}: edited: overwritten ({versions} versions stored)"))

    tail = max(nodes, key=lambda n: n.seq, default=None)
    problems.sort(key=lambda item: item[0])
    unique = list(dict.fromkeys(text for _key, text in problems))
    return VerifyResult(
        ok=not problems,
        records=len(nodes),
        problems=unique,
        head_seq=tail.seq if tail else 0,
        head_digest=tail.digest if tail else GENESIS_DIGEST,
    )


class AuditLogResource(dg.ConfigurableResource):
    """The audit log as a Dagster resource: ``file:///dir`` or ``s3://bucket/prefix``.

    Keep it apart from the snapshot store (another bucket, ideally with Object Lock). On a bucket
    with Object Lock enabled each record is retained for ``object_lock_days`` in ``object_lock_mode``.
    """

    url: str = Field(description="Where the log lives: file:///absolute/dir or s3://bucket/prefix.")
    s3_endpoint_url: str | None = Field(
        default=None, description="S3 endpoint (MinIO, Ceph, moto); None for AWS."
    )
    object_lock_mode: str = Field(default="GOVERNANCE", description="GOVERNANCE or COMPLIANCE.")
    object_lock_days: int = Field(default=365, description="Retention of each record when Object Lock is on.")

    def get_client(self) -> AuditLog:
        return AuditLog.from_url(
            self.url,
            s3_endpoint_url=self.s3_endpoint_url,
            object_lock_mode=self.object_lock_mode,
            object_lock_days=self.object_lock_days,
        )
