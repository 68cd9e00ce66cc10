"""``GET /search/issues``: issues and pull requests across repositories, with GitHub's documented limits.

What GitHub documents and this module reproduces (docs.github.com/rest/search/search, "About search",
and docs.github.com/search-github/searching-on-github/searching-issues-and-pull-requests):

- qualifiers ``repo:OWNER/NAME``, ``user:LOGIN``, ``org:LOGIN``, ``is:issue``/``is:pr``/
  ``is:pull-request``/``type:issue``/``type:pr``, ``is:open``/``is:closed``/``state:``, and
  ``created:``/``updated:`` with ``>``, ``>=``, ``<``, ``<=``, ``A..B`` or an exact value; a date
  is ``YYYY-MM-DD`` (the whole day) with optional ``THH:MM:SS`` and ``Z`` or ``+00:00`` (to the
  second). ``updated`` is the issue's own ``updated_at``. Free words match title and body. Any other
  qualifier is refused with 422 rather than silently ignored, so a client never relies on one the
  emulator does not model.
- results only from repositories the caller can see (an installation token: its repositories, and
  other accounts' public ones);
- ``sort=created|updated`` with ``order`` (default ``desc``); without ``sort``, best match (here: the
  issue id, newest first);
- at most 1,000 results per search: ``total_count`` counts every match, pages stop at the 1,000th;
- ``incomplete_results``: true when the query timed out (the control API can force it:
  ``POST /_emulator/search {"incomplete_results": true}``; ``{"result_cap": N}`` lowers the 1,000 so
  tests reach it at tiny scale);
- its own rate limit, 30 requests a minute for an authenticated caller (``x-ratelimit-resource:
  search``; see ``server.py``).
"""

from __future__ import annotations

import re
import shlex
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import shapes
from .http import Request, Response
from .state import parse_iso

if TYPE_CHECKING:
    from .emulator import Emulator

RESULT_CAP = 1000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class SearchSettings:
    """Knobs the control API sets: forced incomplete results, a lower result cap."""

    def __init__(self) -> None:
        self.incomplete_results = False
        self.result_cap = RESULT_CAP

    def configure(self, incomplete_results: Any = None, result_cap: Any = None) -> dict[str, Any]:
        if incomplete_results is not None:
            self.incomplete_results = bool(incomplete_results)
        if result_cap is not None:
            self.result_cap = max(1, min(RESULT_CAP, int(result_cap)))
        return {"incomplete_results": self.incomplete_results, "result_cap": self.result_cap}


class QueryError(ValueError):
    pass


def _interval(value: str) -> tuple[datetime, datetime]:
    """The first and last second a date or date-time names."""
    if _DATE.match(value):
        start = parse_iso(value + "T00:00:00Z")
        return start, start + timedelta(days=1, seconds=-1)
    try:
        moment = parse_iso(value if ("Z" in value or "+" in value[10:] or value.count("-") > 2) else value + "Z")
    except ValueError as exc:
        raise QueryError(f"invalid date {value!r}") from exc
    return moment, moment


def _date_filter(value: str) -> Any:
    for op in (">=", "<=", ">", "<"):
        if value.startswith(op):
            first, last = _interval(value[len(op):])
            return {
                ">=": lambda t, f=first: t >= f,
                "<=": lambda t, la=last: t <= la,
                ">": lambda t, la=last: t > la,
                "<": lambda t, f=first: t < f,
            }[op]
    if ".." in value:
        low, high = value.split("..", 1)
        lo = None if low in ("", "*") else _interval(low)[0]
        hi = None if high in ("", "*") else _interval(high)[1]
        return lambda t: (lo is None or t >= lo) and (hi is None or t <= hi)
    first, last = _interval(value)
    return lambda t: first <= t <= last


def _parse(q: str) -> tuple[list[Any], list[str]]:
    """Predicates over (repo, issue) and the free words of a query."""
    try:
        terms = shlex.split(q)
    except ValueError as exc:
        raise QueryError(str(exc)) from exc
    predicates: list[Any] = []
    words: list[str] = []
    scopes: list[Any] = []
    for term in terms:
        name, sep, value = term.partition(":")
        if not sep:
            words.append(term.lower())
            continue
        name = name.lower()
        if name == "repo":
            scopes.append(lambda r, i, store, v=value.lower(): store.full_name(r).lower() == v)
        elif name in ("user", "org"):
            scopes.append(lambda r, i, store, v=value.lower(): r["owner"].lower() == v)
        elif (name, value) in (("is", "issue"), ("type", "issue")):
            predicates.append(lambda r, i, store: not i.get("pull"))
        elif (name, value) in (("is", "pr"), ("is", "pull-request"), ("type", "pr")):
            predicates.append(lambda r, i, store: bool(i.get("pull")))
        elif (name, value) in (("is", "open"), ("state", "open"), ("is", "closed"), ("state", "closed")):
            predicates.append(lambda r, i, store, v=value: i["state"] == v)
        elif name in ("created", "updated"):
            check = _date_filter(value)
            predicates.append(lambda r, i, store, f=f"{name}_at", c=check: c(parse_iso(i[f])))
        else:
            raise QueryError(f"the emulator does not model the qualifier {name!r}")
    if scopes:  # several repo:/user:/org: qualifiers widen the scope (GitHub ORs them)
        predicates.append(lambda r, i, store: any(scope(r, i, store) for scope in scopes))
    return predicates, words


def search_issues(em: Emulator, req: Request, visible: Any, paginate: Any) -> Response:
    q = req.arg("q") or ""
    if not q.strip():
        return Response.error(422, "Validation Failed", errors=[{"resource": "Search", "field": "q", "code": "missing"}])
    try:
        predicates, words = _parse(q)
    except QueryError as exc:
        return Response.error(422, "Validation Failed",
                              errors=[{"message": str(exc), "resource": "Search", "field": "q", "code": "invalid"}])
    store = em.store
    matches: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for repo in sorted(store.db["repos"].values(), key=lambda r: r["id"]):
        if not visible(req, repo):
            continue
        for issue in repo["issues"]:
            if all(p(repo, issue, store) for p in predicates) and all(
                    w in f"{issue['title']} {issue.get('body') or ''}".lower() for w in words):
                matches.append((repo, issue))
    sort = req.arg("sort")
    descending = req.arg("order", "desc") != "asc"
    if sort in ("created", "updated"):
        matches.sort(key=lambda p: (p[1][f"{sort}_at"], p[1]["id"]), reverse=descending)
    else:
        matches.sort(key=lambda p: p[1]["id"], reverse=True)
    settings: SearchSettings = em.search
    total = len(matches)

    def wrap(items: list[Any]) -> dict[str, Any]:
        return {"total_count": total, "incomplete_results": settings.incomplete_results, "items": items,
                "search_type": "lexical"}

    def item(pair: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
        found = {**shapes.issue(pair[0], pair[1], store, req.urls), "score": 1.0}
        if found.get("body") is None:  # issue-search-result-item: body is optional, a string when present
            found.pop("body", None)
        return found

    return paginate(req, matches[: settings.result_cap], item, "/search/issues", wrap)
