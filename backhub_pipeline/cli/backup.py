"""``backhub backup``: take snapshots now, through the same definitions and instance the UI uses.

``backhub backup`` and ``backhub demo`` both call ``take_snapshots``: it makes sure the partitions exist,
runs ``snapshot_job`` for each (customer, date) against the Dagster instance, and summarizes each run
from its own recorded metadata and check evaluations. Both print ``progress_line`` for each customer as
its run ends (``backup`` on stderr, so ``--json`` output stays one document), then the table.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg

from assets.partitions import SnapshotKey, customer_partitions, date_partitions
from backhub_pipeline.cli.output import size, table
from backhub_pipeline.cli.runs import QUIET, first_failure, run_job
from backhub_pipeline.settings import Settings
from resources.errors import ConfigurationError, DateOutsideWindowError, GitHubUnavailableError


def configure(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer", action="append", help="customer (installation account login); repeatable")
    who.add_argument("--all-customers", action="store_true", help="every installation of the GitHub App")
    parser.add_argument("--date", help="snapshot date YYYY-MM-DD (default: today, UTC); must be inside the window")
    parser.add_argument("--replace", action="store_true",
                        help="replace a snapshot already committed for that date with GitHub's data now")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def installed_customers(settings: Settings, *, fail_fast: bool = False) -> list[str]:
    from assets.partitions import customers_of
    from backhub_pipeline import wiring

    try:
        return sorted(customers_of(wiring.github_app(settings, fail_fast=fail_fast).installations()))
    except GitHubUnavailableError as exc:
        raise ConfigurationError(f"GitHub at {settings.github_api_url} did not answer ({exc}): check "
                                 "BACKHUB_GITHUB_API_URL and the network") from exc


def run(args: argparse.Namespace) -> int:
    from backhub_pipeline import wiring
    from backhub_pipeline.definitions import definitions_from

    settings = Settings.from_env()
    settings.require_github()
    # Everything is checked before a partition key is added or a run launched: a typo leaves no trace.
    date = backup_date(settings, args.date)
    installed = installed_customers(settings, fail_fast=True)
    if args.all_customers:
        customers = installed
        if not customers:
            raise ConfigurationError("the GitHub App has no installations: nothing to back up")
    else:
        customers = [installed_customer(customer, installed) for customer in args.customer]
    for customer in customers:
        committed = wiring.committed_snapshots(settings, customer).get(date)
        if committed and not args.replace:
            raise ConfigurationError(f"{customer} already has a snapshot of {date} ({', '.join(committed)}): "
                                     "add --replace to replace it with GitHub's data now")
        if committed:
            print(f"replacing the snapshot of {customer} on {date} ({', '.join(committed)} committed) with "
                  "GitHub's data now", file=sys.stderr)
    with wiring.instance(settings) as instance:
        summaries = take_snapshots(instance, definitions_from(settings),
                                   [SnapshotKey(customer, date) for customer in customers],
                                   progress=lambda summary: print(progress_line(summary), file=sys.stderr, flush=True))
    if args.json:
        json.dump([summary.as_dict() for summary in summaries], sys.stdout, indent=2, default=str)
        print()
    else:
        print(render_table(summaries))
    return 0 if all(summary.success and not summary.checks_failed for summary in summaries) else 1


def backup_date(settings: Settings, value: str | None) -> str:
    """The date to back up: today unless given; never in the future or outside the retention window."""
    from assets.policy import BackupPolicy
    from backhub_pipeline import wiring
    from resources import names

    clock = wiring.clock(settings)
    policy = BackupPolicy(retention_days=settings.retention_days)
    date = names.date(value) if value else clock.today()
    try:
        policy.check_date(date, clock)
    except DateOutsideWindowError as exc:
        oldest, today = policy.window(clock)
        raise DateOutsideWindowError(f"{exc}; give a --date from {oldest} to {today}") from None
    return date


def installed_customer(name: str, installed: list[str]) -> str:
    """``name`` as the customer key of an installation (case does not matter), or ConfigurationError
    with the closest installed name."""
    from resources import names

    customer = names.customer(name.lower())
    if customer in installed:
        return customer
    close = difflib.get_close_matches(customer, installed, n=1)
    raise ConfigurationError(f"{name} is not a customer: the GitHub App has no installation of that account"
                             + (f"; did you mean {close[0]}?" if close else "")
                             + f" (installed: {', '.join(installed) or 'none'})")


# -- taking snapshots through the instance -----------------------------------------------------------


@dataclass
class SnapshotSummary:
    customer: str
    date: str
    success: bool
    run_id: str
    repositories: int = 0
    issues: int = 0
    pull_requests: int = 0
    comments: int = 0
    wikis: int = 0
    logical_bytes: int = 0
    new_bytes: int = 0  # new encrypted bytes this snapshot stored (the rest was already there)
    api_requests: int = 0
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    check_descriptions: dict[str, str] = field(default_factory=dict)
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _value(entry: Any) -> Any:
    return getattr(entry, "value", entry)


def ensure_partitions(instance: dg.DagsterInstance, keys: Iterable[SnapshotKey]) -> None:
    keys = list(keys)
    for definition, wanted in ((customer_partitions, {key.customer for key in keys}),
                               (date_partitions, {key.date for key in keys})):
        missing = sorted(wanted - set(instance.get_dynamic_partitions(definition.name)))
        if missing:
            instance.add_dynamic_partitions(definition.name, missing)


def summarize(key: SnapshotKey, result: dg.ExecuteInProcessResult) -> SnapshotSummary:
    summary = SnapshotSummary(customer=key.customer, date=key.date, success=result.success, run_id=result.run_id)
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        metadata = {name: _value(value) for name, value in materialization.metadata.items()}
        summary.assets[materialization.asset_key.to_user_string()] = metadata
    for metadata in summary.assets.values():
        summary.logical_bytes += int(metadata.get("logical_bytes", 0))
        summary.new_bytes += int(metadata.get("new_bytes", 0))
        summary.api_requests += int(metadata.get("api_requests", 0))
    inventory = summary.assets.get("inventory", {})
    issues = summary.assets.get("issues", {})
    wikis = summary.assets.get("wikis", {})
    summary.repositories = int(inventory.get("repositories", 0))
    summary.issues = int(issues.get("issues", 0))
    summary.pull_requests = int(issues.get("pull_requests", 0))
    summary.comments = int(issues.get("comments", 0)) + int(issues.get("review_comments", 0))
    summary.wikis = int(wikis.get("wikis_populated", 0))
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed:
            summary.checks_passed += 1
        else:
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            summary.checks_failed.append(name)
            summary.check_descriptions[name] = evaluation.description or ""
    if not result.success:
        failure = first_failure(result)
        summary.error = f"{failure[0]}: {failure[1]}" if failure else "run failed"
    return summary


def take_snapshots(instance: dg.DagsterInstance, definitions: dg.Definitions, keys: Iterable[SnapshotKey], *,
                   progress: Callable[[SnapshotSummary], None] | None = None) -> list[SnapshotSummary]:
    """One run of ``snapshot_job`` per key, one after another; ``progress`` hears of each as it ends."""
    keys = list(keys)
    ensure_partitions(instance, keys)
    summaries = []
    for key in keys:
        summaries.append(summarize(key, run_job(instance, definitions, "snapshot_job",
                                                partition_key=key.partition_key, run_config=QUIET)))
        if progress:
            progress(summaries[-1])
    return summaries


def progress_line(summary: SnapshotSummary) -> str:
    """One line per customer as its snapshot ends (``backhub backup`` and the demo): what an operator waits for."""
    if not summary.success:
        return f"{summary.customer}: FAILED ({summary.error})"
    checks = f"{summary.checks_passed} checks passed" + (f", {len(summary.checks_failed)} FAILED"
                                                         if summary.checks_failed else "")
    return (f"{summary.customer}: committed, {summary.repositories} repositories, {size(summary.logical_bytes)} "
            f"logical, {size(summary.new_bytes)} new, {checks}")


def render_table(summaries: Iterable[SnapshotSummary]) -> str:
    headers = ["customer", "date", "repos", "issues", "pulls", "comments", "wikis", "logical", "new", "api", "checks"]
    rows = []
    for s in summaries:
        checks = f"{s.checks_passed} passed" + (f", {len(s.checks_failed)} FAILED" if s.checks_failed else "")
        if not s.success:
            checks = f"RUN FAILED ({s.error})" if s.error else "RUN FAILED"
        rows.append([s.customer, s.date, str(s.repositories), str(s.issues), str(s.pull_requests), str(s.comments),
                     str(s.wikis), size(s.logical_bytes), size(s.new_bytes), str(s.api_requests), checks])
    return table(headers, rows)
