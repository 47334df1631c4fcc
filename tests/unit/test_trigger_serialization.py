"""Every trigger survives the triggerer's round trip: serialize → import the class path → construct from the kwargs
→ serialize again, equal; the kwargs are JSON values. Every subclass of the base is found (a new trigger is
covered without being listed here); each is built from its own constructor's arguments. Pure: no AWS."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil

import pytest

import cdc_runbooks.triggers
from cdc_runbooks.triggers.base import AwsPollingTrigger

# A JSON value for each constructor argument, by name (every argument of every trigger must be here).
VALUES = {
    "aws_conn_id": "aws_default", "region_name": "eu-west-1", "waiter_delay": 2.5, "waiter_max_attempts": 7,
    "task_arn": "arn:aws:dms:us-east-1:123456789012:task:prod-to-warehouse", "wanted": "stopped",
    "failing": ["failed", "running"], "dimensions": [{"Name": "ReplicationTaskIdentifier", "Value": "T"}],
    "metric_period_s": 60, "max_latency_s": 5.0, "sustain_s": 60.0, "timeout_s": 900.0, "what": "drain",
    "give_up_rising_s": 300.0, "deployment_identifier": "bgd-abc123", "green_writer": "prod-green-writer",
    "since": "2026-11-27T03:00:00+00:00", "event_timeout_s": 300.0, "max_clock_skew_s": 60.0,
    "exports": {"shop": "shop-20261127-1"}, "conn_ids": {"shop": "aws_other_account"},
}


def _all_triggers() -> list[type[AwsPollingTrigger]]:
    for module in pkgutil.iter_modules(cdc_runbooks.triggers.__path__):
        importlib.import_module(f"cdc_runbooks.triggers.{module.name}")
    found, pending = [], [AwsPollingTrigger]
    while pending:
        for subclass in pending.pop().__subclasses__():
            found.append(subclass)
            pending.append(subclass)
    return found


TRIGGERS = _all_triggers()


def _arguments(trigger_class: type[AwsPollingTrigger]) -> set[str]:
    names = set()
    for klass in trigger_class.__mro__[:trigger_class.__mro__.index(AwsPollingTrigger) + 1]:
        if "__init__" in vars(klass):
            names |= {p.name for p in inspect.signature(vars(klass)["__init__"]).parameters.values()
                      if p.kind is p.KEYWORD_ONLY}
    return names


def test_every_trigger_module_defines_triggers_on_the_base():
    assert {t.__name__ for t in TRIGGERS} >= {"DmsTaskStatusTrigger", "CdcLatencyTrigger",
                                              "BlueGreenSwitchoverTrigger", "BlueGreenCoordinatesTrigger",
                                              "ExportTasksTrigger"}


@pytest.mark.parametrize("trigger_class", TRIGGERS, ids=lambda t: t.__name__)
def test_serialize_round_trips_through_the_class_path(trigger_class):
    arguments = _arguments(trigger_class)
    assert arguments <= VALUES.keys(), f"give VALUES a JSON value for {sorted(arguments - VALUES.keys())}"
    given = {name: VALUES[name] for name in arguments}

    path, kwargs = trigger_class(**given).serialize()

    assert kwargs == given  # every argument, under its own name, and nothing else
    assert json.loads(json.dumps(kwargs)) == kwargs
    module, name = path.rsplit(".", 1)
    rebuilt = getattr(importlib.import_module(module), name)
    assert rebuilt is trigger_class
    assert rebuilt(**json.loads(json.dumps(kwargs))).serialize() == (path, kwargs)
