"""Waiting for RDS snapshot exports: one poll (sync, RdsHook) and the trigger that repeats it.

Exports take hours. The trigger follows ``cdc_runbooks.triggers``: it polls with
the sync hook in a worker thread (no aiobotocore), runs in the triggerer when the
operator defers (no worker slot held) and inline otherwise (``triggers.wait_for``).
Unlike the provider's RdsExportTaskExistenceSensor it never takes ``starting``
for done, and unlike RdsStartExportTaskOperator it has no 20-minute ceiling. A
poll that fails transiently after the SDK's own retries (throttling, a 5xx, a
dropped connection: ``errors.is_transient``) is skipped and the wait goes on;
any other error ends the wait with an event that carries it, so the step's
failure (and the run record) says why.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from cdc_runbooks.aws.errors import is_transient
from cdc_runbooks.aws.exports import export_state
from cdc_runbooks.snapshot_export import FAILED, ExportState


class ExportTasksTrigger(BaseTrigger):
    """Fire when every export in ``exports`` ({pipeline: export id}) is ``complete``; fire ``failed`` as soon as
    one is failed, canceled or gone (with its FailureCause), ``error`` after ``waiter_max_attempts`` polls
    ``waiter_delay`` s apart (the exports may still run)."""

    def __init__(self, *, exports: dict[str, str], waiter_delay: float, waiter_max_attempts: int,
                 carry: dict | None = None) -> None:
        super().__init__()
        self.exports = dict(exports)
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.carry = carry or {}

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}", {
            "exports": self.exports, "waiter_delay": self.waiter_delay,
            "waiter_max_attempts": self.waiter_max_attempts, "carry": self.carry})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        states: dict[str, ExportState | None] = {}
        skipped = 0
        for _ in range(self.waiter_max_attempts):
            try:
                await self._poll(states)
            except Exception as error:
                if not is_transient(error):
                    yield TriggerEvent({"status": "error", "carry": self.carry, "message": (
                        f"polling the exports failed: {type(error).__name__}: {error}")})
                    return
                skipped += 1
                await asyncio.sleep(self.waiter_delay)
                continue
            broken = [f"{p}: {s.describe() if s else f'export {self.exports[p]} does not exist'}"
                      for p, s in states.items() if s is None or s.status in FAILED]
            if broken:
                yield TriggerEvent({"status": "failed", "message": "; ".join(broken), "carry": self.carry})
                return
            if all(s.status == "complete" for s in states.values()):
                yield TriggerEvent({"status": "success", "carry": self.carry,
                                    "message": "; ".join(s.describe() for s in states.values())})
                return
            await asyncio.sleep(self.waiter_delay)
        yield TriggerEvent({"status": "error", "carry": self.carry, "message": (
            f"exports not complete after {self.waiter_max_attempts} polls {self.waiter_delay:g} s apart "
            f"({skipped} failed transiently): " + "; ".join(s.describe() for s in states.values() if s))})

    async def _poll(self, states: dict[str, ExportState | None]) -> None:
        """One DescribeExportTasks per export not yet complete, into ``states``."""
        for pipeline, export_id in self.exports.items():
            if states.get(pipeline) is None or states[pipeline].status != "complete":
                states[pipeline] = await asyncio.to_thread(export_state, pipeline, export_id)
