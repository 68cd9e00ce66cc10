"""``backhub snapshots``: every snapshot with its assets, repositories, sizes and check status.

    backhub snapshots [--customer C] [--json]

Sizes come from the manifests and one listing of the customer's blobs. The check status is the
latest evaluation of each asset check for the snapshot's partition, read from the Dagster instance
under the configured Dagster home when there is one ("unknown" otherwise).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from backhub_pipeline.cli.output import size, table
from backhub_pipeline.settings import Settings
from resources import names

CUSTOMER_TAG = "dagster/partition/customer"
DATE_TAG = "dagster/partition/date"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customer", action="append", help="only this customer; repeatable (default: every customer in the store)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def check_status_reader(settings: Settings, customer: str) -> tuple[Callable[[str], str], Callable[[], None]]:
    """A function date -> check status from the Dagster instance, and a function to close it."""
    if not Path(settings.dagster_home).is_dir():
        return (lambda _date: "unknown"), (lambda: None)
    import dagster as dg
    from dagster import DagsterEventType

    from backhub_pipeline import wiring

    try:
        instance = wiring.instance(settings)
    except Exception:  # an instance that cannot be opened only costs us the check column
        return (lambda _date: "unknown"), (lambda: None)

    def status(date: str) -> str:
        latest: dict[tuple[str, str], tuple[float, bool]] = {}
        runs = instance.get_runs(filters=dg.RunsFilter(tags={CUSTOMER_TAG: customer, DATE_TAG: date}))
        for run in runs:
            for record in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
                evaluation = record.get_dagster_event().event_specific_data
                key = (evaluation.asset_key.to_user_string(), evaluation.check_name)
                if key not in latest or record.timestamp > latest[key][0]:
                    latest[key] = (record.timestamp, bool(evaluation.passed))
        if not latest:
            return "unknown"
        failed = sorted(f"{asset}:{check}" for (asset, check), (_, passed) in latest.items() if not passed)
        return f"FAILED {', '.join(failed)}" if failed else f"{len(latest)} passed"

    return status, instance.dispose


def render(listings) -> str:
    headers = ["customer", "date", "assets", "repos", "logical", "stored", "new", "checks"]
    rows = [[s.customer, s.date, str(len(s.assets)) if len(s.assets) == 4 else ",".join(s.assets) or "-",
             str(s.repositories), size(s.logical_bytes), size(s.stored_bytes), size(s.new_bytes),
             s.checks + (f" (manifest unreadable: {s.problem})" if s.problem else "")] for s in listings]
    return table(headers, rows)


def run(args: argparse.Namespace) -> int:
    from backhub_pipeline import wiring
    from backhub_pipeline.restore.listing import list_snapshots
    from backhub_pipeline.restore.snapshot import require_snapshots

    settings = Settings.from_env()
    clients = wiring.clients(settings, read_only=True)
    customers = [names.customer(c) for c in args.customer] if args.customer else clients.store.list_customers()
    for customer in customers if args.customer else []:
        require_snapshots(clients.store, customer)  # a typo is exit 2 naming those that exist
    listings = []
    for customer in customers:
        status, close = check_status_reader(settings, customer)
        try:
            listings += list_snapshots(clients.store, customer, check_status=status)
        finally:
            close()
    if args.json:
        json.dump([listing.as_dict() for listing in listings], sys.stdout, indent=2)
        print()
    elif not listings:
        print("no snapshots" + (f" of {', '.join(customers)}" if args.customer else ""))
    else:
        print(render(listings))
    return 0
