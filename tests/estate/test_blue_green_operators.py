"""The blue/green operators and the old-blue drain against the estate: the whole hand-over of CDC from blue
to green under traffic, the fallback when the coordinates event never comes, and switchovers that roll back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from deferral import deferred, resume

from cdc_runbooks.blue_green import BlueGreenStateError, SwitchoverRolledBack
from cdc_runbooks.operators.blue_green import BlueGreenCoordinatesOperator, BlueGreenSwitchoverOperator
from cdc_runbooks.operators.dms import DmsDrainOldBlueOperator, DmsPauseTaskOperator, DmsRestartCdcOperator

pytestmark = pytest.mark.estate


@pytest.fixture
def hooks_reach(estate, monkeypatch):
    for name, value in estate.airflow_env().items():
        monkeypatch.setenv(name, value)
    return estate


def _switchover(estate) -> BlueGreenSwitchoverOperator:
    return BlueGreenSwitchoverOperator(task_id="switchover", pipeline_name="shop",
                                       deployment_identifier=estate.deployment_id, switchover_timeout=60)


def _coordinates(estate, switched: dict, timeout: float) -> dict:
    return BlueGreenCoordinatesOperator(
        task_id="coordinates", pipeline_name="shop", deployment_identifier=estate.deployment_id,
        green_writer=switched["green_writer"], since=switched["started_at"], event_timeout_s=timeout,
        waiter_delay=0.2).execute({})


def _paused(estate) -> dict:
    class DagRun:
        start_date = datetime.now(UTC) - timedelta(seconds=1)

    return DmsPauseTaskOperator(task_id="pause", pipeline_name="shop").execute({"dag_run": DagRun()})


def test_cdc_moves_from_blue_to_green_under_traffic_with_nothing_lost(hooks_reach):
    estate = hooks_reach
    traffic = estate.traffic().start()
    try:
        paused = _paused(estate)
        switched = _switchover(estate).execute({})
        coordinates = _coordinates(estate, switched, timeout=10)
        drained = DmsDrainOldBlueOperator(task_id="drain", pipeline_name="shop",
                                          deployment_identifier=estate.deployment_id,
                                          checkpoint=paused["recovery_checkpoint"]).execute({})
        restarted = DmsRestartCdcOperator(task_id="restart", pipeline_name="shop", dry_run=False,
                                          cdc_start_position=coordinates["position"],
                                          drained_to=drained["drained_to"]).execute({})
    finally:
        traffic.stop()

    assert switched["status"] == "SWITCHOVER_COMPLETED" and switched["action"] == "act"
    assert coordinates == {"position": str(estate.bluegreen.coordinates), "source": "event",
                           "needs_reconciliation_attention": False}
    assert drained["action"] == "act" and drained["drained_to"] == drained["old_blue_end"]
    assert drained["old_blue"] == "prod-old1"
    assert restarted["status"] == "running"
    task = estate.task()
    endpoint = estate.aws.client("dms").describe_endpoints(Filters=[
        {"Name": "endpoint-arn", "Values": [task["SourceEndpointArn"]]}])["Endpoints"][0]
    assert endpoint["Port"] == estate.source.prod_endpoint.port  # pointed back at production
    estate.wait_cdc_idle()
    for table in ("customers", "orders"):
        assert estate.source_rows(table) == estate.warehouse_rows(table)


def test_switchover_and_coordinates_deferred_resume_with_what_they_did(hooks_reach):
    """Deferred, the switchover and the coordinates wait run in the triggerer (trigger serialised and re-created);
    the resumed method gets the deferral's kwargs and the event, and returns what the inline run returns."""
    estate = hooks_reach
    switchover = BlueGreenSwitchoverOperator(task_id="switchover", pipeline_name="shop", deferrable=True,
                                             defer_after_s=0, deployment_identifier=estate.deployment_id,
                                             switchover_timeout=60)
    switched = resume(switchover, deferred(lambda: switchover.execute({})))
    assert switched["status"] == "SWITCHOVER_COMPLETED" and switched["action"] == "act"
    assert switched["green_writer"] and switched["started_at"]

    coordinates = BlueGreenCoordinatesOperator(
        task_id="coordinates", pipeline_name="shop", deployment_identifier=estate.deployment_id, deferrable=True,
        defer_after_s=0, green_writer=switched["green_writer"], since=switched["started_at"], event_timeout_s=10,
        waiter_delay=0.2)
    found = resume(coordinates, deferred(lambda: coordinates.execute({})))
    assert found == {"position": str(estate.bluegreen.coordinates), "source": "event",
                     "needs_reconciliation_attention": False}


def test_a_cleared_switchover_step_adopts_instead_of_switching_again(hooks_reach):
    estate = hooks_reach
    first = _switchover(estate).execute({})
    again = _switchover(estate).execute({})

    assert (first["action"], again["action"]) == ("act", "adopt")
    assert again["status"] == "SWITCHOVER_COMPLETED"
    assert estate.bluegreen.switchover_calls == [estate.deployment_id]


def test_missing_coordinates_event_falls_back_to_the_exact_position(hooks_reach):
    estate = hooks_reach
    estate.bluegreen.faults.publish_coordinates = False
    switched = _switchover(estate).execute({})

    found = _coordinates(estate, switched, timeout=0.5)

    assert found["source"].startswith("fallback") and found["needs_reconciliation_attention"] is True
    assert found["position"] == str(estate.bluegreen.coordinates)


@pytest.mark.parametrize("outcome", ["fail", "timeout"])
def test_a_rolled_back_switchover_fails_and_is_never_repeated(hooks_reach, outcome):
    estate = hooks_reach
    estate.bluegreen.faults.outcome = outcome

    with pytest.raises(SwitchoverRolledBack, match="production is still blue"):
        _switchover(estate).execute({})
    if outcome == "fail":  # SWITCHOVER_FAILED: a retry refuses; a person decides
        with pytest.raises(BlueGreenStateError, match="refusing to switch over"):
            _switchover(estate).execute({})
    assert estate.bluegreen.switchover_calls == [estate.deployment_id]
    assert estate.source.writer is estate.source.blue


def test_switchover_timeout_outside_the_rds_range_is_refused(hooks_reach):
    operator = BlueGreenSwitchoverOperator(task_id="s", pipeline_name="shop",
                                           deployment_identifier=hooks_reach.deployment_id, switchover_timeout=5)
    with pytest.raises(BlueGreenStateError, match="30-3600"):
        operator.execute({})
    assert not hooks_reach.bluegreen.switchover_calls
