"""The Great Expectations suite for the issues one snapshot wrote (DESIGN.md section 4).

Called directly from the asset check with great-expectations 1.x (dagster-ge pins the 0.x line).
pandas (about 40 MiB) and Great Expectations (about 160 MiB more: it imports scipy, SQLAlchemy and
altair) are imported only when a check builds the table, so a run that wrote no issue chunk never
loads them, and nothing that merely imports the code location does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ["repository", "number", "id", "state", "created_at", "updated_at", "comments", "stored_comments",
           "repeated_event_ids", "commits", "stored_commits"]
PULL_COMMITS_LISTED = 250  # GitHub's "List commits on a pull request" stops there


def _commits(record: dict[str, Any]) -> tuple[int, int]:
    """(what the pull request says, what we stored); equal by construction where there is nothing to
    compare (an issue, or a record from before pull-request detail and commits were captured)."""
    stored = len(record.get("commits", ()))
    said = (record.get("pull") or {}).get("commits")
    if "commits" not in record or not isinstance(said, int):
        return stored, stored
    return min(said, PULL_COMMITS_LISTED), stored


def table_row(repository: str, record: dict[str, Any]) -> dict[str, Any]:
    """One stored issue or pull request as the suite sees it: what GitHub said and what we stored.
    Only these fields are kept, so a check holds one small row per record, never the records."""
    issue = record.get("issue") or {}
    return {
        "repository": repository,
        "number": record["number"],
        "id": issue.get("id"),
        "state": issue.get("state"),
        "created_at": issue.get("created_at"),
        "updated_at": issue.get("updated_at"),
        "comments": issue.get("comments"),
        "stored_comments": len(record.get("comments", [])),
        "repeated_event_ids": len(record.get("events", ())) - len({e.get("id") for e in record.get("events", ())}),
        "commits": _commits(record)[0],
        "stored_commits": _commits(record)[1],
    }


def issues_table(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """The rows (``table_row``) as a table with parsed timestamps."""
    import pandas as pd  # heavy: imported only when a check runs

    frame = pd.DataFrame(list(rows), columns=COLUMNS)
    for column in ("created_at", "updated_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


@dataclass(frozen=True)
class Outcome:
    expectation: str
    success: bool
    unexpected_count: int
    examples: list[str]


_NOTHING_TO_VALIDATE = Outcome(expectation="table", success=True, unexpected_count=0, examples=[])


def validate_records(rows: list[dict[str, Any]]) -> list[Outcome]:
    """The suite over ``rows`` (``table_row``); without rows, nothing to validate and nothing imported."""
    if not rows:
        return [_NOTHING_TO_VALIDATE]
    return validate_issues(issues_table(rows))


def validate_issues(frame: pd.DataFrame) -> list[Outcome]:
    if frame.empty:  # a day that wrote no issue chunk: nothing to validate, and no suite to build
        return [_NOTHING_TO_VALIDATE]
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # never phone home from a backup worker
    import great_expectations as gx  # heavy: imported only when a check runs
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("snapshot")
        .add_dataframe_asset("issues")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    expect = gx.expectations
    suite = gx.ExpectationSuite(name="issues")
    for expectation in (
        expect.ExpectCompoundColumnsToBeUnique(column_list=["repository", "number"]),
        expect.ExpectColumnValuesToNotBeNull(column="id"),
        expect.ExpectColumnValuesToBeInSet(column="state", value_set=["open", "closed"]),
        expect.ExpectColumnPairValuesAToBeGreaterThanB(column_A="updated_at", column_B="created_at", or_equal=True),
        expect.ExpectColumnPairValuesToBeEqual(column_A="comments", column_B="stored_comments"),
        expect.ExpectColumnValuesToBeInSet(column="repeated_event_ids", value_set=[0]),
        expect.ExpectColumnPairValuesToBeEqual(column_A="commits", column_B="stored_commits"),
    ):
        suite.add_expectation(expectation)
    result = batch.validate(suite)
    return [
        Outcome(
            expectation=_name(item.expectation_config),
            success=bool(item.success),
            unexpected_count=int(item.result.get("unexpected_count") or 0),
            examples=[str(value) for value in (item.result.get("partial_unexpected_list") or [])[:5]],
        )
        for item in result.results
    ]


def _name(config: Any) -> str:
    """The expectation's type and the columns it reads: two of one type stay two keys of metadata."""
    kwargs = config.kwargs
    columns = [kwargs[key] for key in ("column", "column_A", "column_B") if kwargs.get(key)]
    columns += list(kwargs.get("column_list") or [])
    return f"{config.type}({', '.join(columns)})" if columns else config.type
