"""The Celery configuration of the runbooks' workers: Airflow's default, plus :mod:`cdc_runbooks.worker_preload`
in Celery's ``imports`` (modules a worker imports in its main process at start, before it forks its pool), so
that a task starts without re-importing the runbooks' dependencies.

Set ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=cdc_runbooks.celery_config.CELERY_CONFIG`` on every component (the
scheduler reads it too; only workers import the ``imports``).
"""

from __future__ import annotations

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

CELERY_CONFIG = {**DEFAULT_CELERY_CONFIG,
                 "imports": (*DEFAULT_CELERY_CONFIG.get("imports", ()), "cdc_runbooks.worker_preload")}
