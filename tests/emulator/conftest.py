"""Helpers shared by the emulator tests: App-authenticated PyGithub clients and raw token requests."""

from __future__ import annotations

import time
from typing import Any

import github
import jwt
import pytest
import requests
from github import Auth

from github_emulator.process import EmulatorProcess


def app_jwt(em: EmulatorProcess, *, lifetime: int = 300, iat_offset: int = -30) -> str:
    now = int(time.time())
    claims = {"iat": now + iat_offset, "exp": now + lifetime, "iss": str(em.app_id)}
    return jwt.encode(claims, em.private_key, algorithm="RS256")


def installation_client(em: EmulatorProcess, account: str, *, base_url: str | None = None, **kwargs: Any) -> github.Github:
    auth = Auth.AppAuth(em.app_id, em.private_key).get_installation_auth(em.installation_id(account))
    verify = em.info.get("ca_cert", True)
    return github.Github(auth=auth, base_url=base_url or em.api_url, verify=verify, **kwargs)


def mint_token(em: EmulatorProcess, account: str, **body: Any) -> str:
    response = requests.post(
        f"{em.api_url}/app/installations/{em.installation_id(account)}/access_tokens",
        headers={"Authorization": f"Bearer {app_jwt(em)}"},
        json=body or None,
        timeout=30,
        verify=em.info.get("ca_cert", True),
    )
    assert response.status_code == 201, response.text
    return response.json()["token"]


@pytest.fixture
def session() -> Any:
    with requests.Session() as s:
        yield s
