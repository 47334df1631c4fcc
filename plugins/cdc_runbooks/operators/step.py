"""Runbook steps leave their failure in the run record.

An operator that mixes in :class:`RunbookStep` implements ``run_step``; when it
raises, the message is pushed to XCom under ``failure`` before the task fails,
so ``record_run`` can say *why* each failed step failed, not only that it did.
"""

from __future__ import annotations

FAILURE_KEY = "failure"


class RunbookStep:
    def execute(self, context):
        try:
            return self.run_step(context)
        except Exception as exc:
            ti = context.get("ti") if context else None
            if ti is not None:
                ti.xcom_push(key=FAILURE_KEY, value=f"{type(exc).__name__}: {exc}")
            raise

    def run_step(self, context):
        raise NotImplementedError
