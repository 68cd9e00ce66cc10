"""The issues safety net's schedule: every repository read whole at least every N days, spread evenly."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from assets.policy import BackupPolicy


def _simulate(policy: BackupPolicy, repository_ids: range, days: int) -> tuple[dict[int, list[int]], Counter]:
    start = dt.date(2026, 3, 2)
    last: dict[int, dt.date | None] = dict.fromkeys(repository_ids)
    full_days: dict[int, list[int]] = {rid: [] for rid in repository_ids}
    per_day: Counter = Counter()
    for offset in range(days):
        date = start + dt.timedelta(days=offset)
        for rid in repository_ids:
            if policy.full_read_due(rid, date.isoformat(), last[rid]):
                last[rid] = date
                full_days[rid].append(offset)
                per_day[offset] += 1
    return full_days, per_day


def test_every_repository_is_read_whole_at_least_every_n_days() -> None:
    policy = BackupPolicy(full_read_days=7)
    full_days, _ = _simulate(policy, range(1, 301), days=60)
    for rid, days in full_days.items():
        assert days[0] == 0, rid  # the first snapshot reads everything
        gaps = [later - earlier for earlier, later in zip(days, days[1:], strict=False)]
        assert gaps and max(gaps) <= 7, (rid, days)
        assert days[-1] >= 60 - 7, (rid, days)


def test_after_the_first_cycle_no_day_pays_for_all_repositories() -> None:
    policy = BackupPolicy(full_read_days=7)
    _, per_day = _simulate(policy, range(1, 701), days=42)
    steady = [per_day[day] for day in range(14, 42)]
    assert max(steady) <= 2 * 700 / 7, steady  # about a seventh a day, never a pile-up
    assert min(steady) > 0


def test_the_slot_is_stable_and_a_retry_the_same_day_does_not_read_again() -> None:
    policy = BackupPolicy(full_read_days=7)
    assert policy.full_read_slot(12345) == BackupPolicy(full_read_days=7).full_read_slot("12345")
    today = dt.date(2026, 3, 9)
    assert not policy.full_read_due(12345, today.isoformat(), today)
    assert policy.full_read_due(12345, today.isoformat(), None)
    assert policy.full_read_due(12345, today.isoformat(), today - dt.timedelta(days=7))
