"""The drain of old blue (in the switchover run) and the restart on green (in the resume run) against a small fake
DMS (the operators' AWS and SQL calls replaced, no Airflow scheduler): what a cleared or retried step does when
another step moved the task in between, and where the source endpoint is left on every path."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.dms_task import DmsTaskStateError, ReplicationTask
from cdc_runbooks.operators import dms as dms_ops
from cdc_runbooks.operators.dms import DmsDrainOldBlueOperator, DmsRestartCdcOperator, DmsTaskFailed

ARN = "arn:aws:dms:us-east-1:123456789012:task:SHOPCDC"
ENDPOINT = "arn:aws:dms:us-east-1:123456789012:endpoint:SOURCE"
PRODUCTION = ("prod.cluster-xyz.us-east-1.rds.amazonaws.com", 3306)
OLD_BLUE = ("prod-old1.cluster-xyz.us-east-1.rds.amazonaws.com", 3306)

PAUSE = "mysql-bin-changelog.000003:400"  # the pause's checkpoint, on (old) blue
END = "mysql-bin-changelog.000004:900"  # old blue's binlog end after the switchover
GREEN = "mysql-bin-changelog.000004:120"  # green's coordinates: the same file name, another server
RESUME_DAG, RESUME_RUN = "cdc_resume_after_switchover.shop", "switchover__manual__1"
NOW = datetime.now(UTC)


@dataclass
class FakeDms:
    """One task and its source endpoint. A drain round's stop leaves the checkpoint ``short_by`` bytes before old
    blue's end."""

    status: str = "stopped"
    checkpoint: str | None = PAUSE
    cdc_start_position: str | None = None
    start_date: datetime | None = NOW - timedelta(days=3)
    endpoint: tuple = PRODUCTION
    short_by: int = 0
    calls: list = field(default_factory=list)

    def state(self, *_args) -> ReplicationTask:
        return ReplicationTask(arn=ARN, identifier="shop-cdc", status=self.status, migration_type="cdc",
                               source_endpoint_arn=ENDPOINT, recovery_checkpoint=self.checkpoint,
                               cdc_start_position=self.cdc_start_position, start_date=self.start_date)

    def start(self, _conn, _arn, **start):
        self.calls.append(("start", self.endpoint, start["CdcStartPosition"]))
        self.status, self.start_date, self.cdc_start_position = "running", datetime.now(UTC), start["CdcStartPosition"]

    def stop(self, _conn, _arn):
        end = BinlogPosition.parse(END)
        self.status, self.checkpoint = "stopped", str(BinlogPosition(end.file, end.position - self.short_by))

    def point(self, _conn, _arn, server, port):
        self.calls.append(("point", (server, port)))
        self.endpoint = (server, port)

    def describe_endpoint(self, _conn, _arn) -> dict:
        return {"EndpointArn": ENDPOINT, "ServerName": self.endpoint[0], "Port": self.endpoint[1]}

    def starts(self) -> list:
        return [call for call in self.calls if call[0] == "start"]


def _writer(_conn, cluster: str):
    server, port = OLD_BLUE if cluster == "prod-old1" else PRODUCTION
    return SimpleNamespace(cluster=cluster, instance=f"{cluster}-writer", endpoint=server, port=port)


@pytest.fixture
def dms(monkeypatch) -> FakeDms:
    fake = FakeDms()
    for name, replacement in {
        "task_state": fake.state, "start_cdc": fake.start, "stop_task": fake.stop, "point_endpoint": fake.point,
        "describe_endpoint": fake.describe_endpoint, "describe_writer": _writer,
        "deployment_state": lambda *_: SimpleNamespace(status="SWITCHOVER_COMPLETED", source="arn:old-blue"),
        "describe_cluster": lambda *_: {"DBClusterIdentifier": "prod-old1"},
        "writer_binlog": lambda *_: None, "check_on_writer": lambda *_: None,
        "binlog_end": lambda *_: BinlogPosition.parse(END),
        "run_inline": lambda _trigger: {"status": "success", "message": "ok"},
    }.items():
        monkeypatch.setattr(dms_ops, name, replacement)
    monkeypatch.setattr(dms_ops._DmsCdcOperator, "_until_status", lambda *_a, **_k: None)
    pipeline = SimpleNamespace(name="shop", aws_conn_id="aws", source_conn_id="src", source_cluster="prod",
                               dms_task_arn=ARN)
    for operator in (DmsDrainOldBlueOperator, DmsRestartCdcOperator):
        monkeypatch.setattr(operator, "pipeline", property(lambda self: pipeline))
    return fake


class Ti:
    """The running task instance: ``begun`` resume runs counted by get_dr_count."""

    def __init__(self, begun: int = 0) -> None:
        self.begun = begun
        self.asked: list = []

    def get_dr_count(self, *, dag_id, run_ids, states) -> int:
        self.asked.append((dag_id, run_ids, states))
        return self.begun

    def xcom_push(self, **_) -> None:
        pass


def context(run_after: datetime, ti: Ti | None = None) -> dict:
    return {"ti": ti or Ti(), "dag_run": SimpleNamespace(run_after=run_after, start_date=run_after)}


def drain() -> DmsDrainOldBlueOperator:
    return DmsDrainOldBlueOperator(task_id="drain_old_blue", pipeline_name="shop", deployment_identifier="bgd-1",
                                   checkpoint=PAUSE, resume_dag_id=RESUME_DAG, resume_run_id=RESUME_RUN,
                                   drain_rounds=2)


def restart() -> DmsRestartCdcOperator:
    return DmsRestartCdcOperator(task_id="restart_cdc", pipeline_name="shop", dry_run=False,
                                 cdc_start_position=GREEN, drained_to=END, wait_for_completion=False)


def test_a_drain_applies_old_blue_to_its_end_and_points_the_endpoint_at_production(dms):
    ti = Ti()
    result = drain().execute(context(NOW - timedelta(minutes=5), ti))
    assert result["action"] == "act" and result["drained_to"] == END
    assert dms.starts() == [("start", OLD_BLUE, PAUSE)] and dms.endpoint == PRODUCTION
    assert ti.asked == [(RESUME_DAG, [RESUME_RUN], ["running", "success", "failed"])]


def test_then_the_restart_starts_on_green(dms):
    drain().execute(context(NOW - timedelta(minutes=5)))
    restart().execute(context(NOW))
    assert dms.starts()[-1] == ("start", PRODUCTION, GREEN)


def test_a_drain_round_cleared_after_the_resume_run_began_is_not_taken_for_the_restarts_own_start(dms):
    """A hand-triggered resume run is refused (the drain had not finished); the drain, cleared, starts the task
    after that run began and stops short; restart_cdc, cleared, must refuse again: that start was not its own."""
    resume_began = NOW - timedelta(minutes=10)
    with pytest.raises(DmsTaskStateError, match="not old blue's drained end"):
        restart().execute(context(resume_began))
    dms.short_by = 300
    with pytest.raises(DmsTaskFailed, match="rows are missing"):
        drain().execute(context(resume_began - timedelta(minutes=30)))
    assert dms.checkpoint == "mysql-bin-changelog.000004:600" and dms.endpoint == PRODUCTION
    dms.calls.clear()
    with pytest.raises(DmsTaskStateError, match="not old blue's drained end"):
        restart().execute(context(resume_began))
    assert dms.starts() == []


def test_a_restart_cleared_after_its_own_failed_start_is_not_refused_by_the_drain_check(dms):
    dms.checkpoint = END
    run_started = NOW - timedelta(minutes=1)
    restart().execute(context(run_started))
    dms.status, dms.checkpoint = "failed", "mysql-bin-changelog.000004:500"  # it ran on green, then failed
    restart().execute(context(run_started))
    assert [call[2] for call in dms.starts()] == [GREEN, GREEN]


@pytest.mark.parametrize("status", ["running", "success", "failed"])
def test_a_drain_cleared_after_the_resume_run_began_refuses_before_anything_changes(dms, status):
    """CDC ran on green from green's coordinates and stopped with a checkpoint inside old blue's [pause, end]
    (the same file name): only the resume run's state tells it apart from a drain round."""
    dms.status, dms.checkpoint, dms.cdc_start_position = "failed", "mysql-bin-changelog.000004:700", GREEN
    with pytest.raises(DmsTaskStateError, match="CDC was handed over already"):
        drain().execute(context(NOW - timedelta(hours=1), Ti(begun=1)))
    assert dms.calls == []


def test_a_drain_while_the_task_runs_refuses_and_never_asks_to_pause_production(dms):
    dms.status = "running"
    with pytest.raises(DmsTaskStateError, match="never pause production CDC to drain again"):
        drain().execute(context(NOW - timedelta(hours=1)))
    assert dms.calls == []


@pytest.mark.parametrize("left_at", ["mysql-bin-changelog.000004:300", END], ids=["mid-drain", "at-the-end"])
def test_a_drain_cleared_after_a_lost_worker_points_the_endpoint_at_production(dms, left_at):
    """A worker killed inside the rounds (no ``finally``) leaves the endpoint at old blue: the cleared drain, whether
    it has rounds left or adopts, leaves it at production's cluster endpoint, never at old blue."""
    dms.endpoint, dms.checkpoint = OLD_BLUE, left_at
    result = drain().execute(context(NOW - timedelta(hours=1)))
    assert result["drained_to"] == END and dms.endpoint == PRODUCTION


def test_a_drain_whose_round_fails_still_points_the_endpoint_at_production(dms, monkeypatch):
    def refused(*_args, **_kwargs):
        raise RuntimeError("StartReplicationTask throttled")

    monkeypatch.setattr(dms_ops, "start_cdc", refused)
    with pytest.raises(RuntimeError, match="throttled"):
        drain().execute(context(NOW - timedelta(hours=1)))
    assert dms.endpoint == PRODUCTION


def test_the_restart_on_green_refuses_while_the_endpoint_names_old_blue(dms):
    dms.endpoint, dms.checkpoint = OLD_BLUE, END
    with pytest.raises(DmsTaskStateError, match="its source endpoint names prod-old1"):
        restart().execute(context(NOW - timedelta(hours=1)))
    assert dms.starts() == []
