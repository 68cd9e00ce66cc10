"""GitHub App authentication: JWTs, installation tokens, their scopes and their expiry."""

from __future__ import annotations

import time

import github
import jwt
import pytest
import requests
from github import Auth

from github_emulator.process import EmulatorProcess
from tests.emulator.conftest import app_jwt, installation_client, mint_token


def test_app_auth_end_to_end_with_pygithub(emulator: EmulatorProcess) -> None:
    app_auth = Auth.AppAuth(emulator.app_id, emulator.private_key)
    integration = github.GithubIntegration(auth=app_auth, base_url=emulator.api_url)
    accounts = {inst.account.login for inst in integration.get_installations()}
    assert accounts == {"acme-corp", "zoe-dev"}
    assert integration.get_app().slug == "backhub-emulator"
    gh = installation_client(emulator, "acme-corp")
    names = {repo.name for repo in gh.get_repo("acme-corp/widgets").owner.get_repos()}
    assert {"widgets", "-dash", "dots.in.name", ".github", "empty"} <= names


def test_api_v3_base_url_serves_the_same_api(emulator: EmulatorProcess) -> None:
    gh = installation_client(emulator, "acme-corp", base_url=f"{emulator.api_url}/api/v3")
    repo = gh.get_repo("acme-corp/dots.in.name")
    assert repo.url == f"{emulator.api_url}/api/v3/repos/acme-corp/dots.in.name"
    assert repo.clone_url == f"{emulator.git_url}/acme-corp/dots.in.name.git"


def test_bad_credentials_are_refused_with_githubs_message(emulator: EmulatorProcess) -> None:
    response = requests.get(f"{emulator.api_url}/installation/repositories", headers={"Authorization": "token ghs_nope"}, timeout=10)
    assert response.status_code == 401
    assert response.json()["message"] == "Bad credentials"
    assert response.json()["documentation_url"].startswith("https://docs.github.com/")
    assert "x-ratelimit-remaining" in response.headers


def test_jwt_expiring_more_than_ten_minutes_ahead_is_refused(emulator: EmulatorProcess) -> None:
    token = app_jwt(emulator, lifetime=660)
    response = requests.get(f"{emulator.api_url}/app", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 401
    assert response.json()["message"] == "'Expiration time' claim ('exp') is too far in the future"


def test_jwt_signed_with_another_key_is_refused(emulator: EmulatorProcess) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    token = jwt.encode({"iat": now - 30, "exp": now + 300, "iss": str(emulator.app_id)}, other, algorithm="RS256")
    response = requests.get(f"{emulator.api_url}/app", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 401
    assert response.json()["message"] == "A JSON web token could not be decoded"


def test_token_and_bearer_schemes_are_both_accepted(emulator: EmulatorProcess) -> None:
    token = mint_token(emulator, "acme-corp")
    names: list[list[str]] = []
    for scheme in ("token", "Bearer"):
        response = requests.get(f"{emulator.api_url}/installation/repositories", headers={"Authorization": f"{scheme} {token}"}, timeout=10)
        assert response.status_code == 200
        body = response.json()
        assert body["total_count"] == len(body["repositories"]) > 0
        names.append(sorted(repo["full_name"] for repo in body["repositories"]))
    assert names[0] == names[1]


def test_token_as_basic_auth_user_name_is_accepted(emulator: EmulatorProcess) -> None:
    token = mint_token(emulator, "acme-corp")
    url = f"{emulator.api_url}/installation/repositories"
    for password in ("", "x-oauth-basic"):
        assert requests.get(url, auth=(token, password), timeout=10).status_code == 200
    assert requests.get(url, auth=("x-access-token", token), timeout=10).status_code == 200
    assert requests.get(url, auth=("not-a-token", ""), timeout=10).status_code == 401


def test_authenticated_user_endpoint_refuses_an_installation_with_403(emulator: EmulatorProcess) -> None:
    token = mint_token(emulator, "acme-corp")
    response = requests.get(f"{emulator.api_url}/user", headers={"Authorization": f"token {token}"}, timeout=10)
    assert response.status_code == 403
    assert response.json()["message"] == "Resource not accessible by integration"
    assert requests.get(f"{emulator.api_url}/user", timeout=10).status_code == 401


def test_private_repository_of_another_installation_is_not_found(emulator: EmulatorProcess) -> None:
    gh = installation_client(emulator, "acme-corp")
    with pytest.raises(github.UnknownObjectException):
        gh.get_repo("zoe-dev/dotfiles")
    assert gh.get_repo("acme-corp/widgets").name == "widgets"


def test_token_down_scoped_to_repositories_sees_only_those(emulator: EmulatorProcess) -> None:
    token = mint_token(emulator, "acme-corp", repositories=["-dash"], permissions={"metadata": "read", "issues": "read"})
    headers = {"Authorization": f"token {token}"}
    listed = requests.get(f"{emulator.api_url}/installation/repositories", headers=headers, timeout=10).json()
    assert [r["name"] for r in listed["repositories"]] == ["-dash"]
    assert requests.get(f"{emulator.api_url}/repos/acme-corp/empty", headers=headers, timeout=10).status_code == 404
    pulls = requests.get(f"{emulator.api_url}/repos/acme-corp/-dash/pulls", headers=headers, timeout=10)
    assert pulls.status_code == 403
    assert pulls.json()["message"] == "Resource not accessible by integration"


def test_permissions_beyond_the_installation_are_refused(emulator: EmulatorProcess) -> None:
    response = requests.post(
        f"{emulator.api_url}/app/installations/{emulator.installation_id('zoe-dev')}/access_tokens",
        headers={"Authorization": f"Bearer {app_jwt(emulator)}"},
        json={"permissions": {"repository_hooks": "read"}},
        timeout=10,
    )
    assert response.status_code == 422


def test_hooks_need_the_hooks_permission(emulator: EmulatorProcess) -> None:
    org = installation_client(emulator, "acme-corp")
    assert [h.name for h in org.get_repo("acme-corp/widgets").get_hooks()] == ["web"]
    user = installation_client(emulator, "zoe-dev")
    with pytest.raises(github.GithubException) as raised:
        list(user.get_repo("zoe-dev/notes").get_hooks())
    assert raised.value.status == 403


def test_expired_token_is_refused(fresh_emulator: EmulatorProcess) -> None:
    token = mint_token(fresh_emulator, "acme-corp")
    url = f"{fresh_emulator.api_url}/repos/acme-corp/widgets"
    assert requests.get(url, headers={"Authorization": f"token {token}"}, timeout=10).status_code == 200
    assert fresh_emulator.control("POST", "tokens/expire")["expired"] >= 1
    response = requests.get(url, headers={"Authorization": f"token {token}"}, timeout=10)
    assert response.status_code == 401
    assert response.json()["message"] == "Bad credentials"
