"""Runbook steps leave their failure in the run record, and know when their run began.

Decorate an operator's ``execute`` (and every method it resumes in after a
deferral) with :func:`records_failure`: when it raises, the message is pushed to
XCom under ``failure`` before the task fails, so ``record_run`` can say *why* a
step failed, not only that it did.
"""

from __future__ import annotations

import functools
from datetime import datetime

FAILURE_KEY = "failure"


def records_failure(method):
    @functools.wraps(method)
    def wrapper(self, context, *args, **kwargs):
        try:
            return method(self, context, *args, **kwargs)
        except Exception as exc:
            ti = context.get("ti") if context else None
            if ti is not None:
                ti.xcom_push(key=FAILURE_KEY, value=f"{type(exc).__name__}: {exc}")
            raise

    return wrapper


def run_started_at(context) -> datetime | None:
    """When the DAG run began: its ``run_after`` (set when the run is created and kept when a task is cleared,
    while clearing a finished run resets ``start_date`` to the moment of the clear). Whatever this run did
    happened after it."""
    dag_run = context.get("dag_run") if context else None
    return getattr(dag_run, "run_after", None) or getattr(dag_run, "start_date", None)
