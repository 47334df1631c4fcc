"""The facts of binlog readiness, gathered the way DMS would meet them, and judged with
:mod:`cdc_runbooks.binlog_readiness`.

The parameter group and the writer's apply status come from the RDS API, and the
running settings, binlog retention and the DMS user's grants from the writer
endpoint the API reports, logged in with the pipeline's source connection (the
DMS user).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import closing

from airflow.providers.mysql.hooks.mysql import MySqlHook

from cdc_runbooks.aws.cluster import cluster_parameters, describe_cluster, describe_writer, writer_sql_hook
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

log = logging.getLogger(__name__)


def check_binlog_readiness(pipeline: Pipeline, cluster: str, role: str = "production",
                           min_retention_hours: int | None = None) -> ReadinessReport:
    """Gather the API and SQL facts of ``cluster`` with the pipeline's connections and evaluate them
    (binlog retention against ``min_retention_hours``, default the pipeline's minimum)."""
    writer = describe_writer(pipeline.aws_conn_id, cluster)
    api = ApiFacts(parameter_group=writer.parameter_group,
                   parameters=cluster_parameters(pipeline.aws_conn_id, writer.parameter_group),
                   writer_apply_status=writer.parameter_apply_status, writer_instance=writer.instance)
    sql = writer_facts(writer_sql_hook(pipeline.source_conn_id, writer))
    return evaluate(cluster, role, api, sql,
                    min_retention_hours=min_retention_hours or pipeline.binlog_retention_hours_min,
                    dms_engine_version=pipeline.dms_engine_version)


def guard_targets(pipeline_names: list[str]) -> list[dict]:
    """{"pipeline", "cluster", "role"} of every cluster to check for the pipelines (:func:`readiness_targets`)."""
    return [{"pipeline": name, "cluster": cluster, "role": role} for name in pipeline_names
            for cluster, role in readiness_targets(get_pipeline(name))]


def readiness_targets(pipeline: Pipeline) -> list[tuple[str, str]]:
    """(cluster, role) to check for a pipeline: production, and the green cluster of every AVAILABLE blue/green
    deployment whose source is production (DescribeBlueGreenDeployments:
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeBlueGreenDeployments.html)."""
    production = describe_cluster(pipeline.aws_conn_id, pipeline.source_cluster)
    targets = [(pipeline.source_cluster, "production")]
    for page in rds_hook(pipeline.aws_conn_id).conn.get_paginator("describe_blue_green_deployments").paginate():
        for deployment in page["BlueGreenDeployments"]:
            if deployment["Source"] == production["DBClusterArn"] and deployment["Status"] == "AVAILABLE":
                green = describe_cluster(pipeline.aws_conn_id, deployment["Target"])
                targets.append((green["DBClusterIdentifier"], f"green of {deployment['BlueGreenDeploymentName']}"))
    return targets


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
