"""Running a deferred operator step as Airflow would: the trigger serialised and re-created from its class path
and kwargs (as the triggerer does), and the resumed method called with the deferral's kwargs plus the event."""

from __future__ import annotations

import importlib
import json

import pytest
from airflow.sdk.exceptions import TaskDeferred

from cdc_runbooks.triggers.base import run_inline


def deferred(call) -> TaskDeferred:
    """What ``call()`` deferred with (it must defer)."""
    with pytest.raises(TaskDeferred) as raised:
        call()
    return raised.value


def as_triggerer_would(deferral: TaskDeferred) -> dict:
    """Serialise the trigger, re-create it from its path and JSON kwargs, run it; return the keyword arguments of
    the resumed method: the deferral's kwargs (through JSON) and ``event``, the event payload."""
    path, kwargs = deferral.trigger.serialize()
    module, name = path.rsplit(".", 1)
    event = run_inline(getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs))))
    return {**json.loads(json.dumps(deferral.kwargs or {})), "event": event}


def resume(operator, deferral: TaskDeferred):
    """The operator resumed after ``deferral``'s trigger fired (this may defer again)."""
    return getattr(operator, deferral.method_name)({}, **as_triggerer_would(deferral))
