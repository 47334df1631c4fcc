"""cdc_binlog_guard against the estate: production and green pass; a green group without ROW fails loudly."""

from __future__ import annotations

import pytest
from moto.sns.models import sns_backends

from rehearsal.aws import ACCOUNT_ID, REGION

pytestmark = pytest.mark.estate


def _notifications(estate) -> list[str]:
    topic = sns_backends[ACCOUNT_ID][REGION].topics[estate.resources.topic_arn]
    return [message for _, message, *_ in topic.sent_notifications]


def test_guard_checks_production_and_green_and_passes(shared_estate, run_dag):
    dag_run, record = run_dag(shared_estate, "cdc_binlog_guard")

    assert dag_run.state == "success", record
    found = next(s for s in record["steps"] if s["task_id"] == "find_clusters")["result"]
    assert [(t["cluster"], t["role"]) for t in found] == [
        ("prod", "production"), (shared_estate.green_cluster, "green of prod-upgrade-80")]
    checked = next(s for s in record["steps"] if s["task_id"] == "check_binlog_readiness")["result"]
    assert all(report["passed"] for report in checked.values()) and len(checked) == 2


def test_green_parameter_group_without_row_fails_and_notifies(shared_estate, run_dag):
    rds = shared_estate.aws.client("rds")
    group = shared_estate.resources.green_parameter_group
    rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=group, Parameters=[
        {"ParameterName": "binlog_format", "ParameterValue": "MIXED", "ApplyMethod": "immediate"}])
    try:
        dag_run, record = run_dag(shared_estate, "cdc_binlog_guard")
    finally:
        rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=group, Parameters=[
            {"ParameterName": "binlog_format", "ParameterValue": "ROW", "ApplyMethod": "immediate"}])

    assert dag_run.state == "failed"
    failure = next(s for s in record["steps"] if s["task_id"] == "check_binlog_readiness")["failure"]
    assert f"{shared_estate.green_cluster} (green of prod-upgrade-80): parameter_group.binlog_format" in failure
    assert "prod (production)" not in failure.split("\n")[0]
    assert any("[failed]" in n or "FAILED" in n for n in _notifications(shared_estate))
