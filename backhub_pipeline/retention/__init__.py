"""Retention: which snapshots are older than the window (``plan``), destroying them safely
(``expiry``), and the Dagster glue that runs it daily (``job``, ``sensor``)."""
