"""Jobs: the daily snapshot of one (customer, date) partition, assets and checks together as one step."""

from __future__ import annotations

import dagster as dg

from assets.partitions import snapshot_partitions
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
JOBS = [snapshot_job, restore_job, verify_job, deep_verify_job, expire_snapshots_job, erase_customer_job]
