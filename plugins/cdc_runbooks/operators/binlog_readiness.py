"""Binlog readiness for DMS CDC as a task: gather the facts of one cluster, judge them with
``cdc_runbooks.binlog_readiness``, and fail with the whole report when anything is not ready.

The facts come the way DMS would meet them: the parameter group and the writer's
apply status from the RDS API, and the running settings, binlog retention and
the DMS user's grants from the writer endpoint the API reports, logged in with
the pipeline's source connection (the DMS user).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import closing
from typing import TYPE_CHECKING

from airflow.providers.amazon.aws.hooks.rds import RdsHook
from airflow.providers.mysql.hooks.mysql import MySqlHook
from airflow.sdk import BaseOperator

from cdc_runbooks.aws.cluster import describe_cluster, describe_writer, writer_sql_hook
from cdc_runbooks.aws.hooks import rds_hook
from cdc_runbooks.binlog_readiness import (
    ApiFacts,
    BinlogNotReady,
    ReadinessReport,
    SqlFacts,
    evaluate,
    retention_hours,
)
from cdc_runbooks.pipelines import Pipeline, get_pipeline
from cdc_runbooks.step import records_failure

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)


def check_binlog_readiness(pipeline: Pipeline, cluster: str, role: str = "production",
                           min_retention_hours: int | None = None) -> ReadinessReport:
    """Gather the API and SQL facts of ``cluster`` with the pipeline's connections and evaluate them
    (binlog retention against ``min_retention_hours``, default the pipeline's minimum)."""
    rds = rds_hook(pipeline.aws_conn_id)
    writer = describe_writer(rds, cluster)
    api = ApiFacts(parameter_group=writer.parameter_group,
                   parameters=cluster_parameters(rds, writer.parameter_group),
                   writer_apply_status=writer.parameter_apply_status, writer_instance=writer.instance)
    sql = writer_facts(writer_sql_hook(pipeline.source_conn_id, writer))
    return evaluate(cluster, role, api, sql,
                    min_retention_hours=min_retention_hours or pipeline.binlog_retention_hours_min,
                    dms_engine_version=pipeline.dms_engine_version)


def readiness_targets(pipeline: Pipeline) -> list[tuple[str, str]]:
    """(cluster, role) to check for a pipeline: production, and the green cluster of every AVAILABLE blue/green
    deployment whose source is production (DescribeBlueGreenDeployments:
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeBlueGreenDeployments.html)."""
    hook = rds_hook(pipeline.aws_conn_id)
    rds = hook.conn
    production = describe_cluster(hook, pipeline.source_cluster)
    targets = [(pipeline.source_cluster, "production")]
    for page in rds.get_paginator("describe_blue_green_deployments").paginate():
        for deployment in page["BlueGreenDeployments"]:
            if deployment["Source"] == production["DBClusterArn"] and deployment["Status"] == "AVAILABLE":
                green = describe_cluster(hook, deployment["Target"])
                targets.append((green["DBClusterIdentifier"], f"green of {deployment['BlueGreenDeploymentName']}"))
    return targets


def cluster_parameters(rds: RdsHook, parameter_group: str) -> dict[str, str | None]:
    """Every parameter of a DB cluster parameter group, name -> value (None when it has none), all pages of
    DescribeDBClusterParameters:
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBClusterParameters.html"""
    pages = rds.conn.get_paginator("describe_db_cluster_parameters").paginate(
        DBClusterParameterGroupName=parameter_group)
    return {p["ParameterName"]: p.get("ParameterValue") for page in pages for p in page["Parameters"]}


def writer_facts(hook: MySqlHook) -> SqlFacts:
    """The writer's global binlog variables, ``binlog retention hours`` and the login's SHOW GRANTS."""
    with closing(hook.get_conn()) as conn, closing(conn.cursor()) as cursor:
        log_bin, binlog_format, row_image = _rows(cursor, "SELECT @@GLOBAL.log_bin, @@GLOBAL.binlog_format, "
                                                         "@@GLOBAL.binlog_row_image")[0]
        configuration = _rows(cursor, "CALL mysql.rds_show_configuration")
        grants = [row[0] for row in _rows(cursor, "SHOW GRANTS")]
    return SqlFacts(log_bin=log_bin, binlog_format=binlog_format, binlog_row_image=row_image,
                    retention_hours=retention_hours(configuration), grants=grants)


def _rows(cursor, statement: str) -> list[Sequence]:
    """Rows of one statement; a CALL's trailing status result is consumed so the connection stays usable."""
    cursor.execute(statement)
    rows = cursor.fetchall()
    while cursor.nextset():
        pass
    return rows


class BinlogReadinessOperator(BaseOperator):
    """Check that ``cluster`` is ready to be a DMS CDC source; return the report (XCom) or fail with it.

    :param pipeline_name: the pipeline in ``config/pipelines.yaml`` (connections, minimum binlog retention,
        DMS engine version).
    :param cluster: the DB cluster identifier to check, e.g. production or a blue/green deployment's green.
    :param role: how the report names the cluster: "production", "green".
    """

    template_fields: Sequence[str] = ("cluster", "role", "pipeline_name")

    def __init__(self, *, pipeline_name: str, cluster: str, role: str = "production", **kwargs) -> None:
        super().__init__(**kwargs)
        self.pipeline_name = pipeline_name
        self.cluster = cluster
        self.role = role

    @records_failure
    def execute(self, context: Context) -> dict:
        report = check_binlog_readiness(get_pipeline(self.pipeline_name), self.cluster, self.role)
        markdown = report.to_markdown()
        self.log.info("%s", markdown)
        if not report.passed:
            failed = ", ".join(check.name for check in report.failures)
            raise BinlogNotReady(f"cluster {self.cluster} ({self.role}) is not ready for DMS CDC: {failed}\n\n"
                                   f"{markdown}")
        return report.to_dict()


def check_all(targets: list[dict]) -> dict:
    """Check each {"pipeline", "cluster", "role"}; return {cluster: report}, or raise BinlogNotReady with every
    failing report once all were checked (one bad cluster does not hide another)."""
    reports = {t["cluster"]: check_binlog_readiness(get_pipeline(t["pipeline"]), t["cluster"], t["role"])
               for t in targets}
    for report in reports.values():
        log.info("%s", report.to_markdown())
    failing = [r for r in reports.values() if not r.passed]
    if failing:
        raise BinlogNotReady("not ready for DMS CDC: " + "; ".join(
            f"{r.cluster} ({r.role}): {', '.join(c.name for c in r.failures)}" for r in failing) + "\n\n"
            + "\n\n".join(r.to_markdown() for r in failing))
    return {cluster: report.to_dict() for cluster, report in reports.items()}


class BinlogGuardOperator(BaseOperator):
    """Check many clusters at once (see :func:`check_all`); fail with every failing report.

    :param targets: list of {"pipeline", "cluster", "role"}, e.g. from :func:`readiness_targets` via XCom.
    """

    template_fields: Sequence[str] = ("targets",)

    def __init__(self, *, targets: list[dict] | str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.targets = targets

    @records_failure
    def execute(self, context: Context) -> dict:
        return check_all(self.targets)
