"""One run per runbook and pipeline at a time: a lock object in the pipeline's records bucket.

Two runs of one runbook for the same pipeline would interleave their steps (two pauses, two
restarts); the second must refuse instead. Airflow's ``max_active_runs`` cannot say "per pipeline",
so a runbook that changes a pipeline first claims ``s3://<records_bucket>/locks/<dag_id>/<pipeline>.json``
with S3's conditional write (PutObject with ``If-None-Match: *``, which exactly one writer wins:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html). ``record_run``
releases it when the run ends, whatever the outcome. A retried or cleared claim of the same run
adopts its own lock. Pure decisions here; ``aws/records.py`` makes the calls.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from cdc_runbooks.action import Action
from cdc_runbooks.refusal import Refusal


class PipelineBusy(Refusal, RuntimeError):
    """Another run of the same runbook holds the pipeline."""


@dataclass(frozen=True)
class LockHolder:
    dag_id: str
    run_id: str
    pipeline: str
    claimed_at: str

    @property
    def key(self) -> str:
        return lock_key(self.dag_id, self.pipeline)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> LockHolder:
        data = json.loads(text)
        return cls(**{name: str(data.get(name, "?")) for name in ("dag_id", "run_id", "pipeline", "claimed_at")})


def lock_key(dag_id: str, pipeline: str) -> str:
    return f"locks/{dag_id}/{pipeline}.json"


def check_holder(holder: LockHolder, claimant: LockHolder, bucket: str) -> Action:
    """ADOPT a lock this run already holds; refuse one held by another run, saying whose and what to do."""
    if (holder.dag_id, holder.run_id) == (claimant.dag_id, claimant.run_id):
        return Action.ADOPT
    raise PipelineBusy(
        f"pipeline {claimant.pipeline!r} is held by {holder.dag_id} run {holder.run_id!r} since {holder.claimed_at}; "
        f"this run refuses to interleave with it and changed nothing. Wait until that run ends (its record_run "
        f"releases the lock). If that run is gone for good (deleted, never reached record_run), check it in the "
        f"UI, then delete s3://{bucket}/{holder.key} and trigger again.")
