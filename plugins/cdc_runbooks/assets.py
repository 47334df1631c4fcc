"""The Assets that join the product platform's switchover runbook to the data platform's CDC resume.

The product platform publishes a fact, "production of pipeline P switched over; CDC resumes at these
coordinates", as an event of P's own asset (added through one alias, so the producing task declares a
single outlet whatever the pipeline). Each pipeline's resume DAG is scheduled on its pipeline's asset:
switchovers of two pipelines at once become two independent resume runs, never one run that would see
only the newest fact. The data platform depends on the product platform's fact, not the reverse (the
seed talk's point about the direction of dependencies). The fact itself is
:class:`cdc_runbooks.switchover_fact.SwitchoverFact`.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

SWITCHOVER_COMPLETED = AssetAlias(name="aurora_blue_green_switchover_completed", group="cdc-runbooks")

def switchover_completed(pipeline: str) -> Asset:
    """The asset whose events say that pipeline's production switched over."""
    return Asset(name=f"aurora_blue_green_switchover_completed.{pipeline}", group="cdc-runbooks")
