"""``backhub diff``: what changed between two snapshots of a customer, like ``restic diff``.

    backhub diff --customer C DATE1 DATE2 [--json]

Repositories added (``+``), removed (``-``) and changed (``M``, matched by GitHub's id, so a rename is a
change); within a changed one, refs created, moved and deleted with their old and new sha, the wiki's
state and refs, issues and pull requests opened, edited, closed (merged), reopened and deleted, their
comments, reviews and review comments added, removed and edited, and the counts that moved. Only reads:
exit 2 naming the customers or dates that exist when either date has no snapshot.
"""

from __future__ import annotations

import argparse
import json
import sys

from backhub_pipeline.cli.output import size
from resources import names

SHORT = 12  # sha digits in the text output; JSON carries all 40


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customer", required=True, help="the customer whose snapshots to compare")
    parser.add_argument("old", metavar="DATE1", help="the earlier snapshot date YYYY-MM-DD")
    parser.add_argument("new", metavar="DATE2", help="the later snapshot date YYYY-MM-DD")
    parser.add_argument("--json", action="store_true", help="print JSON (full shas, exact bytes) instead of text")


def run(args: argparse.Namespace) -> int:
    from backhub_pipeline import wiring
    from backhub_pipeline.restore.contents import diff_snapshots
    from backhub_pipeline.restore.snapshot import require_snapshots
    from backhub_pipeline.settings import Settings

    customer = names.customer(args.customer.lower())
    old, new = names.date(args.old), names.date(args.new)
    store = wiring.clients(Settings.from_env(), read_only=True).store
    require_snapshots(store, customer, [old, new])  # a typo is exit 2, naming what exists
    diff = diff_snapshots(store, customer, old, new)
    if args.json:
        json.dump(diff.as_dict(), sys.stdout, indent=2)
        print()
    else:
        print(render(diff))
    return 0


def render(diff) -> str:
    lines = [f"comparing {diff.customer} {diff.old_date} -> {diff.new_date}"]
    for repo in diff.added:
        lines.append(f"+ {repo.full_name}  ({len(repo.refs)} refs, wiki {repo.wiki}, {repo.counts['issues']} issues, "
                     f"{repo.counts['pull_requests']} pulls)")
    for repo in diff.removed:
        lines.append(f"- {repo.full_name}")
    for repo in diff.changed:
        lines.append(f"M {repo.full_name}" + (f"  (renamed from {repo.renamed_from})" if repo.renamed_from else ""))
        lines += _ref_lines(repo.refs, "")
        if repo.wiki:
            lines.append(f"    wiki: {repo.wiki}")
        lines += _ref_lines(repo.wiki_refs, "wiki ")
        for issue in repo.issues:
            what = issue.changes + [f"{count} {_thread(thread, count)} {verb}" for thread, verbs in issue.threads.items()
                                    for verb, count in verbs.items()]
            lines.append(f"    #{issue.number} {issue.kind}: {', '.join(what)}  \"{issue.title}\"")
        if repo.counts:
            lines.append("    counts: " + ", ".join(f"{key.replace('_', ' ')} {old} -> {new}"
                                                    for key, (old, new) in repo.counts.items()))
    if len(lines) == 1:
        lines.append("no changes")
    totals = {key: count for key, count in diff.totals().items() if count}
    lines.append("")
    lines.append("totals: " + (", ".join(f"{count} {key.replace('_', ' ')}" for key, count in totals.items())
                               or "nothing changed"))
    old, new = diff.sizes["old"], diff.sizes["new"]
    lines.append(f"logical: {size(old['logical_bytes'])} -> {size(new['logical_bytes'])}, "
                 f"stored: {size(old['stored_bytes'])} -> {size(new['stored_bytes'])}")
    return "\n".join(lines)


def _thread(thread: str, count: int) -> str:
    name = {"comments": "comment", "reviews": "review", "review_comments": "review comment"}[thread]
    return name if count == 1 else name + "s"


def _ref_lines(changes, prefix: str) -> list[str]:
    marks = {"created": "+", "deleted": "-", "moved": "M"}
    width = max((len(change.ref) for change in changes), default=0)
    lines = []
    for change in changes:
        shas = {"created": (change.new or "")[:SHORT], "deleted": (change.old or "")[:SHORT],
                "moved": f"{(change.old or '')[:SHORT]} -> {(change.new or '')[:SHORT]}"}[change.change]
        lines.append(f"    {marks[change.change]} {prefix}{change.ref.ljust(width)}  {shas}")
    return lines
