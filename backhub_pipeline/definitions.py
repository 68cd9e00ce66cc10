"""The code location: loads backhub's definitions and applies platform-wide policy. Nothing else."""

from __future__ import annotations

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions()
