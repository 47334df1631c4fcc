"""The two sides of a pipeline's reconciliation, source writer (MySQL/Aurora) and warehouse (Redshift/PostgreSQL),
as :class:`~cdc_runbooks.reconcile.compared_table.Side` objects over Airflow connections.

Both sides are reached through Airflow connections with the common-sql hooks: the source with the
pipeline's ``source_conn_id`` credentials on the writer endpoint the RDS API names now
(DescribeDBClusters: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBClusters.html),
the warehouse with ``target_conn_id`` (conn type ``redshift`` → Redshift SQL, anything else → PostgreSQL), or,
when the pipeline names ``redshift_data`` (a Serverless workgroup or a provisioned cluster, and a database),
through the Redshift Data API with ``aws_conn_id``'s IAM identity (:mod:`cdc_runbooks.aws.redshift_data`).
The source database has the name of the warehouse schema (``target_schema``), as DMS maps them.

A SQL error (retrying cannot help; a FAILED Data API statement) is a
:class:`~cdc_runbooks.reconcile.compared_table.QueryFailed`, a lost connection (an ABORTED or overdue statement,
throttling past the SDK's retries) :class:`SideUnreachable` (transient: the step retries).
"""

from __future__ import annotations

from airflow.providers.common.sql.hooks.sql import DbApiHook
from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.sdk import BaseHook
from botocore.exceptions import ClientError

from cdc_runbooks.aws.cluster import describe_writer, writer_sql_hook
from cdc_runbooks.aws.errors import error_code, is_transient
from cdc_runbooks.aws.redshift_data import StatementFailed, StatementInterrupted, run_statement
from cdc_runbooks.pipelines import Pipeline
from cdc_runbooks.reconcile.compared_table import QueryFailed, Side
from cdc_runbooks.reconcile.row_checksum import Dialect, quote

DATA_API_POLL_S = 0.25  # DescribeStatement calls while a statement runs (most reconcile statements take seconds)


class SideUnreachable(RuntimeError):
    """A side could not be read: nothing is concluded about drift (a transient error: the step retries)."""


# DB-API's connection-level errors (PEP 249), whichever driver raises them; a SQL error is not one of them.
_UNREACHABLE = ("OperationalError", "InterfaceError")
# A statement the database refuses whatever the moment, by SQLSTATE class (data exception, integrity constraint,
# syntax error or access rule, feature not supported: https://www.postgresql.org/docs/current/errcodes-appendix.html;
# MySQL reports the same classes), or by DB-API class where the driver gives no SQLSTATE.
_REFUSED_SQLSTATE = ("22", "23", "42", "0A", "54")  # 54: a program limit (a 1 GB text): the same query fails again
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
    hook = writer_sql_hook(pipeline.source_conn_id, describe_writer(pipeline.aws_conn_id,
                                                                    cluster or pipeline.source_cluster))
    return Side(Dialect.MYSQL, pipeline.target_schema, _reading("source", pipeline.source_conn_id, hook.get_records))


def target_side(pipeline: Pipeline) -> Side:
    """The warehouse: through the Redshift Data API when the pipeline names one (``redshift_data``), else
    ``target_conn_id``."""
    if pipeline.redshift_data is not None:
        return Side(Dialect.REDSHIFT, pipeline.target_schema, _data_api(pipeline))
    dialect, hook = target_sql_hook(pipeline)
    return Side(dialect, pipeline.target_schema, _reading("warehouse", pipeline.target_conn_id, hook.get_records))


def target_sql_hook(pipeline: Pipeline) -> tuple[Dialect, DbApiHook]:
    """The warehouse's SQL hook over ``target_conn_id`` (conn type ``redshift`` → Redshift SQL, anything else →
    PostgreSQL) and its dialect."""
    if BaseHook.get_connection(pipeline.target_conn_id).conn_type == "redshift":
        from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook

        return Dialect.REDSHIFT, RedshiftSQLHook(redshift_conn_id=pipeline.target_conn_id)
    return Dialect.POSTGRES, PostgresHook(postgres_conn_id=pipeline.target_conn_id)


def _data_api(pipeline: Pipeline):
    """Statements through the Data API, each waited for within a bound: FAILED is a refusal (the same statement
    would fail again), ABORTED, a timeout or throttling beyond the SDK's retries leave nothing concluded (transient:
    the step retries)."""
    target, where = pipeline.redshift_data, pipeline.redshift_data.describe()

    def run(sql, parameters=None):
        try:
            return run_statement(pipeline.aws_conn_id, target, sql, parameters, poll_s=DATA_API_POLL_S,
                                 timeout_s=target.statement_timeout_s)
        except StatementFailed as error:
            raise QueryFailed(f"the warehouse ({where}) refused a query: {error}. Retrying cannot help; nothing was "
                              "concluded about drift.") from error
        except StatementInterrupted as error:
            raise SideUnreachable(f"could not read the warehouse ({where}): {error}. Nothing was concluded about "
                                  "drift; clear this step to try again.") from error
        except ClientError as error:
            if not is_transient(error):
                raise
            raise SideUnreachable(f"could not read the warehouse ({where}): {error_code(error)} after the SDK's "
                                  "retries. Nothing was concluded about drift; clear this step to try again."
                                  ) from error
    return run


def source_counts(pipeline: Pipeline) -> dict[str, int]:
    """Row count of each pipeline table on the cluster's current writer (the reconciliation's source side)."""
    side, schema = source_side(pipeline), quote(Dialect.MYSQL, pipeline.target_schema)
    return {t: int(side.run(f"SELECT COUNT(*) FROM {schema}.{quote(Dialect.MYSQL, t)}", None)[0][0])  # noqa: S608
            for t in pipeline.tables}
