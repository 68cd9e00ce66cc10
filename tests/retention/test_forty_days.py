"""The 40-day promise, scaled: bench/retention_bench.py runs the full 40 days with a 30-day window."""

import pytest

from bench.retention_bench import inspect_home, run_demo

pytestmark = pytest.mark.slow


def test_demo_days_past_the_window_end_with_exactly_the_window_and_nothing_orphaned(tmp_path) -> None:
    home = tmp_path / "demo"
    run_demo(home, days=5, scale="tiny", retention_days=3)
    found = inspect_home(home)
    assert len(found["customers"]) == 2
    for customer, seen in found["customers"].items():
        assert seen["snapshots"] == 3, customer
        assert seen["dates"] == found["date_keys"], customer
        assert seen["orphans"] == 0, customer
    assert len(found["date_keys"]) == 3
    assert found["problems"] == []
    assert found["deleted"]["manifests"] == 2 * 2 * 4 and found["deleted"]["blobs"] > 0
