"""wait_for: inline without deferral; with it, inline for ``defer_after_s`` first, then deferred (the same trigger,
the same method and kwargs); run_inline's time limit."""

from __future__ import annotations

import asyncio
import time

import pytest
from airflow.sdk.exceptions import TaskDeferred
from airflow.triggers.base import BaseTrigger, TriggerEvent
from deferral import deferred

from cdc_runbooks.triggers.base import run_inline, wait_for


class FiresAfter(BaseTrigger):
    """Fires ``{"status": "success", "after_s": ...}`` after ``after_s`` seconds."""

    def __init__(self, after_s: float) -> None:
        super().__init__()
        self.after_s = after_s

    def serialize(self):
        return f"{__name__}.FiresAfter", {"after_s": self.after_s}

    async def run(self):
        await asyncio.sleep(self.after_s)
        yield TriggerEvent({"status": "success", "after_s": self.after_s})


class TimesOutItself(BaseTrigger):
    """A trigger whose own call times out (a socket timeout is a TimeoutError)."""

    def serialize(self):
        return f"{__name__}.TimesOutItself", {}

    async def run(self):
        raise TimeoutError("read timeout from the API")
        yield  # an async generator


class HangsInAThread(BaseTrigger):
    """A trigger whose poll is a blocking call that hangs (an API call without an answer), run in a thread."""

    def serialize(self):
        return f"{__name__}.HangsInAThread", {}

    async def run(self):
        await asyncio.to_thread(time.sleep, 3)
        yield TriggerEvent({"status": "success"})


class SustainedFor(FiresAfter):
    """A trigger that cannot fire before ``shortest_wait_s`` (as a latency that must stay low for a while)."""

    @property
    def shortest_wait_s(self) -> float:
        return self.after_s


class Step:
    """What wait_for needs of an operator: deferrable, defer_after_s, defer() and the resumed method."""

    def __init__(self, deferrable: bool, defer_after_s: float) -> None:
        self.deferrable, self.defer_after_s = deferrable, defer_after_s

    def defer(self, *, trigger, method_name, kwargs=None):
        raise TaskDeferred(trigger=trigger, method_name=method_name, kwargs=kwargs)

    def resumed(self, context, event, started):
        return {"event": event, "started": started}


def test_a_wait_shorter_than_defer_after_s_ends_in_the_worker_without_deferring():
    assert wait_for(Step(True, 5), {}, FiresAfter(0.05), "resumed", {"started": "t0"}) == {
        "event": {"status": "success", "after_s": 0.05}, "started": "t0"}


def test_a_longer_wait_defers_the_same_trigger_to_the_same_method_with_the_same_kwargs():
    trigger = FiresAfter(30)
    began = time.monotonic()
    deferral = deferred(lambda: wait_for(Step(True, 0.1), {}, trigger, "resumed", {"started": "t0"}))
    assert time.monotonic() - began < 10  # the inline part was cut at 0.1 s, not run for 30 s
    assert (deferral.trigger, deferral.method_name, deferral.kwargs) == (trigger, "resumed", {"started": "t0"})


@pytest.mark.parametrize("defer_after_s", [0, -1])
def test_defer_after_s_of_zero_or_less_defers_at_once(defer_after_s):
    assert deferred(lambda: wait_for(Step(True, defer_after_s), {}, FiresAfter(0), "resumed", {"started": 1}))


def test_without_deferrable_the_whole_wait_is_inline_however_long():
    assert wait_for(Step(False, 0), {}, FiresAfter(0.3), "resumed", {"started": 2})["event"]["after_s"] == 0.3


def test_run_inline_returns_none_when_the_limit_passes_first_and_the_event_otherwise():
    assert run_inline(FiresAfter(30), within_s=0.05) is None
    assert run_inline(FiresAfter(0.01), within_s=5) == {"status": "success", "after_s": 0.01}
    assert run_inline(FiresAfter(0.01)) == {"status": "success", "after_s": 0.01}


def test_a_trigger_that_fails_with_its_own_timeout_error_fails_the_wait_instead_of_deferring():
    with pytest.raises(TimeoutError, match="read timeout from the API"):
        wait_for(Step(True, 5), {}, TimesOutItself(), "resumed", {"started": 3})


def test_the_inline_part_ends_on_time_even_while_a_poll_hangs_in_a_thread():
    began = time.monotonic()
    assert run_inline(HangsInAThread(), within_s=0.2) is None
    assert time.monotonic() - began < 2  # not the 3 s of the hung call


def test_a_trigger_that_cannot_fire_within_defer_after_s_defers_at_once():
    began = time.monotonic()
    deferred(lambda: wait_for(Step(True, 1.0), {}, SustainedFor(1.0), "resumed", {"started": 4}))
    assert time.monotonic() - began < 0.5  # no inline second spent on a wait that cannot end in it
    assert wait_for(Step(True, 1.0), {}, SustainedFor(0.05), "resumed", {"started": 5})["started"] == 5
