"""``backhub verify``: check a customer's snapshots like ``restic check``.

    backhub verify --customer C [--date D ...] [--read-data] [--json]

Exit 0 when every snapshot checked is intact; 1 naming each failing manifest, blob, repository or
ref, with advice that tells a failed backup (incomplete: rerun it) from damage (check who can write
to the store); 2 when the customer or a date has no snapshot (naming those that exist). ``--read-data`` decrypts every blob, rebuilds every git chain in scratch space, compares its
refs with the recorded tips and runs ``git fsck``. Each run is recorded in the audit log.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from resources import names


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customer", required=True, help="the customer whose snapshots to check")
    parser.add_argument("--date", action="append", help="only this snapshot date YYYY-MM-DD; repeatable (default: all)")
    parser.add_argument("--read-data", action="store_true", help="decrypt every blob and rebuild every git chain")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    from backhub_pipeline import wiring
    from backhub_pipeline.restore.audited import audited
    from backhub_pipeline.restore.snapshot import require_snapshots
    from backhub_pipeline.restore.verify import verify_snapshots
    from backhub_pipeline.settings import Settings

    customer = names.customer(args.customer)
    dates = [names.date(d) for d in args.date] if args.date else None
    clients = wiring.clients(Settings.from_env(), read_only=True)
    require_snapshots(clients.store, customer, dates)  # a typo is exit 2 and is not recorded
    progress = (lambda _m: None) if args.quiet else (lambda message: print(message, file=sys.stderr, flush=True))
    details = {"read_data": bool(args.read_data), "dates": dates or "all"}
    with audited(clients.audit_log, actor=f"operator:{getpass.getuser()}", action="verify", customer=customer,
                 snapshot=",".join(dates) if dates else None, details=details) as extra:
        result = verify_snapshots(clients.store, clients.git, customer, dates, read_data=args.read_data,
                                  progress=progress)
        extra.update(outcome="ok" if result.ok else "failed", problems=result.problems[:20],
                     blobs_checked=result.blobs_checked, chains_restored=result.chains_restored)
    if args.json:
        json.dump(result.as_dict(), sys.stdout, indent=2)
        print()
    else:
        what = f"{len(result.dates)} snapshot(s) of {customer}, {result.blobs_checked} blobs"
        if args.read_data:
            what += f", {result.bytes_read} bytes read, {result.chains_restored} git chains rebuilt"
        if result.ok:
            print(f"verify: OK: {what}")
        else:
            print(f"verify: {len(result.problems)} PROBLEM(S) in {what}:")
            for problem in result.problems:
                print(f"  {problem}")
        for line in result.not_backed_up:
            print(f"  not backed up: {line}")
    if result.incomplete:
        first = sorted(result.incomplete)[0]
        print(f"backhub verify: the backup of {', '.join(sorted(result.incomplete))} failed part-way (no committed "
              f"{', '.join(result.incomplete[first])}): rerun it, e.g. `backhub backup --customer {customer} "
              f"--date {first} --replace`", file=sys.stderr)
    if result.damaged:
        print("backhub verify: stored data above fails authentication or is missing: restore from another date, "
              "and check who can write to the store", file=sys.stderr)
    return 0 if result.ok else 1
