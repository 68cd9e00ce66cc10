"""Restore and verify as Dagster jobs, launched from the UI with run config.

    verify_job    ops: {verify_snapshots_op: {config: {customer, date?, read_data?}}}
    restore_job   ops: {restore_snapshot_op: {config: {customer, date?, repository?, target, force?, resume?}}}

The launchpad shows only these: the store, keyring, master key and audit log are the code location's
resources, set by environment variables (wiring.py), so no path or URL appears in a run's config.

Both do what ``backhub verify`` and ``backhub restore`` do (``backhub_pipeline.restore``'s domain modules), with the
resources of the code location, report their outcome as op output metadata, fail naming the problem,
and append an audit record (actor ``dagster run <run id>``, as every run-made record).

No ``from __future__ import annotations`` here: Dagster inspects the ``context`` annotation.
"""

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster import OpExecutionContext
from pydantic import Field

from backhub_pipeline.failures import failing_permanently
from backhub_pipeline.restore.audited import audited
from backhub_pipeline.restore.to_folder import restore_to_directory
from backhub_pipeline.restore.to_github import restore_to_github
from backhub_pipeline.restore.verify import verify_snapshots
from resources import names
from resources.audit import AuditLogResource
from resources.errors import ConfigurationError, SnapshotNotFoundError
from resources.git import GitResource
from resources.github import GitHubAppResource
from resources.snapshot_store import SnapshotStore, SnapshotStoreResource


class VerifyConfig(dg.Config):
    """What an operator types in the launchpad to verify: the store and audit log are the code
    location's (environment variables), never run config."""

    customer: str = Field(description="the customer (installation account login) whose snapshots to check")
    date: str = Field(default="", description="the snapshot date YYYY-MM-DD; empty: every snapshot of the customer")
    read_data: bool = Field(default=False, description="decrypt every blob, rebuild every git chain, git fsck")


class RestoreConfig(dg.Config):
    """What an operator types in the launchpad to restore: customer, date, repository and target."""

    customer: str = Field(description="the customer (installation account login) whose snapshot to restore")
    date: str = Field(default="", description="the snapshot date YYYY-MM-DD; empty: the customer's latest snapshot")
    repository: str = Field(default="", description="OWNER/NAME: only this repository (required for github); "
                                                    "empty: every repository")
    target: str = Field(description="an absolute folder on the run worker; or `github` to recreate `repository` "
                                    "as a new GitHub repository, `github:NEW_NAME` to give it another name")
    force: bool = Field(default=False, description="folder target: replace an existing folder once complete")
    resume: bool = Field(default=False, description="github target: continue an interrupted restore")


@dataclass(frozen=True)
class RestoreRequest:
    """A validated ``RestoreConfig``."""

    customer: str
    date: str
    repository: str | None
    folder: str | None  # None: to GitHub
    new_name: str | None


GITHUB_TARGET = "github"


def restore_request(config: RestoreConfig, store: SnapshotStore) -> RestoreRequest:
    """``config`` checked, naming the field to fix; an empty date is the latest snapshot's."""
    customer = names.customer(config.customer.strip().lower())
    date = names.date(config.date) if config.date else latest_date(store, customer)
    repository = config.repository.strip() or None
    if repository:
        names.full_name(repository)
    target = config.target.strip()
    to_github = target == GITHUB_TARGET or target.startswith(GITHUB_TARGET + ":")
    if to_github:
        if not repository:
            raise ConfigurationError("a github target restores one repository: set repository to OWNER/NAME")
        new_name = target.partition(":")[2] or None
        return RestoreRequest(customer, date, repository, None, new_name)
    if not target or not Path(target).is_absolute():
        raise ConfigurationError(f"target must be an absolute folder on the run worker, or github; got {target!r}")
    return RestoreRequest(customer, date, repository, target, None)


def latest_date(store: SnapshotStore, customer: str) -> str:
    dates = sorted(store.list_snapshots(customer))
    if not dates:
        raise SnapshotNotFoundError(f"no snapshot of {customer}")
    return dates[-1]


@dg.op(description="Check snapshots like restic check; fails naming every damaged blob, manifest or ref.")
def verify_snapshots_op(
    context: OpExecutionContext,
    config: VerifyConfig,
    store: SnapshotStoreResource,
    git: GitResource,
    audit: AuditLogResource,
) -> dg.Output[None]:
    with failing_permanently():
        customer = names.customer(config.customer.strip().lower())
        dates = [names.date(config.date)] if config.date else None
        with audited(audit.get_client(), actor=f"dagster run {context.run_id}", action="verify", customer=customer,
                     snapshot=",".join(dates) if dates else None,
                     details={"read_data": config.read_data, "dates": dates or "all"}) as extra:
            result = verify_snapshots(store.get_client(), git.get_client(), customer, dates,
                                      read_data=config.read_data, progress=context.log.info)
            extra.update(outcome="ok" if result.ok else "failed", problems=result.problems[:20])
    metadata = {
        "dates": dg.MetadataValue.text(", ".join(result.dates)),
        "blobs_checked": dg.MetadataValue.int(result.blobs_checked),
        "bytes_read": dg.MetadataValue.int(result.bytes_read),
        "chains_restored": dg.MetadataValue.int(result.chains_restored),
        "problems": dg.MetadataValue.int(len(result.problems)),
    }
    if not result.ok:
        raise dg.Failure(
            description=f"{len(result.problems)} problem(s); first: {result.problems[0]}",
            metadata={**metadata, "details": dg.MetadataValue.md("\n".join(f"- {p}" for p in result.problems[:100]))},
            allow_retries=False,
        )
    return dg.Output(None, metadata=metadata)


@dg.op(description="Restore a snapshot to a folder on the worker, or one repository to GitHub.")
def restore_snapshot_op(
    context: OpExecutionContext,
    config: RestoreConfig,
    store: SnapshotStoreResource,
    git: GitResource,
    github: GitHubAppResource,
    audit: AuditLogResource,
) -> dg.Output[None]:
    with failing_permanently():
        client = store.get_client()
        request = restore_request(config, client)
        target = request.folder or f"github:{request.repository}"
        with audited(audit.get_client(), actor=f"dagster run {context.run_id}", action="restore",
                     customer=request.customer, snapshot=request.date,
                     details={"repository": request.repository or "all", "to": target}):
            if request.folder is None:
                result = restore_to_github(client, git.get_client(), github.get_client(), request.customer,
                                           request.date, request.repository, new_name=request.new_name,
                                           resume=config.resume, progress=context.log.info)
            else:
                result = restore_to_directory(client, git.get_client(), request.customer, request.date,
                                              request.folder, repo=request.repository, force=config.force,
                                              progress=context.log.info)
    return dg.Output(None, metadata={key: dg.MetadataValue.json(value) if isinstance(value, list | dict)
                                     else value for key, value in result.as_dict().items()})


@dg.job(description="Check a customer's snapshots like restic check (read_data: decrypt and rebuild everything).",
        tags={"backhub/kind": "verify"})
def verify_job() -> None:
    verify_snapshots_op()


@dg.job(description="Restore a snapshot to a folder on the worker, or one repository to GitHub as a new repository.",
        tags={"backhub/kind": "restore"})
def restore_job() -> None:
    restore_snapshot_op()
