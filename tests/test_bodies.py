"""Asset bodies (docs/format.md section 9): each reads what format 1 writes and writes it back unchanged,
and a body it does not understand is an IntegrityError naming the manifest, never a KeyError."""

from __future__ import annotations

import pytest

from assets.bodies import GitBody, InventoryBody, IssuesBody
from resources.errors import IntegrityError

BLOB = "a" * 64
WHERE = "manifest acme/2026-01-02/repositories"
SUMMARY = {"private": False, "fork": False, "archived": False, "disabled": False, "has_wiki": True,
           "has_issues": True, "default_branch": "main", "size": 10, "pushed_at": "2026-01-01T00:00:00Z"}
INVENTORY = {
    "installation_id": 7, "api_requests": 3, "capture_started_at": "t0", "captured_at": "t1",
    "etag_cache": {"blob": BLOB, "size": 12},
    "repositories": [{"id": 1, "full_name": "acme/a", **SUMMARY, "blob": BLOB, "blob_size": 5},
                     {"id": 2, "full_name": "acme/..", **SUMMARY, "reason": "skipped: bad name"}],
}
GIT = {"api_requests": 1, "capture_started_at": "t0", "captured_at": "t1", "repositories": {
    "1": {"full_name": "acme/a", "tips": {"refs/heads/main": "1" * 40}, "bundle": "incremental",
          "chain": [{"blob": BLOB, "size": 9, "kind": "full", "date": "2026-01-01"},
                    {"blob": "b" * 64, "size": 3, "kind": "incremental", "date": "2026-01-02"}],
          "lfs": {"c" * 64: {"size": 7, "blob": "d" * 64}, "e" * 64: {"size": 2, "reason": "missing: 404"}}},
    "2": {"full_name": "acme/..", "reason": "skipped: bad name"},
    "3": {"full_name": "acme/b", "tips": {}, "chain": [], "bundle": "empty", "fetched": False},
    "4": {"full_name": "acme/c", "failed": "fetch: the remote repository is corrupt"},
    "5": {"full_name": "acme/d", "state": "never_created"},
}}
ISSUES = {"chunk_size": 100, "api_requests": 2, "repositories": {
    "1": {"full_name": "acme/a", "chunks": {"0": {"blob": BLOB, "size": 4, "counts": {"issues": 1}}},
          "counts": {"issues": 1}, "watermark": "w", "full_read_at": "f", "read": "full",
          "probe": {"issues": {"top": [1, "t"], "etag": "e"}}, "updated_records": 1, "healed_comment_threads": 0},
    "2": {"full_name": "acme/..", "reason": "skipped: bad name"},
}}


@pytest.mark.parametrize("kind, body", [(InventoryBody, INVENTORY), (GitBody, GIT), (IssuesBody, ISSUES)])
def test_every_body_format_1_writes_reads_back_and_writes_again_unchanged(kind, body) -> None:
    assert kind.from_json(body, WHERE).to_json() == body


def test_bodies_name_the_blobs_they_hold_with_their_sizes() -> None:
    assert InventoryBody.from_json(INVENTORY, WHERE).blobs() == {BLOB: 12}  # the ETag cache's size wins
    assert GitBody.from_json(GIT, WHERE).blobs() == {BLOB: 9, "b" * 64: 3, "d" * 64: 7}  # LFS objects too
    assert IssuesBody.from_json(ISSUES, WHERE).blobs() == {BLOB: 4}


def test_a_failed_repository_has_no_data_and_says_why() -> None:
    entry = GitBody.from_json(GIT, WHERE).repositories["4"]
    assert not entry.has_data and entry.failed == "fetch: the remote repository is corrupt"


@pytest.mark.parametrize("damage, named", [
    (lambda body: body["repositories"]["1"].pop("full_name"), "missing key 'full_name'"),
    (lambda body: body["repositories"]["1"]["chain"][0].pop("blob"), "missing key 'blob'"),
    (lambda body: body["repositories"]["1"].update(lfz=[]), "unknown key(s) lfz"),
    (lambda body: body["repositories"]["1"].update(lfs=[]), "'lfs' is list"),
    (lambda body: body["repositories"]["1"]["lfs"]["c" * 64].pop("blob"), "either a blob or a reason"),
    (lambda body: body["repositories"]["1"].update(tips=["refs/heads/main"]), "'tips' is list"),
    (lambda body: body.pop("repositories"), "missing key 'repositories'"),
])
def test_a_body_it_does_not_understand_is_an_integrity_error_naming_the_manifest(damage, named) -> None:
    import copy

    body = copy.deepcopy(GIT)
    damage(body)
    with pytest.raises(IntegrityError) as caught:
        GitBody.from_json(body, WHERE)
    assert str(caught.value).startswith(WHERE) and named in str(caught.value)
