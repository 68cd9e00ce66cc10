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
