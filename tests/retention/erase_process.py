"""An erasure run as its own process, hanging part-way through deleting the store, for a test to kill.

    python -m tests.retention.erase_process CUSTOMER

Opens everything from the BACKHUB_* environment like the CLI; the store's storage deletes one blob of
the customer, then prints BLOCKED and hangs (tests/store/faults.py ``BlockOnDelete``).
"""

from __future__ import annotations

import sys

from backhub_pipeline import wiring
from backhub_pipeline.erasure import erase_customer
from backhub_pipeline.settings import Settings
from tests.store.faults import BlockOnDelete


def main() -> None:
    customer = sys.argv[1]
    settings = Settings.from_env()
    clients = wiring.clients(settings)
    store = clients.store
    store.storage = BlockOnDelete(store.storage, f"customers/{customer}/blobs/", after=1)
    with wiring.instance(settings) as instance:
        erase_customer(customer, store=store, instance=instance, audit=clients.audit_log, actor="test",
                       git_cache_dir=settings.git_cache_dir)


if __name__ == "__main__":
    main()
