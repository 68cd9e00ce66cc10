"""Git LFS: the batch API and the basic transfer adapter, as git-lfs and GitHub speak them.

``POST /<owner>/<repo>.git/info/lfs/objects/batch`` (``Accept`` and ``Content-Type``
``application/vnd.git-lfs+json``; git-lfs docs/api/batch.md) answers per object: for ``download``,
``actions.download`` (``href``, ``header``, ``expires_in``) or ``error`` ``{code: 404}`` when this
repository's LFS storage lacks it; for ``upload``, ``actions.upload`` or no actions when the object is
already stored. Authentication is git's: HTTP Basic with an installation token as the password (or the
user name); upload needs ``contents: write`` and a repository that is not archived.

The ``href`` is served here (``/_lfs/<repo id>/<oid>``) and authorised only by the one-time header the
batch answer handed out (as GitHub's media hosts are), GET for the bytes, PUT to store them (checked:
sha256 must be the oid and the length the size). Objects live per repository under
``repos/<id>.lfs/<oid[0:2]>/<oid[2:4]>/<oid>``, beside the git data, so ``reset`` restores them too.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from .auth import AuthError
from .emulator import Emulator
from .http import Response
from .state import write_atomic

MEDIA_TYPE = "application/vnd.git-lfs+json"
DOCS = "https://github.com/git-lfs/git-lfs/blob/main/docs/api/batch.md"
BATCH_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/info/lfs/objects/batch$")
OBJECT_PATH = re.compile(r"^/_lfs/(?P<repo_id>\d+)/(?P<oid>[0-9a-f]{64})$")
OID = re.compile(r"^[0-9a-f]{64}$")
EXPIRES_IN = 3600  # seconds; the grant behind an href lives as long (emulator.LfsGrants)


def object_path(store_repos: Path, repo_id: int, oid: str) -> Path:
    return store_repos / f"{repo_id}.lfs" / oid[0:2] / oid[2:4] / oid


def store_object(store_repos: Path, repo_id: int, data: bytes) -> str:
    """Keep ``data`` as an LFS object of repository ``repo_id``; its oid."""
    oid = hashlib.sha256(data).hexdigest()
    path = object_path(store_repos, repo_id, oid)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
    return oid


def _lfs_error(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps({"message": message, "documentation_url": DOCS}).encode()
    return Response(status, body, [("Content-Type", MEDIA_TYPE), *(headers or [])], counts=False)


def batch(em: Emulator, match: re.Match[str], method: str, headers: Any, body: bytes, web: str) -> Response:
    if method != "POST":
        return _lfs_error(405, "Method not allowed: the batch API takes POST")
    if MEDIA_TYPE not in (headers.get("Accept") or ""):
        return _lfs_error(406, f"Not Acceptable: send Accept: {MEDIA_TYPE}")
    try:
        principal = em.authority.identify(headers.get("Authorization"), em.installations())
    except AuthError:
        principal = None
    if principal is None or principal.kind != "installation":
        return _lfs_error(401, "Credentials needed", [("LFS-Authenticate", 'Basic realm="GitHub"')])
    try:
        request = json.loads(body.decode("utf-8"))
        operation = request["operation"]
        objects = request["objects"]
        if operation not in ("download", "upload") or not isinstance(objects, list):
            raise ValueError
        wanted = [(str(o["oid"]), int(o["size"])) for o in objects]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return _lfs_error(422, "Validation error: expected {operation: download|upload, objects: [{oid, size}]}")
    if "basic" not in (request.get("transfers") or ["basic"]):
        return _lfs_error(422, "Validation error: only the basic transfer adapter is supported")
    owner, name = unquote(match["owner"]), unquote(match["repo"])
    with em.store.lock:
        repo = em.store.repo_by_name(owner, name) or em.store.renamed_to(owner, name)
        visible = repo is not None and repo["owner"].lower() == (principal.account or "").lower() and (
            principal.repository_ids is None or repo["id"] in principal.repository_ids)
        if not visible or repo is None:
            return _lfs_error(404, "Repository not found")
        repo_id, archived = int(repo["id"]), bool(repo.get("archived"))
    if operation == "upload":
        if not principal.can("contents", "write"):
            return _lfs_error(403, f"Permission to {owner}/{name}.git denied")
        if archived:
            return _lfs_error(403, "This repository was archived so it is read-only.")
    answered = []
    for oid, size in wanted:
        entry: dict[str, Any] = {"oid": oid, "size": size}
        path = object_path(em.store.repos_dir, repo_id, oid) if OID.match(oid) else None
        if path is None or size < 0:
            entry["error"] = {"code": 422, "message": "Invalid object: oid must be 64 hex digits, size at least 0"}
        elif operation == "download":
            if not path.is_file():
                entry["error"] = {"code": 404, "message": "Object does not exist"}
            elif path.stat().st_size != size:
                entry["error"] = {"code": 422, "message": f"Object size is {path.stat().st_size}, not {size}"}
            else:
                entry["authenticated"] = True
                entry["actions"] = {"download": _action(em, web, repo_id, oid, "download")}
        elif not path.is_file():
            entry["authenticated"] = True
            entry["actions"] = {"upload": _action(em, web, repo_id, oid, "upload")}
        answered.append(entry)
    payload = {"transfer": "basic", "objects": answered, "hash_algo": "sha256"}
    return Response(200, json.dumps(payload).encode(), [("Content-Type", MEDIA_TYPE)], counts=False)


def _action(em: Emulator, web: str, repo_id: int, oid: str, operation: str) -> dict[str, Any]:
    secret = em.lfs_grants.issue(repo_id, oid, operation, EXPIRES_IN)
    return {"href": f"{web}/_lfs/{repo_id}/{oid}", "header": {"Authorization": f"RemoteAuth {secret}"},
            "expires_in": EXPIRES_IN}


def transfer(em: Emulator, match: re.Match[str], method: str, headers: Any, body: bytes) -> Response:
    """GET (download) or PUT (upload) one object at the href the batch API gave."""
    repo_id, oid = int(match["repo_id"]), match["oid"]
    operation = {"GET": "download", "PUT": "upload"}.get(method)
    if operation is None:
        return Response(405, b"Method not allowed\n", [("Content-Type", "text/plain")], counts=False)
    auth = headers.get("Authorization") or ""
    secret = auth[len("RemoteAuth "):] if auth.startswith("RemoteAuth ") else ""
    if not em.lfs_grants.allows(secret, repo_id, oid, operation):
        return Response(403, b"Request has expired or is not authorised\n", [("Content-Type", "text/plain")], counts=False)
    path = object_path(em.store.repos_dir, repo_id, oid)
    if operation == "download":
        if not path.is_file():
            return Response(404, b"Not Found\n", [("Content-Type", "text/plain")], counts=False)
        return Response(200, path.read_bytes(), [("Content-Type", "application/octet-stream")], counts=False)
    if hashlib.sha256(body).hexdigest() != oid:
        return _lfs_error(422, "Object content does not match its oid")
    store_object(em.store.repos_dir, repo_id, body)
    return Response(200, b"", [], counts=False)
