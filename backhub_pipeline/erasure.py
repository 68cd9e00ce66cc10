"""Erasure (GDPR offboarding): ``erase_customer`` and the ``erase_customer_job`` that runs it
(``backhub customers erase CUSTOMER`` runs that job: backhub_pipeline/cli/customers.py).

In this order, each step idempotent so a re-run after a crash finishes the job:

1. audit ``erase`` (outcome ``started``), and an erasure marker in the store
   (``erasures/<customer>``): from here until step 7, ``backhub customers`` lists the erasure as
   unfinished, so a killed run is seen and rerun;
2. this machine's git mirror cache of the customer is deleted first: it is the only plaintext (other
   workers' caches are theirs to drop, see docs/format.md "Retention and erasure");
3. crypto-shredding: the customer's wrapped keyset is replaced by a tombstone (``Keyring.destroy``),
   then audit ``key.destroy``. From here no copy of any of their blobs or manifests, wherever it was
   taken, decrypts;
4. every object under ``customers/<customer>/`` in the store is deleted, with unfinished uploads;
5. the ``customer`` partition key is removed; the runs stay in the run history;
6. audit ``erase`` (outcome ``ok``) with what was deleted;
7. the erasure marker is removed.

The tombstone stays, naming only the customer and when: it keeps a new backup from silently creating
a fresh key for an erased customer (their backups fail until an operator clears it). Uninstall the App
first; a customer who only uninstalls keeps their snapshots until they expire.
"""

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from assets.partitions import customer_partitions
from resources import names
from resources.audit import AuditLog, AuditLogResource
from resources.git import GitResource
from resources.snapshot_store import SnapshotStore, SnapshotStoreResource


@dataclass
class ErasureReport:
    customer: str
    keyset_shredded: bool
    objects_deleted: int
    cache_removed: bool
    partition_removed: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_known(customer: str, store: SnapshotStore, instance: dg.DagsterInstance) -> bool:
    """Does anything of the customer exist: a keyset (or tombstone), stored objects, a partition key?"""
    return (
        customer in store.unfinished_erasures()
        or store.keyring.storage.exists(customer)
        or customer in store.list_customers()
        or instance.has_dynamic_partition(customer_partitions.name, customer)
    )


def erase_customer(
    customer: str,
    *,
    store: SnapshotStore,
    instance: dg.DagsterInstance,
    audit: AuditLog,
    actor: str,
    git_cache_dir: str | None = None,
) -> ErasureReport:
    customer = names.customer(customer)
    resumed = customer in store.unfinished_erasures()
    audit.append(actor=actor, action="erase", outcome="started", customer=customer,
                 details={"resumed": resumed})
    store.begin_erasure(customer)
    cache_removed = False
    if git_cache_dir:  # plaintext first: the shredded key below does not protect it
        cache = Path(git_cache_dir) / customer
        if cache.exists():
            shutil.rmtree(cache)
            cache_removed = True
    store.keyring.destroy(customer)  # from now on nothing of theirs in the store decrypts, wherever it is
    audit.append(actor=actor, action="key.destroy", outcome="ok", customer=customer,
                 details={"reason": "erasure"})
    deleted = store.delete_customer(customer)
    partition_removed = instance.has_dynamic_partition(customer_partitions.name, customer)
    if partition_removed:
        instance.delete_dynamic_partition(customer_partitions.name, customer)
    report = ErasureReport(customer, True, deleted, cache_removed, partition_removed)
    audit.append(actor=actor, action="erase", outcome="ok", customer=customer,
                 details={"objects_deleted": deleted, "cache_removed": cache_removed,
                          "partition_removed": partition_removed, "resumed": resumed})
    store.end_erasure(customer)
    return report


class EraseConfig(dg.Config):
    customer: str = Field(description="The customer (installation account login) to erase.")
    confirm: str = Field(description="The customer's name again: erasure is irreversible.")


@dg.op(out=dg.Out(dg.Nothing), description="Shred the customer's keyset, delete their data and partition key.")
def erase_customer_op(
    context: dg.OpExecutionContext,
    config: EraseConfig,
    store: SnapshotStoreResource,
    audit: AuditLogResource,
    git: GitResource,
) -> None:
    if config.confirm != config.customer:
        raise dg.Failure(description=f"refusing to erase {config.customer!r}: confirm must repeat the name",
                         allow_retries=False)
    client = store.get_client()
    customer = names.customer(config.customer)
    if not is_known(customer, client, context.instance):
        raise dg.Failure(description=f"refusing to erase {customer!r}: no keyset, data or partition of that "
                         "name (a typo?)", allow_retries=False)
    report = erase_customer(customer, store=client, instance=context.instance, audit=audit.get_client(),
                            actor=f"dagster run {context.run_id}", git_cache_dir=git.cache_dir)
    context.add_output_metadata({**report.as_dict(), "report": dg.MetadataValue.json(report.as_dict())})


@dg.job(description="Erase one customer: shred their keyset, delete their snapshots and partition key.",
        tags={"backhub/kind": "erasure"})
def erase_customer_job() -> None:
    erase_customer_op()


def erase_run_config(customer: str) -> dg.RunConfig:
    return dg.RunConfig(ops={"erase_customer_op": EraseConfig(customer=customer, confirm=customer)})
