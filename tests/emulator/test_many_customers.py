"""``--customers N``: many light installations, listed page by page at /app/installations as GitHub does."""

from __future__ import annotations

from pathlib import Path

import requests

from github_emulator.process import EmulatorProcess
from resources.github import GitHubApp
from tests.conformance.openapi import parse_link_header, validate_requests_response
from tests.emulator.conftest import app_jwt
from tests.fixtures_emulator import start_emulator

CUSTOMERS = 130  # two pages of 100, and five of 30 (GitHub's default page size)


def test_customers_fills_the_world_with_light_installations_listed_in_pages_that_conform(tmp_path: Path) -> None:
    emulator: EmulatorProcess = start_emulator(tmp_path, extra_args=("--customers", str(CUSTOMERS)))
    try:
        accounts = [inst["account"] for inst in emulator.info["installations"]]
        assert len(accounts) == CUSTOMERS and accounts[:2] == ["acme-corp", "zoe-dev"]  # the scale's own first
        assert accounts[2] == "customer-00003" and accounts[-1] == f"customer-{CUSTOMERS:05d}"

        headers = {"Authorization": f"Bearer {app_jwt(emulator)}", "Accept": "application/vnd.github+json"}
        listed, url, pages = [], f"{emulator.api_url}/app/installations?per_page=100", 0
        while url:
            response = requests.get(url, headers=headers, timeout=30)
            assert response.status_code == 200, response.text
            validate_requests_response(response)  # body, Link header and the rest against GitHub's description
            listed += [item["account"]["login"] for item in response.json()]
            url = parse_link_header(response.headers["Link"]).get("next") if "Link" in response.headers else None
            pages += 1
        assert pages == 2 and listed == accounts
        default = requests.get(f"{emulator.api_url}/app/installations", headers=headers, timeout=30)
        links = parse_link_header(default.headers["Link"])
        assert len(default.json()) == 30 and links["last"].endswith("page=5")

        # The pipeline's own client pages through them all; a light customer has one small repository.
        client = GitHubApp(api_url=emulator.api_url, app_id=str(emulator.app_id), private_key=emulator.private_key)
        assert sorted(i.account for i in client.installations()) == sorted(accounts)
        assert [repo["name"] for repo in client.installation_for("customer-00042").repositories()] == ["app"]
    finally:
        emulator.stop()
