"""The switchover fact (asset event extra) and the summary of the CDC hand-over it leads to. Pure."""

from __future__ import annotations

from datetime import datetime

from cdc_runbooks import identifiers
from cdc_runbooks.assets import EVENT_KEYS
from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.refusal import Refusal


class InvalidSwitchoverFact(Refusal, ValueError):
    """The asset event does not carry what the data platform needs to resume CDC."""


def validate_fact(extra: dict, pipeline: str) -> dict:
    """The fact's keys (:data:`EVENT_KEYS`, nothing else), checked before anything acts on them: refuse a fact
    without every key, for another pipeline than ``pipeline``, or with a malformed deployment, position, pause time,
    flag or name."""
    missing = [key for key in EVENT_KEYS if key not in (extra or {})]
    if missing:
        raise InvalidSwitchoverFact(f"switchover event lacks {missing}: {extra!r}"[:500])
    identifiers.table_name(extra["pipeline"], "pipeline")
    if extra["pipeline"] != pipeline:
        raise InvalidSwitchoverFact(f"the switchover fact is for pipeline {extra['pipeline']!r}, not {pipeline!r}: "
                                    "refusing to resume this pipeline's CDC from another pipeline's positions")
    identifiers.deployment_identifier(extra["deployment"], "deployment")
    BinlogPosition.parse(extra["checkpoint"], "checkpoint")
    BinlogPosition.parse(extra["position"], "position")
    identifiers.iso_datetime(extra["paused_at"], "paused_at")
    if not isinstance(flag := extra["needs_reconciliation_attention"], bool):
        raise InvalidSwitchoverFact(f"needs_reconciliation_attention: {identifiers.shown(flag)} is not true or false")
    for key in ("position_source", "product_run_id"):
        if not isinstance(extra[key], str) or not 0 < len(extra[key]) <= 250:
            raise InvalidSwitchoverFact(f"{key}: {identifiers.shown(extra[key])} is not a name of 1-250 characters")
    return {key: extra[key] for key in EVENT_KEYS}


def summary(fact: dict, drained: dict, restarted: dict, counts: dict) -> dict:
    """What the on-call engineer reads first: positions, CDC gap, drift."""
    gap = (datetime.fromisoformat(restarted["running_since"]) - datetime.fromisoformat(fact["paused_at"]))
    return {"blue_checkpoint": fact["checkpoint"], "old_blue_end": drained["old_blue_end"],
            "new_position": fact["position"], "position_source": fact["position_source"],
            "needs_reconciliation_attention": fact["needs_reconciliation_attention"],
            "cdc_stopped_at": fact["paused_at"], "cdc_running_at": restarted["running_since"],
            "cdc_gap_s": round(gap.total_seconds(), 3), "drift": counts["drift"], "tables": counts["tables"]}
