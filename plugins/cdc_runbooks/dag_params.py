"""Params and defaults shared by the runbook DAGs, validated by Airflow at trigger time."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import ExceptionRetryPolicy, Param, RetryAction, RetryRule

from cdc_runbooks.binlog_position import MAX_LENGTH, PARAM_PATTERN
from cdc_runbooks.identifiers import DEPLOYMENT_PATTERN
from cdc_runbooks.pipelines import load_pipelines
from cdc_runbooks.refusal import Refusal


def runbook_dag_args(dag_id: str, owner: str, **kwargs) -> dict:
    """What every runbook DAG shares: one run at a time, no catch-up, native rendering of templated params,
    and the owner's default_args. ``kwargs`` add or override (every DAG passes its runbook page as doc_md)."""
    return {"dag_id": dag_id, "schedule": None, "start_date": datetime(2026, 1, 1),
            "catchup": False, "max_active_runs": 1, "render_template_as_native_obj": True,
            "default_args": default_args(owner), **kwargs}


def one_run_per_pipeline() -> dict:
    """DAG kwargs of a runbook that starts with ``claim_pipeline``: runs for different pipelines go on at once;
    a second run for the same pipeline refuses at its claim (the lock, not max_active_runs, is the guard)."""
    return {"max_active_runs": len(load_pipelines())}


def default_args(owner: str) -> dict:
    """One retry for transient errors (each step checks state first, so a retry adopts what was done);
    a refusal (bad input, wrong state, failed check) fails at once, as retrying cannot change it."""
    return {"owner": owner, "retries": 1, "retry_delay": timedelta(seconds=30),
            "retry_policy": ExceptionRetryPolicy(rules=[RetryRule(
                exception=Refusal, action=RetryAction.FAIL, reason="a refusal: change the input or the state")])}


def pipeline_param() -> Param:
    names = sorted(load_pipelines())
    return Param(names[0], enum=names, title="Pipeline",
                 description="CDC pipeline: one of the names in config/pipelines.yaml (pick from the list)")


def dry_run_param(default: bool) -> Param:
    return Param(default, type="boolean", title="Dry run",
                 description="On: check everything and log the exact calls, change nothing. Off: make the change.")


def position_param() -> Param:
    return Param(None, type=["null", "string"], pattern=PARAM_PATTERN, maxLength=MAX_LENGTH, title="CDC start position",
                 description="Binlog file:position, e.g. mysql-bin-changelog.000123:4567 (file name, a dot, "
                             f"6-10 digits, a colon, the byte offset), or a DMS RecoveryCheckpoint "
                             f"(checkpoint:V1#...); at most {MAX_LENGTH} characters")


def start_time_param() -> Param:
    return Param(None, type=["null", "string"], format="date-time", title="CDC start time",
                 description="Only when explicitly wanted instead of a position: ISO 8601 date-time in UTC, "
                             "e.g. 2026-11-27T17:05:00Z")


def latency_params() -> dict[str, Param]:
    return {
        "max_latency_s": Param(None, type=["null", "number"], minimum=0, maximum=3600, title="Max CDC latency (s)",
                               description="CDC counts as drained/converged at or below this latency, in seconds, "
                                           "0-3600; empty = the pipeline's setting"),
        "sustain_s": Param(None, type=["null", "number"], minimum=0, maximum=3600, title="Sustained for (s)",
                           description="... held for this long, in seconds, 0-3600; empty = the pipeline's setting"),
    }


def deployment_param() -> Param:
    return Param(type="string", pattern=DEPLOYMENT_PATTERN, title="Blue/green deployment",
                 description="RDS BlueGreenDeploymentIdentifier: bgd- followed by 16 lower-case letters or "
                             "digits, e.g. bgd-0123456789abcdef")


def settle_param() -> Param:
    return Param(120, type="number", minimum=0, maximum=3600, title="Settle window (s)",
                 description="How long a difference may take to disappear under live CDC, in seconds, 0-3600; "
                             "longer than the CDC latency")


def coordinates_wait_param(default: int) -> Param:
    return Param(default, type="integer", minimum=0, maximum=3600, title="Wait for coordinates (s)",
                 description="How long to wait for the RDS coordinates event before the fallback (green's binlog), "
                             "in whole seconds, 0-3600")
