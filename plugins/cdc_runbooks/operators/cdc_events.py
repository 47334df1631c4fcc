"""Claim the events a run was started by (``claim_events``): each event recovers each pipeline once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowSkipException

from cdc_runbooks.assets import cdc_event_name
from cdc_runbooks.aws.records import claim_once
from cdc_runbooks.cdc_event import CdcEvent, EventKind, IgnoredEvent
from cdc_runbooks.step import PipelineStepOperator, records_failure


class ClaimEventsOperator(PipelineStepOperator):
    """The events this run acts on: the asset events of the pipeline's ``cdc_event.<pipeline>.<kind>`` assets that
    started the run (several when they arrived while another run was going on), each claimed for the pipeline in
    its records bucket (``events/<pipeline>/<kind>/<event id>.json``, PutObject ``IfNoneMatch='*'``:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html). An event claimed already (SQS
    and EventBridge deliver at least once) is a duplicate: named, not acted on; an asset event that the watcher did
    not make (posted through the REST API: ``extra`` ``from_rest_api``), not as the trigger makes it, of another
    kind than its asset, or about another cluster or task is ignored and named. A run started by events (any run
    not triggered by hand) with no new event left skips itself and its steps (``record_run`` records it); a retry
    of this step adopts its own claims. A run triggered by hand (``run_type`` manual) has no events and goes on:
    a person decided.

    XCom: ``{"events": [new events], "duplicates": [{"event_id", "claimed_by"}], "ignored": [why], "manual"}``.

    :param kinds: the event kinds that start the run (``failover``, ``switchover_started``, ``task_failed``): the
        run reads the events of the pipeline's asset of each (:func:`cdc_runbooks.assets.cdc_event_name`).
    """

    template_fields: Sequence[str] = ("pipeline_name", "kinds")

    def __init__(self, *, kinds: Sequence[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.kinds = list(kinds)

    @records_failure
    def execute(self, context) -> dict:
        pipeline, dag_run = self.pipeline, context["dag_run"]
        assets = {cdc_event_name(pipeline.name, EventKind(kind)): EventKind(kind) for kind in self.kinds}
        arrived = [(assets[asset.name], event.extra) for asset, events in context["triggering_asset_events"].items()
                   if isinstance(asset, Asset) and asset.name in assets for event in events]
        manual = dag_run.run_type == "manual"
        result = {"events": [], "duplicates": [], "ignored": [], "manual": manual}
        me = {"dag_id": dag_run.dag_id, "run_id": dag_run.run_id, "claimed_at": datetime.now(UTC).isoformat()}
        for kind, extra in arrived:
            try:
                event = CdcEvent.from_payload(_from_the_watcher(extra))
                if event.kind is not kind:
                    raise IgnoredEvent(f"a {event.kind.value} event, not {kind.value}")
                if not event.concerns(pipeline.source_cluster, pipeline.dms_task_arn):
                    raise IgnoredEvent(f"event {event.event_id} names {event.resource} "
                                       f"({event.account or 'no account'}, {event.region or 'no region'}), not "
                                       f"{pipeline.name}'s cluster or task")
            except IgnoredEvent as why:
                result["ignored"].append(str(why))
                continue
            held = claim_once(pipeline, event.claim_key(pipeline.name), json.dumps(me))
            if held is None or _same_run(held, me):
                result["events"].append(event.to_payload())
            else:
                result["duplicates"].append({"event_id": event.event_id, "claimed_by": held})
        self.log.info("%s", _described(result))
        if not manual and not result["events"]:
            context["ti"].xcom_push(key="return_value", value=result)
            raise AirflowSkipException(f"nothing to do: {_described(result)}")
        return result


def _from_the_watcher(extra: object) -> object:
    """The payload of an asset event the triggerer made from a trigger event (``extra`` ``from_trigger``); an
    event posted through the REST API (marked ``from_rest_api``, whatever else its ``extra`` says) is ignored."""
    if not isinstance(extra, dict) or extra.get("from_trigger") is not True or "from_rest_api" in extra:
        raise IgnoredEvent("not made by the event watcher (an asset event posted through the REST API or by a "
                           "task): never acted on")
    return extra.get("payload")


def _same_run(held: str, me: dict) -> bool:
    try:
        claimant = json.loads(held)
    except ValueError:
        return False
    return isinstance(claimant, dict) and (claimant.get("dag_id"), claimant.get("run_id")) == (me["dag_id"],
                                                                                               me["run_id"])


def _described(result: dict) -> str:
    if result["manual"]:
        return "triggered by hand: no event to claim"
    parts = [f"{len(result['events'])} new event(s): " + ", ".join(
        f"{e['code']} {e['event_id']} at {e['time']} ({e['message']})" for e in result["events"])]
    parts += [f"duplicate {d['event_id']} (claimed by {d['claimed_by']})" for d in result["duplicates"]]
    parts += [f"ignored: {why}" for why in result["ignored"]]
    return "; ".join(parts)
