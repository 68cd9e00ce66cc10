"""``backhub audit``: verify and read the tamper-evident audit log.

    backhub audit verify [--anchor SEQ:DIGEST]   exit 0 if the chain is intact, 1 naming each bad record
    backhub audit show [--customer C] [--action A] [--json]
    backhub audit tail [-n N] [--json]
    backhub audit head                           print SEQ:DIGEST of the newest record (an anchor)

The log is ``--url``, else the configured one (``Settings.audit_url``: ``BACKHUB_AUDIT_URL``, else
``file://$DAGSTER_HOME/audit``); the S3 endpoint is ``--s3-endpoint-url``, else the configured one.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import sys

from resources.audit import AuditLog, AuditRecord


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", help="audit log location (default: $BACKHUB_AUDIT_URL or $DAGSTER_HOME/audit)"
    )
    parser.add_argument("--s3-endpoint-url", help="S3 endpoint (default: $BACKHUB_S3_ENDPOINT_URL)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify = sub.add_parser("verify", help="check the hash chain; exit 1 naming each bad record")
    verify.add_argument("--anchor", help="SEQ:DIGEST kept outside the log (from `backhub audit head`)")
    show = sub.add_parser("show", help="print every record")
    show.add_argument("--customer", help="only this customer's records")
    show.add_argument("--action", dest="only_action", help="only records of this action")
    show.add_argument("--json", action="store_true", help="one JSON record per line")
    tail = sub.add_parser("tail", help="print the newest records")
    tail.add_argument("-n", type=int, default=20, help="how many (default 20)")
    tail.add_argument("--json", action="store_true", help="one JSON record per line")
    sub.add_parser("head", help="print SEQ:DIGEST of the newest record, to keep outside the log")


def _open(args: argparse.Namespace) -> AuditLog:
    from backhub_pipeline import wiring
    from backhub_pipeline.settings import Settings

    settings = Settings.from_env()
    if args.url or args.s3_endpoint_url:
        settings = dataclasses.replace(settings, audit_url=args.url or settings.audit_url,
                                       s3_endpoint_url=args.s3_endpoint_url or settings.s3_endpoint_url)
    return wiring.audit_log(settings)


def _print(record: AuditRecord, as_json: bool) -> None:
    if as_json:
        print(json.dumps(record.to_json(), sort_keys=True))
        return
    where = "/".join(part for part in (record.customer, record.snapshot) if part) or "-"
    details = json.dumps(record.details, sort_keys=True) if record.details else ""
    print(
        f"{record.seq:>6}  {record.time}  {record.action:<11} {record.outcome:<8} {where}  {record.actor}  {details}"
    )


def run(args: argparse.Namespace) -> int:
    log = _open(args)
    if args.action == "verify":
        result = log.verify(anchor=args.anchor)
        if result.ok:
            print(f"audit log {log.location}: OK, {result.records} records, head {result.anchor}")
            return 0
        print(
            f"audit log {log.location}: TAMPERED ({len(result.problems)} problems, {result.records} records)"
        )
        for problem in result.problems:
            print(f"  {problem}")
        print("Restore the log from a copy you trust and investigate who had write access.", file=sys.stderr)
        return 1
    if args.action == "head":
        seq, digest = log.head()
        print(f"{seq}:{digest}")
        return 0
    if args.action == "show":
        for record in log.records():
            if args.customer and record.customer != args.customer:
                continue
            if args.only_action and record.action != args.only_action:
                continue
            _print(record, args.json)
        return 0
    if args.action == "tail":
        for record in collections.deque(log.records(), maxlen=max(args.n, 0)):
            _print(record, args.json)
        return 0
    raise AssertionError(args.action)  # argparse only allows the actions above
