"""The switchover fact: the contract between the product platform's switchover run and the data platform's resume
run, and the summary of the CDC hand-over it leads to. Pure.

The product platform publishes it (asset event extra, and the conf of the resume run it triggers); the data
platform checks every value before anything acts on it. One definition for both DAGs: the fields, their
validation, the extra both ways and the summary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime

from cdc_runbooks import identifiers
from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.refusal import Refusal


class InvalidSwitchoverFact(Refusal, ValueError):
    """The asset event does not carry what the data platform needs to resume CDC."""


@dataclass(frozen=True)
class SwitchoverFact:
    """Production of ``pipeline`` switched over with ``deployment``; CDC, paused at ``checkpoint`` on blue at
    ``paused_at`` and then drained on old blue up to its binlog end ``old_blue_end`` (the DMS task's
    RecoveryCheckpoint once drained), resumes at ``position`` on green (found from ``position_source``).

    Constructing one validates it (:class:`InvalidSwitchoverFact`, a refusal, on a malformed value)."""

    pipeline: str
    deployment: str
    checkpoint: str
    old_blue_end: str
    position: str
    position_source: str
    needs_reconciliation_attention: bool
    paused_at: str
    product_run_id: str

    def __post_init__(self) -> None:
        identifiers.table_name(self.pipeline, "pipeline")
        identifiers.deployment_identifier(self.deployment, "deployment")
        BinlogPosition.parse(self.checkpoint, "checkpoint")
        BinlogPosition.parse(self.old_blue_end, "old_blue_end")
        BinlogPosition.parse(self.position, "position")
        identifiers.iso_datetime(self.paused_at, "paused_at")
        if not isinstance(self.needs_reconciliation_attention, bool):
            flag = identifiers.shown(self.needs_reconciliation_attention)
            raise InvalidSwitchoverFact(f"needs_reconciliation_attention: {flag} is not true or false")
        for key in ("position_source", "product_run_id"):
            value = getattr(self, key)
            if not isinstance(value, str) or not 0 < len(value) <= 250:
                raise InvalidSwitchoverFact(f"{key}: {identifiers.shown(value)} is not a name of 1-250 characters")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The extra's keys."""
        return tuple(field.name for field in fields(cls))

    @classmethod
    def from_steps(cls, *, pipeline: str, deployment: str, paused: dict, drained: dict, position: dict,
                   product_run_id: str) -> SwitchoverFact:
        """The fact of a switchover run from what its steps returned: the pause (``pause_dms_task``), the drain of
        old blue (``drain_old_blue``) and the new position (``new_position``)."""
        return cls(pipeline=pipeline, deployment=deployment, checkpoint=paused["recovery_checkpoint"],
                   old_blue_end=drained["drained_to"], paused_at=paused["stopped_at"], position=position["position"],
                   position_source=position["source"],
                   needs_reconciliation_attention=position["needs_reconciliation_attention"],
                   product_run_id=product_run_id)

    @classmethod
    def from_extra(cls, extra: dict, pipeline: str) -> SwitchoverFact:
        """The fact in an asset event's extra (or a run's conf), refused before anything acts on it when a key is
        missing, it is another pipeline's, or a value is malformed; keys beyond the fact are ignored."""
        if not isinstance(extra, dict):
            raise InvalidSwitchoverFact(f"the switchover fact is not an object: {identifiers.shown(extra)}")
        missing = [key for key in cls.field_names() if key not in extra]
        if missing:
            raise InvalidSwitchoverFact(f"switchover event lacks {missing}: {extra!r}"[:500])
        identifiers.table_name(extra["pipeline"], "pipeline")
        if extra["pipeline"] != pipeline:
            raise InvalidSwitchoverFact(f"the switchover fact is for pipeline {extra['pipeline']!r}, not "
                                        f"{pipeline!r}: refusing to resume this pipeline's CDC from another "
                                        "pipeline's positions")
        return cls(**{key: extra[key] for key in cls.field_names()})

    def to_extra(self) -> dict:
        """The asset event's extra (JSON values only)."""
        return asdict(self)

    def summary(self, restarted: dict, counts: dict) -> dict:
        """What the on-call engineer reads first: positions, CDC gap, drift (from the resume run's
        ``restart_cdc`` and ``reconcile`` results)."""
        gap = datetime.fromisoformat(restarted["running_since"]) - datetime.fromisoformat(self.paused_at)
        return {"blue_checkpoint": self.checkpoint, "old_blue_end": self.old_blue_end,
                "new_position": self.position, "position_source": self.position_source,
                "needs_reconciliation_attention": self.needs_reconciliation_attention,
                "cdc_stopped_at": self.paused_at, "cdc_running_at": restarted["running_since"],
                "cdc_gap_s": round(gap.total_seconds(), 3), "drift": counts["drift"], "tables": counts["tables"]}
