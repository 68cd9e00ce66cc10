"""The ``backhub`` command line: one entry point, one module per subcommand (``cli/<command>.py``).

Subcommand modules are imported only when chosen, so ``backhub emulator`` does not pay for Dagster's
import and ``backhub --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
import warnings
from collections.abc import Sequence

from resources.errors import (
    BackhubError,
    ConfigurationError,
    DateOutsideWindowError,
    InvalidNameError,
    RestoreRefusedError,
    SnapshotNotFoundError,
)

# Exit codes: 0 ok, 1 an integrity problem (or a run that failed), 2 a usage or configuration error.
EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2
# Errors that mean "the command was asked for something that cannot be": the operator fixes the command.
USAGE_ERRORS = (ConfigurationError, InvalidNameError, SnapshotNotFoundError, DateOutsideWindowError,
                RestoreRefusedError)

# name -> (module, one-line help). Each module defines configure(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "emulator": ("backhub_pipeline.cli.emulator", "serve the GitHub emulator until stopped"),
    "init": ("backhub_pipeline.cli.init", "initialise a new installation: create the master key, once"),
    "backup": ("backhub_pipeline.cli.backup", "take snapshots now, through the Dagster instance"),
    "demo": ("backhub_pipeline.cli.demo", "run the demo: emulator, a day's snapshots, the Dagster UI"),
    "audit": ("backhub_pipeline.cli.audit", "verify and read the tamper-evident audit log"),
    "status": ("backhub_pipeline.cli.status", "who is backed up on a date, and why not (the daily_report's rows)"),
    "snapshots": ("backhub_pipeline.cli.snapshots", "list snapshots: assets, repositories, sizes, check status"),
    "ls": ("backhub_pipeline.cli.ls", "what a snapshot holds: repositories, refs, wiki, issue counts, sizes"),
    "diff": ("backhub_pipeline.cli.diff", "what changed between two snapshots: repositories, refs, wikis, issues"),
    "verify": ("backhub_pipeline.cli.verify", "check snapshots like restic check (--read-data: everything)"),
    "restore": ("backhub_pipeline.cli.restore", "restore a snapshot to a folder, or a repository to GitHub"),
    "repair": ("backhub_pipeline.cli.repair", "rewrite a customer's damaged blobs from what GitHub still has"),
    "webhooks": ("backhub_pipeline.cli.webhooks", "serve the GitHub App webhook receiver: deliveries become change records"),
    "customers": ("backhub_pipeline.cli.customers", "list customers and unfinished erasures; erase a customer (shred key, delete data)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backhub", description="Daily, encrypted, restorable GitHub backups.")
    parser.add_argument("--verbose", action="store_true", help="print the traceback of a failure, not only its one line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # --verbose is global: accepted before or after the command, taken out before either parser sees it.
    verbose = "--verbose" in argv
    argv = [arg for arg in argv if arg != "--verbose"]
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv)  # prints usage and exits for --help, unknown commands, or none
        return EXIT_USAGE
    name, rest = argv[0], argv[1:]
    # Dagster flags features it calls beta or preview (partitioned checks are one) on every use;
    # an operator's terminal is not the place for that.
    warnings.filterwarnings("ignore", message=".*(is currently in (beta|preview)|has been marked as).*")
    module = importlib.import_module(COMMANDS[name][0])
    sub_parser = argparse.ArgumentParser(prog=f"backhub {name}", description=COMMANDS[name][1])
    module.configure(sub_parser)
    args = sub_parser.parse_args(rest)
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # every failure ends as one line; the traceback only when asked for
        if verbose:
            traceback.print_exc()
        print(f"backhub {name}: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, USAGE_ERRORS) else EXIT_PROBLEM


def one_line(exc: BaseException) -> str:
    """An error as one line: ours say cause and remedy; anything else is named with how to see more."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, BackhubError):
        return message
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or message}: {exc.filename} (check the path and its permissions)"
    return f"unexpected {type(exc).__name__}: {message} (run with --verbose for the traceback, and report it)"
