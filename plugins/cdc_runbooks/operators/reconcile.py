"""Reconcile row counts of a pipeline's tables: source writer (MySQL) against the warehouse (Redshift/PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from airflow.providers.amazon.aws.hooks.rds import RdsHook
from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.sdk import BaseOperator

from cdc_runbooks import identifiers
from cdc_runbooks.operators.step import records_failure
from cdc_runbooks.pipelines import Pipeline, get_pipeline
from cdc_runbooks.refusal import Refusal
from cdc_runbooks.row_counts import CountReport, compare
from cdc_runbooks.writer import describe_writer, writer_sql_hook


class RowCountDrift(Refusal, RuntimeError):
    """Source and warehouse row counts still differ after the settle window; the message has the table."""


def source_counts(pipeline: Pipeline) -> dict[str, int]:
    hook = writer_sql_hook(pipeline.source_conn_id, describe_writer(RdsHook(aws_conn_id=pipeline.aws_conn_id),
                                                                     pipeline.source_cluster))
    schema = identifiers.table_name(pipeline.target_schema, "target_schema")
    return {t: int(hook.get_first(f"SELECT COUNT(*) FROM `{schema}`.`{identifiers.table_name(t)}`")[0])  # noqa: S608
            for t in pipeline.tables}


def target_counts(pipeline: Pipeline) -> dict[str, int]:
    hook = PostgresHook(postgres_conn_id=pipeline.target_conn_id)
    schema = identifiers.table_name(pipeline.target_schema, "target_schema")
    return {t: int(hook.get_first(f'SELECT COUNT(*) FROM "{schema}"."{identifiers.table_name(t)}"')[0])  # noqa: S608
            for t in pipeline.tables}


class ReconcileCountsOperator(BaseOperator):
    """Compare per-table row counts of the source writer and the warehouse; re-read until equal or
    ``settle_timeout_s`` passes; fail with the table on drift (tolerance 0).

    Table and schema names come from the pipelines configuration, are validated as plain identifiers, and
    are quoted for each dialect. Both sides are read in parallel.

    :param pipeline_name: pipeline in the pipelines configuration.
    :param settle_timeout_s: how long CDC may take to settle before a difference counts as drift.
    :param poll_s: seconds between reads.
    """

    template_fields: Sequence[str] = ("pipeline_name",)

    def __init__(self, *, pipeline_name: str, settle_timeout_s: float = 120, poll_s: float = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pipeline_name = pipeline_name
        self.settle_timeout_s = settle_timeout_s
        self.poll_s = poll_s

    @records_failure
    def execute(self, context) -> dict:
        report = self.reconcile(get_pipeline(self.pipeline_name))
        self.log.info("%s", report.to_markdown())
        if not report.passed:
            raise RowCountDrift(f"row counts differ after {self.settle_timeout_s:g} s:\n\n{report.to_markdown()}")
        return report.to_dict()

    def reconcile(self, pipeline: Pipeline) -> CountReport:
        deadline, attempts = time.monotonic() + self.settle_timeout_s, 0
        with ThreadPoolExecutor(2) as pool:
            while True:
                attempts += 1
                source, target = pool.submit(source_counts, pipeline), pool.submit(target_counts, pipeline)
                report = compare(source.result(), target.result(), attempts)
                if report.passed or time.monotonic() > deadline:
                    return report
                time.sleep(self.poll_s)
