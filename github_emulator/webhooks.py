"""The GitHub App's webhook: deliveries of what happened, signed, sent from a background thread in order.

What GitHub does, and so what this does:

- One App webhook: a URL and a secret (``POST /_emulator/app/hook``, or ``--hook-url`` and
  ``--hook-secret`` at start). Without a URL nothing is delivered and nothing is recorded.
- Every change to an installed account's repositories becomes an event (``X-GitHub-Event``) with
  GitHub's payload shape, built the moment the change happens (a later rename or deletion does not
  rewrite it). Each delivery is a POST with ``X-GitHub-Delivery`` (a GUID), ``X-GitHub-Hook-ID``,
  ``X-GitHub-Hook-Installation-Target-Type: integration`` and ``-ID: <app id>``,
  ``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body with the secret>`` (and the legacy
  SHA-1 ``X-Hub-Signature``), ``User-Agent: GitHub-Hookshot/<version>``, JSON body.
- One sender thread delivers in the order events happened, with GitHub's 10-second timeout. Every
  attempt, failed or not, is kept as a delivery (``GET /app/hook/deliveries``), with GitHub's
  ``status``/``status_code``: the receiver's code, ``failed to connect`` (502) when nothing answered,
  ``timed out`` (504) past the timeout. ``POST /app/hook/deliveries/{id}/attempts`` redelivers: a new
  delivery with the same GUID and ``redelivery: true``.
- Faults (``POST /_emulator/app/hook/faults``, see faults.py): ``drop`` (never sent; recorded as
  ``failed to connect``, as a network failure is), ``delay`` (sent late), ``duplicate`` (sent twice,
  same GUID, two deliveries) and ``reorder`` (sent after the next one).

A delivery's ``delivered_at`` is the emulator time of the change that caused it (each simulated day's
events fall in that day), a redelivery's the time it was asked for. Deliveries live in memory and,
as on GitHub, are listed for three days (emulator time), then forgotten; a reset forgets them all.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import ssl
import subprocess
import threading
import time
import uuid
from collections import deque
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from . import shapes
from .faults import Faults
from .state import Store, iso

TIMEOUT_SECONDS = 10.0  # GitHub: "GitHub will terminate the connection if your server does not respond within 10 seconds"
USER_AGENT = "GitHub-Hookshot/emulator"
ZERO = "0" * 40
MAX_PUSH_COMMITS = 20
RESPONSE_BODY_LIMIT = 4096
FIRST_DELIVERY_ID = 20_000_000_000  # GitHub's delivery ids are int64 and large
RETENTION_DAYS = 3  # GitHub keeps an App's webhook deliveries for three days


class Hookshot:
    """The App's webhook: configuration, the queue of pending deliveries, and every attempt made."""

    def __init__(self, store: Store, faults: Faults, app_id: int, *, hook_id: int = 1,
                 delay_seconds: float = 2.0, timeout: float = TIMEOUT_SECONDS) -> None:
        self.store = store
        self.faults = faults
        self.app_id = app_id
        self.hook_id = hook_id
        self.delay_seconds = delay_seconds
        self.timeout = timeout
        self.urls: shapes.Urls | None = None  # set once the server listens
        self.url: str | None = None
        self.secret: str | None = None
        self.cond = threading.Condition()
        self.queue: deque[dict[str, Any]] = deque()
        self.held: dict[str, Any] | None = None  # a reordered delivery, sent after the next one
        self.deliveries: list[dict[str, Any]] = []
        self.by_id: dict[int, dict[str, Any]] = {}
        self.next_id = FIRST_DELIVERY_ID
        self.busy = False
        self.stopped = False
        self.thread = threading.Thread(target=self._run, name="hookshot", daemon=True)
        self.thread.start()

    # ---- configuration -----------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return bool(self.url) and self.urls is not None

    def configure(self, url: str | None, secret: str | None) -> None:
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"webhook url must be http(s)://host[:port]/path, not {url!r}")
        with self.cond:
            self.url = url or None
            self.secret = secret or None

    def describe(self) -> dict[str, Any]:
        with self.cond:
            return {
                "url": self.url,
                "secret_configured": bool(self.secret),
                "hook_id": self.hook_id,
                "pending": len(self.queue) + (1 if self.held else 0) + (1 if self.busy else 0),
                "deliveries": len(self.deliveries),
            }

    def clear(self) -> None:
        with self.cond:
            self.queue.clear()
            self.held = None
            self.deliveries.clear()
            self.by_id.clear()

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once every queued delivery has been attempted (a held reordered one is released)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.queue or self.busy or self.held:
                if self.held and not self.queue and not self.busy:
                    self.queue.append(self.held)
                    self.held = None
                    self.cond.notify_all()
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.1))
            return True

    # ---- events (called by the world's writers, under store.lock) ----------------------------------
    def emit(self, event: str, action: str | None, repo: dict[str, Any] | None, payload: dict[str, Any],
             *, account: str | None = None, sender: str | None = None) -> None:
        """Queue one event about ``repo`` (or the installation of ``account``) with its specific fields."""
        if not self.active:
            return
        login = repo["owner"] if repo is not None else account
        inst = next((i for i in self.store.db["installations"] if i["account"].lower() == (login or "").lower()), None)
        if inst is None:
            return  # GitHub sends an App only what happens in accounts that installed it
        body: dict[str, Any] = {"action": action} if action is not None else {}
        body.update(payload(self.urls) if callable(payload) else payload)
        owner = self.store.user(login or "")
        if repo is not None:
            body["repository"] = self.repository(repo)
        if owner is not None and owner["type"] == "Organization" and not event.startswith("installation"):
            body["organization"] = organization(owner, self.urls)
        body["sender"] = self.user(sender or self.store.db["app"]["bot"])
        body.setdefault("installation", {"id": inst["id"], "node_id": shapes.node_id("Installation", inst["id"])})
        body = webhook_dialect(body)
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        item = {
            "guid": str(uuid.uuid4()),
            "event": event,
            "action": action,
            "installation_id": inst["id"],
            "repository_id": repo["id"] if repo is not None else None,
            "body": raw,
            "redelivery": False,
            "at": iso(self.store.now()),  # emulator time of the change: the first attempt's delivered_at
        }
        with self.cond:
            self.queue.append(item)
            self.cond.notify_all()

    def user(self, login: str) -> dict[str, Any]:
        assert self.urls is not None
        u = shapes._user_or_ghost(self.store, login, self.urls)
        assert u is not None
        return u

    def repository(self, repo: dict[str, Any]) -> dict[str, Any]:
        """The repository as webhook payloads carry it (the REST shape, less and more of a few fields)."""
        assert self.urls is not None
        return shapes.repo(repo, self.store, self.urls)  # webhook_dialect adjusts it

    # ---- git changes -------------------------------------------------------------------------------
    def refs_changed(self, repo: dict[str, Any], before: dict[str, str], sender: str | None = None) -> None:
        """``create``, ``push`` and ``delete`` events for every branch or tag that moved since ``before``."""
        if not self.active:
            return
        git_dir = self.store.git_dir(repo)
        after = Store.read_refs(git_dir)
        names = sorted(n for n in set(before) | set(after) if n.startswith(("refs/heads/", "refs/tags/")))
        default = repo.get("default_branch", "main")
        for ref in names:
            old, new = before.get(ref, ZERO), after.get(ref, ZERO)
            if old == new:
                continue
            short = ref.split("/", 2)[2]
            ref_type = "branch" if ref.startswith("refs/heads/") else "tag"
            if old == ZERO:
                self.emit("create", None, repo, {"ref": short, "ref_type": ref_type, "master_branch": default,
                                                 "description": repo.get("description"), "pusher_type": "user"},
                          sender=sender)
            if new == ZERO:
                self.emit("delete", None, repo, {"ref": short, "ref_type": ref_type, "pusher_type": "user"}, sender=sender)
            forced = old != ZERO and new != ZERO and not _is_ancestor(git_dir, old, new)
            commits = [] if new == ZERO else _commits(git_dir, new, old, before, self.urls, self.store.full_name(repo))
            full = self.store.full_name(repo)
            assert self.urls is not None
            pusher = self.user(sender or self.store.db["app"]["bot"])
            self.emit("push", None, repo, {
                "ref": ref, "before": old, "after": new, "created": old == ZERO, "deleted": new == ZERO,
                "forced": forced, "base_ref": None,
                "compare": f"{self.urls.web}/{full}/compare/{old[:12]}...{new[:12]}",
                "commits": commits, "head_commit": commits[-1] if commits else None,
                "pusher": {"name": pusher["login"], "email": f"{pusher['login']}@users.noreply.github.com"},
            }, sender=sender)

    def installation_changed(self, inst: dict[str, Any], action: str, sender: str | None = None) -> None:
        """``installation`` created or deleted, with the repositories it grants (call while it exists)."""
        if not self.active:
            return
        db = self.store.db

        def payload(c: shapes.Urls) -> dict[str, Any]:
            repos = [{"id": r["id"], "node_id": shapes.node_id("Repository", r["id"]), "name": r["name"],
                      "full_name": self.store.full_name(r), "private": r["private"]}
                     for r in self.store.repos_of(inst["account"])]
            out: dict[str, Any] = {"installation": shapes.installation(inst, db, self.store, c), "repositories": repos}
            if action == "deleted":
                out["requester"] = None
            return out

        self.emit("installation", action, None, payload, account=inst["account"], sender=sender or inst["account"])

    def wiki_changed(self, repo: dict[str, Any], pages: list[tuple[str, str]], sha: str, sender: str | None = None) -> None:
        """``gollum``: wiki pages ``(name, created|edited)`` at commit ``sha``."""
        if not self.active:
            return
        assert self.urls is not None
        full = self.store.full_name(repo)
        self.emit("gollum", None, repo, {"pages": [
            {"page_name": name, "title": name.replace("-", " "), "summary": None, "action": action, "sha": sha,
             "html_url": f"{self.urls.web}/{full}/wiki/{name}"}
            for name, action in pages
        ]}, sender=sender)

    # ---- the sender thread -------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.queue and not self.stopped:
                    self.cond.wait()
                if self.stopped:
                    return
                item = self.queue.popleft()
                self.busy = True
            try:
                self._deliver_with_faults(item)
            finally:
                with self.cond:
                    self.busy = False
                    self.cond.notify_all()

    def _deliver_with_faults(self, item: dict[str, Any]) -> None:
        fault = self.faults.pick()
        if fault == "reorder":
            with self.cond:
                if self.held is None and self.queue:
                    self.held = item  # the next delivery goes first, then this one
                    return
        if fault == "delay":
            time.sleep(self.delay_seconds)
        self._attempt(item, drop=fault == "drop")
        if fault == "duplicate":
            self._attempt(item)
        with self.cond:
            held, self.held = self.held, None
        if held is not None:
            self._attempt(held)

    def _attempt(self, item: dict[str, Any], *, drop: bool = False) -> dict[str, Any]:
        with self.cond:
            url, secret = self.url, self.secret
            delivery_id = self.next_id
            self.next_id += 1
        headers = {
            "Accept": "*/*",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-GitHub-Delivery": item["guid"],
            "X-GitHub-Event": item["event"],
            "X-GitHub-Hook-ID": str(self.hook_id),
            "X-GitHub-Hook-Installation-Target-ID": str(self.app_id),
            "X-GitHub-Hook-Installation-Target-Type": "integration",
        }
        if secret:
            key = secret.encode("utf-8")
            headers["X-Hub-Signature"] = "sha1=" + hmac.new(key, item["body"], hashlib.sha1).hexdigest()
            headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(key, item["body"], hashlib.sha256).hexdigest()
        started = time.monotonic()
        response_headers: dict[str, str] | None = None
        response_body: str | None = None
        if drop or not url:
            status, code = "failed to connect", 502
        else:
            try:
                code, response_headers, response_body = _post(url, item["body"], headers, self.timeout)
                status = "OK" if 200 <= code < 300 else f"Invalid HTTP Response: {code}"
            except TimeoutError:
                status, code = "timed out", 504
            except (OSError, http.client.HTTPException):
                status, code = "failed to connect", 502
        delivery = {
            "id": delivery_id,
            "guid": item["guid"],
            "delivered_at": iso(self.store.now()) if item["redelivery"] else item["at"],
            "redelivery": item["redelivery"],
            "duration": round(time.monotonic() - started, 3),
            "status": status,
            "status_code": code,
            "event": item["event"],
            "action": item["action"],
            "installation_id": item["installation_id"],
            "repository_id": item["repository_id"],
            "throttled_at": None,
            "url": url or "",
            "request": {"headers": {k: v for k, v in headers.items()}, "payload": None},
            "response": {"headers": response_headers, "payload": response_body},
            "_item": item,
        }
        with self.cond:
            self.deliveries.append(delivery)
            self.by_id[delivery_id] = delivery
        return delivery

    # ---- the REST view of deliveries ---------------------------------------------------------------
    def expire(self) -> None:
        """Forget deliveries older than GitHub keeps them (three days, emulator time)."""
        cutoff = iso(self.store.now() - timedelta(days=RETENTION_DAYS))
        with self.cond:
            while self.deliveries and self.deliveries[0]["delivered_at"] < cutoff:
                self.by_id.pop(self.deliveries.pop(0)["id"], None)

    def listed(self, status: str | None) -> list[dict[str, Any]]:
        """Newest first, as GitHub lists them; ``status`` is ``success`` (2xx-3xx) or ``failure`` (4xx-5xx)."""
        self.expire()
        with self.cond:
            items = list(reversed(self.deliveries))
        if status == "success":
            items = [d for d in items if 200 <= d["status_code"] < 400]
        elif status == "failure":
            items = [d for d in items if 400 <= d["status_code"] < 600]
        return items

    def get(self, delivery_id: int) -> dict[str, Any] | None:
        self.expire()
        with self.cond:
            return self.by_id.get(delivery_id)

    def redeliver(self, delivery: dict[str, Any]) -> None:
        item = dict(delivery["_item"], redelivery=True)
        with self.cond:
            self.queue.append(item)
            self.cond.notify_all()


def webhook_dialect(value: Any, key: str = "") -> Any:
    """The REST objects as webhook payloads carry them (checked against @octokit/webhooks-schemas):
    users without ``user_view_type``, issues without ``closed_by``, review states in lower case,
    repositories with ``custom_properties`` and without a few REST-only fields."""
    if isinstance(value, list):
        return [webhook_dialect(v, key) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: webhook_dialect(v, k) for k, v in value.items() if k != "user_view_type"}
    if key == "issue":
        out.pop("closed_by", None)
    if key == "review" and isinstance(out.get("state"), str):
        out["state"] = out["state"].lower()
    if key == "installation" and "access_tokens_url" in out:
        for rest_only in ("client_id", "has_multiple_single_files", "single_file_paths"):
            out.pop(rest_only, None)
        for enterprise_only in ("name", "slug", "website_url", "created_at", "updated_at"):
            out["account"].pop(enterprise_only, None)
    if key in ("repository", "repo") and "full_name" in out:
        for rest_only in ("has_discussions", "allow_forking", "disabled"):
            out.pop(rest_only, None)
        out.setdefault("custom_properties", {})
    return out


ITEM_FIELDS = ("id", "guid", "delivered_at", "redelivery", "duration", "status", "status_code", "event", "action",
               "installation_id", "repository_id", "throttled_at")


def delivery_item(d: dict[str, Any]) -> dict[str, Any]:
    return {k: d[k] for k in ITEM_FIELDS}


def delivery_full(d: dict[str, Any]) -> dict[str, Any]:
    out = delivery_item(d)
    out["url"] = d["url"]
    out["request"] = {"headers": dict(d["request"]["headers"]), "payload": json.loads(d["_item"]["body"])}
    out["response"] = dict(d["response"])
    return out


def organization(owner: dict[str, Any], c: shapes.Urls | None) -> dict[str, Any]:
    assert c is not None
    api = f"{c.api}/orgs/{owner['login']}"
    return {
        "login": owner["login"], "id": owner["id"], "node_id": shapes.node_id("Organization", owner["id"]),
        "url": api, "repos_url": f"{api}/repos", "events_url": f"{api}/events", "hooks_url": f"{api}/hooks",
        "issues_url": f"{api}/issues", "members_url": f"{api}/members{{/member}}",
        "public_members_url": f"{api}/public_members{{/member}}", "avatar_url": f"{c.web}/_avatars/{owner['id']}?v=4",
        "description": owner.get("description"),
    }


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, dict[str, str], str]:
    parts = urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout,
                                           context=ssl._create_unverified_context())  # noqa: S323 - test receivers
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read(RESPONSE_BODY_LIMIT)
        return resp.status, dict(resp.getheaders()), data.decode("utf-8", "replace")
    finally:
        conn.close()


def _git(git_dir: Any, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True, text=True).stdout


def _is_ancestor(git_dir: Any, old: str, new: str) -> bool:
    return subprocess.run(["git", f"--git-dir={git_dir}", "merge-base", "--is-ancestor", old, new],
                          capture_output=True).returncode == 0


def _commits(git_dir: Any, new: str, old: str, before: dict[str, str], c: shapes.Urls | None, full: str) -> list[dict[str, Any]]:
    """Up to 20 commits the push brought, oldest first, in the push payload's commit shape."""
    assert c is not None
    exclude = [old] if old != ZERO else sorted(set(before.values()))
    shas = _git(git_dir, "rev-list", "--reverse", f"--max-count={MAX_PUSH_COMMITS}", new, "--not", *exclude, "--").split()
    out = []
    for sha in shas[-MAX_PUSH_COMMITS:]:
        meta = _git(git_dir, "show", "-s", "--format=%T%x00%an%x00%ae%x00%cn%x00%ce%x00%cI%x00%B", sha).split("\0")
        tree, an, ae, cn, ce, when, message = (meta + [""] * 7)[:7]
        changes: dict[str, list[str]] = {"A": [], "D": [], "M": []}
        for line in _git(git_dir, "diff-tree", "--root", "--no-commit-id", "--name-status", "-r", sha).splitlines():
            kind, _, path = line.partition("\t")
            changes.setdefault(kind[:1], []).append(path)
        out.append({
            "id": sha, "tree_id": tree, "distinct": True, "message": message.rstrip("\n"), "timestamp": when,
            "url": f"{c.web}/{full}/commit/{sha}",
            "author": {"name": an, "email": ae}, "committer": {"name": cn, "email": ce},
            "added": changes["A"], "removed": changes["D"], "modified": changes["M"],
        })
    return out
