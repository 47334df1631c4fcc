"""Waits on a blue/green switchover: until it ends (DescribeBlueGreenDeployments), and for green's binlog
coordinates (DescribeEvents)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from airflow.triggers.base import TriggerEvent

from cdc_runbooks import identifiers
from cdc_runbooks.aws.blue_green import deployment_state, switchover_coordinates
from cdc_runbooks.blue_green import CoordinatesDisagree
from cdc_runbooks.triggers.base import AwsPollingTrigger


class BlueGreenSwitchoverTrigger(AwsPollingTrigger):
    """Fire when the deployment is no longer SWITCHOVER_IN_PROGRESS (completed, failed or rolled back), with its
    status as ``deployment_status``; error after ``waiter_max_attempts`` polls (DescribeBlueGreenDeployments).

    :param deployment_identifier: the blue/green deployment (``bgd-...``).
    """

    def __init__(self, *, deployment_identifier: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.deployment_identifier = deployment_identifier

    async def run(self) -> AsyncIterator[TriggerEvent]:
        state = None
        async for _ in self.polls():
            state = await asyncio.to_thread(deployment_state, self.aws_conn_id, self.deployment_identifier,
                                            self.region_name)
            if state.status != "SWITCHOVER_IN_PROGRESS":
                yield TriggerEvent({"status": "success", "message": state.describe(),
                                    "deployment_status": state.status})
                return
        yield TriggerEvent({"status": "error", "message": (
            f"switchover of {self.deployment_identifier} still in progress {self.gave_up()}: "
            f"{state.describe() if state else 'never described'}")})


class BlueGreenCoordinatesTrigger(AwsPollingTrigger):
    """Fire with ``position`` (``file:offset``) once the old green writer's RDS event "Binary log coordinates in
    green environment after switchover" has appeared, dated from ``since`` to the moment it is read plus
    ``max_clock_skew_s`` (:func:`cdc_runbooks.aws.blue_green.switchover_coordinates`), polling ``waiter_delay``
    seconds apart. Status ``timeout`` when none has appeared within ``event_timeout_s``; ``error`` when two newest
    events name different positions (CoordinatesDisagree).

    RDS events are best effort, so running out of time is an outcome, not a failure: the operator falls back to
    green's binlog. The wait is therefore bounded in time (``event_timeout_s``, with at least one poll past it),
    not in polls (``waiter_max_attempts`` is not used).

    :param green_writer: the old green writer's instance name before the switchover.
    :param since: ISO time the switchover started; older events are another switchover's.
    :param event_timeout_s: how long to wait for the event.
    :param max_clock_skew_s: how far past our clock an event may be dated.
    """

    def __init__(self, *, green_writer: str, since: str, event_timeout_s: float, max_clock_skew_s: float,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.green_writer = green_writer
        self.since = since
        self.event_timeout_s = event_timeout_s
        self.max_clock_skew_s = max_clock_skew_s

    async def run(self) -> AsyncIterator[TriggerEvent]:
        since = identifiers.iso_datetime(self.since, "since")
        deadline = time.monotonic() + self.event_timeout_s
        while True:
            try:
                position = await asyncio.to_thread(switchover_coordinates, self.aws_conn_id, self.green_writer,
                                                   since, self.max_clock_skew_s, self.region_name)
            except CoordinatesDisagree as disagreement:
                yield TriggerEvent({"status": "error", "message": str(disagreement)})
                return
            if position is not None:
                yield TriggerEvent({"status": "success", "position": str(position), "message": (
                    f"coordinates event of {self.green_writer}: {position}")})
                return
            if time.monotonic() > deadline:
                yield TriggerEvent({"status": "timeout", "message": (
                    f"no coordinates event from {self.green_writer} within {self.event_timeout_s:g} s")})
                return
            await asyncio.sleep(self.waiter_delay)
