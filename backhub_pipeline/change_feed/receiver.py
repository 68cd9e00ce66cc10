"""The webhook receiver: a small ASGI app (Starlette) that turns GitHub App deliveries into change records.

Per ``POST`` on its path, in order:

1. The body is read whole (at most GitHub's 25 MB payload cap; more is 413).
2. ``X-Hub-Signature-256`` must be ``sha256=`` + the hex HMAC-SHA256 of the raw body with the App's
   webhook secret, compared in constant time (``hmac.compare_digest``). Missing or wrong: **401**, and
   nothing is parsed or recorded. (401 rather than 403: the request failed to authenticate.)
3. ``X-GitHub-Event`` and ``X-GitHub-Delivery`` must be present, the body JSON: else **400**.
4. ``ping`` is answered **200** and recorded nowhere.
5. Otherwise the compact change records (change_log.py) are written in one SQLite transaction and
   the answer is **202** once they are durable; a delivery already recorded is **200** and writes
   nothing. A failure to write is **503**, so GitHub shows the delivery as failed and it can be redelivered.

The write is a few hundred microseconds on a local disk, far inside GitHub's 10-second timeout, so the
receiver acknowledges only what it has durably recorded. ``GET /healthz`` answers 200 for probes.
Nothing from a payload is logged; the secret is never logged or written.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .change_log import ChangeLog, ChangeRecord, kind_of

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB
log = logging.getLogger("backhub.webhooks")


def signature_matches(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when ``header`` is ``sha256=<hex HMAC-SHA256 of body>``; compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("ascii", "replace"))


def change_records(event: str, delivery_id: str, payload: dict[str, Any], received_at: str) -> list[ChangeRecord]:
    """The records one delivery makes: one per repository it names (0 when it names none)."""
    installation = payload.get("installation") or {}
    installation_id = int(installation.get("id") or 0)
    action = payload.get("action") if isinstance(payload.get("action"), str) else None
    repository_ids: set[int] = set()
    repository = payload.get("repository")
    if isinstance(repository, dict) and isinstance(repository.get("id"), int):
        repository_ids.add(repository["id"])
    for key in ("repositories", "repositories_added", "repositories_removed"):  # installation events
        for item in payload.get(key) or []:
            if isinstance(item, dict) and isinstance(item.get("id"), int):
                repository_ids.add(item["id"])
    kind = kind_of(event)
    return [ChangeRecord(delivery_id, rid, installation_id, event, action, kind, received_at)
            for rid in sorted(repository_ids or {0})]


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_app(change_log: ChangeLog, secret: str, *, path: str = "/", now: Callable[[], str] = utc_now) -> Starlette:
    """The receiver as an ASGI app; ``now`` gives the receipt time (the pipeline's clock, in the demo)."""
    key = secret.encode("utf-8")

    async def receive(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return JSONResponse({"error": "payload too large"}, 413)
        # Read as it streams, refusing past the limit: a body without Content-Length (chunked) must
        # not be held whole before the signature is even checked.
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return JSONResponse({"error": "payload too large"}, 413)
            chunks.append(chunk)
        body = b"".join(chunks)
        if not signature_matches(key, body, request.headers.get("x-hub-signature-256")):
            log.warning("refused a delivery: missing or wrong X-Hub-Signature-256")
            return JSONResponse({"error": "signature does not match"}, 401)
        event = request.headers.get("x-github-event")
        delivery_id = request.headers.get("x-github-delivery")
        if not event or not delivery_id:
            return JSONResponse({"error": "X-GitHub-Event and X-GitHub-Delivery are required"}, 400)
        try:
            payload = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, 400)
        if not isinstance(payload, dict):
            return JSONResponse({"error": "body is not a JSON object"}, 400)
        if event == "ping":
            return JSONResponse({"ok": True}, 200)
        records = change_records(event, delivery_id, payload, now())
        try:
            added = await run_in_threadpool(change_log.record, records)
        except Exception as exc:  # noqa: BLE001 - any storage failure is a failed delivery, to be redelivered
            log.error("could not record delivery %s: %s", delivery_id, type(exc).__name__)
            return JSONResponse({"error": "change log unavailable"}, 503)
        if added == 0:
            return JSONResponse({"delivery": delivery_id, "duplicate": True}, 200)
        return JSONResponse({"delivery": delivery_id, "records": added}, 202)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route(path, receive, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])])
