"""``backhub emulator``: a thin entry; the emulator's own command line does the work."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    from github_emulator.cli import configure as configure_emulator

    configure_emulator(parser)


def run(args: argparse.Namespace) -> int:
    from github_emulator.cli import run as run_emulator

    return run_emulator(args)
