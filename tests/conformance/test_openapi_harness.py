"""The OpenAPI harness can pass and can fail, shown with GitHub's own published examples.

Every case here is data from the description itself: the example bodies GitHub publishes for its
responses must pass, and the same bodies broken in the ways a faulty server breaks them (a required key
dropped, a wrong type, null where the schema does not allow it, a bad date) must fail, with the
operation id and the JSON path of the damage in the message.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conformance import openapi
from tests.conformance.openapi import ConformanceError, load_spec, validate_response

# (method, concrete path, status) of the operations issue 2's emulator serves whose published examples
# match their published schemas. Concrete paths exercise /api/v3 and /repositories/{id} on the way.
EXAMPLE_CASES = [
    ("GET", "/app", 200),
    ("POST", "/app/installations/42/access_tokens", 201),
    ("GET", "/installation/repositories", 200),
    ("GET", "/orgs/octo-org/repos", 200),
    ("GET", "/users/octocat/repos", 200),
    ("GET", "/repos/octocat/Hello-World/issues", 200),
    ("GET", "/repositories/1296269/issues", 200),
    ("GET", "/api/v3/repos/octocat/Hello-World/issues/1347", 200),
    ("GET", "/repos/octocat/Hello-World/issues/comments", 200),
    ("GET", "/repos/octocat/Hello-World/issues/1347/comments", 200),
    ("GET", "/repos/octocat/Hello-World/pulls/1347/reviews", 200),
    ("GET", "/repos/octocat/Hello-World/pulls/comments", 200),
    ("GET", "/repos/octocat/Hello-World/releases", 200),
    ("GET", "/repos/octocat/Hello-World/releases/1/assets", 200),
    ("GET", "/repos/octocat/Hello-World/releases/assets/1", 200),
    ("GET", "/repos/octocat/Hello-World/labels", 200),
    ("GET", "/repos/octocat/Hello-World/milestones", 200),
    ("GET", "/repos/octocat/Hello-World/collaborators", 200),
    ("GET", "/repos/octocat/Hello-World/hooks", 200),
    ("GET", "/repos/octocat/Hello-World/topics", 200),
    ("GET", "/rate_limit", 200),
    ("POST", "/repos/octocat/Hello-World/labels", 201),
    ("POST", "/repos/octocat/Hello-World/milestones", 201),
    ("POST", "/repos/octocat/Hello-World/issues", 201),
    ("POST", "/repos/octocat/Hello-World/issues/1347/comments", 201),
]


def _examples(method: str, path: str, status: int) -> dict[str, Any]:
    spec = load_spec()
    found = spec.examples(spec.operation(method, path), status)
    assert found, f"the description publishes no example for {method} {path} {status}"
    return found


def _item_schema(method: str, path: str, status: int) -> tuple[dict[str, Any], bool]:
    """The resolved schema of the body's object (of one element, for arrays) and whether it is an array."""
    spec = load_spec()
    declared = spec.response(spec.operation(method, path), status)
    schema = spec.resolve(declared.content["application/json"]["schema"])
    if schema.get("type") == "array":
        return spec.resolve(schema["items"]), True
    return schema, False


def _breakable_key(schema: dict[str, Any], obj: dict[str, Any], kinds: tuple[str, ...]) -> str:
    """A required, non-nullable key of the given JSON types that the example holds a value for."""
    spec = load_spec()
    for key in schema.get("required", []):
        prop = spec.resolve(schema.get("properties", {}).get(key, {}))
        if prop.get("type") in kinds and not prop.get("nullable") and obj.get(key) is not None:
            return key
    raise AssertionError(f"no required non-nullable {kinds} key in {sorted(obj)}")


@pytest.mark.parametrize(("method", "path", "status"), EXAMPLE_CASES, ids=lambda v: str(v))
def test_githubs_own_examples_conform(method: str, path: str, status: int) -> None:
    for body in _examples(method, path, status).values():
        validate_response(method, path, status, body)


def _target(body: Any, is_array: bool) -> tuple[dict[str, Any], str]:
    """The object to damage and its JSON path: the LAST element of an array, so that a harness which
    looked only at the first element would wrongly pass."""
    if not is_array:
        return body, "$"
    body.append(copy.deepcopy(body[0]))
    return body[-1], f"$[{len(body) - 1}]"


@pytest.mark.parametrize(("method", "path", "status"), EXAMPLE_CASES, ids=lambda v: str(v))
def test_a_dropped_required_key_is_reported_with_operation_and_path(
    method: str, path: str, status: int
) -> None:
    body = copy.deepcopy(next(iter(_examples(method, path, status).values())))
    schema, is_array = _item_schema(method, path, status)
    target, where = _target(body, is_array)
    key = next(k for k in schema["required"] if k in target)
    del target[key]
    operation = load_spec().operation(method, path)
    with pytest.raises(ConformanceError) as raised:
        validate_response(method, path, status, body)
    message = str(raised.value)
    assert operation.operation_id in message
    assert f"{where}: '{key}' is a required property" in message


@pytest.mark.parametrize(("method", "path", "status"), EXAMPLE_CASES, ids=lambda v: str(v))
def test_a_wrong_type_is_reported_with_operation_and_path(method: str, path: str, status: int) -> None:
    body = copy.deepcopy(next(iter(_examples(method, path, status).values())))
    schema, is_array = _item_schema(method, path, status)
    target, where = _target(body, is_array)
    key = _breakable_key(schema, target, ("string", "integer", "boolean", "object", "array"))
    target[key] = 3.5 if not isinstance(target[key], float) else "3.5"
    with pytest.raises(ConformanceError) as raised:
        validate_response(method, path, status, body)
    message = str(raised.value)
    assert load_spec().operation(method, path).operation_id in message
    assert f"{where}.{key}: " in message and "is not of type" in message


@pytest.mark.parametrize(("method", "path", "status"), EXAMPLE_CASES, ids=lambda v: str(v))
def test_null_where_not_nullable_is_reported(method: str, path: str, status: int) -> None:
    body = copy.deepcopy(next(iter(_examples(method, path, status).values())))
    schema, is_array = _item_schema(method, path, status)
    target, where = _target(body, is_array)
    key = _breakable_key(schema, target, ("string", "integer", "boolean", "object", "array"))
    target[key] = None
    with pytest.raises(ConformanceError) as raised:
        validate_response(method, path, status, body)
    assert f"{where}.{key}: None is not of type" in str(raised.value)


def test_null_where_nullable_passes() -> None:
    """``closed_at`` is ``nullable: true`` with a type; ``milestone`` is a nullable ``$ref`` target;
    ``installation.account`` is a nullable ``anyOf`` union."""
    issue = copy.deepcopy(_examples("GET", "/repos/o/r/issues/1", 200)["default"])
    issue["closed_at"] = None
    issue["milestone"] = None
    issue["assignee"] = None
    validate_response("GET", "/repos/o/r/issues/1", 200, issue)
    spec = load_spec()
    installation = copy.deepcopy(spec.examples(spec.operation("GET", "/app/installations/1"), 200)["default"])
    installation["account"] = None
    openapi.validate_component("installation", installation, context="test")


def test_every_error_is_listed_not_only_the_first() -> None:
    issues = copy.deepcopy(_examples("GET", "/repos/o/r/issues", 200)["default"])
    issues = [issues[0], copy.deepcopy(issues[0]), copy.deepcopy(issues[0])]
    del issues[0]["number"]
    issues[2]["user"]["login"] = None
    issues[2]["created_at"] = "last tuesday"
    with pytest.raises(ConformanceError) as raised:
        validate_response("GET", "/repos/o/r/issues", 200, issues)
    message = str(raised.value)
    assert "issues/list-for-repo" in message and "(3 error(s))" in message
    assert "$[0]: 'number' is a required property" in message
    assert "$[2].user.login: None is not of type 'string'" in message
    assert "$[2].created_at: 'last tuesday' is not a 'date-time'" in message


def test_a_bad_url_in_a_uri_field_is_reported() -> None:
    repo = copy.deepcopy(_examples("GET", "/orgs/o/repos", 200)["default"])
    repo[0]["html_url"] = "/octocat/Hello-World"  # relative: GitHub's are absolute
    with pytest.raises(ConformanceError, match=r"\$\[0\]\.html_url: '/octocat/Hello-World' is not a 'uri'"):
        validate_response("GET", "/orgs/o/repos", 200, repo)


def test_a_union_failure_names_the_closest_branch() -> None:
    """The description's inline ``apps/list-installations`` schema makes ``account`` an ``allOf`` of
    user and enterprise (the component ``installation`` says ``anyOf``), so GitHub's own example fails
    it; the report must say which keys the closest branch missed, not only "not valid under any"."""
    example = _examples("GET", "/app/installations", 200)["default"]
    with pytest.raises(ConformanceError) as raised:
        validate_response("GET", "/app/installations", 200, example)
    assert "closest branch: $[0].account: 'name' is a required property" in str(raised.value)


# --- routing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "operation_id"),
    [
        ("GET", "/repos/o/r/issues/comments", "issues/list-comments-for-repo"),
        ("GET", "/repos/o/r/issues/7", "issues/get"),
        ("GET", "/repos/o/r/pulls/comments", "pulls/list-review-comments-for-repo"),
        ("GET", "/repos/o/dots.in.name", "repos/get"),
        ("GET", "/repos/o/-dash/", "repos/get"),
        (
            "GET",
            "https://ghe.example:8443/api/v3/repos/o/r/labels?per_page=1&page=2",
            "issues/list-labels-for-repo",
        ),
        ("GET", "/repositories/123", "repos/get"),
        ("GET", "/repositories/123/issues/comments?page=3", "issues/list-comments-for-repo"),
        ("GET", "/repositories", "repos/list-public"),
        ("GET", "/organizations/4/repos?page=2", "repos/list-for-org"),
        ("GET", "/organizations/acme/settings/billing/usage", "billing/get-github-billing-usage-report-org"),
        ("GET", "/user/583231/repos?page=2", "repos/list-for-user"),
        ("GET", "/user/583231", "users/get-by-id"),
        ("GET", "/repos/o/r/contents/docs/a/b.md", "repos/get-content"),
        ("POST", "/repos/o/r/issues", "issues/create"),
        ("POST", "/app/installations/9/access_tokens", "apps/create-installation-access-token"),
    ],
)
def test_a_concrete_path_finds_its_operation(method: str, path: str, operation_id: str) -> None:
    assert load_spec().operation(method, path).operation_id == operation_id


def test_an_unknown_path_or_method_is_an_error() -> None:
    with pytest.raises(ConformanceError, match="no operation"):
        load_spec().operation("GET", "/repos/o/r/nonsense/1/2/3/4")
    with pytest.raises(ConformanceError, match="no operation"):
        load_spec().operation("PUT", "/rate_limit")


def test_an_undeclared_status_is_an_error() -> None:
    with pytest.raises(ConformanceError, match=r"(?s)repos/list-webhooks .*status 403 is not declared"):
        validate_response(
            "GET", "/repos/o/r/hooks", 403, {"message": "Must have admin rights to Repository."}
        )


def test_a_status_without_content_must_have_no_body() -> None:
    validate_response("GET", "/repos/o/r/issues/1", 304, b"")
    with pytest.raises(ConformanceError, match="declares no body"):
        validate_response("GET", "/repos/o/r/issues/1", 304, {"message": "Not Modified"})


def test_an_error_body_is_checked_against_basic_error() -> None:
    validate_response(
        "GET",
        "/repos/o/missing",
        404,
        {"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"},
    )
    with pytest.raises(ConformanceError, match=r"(?s)repos/get .*\$\.message: 404 is not of type 'string'"):
        validate_response("GET", "/repos/o/missing", 404, {"message": 404})


def test_a_body_that_is_not_json_is_reported() -> None:
    with pytest.raises(ConformanceError, match="body is not JSON"):
        validate_response("GET", "/rate_limit", 200, b"<html>")


# --- headers --------------------------------------------------------------------------------------

GOOD_HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "ETag": 'W/"0123abcd"',
    "X-RateLimit-Limit": "5000",
    "X-RateLimit-Remaining": "4999",
    "X-RateLimit-Used": "1",
    "X-RateLimit-Reset": "1700000000",
    "X-RateLimit-Resource": "core",
}


def test_githubs_documented_link_header_parses() -> None:
    example = load_spec().document["components"]["headers"]["link"]["example"]
    assert openapi.parse_link_header(example) == {
        "next": "https://api.github.com/resource?page=2",
        "last": "https://api.github.com/resource?page=5",
    }


@pytest.mark.parametrize(
    "value",
    [
        "<https://h/x?page=2>; rel=next",  # unquoted rel
        '<https://h/x?page=2>;rel="next"',  # no space
        '<https://h/x?page=2>; rel="next",<https://h/x?page=5>; rel="last"',  # bad separator
        '</x?page=2>; rel="next"',  # relative URL
        '<https://h/x?page=2>; rel="next", <https://h/x?page=3>; rel="next"',  # repeated rel
        '<https://h/x?page=2>; rel="following"',  # not a GitHub rel
    ],
)
def test_a_malformed_link_header_is_rejected(value: str) -> None:
    with pytest.raises(ConformanceError):
        openapi.parse_link_header(value)


def test_conventional_headers_pass_when_present() -> None:
    body = _examples("GET", "/repos/o/r/labels", 200)["default"]
    headers = {**GOOD_HEADERS, "Link": '<https://h/repos/o/r/labels?page=2>; rel="next"'}
    validate_response("GET", "/repos/o/r/labels", 200, body, headers=headers)


@pytest.mark.parametrize("missing", ["ETag", "X-RateLimit-Remaining", "X-RateLimit-Resource"])
def test_a_missing_conventional_header_is_reported(missing: str) -> None:
    body = _examples("GET", "/repos/o/r/labels", 200)["default"]
    headers = {k: v for k, v in GOOD_HEADERS.items() if k != missing}
    with pytest.raises(ConformanceError, match=f"(?i)header {missing}: absent"):
        validate_response("GET", "/repos/o/r/labels", 200, body, headers=headers)


def test_a_header_the_description_declares_must_be_present() -> None:
    """``issues/create`` declares ``Location`` on its 201; the description is the source."""
    body = _examples("POST", "/repos/o/r/issues", 201)["default"]
    headers = {k: v for k, v in GOOD_HEADERS.items() if k != "ETag"}
    with pytest.raises(ConformanceError, match="header Location: declared for status 201 but absent"):
        validate_response("POST", "/repos/o/r/issues", 201, body, headers=headers)
    validate_response("POST", "/repos/o/r/issues", 201, body, headers={**headers, "Location": body["url"]})


def test_a_malformed_link_in_a_response_is_reported() -> None:
    body = _examples("GET", "/repos/o/r/labels", 200)["default"]
    headers = {**GOOD_HEADERS, "Link": "<https://h/x?page=2>; rel=next"}
    with pytest.raises(ConformanceError, match="header Link"):
        validate_response("GET", "/repos/o/r/labels", 200, body, headers=headers)


# --- loading --------------------------------------------------------------------------------------


def test_the_description_is_loaded_once() -> None:
    spec = load_spec()
    assert load_spec() is spec
    assert spec.version.startswith("3.0")


def test_a_missing_description_fails_and_says_run_make_openapi(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(openapi.SPEC_ENV, str(tmp_path / "absent.json"))
    with pytest.raises(openapi.SpecUnavailable, match="run `make openapi`"):
        openapi.spec_path()
