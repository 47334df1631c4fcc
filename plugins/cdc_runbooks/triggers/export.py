"""Waiting for RDS snapshot exports: one poll (sync, RdsHook) and the trigger that repeats it.

Exports take hours. The trigger follows ``cdc_runbooks.triggers.base``: it polls
with the sync hook in a worker thread (no aiobotocore), runs in the triggerer when
the operator defers (no worker slot held) and inline otherwise (``base.wait_for``).
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

from airflow.triggers.base import TriggerEvent

from cdc_runbooks.aws.errors import is_transient
from cdc_runbooks.aws.exports import export_state
from cdc_runbooks.lake.export import FAILED, ExportState
from cdc_runbooks.triggers.base import AwsPollingTrigger


class ExportTasksTrigger(AwsPollingTrigger):
    """Fire when every export in ``exports`` ({pipeline: export id}) is ``complete``; fire ``failed`` as soon as
    one is failed, canceled or gone (with its FailureCause), ``error`` after ``waiter_max_attempts`` polls
    ``waiter_delay`` s apart (the exports may still run).

    :param exports: {pipeline: export id}, all waited for together.
    :param conn_ids: {pipeline: connection} for a pipeline whose account is not ``aws_conn_id``'s (a run's
        pipelines may live in several accounts).
    """

    def __init__(self, *, exports: dict[str, str], conn_ids: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.exports = dict(exports)
        self.conn_ids = dict(conn_ids or {})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        states: dict[str, ExportState | None] = {}
        skipped = 0
        async for _ in self.polls():
            try:
                await self._poll(states)
            except Exception as error:
                if not is_transient(error):
                    yield TriggerEvent({"status": "error", "message": (
                        f"polling the exports failed: {type(error).__name__}: {error}")})
                    return
                skipped += 1
                continue
            broken = [f"{p}: {s.describe() if s else f'export {self.exports[p]} does not exist'}"
                      for p, s in states.items() if s is None or s.status in FAILED]
            if broken:
                yield TriggerEvent({"status": "failed", "message": "; ".join(broken)})
                return
            if all(s.status == "complete" for s in states.values()):
                yield TriggerEvent({"status": "success",
                                    "message": "; ".join(s.describe() for s in states.values())})
                return
        yield TriggerEvent({"status": "error", "message": (
            f"exports not complete {self.gave_up()} ({skipped} failed transiently): "
            + "; ".join(s.describe() for s in states.values() if s))})

    async def _poll(self, states: dict[str, ExportState | None]) -> None:
        """One DescribeExportTasks per export not yet complete, into ``states``."""
        for pipeline, export_id in self.exports.items():
            if states.get(pipeline) is None or states[pipeline].status != "complete":
                conn_id = self.conn_ids.get(pipeline, self.aws_conn_id)
                states[pipeline] = await asyncio.to_thread(export_state, conn_id, export_id, self.region_name)
