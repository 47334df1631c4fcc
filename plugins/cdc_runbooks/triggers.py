"""Triggers for the runbooks' long waits: DMS task status and CDC latency.

They poll with the same sync hooks the operators use, each call in a worker
thread (``asyncio.to_thread``), so they need no ``aiobotocore`` (every amazon
provider trigger does, and it would downgrade the pinned boto3). An operator
with ``deferrable=True`` hands them to the triggerer and frees its worker slot;
without it, the operator runs the same trigger inline (:func:`run_inline`), so
both paths are one implementation.

Each trigger fires one event: ``{"status": "success" | "error", "message": ..., "carry": {...}}``
where ``carry`` is what the operator needs when it resumes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from cdc_runbooks.cdc_latency import LatencySample, LatencyWindow


def wait_for(operator, context, trigger: BaseTrigger, method_name: str):
    """Continue the operator in ``method_name`` once ``trigger`` fires: in the triggerer when the operator is
    deferrable (this raises TaskDeferred), else here, running the same trigger inline."""
    if operator.deferrable:
        operator.defer(trigger=trigger, method_name=method_name)
    return getattr(operator, method_name)(context, run_inline(trigger))


def run_inline(trigger: BaseTrigger) -> dict:
    """Run a trigger in this process and return its first event's payload."""

    async def first() -> dict:
        async for event in trigger.run():
            return event.payload
        raise RuntimeError(f"{type(trigger).__name__} ended without an event")

    return asyncio.run(first())


class DmsTaskStatusTrigger(BaseTrigger):
    """Fire when the pipeline's DMS task reaches ``wanted``; error on a ``failing`` status or after
    ``waiter_max_attempts`` polls ``waiter_delay`` seconds apart (DescribeReplicationTasks)."""

    def __init__(self, *, pipeline_name: str, task_arn: str, wanted: str, failing: list[str], waiter_delay: float,
                 waiter_max_attempts: int, carry: dict | None = None) -> None:
        super().__init__()
        self.pipeline_name = pipeline_name
        self.task_arn = task_arn
        self.wanted = wanted
        self.failing = list(failing)
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.carry = carry or {}

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}", {
            "pipeline_name": self.pipeline_name, "task_arn": self.task_arn, "wanted": self.wanted,
            "failing": self.failing, "waiter_delay": self.waiter_delay,
            "waiter_max_attempts": self.waiter_max_attempts, "carry": self.carry})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from cdc_runbooks.aws.dms import task_state

        state = None
        for _ in range(self.waiter_max_attempts):
            state = await asyncio.to_thread(task_state, self.pipeline_name, self.task_arn)
            if state.status == self.wanted:
                yield TriggerEvent({"status": "success", "message": state.describe(), "carry": self.carry})
                return
            if state.status in self.failing:
                yield TriggerEvent({"status": "error", "message": f"waiting for {self.wanted}: {state.describe()}",
                                    "carry": self.carry})
                return
            await asyncio.sleep(self.waiter_delay)
        yield TriggerEvent({"status": "error", "carry": self.carry, "message": (
            f"{self.task_arn} did not become {self.wanted} after {self.waiter_max_attempts} polls "
            f"{self.waiter_delay:g} s apart: {state.describe() if state else 'never described'}. The request was "
            "made and DMS may still get there: check the task in the DMS console, then clear this step (a cleared "
            "pause or restart adopts what it started; it never calls DMS twice).")})


class CdcLatencyTrigger(BaseTrigger):
    """Fire when CDCLatencySource and CDCLatencyTarget of the task stay at or below ``max_latency_s`` for
    ``sustain_s`` (CloudWatch, AWS/DMS); error after ``timeout_s``, or at once when the task (``task_arn``) is no
    longer running (a failed task publishes no latency, and its last datapoints must not pass for converged), or
    when the latency has risen at every poll for ``give_up_rising_s`` (CDC falls behind instead of catching up:
    waiting cannot help). Logs the latency and how it moved at every poll."""

    def __init__(self, *, pipeline_name: str, dimensions: list[dict], max_latency_s: float, sustain_s: float,
                 timeout_s: float, poll_s: float, what: str, carry: dict | None = None,
                 task_arn: str | None = None, give_up_rising_s: float | None = None) -> None:
        super().__init__()
        self.pipeline_name = pipeline_name
        self.dimensions = dimensions
        self.max_latency_s = max_latency_s
        self.sustain_s = sustain_s
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.what = what
        self.carry = carry or {}
        self.task_arn = task_arn
        self.give_up_rising_s = give_up_rising_s

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}", {
            "pipeline_name": self.pipeline_name, "dimensions": self.dimensions, "max_latency_s": self.max_latency_s,
            "sustain_s": self.sustain_s, "timeout_s": self.timeout_s, "poll_s": self.poll_s, "what": self.what,
            "carry": self.carry, "task_arn": self.task_arn, "give_up_rising_s": self.give_up_rising_s})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from cdc_runbooks.aws.dms import latest_latency, task_state

        window = LatencyWindow(self.max_latency_s, self.sustain_s)
        deadline = time.monotonic() + self.timeout_s
        while not window.settled:
            state = await asyncio.to_thread(task_state, self.pipeline_name, self.task_arn) if self.task_arn else None
            if state is not None and state.status != "running":
                yield TriggerEvent({"status": "error", "carry": self.carry, "message": (
                    f"CDC stopped while waiting to {self.what}: {state.describe()}. Read the failure; once its "
                    "cause is fixed, restart CDC with dms_cdc_restart from the task's RecoveryCheckpoint "
                    f"{state.recovery_checkpoint}.")})
                return
            if time.monotonic() > deadline:
                yield TriggerEvent({"status": "error", "carry": self.carry, "message": (
                    f"CDC did not {self.what} within {self.timeout_s:g} s: {window.describe()}")})
                return
            sample = await asyncio.to_thread(latest_latency, self.pipeline_name, self.dimensions)
            if sample is not None:
                window.add(LatencySample(time.monotonic(), *sample))
                self.log.info("Waiting for CDC to %s: %s", self.what, window.progress())
            if self.give_up_rising_s is not None and window.rising_for(self.give_up_rising_s):
                yield TriggerEvent({"status": "error", "carry": self.carry, "message": (
                    f"CDC cannot {self.what}: its latency rose at every poll for {self.give_up_rising_s:g} s "
                    f"({window.describe()}). Changes arrive faster than DMS applies them (e.g. large transactions), "
                    "so waiting cannot help; nothing was stopped. Let that load finish (or stop it), then run this "
                    "step again.")})
                return
            await asyncio.sleep(self.poll_s)
        yield TriggerEvent({"status": "success", "message": f"CDC latency {self.what}: {window.describe()}",
                            "carry": self.carry})


class BlueGreenSwitchoverTrigger(BaseTrigger):
    """Fire when the deployment is no longer SWITCHOVER_IN_PROGRESS (completed, failed or rolled back);
    error after ``waiter_max_attempts`` polls (DescribeBlueGreenDeployments)."""

    def __init__(self, *, pipeline_name: str, deployment_identifier: str, waiter_delay: float,
                 waiter_max_attempts: int, carry: dict | None = None) -> None:
        super().__init__()
        self.pipeline_name = pipeline_name
        self.deployment_identifier = deployment_identifier
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.carry = carry or {}

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}", {
            "pipeline_name": self.pipeline_name, "deployment_identifier": self.deployment_identifier,
            "waiter_delay": self.waiter_delay, "waiter_max_attempts": self.waiter_max_attempts,
            "carry": self.carry})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from cdc_runbooks.aws.blue_green import deployment_state

        state = None
        for _ in range(self.waiter_max_attempts):
            state = await asyncio.to_thread(deployment_state, self.pipeline_name, self.deployment_identifier)
            if state.status != "SWITCHOVER_IN_PROGRESS":
                yield TriggerEvent({"status": "success", "message": state.describe(), "carry": self.carry,
                                    "deployment_status": state.status})
                return
            await asyncio.sleep(self.waiter_delay)
        yield TriggerEvent({"status": "error", "carry": self.carry, "message": (
            f"switchover of {self.deployment_identifier} still in progress after {self.waiter_max_attempts} polls "
            f"{self.waiter_delay:g} s apart: {state.describe() if state else 'never described'}")})
