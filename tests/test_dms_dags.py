"""dms_cdc_pause and dms_cdc_restart, run with dag.test() against the estate."""

from __future__ import annotations

import time

import pytest

from rehearsal.rehearse import drain_old_blue

pytestmark = pytest.mark.estate


def _start_requests(estate) -> list[dict]:
    return [r for r in estate.dms.requests if r["action"] == "StartReplicationTask"]


def _step(record: dict, step: str) -> dict:
    return next(s for s in record["steps"] if s["task_id"] == step)


def _failure(record: dict, step: str) -> str:
    return _step(record, step)["state"]


def test_pause_waits_for_drain_under_traffic_and_records_the_checkpoint(estate, run_dag):
    traffic = estate.traffic().start()
    try:
        dag_run, record = run_dag(estate, "dms_cdc_pause", pipeline="shop")
    finally:
        traffic.stop()

    assert dag_run.state == "success"
    assert record["outcome"] == "success"
    paused = next(s for s in record["steps"] if s["task_id"] == "pause_dms_task")["result"]
    applier = estate.dms.runtime(estate.resources.replication_task_arn).applier
    checkpoint = applier.checkpoint
    assert paused["recovery_checkpoint"] == estate.task()["RecoveryCheckpoint"]
    assert f"{checkpoint.file}:{checkpoint.position}:" in paused["recovery_checkpoint"]
    assert paused["drained"].startswith("CDC latency drain: latest CDCLatencySource")
    assert estate.task()["Status"] == "stopped"


def test_pause_dry_run_changes_nothing(estate, run_dag):
    dag_run, record = run_dag(estate, "dms_cdc_pause", pipeline="shop", dry_run=True)

    assert (dag_run.state, record["outcome"]) == ("success", "dry_run")
    assert estate.task()["Status"] == "running"
    assert not [r for r in estate.dms.requests if r["action"] == "StopReplicationTask"]


class TestRestartRefusals:
    """Every refusal happens before DMS is called; the stopped task stays stopped."""

    @pytest.fixture(scope="class")
    def stopped(self, request):
        estate = request.getfixturevalue("shared_estate")
        estate.aws.client("dms").stop_replication_task(ReplicationTaskArn=estate.resources.replication_task_arn)
        estate.wait_task_status("stopped")
        return estate

    def _refused(self, estate, run_dag, message: str, **conf) -> dict:
        before = len(_start_requests(estate))
        dag_run, record = run_dag(estate, "dms_cdc_restart", pipeline="shop", dry_run=False, **conf)
        assert dag_run.state == "failed"
        assert record["outcome"] == "failed" and _failure(record, "preflight") == "failed"
        assert len(_start_requests(estate)) == before, "DMS must not have been called"
        assert estate.task()["Status"] == "stopped"
        assert message in _step(record, "preflight")["failure"]
        return record

    def test_malformed_position_is_rejected_at_trigger_time(self, stopped, run_dag):
        before = len(_start_requests(stopped))
        with pytest.raises(Exception, match="cdc_start_position"):
            run_dag(stopped, "dms_cdc_restart", pipeline="shop", cdc_start_position="x.000001:4; DROP TABLE t")
        assert len(_start_requests(stopped)) == before

    def test_unknown_pipeline_is_rejected_at_trigger_time(self, stopped, run_dag):
        with pytest.raises(Exception, match="pipeline"):
            run_dag(stopped, "dms_cdc_restart", pipeline="nope", cdc_start_position="mysql-bin-changelog.000001:4")

    def test_position_whose_file_is_not_on_the_writer(self, stopped, run_dag):
        self._refused(stopped, run_dag, "is not on the writer", cdc_start_position="mysql-bin-changelog.000042:4")

    def test_position_past_the_end_of_the_file(self, stopped, run_dag):
        end = stopped.source.writer.master_status()
        self._refused(stopped, run_dag, "past the end", cdc_start_position=f"{end.file}:{end.position + 1000}")

    def test_position_inside_a_transaction(self, stopped, run_dag):
        events = stopped.source.writer.execute("SHOW BINLOG EVENTS IN 'mysql-bin-changelog.000001'")
        inside = next(e for e in events if e[2].startswith("Write_rows"))
        self._refused(stopped, run_dag, "inside a transaction", cdc_start_position=f"{inside[0]}:{inside[1]}")

    def test_a_full_load_and_cdc_task(self, stopped, run_dag):
        dms = stopped.aws.client("dms")
        dms.modify_replication_task(ReplicationTaskArn=stopped.resources.replication_task_arn,
                                    MigrationType="full-load-and-cdc")
        try:
            end = stopped.source.writer.master_status()
            self._refused(stopped, run_dag, "CDC-only task", cdc_start_position=f"{end.file}:{end.position}")
        finally:
            dms.modify_replication_task(ReplicationTaskArn=stopped.resources.replication_task_arn,
                                        MigrationType="cdc")

    def test_dry_run_checks_everything_and_changes_nothing(self, stopped, run_dag):
        end = stopped.source.writer.master_status()
        dag_run, record = run_dag(stopped, "dms_cdc_restart", pipeline="shop",
                                  cdc_start_position=f"{end.file}:{end.position}")
        assert (dag_run.state, record["outcome"]) == ("success", "dry_run")
        would = next(s for s in record["steps"] if s["task_id"] == "restart_cdc")["result"]["would_call"]
        assert would == {"ReplicationTaskArn": stopped.resources.replication_task_arn,
                         "StartReplicationTaskType": "start-replication",
                         "CdcStartPosition": f"{end.file}:{end.position}"}
        assert _start_requests(stopped)[-1]["CdcStartPosition"] != would["CdcStartPosition"]
        assert stopped.task()["Status"] == "stopped"

    def test_a_running_task(self, stopped, run_dag):
        end = stopped.source.writer.master_status()
        stopped.start_cdc(f"{end.file}:{end.position}")
        try:
            self._refused_running(stopped, run_dag)
        finally:
            stopped.aws.client("dms").stop_replication_task(ReplicationTaskArn=stopped.resources.replication_task_arn)
            stopped.wait_task_status("stopped")

    def _refused_running(self, estate, run_dag):
        before = len(_start_requests(estate))
        end = estate.source.writer.master_status()
        dag_run, record = run_dag(estate, "dms_cdc_restart", pipeline="shop", dry_run=False,
                                  cdc_start_position=f"{end.file}:{end.position}")
        assert dag_run.state == "failed" and _failure(record, "preflight") == "failed"
        assert "refusing to restart" in _step(record, "preflight")["failure"]
        assert len(_start_requests(estate)) == before and estate.task()["Status"] == "running"


def test_restart_after_a_real_switchover_from_greens_coordinates_under_traffic(estate, run_dag):
    traffic = estate.traffic().start()
    try:
        paused, _ = run_dag(estate, "dms_cdc_pause", pipeline="shop")
        assert paused.state == "success"
        rds = estate.aws.client("rds")
        rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=estate.deployment_id)
        while rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=estate.deployment_id)[
                "BlueGreenDeployments"][0]["Status"] == "SWITCHOVER_IN_PROGRESS":
            time.sleep(0.1)
        coordinates = estate.bluegreen.coordinates
        old_blue = rds.describe_db_clusters(DBClusterIdentifier="prod-old1")["DBClusters"][0]
        drain_old_blue(estate, estate.aws.client("dms"), old_blue)

        restarted, record = run_dag(estate, "dms_cdc_restart", pipeline="shop", dry_run=False,
                                    cdc_start_position=f"{coordinates.file}:{coordinates.position}")
        time.sleep(1)
    finally:
        traffic.stop()

    assert restarted.state == "success", record
    assert estate.task()["CdcStartPosition"] == f"{coordinates.file}:{coordinates.position}"
    estate.wait_cdc_idle()
    for table in ("customers", "orders"):
        assert estate.source_rows(table) == estate.warehouse_rows(table)
