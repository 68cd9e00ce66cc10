"""``backhub backup``: take snapshots now, through the same definitions and instance the UI uses.

``backhub backup`` and ``backhub demo`` both call ``take_snapshots``: it makes sure the partitions exist,
runs ``snapshot_job`` for each (customer, date) against the Dagster instance, and summarizes each run
from its own recorded metadata and check evaluations.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg

from assets.partitions import SnapshotKey, customer_partitions, date_partitions
from backhub_pipeline.cli.output import size, table
from backhub_pipeline.cli.runs import QUIET, first_failure, run_job
from backhub_pipeline.settings import Settings
from resources.errors import ConfigurationError


def configure(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer", action="append", help="customer (installation account login); repeatable")
    who.add_argument("--all-customers", action="store_true", help="every installation of the GitHub App")
    parser.add_argument("--date", help="snapshot date YYYY-MM-DD (default: today, UTC); must be inside the window")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def installed_customers(settings: Settings) -> list[str]:
    from assets.partitions import customers_of
    from backhub_pipeline import wiring

    return sorted(customers_of(wiring.github_app(settings).installations()))


def run(args: argparse.Namespace) -> int:
    from backhub_pipeline import wiring
    from backhub_pipeline.definitions import definitions_from
    from resources import names

    settings = Settings.from_env()
    settings.require_github()
    date = names.date(args.date) if args.date else wiring.clock(settings).today()
    if args.all_customers:
        customers = installed_customers(settings)
        if not customers:
            raise ConfigurationError("the GitHub App has no installations: nothing to back up")
    else:
        customers = [names.customer(customer) for customer in args.customer]
    with wiring.instance(settings) as instance:
        summaries = take_snapshots(instance, definitions_from(settings),
                                   [SnapshotKey(customer, date) for customer in customers])
    if args.json:
        json.dump([summary.as_dict() for summary in summaries], sys.stdout, indent=2, default=str)
        print()
    else:
        print(render_table(summaries))
    return 0 if all(summary.success and not summary.checks_failed for summary in summaries) else 1


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


def take_snapshots(instance: dg.DagsterInstance, definitions: dg.Definitions, keys: Iterable[SnapshotKey]) -> list[SnapshotSummary]:
    keys = list(keys)
    ensure_partitions(instance, keys)
    return [summarize(key, run_job(instance, definitions, "snapshot_job", partition_key=key.partition_key,
                                   run_config=QUIET))
            for key in keys]


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
