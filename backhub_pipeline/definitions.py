"""The code location: loads backhub's definitions and applies platform-wide policy. Nothing else."""

from __future__ import annotations

import dagster as dg

from assets import catalog
from backhub_pipeline import jobs, sensors
from backhub_pipeline.settings import Settings
from backhub_pipeline.wiring import resources_from


@dg.definitions
def defs() -> dg.Definitions:
    return definitions_from(Settings.from_env())


def definitions_from(settings: Settings, *, credentials_from_env: bool = True) -> dg.Definitions:
    """The definitions for ``settings`` (the CLI and the demo run jobs in process with their own)."""
    return dg.Definitions(
        assets=catalog.ASSETS,
        asset_checks=catalog.CHECKS,
        jobs=jobs.JOBS,
        sensors=sensors.SENSORS,
        resources=resources_from(settings, credentials_from_env=credentials_from_env),
        executor=executor_from(settings),
    )


def executor_from(settings: Settings) -> dg.ExecutorDefinition:
    """Where a run's steps execute. By default in the run's own process: a snapshot is one step, so a
    process per step would only add a second interpreter start to every daemon-launched run. With
    ``BACKHUB_EXECUTOR=celery``, on Celery workers; the broker and backend URLs may hold passwords: the
    executor reads them from the environment when a run starts."""
    if settings.executor != "celery":
        return dg.in_process_executor
    from dagster_celery import celery_executor

    backend = {"env": "BACKHUB_CELERY_BACKEND_URL"} if settings.celery_backend_url else "rpc://"
    return celery_executor.configured({"broker": {"env": "BACKHUB_CELERY_BROKER_URL"}, "backend": backend})
