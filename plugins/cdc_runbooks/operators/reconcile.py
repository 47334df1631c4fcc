"""Reconcile a pipeline's tables, source writer (MySQL/Aurora) against the warehouse (Redshift/PostgreSQL):
the Airflow shell of :mod:`cdc_runbooks.reconcile`.

Both sides are reached through Airflow connections with the common-sql hooks: the source with the
pipeline's ``source_conn_id`` credentials on the writer endpoint the RDS API names now
(DescribeDBClusters: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBClusters.html),
the warehouse with ``target_conn_id`` (conn type ``redshift`` → Redshift SQL, anything else → PostgreSQL).
The source database has the name of the warehouse schema (``target_schema``), as DMS maps them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.sdk import BaseHook, BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from cdc_runbooks import identifiers
from cdc_runbooks.aws.cluster import describe_writer, writer_sql_hook
from cdc_runbooks.aws.hooks import rds_hook
from cdc_runbooks.compared_table import QueryFailed, Side
from cdc_runbooks.pipelines import Pipeline, get_pipeline
from cdc_runbooks.reconcile import Settings, reconcile
from cdc_runbooks.reconcile_report import Report
from cdc_runbooks.refusal import Refusal
from cdc_runbooks.row_checksum import Dialect
from cdc_runbooks.step import records_failure


class ReconciliationDrift(Refusal, RuntimeError):
    """Source and warehouse still differ after the settle window; the message has the tables and keys."""


class UnknownTable(Refusal, ValueError):
    """A table asked for is not one of the pipeline's configured tables."""


class SideUnreachable(RuntimeError):
    """A side could not be read: nothing is concluded about drift (a transient error: the step retries)."""


# DB-API's connection-level errors (PEP 249), whichever driver raises them; a SQL error is not one of them.
_UNREACHABLE = ("OperationalError", "InterfaceError")
# A statement the database refuses whatever the moment, by SQLSTATE class (data exception, integrity constraint,
# syntax error or access rule, feature not supported: https://www.postgresql.org/docs/current/errcodes-appendix.html;
# MySQL reports the same classes), or by DB-API class where the driver gives no SQLSTATE.
_REFUSED_SQLSTATE = ("22", "23", "42", "0A")
_REFUSED_DBAPI = {"DataError", "IntegrityError", "ProgrammingError", "NotSupportedError"}


def _refused(error: Exception) -> bool:
    """A SQL error (retrying the query cannot help), as opposed to a lost connection or a timeout."""
    state = getattr(error, "pgcode", None) or getattr(error, "sqlstate", None)
    if isinstance(state, str) and len(state) == 5:
        return state[:2] in _REFUSED_SQLSTATE
    return any(kind.__name__ in _REFUSED_DBAPI for kind in type(error).__mro__)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _reading(what: str, conn_id: str, get_records):
    """``get_records`` whose errors say which side could not be read and what to do: a SQL error is a
    :class:`QueryFailed` (a refusal, with the table named by the reader), a connection error SideUnreachable."""
    def run(sql, parameters=None):
        try:
            return get_records(sql, parameters=parameters)
        except Exception as error:
            if _refused(error):
                raise QueryFailed(f"the {what} (connection {conn_id!r}) refused a query: {_first_line(error)}. "
                                  "Retrying cannot help; nothing was concluded about drift.") from error
            if type(error).__name__ not in _UNREACHABLE:
                raise
            raise SideUnreachable(f"could not read the {what} (connection {conn_id!r}): {_first_line(error)}. "
                                  "Nothing was concluded about drift; when it is reachable again, clear this step."
                                  ) from error
    return run


def source_side(pipeline: Pipeline, cluster: str | None = None) -> Side:
    """The source: the writer of ``cluster`` (default: the pipeline's production cluster) as the RDS API names
    it now."""
    hook = writer_sql_hook(pipeline.source_conn_id, describe_writer(rds_hook(pipeline.aws_conn_id),
                                                                    cluster or pipeline.source_cluster))
    return Side(Dialect.MYSQL, pipeline.target_schema, _reading("source", pipeline.source_conn_id, hook.get_records))


def target_side(pipeline: Pipeline) -> Side:
    if BaseHook.get_connection(pipeline.target_conn_id).conn_type == "redshift":
        from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook

        dialect, hook = Dialect.REDSHIFT, RedshiftSQLHook(redshift_conn_id=pipeline.target_conn_id)
    else:
        dialect, hook = Dialect.POSTGRES, PostgresHook(postgres_conn_id=pipeline.target_conn_id)
    return Side(dialect, pipeline.target_schema, _reading("warehouse", pipeline.target_conn_id, hook.get_records))


def selected_tables(pipeline: Pipeline, tables: Sequence[str] | None) -> tuple[str, ...]:
    """The pipeline's tables, or the requested subset (each validated and required to be configured)."""
    if not tables:
        return pipeline.tables
    unknown = [t for t in tables if identifiers.table_name(t, "tables") not in pipeline.tables]
    if unknown:
        raise UnknownTable(f"tables: {identifiers.shown(unknown)} are not tables of pipeline {pipeline.name} "
                           f"({', '.join(pipeline.tables)})")
    return tuple(tables)


class ReconcileOperator(BaseOperator):
    """Reconcile the tables of one or more pipelines (see :mod:`cdc_runbooks.reconcile` for the consistent-cut
    rule); log the markdown report, return it as a dict, and fail on drift above ``tolerance`` (default 0).

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
        if not report.passed:
            raise ReconciliationDrift(f"source and warehouse differ after {settings.settle_s:g} s of settling:\n\n"
                                      f"{report.to_markdown()}")
        return report.to_dict()


def _labelled(pipeline: str, result, several: bool):
    return replace(result, table=f"{pipeline}.{result.table}") if several else result
