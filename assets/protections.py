"""A repository's protections and settings: protected branches, rulesets, environments, autolinks.

They change rarely and cost several requests to read, so they are read on the repository's full-read
day (``BackupPolicy.full_read_due``, spread evenly over the cycle) and on its first snapshot; every
other day's inventory entry names the same blob with the date it was read (``read_on``). A kind the
App may not read is recorded as such, never as "none". Environment secrets and variables are never
read: GitHub serves them through other endpoints, which we do not call.
"""

from __future__ import annotations

from typing import Any

from resources.github import InstallationClient

KINDS = ("branch_protections", "rulesets", "environments", "autolinks")


def read_protections(client: InstallationClient, full_name: str) -> dict[str, Any]:
    """The settings of one repository as GitHub serves them; ``not_permitted`` lists the kinds refused."""
    found: dict[str, Any] = {
        "branch_protections": client.branch_protections(full_name),
        "rulesets": client.rulesets(full_name),
        "environments": client.environments(full_name),
        "autolinks": client.autolinks(full_name),
    }
    refused = sorted(kind for kind, value in found.items() if value is None)
    return {**{kind: value for kind, value in found.items() if value is not None}, "not_permitted": refused}
