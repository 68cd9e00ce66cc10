"""The code location: loads backhub's definitions and applies platform-wide policy. Nothing else."""

from __future__ import annotations

import dagster as dg

from assets import catalog
from backhub_pipeline import jobs, sensors
from backhub_pipeline.settings import Settings
from backhub_pipeline.wiring import resources_from


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=catalog.ASSETS,
        asset_checks=catalog.CHECKS,
        jobs=jobs.JOBS,
        sensors=sensors.SENSORS,
        resources=resources_from(Settings.from_env()),
    )
