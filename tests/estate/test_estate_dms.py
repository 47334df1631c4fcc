"""The DMS controller and CDC applier: lifecycle, checkpoints, start positions and the drift they cause."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import botocore.exceptions
import pytest

from rehearsal.applier import StartPoint
from rehearsal.dms import format_checkpoint, parse_start_position
from rehearsal.rehearse import switchover_under_cdc


def test_start_positions_parse_as_dms_reads_them():
    assert parse_start_position("mysql-bin-changelog.000024:373") == StartPoint("mysql-bin-changelog.000024", 373)
    checkpoint = format_checkpoint(StartPoint("mysql-bin-changelog.000031", 99), 7)
    assert checkpoint.startswith("checkpoint:V1#7#mysql-bin-changelog.000031:99:")
    assert parse_start_position(checkpoint) == StartPoint("mysql-bin-changelog.000031", 99)
    for bad in ("mysql-bin-changelog.000024", "x:1", "mysql-bin-changelog.000024:-3", ""):
        with pytest.raises(Exception, match="Invalid CdcStartPosition"):
            parse_start_position(bad)


def _insert_customers(estate, count: int, tag: str) -> None:
    with estate.source.connect_app() as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO customers (name) VALUES (%s)", [(f"{tag}-{n}",) for n in range(count)])


def _stop(estate) -> dict:
    estate.aws.client("dms").stop_replication_task(ReplicationTaskArn=estate.resources.replication_task_arn)
    return estate.wait_task_status("stopped")


def _writer_position(estate) -> str:
    return str(estate.source.writer.master_status())


@pytest.mark.estate
class TestLifecycle:
    def test_stop_passes_stopping_and_records_checkpoint(self, shared_estate):
        dms = shared_estate.aws.client("dms")
        shared_estate.wait_cdc_idle()
        applied = shared_estate.dms.runtime(shared_estate.resources.replication_task_arn).applier.checkpoint
        dms.stop_replication_task(ReplicationTaskArn=shared_estate.resources.replication_task_arn)
        assert shared_estate.task()["Status"] == "stopping"
        task = shared_estate.wait_task_status("stopped")
        assert task["StopReason"] == "Stop Reason NORMAL"
        assert parse_start_position(task["RecoveryCheckpoint"]) == applied
        with pytest.raises(botocore.exceptions.ClientError, match="InvalidResourceStateFault"):
            dms.stop_replication_task(ReplicationTaskArn=shared_estate.resources.replication_task_arn)

    def test_resume_processing_continues_from_the_checkpoint_without_loss(self, shared_estate):
        _insert_customers(shared_estate, 5, "while-stopped")
        dms = shared_estate.aws.client("dms")
        dms.start_replication_task(ReplicationTaskArn=shared_estate.resources.replication_task_arn,
                                   StartReplicationTaskType="resume-processing")
        assert shared_estate.task()["Status"] == "starting"
        shared_estate.wait_task_status("running")
        shared_estate.wait_cdc_idle()
        assert shared_estate.source_rows("customers") == shared_estate.warehouse_rows("customers")

    def test_a_running_task_cannot_be_started_again(self, shared_estate):
        with pytest.raises(botocore.exceptions.ClientError, match="InvalidResourceStateFault"):
            shared_estate.aws.client("dms").start_replication_task(
                ReplicationTaskArn=shared_estate.resources.replication_task_arn,
                StartReplicationTaskType="start-replication", CdcStartPosition=_writer_position(shared_estate))

    def test_table_statistics_and_latency_metrics_reflect_the_applier(self, shared_estate):
        _insert_customers(shared_estate, 3, "stats")
        shared_estate.wait_cdc_idle()
        stats = shared_estate.aws.client("dms").describe_table_statistics(
            ReplicationTaskArn=shared_estate.resources.replication_task_arn)["TableStatistics"]
        customers = next(s for s in stats if s["TableName"] == "customers")
        assert customers["Inserts"] >= 3 and customers["SchemaName"] == "shop"
        time.sleep(1.5)  # one publishing interval
        cloudwatch = shared_estate.aws.client("cloudwatch")
        now = datetime.now(UTC)
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/DMS", MetricName="CDCLatencyTarget", StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=1), Period=60, Statistics=["Maximum"],
            Dimensions=[{"Name": "ReplicationInstanceIdentifier", "Value": "cdc-ri"},
                        {"Name": "ReplicationTaskIdentifier", "Value": "prod-to-warehouse"}])["Datapoints"]
        assert points and all(p["Maximum"] >= 0 for p in points)

    def test_a_position_whose_file_is_not_on_the_writer_fails_the_task(self, shared_estate):
        _stop(shared_estate)
        shared_estate.aws.client("dms").start_replication_task(
            ReplicationTaskArn=shared_estate.resources.replication_task_arn,
            StartReplicationTaskType="start-replication", CdcStartPosition="mysql-bin-changelog.000099:4")
        deadline = time.monotonic() + 20
        while (task := shared_estate.task())["Status"] != "failed" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert task["Status"] == "failed"
        assert task["StopReason"] == "Stop Reason FATAL_ERROR"
        assert "1236" in task["LastFailureMessage"]

    def test_start_error_fault_refuses_the_start(self, shared_estate):
        before = shared_estate.task()["Status"]
        assert before in ("stopped", "failed")  # left so by the previous test
        shared_estate.dms.faults.start_error = "Test connection for endpoint failed"
        try:
            with pytest.raises(botocore.exceptions.ClientError, match="Test connection for endpoint failed"):
                shared_estate.aws.client("dms").start_replication_task(
                    ReplicationTaskArn=shared_estate.resources.replication_task_arn,
                    StartReplicationTaskType="resume-processing")
            assert shared_estate.task()["Status"] == before
        finally:
            shared_estate.dms.faults.start_error = None

    def test_stuck_in_starting_fault(self, shared_estate):
        shared_estate.dms.faults.stuck_in_starting = True
        try:
            shared_estate.aws.client("dms").start_replication_task(
                ReplicationTaskArn=shared_estate.resources.replication_task_arn,
                StartReplicationTaskType="start-replication", CdcStartPosition=_writer_position(shared_estate))
            for _ in range(10):
                assert shared_estate.task()["Status"] == "starting"
        finally:
            shared_estate.dms.faults.stuck_in_starting = False
        shared_estate.wait_task_status("running")

    def test_fail_fault_fails_a_running_task_with_a_checkpoint(self, shared_estate):
        shared_estate.dms.fail(shared_estate.resources.replication_task_arn, "Last Error FATAL_ERROR injected")
        task = shared_estate.task()
        assert (task["Status"], task["StopReason"]) == ("failed", "Stop Reason FATAL_ERROR")
        assert task["LastFailureMessage"] == "Last Error FATAL_ERROR injected"
        assert parse_start_position(task["RecoveryCheckpoint"])


@pytest.mark.estate
def test_starting_later_than_the_checkpoint_loses_rows(estate):
    _stop(estate)
    _insert_customers(estate, 5, "skipped")
    later = _writer_position(estate)
    _insert_customers(estate, 3, "applied")

    estate.start_cdc(later)
    estate.wait_cdc_idle()

    assert estate.source_counts()["customers"] - estate.warehouse_counts()["customers"] == 5


@pytest.mark.estate
def test_starting_earlier_than_the_checkpoint_duplicates_rows(estate):
    earlier = _writer_position(estate)
    _insert_customers(estate, 4, "twice")
    estate.wait_cdc_idle()
    _stop(estate)

    estate.start_cdc(earlier)
    estate.wait_cdc_idle()

    assert estate.warehouse_counts()["customers"] - estate.source_counts()["customers"] == 4


@pytest.mark.estate
def test_switchover_under_traffic_restarted_from_green_coordinates_has_no_drift(estate):
    report = switchover_under_cdc(estate, traffic_seconds=1.5)

    assert report.traffic_committed > 20
    assert report.green_coordinates.startswith("mysql-bin-changelog.000003:")
    assert report.drift == 0, report.render()
    assert all(report.rows_equal.values())


@pytest.mark.estate
def test_restarting_on_green_from_the_blue_checkpoint_is_wrong(estate):
    """The trap the runbooks exist for: blue's checkpoint names a file that also exists on green."""
    checkpoint = _stop(estate)["RecoveryCheckpoint"]
    rds = estate.aws.client("rds")
    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=estate.deployment_id)
    while rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=estate.deployment_id)[
            "BlueGreenDeployments"][0]["Status"] == "SWITCHOVER_IN_PROGRESS":
        time.sleep(0.05)
    _insert_customers(estate, 5, "on-green")

    estate.aws.client("dms").start_replication_task(
        ReplicationTaskArn=estate.resources.replication_task_arn,
        StartReplicationTaskType="start-replication", CdcStartPosition=checkpoint)
    time.sleep(2)

    task = estate.task()
    drifted = task["Status"] == "running" and estate.source_counts() != estate.warehouse_counts()
    assert task["Status"] == "failed" or drifted


@pytest.mark.estate
def test_reload_tables_is_refused_for_a_cdc_only_task_and_checks_its_input_first(estate):
    """AWS reloads tables only for full-load and full-load-and-CDC tasks; the pipelines' tasks are CDC-only (drift
    is repaired by cdc_repair instead)."""
    dms = estate.aws.client("dms")
    with pytest.raises(botocore.exceptions.ClientError, match="TablesToReload"):
        dms.reload_tables(ReplicationTaskArn=estate.resources.replication_task_arn,
                          TablesToReload=[{"SchemaName": "shop", "TableName": "orders; DROP TABLE x"}])
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidResourceStateFault.*CDC-only"):
        dms.reload_tables(ReplicationTaskArn=estate.resources.replication_task_arn,
                          TablesToReload=[{"SchemaName": "shop", "TableName": "orders"}], ReloadOption="data-reload")
    assert estate.task()["Status"] == "running"


@pytest.mark.estate
def test_modify_replication_task_needs_a_stopped_task(estate):
    dms = estate.aws.client("dms")
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidResourceStateFault"):
        dms.modify_replication_task(ReplicationTaskArn=estate.resources.replication_task_arn,
                                    CdcStartPosition=_writer_position(estate))
    _stop(estate)
    position = _writer_position(estate)
    modified = dms.modify_replication_task(ReplicationTaskArn=estate.resources.replication_task_arn,
                                           CdcStartPosition=position)["ReplicationTask"]
    assert modified["CdcStartPosition"] == position
