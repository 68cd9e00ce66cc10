"""``backhub status``: who is backed up on a date, and why not; the ``daily_report`` asset's rows.

    backhub status [--date D] [--json]

Reads only the Dagster instance under the configured Dagster home (creates nothing). Exit 0 when every
customer's snapshot of the date is committed, 1 when one failed, is missing or still running, 2 when
there is no instance to read or the date is not a date.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from backhub_pipeline.cli.output import size, table
from backhub_pipeline.settings import Settings
from resources import names
from resources.errors import ConfigurationError, InvalidNameError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", help="the day to report, YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("--json", action="store_true", help="print JSON (exact bytes) instead of a table")


def run(args: argparse.Namespace) -> int:
    from backhub_pipeline import wiring

    try:
        settings = Settings.from_env()
        date = names.date(args.date) if args.date else wiring.clock(settings).today()
        if not (Path(settings.dagster_home) / "dagster.yaml").is_file():
            raise ConfigurationError(f"no Dagster instance at {settings.dagster_home}: set DAGSTER_HOME to the "
                                     "home `backhub backup` or the demo used (the demo prints its export line)")
    except (ConfigurationError, InvalidNameError) as exc:
        print(f"backhub status: {exc}", file=sys.stderr)
        return 2
    from assets.daily_report import COMMITTED, day_report

    with wiring.instance(settings) as instance:
        rows = day_report(instance, date)
    if args.json:
        json.dump([row.as_dict() for row in rows], sys.stdout, indent=2)
        print()
    elif not rows:
        print(f"no customers known to the instance at {settings.dagster_home}")
    else:
        print(f"backups of {date}:")
        print(table(["customer", "status", "logical", "new", "api", "run", "reason"],
                    [[row.customer, row.status, size(row.logical_bytes), size(row.new_bytes), str(row.api_requests),
                      (row.run_id or "-")[:8], row.reason or ""] for row in rows]))
    return 0 if rows and all(row.status == COMMITTED for row in rows) else 1
