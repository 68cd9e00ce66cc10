"""Git smart HTTP through git http-backend: clone, fetch, push, wikis, and credentials in headers only."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import requests

from github_emulator.process import EmulatorProcess
from tests.emulator.conftest import mint_token


def git(*args: str, token: str | None = None, cwd: Path | None = None, check: bool = True, ca: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1", HOME=str(cwd or Path.cwd()))
    pairs = [("protocol.version", "2"), ("user.name", "Test"), ("user.email", "test@example.test")]
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        pairs.append(("http.extraHeader", f"Authorization: Basic {basic}"))
    if ca:
        pairs.append(("http.sslCAInfo", ca))
    env["GIT_CONFIG_COUNT"] = str(len(pairs))
    for n, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{n}"] = key
        env[f"GIT_CONFIG_VALUE_{n}"] = value
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=check, timeout=120)


def test_mirror_clone_has_every_ref_the_emulator_reports(emulator: EmulatorProcess, tmp_path: Path) -> None:
    token = mint_token(emulator, "acme-corp")
    target = tmp_path / "widgets.git"
    git("clone", "--mirror", "--", f"{emulator.git_url}/acme-corp/widgets.git", str(target), token=token)
    listing = git("for-each-ref", "--format=%(refname) %(objectname)", cwd=target).stdout.splitlines()
    refs = dict(line.split(" ", 1) for line in listing)
    truth = emulator.state()["accounts"]["acme-corp"]["repositories"]["widgets"]["refs"]
    assert refs == truth
    assert any(r.startswith("refs/pull/") and r.endswith("/merge") for r in truth)
    assert "refs/notes/commits" in truth and "refs/tags/v1.0.0" in truth
    assert git("cat-file", "-t", "refs/tags/v1.0.0", cwd=target).stdout.strip() == "tag"
    assert "oid sha256:" in git("show", "main:assets/logo.bin", cwd=target).stdout
    git("fsck", "--no-progress", cwd=target)


def test_clone_without_credentials_is_asked_for_basic_auth(emulator: EmulatorProcess) -> None:
    response = requests.get(f"{emulator.git_url}/acme-corp/widgets.git/info/refs?service=git-upload-pack", timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="GitHub"'


def test_protocol_v2_is_spoken(emulator: EmulatorProcess) -> None:
    token = mint_token(emulator, "acme-corp")
    response = requests.get(
        f"{emulator.git_url}/acme-corp/widgets.git/info/refs?service=git-upload-pack",
        headers={"Git-Protocol": "version=2"},
        auth=("x-access-token", token),
        timeout=10,
    )
    assert response.status_code == 200
    assert b"version 2" in response.content


def test_wikis_populated_never_created_and_disabled(emulator: EmulatorProcess, tmp_path: Path) -> None:
    token = mint_token(emulator, "acme-corp")
    git("clone", "--mirror", "--", f"{emulator.git_url}/acme-corp/widgets.wiki.git", str(tmp_path / "wiki"), token=token)
    assert "Home.md" in git("ls-tree", "--name-only", "master", cwd=tmp_path / "wiki").stdout
    wikis = {name: r["wiki"]["state"] for name, r in emulator.state()["accounts"]["acme-corp"]["repositories"].items()}
    assert wikis["widgets"] == "populated" and wikis["dots.in.name"] == "never_created" and wikis["-dash"] == "disabled"
    for name in ("dots.in.name", "-dash"):
        failed = git("clone", "--mirror", "--", f"{emulator.git_url}/acme-corp/{name}.wiki.git", str(tmp_path / name), token=token, check=False)
        assert failed.returncode != 0 and "not found" in failed.stderr.lower()


def test_other_installations_repository_is_not_found_over_git(emulator: EmulatorProcess, tmp_path: Path) -> None:
    token = mint_token(emulator, "acme-corp")
    failed = git("clone", "--mirror", "--", f"{emulator.git_url}/zoe-dev/dotfiles.git", str(tmp_path / "x"), token=token, check=False)
    assert failed.returncode != 0 and "not found" in failed.stderr.lower()


def test_empty_repository_clones_empty(emulator: EmulatorProcess, tmp_path: Path) -> None:
    token = mint_token(emulator, "acme-corp")
    git("clone", "--mirror", "--", f"{emulator.git_url}/acme-corp/empty.git", str(tmp_path / "empty"), token=token)
    assert git("for-each-ref", cwd=tmp_path / "empty").stdout == ""


def test_push_to_a_created_repository_and_clone_it_back(fresh_emulator: EmulatorProcess, tmp_path: Path) -> None:
    token = mint_token(fresh_emulator, "acme-corp")
    created = requests.post(f"{fresh_emulator.api_url}/orgs/acme-corp/repos", headers={"Authorization": f"token {token}"},
                            json={"name": "restored"}, timeout=10)
    assert created.status_code == 201
    source = tmp_path / "source.git"
    git("clone", "--mirror", "--", f"{fresh_emulator.git_url}/acme-corp/widgets.git", str(source), token=token)
    big = tmp_path / "work"
    git("init", "-b", "main", str(big))
    (big / "big.bin").write_bytes(os.urandom(3 << 20))  # over http.postBuffer: a chunked request body
    git("add", "big.bin", cwd=big)
    git("commit", "-m", "big ünï", cwd=big)
    git("push", "--mirror", "--", created.json()["clone_url"], cwd=source, token=token)
    git("push", "--", created.json()["clone_url"], "main:refs/heads/big", cwd=big, token=token)
    truth = fresh_emulator.state()["accounts"]["acme-corp"]["repositories"]
    pushed = truth["restored"]["refs"]
    assert {k: v for k, v in pushed.items() if k != "refs/heads/big"} == truth["widgets"]["refs"]
    git("clone", "--mirror", "--", created.json()["clone_url"], str(tmp_path / "back"), token=token)
    git("fsck", "--no-progress", cwd=tmp_path / "back")


def test_read_only_token_cannot_push(fresh_emulator: EmulatorProcess, tmp_path: Path) -> None:
    token = mint_token(fresh_emulator, "acme-corp", permissions={"contents": "read", "metadata": "read"})
    source = tmp_path / "src"
    git("clone", "--", f"{fresh_emulator.git_url}/acme-corp/-dash.git", str(source), token=token)
    (source / "x.txt").write_text("x")
    git("add", "x.txt", cwd=source)
    git("commit", "-m", "x", cwd=source)
    failed = git("push", "origin", "HEAD:main", cwd=source, token=token, check=False)
    assert failed.returncode != 0
