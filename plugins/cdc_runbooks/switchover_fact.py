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
    """Refuse a fact without every key, for another pipeline than ``pipeline``, or with a malformed deployment or
    position."""
    missing = [key for key in EVENT_KEYS if key not in (extra or {})]
    if missing:
        raise InvalidSwitchoverFact(f"switchover event lacks {missing}: {extra!r}"[:500])
    identifiers.table_name(extra["pipeline"], "pipeline")
    if extra["pipeline"] != pipeline:
        raise InvalidSwitchoverFact(f"the switchover fact is for pipeline {extra['pipeline']!r}, not {pipeline!r}: "
                                    "refusing to resume this pipeline's CDC from another pipeline's positions")
    identifiers.deployment_identifier(extra["deployment"], "deployment")
    BinlogPosition.parse(extra["checkpoint"])
    BinlogPosition.parse(extra["position"])
    return dict(extra)


def summary(fact: dict, drained: dict, restarted: dict, counts: dict) -> dict:
    """What the on-call engineer reads first: positions, CDC gap, drift."""
    gap = (datetime.fromisoformat(restarted["running_since"]) - datetime.fromisoformat(fact["paused_at"]))
    return {"blue_checkpoint": fact["checkpoint"], "old_blue_end": drained["old_blue_end"],
            "new_position": fact["position"], "position_source": fact["position_source"],
            "needs_reconciliation_attention": fact["needs_reconciliation_attention"],
            "cdc_stopped_at": fact["paused_at"], "cdc_running_at": restarted["running_since"],
            "cdc_gap_s": round(gap.total_seconds(), 3), "drift": counts["drift"], "tables": counts["tables"]}
