"""The AWS events that break CDC, read from the EventBridge envelope SQS delivers: what happened, to what.

EventBridge delivers RDS and DMS events (best effort: late, duplicated, out of order, or not at all) to the
pipelines' SQS queue, one envelope per message
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html). The runbooks treat an event
as a prompt to look, never as the truth: a recovery reads the writer, the DMS task and the binlog from the APIs
itself, so a stale, replayed or reordered event can start at most a run that finds nothing to do. What an event
must get right is only *which* pipeline it concerns and *what kind* of recovery it asks for, and an event that
cannot say both exactly is ignored (and logged), never guessed at:

- ``failover``: RDS-EVENT-0071, "Completed failover to DB instance", of the pipeline's cluster (``RDS DB Cluster
  Event``, SourceIdentifier = the cluster). The failover's start (0072/0073), a failed failover (0069) and a
  return to the previous primary (0070) start nothing: CDC notices those through the DMS task.
- ``switchover_started``: RDS-EVENT-0259, "Switchover from DB cluster *blue* to *green* started" (``RDS Blue
  Green Deployment Event`` of the pipeline's cluster).
- ``task_failed``: ``DMS Replication Task State Change`` of the pipeline's task ARN (``resources``) with
  DMS-EVENT-0078 (task failed), read from ``detail.eventId`` or ``detail.eventName`` (AWS's sample and the field
  disagree) or ``eventType`` ``REPLICATION_TASK_FAILED``.

Event ids: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_Events.Messages.html,
https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Events.html; the envelope's ``id`` names one event and
is the same on every copy of it, so it is what a recovery claims (a duplicate never recovers twice).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum

from cdc_runbooks import identifiers

MAX_BODY_CHARS = 262_144  # SQS's largest message (256 KiB); anything longer did not come from EventBridge
MAX_MESSAGE_CHARS = 1_000  # what the run record keeps of the event's message


class EventKind(StrEnum):
    FAILOVER = "failover"
    SWITCHOVER_STARTED = "switchover_started"
    TASK_FAILED = "task_failed"


KIND_CODES = {EventKind.FAILOVER: "RDS-EVENT-0071", EventKind.SWITCHOVER_STARTED: "RDS-EVENT-0259",
              EventKind.TASK_FAILED: "DMS-EVENT-0078"}
RDS_CODES = {code: kind for kind, code in KIND_CODES.items() if code.startswith("RDS-")}
RDS_DETAIL_TYPES = {EventKind.FAILOVER: "RDS DB Cluster Event",
                    EventKind.SWITCHOVER_STARTED: "RDS Blue Green Deployment Event"}
DMS_DETAIL_TYPE = "DMS Replication Task State Change"
DMS_TASK_FAILED = KIND_CODES[EventKind.TASK_FAILED]
DMS_FAILED_TYPE = "REPLICATION_TASK_FAILED"
_EVENT_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d")
# RDS-EVENT-0259's message: "Switchover from DB cluster <blue> to <green> started."
_SWITCHOVER_FROM = re.compile(r"Switchover from DB cluster (?P<blue>\S+) to \S+ started")


class IgnoredEvent(ValueError):
    """A message that is not an event a runbook acts on; ``str()`` says why (logged, never raised to a run)."""


@dataclass(frozen=True)
class CdcEvent:
    """One event a runbook acts on: the envelope's id, kind, the resource it names (an RDS cluster identifier,
    lower case as RDS stores it, or a DMS task ARN), its account and region when the envelope has them, when it
    happened, and what it says."""

    event_id: str
    kind: EventKind
    code: str
    resource: str
    time: str
    message: str
    account: str | None = None
    region: str | None = None

    def concerns(self, cluster: str, task_arn: str) -> bool:
        """Whether this event is about the pipeline with this source cluster and DMS task. An RDS event names a
        cluster only within an account and region: when the envelope carries them they must be the DMS task's
        (the runbooks' clusters and tasks live together), so another account's cluster of the same name is not
        the pipeline's."""
        if self.kind is EventKind.TASK_FAILED:
            return self.resource == task_arn
        _, _, _, region, account = task_arn.split(":")[:5]
        elsewhere = any(theirs is not None and theirs != mine
                        for theirs, mine in ((self.account, account), (self.region, region)))
        return not elsewhere and self.resource == cluster.lower()

    def to_payload(self) -> dict:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: object) -> CdcEvent:
        """The event an asset event carries; IgnoredEvent unless it is exactly what the trigger makes (an asset
        event can also be posted through Airflow's REST API, with any ``extra``)."""
        names = ("event_id", "kind", "code", "resource", "time", "message", "account", "region")
        if not isinstance(payload, dict) or not set(names) <= set(payload):
            raise IgnoredEvent(f"not an event of the runbooks' trigger: {identifiers.shown(payload)}")
        values = {name: payload[name] for name in names}
        if not all(isinstance(values[n], str) for n in names[:6]) or not all(
                values[n] is None or isinstance(values[n], str) for n in names[6:]):
            raise IgnoredEvent(f"an event field is not text: {identifiers.shown(payload)}")
        if not _EVENT_ID.fullmatch(values["event_id"]) or values["kind"] not in set(EventKind):
            raise IgnoredEvent(f"not an event of the runbooks' trigger: {identifiers.shown(payload)}")
        event = cls(**{**values, "kind": EventKind(values["kind"])})
        if not event._as_read():
            raise IgnoredEvent(f"not an event as the runbooks' trigger reads one: {identifiers.shown(payload)}")
        return event

    def _as_read(self) -> bool:
        """Whether every field is as :func:`read_event` leaves it."""
        try:
            moment = datetime.fromisoformat(self.time)
            identifiers.arn("dms-task", self.resource, "resource") if self.kind is EventKind.TASK_FAILED else \
                identifiers.cluster_identifier(self.resource, "resource")
        except ValueError:
            return False
        return (self.code == KIND_CODES[self.kind] and len(self.message) <= MAX_MESSAGE_CHARS
                and moment.tzinfo is not None and (self.kind is EventKind.TASK_FAILED or self.resource.islower())
                and all(value is None or pattern.fullmatch(value)
                        for value, pattern in ((self.account, _ACCOUNT), (self.region, _REGION))))

    def claim_key(self, pipeline: str) -> str:
        """Where a run claims this event for ``pipeline`` (records bucket): one failover fires for every pipeline of
        its cluster, each recovers once."""
        return f"events/{pipeline}/{self.kind.value}/{self.event_id}.json"


def read_event(body: str) -> CdcEvent:
    """The event in one SQS message body; IgnoredEvent for anything else (not JSON, not an EventBridge envelope,
    another service or kind, fields of the wrong type or out of range) and never another exception."""
    if not isinstance(body, str) or len(body) > MAX_BODY_CHARS:
        raise IgnoredEvent("not an EventBridge message (no body, or longer than SQS allows)")
    try:
        return _read(body)
    except (ValueError, TypeError, RecursionError, OverflowError) as error:
        if isinstance(error, IgnoredEvent):
            raise
        raise IgnoredEvent(f"malformed ({type(error).__name__}: {identifiers.shown(str(error))})") from None


def _read(body: str) -> CdcEvent:
    envelope = json.loads(body)
    if not isinstance(envelope, dict) or not isinstance(envelope.get("detail"), dict):
        raise IgnoredEvent("not an EventBridge envelope (no detail object)")
    event_id = _text(envelope, "id")
    if not _EVENT_ID.fullmatch(event_id):
        raise IgnoredEvent(f"the envelope's id {identifiers.shown(event_id)} is not an event id")
    source = envelope.get("source")
    kind, code, resource, message = (_rds if source == "aws.rds" else _dms if source == "aws.dms" else _other)(
        envelope)
    return CdcEvent(event_id=event_id, kind=kind, code=code, resource=resource, time=_time(envelope),
                    message=message[:MAX_MESSAGE_CHARS], account=_optional(envelope, "account", _ACCOUNT),
                    region=_optional(envelope, "region", _REGION))


def _rds(envelope: dict) -> tuple[EventKind, str, str, str]:
    detail = envelope["detail"]
    code = _text(detail, "EventID")
    kind = RDS_CODES.get(code)
    if kind is None:
        raise IgnoredEvent(f"RDS event {identifiers.shown(code)} starts no runbook")
    if envelope.get("detail-type") != RDS_DETAIL_TYPES[kind]:
        raise IgnoredEvent(f"{code} in a {identifiers.shown(envelope.get('detail-type'))} envelope, not "
                           f"{RDS_DETAIL_TYPES[kind]!r}")
    message = _text(detail, "Message")
    cluster = _text(detail, "SourceIdentifier")
    if kind is EventKind.SWITCHOVER_STARTED:
        cluster = _blue_cluster(cluster, message)
    try:
        identifiers.cluster_identifier(cluster, "SourceIdentifier")
    except ValueError as error:
        raise IgnoredEvent(str(error)) from None
    return kind, code, cluster.lower(), message


def _blue_cluster(source: str, message: str) -> str:
    """The blue cluster of a switchover event: its source may be the deployment (``bgd-...``; AWS does not say),
    whose message names blue; a source that is a cluster must be the one the message names."""
    named = _SWITCHOVER_FROM.match(message)
    blue = named["blue"] if named else None
    if source.startswith("bgd-"):
        if blue is None:
            raise IgnoredEvent(f"switchover of deployment {identifiers.shown(source)} names no blue cluster")
        return blue
    if blue is not None and blue.lower() != source.lower():
        raise IgnoredEvent(f"switchover event of {identifiers.shown(source)} names another blue cluster "
                           f"{identifiers.shown(blue)}")
    return source


def _dms(envelope: dict) -> tuple[EventKind, str, str, str]:
    if envelope.get("detail-type") != DMS_DETAIL_TYPE:
        raise IgnoredEvent(f"DMS {identifiers.shown(envelope.get('detail-type'))} starts no runbook")
    detail = envelope["detail"]
    if DMS_TASK_FAILED not in (detail.get("eventId"), detail.get("eventName")) and \
            detail.get("eventType") != DMS_FAILED_TYPE:
        raise IgnoredEvent(f"DMS task event {identifiers.shown(detail.get('eventType'))} starts no runbook")
    resources = envelope.get("resources")
    if not isinstance(resources, list) or len(resources) != 1 or not isinstance(resources[0], str):
        raise IgnoredEvent(f"a DMS task event must name exactly one task ARN, not {identifiers.shown(resources)}")
    try:
        identifiers.arn("dms-task", resources[0], "resources")
    except ValueError as error:
        raise IgnoredEvent(str(error)) from None
    return EventKind.TASK_FAILED, DMS_TASK_FAILED, resources[0], _text(detail, "detailMessage")


def _other(envelope: dict):
    raise IgnoredEvent(f"events of {identifiers.shown(envelope.get('source'))} start no runbook")


def _text(mapping: dict, key: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str):
        raise IgnoredEvent(f"{key} is {identifiers.shown(value)}, not a string")
    return value


def _optional(mapping: dict, key: str, pattern: re.Pattern) -> str | None:
    """None when the envelope has no such field (moto's has no ``account``); a field that is there must be
    well-formed, or the event cannot say where it comes from."""
    if key not in mapping:
        return None
    value = mapping[key]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise IgnoredEvent(f"{key} {identifiers.shown(value)} is malformed")
    return value


def _time(envelope: dict) -> str:
    """The envelope's time as ISO 8601 UTC; kept for the record only (a skewed clock must not change a decision,
    so nothing decides by it)."""
    try:
        moment = datetime.fromisoformat(_text(envelope, "time").replace("Z", "+00:00"))
    except ValueError:
        raise IgnoredEvent(f"time {identifiers.shown(envelope.get('time'))} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise IgnoredEvent(f"time {identifiers.shown(envelope.get('time'))} has no time zone")
    return moment.astimezone(UTC).isoformat()


def event_patterns(watched: list[WatchedPipeline]) -> dict[str, dict]:
    """The EventBridge rules that route these events of the watched pipelines (and no others) to their queue
    (name -> EventPattern); the runbooks still check every field themselves. RDS stores cluster identifiers in
    lower case, and a switchover event's source may be its deployment, so it also matches by its message."""
    clusters = sorted({p.cluster.lower() for p in watched})
    switchover = [{"prefix": f"Switchover from DB cluster {cluster} to "} for cluster in clusters]
    return {
        "cdc-runbooks-failover": {
            "source": ["aws.rds"], "detail-type": [RDS_DETAIL_TYPES[EventKind.FAILOVER]],
            "detail": {"EventID": [KIND_CODES[EventKind.FAILOVER]], "SourceIdentifier": clusters}},
        "cdc-runbooks-switchover": {
            "source": ["aws.rds"], "detail-type": [RDS_DETAIL_TYPES[EventKind.SWITCHOVER_STARTED]],
            "detail": {"EventID": [KIND_CODES[EventKind.SWITCHOVER_STARTED]],
                       "$or": [{"SourceIdentifier": clusters}, {"Message": switchover}]}},
        "cdc-runbooks-dms": {
            "source": ["aws.dms"], "detail-type": [DMS_DETAIL_TYPE], "resources": sorted({p.task_arn for p in watched}),
            "detail": {"$or": [{"eventId": [DMS_TASK_FAILED]}, {"eventName": [DMS_TASK_FAILED]},
                               {"eventType": [DMS_FAILED_TYPE]}]}},
    }


@dataclass(frozen=True)
class WatchedPipeline:
    """A pipeline as the watcher of its queue sees it: what its events name."""

    pipeline: str
    cluster: str
    task_arn: str


def pipelines_concerned(event: CdcEvent, watched: list[WatchedPipeline]) -> list[str]:
    """The pipelines (of those watched) this event concerns, sorted; two pipelines streaming one cluster both
    recover from its failover."""
    return sorted({p.pipeline for p in watched if event.concerns(p.cluster, p.task_arn)})
