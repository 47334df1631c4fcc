"""Claim the events a run was started by (``claim_events``): each event recovers each pipeline once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

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
    and EventBridge deliver at least once) is a duplicate: named, not acted on; an asset event that is not the
    trigger's, of another kind, or about another cluster or task (posted through the REST API) is ignored and
    named. A run whose events are all duplicates or ignored skips itself and its steps (``record_run`` records
    it); a retry of this step adopts its own claims. A run triggered by hand has no events and goes on: a person
    decided.

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
        payloads = [(assets[asset.name], event.extra.get("payload"))
                    for asset, events in context["triggering_asset_events"].items() if asset.name in assets
                    for event in events]
        result = {"events": [], "duplicates": [], "ignored": [], "manual": not payloads}
        me = {"dag_id": dag_run.dag_id, "run_id": dag_run.run_id, "claimed_at": datetime.now(UTC).isoformat()}
        for kind, payload in payloads:
            try:
                event = CdcEvent.from_payload(payload)
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
        if payloads and not result["events"]:
            context["ti"].xcom_push(key="return_value", value=result)
            raise AirflowSkipException(f"nothing to do: {_described(result)}")
        return result


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
