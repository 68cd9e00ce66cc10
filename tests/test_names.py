"""Names that reach command lines and object keys: what is accepted and what is refused."""

from __future__ import annotations

import pytest

from resources import names
from resources.errors import InvalidNameError


@pytest.mark.parametrize("repo", ["-dash", "dots.in.name", ".github", "a", "under_score", "x" * 100])
def test_unusual_but_real_repository_names_are_accepted(repo: str) -> None:
    assert names.repository(repo) == repo


@pytest.mark.parametrize(
    "repo", ["", ".", "..", "a/b", "a b", "x" * 101, "repo.git", "-c=core.sshCommand=evil", "ü", "a\nb"]
)
def test_hostile_repository_names_are_refused(repo: str) -> None:
    with pytest.raises(InvalidNameError):
        names.repository(repo)


@pytest.mark.parametrize("name", ["Acme", "a-b", "a1"])
def test_logins_are_accepted(name: str) -> None:
    assert names.owner(name) == name


@pytest.mark.parametrize("name", ["-acme", "acme-", "a--b", "a/b", "", "x" * 40, "../etc"])
def test_hostile_logins_are_refused(name: str) -> None:
    with pytest.raises(InvalidNameError):
        names.owner(name)


def test_customers_must_be_lower_case() -> None:
    assert names.customer("acme-corp") == "acme-corp"
    with pytest.raises(InvalidNameError):
        names.customer("Acme")


@pytest.mark.parametrize("ref", ["refs/heads/main", "refs/pull/1/head", "refs/notes/commits", "refs/tags/v1.0"])
def test_ordinary_refs_are_accepted(ref: str) -> None:
    assert names.ref(ref) == ref


@pytest.mark.parametrize(
    "ref", ["main", "refs/heads/a..b", "refs/heads/x.lock", "refs/heads/-x y", "refs/heads/a\x00", "refs/heads/.hidden", "refs//x"]
)
def test_malformed_refs_are_refused(ref: str) -> None:
    with pytest.raises(InvalidNameError):
        names.ref(ref)


def test_dates_must_be_real_calendar_days() -> None:
    assert names.date("2026-02-28") == "2026-02-28"
    for bad in ["2026-02-30", "2026-2-1", "20260201", "2026-02-01T00:00"]:
        with pytest.raises(InvalidNameError):
            names.date(bad)


def test_full_names_split_into_owner_and_repository() -> None:
    assert names.full_name("octo/-dash") == ("octo", "-dash")
    with pytest.raises(InvalidNameError):
        names.full_name("octo/a/b")
