"""CdcLatencyTrigger with the polling functions faked: it logs the latency and its trend at every poll, and fails
early, with the reason, when the latency rises instead of draining. Pure: no AWS."""

from __future__ import annotations

import logging

import pytest

from cdc_runbooks.triggers import dms as dms_triggers
from cdc_runbooks.triggers.base import run_inline
from cdc_runbooks.triggers.dms import CdcLatencyTrigger


@pytest.fixture
def latencies(monkeypatch):
    """Feed the trigger these worst latencies, one per poll (then the last one again)."""
    fed: list[float] = []

    def latest_latency(conn_id, dimensions, period, region_name=None):
        return (fed.pop(0) if len(fed) > 1 else fed[0]), 0.0

    monkeypatch.setattr(dms_triggers, "latest_latency", latest_latency)
    return fed


def _trigger(**kwargs) -> CdcLatencyTrigger:
    return CdcLatencyTrigger(aws_conn_id="aws_default", dimensions=[], metric_period_s=1, max_latency_s=5,
                             sustain_s=0, timeout_s=600, waiter_delay=0.01, what="drain", **kwargs)


def test_a_latency_rising_at_every_poll_fails_early_saying_why(latencies, caplog):
    latencies += [10.0 * n for n in range(1, 100)]
    trigger = _trigger(give_up_rising_s=0.005)
    trigger._log = logging.getLogger("cdc_latency_trigger_test")
    caplog.set_level(logging.INFO, logger="cdc_latency_trigger_test")

    event = run_inline(trigger)

    assert event["status"] == "error"
    assert event["message"].startswith("CDC cannot drain: its latency rose at every poll for 0.005 s (latest "
                                       "CDCLatencySource 20.0 s")
    assert "Changes arrive faster than DMS applies them" in event["message"]
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Waiting for CDC to drain: ")]
    assert progress[:2] == ["Waiting for CDC to drain: latest CDCLatencySource 10.0 s, CDCLatencyTarget 0.0 s; "
                            "need <= 5 s for 0 s", progress[1]]
    assert "; worst +10.0 s in 0 s" in progress[1]


def test_a_latency_that_drains_is_waited_for(latencies):
    latencies += [30.0, 20.0, 20.0, 10.0, 4.0]

    event = run_inline(_trigger(give_up_rising_s=0.005))

    assert event["status"] == "success" and "CDCLatencySource 4.0 s" in event["message"]


def test_give_up_rising_s_survives_serialisation():
    _, kwargs = _trigger(give_up_rising_s=300).serialize()
    assert CdcLatencyTrigger(**kwargs).give_up_rising_s == 300
