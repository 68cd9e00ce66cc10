"""The code location loads, and the CLI answers, without touching the network or the environment."""

from __future__ import annotations

import subprocess
import sys

from backhub_pipeline.definitions import defs


def test_definitions_load() -> None:
    definitions = defs()
    assert definitions is not None


def test_cli_lists_commands() -> None:
    result = subprocess.run([sys.executable, "-m", "backhub_pipeline.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "emulator" in result.stdout
