"""Taking snapshots from the command line, through the same definitions and instance the UI uses.

``backhub backup`` and ``backhub demo`` both call ``take_snapshots``: it makes sure the partitions exist,
runs ``snapshot_job`` for each (customer, date) against the Dagster instance under ``DAGSTER_HOME``, and
summarizes each run from its own recorded metadata and check evaluations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg

from assets.partitions import SnapshotKey, customer_partitions, date_partitions


@dataclass
class SnapshotSummary:
    customer: str
    date: str
    success: bool
    run_id: str
    repositories: int = 0
    issues: int = 0
    pull_requests: int = 0
    comments: int = 0
    wikis: int = 0
    logical_bytes: int = 0
    added_bytes: int = 0  # new encrypted bytes this snapshot stored (the rest was already there)
    api_requests: int = 0
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    check_descriptions: dict[str, str] = field(default_factory=dict)
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _value(entry: Any) -> Any:
    return getattr(entry, "value", entry)


def ensure_partitions(instance: dg.DagsterInstance, keys: Iterable[SnapshotKey]) -> None:
    keys = list(keys)
    for definition, wanted in ((customer_partitions, {key.customer for key in keys}),
                               (date_partitions, {key.date for key in keys})):
        missing = sorted(wanted - set(instance.get_dynamic_partitions(definition.name)))
        if missing:
            instance.add_dynamic_partitions(definition.name, missing)


def summarize(key: SnapshotKey, result: dg.ExecuteInProcessResult) -> SnapshotSummary:
    summary = SnapshotSummary(customer=key.customer, date=key.date, success=result.success, run_id=result.run_id)
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        metadata = {name: _value(value) for name, value in materialization.metadata.items()}
        summary.assets[materialization.asset_key.to_user_string()] = metadata
    for metadata in summary.assets.values():
        summary.logical_bytes += int(metadata.get("logical_bytes", 0))
        summary.added_bytes += int(metadata.get("new_bytes_stored", 0))
        summary.api_requests += int(metadata.get("api_requests", 0))
    inventory = summary.assets.get("inventory", {})
    issues = summary.assets.get("issues", {})
    wikis = summary.assets.get("wikis", {})
    summary.repositories = int(inventory.get("repositories", 0))
    summary.issues = int(issues.get("issues", 0))
    summary.pull_requests = int(issues.get("pull_requests", 0))
    summary.comments = int(issues.get("comments", 0)) + int(issues.get("review_comments", 0))
    summary.wikis = int(wikis.get("wikis_populated", 0))
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed:
            summary.checks_passed += 1
        else:
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            summary.checks_failed.append(name)
            summary.check_descriptions[name] = evaluation.description or ""
    if not result.success:
        failures = [event for event in result.all_events if event.is_step_failure]
        if failures:
            error = failures[0].step_failure_data.error
            summary.error = f"{failures[0].step_key}: {error.message.strip() if error else 'failed'}"
        else:
            summary.error = "run failed"
    return summary


def take_snapshots(instance: dg.DagsterInstance, definitions: dg.Definitions, keys: Iterable[SnapshotKey]) -> list[SnapshotSummary]:
    keys = list(keys)
    ensure_partitions(instance, keys)
    job = definitions.resolve_job_def("snapshot_job")
    summaries = []
    for key in keys:
        result = job.execute_in_process(
            instance=instance,
            partition_key=key.partition_key,
            raise_on_error=False,
            tags={"backhub/launched-by": "cli"},
            # The summary is the command's output; every event is still in the instance for the UI.
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        summaries.append(summarize(key, result))
    return summaries


def _size(value: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(value)


def render_table(summaries: Iterable[SnapshotSummary]) -> str:
    headers = ["customer", "date", "repos", "issues", "pulls", "comments", "wikis", "logical", "stored (new)", "api", "checks"]
    rows = []
    for s in summaries:
        checks = f"{s.checks_passed} passed" + (f", {len(s.checks_failed)} FAILED" if s.checks_failed else "")
        if not s.success:
            checks = f"RUN FAILED ({s.error})" if s.error else "RUN FAILED"
        rows.append([s.customer, s.date, str(s.repositories), str(s.issues), str(s.pull_requests), str(s.comments),
                     str(s.wikis), _size(s.logical_bytes), _size(s.added_bytes), str(s.api_requests), checks])
    widths = [max(len(header), *(len(row[i]) for row in rows)) if rows else len(header) for i, header in enumerate(headers)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)
