"""CdcEventTrigger and its SQS producer, run by Airflow's own SharedStreamManager (the triggerer's) over moto SQS
in-process: a message leaves the queue only after the asset event made from it is confirmed stored; one the
triggerer never stored comes back; one whose watcher is not running here is not consumed."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from airflow.triggers.shared_stream import SharedStreamManager

from cdc_runbooks.triggers.cdc_events import CdcEventTrigger

TASK = "arn:aws:dms:us-east-1:123456789012:task:prod-to-warehouse"
PIPELINES = {"shop": ["shop", "prod", TASK],
             "billing": ["billing", "billing-db", TASK.replace("warehouse", "billing")]}


@pytest.fixture
def queue(moto_aws):
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    return sqs, sqs.create_queue(QueueName="cdc-runbooks-events")["QueueUrl"]


def failover(cluster: str = "prod", event_id: str = "ev-1") -> str:
    return json.dumps({"version": "0", "id": event_id, "detail-type": "RDS DB Cluster Event", "source": "aws.rds",
                       "time": "2026-12-02T03:04:05Z", "region": "us-east-1", "resources": [],
                       "detail": {"EventID": "RDS-EVENT-0071", "SourceIdentifier": cluster,
                                  "Message": "Completed failover to DB instance: prod-reader"}})


def trigger(url: str, pipeline: str = "shop", kind: str = "failover", visibility: int = 1) -> CdcEventTrigger:
    return CdcEventTrigger(queue_url=url, pipeline=pipeline, kind=kind, siblings=[PIPELINES[pipeline]],
                           wait_time_s=0, visibility_timeout_s=visibility, retry_offline_s=1)


def in_queue(sqs, url) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


async def collect(triggers: list[CdcEventTrigger], *, persist: bool, until=None, seconds: float = 1.0,
                  store_s: float = 0.0) -> list[dict]:
    """Run the triggers as the triggerer does (bind each event, confirm it stored ``store_s`` later if ``persist``)
    until ``until(fired)`` holds (at most 30 s), or for ``seconds`` when there is no ``until``."""
    manager, fired = SharedStreamManager(ack_timeout=30), []

    async def confirm(seq: int) -> None:
        await asyncio.sleep(store_s)
        manager.confirm_persisted([seq])

    async def run(trigger_id: int, watcher: CdcEventTrigger) -> None:
        key = watcher.shared_stream_key()
        async for event in watcher.filter_shared_stream(manager.subscribe(trigger_id=trigger_id, trigger=watcher,
                                                                          key=key)):
            seq = manager.bind_pending_event(trigger_id=trigger_id, key=key)
            fired.append(event.payload)
            if persist and seq is not None:
                asyncio.ensure_future(confirm(seq))

    tasks = [asyncio.ensure_future(run(number, watcher)) for number, watcher in enumerate(triggers)]
    deadline = time.monotonic() + (30 if until else seconds)
    while time.monotonic() < deadline and not (until and until(fired)):
        await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await manager.stop_all()
    return fired


def test_an_event_stored_by_airflow_leaves_the_queue(queue):
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody=failover())
    fired = asyncio.run(collect([trigger(url), trigger(url, kind="task_failed"), trigger(url, "billing")],
                                persist=True, until=lambda fired: fired and in_queue(sqs, url) == 0))
    assert [(e["pipeline"], e["kind"], e["event_id"]) for e in fired] == [("shop", "failover", "ev-1")]
    assert in_queue(sqs, url) == 0


def test_an_event_the_triggerer_never_stored_comes_back(queue):
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody=failover())
    first = asyncio.run(collect([trigger(url)], persist=False, until=bool))  # the triggerer dies unconfirmed
    assert [e["event_id"] for e in first] == ["ev-1"] and in_queue(sqs, url) == 1
    time.sleep(1.2)  # its visibility ends
    again = asyncio.run(collect([trigger(url)], persist=True, until=lambda fired: fired and in_queue(sqs, url) == 0))
    assert [e["event_id"] for e in again] == ["ev-1"] and in_queue(sqs, url) == 0


def test_an_event_whose_watcher_is_not_running_here_is_left_for_it(queue):
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody=failover("billing-db"))
    fired = asyncio.run(collect([trigger(url)], persist=True))  # only shop's watcher runs here
    assert fired == [] and in_queue(sqs, url) == 1
    time.sleep(1.2)
    later = asyncio.run(collect([trigger(url, "billing")], persist=True,
                                until=lambda fired: fired and in_queue(sqs, url) == 0))
    assert [(e["pipeline"], e["resource"]) for e in later] == [("billing", "billing-db")]
    assert in_queue(sqs, url) == 0


def test_a_duplicate_delivery_fires_twice_with_one_event_id(queue):
    sqs, url = queue
    for _ in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=failover(event_id="ev-dup"))
    fired = asyncio.run(collect([trigger(url)], persist=True,
                                until=lambda fired: len(fired) == 2 and in_queue(sqs, url) == 0))
    assert [e["event_id"] for e in fired] == ["ev-dup", "ev-dup"] and in_queue(sqs, url) == 0


OUT_OF_RANGE = failover(event_id="ev-0").replace("2026-12-02T03:04:05Z", "0001-01-01T00:00:00+05:00")


@pytest.mark.parametrize("body", ["not json", failover().replace("RDS-EVENT-0071", "RDS-EVENT-0072"),
                                  "[" * 100_000, OUT_OF_RANGE])
def test_messages_that_are_not_events_of_ours_are_deleted_and_do_not_stop_the_poll(queue, body):
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody=body)
    sqs.send_message(QueueUrl=url, MessageBody=failover())
    fired = asyncio.run(collect([trigger(url)], persist=True, until=lambda fired: fired and in_queue(sqs, url) == 0))
    assert [e["event_id"] for e in fired] == ["ev-1"] and in_queue(sqs, url) == 0


def test_an_event_of_two_pipelines_whose_watchers_run_on_two_triggerers_reaches_both(queue):
    """shop and mirror stream one cluster; their watchers run on different triggerers (HA). The first stores its
    event and sends the other a copy before deleting the message; the second triggerer stores the copy."""
    sqs, url = queue
    siblings = [["mirror", "prod", TASK.replace("warehouse", "lake")], PIPELINES["shop"]]
    on = {name: CdcEventTrigger(**{**trigger(url).serialize()[1], "pipeline": name, "siblings": siblings})
          for name in ("shop", "mirror")}
    sqs.send_message(QueueUrl=url, MessageBody=failover())
    first = asyncio.run(collect([on["shop"]], persist=True, until=lambda fired: fired and in_queue(sqs, url) == 1))
    second = asyncio.run(collect([on["mirror"]], persist=True, until=lambda fired: fired and in_queue(sqs, url) == 0))
    assert [(e["pipeline"], e["event_id"]) for e in first + second] == [("shop", "ev-1"), ("mirror", "ev-1")]
    assert in_queue(sqs, url) == 0


def test_an_event_slow_to_store_is_not_received_again_meanwhile(queue):
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody=failover())
    fired = asyncio.run(collect([trigger(url, visibility=2)], persist=True, store_s=3.5, seconds=5))
    assert [e["event_id"] for e in fired] == ["ev-1"] and in_queue(sqs, url) == 0


def test_run_outside_a_shared_stream_refuses(queue):
    async def first():
        async for _ in trigger(queue[1]).run():
            pass

    with pytest.raises(NotImplementedError, match="AssetWatcher"):
        asyncio.run(first())


def test_serialize_round_trips_and_siblings_share_one_poll():
    watcher = trigger("https://sqs.us-east-1.amazonaws.com/123456789012/cdc-runbooks-events")
    path, kwargs = watcher.serialize()
    assert path == "cdc_runbooks.triggers.cdc_events.CdcEventTrigger"
    again = CdcEventTrigger(**json.loads(json.dumps(kwargs)))
    assert again.serialize() == (path, kwargs)
    sibling = CdcEventTrigger(**{**kwargs, "pipeline": "billing", "kind": "task_failed"})
    assert sibling.shared_stream_key() == watcher.shared_stream_key()
    assert CdcEventTrigger(**{**kwargs, "aws_conn_id": "other"}).shared_stream_key() != watcher.shared_stream_key()
    with pytest.raises(ValueError):
        CdcEventTrigger(**{**kwargs, "kind": "meteor_strike"})
