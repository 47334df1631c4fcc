"""The estate's failover and its events: FailoverDBCluster and crashes on the real MariaDB under traffic, and the
RDS/DMS events EventBridge routes to the runbooks' queue."""

from __future__ import annotations

import time

import pytest

from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.cdc_event import EventKind, IgnoredEvent, read_event

pytestmark = pytest.mark.estate


def received(estate, wanted: int, timeout: float = 20) -> list:
    """The events in the queue (received and deleted), until ``wanted`` of them are there."""
    events = []
    for body in estate.events.take(wanted, timeout):
        try:
            events.append(read_event(body))
        except IgnoredEvent as why:
            pytest.fail(f"the rules let through a message the runbooks ignore: {why}")
    return events


def writer_of(estate) -> str:
    cluster = estate.aws.client("rds").describe_db_clusters(DBClusterIdentifier="prod")["DBClusters"][0]
    return next(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"] if m["IsClusterWriter"])


def test_a_failover_under_traffic_moves_the_writer_and_cdc_carries_on(estate):
    estate.add_reader()
    traffic = estate.traffic().start()
    try:
        time.sleep(1)
        outcome = estate.fail_over()
        time.sleep(1)
    finally:
        stats = traffic.stop()

    assert (outcome.old_writer, outcome.new_writer, writer_of(estate)) == ("prod-writer", "prod-reader",
                                                                           "prod-reader")
    assert stats.retried > 0  # the application saw the writer go away
    failovers = [e for e in received(estate, 1) if e.kind is EventKind.FAILOVER]
    assert [(e.code, e.resource) for e in failovers] == [("RDS-EVENT-0071", "prod")]
    assert "prod-reader" in failovers[0].message
    assert estate.task()["Status"] == "running"  # DMS reconnected within its retries
    estate.wait_cdc_idle()
    for table in ("customers", "orders"):
        assert estate.source_rows(table) == estate.warehouse_rows(table)


def test_a_truncated_tail_leaves_rows_only_in_the_warehouse_and_fails_the_task(estate):
    estate.add_reader()
    estate.failover.faults.truncated_tail_rows = 3
    traffic = estate.traffic().start()
    try:
        outcome = estate.fail_over()
        task = estate.wait_task_status("failed")
    finally:
        traffic.stop()

    lost = set(outcome.lost_order_ids)
    assert len(lost) == 3
    source_ids = {row[0] for row in estate.source_rows("orders")}
    warehouse_ids = {row[0] for row in estate.warehouse_rows("orders")}
    assert lost <= warehouse_ids and not lost & source_ids
    checkpoint = BinlogPosition.parse(task["RecoveryCheckpoint"])
    assert checkpoint.file == outcome.truncated_to.file
    assert checkpoint.position > estate.source.blue.binary_logs()[checkpoint.file] == outcome.truncated_to.position
    kinds = {e.kind for e in received(estate, 2)}
    assert kinds == {EventKind.FAILOVER, EventKind.TASK_FAILED}


def test_dms_fails_after_its_retries_when_the_writer_stays_down(estate):
    estate.add_reader()
    estate.dms.faults.recoverable_error_s = 1.0
    estate.failover.faults.outage_s = 3.0
    estate.fail_over()
    task = estate.wait_task_status("failed")
    checkpoint = BinlogPosition.parse(task["RecoveryCheckpoint"])
    assert checkpoint.position <= estate.source.blue.binary_logs()[checkpoint.file]
    failed = [e for e in received(estate, 2) if e.kind is EventKind.TASK_FAILED]
    assert failed and failed[0].resource == estate.resources.replication_task_arn
    assert "FATAL_ERROR" in failed[0].message


def test_a_switchover_started_in_the_console_is_an_event(estate):
    estate.aws.client("rds").switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=estate.deployment_id)
    started = [e for e in received(estate, 1) if e.kind is EventKind.SWITCHOVER_STARTED]
    assert [(e.code, e.resource) for e in started] == [("RDS-EVENT-0259", "prod")]
    estate.wait_deployment_status("SWITCHOVER_COMPLETED")
