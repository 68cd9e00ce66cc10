"""Restore and verify as Dagster jobs, launched from the UI with run config.

    verify_job    ops: {verify_snapshots_op: {config: {customer, dates?, read_data?}}}
    restore_job   ops: {restore_snapshot_op: {config: {customer, date, repo?, to_dir? | to_github?,
                                                       new_name?, force?, resume?}}}

Both do what ``backhub verify`` and ``backhub restore`` do (``backhub_pipeline.restore``'s domain modules), with the
resources of the code location, report their outcome as op output metadata, fail naming the problem,
and append an audit record (actor ``dagster run <run id>``, as every run-made record).

No ``from __future__ import annotations`` here: Dagster inspects the ``context`` annotation.
"""

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
from resources.errors import ConfigurationError
from resources.git import GitResource
from resources.github import GitHubAppResource
from resources.snapshot_store import SnapshotStoreResource


class VerifyConfig(dg.Config):
    customer: str = Field(description="the customer whose snapshots to check")
    dates: list[str] = Field(default_factory=list, description="snapshot dates YYYY-MM-DD; empty: every snapshot")
    read_data: bool = Field(default=False, description="decrypt every blob, rebuild every git chain, git fsck")


class RestoreConfig(dg.Config):
    customer: str = Field(description="the customer whose snapshot to restore")
    date: str = Field(description="snapshot date YYYY-MM-DD")
    repo: str | None = Field(default=None, description="only this repository, OWNER/NAME (required for GitHub)")
    to_dir: str | None = Field(default=None, description="restore into this folder on the run worker")
    to_github: bool = Field(default=False, description="recreate `repo` as a new repository on GitHub")
    new_name: str | None = Field(default=None, description="with to_github: the new repository's name")
    force: bool = Field(default=False, description="with to_dir: replace an existing folder once complete")
    resume: bool = Field(default=False, description="with to_github: continue an interrupted restore")


@dg.op(description="Check snapshots like restic check; fails naming every damaged blob, manifest or ref.")
def verify_snapshots_op(
    context: OpExecutionContext,
    config: VerifyConfig,
    store: SnapshotStoreResource,
    git: GitResource,
    audit: AuditLogResource,
) -> dg.Output[None]:
    with failing_permanently():
        customer = names.customer(config.customer)
        dates = [names.date(d) for d in config.dates] or None
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
        if config.to_github == bool(config.to_dir):
            raise ConfigurationError("set exactly one of to_dir and to_github")
        if config.to_github and not config.repo:
            raise ConfigurationError("to_github restores one repository: set repo to OWNER/NAME")
        customer, date = names.customer(config.customer), names.date(config.date)
        target = f"github:{config.repo}" if config.to_github else config.to_dir
        with audited(audit.get_client(), actor=f"dagster run {context.run_id}", action="restore", customer=customer,
                     snapshot=date, details={"repository": config.repo or "all", "to": target}):
            if config.to_github:
                result = restore_to_github(store.get_client(), git.get_client(), github.get_client(), customer, date,
                                           config.repo, new_name=config.new_name, resume=config.resume,
                                           progress=context.log.info)
            else:
                result = restore_to_directory(store.get_client(), git.get_client(), customer, date, config.to_dir,
                                              repo=config.repo, force=config.force, progress=context.log.info)
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
