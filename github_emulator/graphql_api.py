"""GitHub's GraphQL API, the subset that backs up discussions: ``POST /graphql`` (``/api/graphql`` on GHES).

The schema is the emulator's own small SDL below; every type and field in it is spelled as in GitHub's
published schema (``@octokit/graphql-schema``; tests/test_graphql_conformance.py checks each one), so
a query that this schema accepts asks only for what GitHub serves. What it serves:
``repository(owner:, name:)`` with ``hasDiscussionsEnabled``, ``discussions`` (ordered by
``UPDATED_AT`` or ``CREATED_AT``), their ``comments`` and each comment's ``replies``; and ``rateLimit``.

Connections page forward with ``first`` (1..100, required, as GitHub requires first or last) and
``after`` (an opaque cursor). Errors follow GitHub's shape: ``{"data": ..., "errors": [{"type",
"path", "message", "locations"}]}`` with HTTP 200; an unauthenticated call is a 401.

Points: GitHub charges each query, before it runs, the number of requests its connections could need
(each connection's ``first`` times the ``first`` of the connections enclosing it, summed), divided by
100 and rounded, at least 1 ("Rate limits and node limits for the GraphQL API"). Each installation has
its own hourly budget of points (``GRAPHQL_POINTS``); a query past it is refused with 403 and the
``x-ratelimit-resource: graphql`` headers.
"""

from __future__ import annotations

import base64
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    build_schema,
    execute,
    parse,
    validate,
    value_from_ast_untyped,
)

from .emulator import Emulator
from .http import Request, Response

DOCS = "https://docs.github.com/graphql"
MAX_PAGE = 100

SDL = '''
scalar DateTime
scalar URI

type Query {
  repository(owner: String!, name: String!, followRenames: Boolean = true): Repository
  rateLimit(dryRun: Boolean = false): RateLimit
  node(id: ID!): Node
}

interface Node {
  id: ID!
}

type RateLimit {
  cost: Int!
  limit: Int!
  nodeCount: Int!
  remaining: Int!
  resetAt: DateTime!
  used: Int!
}

interface Actor {
  login: String!
}

type User implements Actor {
  login: String!
}

type Bot implements Actor {
  login: String!
}

type Organization implements Actor {
  login: String!
}

enum OrderDirection {
  ASC
  DESC
}

enum DiscussionOrderField {
  CREATED_AT
  UPDATED_AT
}

input DiscussionOrder {
  field: DiscussionOrderField!
  direction: OrderDirection!
}

enum DiscussionStateReason {
  DUPLICATE
  OUTDATED
  REOPENED
  RESOLVED
}

type PageInfo {
  endCursor: String
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
}

type Repository {
  id: ID!
  name: String!
  nameWithOwner: String!
  hasDiscussionsEnabled: Boolean!
  discussion(number: Int!): Discussion
  discussions(after: String, before: String, first: Int, last: Int,
              orderBy: DiscussionOrder = {field: UPDATED_AT, direction: DESC}): DiscussionConnection!
}

type DiscussionConnection {
  nodes: [Discussion]
  pageInfo: PageInfo!
  totalCount: Int!
}

type DiscussionCategory {
  id: ID!
  name: String!
  slug: String!
  emoji: String!
  description: String
  isAnswerable: Boolean!
}

type Discussion implements Node {
  id: ID!
  number: Int!
  title: String!
  body: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  author: Actor
  category: DiscussionCategory!
  answer: DiscussionComment
  answerChosenAt: DateTime
  locked: Boolean!
  closed: Boolean!
  closedAt: DateTime
  stateReason: DiscussionStateReason
  url: URI!
  comments(after: String, before: String, first: Int, last: Int): DiscussionCommentConnection!
}

type DiscussionCommentConnection {
  nodes: [DiscussionComment]
  pageInfo: PageInfo!
  totalCount: Int!
}

type DiscussionComment implements Node {
  id: ID!
  databaseId: Int
  body: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  author: Actor
  isAnswer: Boolean!
  replyTo: DiscussionComment
  url: URI!
  replies(after: String, before: String, first: Int, last: Int): DiscussionCommentConnection!
}
'''

SCHEMA = build_schema(SDL)


def cursor(offset: int) -> str:
    return base64.b64encode(f"cursor:v2:{offset}".encode()).decode()


def _offset(after: str | None) -> int:
    if not after:
        return 0
    try:
        return int(base64.b64decode(after).decode().rsplit(":", 1)[1]) + 1
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise GraphQLError(f"`{after}` does not appear to be a valid cursor.") from exc


def connection(name: str, items: list[Any], view: Any, first: int | None = None, after: str | None = None,
               last: int | None = None, before: str | None = None) -> dict[str, Any]:
    if first is None and last is None:
        raise GraphQLError(f"You must provide a `first` or `last` value to properly paginate the `{name}` connection.")
    if last is not None or before is not None:
        raise GraphQLError(f"the emulator pages the `{name}` connection forward only (first/after)")
    if first < 0 or first > MAX_PAGE:
        raise GraphQLError(f"Requesting {first} records on the `{name}` connection exceeds the `first` limit of "
                           f"{MAX_PAGE} records.")
    start = _offset(after)
    chunk = items[start:start + first]
    end = start + len(chunk) - 1
    return {
        "totalCount": len(items),
        "nodes": [view(item) for item in chunk],
        "pageInfo": {"hasNextPage": start + len(chunk) < len(items), "hasPreviousPage": start > 0,
                     "startCursor": cursor(start) if chunk else None, "endCursor": cursor(end) if chunk else None},
    }


class _Views:
    """Stored discussions as GraphQL objects: dicts whose connection fields are callables."""

    def __init__(self, em: Emulator, repo: dict[str, Any], web: str) -> None:
        self.em, self.repo, self.web = em, repo, web
        self.categories = {c["slug"]: c for c in repo.get("discussion_categories", [])}

    def actor(self, login: str | None) -> dict[str, Any] | None:
        if not login:
            return None
        user = self.em.store.user(login)
        kind = (user or {}).get("type", "User")
        return {"__typename": kind if kind in ("User", "Bot", "Organization") else "User",
                "login": user["login"] if user else login}

    def repository(self) -> dict[str, Any]:
        repo = self.repo
        return {
            "id": repo.get("node_id") or f"R_{repo['id']}", "name": repo["name"],
            "nameWithOwner": f"{repo['owner']}/{repo['name']}",
            "hasDiscussionsEnabled": bool(repo.get("has_discussions")),
            "discussions": self.discussions,
            "discussion": lambda info, number: next(
                (self.discussion(d) for d in repo.get("discussions", []) if d["number"] == number), None),
        }

    def discussions(self, info: Any, orderBy: dict[str, str] | None = None, **page: Any) -> dict[str, Any]:  # noqa: N803
        order = orderBy or {"field": "UPDATED_AT", "direction": "DESC"}
        key = "updated_at" if order["field"] == "UPDATED_AT" else "created_at"
        items = sorted(self.repo.get("discussions", []), key=lambda d: (d[key], d["number"]),
                       reverse=order["direction"] == "DESC")
        return connection("discussions", items, self.discussion, **page)

    def discussion(self, d: dict[str, Any]) -> dict[str, Any]:
        category = self.categories[d["category"]]
        url = f"{self.web}/{self.repo['owner']}/{self.repo['name']}/discussions/{d['number']}"
        answer = next((c for c in d["comments"] if c["id"] == d.get("answer")), None)
        return {
            "__typename": "Discussion", "id": d["id"], "number": d["number"], "title": d["title"], "body": d["body"],
            "createdAt": d["created_at"], "updatedAt": d["updated_at"], "author": self.actor(d.get("author")),
            "category": {"id": category["id"], "name": category["name"], "slug": category["slug"],
                         "emoji": category["emoji"], "description": category.get("description"),
                         "isAnswerable": category["answerable"]},
            "answer": self.comment(d, answer, None) if answer else None,
            "answerChosenAt": d.get("answer_chosen_at"), "locked": d.get("locked", False),
            "closed": d.get("closed", False), "closedAt": d.get("closed_at"), "stateReason": d.get("state_reason"),
            "url": url,
            "comments": lambda info, **page: connection("comments", d["comments"],
                                                        lambda c: self.comment(d, c, None), **page),
        }

    def comment(self, d: dict[str, Any], c: dict[str, Any], parent: dict[str, Any] | None) -> dict[str, Any]:
        url = f"{self.web}/{self.repo['owner']}/{self.repo['name']}/discussions/{d['number']}#discussioncomment-{c['database_id']}"
        return {
            "__typename": "DiscussionComment", "id": c["id"], "databaseId": c["database_id"], "body": c["body"], "createdAt": c["created_at"], "updatedAt": c["updated_at"],
            "author": self.actor(c.get("author")), "isAnswer": c["id"] == d.get("answer"), "url": url,
            "replyTo": self.comment(d, parent, None) if parent else None,
            "replies": lambda info, **page: connection("replies", c.get("replies", []),
                                                       lambda r: self.comment(d, r, c), **page),
        }


def query_cost(document: Any, operation: OperationDefinitionNode, variables: dict[str, Any]) -> int:
    """GitHub's points for one query: requests its connections could need, over 100, at least 1."""
    fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
    total = 0

    def walk(selection_set: Any, multiplier: int) -> None:
        nonlocal total
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                first = next((value_from_ast_untyped(a.value, variables) for a in sel.arguments
                              if a.name.value in ("first", "last")), None)
                inner = multiplier
                if isinstance(first, int):
                    total += multiplier
                    inner = multiplier * max(first, 1)
                walk(sel.selection_set, inner)
            elif sel.kind == "fragment_spread":
                fragment = fragments.get(sel.name.value)
                if fragment is not None:
                    walk(fragment.selection_set, multiplier)
            else:
                walk(sel.selection_set, multiplier)

    walk(operation.selection_set, 1)
    return max(1, round(total / 100))


def handle(em: Emulator, req: Request) -> Response:
    """One GraphQL POST: authenticate, parse, validate, charge points, execute."""
    from .api import visible  # the REST module's visibility rule: one rule for both APIs

    if req.method != "POST":
        return Response.error(404, "Not Found", DOCS)
    principal = req.principal
    if principal.kind == "anonymous":
        return Response.error(401, "This endpoint requires you to be authenticated.",
                              "https://docs.github.com/graphql/guides/forming-calls-with-graphql#authenticating-with-graphql")
    try:
        payload = req.json()
        query = payload["query"]
        variables = payload.get("variables") or {}
        document = parse(query)
    except (ValueError, KeyError, TypeError, GraphQLError) as exc:
        message = exc.message if isinstance(exc, GraphQLError) else "Problems parsing JSON"
        return Response.json(200, {"errors": [{"message": message}]})
    problems = validate(SCHEMA, document)
    if problems:
        return Response.json(200, {"errors": [_error(e) for e in problems]})
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    name = payload.get("operationName")
    operation = next((o for o in operations if name is None or (o.name and o.name.value == name)), None)
    if operation is None or operation.operation.value != "query":
        return Response.json(200, {"errors": [{"message": "the emulator serves queries only"}]})
    cost = query_cost(document, operation, variables)
    limiter, key = em.graphql_limiter, principal.bucket
    before = limiter.peek(key)
    if before.remaining < cost:
        em.counts.add("graphql")
        resp = Response.json(200, {"errors": [{"type": "RATE_LIMITED",
                                               "message": f"API rate limit exceeded for installation ID "
                                                          f"{principal.installation_id}."}]})
        resp.status = 403
        resp.headers += before.headers("graphql")
        return resp
    bucket = limiter.consume(key, cost)
    em.counts.add("graphql")
    em.counts.add_points(cost)
    web = req.urls.web

    def repository(_root: Any, info: Any, owner: str, name: str, followRenames: bool = True) -> Any:  # noqa: N803
        store = em.store
        repo = store.repo_by_name(owner, name)
        if repo is None and followRenames:
            repo = store.renamed_to(owner, name)
        if repo is None or not visible(req, repo):
            raise _NotFound(f"Could not resolve to a Repository with the name '{owner}/{name}'.")
        return _Views(em, repo, web).repository()

    def may_read_discussions() -> bool:
        return principal.kind != "installation" or principal.can("discussions", "read")

    def discussions_allowed(view: dict[str, Any]) -> dict[str, Any]:
        if not may_read_discussions():
            def refuse(info: Any, **args: Any) -> Any:
                raise _Forbidden("Resource not accessible by integration")
            return {**view, "discussions": refuse, "discussion": refuse}
        return view

    def node(info: Any, id: str) -> Any:  # noqa: A002 - GraphQL's argument name
        for repo in em.store.db["repos"].values():
            for d in repo.get("discussions", []):
                for c in d["comments"]:
                    for item, parent in [(c, None), *((r, c) for r in c.get("replies", []))]:
                        if item["id"] == id and visible(req, repo) and may_read_discussions():
                            return _Views(em, repo, web).comment(d, item, parent)
                if d["id"] == id and visible(req, repo) and may_read_discussions():
                    return _Views(em, repo, web).discussion(d)
        raise _NotFound(f"Could not resolve to a node with the global id of '{id}'")

    root = {
        "node": node,
        "repository": lambda info, **args: discussions_allowed(repository(None, info, **args)),
        "rateLimit": lambda info, **args: {"cost": cost, "limit": bucket.limit, "nodeCount": 0,
                                           "remaining": bucket.remaining, "used": bucket.used,
                                           "resetAt": _iso_epoch(bucket.reset)},
    }
    with em.store.lock:
        result = execute(SCHEMA, document, root_value=root, variable_values=variables,
                         operation_name=name)
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [_error(e) for e in result.errors]
    resp = Response.json(200, body)
    resp.headers += bucket.headers("graphql")
    return resp


class _NotFound(Exception):
    type = "NOT_FOUND"


class _Forbidden(Exception):
    type = "FORBIDDEN"


def _error(error: GraphQLError) -> dict[str, Any]:
    out: dict[str, Any] = {}
    original = getattr(error, "original_error", None)
    if original is not None and hasattr(original, "type"):
        out["type"] = original.type
    if error.path:
        out["path"] = list(error.path)
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    out["message"] = str(original) if original is not None and not isinstance(original, GraphQLError) else error.message
    return out


def _iso_epoch(seconds: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

