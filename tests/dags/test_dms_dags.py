"""dms_cdc_pause and dms_cdc_restart, run with dag.test() against the estate."""

from __future__ import annotations

import time

import pytest
from fault_matrix import run_outcome

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
        drain_old_blue(estate, estate.aws.client("dms"), old_blue, estate.task()["RecoveryCheckpoint"])

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


def _steer_blue_end_onto_a_replicated_gtid_of_green(estate) -> str:
    """Rotate blue twice (blue and green now both have the file green writes), then insert rows sized so that
    blue's binlog end is exactly the offset of a transaction start green logged with blue's server id: old blue's
    checkpoint then names a real transaction boundary on green — inside the history green replicated from blue."""
    blue, green = estate.source.blue, estate.source.green
    blue.execute("FLUSH BINARY LOGS", "FLUSH BINARY LOGS")
    file = blue.master_status().file
    assert file in green.binary_logs(), "blue and green must share the file name"
    starts = {int(e[1]) for e in green.execute(f"SHOW BINLOG EVENTS IN '{file}'") if e[2] == "Gtid" and e[3] == 1}
    with estate.source.connect_app() as conn, conn.cursor() as cur:
        def insert(name: int, email: int, spaces: int) -> int:
            before = blue.master_status().position
            cur.execute(("INSERT INTO customers (name, email) VALUES (%s, %s)", "INSERT INTO customers (name, email) "
                         "VALUES ( %s, %s)")[spaces], ("n" * name, "e" * email))
            return blue.master_status().position - before

        base = insert(1, 1, 0) - 4  # an insert's bytes without its name and email (two bytes per character)
        for _ in range(20):
            end = blue.master_status().position
            if end in starts:
                return f"{file}:{end}"
            gap = min((s for s in starts if s - end >= base + 4), default=None)
            assert gap is not None, "no replicated transaction start left on green to steer onto"
            rest = gap - end - base
            if rest > 2 * (64 + 128) + 1:  # too far for one row: advance with a full one
                insert(64, 128, 0)
                continue
            chars, spaces = divmod(rest, 2)
            insert(min(chars - 1, 64), chars - min(chars - 1, 64), spaces)
    raise AssertionError("could not steer blue's end onto green's replicated history")


def test_old_blues_checkpoint_on_green_is_refused_as_another_servers_position(estate, run_dag, fault_row):
    """Blue's pause checkpoint lands exactly on a transaction start green logged for blue: before the fix the
    restart succeeded from it and re-applied blue's history (duplicates); now it is refused before DMS is called,
    and the documented recovery (green's coordinates) ends at drift 0."""
    row = fault_row("old blue's checkpoint restarted on green (overlapping file names)",
                    expected="dms_cdc_restart refused at preflight as another server's position; DMS not started; "
                             "restart from green's coordinates: drift 0")
    blue_end = _steer_blue_end_onto_a_replicated_gtid_of_green(estate)
    paused, pause_record = run_dag(estate, "dms_cdc_pause", pipeline="shop")
    checkpoint = _step(pause_record, "pause_dms_task")["result"]["recovery_checkpoint"]
    assert paused.state == "success" and f"#{blue_end}:" in checkpoint
    rds = estate.aws.client("rds")
    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=estate.deployment_id)
    estate.wait_deployment_status("SWITCHOVER_COMPLETED")
    # No write between the pause and the switchover's fence: old blue has nothing after the checkpoint to drain.
    starts = len(_start_requests(estate))

    refused, record = run_dag(estate, "dms_cdc_restart", pipeline="shop", dry_run=False,
                              cdc_start_position=checkpoint)

    assert refused.state == "failed" and _failure(record, "preflight") == "failed", record
    failure = _step(record, "preflight")["failure"]
    assert f"{blue_end} is inside history that prod-writer (server id 2) replicated from another server" in failure
    assert "looks like another server's position" in failure
    assert len(_start_requests(estate)) == starts and estate.task()["Status"] == "stopped"
    coordinates = estate.bluegreen.coordinates
    restarted, recovered = run_dag(estate, "dms_cdc_restart", pipeline="shop", dry_run=False,
                                   cdc_start_position=f"{coordinates.file}:{coordinates.position}")
    assert restarted.state == "success", recovered
    assert "where this writer's own writes begin" in failure
    assert row.recovered(estate, f"{run_outcome(record)}; from green's coordinates: {run_outcome(recovered)}") == 0


def test_a_restart_from_a_wrong_own_position_fails_at_verify_with_the_keys(estate, run_dag, answer_approval,
                                                                          fault_row):
    """A position the checks cannot tell from a right one (a transaction boundary of the writer's own, but earlier
    than what CDC applied): the restart re-applies rows, and the run ends failed at verify_cdc naming the
    duplicated keys — never green."""
    row = fault_row("CDC restarted from an earlier position of the writer's own",
                    expected="run fails at verify_cdc naming the duplicated keys; recovery: cdc_repair, drift 0")
    paused, _ = run_dag(estate, "dms_cdc_pause", pipeline="shop")
    assert paused.state == "success"
    writer = estate.source.writer
    first = next(e for e in writer.execute(f"SHOW BINLOG EVENTS IN '{writer.master_status().file}'")
                 if e[2] == "Gtid" and "shop" not in str(e[5]))

    restarted, record = run_dag(estate, "dms_cdc_restart", pipeline="shop", dry_run=False, settle_s=5,
                                cdc_start_position=f"{first[0]}:{first[1]}")

    assert restarted.state == "failed" and _step(record, "restart_cdc")["state"] == "success", record
    assert _step(record, "verify_cdc")["state"] == "failed"
    assert "ReconciliationDrift" in _step(record, "verify_cdc")["failure"]
    assert "duplicate" in _step(record, "verify_cdc")["failure"]
    answer_approval("cdc_repair", "approve_repair", "Approve")
    repaired, repair = run_dag(estate, "cdc_repair", pipeline="shop", dry_run=False, settle_s=5)
    assert repaired.state == "success", repair
    assert row.settled(estate, f"{run_outcome(record)}; cdc_repair: {run_outcome(repair)}") == 0
