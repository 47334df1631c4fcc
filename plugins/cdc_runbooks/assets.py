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


def cdc_event_name(pipeline: str, kind: EventKind) -> str:
    """The name of the asset whose events say ``kind`` happened to ``pipeline``."""
    return f"cdc_event.{pipeline}.{kind.value}"


def cdc_event(pipeline: Pipeline, kind: EventKind, pipelines: list[Pipeline]) -> Asset:
    """The asset whose events say ``kind`` happened to the pipeline (RDS/DMS events through its event queue,
    :mod:`cdc_runbooks.triggers.cdc_events`); watched by the triggerer when the pipeline has an event queue.
    ``pipelines``: all of them (those on the same queue and cluster or task are the watcher's siblings)."""
    name = cdc_event_name(pipeline.name, kind)
    if pipeline.events_queue_url is None:
        return Asset(name=name, group="cdc-runbooks")
    def sibling(other: Pipeline) -> bool:
        same_queue = (other.events_queue_url, other.aws_conn_id) == (pipeline.events_queue_url, pipeline.aws_conn_id)
        return same_queue and (other.source_cluster.lower() == pipeline.source_cluster.lower()
                               or other.dms_task_arn == pipeline.dms_task_arn)

    siblings = [[p.name, p.source_cluster, p.dms_task_arn] for p in pipelines if sibling(p)]
    trigger = CdcEventTrigger(queue_url=pipeline.events_queue_url, pipeline=pipeline.name, kind=kind.value,
                              siblings=sorted(siblings), aws_conn_id=pipeline.aws_conn_id)
    return Asset(name=name, group="cdc-runbooks", watchers=[AssetWatcher(name=f"{name}.sqs", trigger=trigger)])
