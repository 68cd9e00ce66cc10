"""Deep verification: every chain of a customer restored and ``git fsck``ed, every blob read, weekly.

The daily checks prove what each day wrote; a blob reused from an earlier day is only checked to exist
there, so damage to old data (a flipped bit in last month's full bundle) is found here. Customers are
spread over the seven weekdays by a stable hash of their name, so each is verified in full once a week
and no day pays for all of them; a customer whose last verification was requested more than a week
ago (the daemon was down on its day) is taken the next day. The verification is ``backhub verify
--read-data``'s own (``verify_snapshots``), one snapshot date at a time, and each verified date's four
assets get an observation with ``last_deep_verified``, so the UI shows when each was last verified and
whether it passed. A damaged snapshot fails the run (alerted like any failed run).

No ``from __future__ import annotations`` here: Dagster inspects the ``context`` annotation.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster import OpExecutionContext
from pydantic import Field

from assets.partitions import BACKUP_ASSETS, SnapshotKey, customer_partitions
from backhub_pipeline.restore.audited import audited
from backhub_pipeline.restore.verify import verify_snapshots
from resources import names
from resources.audit import AuditLogResource
from resources.clock import Clock
from resources.git import GitResource
from resources.snapshot_store import SnapshotStoreResource

WEEK = 7


def rotation_day(customer: str) -> int:
    """The weekday (0 = Monday) of a customer's deep verification: stable across processes and releases."""
    return int.from_bytes(hashlib.sha256(customer.encode()).digest()[:4], "big") % WEEK


def due_on(date: str, customers: list[str], last_requested: dict[str, str]) -> list[str]:
    """Customers whose weekday ``date`` is, and those whose last verification is more than a week old."""
    day = dt.date.fromisoformat(date)
    overdue = {customer for customer, last in last_requested.items()
               if customer in customers and (day - dt.date.fromisoformat(last)).days > WEEK}
    return sorted({customer for customer in customers if rotation_day(customer) == day.weekday()} | overdue)


class DeepVerifyConfig(dg.Config):
    customers: list[str] = Field(description="the customers whose every snapshot to verify in full")


@dg.op(description="Restore and git fsck every chain and read every blob of each customer's snapshots.")
def deep_verify_op(
    context: OpExecutionContext,
    config: DeepVerifyConfig,
    store: SnapshotStoreResource,
    git: GitResource,
    audit: AuditLogResource,
    clock: Clock,
) -> Iterator[Any]:
    """Yields each observation as it is made: events logged with ``context.log_event`` are lost when the
    step then fails, and a failing verification is the one whose observations matter most."""
    store_client, git_client, log = store.get_client(), git.get_client(), audit.get_client()
    problems: list[str] = []
    verified = 0
    for customer in sorted({names.customer(customer) for customer in config.customers}):
        dates = list(store_client.list_snapshots(customer))
        with audited(log, actor=f"dagster run {context.run_id}", action="verify", customer=customer, snapshot=None,
                     details={"read_data": True, "deep": True, "dates": dates}) as extra:
            found = []
            for date in dates:
                result = verify_snapshots(store_client, git_client, customer, [date], read_data=True,
                                          progress=context.log.info)
                verified += 1
                found.extend(result.problems)
                metadata = {
                    "last_deep_verified": dg.MetadataValue.timestamp(clock.now()),
                    "deep_verified_ok": dg.MetadataValue.bool(result.ok),
                    "blobs_read": dg.MetadataValue.int(result.blobs_checked),
                    "chains_restored": dg.MetadataValue.int(result.chains_restored),
                    "problems": dg.MetadataValue.int(len(result.problems)),
                }
                if result.problems:
                    metadata["first_problem"] = dg.MetadataValue.text(result.problems[0][:500])
                partition = str(SnapshotKey(customer, date))
                for asset in BACKUP_ASSETS:
                    yield dg.AssetObservation(asset_key=asset, partition=partition, metadata=metadata)
            extra.update(outcome="ok" if not found else "failed", problems=found[:20])
        problems.extend(found)
    metadata = {"snapshots_verified": dg.MetadataValue.int(verified), "problems": dg.MetadataValue.int(len(problems))}
    if problems:
        raise dg.Failure(
            description=f"{len(problems)} problem(s); first: {problems[0]}",
            metadata={**metadata, "details": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems[:100]))},
            allow_retries=False,
        )
    yield dg.Output(None, metadata=metadata)


@dg.job(description="Verify customers' snapshots in full (every chain restored and fsck'ed, every blob read).",
        tags={"backhub/kind": "verify"})
def deep_verify_job() -> None:
    deep_verify_op()


@dg.sensor(job=deep_verify_job, minimum_interval_seconds=3600, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Starts the deep verification of the customers due today: each customer's every chain and blob at least weekly.")
def deep_verify_sensor(context: dg.SensorEvaluationContext, clock: Clock) -> dg.RunRequest | dg.SkipReason:
    """Once per UTC day: one deep verification run of the customers due that day.

    The cursor is ``{"date": ..., "requested": {customer: date}}``: the day last handled, and when each
    customer's verification was last requested (so an overdue one is not forgotten).
    """
    today = clock.today()
    cursor = json.loads(context.cursor) if context.cursor else {}
    if cursor.get("date") == today:
        return dg.SkipReason(f"the deep verification of {today} was already requested")
    requested: dict[str, str] = cursor.get("requested", {})
    due = due_on(today, list(context.instance.get_dynamic_partitions(customer_partitions.name)), requested)
    context.update_cursor(json.dumps({"date": today, "requested": {**requested, **dict.fromkeys(due, today)}}))
    if not due:
        return dg.SkipReason(f"no customer's deep verification falls on {today}")
    return dg.RunRequest(run_key=f"deep-verify|{today}",
                         run_config={"ops": {"deep_verify_op": {"config": {"customers": due}}}})
