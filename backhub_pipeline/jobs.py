"""Jobs: the daily snapshot of one (customer, date) partition, assets and checks together as one step."""

from __future__ import annotations

import dagster as dg

from assets.partitions import date_partitions, snapshot_partitions
from backhub_pipeline.deep_verification import deep_verify_job
from backhub_pipeline.erasure import erase_customer_job
from backhub_pipeline.restore.jobs import restore_job, verify_job
from backhub_pipeline.retention.job import expire_snapshots_job

snapshot_job = dg.define_asset_job(
    "snapshot_job",
    selection=dg.AssetSelection.groups("backup"),
    partitions_def=snapshot_partitions,
    description="Snapshot one customer's GitHub data for one date: inventory, git data, issues, wikis, checks.",
)
daily_report_job = dg.define_asset_job(
    "daily_report_job",
    selection=dg.AssetSelection.assets("daily_report"),
    partitions_def=date_partitions,
    description="Rebuild one date's daily_report: every customer committed, failed (with the root cause) or missing.",
)
JOBS = [snapshot_job, daily_report_job, restore_job, verify_job, deep_verify_job, expire_snapshots_job, erase_customer_job]
