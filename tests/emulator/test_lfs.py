"""Git LFS in the emulator: seeded pointer files name real objects, served by the batch API (download and
upload) with git's Basic auth, as git-lfs docs/api/batch.md and basic-transfers.md describe."""

from __future__ import annotations

import hashlib
from pathlib import Path

import requests

from github_emulator.process import EmulatorProcess
from tests.emulator.conftest import mint_token
from tests.emulator.test_git import git

LFS = "application/vnd.git-lfs+json"


def pointer_of(text: str) -> tuple[str, int]:
    lines = dict(line.split(" ", 1) for line in text.splitlines())
    assert lines["version"] == "https://git-lfs.github.com/spec/v1"
    return lines["oid"].removeprefix("sha256:"), int(lines["size"])


def batch(em: EmulatorProcess, token: str | None, operation: str, objects: list[dict], repo: str = "acme-corp/widgets",
          accept: str = LFS) -> requests.Response:
    return requests.post(f"{em.git_url}/{repo}.git/info/lfs/objects/batch",
                         json={"operation": operation, "transfers": ["basic"], "objects": objects},
                         headers={"Accept": accept, "Content-Type": LFS},
                         auth=("x-access-token", token) if token else None, timeout=30)


def assert_batch_response_shape(payload: dict) -> None:
    """The response as git-lfs's published schema (docs/api/schemas/http-batch-response-schema.json)
    describes it: objects with oid and size, actions of href/header/expires_*, errors of code/message."""
    assert isinstance(payload["objects"], list) and isinstance(payload.get("transfer", "basic"), str)
    for item in payload["objects"]:
        assert {"oid", "size"} <= set(item) <= {"oid", "size", "authenticated", "actions", "error"}
        assert isinstance(item["oid"], str) and isinstance(item["size"], int) and item["size"] >= 0
        assert set(item.get("actions", {})) <= {"download", "upload", "verify"}
        for action in item.get("actions", {}).values():
            assert "href" in action and set(action) <= {"href", "header", "expires_in", "expires_at"}
            assert all(isinstance(v, str) for v in action.get("header", {}).values())
        if "error" in item:
            assert set(item["error"]) == {"code", "message"} and isinstance(item["error"]["code"], int)


def test_a_seeded_pointer_downloads_bytes_whose_sha256_is_its_oid(emulator: EmulatorProcess, tmp_path: Path) -> None:
    token = mint_token(emulator, "acme-corp")
    target = tmp_path / "widgets.git"
    git("clone", "--mirror", "--", f"{emulator.git_url}/acme-corp/widgets.git", str(target), token=token)
    text = git("show", "main:assets/logo.bin", cwd=target).stdout
    assert len(text.encode()) < 1024
    oid, size = pointer_of(text)
    truth = emulator.state()["accounts"]["acme-corp"]["repositories"]["widgets"]["lfs"]
    assert truth[oid] == size

    answer = batch(emulator, token, "download", [{"oid": oid, "size": size}, {"oid": "0" * 64, "size": 5}])

    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith(LFS)
    assert_batch_response_shape(answer.json())
    found, missing = answer.json()["objects"]
    assert missing == {"oid": "0" * 64, "size": 5, "error": {"code": 404, "message": "Object does not exist"}}
    action = found["actions"]["download"]
    assert action["expires_in"] > 0 and set(action["header"]) == {"Authorization"}
    data = requests.get(action["href"], headers=action["header"], timeout=30)
    assert data.status_code == 200 and data.headers["Content-Type"] == "application/octet-stream"
    assert hashlib.sha256(data.content).hexdigest() == oid and len(data.content) == size
    # The href is authorised by the header the batch answer gave, not by being known.
    assert requests.get(action["href"], timeout=30).status_code == 403


def test_batch_refuses_without_credentials_another_account_and_the_wrong_media_type(emulator: EmulatorProcess) -> None:
    token = mint_token(emulator, "acme-corp")
    anonymous = batch(emulator, None, "download", [])
    assert anonymous.status_code == 401 and anonymous.headers["LFS-Authenticate"] == 'Basic realm="GitHub"'
    assert batch(emulator, token, "download", [], repo="globex/nothing-here").status_code == 404
    assert batch(emulator, token, "download", [], accept="application/json").status_code == 406
    assert batch(emulator, token, "sideways", []).status_code == 422


def test_upload_needs_write_and_stores_only_what_matches_its_oid(fresh_emulator: EmulatorProcess) -> None:
    data = b"large file content \xe2\x9c\x93\n" * 100
    oid, size = hashlib.sha256(data).hexdigest(), len(data)
    reader = mint_token(fresh_emulator, "acme-corp", permissions={"contents": "read", "metadata": "read"})
    assert batch(fresh_emulator, reader, "upload", [{"oid": oid, "size": size}]).status_code == 403
    writer = mint_token(fresh_emulator, "acme-corp", permissions={"contents": "write", "metadata": "read"})
    stats_before = fresh_emulator.control("GET", "stats")

    offered = batch(fresh_emulator, writer, "upload", [{"oid": oid, "size": size}]).json()
    assert_batch_response_shape(offered)
    (entry,) = offered["objects"]
    upload = entry["actions"]["upload"]
    assert requests.put(upload["href"], data=data + b"x", headers=upload["header"], timeout=30).status_code == 422
    assert requests.put(upload["href"], data=data, headers=upload["header"], timeout=30).status_code == 200

    assert fresh_emulator.state()["accounts"]["acme-corp"]["repositories"]["widgets"]["lfs"][oid] == size
    (again,) = batch(fresh_emulator, writer, "upload", [{"oid": oid, "size": size}]).json()["objects"]
    assert "actions" not in again  # already stored: nothing to send
    (down,) = batch(fresh_emulator, reader, "download", [{"oid": oid, "size": size}]).json()["objects"]
    got = requests.get(down["actions"]["download"]["href"], headers=down["actions"]["download"]["header"], timeout=30)
    assert got.content == data
    stats = fresh_emulator.control("GET", "stats")
    assert (stats["lfs"] - stats_before["lfs"], stats["lfs_batch"] - stats_before["lfs_batch"]) == (6, 3)


def test_advance_adds_an_lfs_file_whose_object_is_stored(fresh_emulator: EmulatorProcess) -> None:
    before = {repo["id"]: set(repo["lfs"]) for account in fresh_emulator.state()["accounts"].values()
              for repo in account["repositories"].values()}
    summary = fresh_emulator.control("POST", "advance", {"days": 1})
    after = {repo["id"]: set(repo["lfs"]) for account in fresh_emulator.state()["accounts"].values()
             for repo in account["repositories"].values()}
    added = {name: after[name] - before.get(name, set()) for name in after if after[name] - before.get(name, set())}
    assert summary["lfs_objects"] == 1 and sum(len(oids) for oids in added.values()) == 1
