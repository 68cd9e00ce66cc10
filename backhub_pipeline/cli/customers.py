"""``backhub customers erase CUSTOMER [--yes] [--json]``: run ``erase_customer_job`` now, through the
instance, and print what it erased (backhub_pipeline/erasure.py says in which order and why)."""

from __future__ import annotations

import argparse
import json
import sys

from resources import names
from resources.errors import ConfigurationError


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    erase = sub.add_parser("erase", help="shred the customer's key, delete their snapshots and partition (irreversible)")
    erase.add_argument("customer", help="the customer (installation account login)")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
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
    with wiring.instance(settings) as instance:
        result = run_job(instance, definitions_from(settings), erase_customer_job.name,
                         run_config=erase_run_config(customer))
    report = report_of(result, f"erasure of {customer}")
    if args.json:
        print(json.dumps({**report, "run_id": result.run_id}, indent=2))
    else:
        print(f"erased {customer}: keyset shredded, {report['objects_deleted']} objects deleted, "
              f"partition {'removed' if report['partition_removed'] else 'absent'} (run {result.run_id})")
    return 0
