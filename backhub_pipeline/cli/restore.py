"""``backhub restore``: a snapshot back to a folder, or one repository back to GitHub.

    backhub restore --customer C --date D [--repo OWNER/NAME] --to DIR [--force]
    backhub restore --customer C --date D --repo OWNER/NAME --to-github [--as NEW_NAME] [--resume]

A folder restore is built beside DIR and renamed into place only when complete; an existing,
non-empty DIR is refused unless ``--force``, which replaces only a folder an earlier restore made. A
DIR that is, holds or lies inside backhub's own data (store, keyring, audit log, git cache, Dagster
home) is always refused. A GitHub restore refuses an existing repository unless
``--resume`` (continue an interrupted restore into it). Progress goes to stderr; each restore is
recorded in the audit log.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from resources import names
from resources.errors import ConfigurationError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customer", required=True, help="the customer whose snapshot to restore")
    parser.add_argument("--date", required=True, help="snapshot date YYYY-MM-DD (see `backhub snapshots`)")
    parser.add_argument("--repo", help="only this repository, OWNER/NAME")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--to", metavar="DIR", help="restore into this folder (must not exist, or be empty)")
    where.add_argument("--to-github", action="store_true", help="recreate --repo as a new repository on GitHub")
    parser.add_argument("--as", dest="new_name", metavar="NEW_NAME", help="with --to-github: the new repository's name")
    parser.add_argument("--force", action="store_true", help="with --to: replace DIR if an earlier restore made it (only once this restore is complete)")
    parser.add_argument("--resume", action="store_true", help="with --to-github: continue an interrupted restore into the existing repository")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    from backhub_pipeline import wiring
    from backhub_pipeline.restore.audited import audited
    from backhub_pipeline.restore.snapshot import require_snapshots
    from backhub_pipeline.restore.to_folder import check_target, restore_to_directory
    from backhub_pipeline.restore.to_github import restore_to_github
    from backhub_pipeline.settings import Settings

    customer, date = names.customer(args.customer), names.date(args.date)
    if args.repo:
        names.full_name(args.repo)
    if args.to_github and not args.repo:
        raise ConfigurationError("--to-github restores one repository: name it with --repo OWNER/NAME")
    if args.new_name and not args.to_github:
        raise ConfigurationError("--as only applies with --to-github")
    if args.resume and not args.to_github:
        raise ConfigurationError("--resume only applies with --to-github")
    if args.force and args.to_github:
        raise ConfigurationError("--force only applies with --to; a GitHub restore never overwrites a repository")
    settings = Settings.from_env()
    if args.to:  # a refused target is the operator's to fix: nothing is opened, read or recorded
        check_target(Path(args.to).absolute(), force=args.force, protected=settings.local_paths())
    clients = wiring.clients(settings, read_only=True)
    require_snapshots(clients.store, customer, [date])
    progress = (lambda _m: None) if args.quiet else (lambda message: print(message, file=sys.stderr, flush=True))
    target = f"github:{args.repo.split('/')[0]}/{args.new_name or args.repo.split('/')[1]}" if args.to_github else args.to
    details = {"repository": args.repo or "all", "to": target}
    with audited(clients.audit_log, actor=f"operator:{getpass.getuser()}", action="restore", customer=customer,
                 snapshot=date, details=details) as extra:
        if args.to_github:
            result = restore_to_github(clients.store, clients.git, clients.github(), customer, date, args.repo,
                                       new_name=args.new_name, resume=args.resume, progress=progress)
            extra.update(issues_created=result.issues_created, refs_pushed=result.refs_pushed)
        else:
            result = restore_to_directory(clients.store, clients.git, customer, date, args.to, repo=args.repo,
                                          force=args.force, protected=settings.local_paths(), progress=progress)
            extra.update(repositories=len(result.repositories))
    if args.json:
        json.dump(result.as_dict(), sys.stdout, indent=2, ensure_ascii=False)
        print()
    elif args.to_github:
        print(f"restored {result.source} ({date}) to {result.repository}: {result.refs_pushed} refs, "
              f"{result.labels_created} labels, {result.milestones_created} milestones, {result.issues_created} issues "
              f"(+{result.issues_resumed} resumed), {result.comments_created} comments"
              + (f", {result.lfs_uploaded} Git LFS objects uploaded" if result.lfs_uploaded else "")
              + f" in {result.seconds:.1f} s")
        for note in result.notes:
            print(f"  note: {note}")
    else:
        for leftover in result.leftovers_removed:
            print(f"removed {leftover}: the staging folder of an earlier restore that was stopped")
        print(f"restored {len(result.repositories)} repositories of {customer} ({date}) into {result.target} "
              f"in {result.seconds:.1f} s")
        for repo in result.repositories:
            state = f"not restored, {repo.skipped}" if repo.skipped and not repo.refs else (
                f"{repo.refs} refs, wiki {repo.wiki}, {repo.issues} issues, {repo.pull_requests} pulls, "
                f"{repo.comments} comments"
                + (f", {repo.lfs_objects} Git LFS objects" if repo.lfs_objects else "")
                + (f" ({repo.lfs_missing} not in the backup: GitHub had none)" if repo.lfs_missing else ""))
            print(f"  {repo.full_name}: {state}")
    return 0
