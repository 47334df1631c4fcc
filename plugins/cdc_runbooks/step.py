"""The base of the runbooks' operators, like the provider's ``AwsBaseOperator``.

:class:`PipelineStepOperator` holds what every pipeline step has: the pipeline
(named, templated, read from ``config/pipelines.yaml`` when it runs) and the dry
run; :class:`WaitingStepOperator` adds the provider's wait settings under the
provider's names. Steps leave their failure in the run record, and know when
their run began.

Decorate an operator's ``execute`` (and every method it resumes in after a
deferral) with :func:`records_failure`: when it raises, the message is pushed to
XCom under ``failure`` before the task fails, so ``record_run`` can say *why* a
step failed, not only that it did. A refusal's message is logged at ERROR and the
task fails without a traceback (:func:`cdc_runbooks.refusal.without_traceback`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import datetime

from airflow.sdk import BaseOperator, conf

from cdc_runbooks.pipelines import Pipeline, get_pipeline
from cdc_runbooks.refusal import Refusal, without_traceback

FAILURE_KEY = "failure"
_log = logging.getLogger(__name__)


def records_failure(method):
    @functools.wraps(method)
    def wrapper(self, context, *args, **kwargs):
        try:
            return method(self, context, *args, **kwargs)
        except Exception as exc:
            ti = context.get("ti") if context else None
            if ti is not None:
                ti.xcom_push(key=FAILURE_KEY, value=f"{type(exc).__name__}: {exc}")
            if isinstance(exc, Refusal):  # its message says it all: log it, and fail without a traceback
                getattr(self, "log", _log).error("%s: %s", type(exc).__name__, exc)
                raise without_traceback(exc) from exc
            raise

    return wrapper


def run_started_at(context) -> datetime | None:
    """When the DAG run began: its ``run_after`` (set when the run is created and kept when a task is cleared,
    while clearing a finished run resets ``start_date`` to the moment of the clear). Whatever this run did
    happened after it."""
    dag_run = context.get("dag_run") if context else None
    return getattr(dag_run, "run_after", None) or getattr(dag_run, "start_date", None)


class PipelineStepOperator(BaseOperator):
    """A runbook step that acts for one pipeline.

    :param pipeline_name: the pipeline in ``config/pipelines.yaml`` (templated; unknown ones are refused when the
        step runs, before anything changes).
    :param dry_run: say what would change and change nothing.
    """

    template_fields: Sequence[str] = ("pipeline_name", "dry_run")

    def __init__(self, *, pipeline_name: str, dry_run: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pipeline_name = pipeline_name
        self.dry_run = dry_run

    @property
    def pipeline(self) -> Pipeline:
        """The pipeline as configured now (the file is re-read when it changes)."""
        return get_pipeline(self.pipeline_name)


DEFER_AFTER_S = 30.0


class WaitingStepOperator(PipelineStepOperator):
    """A pipeline step that waits for AWS, inline or in the triggerer.

    :param wait_for_completion: wait until the change is done (always in a runbook; false hands back early).
    :param waiter_delay: seconds between polls (default: the pipeline's ``poll_interval_s``).
    :param waiter_max_attempts: polls before giving up.
    :param deferrable: wait in the triggerer, freeing the worker slot (default: ``[operators] default_deferrable``).
    :param defer_after_s: with ``deferrable``, how long to wait in the worker before deferring (default 30): a
        wait that ends sooner never pays the triggerer round trip (seconds, inside the CDC gap for the runbooks'
        steps); 0 defers at once. See :func:`cdc_runbooks.triggers.base.wait_for`.
    """

    def __init__(self, *, wait_for_completion: bool = True, waiter_delay: float | None = None,
                 waiter_max_attempts: int = 120,
                 deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
                 defer_after_s: float = DEFER_AFTER_S, **kwargs) -> None:
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.deferrable = deferrable
        self.defer_after_s = defer_after_s

    def delay(self, pipeline: Pipeline) -> float:
        """Seconds between polls for ``pipeline``."""
        return self.waiter_delay if self.waiter_delay is not None else pipeline.poll_interval_s
