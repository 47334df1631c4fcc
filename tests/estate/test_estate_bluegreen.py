"""The blue/green controller: a real switchover over several polls, its events, and its faults."""

from __future__ import annotations

import time

import botocore.exceptions
import pymysql
import pytest

from rehearsal.bluegreen import COORDINATES_MESSAGE

pytestmark = pytest.mark.estate


def _switch_over(estate) -> list[str]:
    """Start a switchover and poll it to the end; return every status seen."""
    rds = estate.aws.client("rds")
    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=estate.deployment_id, SwitchoverTimeout=60)
    seen = []
    for _ in range(50):
        status = rds.describe_blue_green_deployments(
            BlueGreenDeploymentIdentifier=estate.deployment_id)["BlueGreenDeployments"][0]["Status"]
        seen.append(status)
        if status != "SWITCHOVER_IN_PROGRESS":
            return seen
        time.sleep(0.05)
    raise AssertionError(f"switchover never ended: {seen}")


def _messages(estate, source_type: str) -> list[str]:
    return [e["Message"] for e in estate.aws.client("rds").describe_events(SourceType=source_type)["Events"]]


def _server_id(estate, cluster: str) -> int:
    found = estate.aws.client("rds").describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]
    login = estate.source.dms
    with pymysql.connect(host=found["Endpoint"], port=found["Port"], user=login.user,
                         password=login.password) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@server_id")
        return cur.fetchone()[0]


def _app_can_write(estate) -> bool:
    with estate.source.connect_app() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO customers (name) VALUES ('after switchover attempt')")
    return True


def test_switchover_moves_production_to_green_and_publishes_green_coordinates(estate):
    green_writer = next(i["DBInstanceIdentifier"] for i in estate.aws.client("rds").describe_db_instances()[
        "DBInstances"] if i["DBClusterIdentifier"] == estate.green_cluster)

    seen = _switch_over(estate)

    assert seen[:-1] == ["SWITCHOVER_IN_PROGRESS"] * (len(seen) - 1) and len(seen) >= 3
    assert seen[-1] == "SWITCHOVER_COMPLETED"
    green_now = estate.source.green.master_status()
    event = next(e for e in estate.aws.client("rds").describe_events(SourceType="db-instance")["Events"]
                 if e["Message"].startswith("Binary log coordinates"))
    assert event["Message"] == COORDINATES_MESSAGE.format(file=green_now.file, pos=green_now.position)
    assert event["SourceIdentifier"] == green_writer  # the old green writer's name, before switchover
    assert "Switchover completed on blue/green deployment" in _messages(estate, "blue-green-deployment")
    assert _server_id(estate, "prod") == 2 and _server_id(estate, "prod-old1") == 1
    instances = {i["DBInstanceIdentifier"]: i["DBClusterIdentifier"]
                 for i in estate.aws.client("rds").describe_db_instances()["DBInstances"]}
    assert instances == {"prod-writer": "prod", "prod-writer-old1": "prod-old1"}
    assert estate.source.blue.execute("SELECT @@read_only") == [(1,)]
    assert _app_can_write(estate)
    assert estate.source.green.execute("SHOW SLAVE STATUS") == []


def test_second_switchover_is_refused(estate):
    _switch_over(estate)
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidBlueGreenDeploymentState"):
        estate.aws.client("rds").switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=estate.deployment_id)
    assert estate.bluegreen.switchover_calls == [estate.deployment_id] * 2


@pytest.mark.parametrize(("outcome", "final_status", "message"), [
    ("fail", "SWITCHOVER_FAILED", "Switchover canceled"),
    ("timeout", "AVAILABLE", "Switchover canceled due to timeout"),
])
def test_failed_switchover_rolls_back_and_changes_nothing(estate, outcome, final_status, message):
    blue_before = estate.source.blue.master_status()
    estate.bluegreen.faults.outcome = outcome

    seen = _switch_over(estate)

    assert "SWITCHOVER_IN_PROGRESS" in seen and seen[-1] == final_status
    assert message in _messages(estate, "blue-green-deployment")
    assert not any(m.startswith("Binary log coordinates") for m in _messages(estate, "db-instance"))
    assert _server_id(estate, "prod") == 1
    assert estate.source.blue.execute("SELECT @@read_only") == [(0,)]
    assert _app_can_write(estate)
    assert estate.source.blue.master_status().position > blue_before.position
    estate.source.wait_green_caught_up(timeout=10)  # green still replicates


def test_coordinates_event_can_go_missing(estate):
    estate.bluegreen.faults.publish_coordinates = False

    assert _switch_over(estate)[-1] == "SWITCHOVER_COMPLETED"

    assert not any(m.startswith("Binary log coordinates") for m in _messages(estate, "db-instance"))
    assert _server_id(estate, "prod") == 2
