"""Waits on a DMS task: its status (DescribeReplicationTasks) and its CDC latency (CloudWatch, AWS/DMS)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from airflow.providers.amazon.aws.hooks.dms import DmsTaskState
from airflow.triggers.base import TriggerEvent

from cdc_runbooks.aws.dms import latest_latency, task_state
from cdc_runbooks.cdc_latency import LatencySample, LatencyWindow
from cdc_runbooks.triggers.base import AwsPollingTrigger


class DmsTaskStatusTrigger(AwsPollingTrigger):
    """Fire when the DMS task ``task_arn`` reaches ``wanted``; error on a ``failing`` status or after
    ``waiter_max_attempts`` polls ``waiter_delay`` seconds apart (DescribeReplicationTasks).

    :param task_arn: the replication task.
    :param wanted: the status to wait for (a value of the provider's ``DmsTaskState``).
    :param failing: statuses that end the wait with an error.
    """

    def __init__(self, *, task_arn: str, wanted: str, failing: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.task_arn = task_arn
        self.wanted = wanted
        self.failing = list(failing)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        state = None
        async for _ in self.polls():
            state = await asyncio.to_thread(task_state, self.aws_conn_id, self.task_arn, self.region_name)
            if state.status == self.wanted:
                yield TriggerEvent({"status": "success", "message": state.describe()})
                return
            if state.status in self.failing:
                yield TriggerEvent({"status": "error", "message": f"waiting for {self.wanted}: {state.describe()}"})
                return
        yield TriggerEvent({"status": "error", "message": (
            f"{self.task_arn} did not become {self.wanted} {self.gave_up()}: "
            f"{state.describe() if state else 'never described'}. The request was made and DMS may still get there: "
            "check the task in the DMS console, then clear this step (a cleared pause or restart adopts what it "
            "started; it never calls DMS twice).")})


class CdcLatencyTrigger(AwsPollingTrigger):
    """Fire when CDCLatencySource and CDCLatencyTarget of the task stay at or below ``max_latency_s`` for
    ``sustain_s`` (CloudWatch, AWS/DMS); error after ``timeout_s``, or at once when the task (``task_arn``) is no
    longer running (a failed task publishes no latency, and its last datapoints must not pass for converged), or
    when the latency has risen at every poll for ``give_up_rising_s`` (CDC falls behind instead of catching up:
    waiting cannot help). Logs the latency and how it moved at every poll.

    The wait is bounded in time (``timeout_s``), not in polls (``waiter_max_attempts`` is not used): how long CDC
    takes to drain depends on the load, and it must then stay low for ``sustain_s``.

    :param dimensions: the CloudWatch dimensions of the task's metrics (``aws.dms.latency_dimensions``).
    :param metric_period_s: the CloudWatch period of the metrics.
    :param what: what the wait is for, in its messages (``drain``, ``converge``).
    """

    def __init__(self, *, dimensions: list[dict], metric_period_s: int, max_latency_s: float, sustain_s: float,
                 timeout_s: float, what: str, task_arn: str | None = None, give_up_rising_s: float | None = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.dimensions = dimensions
        self.metric_period_s = metric_period_s
        self.max_latency_s = max_latency_s
        self.sustain_s = sustain_s
        self.timeout_s = timeout_s
        self.what = what
        self.task_arn = task_arn
        self.give_up_rising_s = give_up_rising_s

    @property
    def shortest_wait_s(self) -> float:
        """No success before the latency has stayed low for ``sustain_s`` (see ``wait_for``)."""
        return float(self.sustain_s)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        window = LatencyWindow(self.max_latency_s, self.sustain_s)
        deadline = time.monotonic() + self.timeout_s
        while not window.settled:
            state = (await asyncio.to_thread(task_state, self.aws_conn_id, self.task_arn, self.region_name)
                     if self.task_arn else None)
            if state is not None and state.status != DmsTaskState.RUNNING.value:
                yield TriggerEvent({"status": "error", "message": (
                    f"CDC stopped while waiting to {self.what}: {state.describe()}. Read the failure; once its "
                    "cause is fixed, restart CDC with dms_cdc_restart from the task's RecoveryCheckpoint "
                    f"{state.recovery_checkpoint}.")})
                return
            if time.monotonic() > deadline:
                yield TriggerEvent({"status": "error", "message": (
                    f"CDC did not {self.what} within {self.timeout_s:g} s: {window.describe()}")})
                return
            sample = await asyncio.to_thread(latest_latency, self.aws_conn_id, self.dimensions, self.metric_period_s,
                                             self.region_name)
            if sample is not None:
                window.add(LatencySample(time.monotonic(), *sample))
                self.log.info("Waiting for CDC to %s: %s", self.what, window.progress())
            if self.give_up_rising_s is not None and window.rising_for(self.give_up_rising_s):
                yield TriggerEvent({"status": "error", "message": (
                    f"CDC cannot {self.what}: its latency rose at every poll for {self.give_up_rising_s:g} s "
                    f"({window.describe()}). Changes arrive faster than DMS applies them (e.g. large transactions), "
                    "so waiting cannot help; nothing was stopped. Let that load finish (or stop it), then run this "
                    "step again.")})
                return
            await asyncio.sleep(self.waiter_delay)
        yield TriggerEvent({"status": "success", "message": f"CDC latency {self.what}: {window.describe()}"})
