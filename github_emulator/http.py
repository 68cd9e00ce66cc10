"""One REST exchange as the handlers see it: the parsed request in, the response out.

Kept apart from the server so the route modules (``api``, ``control``, ``git_http``) and the server
that calls them all import this module, and none of them imports another.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .auth import Principal
from .shapes import DOCS, Urls


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Any
    body: bytes
    urls: Urls
    principal: Principal = field(default_factory=lambda: Principal("anonymous"))
    request_id: str = ""

    def arg(self, name: str, default: str | None = None) -> str | None:
        value = default
        for key, val in self.query:
            if key == name:
                value = val
        return value

    def json(self) -> Any:
        if not self.body:
            return {}
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    counts: bool = True  # consumes primary rate limit

    @classmethod
    def json(cls, status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status, body, [("Content-Type", "application/json; charset=utf-8"), *(headers or [])])

    @classmethod
    def error(cls, status: int, message: str, docs: str = DOCS, **extra: Any) -> Response:
        return cls.json(status, {"message": message, "documentation_url": docs, "status": str(status), **extra})
