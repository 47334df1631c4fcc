"""Reconcile a pipeline's tables, source writer (MySQL/Aurora) against the warehouse (Redshift/PostgreSQL):
the Airflow operator over :mod:`cdc_runbooks.reconcile` (its sides: :mod:`cdc_runbooks.reconcile.sides`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from cdc_runbooks import identifiers
from cdc_runbooks.pipelines import UnknownTable, get_pipeline, selected_tables
from cdc_runbooks.reconcile.engine import Settings, reconcile
from cdc_runbooks.reconcile.report import Report
from cdc_runbooks.reconcile.sides import source_side, target_side
from cdc_runbooks.refusal import Refusal
from cdc_runbooks.step import records_failure


class ReconciliationDrift(Refusal, RuntimeError):
    """Source and warehouse still differ after the settle window; the message has the tables and keys."""


class ReconcileOperator(BaseOperator):
    """Reconcile the tables of one or more pipelines (see :mod:`cdc_runbooks.reconcile.engine` for the
    consistent-cut rule); log the markdown report, return it as a dict, and fail on drift above ``tolerance``
    (default 0).

    XCom: ``{"drift", "passed", "attempts", "tolerance", "tables": {table: {"source", "target", "diff",
    "drift", "status", "cut", "missing", "extra", "changed", "duplicate", ...}}}``; with several pipelines
    the tables are named ``pipeline.table``. Every input is validated before any data query.

    :param pipeline_name: a pipeline of the configuration, or a list of them.
    :param tables: only these tables (one pipeline only); default all configured tables.
    :param mode: ``count`` or ``checksum``.
    :param settle_s: how long a difference may take to disappear (longer than the CDC latency).
    :param poll_s: seconds between re-reads of a difference.
    :param tolerance: rows of drift per table that still pass.
    :param dry_run: the run changed nothing, so there is nothing to prove: log what would be compared and skip.
    """

    template_fields: Sequence[str] = ("pipeline_name", "tables", "mode", "settle_s", "dry_run")

    def __init__(self, *, pipeline_name: str | list[str], tables: Sequence[str] | None = None, mode: str = "count",
                 settle_s: float = 120, poll_s: float = 1, tolerance: int = 0, dry_run: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.dry_run = dry_run
        self.pipeline_name = pipeline_name
        self.tables = tables
        self.mode = mode
        self.settle_s = settle_s
        self.poll_s = poll_s
        self.tolerance = tolerance

    @records_failure
    def execute(self, context) -> dict:
        names = [self.pipeline_name] if isinstance(self.pipeline_name, str) else list(self.pipeline_name)
        if self.tables and len(names) != 1:
            raise UnknownTable(f"tables: name one pipeline to select tables (got {identifiers.shown(names)})")
        settings = Settings(mode=self.mode, settle_s=float(self.settle_s), poll_s=self.poll_s,
                            tolerance=self.tolerance)
        plans = [(p, selected_tables(p, self.tables)) for p in map(get_pipeline, names)]
        if self.dry_run:
            raise AirflowSkipException(
                f"DRY RUN: nothing was changed, so nothing to prove; would reconcile ({self.mode}) "
                f"{'; '.join(p.name + ': ' + ', '.join(tables) for p, tables in plans)}")
        report = Report(tuple(_labelled(p.name, t, len(plans) > 1) for p, tables in plans
                              for t in reconcile(source_side(p), target_side(p), tables, settings).tables),
                        tolerance=self.tolerance)
        self.log.info("%s", report.to_markdown())
        if not report.passed:  # what was found stays in the run record, for cdc_repair's reconcile_run_id
            context["ti"].xcom_push(key="return_value", value=report.to_dict())
            raise ReconciliationDrift(f"source and warehouse differ after {settings.settle_s:g} s of settling:\n\n"
                                      f"{report.to_markdown()}")
        return report.to_dict()


def _labelled(pipeline: str, result, several: bool):
    return replace(result, table=f"{pipeline}.{result.table}") if several else result
