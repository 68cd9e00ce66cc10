"""Check HTTP responses against GitHub's official OpenAPI description (npm ``@octokit/openapi``).

The description is the data; nothing here encodes our own idea of GitHub's shapes. Given a method, a
concrete path, a status and a body, :func:`validate_response` finds the operation whose path template
matches, picks the response schema for the status (exact, then ``4XX``-style ranges, then ``default``),
translates OpenAPI 3.0's schema dialect into JSON Schema 2020-12, and validates the body with
``jsonschema``. Every error is reported with its JSON path and the operation id, in one AssertionError.

Headers are checked too when given: headers the description declares for the response must be present
and well typed (``Link`` only when there is more than one page, as GitHub sends it), and GitHub's
documented conventions hold (rate-limit headers on every response, an ETag on every successful GET,
``Link`` in GitHub's exact ``<url>; rel="..."`` form).

The description is loaded once per process (the non-dereferenced file, about 0.3 s) and component
schemas are translated lazily, one at a time, as ``$ref`` reaches them through a ``referencing``
registry, so a validation touches only the schemas it needs.

Dialect translation, OpenAPI 3.0.3 -> JSON Schema 2020-12:

- ``nullable: true`` admits ``null``. With a plain ``type`` it becomes ``type: [T, "null"]`` (and
  ``null`` joins an ``enum``); otherwise (``oneOf``/``anyOf``/``allOf`` without ``type``) the schema is
  wrapped as ``anyOf: [{type: null}, schema]``. OpenAPI 3.0.3's text says ``nullable`` without ``type``
  has no effect, but GitHub's description uses it on ``oneOf`` unions whose values GitHub does send as
  null (``installation.account``), so we follow the author's intent.
- ``$ref`` to ``#/components/schemas/NAME`` becomes a reference to a lazily built resource.
- ``example``, ``readOnly``, ``writeOnly``, ``x-*`` and ``discriminator`` are annotations and dropped.
- Formats are checked: ``date-time``, ``date``, ``uri``, ``email``, ``int32``, ``int64``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import jsonschema.exceptions
import referencing
import referencing.jsonschema
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

SPEC_ENV = "BACKHUB_OPENAPI_SPEC"
SPEC_RELATIVE = ".cache/octokit-openapi-23.0.2/node_modules/@octokit/openapi/generated/api.github.com.json"
REPO_ROOT = Path(__file__).resolve().parents[2]

_SCHEMA_URN = "urn:github-openapi:schemas:"
_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_ANNOTATIONS = {
    "example",
    "examples",
    "readOnly",
    "writeOnly",
    "discriminator",
    "xml",
    "externalDocs",
    "deprecated",
}
_MAX_REPORTED_ERRORS = 200
_MAX_MESSAGE = 400


class SpecUnavailable(AssertionError):
    """The pinned OpenAPI description is not on disk. A conformance check must fail, never skip."""


class ConformanceError(AssertionError):
    """A response does not conform to GitHub's OpenAPI description."""


# --- locating and loading the description ------------------------------------------------------------


def spec_path() -> Path:
    """The description's path: ``$BACKHUB_OPENAPI_SPEC``, else the Makefile's pinned cache location."""
    configured = os.environ.get(SPEC_ENV)
    path = Path(configured) if configured else REPO_ROOT / SPEC_RELATIVE
    if not path.is_file():
        source = f"${SPEC_ENV}" if configured else "the default location"
        raise SpecUnavailable(
            f"GitHub's OpenAPI description is missing at {path} ({source}); "
            "run `make openapi` to fetch the pinned @octokit/openapi package"
        )
    return path


@dataclass(frozen=True)
class Operation:
    """One operation of the description: ``GET /repos/{owner}/{repo}`` is ``repos/get``."""

    method: str
    template: str
    operation_id: str
    responses: Mapping[str, Any] = field(repr=False)

    def __str__(self) -> str:
        return f"{self.operation_id} ({self.method.upper()} {self.template})"


@dataclass(frozen=True)
class ResponseSpec:
    """The declared response an actual status maps to, with its content (media type -> media object)."""

    operation: Operation
    declared_status: str
    content: Mapping[str, Any]
    headers: Mapping[str, Any]


@dataclass(frozen=True)
class _Route:
    template: str
    strict: re.Pattern[str]
    greedy: re.Pattern[str] | None
    specificity: tuple[int, ...]


class Spec:
    """GitHub's OpenAPI description, indexed for matching concrete requests to operations."""

    def __init__(self, document: Mapping[str, Any], *, source: str = "<memory>", load_seconds: float = 0.0):
        self.document = document
        self.source = source
        self.load_seconds = load_seconds
        self.version = str(document.get("openapi", ""))
        if not self.version.startswith("3.0"):
            # 3.1 descriptions use JSON Schema's own `type: [T, "null"]`; our translation would be wrong.
            raise SpecUnavailable(f"{source}: expected an OpenAPI 3.0 description, got {self.version!r}")
        self._routes = self._build_routes(document["paths"])
        self._resources: dict[str, Resource[Any]] = {}
        self._validators: dict[tuple[str, str], jsonschema.protocols.Validator] = {}
        self.registry: Registry = Registry(retrieve=self._retrieve)  # type: ignore[call-arg]
        self.format_checker = _format_checker()

    # -- operations --

    @staticmethod
    def _build_routes(paths: Mapping[str, Any]) -> dict[int, list[_Route]]:
        routes: dict[int, list[_Route]] = {}
        for template in paths:
            segments = template.strip("/").split("/")
            parts = [re.escape(s) if not _is_param(s) else "[^/]+" for s in segments]
            strict = re.compile("/" + "/".join(parts) + "$")
            greedy = None
            if segments[-1] in _SLASHED_PARAMS:
                greedy = re.compile("/" + "/".join(parts[:-1] + [".+"]) + "$")
            specificity = tuple(1 if _is_param(s) else 0 for s in segments)
            routes.setdefault(len(segments), []).append(_Route(template, strict, greedy, specificity))
        for group in routes.values():
            group.sort(key=lambda r: r.specificity)  # literals before parameters, leftmost first
        return routes

    def operation(self, method: str, path: str) -> Operation:
        """The operation serving ``method path``; ``path`` may be a full URL, with ``/api/v3``."""
        concrete = normalise_path(path)
        method = method.lower()
        segments = concrete.strip("/").split("/")
        candidates = [r for r in self._routes.get(len(segments), []) if r.strict.match(concrete)]
        if not candidates:  # a trailing parameter that holds slashes: contents/{path}, git/ref/{ref}
            candidates = [
                r
                for group in self._routes.values()
                for r in sorted(group, key=lambda r: r.specificity)
                if r.greedy is not None and r.greedy.match(concrete)
            ]
        for route in candidates:
            item = self.document["paths"][route.template]
            if method in item:
                op = item[method]
                return Operation(method, route.template, op.get("operationId", "?"), op.get("responses", {}))
        aliased = _alias(concrete)
        if aliased != concrete:
            return self.operation(method, aliased)
        templates = ", ".join(r.template for r in candidates) or "none"
        raise ConformanceError(
            f"{method.upper()} {path}: no operation in GitHub's OpenAPI description "
            f"(path {concrete!r}; templates matching the path: {templates})"
        )

    def response(self, operation: Operation, status: int) -> ResponseSpec:
        """The declared response for ``status``: exact, then ``4XX``, then ``default``."""
        responses = operation.responses
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in responses:
                declared = self.resolve(responses[key])
                return ResponseSpec(operation, key, declared.get("content", {}), declared.get("headers", {}))
        raise ConformanceError(
            f"{operation}: status {status} is not declared (declared: {', '.join(responses)})"
        )

    # -- references and schemas --

    def resolve(self, node: Any) -> Any:
        """Follow local ``$ref`` chains (``#/components/...``) to the node they name."""
        seen = set()
        while isinstance(node, Mapping) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen or not ref.startswith("#/"):
                raise ConformanceError(f"{self.source}: cannot resolve $ref {ref!r}")
            seen.add(ref)
            node = self.document
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _retrieve(self, uri: str) -> Resource[Any]:
        if not uri.startswith(_SCHEMA_URN):
            raise NoSuchResource(ref=uri)
        name = uri[len(_SCHEMA_URN) :]
        try:
            raw = self.document["components"]["schemas"][name]
        except KeyError:
            raise NoSuchResource(ref=uri) from None
        if name not in self._resources:  # the registry asks again for every fresh resolver
            self._resources[name] = referencing.jsonschema.DRAFT202012.create_resource(to_json_schema(raw))
        return self._resources[name]

    def validator(
        self, schema: Mapping[str, Any], cache_key: str | None = None
    ) -> jsonschema.protocols.Validator:
        """A JSON Schema 2020-12 validator for an OpenAPI schema object of this description."""
        key = (cache_key or json.dumps(schema, sort_keys=True), "")
        if key not in self._validators:
            translated = to_json_schema(schema)
            self._validators[key] = jsonschema.Draft202012Validator(
                translated, registry=self.registry, format_checker=self.format_checker
            )
        return self._validators[key]

    def component_validator(self, name: str) -> jsonschema.protocols.Validator:
        """A validator for ``#/components/schemas/NAME``, e.g. ``basic-error``."""
        if name not in self.document["components"]["schemas"]:
            raise ConformanceError(f"no component schema {name!r} in GitHub's OpenAPI description")
        return self.validator({"$ref": f"#/components/schemas/{name}"}, cache_key=f"component:{name}")

    def examples(
        self, operation: Operation, status: int | str, media_type: str = "application/json"
    ) -> dict[str, Any]:
        """The description's own example bodies for a response, by example name."""
        declared = self.resolve(operation.responses[str(status)])
        media = declared.get("content", {}).get(media_type, {})
        found: dict[str, Any] = {}
        if "example" in media:
            found["example"] = media["example"]
        for name, example in media.get("examples", {}).items():
            example = self.resolve(example)
            value = example.get("value")
            if isinstance(value, Mapping) and set(value) == {"$ref"}:  # value pointing at an Example object
                value = self.resolve(value).get("value")
            found[name] = value
        return found


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


# Trailing parameters whose values GitHub lets carry slashes (a file path, a ref such as heads/main).
_SLASHED_PARAMS = {"{path}", "{ref}", "{basehead}", "{branch}", "{file_path}"}

_REPOSITORY_ALIAS = re.compile(r"^/repositories/\d+(?=/|$)")


def normalise_path(path: str) -> str:
    """The spec-shaped path of a request: no scheme/host/query, no ``/api/v3``, ``/repositories/{id}``
    mapped to ``/repos/{owner}/{repo}`` (GitHub serves later pages there; the description omits it).
    ``/organizations/{id}/repos`` and ``/user/{id}/repos`` are mapped later, by :meth:`Spec.operation`."""
    concrete = urlsplit(path).path or "/"
    if concrete == "/api/v3" or concrete.startswith("/api/v3/"):
        concrete = concrete[len("/api/v3") :] or "/"
    if len(concrete) > 1:
        concrete = concrete.rstrip("/")
    return _REPOSITORY_ALIAS.sub("/repos/{owner}/{repo}", concrete)


# Numeric-id forms GitHub puts in Link headers for later pages of account listings, which the
# description does not list: /organizations/{id}/repos and /user/{id}/repos. Tried only when the path
# matches no template as it is (/organizations/{org}/settings/... and /user/{account_id} do).
_ACCOUNT_ALIASES = (
    (re.compile(r"^/organizations/\d+(?=/)"), "/orgs/{org}"),
    (re.compile(r"^/user/\d+(?=/)"), "/users/{username}"),
)


def _alias(concrete: str) -> str:
    for pattern, replacement in _ACCOUNT_ALIASES:
        concrete = pattern.sub(replacement, concrete)
    return concrete


@functools.cache
def load_spec() -> Spec:
    """GitHub's OpenAPI description, loaded once per process."""
    path = spec_path()
    started = time.perf_counter()
    with path.open("rb") as handle:
        document = json.load(handle)
    return Spec(document, source=str(path), load_seconds=time.perf_counter() - started)


# --- OpenAPI 3.0 schema -> JSON Schema 2020-12 -------------------------------------------------------

_SUBSCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_SINGLE = (
    "items",
    "additionalProperties",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
)


def to_json_schema(node: Any) -> Any:
    """Translate one OpenAPI 3.0 schema object (and its subschemas) into JSON Schema 2020-12."""
    if isinstance(node, bool) or not isinstance(node, Mapping):
        return node
    if "$ref" in node:  # OpenAPI 3.0 ignores a $ref's siblings
        return {"$ref": _translate_ref(node["$ref"])}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ANNOTATIONS or key.startswith("x-") or key == "nullable":
            continue
        if key in _SUBSCHEMA_MAPS:
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMA_LISTS:
            out[key] = [to_json_schema(sub) for sub in value]
        elif key in _SUBSCHEMA_SINGLE:
            out[key] = to_json_schema(value)
        else:
            out[key] = value
    if node.get("nullable") is True:
        out = _admit_null(out)
    return out


def _admit_null(schema: dict[str, Any]) -> dict[str, Any]:
    combinators = {"allOf", "anyOf", "oneOf", "not", "$ref"} & set(schema)
    kind = schema.get("type")
    if isinstance(kind, str) and not combinators:
        schema["type"] = [kind, "null"]
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        return schema
    if kind is None and not combinators and "enum" not in schema:
        return schema  # no constraint on the type at all: null is already allowed
    return {"anyOf": [{"type": "null"}, schema]}


def _translate_ref(ref: str) -> str:
    prefix = "#/components/schemas/"
    if not ref.startswith(prefix):
        raise ConformanceError(f"schema $ref outside #/components/schemas: {ref!r}")
    name, _, rest = ref[len(prefix) :].partition("/")
    return _SCHEMA_URN + name + (f"#/{rest}" if rest else "")


# --- formats ----------------------------------------------------------------------------------------

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _DATE_TIME.match(value):
            return False
        _dt.datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
        return True

    @checker.checks("date", raises=ValueError)
    def _date(value: object) -> bool:
        if not isinstance(value, str):
            return True
        _dt.date.fromisoformat(value)
        return len(value) == 10

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme) and not any(c.isspace() for c in value)

    @checker.checks("email")
    def _email(value: object) -> bool:
        return not isinstance(value, str) or "@" in value

    @checker.checks("int32")
    def _int32(value: object) -> bool:
        return not isinstance(value, int) or -(2**31) <= value < 2**31

    @checker.checks("int64")
    def _int64(value: object) -> bool:
        return not isinstance(value, int) or -(2**63) <= value < 2**63

    return checker


# --- validation -------------------------------------------------------------------------------------


def validate_response(
    method: str,
    path: str,
    status: int,
    body: Any,
    *,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
    spec: Spec | None = None,
) -> Operation:
    """Assert that a response conforms to GitHub's OpenAPI description; return its operation.

    ``body`` is the decoded JSON (or ``bytes``/``str`` to decode; ``None`` or empty for no body).
    With ``headers``, the declared and conventional headers are checked too (see module docstring).
    Raises :class:`ConformanceError` naming the operation and listing every error by JSON path.
    """
    spec = spec or load_spec()
    operation = spec.operation(method, path)
    declared = spec.response(operation, status)
    if headers is not None:
        content_type = _header(headers, "content-type") or content_type
    problems: list[str] = []
    if headers is not None:
        problems += check_headers(declared, method, status, headers, spec=spec)

    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8")
    if isinstance(body, str):
        if body.strip() == "":
            body = None
        else:
            try:
                body = json.loads(body)
            except ValueError as exc:
                problems.append(f"$: body is not JSON: {exc}")
                _raise(operation, status, problems)

    if not declared.content:
        if body not in (None, b"", ""):
            problems.append(f"$: status {status} declares no body, but one was sent")
        _raise(operation, status, problems)
        return operation

    media_type, media = _pick_media(declared, content_type)
    if media is None:
        problems.append(
            f"content type {content_type!r} is not declared for status {declared.declared_status} "
            f"(declared: {', '.join(declared.content)})"
        )
    elif body is None:
        problems.append(f"$: status {status} declares a {media_type} body, but none was sent")
    elif "schema" in media:
        key = f"{operation.operation_id}|{declared.declared_status}|{media_type}"
        problems += schema_errors(spec.validator(media["schema"], cache_key=key), body)
    _raise(operation, status, problems)
    return operation


def validate_component(name: str, body: Any, *, context: str, spec: Spec | None = None) -> None:
    """Assert that ``body`` conforms to ``#/components/schemas/NAME`` (for statuses the description
    leaves undeclared but GitHub documents, such as a 403 from ``repos/list-webhooks``)."""
    spec = spec or load_spec()
    problems = schema_errors(spec.component_validator(name), body)
    if problems:
        raise ConformanceError(_report(f"{context} vs #/components/schemas/{name}", problems))


def validate_requests_response(response: Any, *, spec: Spec | None = None) -> Operation:
    """:func:`validate_response` for a ``requests.Response``, headers included."""
    content = response.content
    return validate_response(
        response.request.method,
        response.request.url,
        response.status_code,
        content if content else None,
        headers=response.headers,
        spec=spec,
    )


def schema_errors(validator: jsonschema.protocols.Validator, instance: Any) -> list[str]:
    """Every schema error as ``<json path>: <message>``, unions explained by their closest branch."""
    lines: list[str] = []
    errors = sorted(
        validator.iter_errors(instance), key=lambda e: (list(map(str, e.absolute_path)), e.message)
    )
    for error in errors:
        lines.append(f"{error.json_path}: {_message(error)}")
        lines += [f"    {line}" for line in _closest_branch(error)]
    return lines


def _closest_branch(error: jsonschema.exceptions.ValidationError, depth: int = 0) -> list[str]:
    """Why a union (anyOf/oneOf) failed: the errors of the branch that came closest to matching.

    The branch with the fewest errors wins; the ``null`` branch added for ``nullable`` is never it.
    Nested unions (a nullable wrapper around a union) are followed down.
    """
    if not error.context or depth > 4:
        return []
    branches: dict[Any, list[jsonschema.exceptions.ValidationError]] = {}
    for sub in error.context:
        if sub.validator == "type" and sub.validator_value == "null":
            continue
        branches.setdefault(sub.relative_schema_path[0] if sub.relative_schema_path else None, []).append(sub)
    if not branches:
        return []
    closest = min(branches.values(), key=len)
    if len(closest) == 1 and closest[0].context:
        return _closest_branch(closest[0], depth + 1)
    shown = [f"closest branch: {sub.json_path}: {_message(sub)}" for sub in closest[:3]]
    if len(closest) > 3:
        shown.append(f"closest branch: ... and {len(closest) - 3} more")
    return shown


def _message(error: jsonschema.exceptions.ValidationError) -> str:
    """The error's message with a large offending value summarised, and the failing keyword."""
    message = error.message
    shown = repr(error.instance)
    if len(shown) > 80 and message.startswith(shown):
        message = _summary(error.instance) + message[len(shown) :]
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 15] + " ...[truncated]"
    return f"{message} [{error.validator}]"


def _summary(instance: Any) -> str:
    if isinstance(instance, Mapping):
        keys = ", ".join(list(map(str, instance))[:6])
        return f"<object with {len(instance)} keys: {keys}{', ...' if len(instance) > 6 else ''}>"
    if isinstance(instance, list):
        return f"<array of {len(instance)}>"
    return repr(instance)[:77] + "..."


def _pick_media(declared: ResponseSpec, content_type: str) -> tuple[str, Mapping[str, Any] | None]:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in declared.content:
        return media_type, declared.content[media_type]
    json_like = [k for k in declared.content if k == "application/json" or k.endswith("+json")]
    if media_type.endswith("json") and len(json_like) == 1:
        return json_like[0], declared.content[json_like[0]]
    return media_type, None


def _raise(operation: Operation, status: int, problems: list[str]) -> None:
    if problems:
        raise ConformanceError(_report(f"{operation} status {status}", problems))


def _report(subject: str, problems: list[str]) -> str:
    count = sum(1 for p in problems if not p.startswith("    "))
    shown = problems[:_MAX_REPORTED_ERRORS]
    more = f"\n  ... and {len(problems) - len(shown)} more lines" if len(problems) > len(shown) else ""
    return (
        f"{subject} does not conform to GitHub's OpenAPI description ({count} error(s)):\n  "
        + "\n  ".join(shown)
        + more
    )


# --- headers ----------------------------------------------------------------------------------------

RATE_LIMIT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-used", "x-ratelimit-reset")
_LINK_PART = re.compile(r'<(?P<url>[^<>\s]+)>; rel="(?P<rel>[a-z]+)"')
LINK_RELS = ("prev", "next", "last", "first")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def parse_link_header(value: str) -> dict[str, str]:
    """GitHub's ``Link`` header as ``{rel: url}``; raise ConformanceError on anything else.

    GitHub's form (docs "Using pagination in the REST API"): ``<URL>; rel="next", <URL>; rel="last"``,
    parts joined by ``", "``, rels among prev/next/last/first, each at most once, absolute URLs.
    """
    links: dict[str, str] = {}
    for part in value.split(", "):
        match = _LINK_PART.fullmatch(part)
        if not match:
            raise ConformanceError(
                f'Link header part {part!r} is not GitHub\'s `<url>; rel="..."` form: {value!r}'
            )
        rel, url = match["rel"], match["url"]
        if rel not in LINK_RELS:
            raise ConformanceError(f"Link header has unknown rel {rel!r}: {value!r}")
        if rel in links:
            raise ConformanceError(f"Link header repeats rel {rel!r}: {value!r}")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConformanceError(f"Link header URL for rel {rel!r} is not absolute: {url!r}")
        links[rel] = url
    return links


def check_headers(
    declared: ResponseSpec, method: str, status: int, headers: Mapping[str, str], *, spec: Spec
) -> list[str]:
    """Problems with a response's headers: the declared ones, then GitHub's documented conventions."""
    problems: list[str] = []
    for name, header in declared.headers.items():
        header = spec.resolve(header)
        value = _header(headers, name)
        if value is None:
            if name.lower() != "link":  # GitHub sends Link only when there is more than one page
                problems.append(f"header {name}: declared for status {declared.declared_status} but absent")
            continue
        kind = spec.resolve(header.get("schema", {})).get("type")
        if kind == "integer" and not re.fullmatch(r"-?\d+", value.strip()):
            problems.append(f"header {name}: {value!r} is not an integer")
    for name in RATE_LIMIT_HEADERS:
        value = _header(headers, name)
        if value is None:
            problems.append(f"header {name}: absent (GitHub sends it on every response)")
        elif not re.fullmatch(r"\d+", value.strip()):
            problems.append(f"header {name}: {value!r} is not a non-negative integer")
    if not _header(headers, "x-ratelimit-resource"):
        problems.append("header x-ratelimit-resource: absent (GitHub sends it on every response)")
    if method.upper() == "GET" and 200 <= status < 300:
        etag = _header(headers, "etag")
        if etag is None:
            problems.append("header ETag: absent on a successful GET")
        elif not re.fullmatch(r'(W/)?"[^"]*"', etag):
            problems.append(f"header ETag: {etag!r} is not a quoted entity tag")
    link = _header(headers, "link")
    if link is not None:
        try:
            parse_link_header(link)
        except ConformanceError as exc:
            problems.append(f"header Link: {exc}")
    return problems


def operations(spec: Spec | None = None) -> Iterable[Operation]:
    """Every operation of the description (for coverage reports)."""
    spec = spec or load_spec()
    for template, item in spec.document["paths"].items():
        for method in _HTTP_METHODS:
            if method in item:
                op = item[method]
                yield Operation(method, template, op.get("operationId", "?"), op.get("responses", {}))
