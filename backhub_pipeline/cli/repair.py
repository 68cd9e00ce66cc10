"""``backhub repair --customer C [--json]``: rewrite the customer's damaged blobs from what the sources still have.

A blob is content-addressed and every backup that produces its plaintext again rewrites a stored copy
that fails authentication (docs/format.md 4.3). So repair is: read every blob the customer's manifests
name; if any is damaged, take today's snapshot (which heals what it writes); read the damaged ones again.
Each is then ``healed`` or ``not healed`` (today's backup no longer produces that content: it is gone
from GitHub, or it is a git bundle today's chain reuses instead of rewriting), with the snapshots that
name it. Exit 0 when every damaged blob is healed (or none was), 1 otherwise. Audited as ``repair``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from resources import names
from resources.errors import IntegrityError, SnapshotNotFoundError


@dataclass
class DamagedBlob:
    blob: str
    problem: str
    snapshots: list[str] = field(default_factory=list)  # "date/asset" of every manifest naming it
    healed: bool = False


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customer", required=True, help="the customer whose damaged blobs to rewrite")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def damaged_blobs(store: Any, customer: str) -> dict[str, DamagedBlob]:
    """Every blob named by a readable manifest of ``customer`` that fails an authenticated read."""
    checked: dict[str, str | None] = {}
    damaged: dict[str, DamagedBlob] = {}
    for date, assets in store.list_snapshots(customer).items():
        for asset in assets:
            try:
                manifest = store.read_manifest(customer, date, asset)
            except (SnapshotNotFoundError, IntegrityError):
                continue  # a manifest has no plaintext to rewrite it from: verify reports it
            for bid in manifest.blobs:
                if bid not in checked:
                    checked[bid] = store.blob_problem(customer, bid)
                if checked[bid] is not None:
                    damaged.setdefault(bid, DamagedBlob(bid, checked[bid])).snapshots.append(f"{date}/{asset}")
    return damaged


def run(args: argparse.Namespace) -> int:
    from assets.partitions import SnapshotKey
    from backhub_pipeline import wiring
    from backhub_pipeline.cli.backup import take_snapshots
    from backhub_pipeline.definitions import definitions_from
    from backhub_pipeline.restore.audited import audited
    from backhub_pipeline.settings import Settings

    customer = names.customer(args.customer)
    settings = Settings.from_env()
    clients = wiring.clients(settings)
    today = clients.clock.today()
    with audited(clients.audit_log, actor=f"operator:{getpass.getuser()}", action="repair", customer=customer,
                 snapshot=today, details={}) as extra:
        damaged = damaged_blobs(clients.store, customer)
        backup: dict[str, Any] | None = None
        if damaged:
            settings.require_github()
            with wiring.instance(settings) as instance:
                summary = take_snapshots(instance, definitions_from(settings), [SnapshotKey(customer, today)])[0]
            backup = {"run_id": summary.run_id, "success": summary.success, "error": summary.error}
            for entry in damaged.values():
                entry.healed = clients.store.blob_problem(customer, entry.blob) is None
        unhealed = [entry for entry in damaged.values() if not entry.healed]
        extra.update(outcome="failed" if unhealed else "ok", damaged=len(damaged),
                     healed=len(damaged) - len(unhealed), not_healed=[e.blob for e in unhealed][:50])
    if args.json:
        print(json.dumps({"customer": customer, "date": today, "backup": backup,
                          "blobs": [asdict(entry) for entry in damaged.values()]}, indent=2))
    else:
        print(render(customer, damaged, backup))
    if unhealed:
        print(f"backhub repair: {len(unhealed)} damaged blob(s) of {customer} cannot be rewritten from what "
              "GitHub has today; restore the snapshots named above from another date or another copy of the "
              "store", file=sys.stderr)
    return 1 if unhealed else 0


def render(customer: str, damaged: dict[str, DamagedBlob], backup: dict[str, Any] | None) -> str:
    if not damaged:
        return f"repair: OK: every blob named by {customer}'s snapshots reads intact; nothing to repair"
    lines = [f"repair: {len(damaged)} damaged blob(s) of {customer}; today's backup run {backup['run_id']} "
             f"{'succeeded' if backup['success'] else 'FAILED: ' + str(backup['error'])}"] if backup else []
    for entry in damaged.values():
        state = "healed" if entry.healed else "NOT HEALED (today's backup does not produce it again)"
        lines.append(f"  {entry.blob}: {state}; named by {', '.join(entry.snapshots)}")
    return "\n".join(lines)
