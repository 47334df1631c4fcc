"""Runbook steps leave their failure in the run record.

Decorate an operator's ``execute`` (and every method it resumes in after a
deferral) with :func:`records_failure`: when it raises, the message is pushed to
XCom under ``failure`` before the task fails, so ``record_run`` can say *why* a
step failed, not only that it did.
"""

from __future__ import annotations

import functools

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
