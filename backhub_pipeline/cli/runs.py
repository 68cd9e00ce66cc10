"""Running a job of the code location in this process, against the Dagster instance, as the CLI does.

The run is recorded in the instance like any other (the UI shows it); the command reads its outcome
from the run's own events: the ``report`` an op attached as output metadata, or the first failure.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from resources import errors
from resources.errors import BackhubError

BACKHUB_ERRORS = {name for name, value in vars(errors).items() if isinstance(value, type) and issubclass(value, BackhubError)}

LAUNCHED_BY_CLI = {"backhub/launched-by": "cli"}
#: The command prints its own summary, a failure as its root cause's one line (a step failure's
#: traceback is not for the terminal); every event is still in the instance for the UI.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def run_job(instance: dg.DagsterInstance, definitions: dg.Definitions, job_name: str, *,
            run_config: dg.RunConfig | dict[str, Any] | None = None, partition_key: str | None = None,
            tags: dict[str, str] | None = None) -> dg.ExecuteInProcessResult:
    """Run ``job_name`` to completion here; a failed run is returned, not raised."""
    return definitions.resolve_job_def(job_name).execute_in_process(
        instance=instance, partition_key=partition_key, run_config=run_config, raise_on_error=False,
        tags={**(tags or {}), **LAUNCHED_BY_CLI},
    )


def first_failure(result: dg.ExecuteInProcessResult) -> tuple[str, str] | None:
    """The first failed step of the run and the one line of its root cause, if a step failed."""
    for event in result.all_events:
        if event.is_step_failure:
            return event.step_key or "", root_cause(event.step_failure_data.error)
    return None


def root_cause(error: Any) -> str:
    """The root cause of a failure as one line: the innermost backhub error (it names cause and remedy;
    what it was translated from is detail), else the innermost error."""
    if error is None:
        return "failed"
    chain = [error]
    while chain[-1].cause is not None:
        chain.append(chain[-1].cause)
    ours = [link for link in chain if link.cls_name in BACKHUB_ERRORS]
    error = ours[-1] if ours else chain[-1]
    message = error.message.strip()
    # Dagster's message starts with the class's dotted name ("resources.errors.StorageError: ..."):
    # the operator needs the cause and the remedy, not where the class lives.
    head, separator, rest = message.partition(": ")
    if separator and head.rsplit(".", 1)[-1] == error.cls_name:
        message = rest
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return " ".join(lines) if len(" ".join(lines)) <= 300 else lines[0] if lines else "failed"


def report_of(result: dg.ExecuteInProcessResult, what: str) -> dict[str, Any]:
    """The ``report`` output metadata of the run's op, or BackhubError naming the run and why it failed."""
    for event in result.all_events:
        if event.is_successful_output and "report" in event.event_specific_data.metadata:
            return event.event_specific_data.metadata["report"].data
    failure = first_failure(result)
    raise BackhubError(f"{what} (run {result.run_id}) failed: {failure[1] if failure else 'no report'}")
