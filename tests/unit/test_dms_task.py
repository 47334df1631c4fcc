"""dms_task: ReplicationTask.from_api on DescribeReplicationTasks entries and the plan_pause/plan_restart decision
tables (act, wait for our own change, adopt our own result, or refuse with a message that says what to do).

Pure: no AWS, no Airflow.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdc_runbooks.action import Action
from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.dms_task import (
    RESTARTABLE,
    DmsTaskStateError,
    ReplicationTask,
    names_endpoint,
    plan_drain,
    plan_pause,
    plan_restart,
    plan_stop_at_once,
    require_as_planned,
    require_drained,
)

ARN = "arn:aws:dms:us-east-1:123456789012:task:ORDERSCDC7XQ"
INSTANCE_ARN = "arn:aws:dms:us-east-1:123456789012:rep:CDCINSTANCE1"
POSITION = "mysql-bin-changelog.000024:373"
OTHER_POSITION = "mysql-bin-changelog.000024:9120"
CHECKPOINT = ("checkpoint:V1#27#mysql-bin-changelog.157832:1975:-1:2002:677883278264080:"
              "mysql-bin-changelog.157832:1876#0#0#*#0#93")

RUN_STARTED = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
BEFORE = RUN_STARTED - timedelta(hours=3)  # a previous run, or someone else
AFTER = RUN_STARTED + timedelta(minutes=4)  # this run, on its first attempt

ALL_STATUSES = ("running", "starting", "stopping", "stopped", "ready", "failed", "modifying", "creating")


def api_task(**overrides) -> dict:
    """A DescribeReplicationTasks entry as boto3 returns it (dates are datetime objects)."""
    task = {
        "ReplicationTaskIdentifier": "orders-cdc",
        "SourceEndpointArn": "arn:aws:dms:us-east-1:123456789012:endpoint:SOURCEAURORA",
        "TargetEndpointArn": "arn:aws:dms:us-east-1:123456789012:endpoint:TARGETREDSHIFT",
        "ReplicationInstanceArn": INSTANCE_ARN,
        "MigrationType": "cdc",
        "TableMappings": '{"rules": []}',
        "ReplicationTaskSettings": "{}",
        "Status": "stopped",
        "LastFailureMessage": "Last Error Stream Component Fatal error. Task error notification received",
        "StopReason": "Stop Reason NORMAL",
        "ReplicationTaskCreationDate": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "ReplicationTaskStartDate": datetime(2024, 4, 30, 8, 0, 0, tzinfo=UTC),
        "CdcStartPosition": POSITION,
        "RecoveryCheckpoint": CHECKPOINT,
        "ReplicationTaskArn": ARN,
        "ReplicationTaskStats": {
            "FullLoadProgressPercent": 0,
            "ElapsedTimeMillis": 86_400_000,
            "TablesLoaded": 0,
            "TablesLoading": 0,
            "TablesQueued": 0,
            "TablesErrored": 0,
            "FreshStartDate": datetime(2024, 4, 30, 8, 0, 0, tzinfo=UTC),
            "StartDate": datetime(2024, 4, 30, 8, 0, 0, tzinfo=UTC),
            "StopDate": datetime(2024, 5, 1, 9, 0, 0, tzinfo=UTC),
        },
    }
    task.update(overrides)
    return task


def state(status: str, *, migration_type: str = "cdc", start_date: datetime | None = None,
          stop_date: datetime | None = None, cdc_start_position: str | None = None,
          stop_reason: str | None = None, last_failure_message: str | None = None) -> ReplicationTask:
    return ReplicationTask(arn=ARN, identifier="orders-cdc", status=status, migration_type=migration_type,
                           replication_instance_arn=INSTANCE_ARN, stop_reason=stop_reason,
                           cdc_start_position=cdc_start_position, last_failure_message=last_failure_message,
                           start_date=start_date, stop_date=stop_date)


# --- ReplicationTask.from_api -------------------------------------------------------------------------------------


def test_from_api_reads_every_field_of_a_full_entry():
    parsed = ReplicationTask.from_api(api_task())
    assert parsed == ReplicationTask(
        arn=ARN, identifier="orders-cdc", status="stopped", migration_type="cdc",
        replication_instance_arn=INSTANCE_ARN,
        source_endpoint_arn="arn:aws:dms:us-east-1:123456789012:endpoint:SOURCEAURORA",
        stop_reason="Stop Reason NORMAL", recovery_checkpoint=CHECKPOINT, cdc_start_position=POSITION,
        last_failure_message="Last Error Stream Component Fatal error. Task error notification received",
        start_date=datetime(2024, 4, 30, 8, 0, 0, tzinfo=UTC), stop_date=datetime(2024, 5, 1, 9, 0, 0, tzinfo=UTC))


def test_from_api_keeps_datetime_objects_as_they_are():
    moment = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    parsed = ReplicationTask.from_api(api_task(ReplicationTaskStartDate=moment,
                                            ReplicationTaskStats={"StopDate": moment}))
    assert parsed.start_date is moment
    assert parsed.stop_date is moment


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-05-01T10:04:00Z", datetime(2024, 5, 1, 10, 4, tzinfo=UTC)),
    ("2024-05-01T10:04:00+00:00", datetime(2024, 5, 1, 10, 4, tzinfo=UTC)),
    ("2024-05-01T10:04:00.123456+00:00", datetime(2024, 5, 1, 10, 4, 0, 123456, tzinfo=UTC)),
    ("2024-05-01T12:04:00+02:00", datetime(2024, 5, 1, 10, 4, tzinfo=UTC)),
    ("2024-05-01 10:04:00+00:00", datetime(2024, 5, 1, 10, 4, tzinfo=UTC)),
])
def test_from_api_parses_iso_strings(text, expected):
    parsed = ReplicationTask.from_api(api_task(ReplicationTaskStartDate=text, ReplicationTaskStats={"StopDate": text}))
    assert parsed.start_date == expected
    assert parsed.stop_date == expected
    assert parsed.start_date.utcoffset() is not None


def test_from_api_with_only_the_required_fields():
    parsed = ReplicationTask.from_api({"ReplicationTaskArn": ARN, "ReplicationTaskIdentifier": "orders-cdc",
                                    "Status": "creating", "MigrationType": "cdc"})
    assert parsed == ReplicationTask(arn=ARN, identifier="orders-cdc", status="creating", migration_type="cdc")
    assert parsed.replication_instance_arn == ""
    assert (parsed.stop_reason, parsed.recovery_checkpoint, parsed.cdc_start_position) == (None, None, None)
    assert (parsed.last_failure_message, parsed.start_date, parsed.stop_date) == (None, None, None)


@pytest.mark.parametrize("stats", [None, {}, {"FullLoadProgressPercent": 100, "TablesLoaded": 3}])
def test_from_api_without_usable_stats_has_no_stop_date(stats):
    task = api_task(ReplicationTaskStats=stats)
    del task["ReplicationTaskStartDate"]
    parsed = ReplicationTask.from_api(task)
    assert parsed.start_date is None
    assert parsed.stop_date is None


def test_from_api_without_the_stats_key_at_all():
    task = api_task()
    del task["ReplicationTaskStats"]
    parsed = ReplicationTask.from_api(task)
    assert parsed.start_date == datetime(2024, 4, 30, 8, 0, 0, tzinfo=UTC)
    assert parsed.stop_date is None


def test_from_api_prefers_the_task_start_date_over_the_stats_start_date():
    parsed = ReplicationTask.from_api(api_task(
        ReplicationTaskStartDate=datetime(2024, 5, 1, 10, 5, tzinfo=UTC),
        ReplicationTaskStats={"StartDate": datetime(2024, 4, 1, tzinfo=UTC)}))
    assert parsed.start_date == datetime(2024, 5, 1, 10, 5, tzinfo=UTC)


def test_from_api_falls_back_to_the_stats_start_date():
    task = api_task(ReplicationTaskStats={"StartDate": "2024-05-01T10:05:00Z"})
    del task["ReplicationTaskStartDate"]
    assert ReplicationTask.from_api(task).start_date == datetime(2024, 5, 1, 10, 5, tzinfo=UTC)


@pytest.mark.parametrize("missing", ["ReplicationTaskArn", "ReplicationTaskIdentifier", "Status", "MigrationType"])
def test_from_api_needs_the_identifying_fields(missing):
    task = api_task()
    del task[missing]
    with pytest.raises(KeyError, match=missing):
        ReplicationTask.from_api(task)


def test_from_api_state_is_frozen():
    parsed = ReplicationTask.from_api(api_task())
    with pytest.raises(AttributeError):
        parsed.status = "running"  # type: ignore[misc]


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({}, "DMS task orders-cdc is stopped"),
    ({"stop_reason": "Stop Reason NORMAL"}, "DMS task orders-cdc is stopped (Stop Reason NORMAL)"),
    ({"last_failure_message": "Error 1236"}, "DMS task orders-cdc is stopped; last failure: Error 1236"),
    ({"stop_reason": "Stop Reason FATAL_ERROR", "last_failure_message": "Error 1236"},
     "DMS task orders-cdc is stopped (Stop Reason FATAL_ERROR); last failure: Error 1236"),
])
def test_describe(kwargs, expected):
    assert state("stopped", **kwargs).describe() == expected


# --- plan_pause --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stop_date", [None, BEFORE, RUN_STARTED, AFTER])
@pytest.mark.parametrize("run_started", [None, RUN_STARTED])
def test_pause_stops_a_running_task_whatever_its_dates(stop_date, run_started):
    assert plan_pause(state("running", stop_date=stop_date), run_started) is Action.ACT


@pytest.mark.parametrize(("status", "stop_date", "expected"), [
    ("stopping", AFTER, Action.WAIT),
    ("stopping", RUN_STARTED, Action.WAIT),  # the boundary counts as this run's
    ("stopped", AFTER, Action.ADOPT),
    ("stopped", RUN_STARTED, Action.ADOPT),
])
def test_pause_retry_waits_for_or_adopts_its_own_stop(status, stop_date, expected):
    assert plan_pause(state(status, stop_date=stop_date), RUN_STARTED) is expected


def test_pause_compares_dates_across_time_zones():
    stopped_at = datetime(2024, 5, 1, 12, 1, tzinfo=timezone(timedelta(hours=2)))  # 10:01 UTC
    assert plan_pause(state("stopped", stop_date=stopped_at), RUN_STARTED) is Action.ADOPT
    with pytest.raises(DmsTaskStateError, match="refusing to pause"):
        plan_pause(state("stopped", stop_date=stopped_at), RUN_STARTED + timedelta(minutes=2))


@pytest.mark.parametrize(("status", "stop_date", "run_started"), [
    ("stopping", BEFORE, RUN_STARTED),  # someone else's stop
    ("stopping", AFTER, None),  # no run start: cannot claim it
    ("stopping", None, RUN_STARTED),
    ("stopped", BEFORE, RUN_STARTED),  # stopped before this run: nothing streaming
    ("stopped", RUN_STARTED - timedelta(microseconds=1), RUN_STARTED),
    ("stopped", AFTER, None),
    ("stopped", None, RUN_STARTED),
    ("stopped", None, None),
])
def test_pause_refuses_a_stop_that_is_not_this_runs(status, stop_date, run_started):
    with pytest.raises(DmsTaskStateError, match=rf"^refusing to pause: DMS task orders-cdc is {status}, not running"):
        plan_pause(state(status, stop_date=stop_date), run_started)


@pytest.mark.parametrize("status", ["starting", "ready", "failed", "modifying", "creating", "deleting"])
@pytest.mark.parametrize("stop_date", [None, BEFORE, AFTER])
def test_pause_refuses_every_other_status_even_with_a_recent_stop(status, stop_date):
    with pytest.raises(DmsTaskStateError, match=rf"^refusing to pause: DMS task orders-cdc is {status}, not running"):
        plan_pause(state(status, stop_date=stop_date), RUN_STARTED)


def test_pause_refusal_explains_and_points_to_restart():
    failed = state("failed", stop_reason="Stop Reason FATAL_ERROR",
                   last_failure_message="Error 1236 reading binlog")
    with pytest.raises(DmsTaskStateError) as error:
        plan_pause(failed, RUN_STARTED)
    assert str(error.value) == (
        "refusing to pause: DMS task orders-cdc is failed (Stop Reason FATAL_ERROR); last failure: Error 1236 "
        "reading binlog, not running. Nothing is streaming, so there is nothing to pause; if the task failed, read "
        "its last failure before restarting it with dms_cdc_restart.")


@pytest.mark.parametrize(("status", "expected"), [
    ("running", Action.ACT), ("stopping", Action.WAIT), ("stopped", Action.ADOPT), ("starting", None),
    ("ready", None), ("failed", None), ("modifying", None), ("creating", None),
])
def test_pause_decision_table_for_a_stop_made_by_this_run(status, expected):
    """One row per status, with stop date after the run start (the most permissive case)."""
    task = state(status, stop_date=AFTER)
    if expected is None:
        with pytest.raises(DmsTaskStateError, match="refusing to pause"):
            plan_pause(task, RUN_STARTED)
    else:
        assert plan_pause(task, RUN_STARTED) is expected


def test_dms_task_state_error_is_a_runtime_error():
    assert issubclass(DmsTaskStateError, RuntimeError)


def test_action_values():
    assert {a.name: a.value for a in Action} == {"ACT": "act", "WAIT": "wait", "ADOPT": "adopt"}


# --- plan_restart ------------------------------------------------------------------------------------------------


def test_restartable_statuses():
    assert frozenset({"stopped", "ready", "failed"}) == RESTARTABLE


@pytest.mark.parametrize("status", sorted(RESTARTABLE))
@pytest.mark.parametrize("position", [None, POSITION, CHECKPOINT])
@pytest.mark.parametrize(("start_date", "run_started"), [(None, None), (BEFORE, RUN_STARTED), (AFTER, RUN_STARTED)])
def test_restart_starts_a_stopped_ready_or_failed_cdc_task(status, position, start_date, run_started):
    task = state(status, start_date=start_date, cdc_start_position=OTHER_POSITION)
    assert plan_restart(task, position, run_started) is Action.ACT


@pytest.mark.parametrize(("status", "expected"), [("starting", Action.WAIT), ("running", Action.ADOPT)])
@pytest.mark.parametrize("position", [POSITION, CHECKPOINT])
@pytest.mark.parametrize("start_date", [AFTER, RUN_STARTED])
def test_restart_retry_waits_for_or_adopts_its_own_start_from_the_same_position(status, expected, position,
                                                                                 start_date):
    task = state(status, start_date=start_date, cdc_start_position=position)
    assert plan_restart(task, position, RUN_STARTED) is expected


@pytest.mark.parametrize(("status", "expected"), [("starting", Action.WAIT), ("running", Action.ADOPT)])
@pytest.mark.parametrize("task_position", [None, POSITION])
def test_restart_without_a_position_adopts_its_own_start_whatever_the_task_position(status, expected,
                                                                                    task_position):
    """A start by time (no CdcStartPosition given) is ours on the start date alone."""
    task = state(status, start_date=AFTER, cdc_start_position=task_position)
    assert plan_restart(task, None, RUN_STARTED) is expected


@pytest.mark.parametrize("status", ["starting", "running"])
@pytest.mark.parametrize(("start_date", "task_position", "position", "run_started"), [
    (AFTER, OTHER_POSITION, POSITION, RUN_STARTED),  # started by this run, but from another position
    (AFTER, None, POSITION, RUN_STARTED),  # started by this run without the position asked for now
    (BEFORE, POSITION, POSITION, RUN_STARTED),  # same position, but started before this run
    (RUN_STARTED - timedelta(microseconds=1), POSITION, POSITION, RUN_STARTED),
    (None, POSITION, POSITION, RUN_STARTED),
    (AFTER, POSITION, POSITION, None),
    (BEFORE, POSITION, None, RUN_STARTED),
    (None, None, None, None),
])
def test_restart_refuses_a_running_or_starting_task_it_did_not_start_from_that_position(
        status, start_date, task_position, position, run_started):
    task = state(status, start_date=start_date, cdc_start_position=task_position)
    with pytest.raises(DmsTaskStateError) as error:
        plan_restart(task, position, run_started)
    message = str(error.value)
    assert message.startswith(f"refusing to restart: DMS task orders-cdc is {status}. ")
    assert "Starting it again would not move it" in message
    assert "pause it first (dms_cdc_pause) so that its checkpoint is recorded, then restart from the position" \
        in message


@pytest.mark.parametrize("status", ["stopping", "modifying", "creating", "deleting", "moving", "testing"])
@pytest.mark.parametrize("start_date", [None, BEFORE, AFTER])
def test_restart_refuses_a_task_in_transition_and_says_to_wait(status, start_date):
    task = state(status, start_date=start_date, cdc_start_position=POSITION, stop_reason="Stop Reason NORMAL")
    with pytest.raises(DmsTaskStateError) as error:
        plan_restart(task, POSITION, RUN_STARTED)
    assert str(error.value) == (f"refusing to restart: DMS task orders-cdc is {status} (Stop Reason NORMAL); "
                                "wait until it is stopped, ready or failed.")


@pytest.mark.parametrize("migration_type", ["full-load-and-cdc", "full-load"])
@pytest.mark.parametrize("status", ALL_STATUSES)
@pytest.mark.parametrize("position", [None, POSITION])
def test_restart_refuses_a_task_that_is_not_cdc_only_whatever_its_state(migration_type, status, position):
    """The migration type is checked first: even this run's own start of such a task is not adopted."""
    task = state(status, migration_type=migration_type, start_date=AFTER, cdc_start_position=position)
    with pytest.raises(DmsTaskStateError) as error:
        plan_restart(task, position, RUN_STARTED)
    message = str(error.value)
    assert message.startswith(f"refusing to restart orders-cdc: its MigrationType is '{migration_type}', ")
    assert "start-replication of a full-load task reloads every table instead of resuming CDC" in message
    assert "Options: create a CDC-only task (MigrationType 'cdc') on the same endpoints" in message
    assert "restart that one from the position" in message
    assert "or accept a full reload and start this task without a position." in message


@pytest.mark.parametrize(("status", "expected"), [
    ("running", Action.ADOPT), ("starting", Action.WAIT), ("stopping", None), ("stopped", Action.ACT),
    ("ready", Action.ACT), ("failed", Action.ACT), ("modifying", None), ("creating", None),
])
def test_restart_decision_table_for_a_start_made_by_this_run(status, expected):
    """One row per status, with this run's start from the same position (the most permissive case)."""
    task = state(status, start_date=AFTER, cdc_start_position=POSITION)
    if expected is None:
        with pytest.raises(DmsTaskStateError, match="wait until it is stopped, ready or failed"):
            plan_restart(task, POSITION, RUN_STARTED)
    else:
        assert plan_restart(task, POSITION, RUN_STARTED) is expected


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_restart_decision_table_for_a_start_made_before_this_run(status):
    task = state(status, start_date=BEFORE, cdc_start_position=POSITION)
    if status in RESTARTABLE:
        assert plan_restart(task, POSITION, RUN_STARTED) is Action.ACT
    else:
        with pytest.raises(DmsTaskStateError, match="^refusing to restart: "):
            plan_restart(task, POSITION, RUN_STARTED)


def test_restart_of_a_task_read_from_the_api():
    """End to end over from_api: a task this run started (ISO dates, as a serialised describe would have)."""
    task = ReplicationTask.from_api(api_task(Status="running", ReplicationTaskStartDate="2024-05-01T10:04:00Z",
                                          CdcStartPosition=POSITION))
    assert plan_restart(task, POSITION, RUN_STARTED) is Action.ADOPT
    assert plan_restart(replace(task, status="starting"), POSITION, RUN_STARTED) is Action.WAIT
    with pytest.raises(DmsTaskStateError, match="pause it first"):
        plan_restart(task, OTHER_POSITION, RUN_STARTED)


def test_pause_refusal_of_a_stopped_task_points_to_its_recorded_checkpoint():
    checkpoint = "checkpoint:V1#27#mysql-bin-changelog.000024:373:-1:373:0#0#0#*#0#93"
    stopped = replace(state("stopped", stop_date=BEFORE), recovery_checkpoint=checkpoint)

    with pytest.raises(DmsTaskStateError) as refused:
        plan_pause(stopped, RUN_STARTED)
    assert str(refused.value).endswith(f"Its recorded RecoveryCheckpoint {checkpoint} is where CDC resumes: "
                                       "dms_cdc_restart with cdc_start_position set to it.")


# --- plan_drain: where draining old blue starts ---------------------------------------------------------------

PAUSE, END = BinlogPosition("mysql-bin-changelog.000003", 400), BinlogPosition("mysql-bin-changelog.000004", 900)


@pytest.mark.parametrize(("task", "action"), [
    ("checkpoint:V1#1#mysql-bin-changelog.000003:400:-1:400:0:mysql-bin-changelog.000003:400#0#0#*#0#1", Action.ACT),
    ("mysql-bin-changelog.000004:120", Action.ACT),  # a lost round stopped here: resume from it
    ("mysql-bin-changelog.000004:900", Action.ADOPT),  # drained already
])
def test_a_drain_starts_where_the_task_stopped_on_old_blue(task, action):
    assert plan_drain(PAUSE, task, END) is action


@pytest.mark.parametrize("task", [
    None,  # never ran
    "mysql-bin-changelog.000003:399",  # before the pause: not this switchover's
    "mysql-bin-changelog.000005:4",  # past old blue's end: green's (a resumed fact)
    "mysql-bin.000004:500",  # another binlog sequence
])
def test_a_task_whose_checkpoint_left_old_blue_is_refused(task):
    with pytest.raises(DmsTaskStateError, match="CDC has moved on since this switchover"):
        plan_drain(PAUSE, task, END)


@given(sequence=st.integers(1, 9), offset=st.integers(4, 2000))
def test_a_drain_never_starts_outside_the_pause_to_end_range(sequence, offset):
    task = BinlogPosition(f"mysql-bin-changelog.{sequence:06d}", offset)
    try:
        plan_drain(PAUSE, str(task), END)
    except DmsTaskStateError:
        assert not PAUSE <= task <= END
    else:
        assert PAUSE <= task <= END


# --- require_drained: the restart after a switchover stands where old blue was drained to -----------------------

GREEN = "mysql-bin-changelog.000004:120"  # green's coordinates: old blue's file name, another server


def _stopped_at(checkpoint: str | None, started: datetime | None = BEFORE, start_position: str | None = None):
    return ReplicationTask.from_api(api_task(RecoveryCheckpoint=checkpoint, ReplicationTaskStartDate=started,
                                             CdcStartPosition=start_position))


@pytest.mark.parametrize("checkpoint", [
    "mysql-bin-changelog.000004:900",
    "checkpoint:V1#1#mysql-bin-changelog.000004:900:-1:900:0:mysql-bin-changelog.000004:900#0#0#*#0#1",
])
def test_a_task_at_old_blues_drained_end_may_restart(checkpoint):
    require_drained(_stopped_at(checkpoint), END, GREEN, RUN_STARTED)


@pytest.mark.parametrize("checkpoint", [
    None,  # never recorded one
    "mysql-bin-changelog.000003:400",  # the pause's: the drain did not run
    "mysql-bin-changelog.000004:120",  # a drain round stopped short
    "mysql-bin-changelog.000005:4",  # past old blue's end: CDC moved on
    "mysql-bin.000004:900",  # the same offset in another binlog sequence
])
def test_a_task_not_at_old_blues_drained_end_is_refused(checkpoint):
    with pytest.raises(DmsTaskStateError, match="is not old blue's drained end mysql-bin-changelog.000004:900"):
        require_drained(_stopped_at(checkpoint), END, GREEN, RUN_STARTED)


def test_only_this_runs_start_from_the_restart_position_is_its_own_earlier_attempt():
    require_drained(_stopped_at("mysql-bin-changelog.000007:4", AFTER, GREEN), END, GREEN, RUN_STARTED)
    with pytest.raises(DmsTaskStateError):  # a drain round cleared after this run began: not the restart's
        require_drained(_stopped_at("mysql-bin-changelog.000004:600", AFTER, "mysql-bin-changelog.000004:300"),
                        END, GREEN, RUN_STARTED)


@given(sequence=st.integers(1, 9), offset=st.integers(4, 2000), started=st.sampled_from([BEFORE, AFTER, None]),
       start_position=st.sampled_from([None, GREEN, "mysql-bin-changelog.000003:400"]))
def test_a_restart_never_starts_short_of_or_past_the_drained_end_unless_it_is_its_own_retry(
        sequence, offset, started, start_position):
    at = BinlogPosition(f"mysql-bin-changelog.{sequence:06d}", offset)
    own_retry = started == AFTER and start_position == GREEN
    try:
        require_drained(_stopped_at(str(at), started, start_position), END, GREEN, RUN_STARTED)
    except DmsTaskStateError:
        assert at != END and not own_retry
    else:
        assert at == END or own_retry


# --- names_endpoint -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("endpoint", "named"), [
    ({"ServerName": "prod.cluster-xyz.rds.amazonaws.com", "Port": 3306}, True),
    ({"ServerName": "PROD.cluster-xyz.rds.amazonaws.com.", "Port": 3306}, True),
    ({"ServerName": "prod.cluster-xyz.rds.amazonaws.com", "Port": 3307}, False),
    ({"ServerName": "prod-old1.cluster-xyz.rds.amazonaws.com", "Port": 3306}, False),
    ({"ServerName": None, "Port": None}, False),
])
def test_an_endpoint_names_a_server_without_case_or_trailing_dot(endpoint, named):
    assert names_endpoint(endpoint, "prod.cluster-xyz.rds.amazonaws.com", 3306) is named


@given(status=st.sampled_from(ALL_STATUSES), checkpoint=st.sampled_from([None, CHECKPOINT, POSITION]),
       planned=st.sampled_from([None, CHECKPOINT, POSITION]))
def test_a_planned_restart_goes_ahead_only_on_the_task_as_it_was_planned(status, checkpoint, planned):
    """A restart approved for a failed task at a checkpoint: a task stopped, restarted or failed again meanwhile (its
    status or checkpoint differs) is refused, whatever it is now."""
    task = replace(state(status), recovery_checkpoint=checkpoint)
    if (status, checkpoint) == ("failed", planned):
        require_as_planned(task, "failed", planned)
    else:
        with pytest.raises(DmsTaskStateError, match="changed since"):
            require_as_planned(task, "failed", planned)


# -- plan_stop_at_once -------------------------------------------------------------------------------------------
@given(st.sampled_from(["running", "stopping", "stopped", "failed", "ready", "starting", "creating", "deleting",
                        "modifying", "moving", "failed-move", "testing"]),
       st.none() | st.datetimes(timezones=st.just(UTC)), st.none() | st.datetimes(timezones=st.just(UTC)),
       st.booleans())
def test_stop_at_once_stops_what_runs_since_before_the_switchover_and_adopts_only_a_stop_made_since(
        status, start_date, stop_date, resume_earlier_stop):
    """RUN_STARTED stands for the switchover's start: a task started since was resumed by somebody (refused); a
    task stopped before it was paused on purpose or failed for another reason (refused unless a person said so)."""
    task = state(status, start_date=start_date, stop_date=stop_date)
    started_since = start_date is not None and start_date >= RUN_STARTED
    stopped_since = stop_date is not None and stop_date >= RUN_STARTED
    expected = {"running": None if started_since else Action.ACT, "stopping": Action.WAIT,
                **dict.fromkeys(RESTARTABLE, Action.ADOPT if stopped_since or resume_earlier_stop else None)}
    if expected.get(status) is not None:
        assert plan_stop_at_once(task, RUN_STARTED, resume_earlier_stop) is expected[status]
        return
    match = {"running": "CDC was resumed since", **dict.fromkeys(RESTARTABLE, "paused on purpose")}.get(
        status, f"is {status}")
    with pytest.raises(DmsTaskStateError, match=match):
        plan_stop_at_once(task, RUN_STARTED, resume_earlier_stop)


def test_stop_at_once_without_a_moment_stops_a_running_task():
    assert plan_stop_at_once(state("running", start_date=AFTER), None) is Action.ACT
