"""``backhub customers [list] [--json]``: the customers with data in the store, and any erasure that was
started and has not finished (a killed run: rerun the erase to finish it; exit 1 while one is listed).

``backhub customers erase CUSTOMER [--yes] [--json]``: run ``erase_customer_job`` now, through the
instance, and print what it erased (backhub_pipeline/erasure.py says in which order and why). Rerun on
an unfinished erasure, it finishes it.
"""

from __future__ import annotations

import argparse
import json
import sys

from resources import names
from resources.errors import ConfigurationError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the listing as JSON")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = sub.add_parser("list", help="customers in the store and erasures that have not finished (default)")
    listing.add_argument("--json", dest="list_json", action="store_true", help="print the listing as JSON")
    erase = sub.add_parser("erase", help="shred the customer's key, delete their snapshots and partition (irreversible)")
    erase.add_argument("customer", help="the customer (installation account login)")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    if args.action == "erase":
        return run_erase(args)
    return run_list(args.json or getattr(args, "list_json", False))


def run_list(as_json: bool) -> int:
    from backhub_pipeline import wiring
    from backhub_pipeline.settings import Settings

    store = wiring.clients(Settings.from_env()).store
    unfinished = store.unfinished_erasures()
    customers = sorted(set(store.list_customers()) - set(unfinished))
    if as_json:
        print(json.dumps({"customers": customers, "unfinished_erasures": unfinished}, indent=2))
    else:
        for customer in customers:
            print(customer)
        for customer, started in sorted(unfinished.items()):
            print(f"{customer}  ERASURE UNFINISHED (started {started})")
    for customer, started in sorted(unfinished.items()):
        print(f"backhub customers: the erasure of {customer} started {started} has not finished (its data may "
              f"be partly present); finish it with `backhub customers erase {customer} --yes`", file=sys.stderr)
    return 1 if unfinished else 0


def run_erase(args: argparse.Namespace) -> int:
    customer = names.customer(args.customer)
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigurationError("refusing to erase without confirmation: pass --yes")
        answer = input(f"This destroys every snapshot of {customer} for good. Type the customer name to confirm: ")
        if answer.strip() != customer:
            print("not confirmed; nothing erased", file=sys.stderr)
            return 1
    from backhub_pipeline import wiring
    from backhub_pipeline.cli.runs import report_of, run_job
    from backhub_pipeline.definitions import definitions_from
    from backhub_pipeline.erasure import erase_customer_job, erase_run_config
    from backhub_pipeline.settings import Settings

    settings = Settings.from_env()
    started = wiring.clients(settings).store.unfinished_erasures().get(customer)
    if started and not args.json:
        print(f"finishing the erasure of {customer} started {started}")
    with wiring.instance(settings) as instance:
        result = run_job(instance, definitions_from(settings), erase_customer_job.name,
                         run_config=erase_run_config(customer))
    report = report_of(result, f"erasure of {customer}")
    if args.json:
        print(json.dumps({**report, "run_id": result.run_id}, indent=2))
    else:
        print(f"erased {customer}: git cache {'removed' if report['cache_removed'] else 'absent'}, keyset "
              f"shredded, {report['objects_deleted']} objects deleted, partition "
              f"{'removed' if report['partition_removed'] else 'absent'} (run {result.run_id})")
    return 0
