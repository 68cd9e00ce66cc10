"""GraphQL against GitHub's published schema (npm ``@octokit/graphql-schema``, pinned in the Makefile,
``make graphql-schema``): every query backhub sends validates against it, the emulator's own small
schema spells each of its types, fields and arguments as GitHub's does, and the emulator answers every
backhub query at ``/graphql`` and at GHES's ``/api/graphql``."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
import requests
from graphql import GraphQLSchema, build_schema, parse, validate
from graphql.type import is_input_object_type, is_interface_type, is_object_type

from assets.discussions import QUERIES
from github_emulator.graphql_api import SCHEMA as EMULATOR_SCHEMA
from github_emulator.process import EmulatorProcess
from tests.conformance.openapi import REPO_ROOT
from tests.emulator.conftest import mint_token

SCHEMA_ENV = "BACKHUB_GRAPHQL_SCHEMA"
SCHEMA_RELATIVE = ".cache/octokit-graphql-schema-15.26.1/node_modules/@octokit/graphql-schema/schema.graphql"


@functools.cache
def github_schema() -> GraphQLSchema:
    path = Path(os.environ.get(SCHEMA_ENV) or REPO_ROOT / SCHEMA_RELATIVE)
    if not path.is_file():
        pytest.fail(f"@octokit/graphql-schema is not at {path}: run `make graphql-schema`")
    # 15.26.1's SDL defines EnterpriseOwnerInfo.repositoryDeployKeySetting(Organizations) twice, which
    # graphql-core's SDL check refuses; nothing we query is near it, so the check is skipped.
    return build_schema(path.read_text("utf-8"), assume_valid_sdl=True)


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_query_backhub_sends_validates_against_githubs_schema(name: str) -> None:
    errors = validate(github_schema(), parse(QUERIES[name]))
    assert not errors, [e.message for e in errors]


def test_the_emulators_schema_is_a_subset_of_githubs() -> None:
    github = github_schema()
    checked = 0
    for type_name, ours in EMULATOR_SCHEMA.type_map.items():
        if type_name.startswith("__") or type_name in ("String", "Int", "Boolean", "ID", "Float"):
            continue
        theirs = github.type_map.get(type_name)
        assert theirs is not None, f"GitHub has no type {type_name}"
        assert type(theirs) is type(ours), type_name
        if is_object_type(ours) or is_interface_type(ours) or is_input_object_type(ours):
            for field_name, field in ours.fields.items():
                assert field_name in theirs.fields, f"GitHub has no {type_name}.{field_name}"
                assert str(field.type) == str(theirs.fields[field_name].type), f"{type_name}.{field_name}"
                for arg_name, arg in getattr(field, "args", {}).items():
                    assert arg_name in theirs.fields[field_name].args, f"{type_name}.{field_name}({arg_name})"
                    assert str(arg.type) == str(theirs.fields[field_name].args[arg_name].type)
                checked += 1
        if hasattr(ours, "values"):
            assert set(ours.values) <= set(theirs.values), type_name
    assert checked > 40


@pytest.mark.parametrize("path", ["/graphql", "/api/graphql"])
def test_the_emulator_answers_backhubs_queries(emulator: EmulatorProcess, path: str) -> None:
    web = emulator.api_url.rsplit("/api/v3", 1)[0].rstrip("/")
    token = mint_token(emulator, "acme-corp")
    verify = emulator.info.get("ca_cert", True)

    def post(query: str, variables: dict, auth: str | None = f"Bearer {token}") -> requests.Response:
        headers = {"Authorization": auth} if auth else {}
        return requests.post(web + path, json={"query": query, "variables": variables}, headers=headers,
                             timeout=30, verify=verify)

    assert post(QUERIES["discussions"], {}, auth=None).status_code == 401
    answer = post(QUERIES["discussions"], {"owner": "acme-corp", "name": "widgets"})
    assert answer.status_code == 200 and answer.headers["x-ratelimit-resource"] == "graphql"
    data = answer.json()
    assert "errors" not in data, data
    assert data["data"]["rateLimit"]["cost"] >= 1
    discussions = data["data"]["repository"]["discussions"]
    assert discussions["totalCount"] >= 3
    first = discussions["nodes"][0]
    updated = [node["updatedAt"] for node in discussions["nodes"]]
    assert updated == sorted(updated, reverse=True)
    more = post(QUERIES["comments"], {"owner": "acme-corp", "name": "widgets", "number": first["number"]}).json()
    assert "errors" not in more, more
    assert [c["id"] for c in more["data"]["repository"]["discussion"]["comments"]["nodes"]] == \
        [c["id"] for c in first["comments"]["nodes"]]
    commented = next(c for node in discussions["nodes"] for c in node["comments"]["nodes"])
    replies = post(QUERIES["replies"], {"id": commented["id"]}).json()
    assert "errors" not in replies, replies
    assert [r["id"] for r in replies["data"]["node"]["replies"]["nodes"]] == \
        [r["id"] for r in commented["replies"]["nodes"]]
    missing = post(QUERIES["discussions"], {"owner": "acme-corp", "name": "no-such-repo"}).json()
    assert missing["data"]["repository"] is None and missing["errors"][0]["type"] == "NOT_FOUND"
