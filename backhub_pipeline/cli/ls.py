"""``backhub ls``: what one snapshot holds, like ``restic ls``.

    backhub ls --customer C [--date D] [--repo OWNER/NAME] [--json]

One row per repository: its branches, tags and other refs, wiki state, issue, pull request and comment
counts, and sizes (``logical``/``stored``, docs/format.md "Sizes"); with ``--repo``, every ref and its
sha as well. The date defaults to the customer's latest snapshot. Only reads: exit 2 naming the
customers or dates that exist when the customer, date or repository has no snapshot.
"""

from __future__ import annotations

import argparse
import json
import sys

from backhub_pipeline.cli.output import size, table
from resources import names


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customer", required=True, help="the customer whose snapshot to list")
    parser.add_argument("--date", help="the snapshot date YYYY-MM-DD (default: the customer's latest)")
    parser.add_argument("--repo", help="only this repository, OWNER/NAME, with every ref and its sha")
    parser.add_argument("--json", action="store_true", help="print JSON (every ref, exact bytes) instead of a table")


def run(args: argparse.Namespace) -> int:
    from backhub_pipeline import wiring
    from backhub_pipeline.restore.contents import snapshot_contents
    from backhub_pipeline.restore.snapshot import BACKUP_ASSETS, require_snapshots
    from backhub_pipeline.settings import Settings
    from resources.errors import SnapshotNotFoundError

    customer = names.customer(args.customer.lower())
    date = names.date(args.date) if args.date else None
    if args.repo:
        names.full_name(args.repo)
    store = wiring.clients(Settings.from_env(), read_only=True).store
    listing = require_snapshots(store, customer, [date] if date else None)  # a typo is exit 2, naming what exists
    if date is None:  # the latest complete snapshot: a day whose backup failed part-way is not one
        complete = [day for day, assets in listing.items() if set(BACKUP_ASSETS) <= set(assets)]
        if not complete:
            raise SnapshotNotFoundError(f"no complete snapshot of {customer} (dates: {', '.join(sorted(listing))}; "
                                        "name one with --date to see what it holds)")
        date = max(complete)
    contents = snapshot_contents(store, customer, date, repo=args.repo)
    if args.json:
        json.dump(contents.as_dict(), sys.stdout, indent=2)
        print()
        return 0
    print(f"snapshot {contents.customer} {contents.date}: {len(contents.repositories)} repositories, "
          f"{size(contents.logical_bytes)} logical, {size(contents.stored_bytes)} stored")
    print(render(contents.repositories))
    for repo in contents.repositories if args.repo else []:
        print(f"\nrefs of {repo.full_name}:\n{_ref_lines(repo.refs)}" if repo.refs else f"\n{repo.full_name} has no refs")
        if repo.wiki_refs:
            print(f"\nrefs of {repo.full_name}.wiki:")
            print(_ref_lines(repo.wiki_refs))
    return 0


def render(repositories) -> str:
    headers = ["repository", "branches", "tags", "other refs", "wiki", "issues", "pulls", "comments", "logical",
               "stored", "note"]
    rows = []
    for repo in repositories:
        branches = sum(ref.startswith("refs/heads/") for ref in repo.refs)
        tags = sum(ref.startswith("refs/tags/") for ref in repo.refs)
        counts = repo.counts
        rows.append([repo.full_name, str(branches), str(tags), str(len(repo.refs) - branches - tags),
                     repo.wiki + (f" ({len(repo.wiki_refs)} refs)" if repo.wiki_refs else ""),
                     str(counts["issues"]), str(counts["pull_requests"]),
                     str(counts["comments"] + counts["review_comments"]), size(repo.logical_bytes),
                     size(repo.stored_bytes), repo.reason or ""])
    return table(headers, rows)


def _ref_lines(refs: dict[str, str]) -> str:
    width = max((len(ref) for ref in refs), default=0)
    return "\n".join(f"  {ref.ljust(width)}  {sha}" for ref, sha in refs.items())
