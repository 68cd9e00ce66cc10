"""``backhub backup``: take snapshots now, through the same definitions and instance the UI uses."""

from __future__ import annotations

import argparse
import json
import sys

from resources.errors import ConfigurationError


def configure(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer", action="append", help="customer (installation account login); repeatable")
    who.add_argument("--all-customers", action="store_true", help="every installation of the GitHub App")
    parser.add_argument("--date", help="snapshot date YYYY-MM-DD (default: today, UTC); must be inside the window")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def installed_customers(settings) -> list[str]:
    from assets.partitions import customers_of
    from backhub_pipeline.wiring import github_app

    return sorted(customers_of(github_app(settings).installations()))


def run(args: argparse.Namespace) -> int:
    import dagster as dg

    from assets.partitions import SnapshotKey
    from backhub_pipeline.definitions import defs
    from backhub_pipeline.settings import Settings
    from backhub_pipeline.snapshots import render_table, take_snapshots
    from resources import names
    from resources.clock import Clock

    settings = Settings.from_env()
    settings.require_github()
    date = names.date(args.date) if args.date else Clock(offset_days=settings.clock_offset_days).today()
    if args.all_customers:
        customers = installed_customers(settings)
        if not customers:
            raise ConfigurationError("the GitHub App has no installations: nothing to back up")
    else:
        customers = [names.customer(customer) for customer in args.customer]
    instance = dg.DagsterInstance.get()
    summaries = take_snapshots(instance, defs(), [SnapshotKey(customer, date) for customer in customers])
    if args.json:
        json.dump([summary.as_dict() for summary in summaries], sys.stdout, indent=2, default=str)
        print()
    else:
        print(render_table(summaries))
    return 0 if all(summary.success and not summary.checks_failed for summary in summaries) else 1
