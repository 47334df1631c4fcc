"""What every runbook task imports, imported once by a Celery worker's main process (see
:mod:`cdc_runbooks.celery_config`): each task process it forks then starts with these modules in memory.

Without it every task start re-imports them while parsing its DAG file — boto3/botocore, the MySQL and PostgreSQL
drivers, the providers' operators: 0.5-1 s per task on the rehearsal cluster, paid by each of the steps between the
DMS pause and the CDC restart (``python -m bench switchover_live``, task logs from "Filling up the DagBag" to "Worker
startup parse complete"). Airflow's Celery app preloads its own operators the same way (``on_celery_import_modules``).

A boto3 client costs 0.2-0.3 s more to build in a fresh process: botocore parses the service's JSON model again for
every session it creates (the model cache is per loader, and each session has its own loader). This module gives
every session of the worker's processes one loader with the runbooks' services already parsed
(:func:`share_botocore_loader`); the models are read-only data, the same for every session.
"""

from __future__ import annotations

import airflow.providers.amazon.aws.hooks.base_aws
import airflow.providers.amazon.aws.hooks.dms
import airflow.providers.amazon.aws.hooks.rds
import airflow.providers.mysql.hooks.mysql
import airflow.providers.postgres.hooks.postgres
import airflow.providers.standard.operators.trigger_dagrun  # noqa: F401
import botocore.loaders
import botocore.session
import mysql.connector  # noqa: F401
from botocore import UNSIGNED
from botocore.config import Config

import cdc_runbooks.operators.approval
import cdc_runbooks.operators.athena_tables
import cdc_runbooks.operators.binlog_readiness
import cdc_runbooks.operators.blue_green
import cdc_runbooks.operators.dms
import cdc_runbooks.operators.lake_retention
import cdc_runbooks.operators.pipeline_lock
import cdc_runbooks.operators.reconcile
import cdc_runbooks.operators.resume_handoff
import cdc_runbooks.operators.run_record
import cdc_runbooks.operators.snapshot_export
import cdc_runbooks.run_note
import cdc_runbooks.switchover_fact  # noqa: F401

SERVICES = ("dms", "rds", "s3", "cloudwatch", "glue", "athena", "sns", "sts")


class _SearchPaths(list):
    """A loader's search paths that ignore a path they already hold: boto3 appends its data path to the loader of
    each session it makes, and every session shares one loader here."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


def share_botocore_loader(services: tuple[str, ...] = SERVICES) -> botocore.loaders.Loader:
    """Make every botocore session that uses the default data path share one loader, with ``services``' models
    (and the endpoint and retry data every client needs) loaded into it; returns that loader. Idempotent."""
    create = botocore.session.create_loader
    shared = getattr(create, "shared", None)
    if shared is None:
        shared = create()
        shared._search_paths = _SearchPaths(shared.search_paths)  # botocore keeps them there (Loader.__init__)

        def create_loader(search_path_string=None):
            return shared if search_path_string is None else create(search_path_string)

        create_loader.shared = shared
        botocore.session.create_loader = create_loader
    session = botocore.session.get_session()
    unsigned = Config(signature_version=UNSIGNED)  # no credentials looked up: these clients never call AWS
    for service in services:
        session.create_client(service, region_name="us-east-1", config=unsigned)
    return shared


share_botocore_loader()

