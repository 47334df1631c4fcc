"""RDS and DMS events, delivered as AWS delivers them: EventBridge rule -> SQS queue.

moto's EventBridge matches rules and delivers to SQS, but moto's RDS and DMS publish no events to it (see
docs/reference/events-into-airflow.md §5). The estate's controllers publish here instead, with the envelope
and detail shapes of https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-rds.html and
https://docs.aws.amazon.com/dms/latest/userguide/CHAP_EventBridge.html (PutEvents with ``aws.*`` sources,
which moto accepts), through the rules the runbooks document (:func:`cdc_runbooks.cdc_event.event_patterns`)
into the environment's queue. moto's envelope has no ``account`` (the runbooks do not need it); moto delivers
through a disabled rule too, so the estate never creates one. ``published`` keeps every event for the tests.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from cdc_runbooks.cdc_event import WatchedPipeline, event_patterns

QUEUE_NAME = "cdc-runbooks-events"
DEAD_LETTERS = "cdc-runbooks-events-dlq"
MAX_RECEIVES = 10  # a message no watcher stores after this many receives moves to the dead-letter queue


@dataclass
class RdsEvent:
    """Duck-typed like moto's Event so DescribeEvents serialises it."""

    source_identifier: str
    source_type: str
    message: str
    event_categories: list[str]
    source_arn: str
    date: datetime


class EventPublisher:
    def __init__(self, aws, account_id: str, region: str) -> None:
        self._aws = aws
        self._account_id = account_id
        self._region = region
        self._lock = threading.Lock()
        self.published: list[dict] = []
        self.queue_url: str | None = None

    def install(self, watched: list[WatchedPipeline]) -> None:
        """The queue (with its dead-letter queue), its policy for EventBridge, and the rules targeting it."""
        sqs, events = self._aws.client("sqs"), self._aws.client("events")
        dead_letters = sqs.create_queue(QueueName=DEAD_LETTERS)["QueueUrl"]
        redrive = {"deadLetterTargetArn": _arn(sqs, dead_letters), "maxReceiveCount": str(MAX_RECEIVES)}
        self.queue_url = sqs.create_queue(QueueName=QUEUE_NAME, Attributes={
            "VisibilityTimeout": "60", "RedrivePolicy": json.dumps(redrive)})["QueueUrl"]
        queue_arn = _arn(sqs, self.queue_url)
        rule_arns = []
        for name, pattern in event_patterns(watched).items():
            rule_arns.append(events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")["RuleArn"])
            events.put_targets(Rule=name, Targets=[{"Id": "cdc-runbooks-queue", "Arn": queue_arn}])
        sqs.set_queue_attributes(QueueUrl=self.queue_url, Attributes={"Policy": json.dumps(queue_policy(
            queue_arn, rule_arns))})

    def rds(self, detail_type: str, event_id: str, source_identifier: str, source_arn: str, message: str,
            categories: list[str], source_type: str) -> dict:
        """One RDS event (``RDS DB Cluster Event``, ``RDS Blue Green Deployment Event``, ...)."""
        return self._put("aws.rds", detail_type, [source_arn], {
            "EventCategories": categories, "SourceType": source_type, "SourceArn": source_arn,
            "Date": _now(), "Message": message, "SourceIdentifier": source_identifier, "EventID": event_id,
            "Tags": {}})

    def dms_task(self, task_arn: str, event_id: str, event_type: str, category: str, message: str) -> dict:
        """One ``DMS Replication Task State Change``."""
        name = task_arn.rsplit(":", 1)[-1]
        return self._put("aws.dms", "DMS Replication Task State Change", [task_arn], {
            "type": "ReplicationTask", "category": category, "eventType": event_type, "eventId": event_id,
            "resourceLink": f"https://console.aws.amazon.com/dms/v2/home?region={self._region}#taskDetails/{name}",
            "detailMessage": message})

    def _put(self, source: str, detail_type: str, resources: list[str], detail: dict) -> dict:
        """PutEvents on moto's backend in this process (a controller may be inside a moto request already)."""
        entry = {"Source": source, "DetailType": detail_type, "Resources": resources, "Detail": json.dumps(detail)}
        with self._lock:
            (result,) = self._aws.backend("events").put_events([entry])
            self.published.append({"id": result["EventId"], "detail-type": detail_type, "source": source,
                                   "detail": detail, "resources": resources, "at": datetime.now(UTC)})
            return self.published[-1]

    def take(self, wanted: int, timeout: float = 20) -> list[str]:
        """Receive and delete the queue's messages, as a watcher would, until ``wanted`` are taken (or ``timeout``
        s have passed); their bodies (for tests that play the watcher)."""
        sqs, bodies, deadline = self._aws.client("sqs"), [], time.monotonic() + timeout
        while len(bodies) < wanted and time.monotonic() < deadline:
            for message in sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                               WaitTimeSeconds=1).get("Messages", []):
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                bodies.append(message["Body"])
        return bodies

    def queued(self) -> dict[str, int]:
        """What is in the queue now, visible or not (for tests; receives nothing)."""
        sqs = self._aws.client("sqs")
        attributes = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["All"])["Attributes"]
        return {"visible": int(attributes["ApproximateNumberOfMessages"]),
                "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"])}


def queue_policy(queue_arn: str, rule_arns: list[str]) -> dict:
    """The queue's resource policy: only these rules' EventBridge deliveries may send
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions)."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "EventBridgeRulesOfCdcRunbooks", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}}}]}


def _arn(sqs, queue_url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
