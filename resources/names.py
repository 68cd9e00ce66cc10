"""Validation of every name that reaches a command line, a file path or an object key.

Names come from GitHub (owner, repository, ref) or from operators (customer, date). Each validator
returns the name unchanged when it is safe and raises ``InvalidNameError`` naming what is wrong
otherwise. Git is still always called with ``--`` before positional arguments: validation is the
first line of defence, not the only one.
"""

from __future__ import annotations

import datetime as dt
import re

from resources.errors import InvalidNameError

# GitHub logins: alphanumerics and single hyphens, no leading hyphen, at most 39 characters.
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
# Customers are lower-cased logins: they name folders, object-key prefixes and partition keys.
_CUSTOMER = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,38}")
# GitHub repository names: ASCII letters, digits, '.', '-', '_'; at most 100 characters.
_REPO = re.compile(r"[A-Za-z0-9._-]{1,100}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def customer(name: str) -> str:
    if not isinstance(name, str) or not _CUSTOMER.fullmatch(name):
        raise InvalidNameError(f"invalid customer name {name!r}: expected a lower-case GitHub login")
    return name


def owner(name: str) -> str:
    if not isinstance(name, str) or not _LOGIN.fullmatch(name):
        raise InvalidNameError(f"invalid owner {name!r}: expected a GitHub login")
    return name


def repository(name: str) -> str:
    if not isinstance(name, str) or not _REPO.fullmatch(name) or name in {".", ".."}:
        raise InvalidNameError(f"invalid repository name {name!r}")
    if name.lower().endswith(".git"):
        raise InvalidNameError(f"invalid repository name {name!r}: must not end in .git")
    return name


def full_name(name: str) -> tuple[str, str]:
    """Split and validate ``owner/repo``."""
    if not isinstance(name, str) or name.count("/") != 1:
        raise InvalidNameError(f"invalid repository full name {name!r}: expected OWNER/NAME")
    own, repo = name.split("/")
    return owner(own), repository(repo)


def ref(name: str) -> str:
    """A fully qualified ref, following git check-ref-format's rules."""
    if (
        not isinstance(name, str)
        or not name.startswith("refs/")
        or len(name) > 1024
        or _REF_FORBIDDEN.search(name)
        or ".." in name
        or "@{" in name
        or "//" in name
        or name.endswith(("/", ".", ".lock"))
        or any(part.startswith(".") or part.endswith(".lock") for part in name.split("/"))
    ):
        raise InvalidNameError(f"invalid ref name {name!r}")
    return name


def sha(value: str) -> str:
    if not isinstance(value, str) or not _SHA.fullmatch(value):
        raise InvalidNameError(f"invalid object id {value!r}")
    return value


def lfs_oid(value: str) -> str:
    """A Git LFS object id: sha256, 64 lower-case hex digits (it names files on restore)."""
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
        raise InvalidNameError(f"invalid Git LFS object id {value!r}")
    return value


def date(value: str) -> str:
    """A partition date key: ``YYYY-MM-DD``, a real calendar date."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise InvalidNameError(f"invalid date {value!r}: expected YYYY-MM-DD")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidNameError(f"invalid date {value!r}: not a calendar date") from None
    return value
