"""Connections to the outside world: GitHub, git, the snapshot store, keys, audit log, alerts.

Each module is one outside system: a Dagster ``ConfigurableResource`` plus the plain client it hands
out. Nothing here imports from ``assets`` or ``backhub_pipeline``.
"""
