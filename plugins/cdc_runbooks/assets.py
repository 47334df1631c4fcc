"""The Assets that start the data platform's runbooks: the product platform's switchover fact, and the AWS events
that break CDC.

The product platform publishes a fact, "production of pipeline P switched over; CDC resumes at these
coordinates", as an event of P's own asset (added through one alias, so the producing task declares a
single outlet whatever the pipeline). Each pipeline's resume DAG is scheduled on its pipeline's asset:
switchovers of two pipelines at once become two independent resume runs, never one run that would see
only the newest fact. The data platform depends on the product platform's fact, not the reverse (the
seed talk's point about the direction of dependencies). The fact itself is
:class:`cdc_runbooks.switchover_fact.SwitchoverFact`.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias, AssetWatcher

from cdc_runbooks.cdc_event import EventKind
from cdc_runbooks.pipelines import Pipeline
from cdc_runbooks.triggers.cdc_events import CdcEventTrigger

SWITCHOVER_COMPLETED = AssetAlias(name="aurora_blue_green_switchover_completed", group="cdc-runbooks")

def switchover_completed(pipeline: str) -> Asset:
    """The asset whose events say that pipeline's production switched over."""
    return Asset(name=f"aurora_blue_green_switchover_completed.{pipeline}", group="cdc-runbooks")


def cdc_event(pipeline: Pipeline, kind: EventKind, watched: list[Pipeline]) -> Asset:
    """The asset whose events say ``kind`` happened to the pipeline (RDS/DMS events through its event queue,
    :mod:`cdc_runbooks.triggers.cdc_events`); watched by the triggerer when the pipeline has an event queue.
    ``watched``: every pipeline (those on the same queue route its messages)."""
    name = f"cdc_event.{pipeline.name}.{kind.value}"
    if pipeline.events_queue_url is None:
        return Asset(name=name, group="cdc-runbooks")
    same_queue = [[p.name, p.source_cluster, p.dms_task_arn] for p in watched
                  if p.events_queue_url == pipeline.events_queue_url]
    trigger = CdcEventTrigger(queue_url=pipeline.events_queue_url, pipeline=pipeline.name, kind=kind.value,
                              watched=sorted(same_queue), aws_conn_id=pipeline.aws_conn_id,
                              region_name=pipeline.events_queue_url.split(".")[1] if pipeline.events_queue_url
                              .startswith("https://") else None)
    return Asset(name=name, group="cdc-runbooks", watchers=[AssetWatcher(name=f"{name}.sqs", trigger=trigger)])
