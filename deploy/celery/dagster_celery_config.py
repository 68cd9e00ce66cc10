"""Celery settings for backhub's workers, read by ``celery -A dagster_celery.app worker``.

dagster-celery's app imports a module named ``dagster_celery_config`` when one is on ``PYTHONPATH`` and
applies its upper-level names as Celery settings. This one takes the broker and the result backend from
the same variables the code location's executor reads (``BACKHUB_CELERY_BROKER_URL``,
``BACKHUB_CELERY_BACKEND_URL``), so workers and runs always meet on one broker and no URL (with its
password) is written to a file. It is a deployment file, read once when a worker starts:

    PYTHONPATH=deploy/celery celery -A dagster_celery.app worker -Q dagster -n backup-1@%h --concurrency 2

Each worker needs the same environment as the code location (docs/deploy.md): the instance
(``DAGSTER_HOME`` with deploy/dagster.yaml and the ``DAGSTER_PG_*`` variables), the store, the keys and
the GitHub App. Each step is one Celery task; a worker runs ``--concurrency`` of them at once.
"""

import os

broker_url = os.environ.get("BACKHUB_CELERY_BROKER_URL") or ""
if not broker_url:
    raise RuntimeError("a backhub Celery worker needs BACKHUB_CELERY_BROKER_URL, the broker the code location uses")
result_backend = os.environ.get("BACKHUB_CELERY_BACKEND_URL") or "rpc://"

# One step at a time per worker process: a snapshot step is long and uneven, prefetching would queue
# steps behind a slow one while another worker sits idle.
worker_prefetch_multiplier = 1
# The broker may be restarted under a running worker: keep reconnecting instead of exiting.
broker_connection_retry_on_startup = True
broker_connection_max_retries = None

# A worker lost mid-step (kill -9, the OOM killer, a lost VM) must not lose the step. Celery acknowledges a
# task when a worker takes it, so the broker forgets it and the run waits for a result that never comes
# (until run monitoring's max_runtime_seconds, 6 h). Acknowledged only once the step has ended, the task of
# a lost worker is delivered again, to any worker, and the run receives that one's result. A step may
# therefore run twice; backhub's is safe to: every write is content-addressed and the manifest is last.
task_acks_late = True
# ... also when only the worker's pool process dies (the OOM killer picks the biggest process): without
# this, Celery acknowledges the task of a lost pool process even with task_acks_late.
task_reject_on_worker_lost = True
# When the connection to the broker is lost, the broker hands the unacknowledged step to another worker:
# stop this one's copy rather than run the same snapshot twice at once (Celery 6's default).
worker_cancel_long_running_tasks_on_connection_loss = True
# RabbitMQ closes a channel whose delivery stays unacknowledged longer than its consumer_timeout (30 min
# by default) and delivers the task again while the first copy still runs: raise consumer_timeout above
# the longest step (docs/deploy.md, "Celery").
