"""The watcher of the pipelines' event queue: RDS and DMS events become asset events, one per pipeline and kind,
and a message leaves the queue only once Airflow has stored what it asked for.

Every pipeline of an Airflow environment shares one SQS queue (EventBridge rule -> queue). Each pipeline's Asset
of each kind (``cdc_event.<pipeline>.<kind>``, :mod:`cdc_runbooks.assets`) has an ``AssetWatcher`` whose trigger
is a :class:`CdcEventTrigger`; the triggers of one queue share one poll (Airflow 3.3's shared streams) in **ack
mode**: the triggerer calls :meth:`SqsEventProducer.advance` only after the trigger events made from a message
are persisted as asset events, and only then is the message deleted. So:

- a triggerer that dies (or restarts) between receiving and storing loses nothing: the message becomes visible
  again after ``visibility_timeout_s`` and is received anew;
- a message whose watcher is not running in this triggerer (not yet subscribed after a restart, or running on
  another triggerer of an HA pair) is not broadcast here, where nobody would store it, but handed back to the
  queue for ``retry_offline_s``: a shared poll must not delete another watcher's message;
- a message that is not an event of ours, or concerns no pipeline of this queue, is deleted and logged;
- a message received twice (SQS is at-least-once, EventBridge too) makes two asset events with the same
  ``event_id``: the runbook claims event ids, so a duplicate never recovers twice.

No aiobotocore, as the other triggers: the sync SQS hook in a worker thread
(:mod:`cdc_runbooks.aws.event_queue`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Hashable, Sequence
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent
from airflow.triggers.shared_stream import AdvanceItem, SharedStreamProducer

from cdc_runbooks.aws import event_queue
from cdc_runbooks.cdc_event import EventKind, IgnoredEvent, WatchedPipeline, pipelines_concerned, read_event

log = logging.getLogger(__name__)

# (shared stream key) -> how many running watchers of each (pipeline, kind): the producer of that stream
# broadcasts only messages whose every watcher is running here. One triggerer process, one event loop.
_RUNNING: dict[Hashable, Counter] = {}


class CdcEventTrigger(BaseEventTrigger):
    """Fire once per event of ``kind`` that concerns ``pipeline``, read from the queue ``queue_url``, with the
    event (:class:`cdc_runbooks.cdc_event.CdcEvent` as a dict) and the pipeline as payload. Only as an
    ``AssetWatcher``'s trigger (it runs in a shared stream; :meth:`run` refuses).

    :param queue_url: the environment's event queue.
    :param pipeline: the pipeline whose events fire this trigger.
    :param kind: ``failover``, ``switchover_started`` or ``task_failed``.
    :param watched: every pipeline on this queue as ``[name, source cluster, DMS task ARN]``: the stream routes
        each message to the pipelines it concerns.
    :param aws_conn_id: the AWS connection of the queue's account.
    :param region_name: the queue's Region (None: the connection's).
    :param wait_time_s: ReceiveMessage long poll (SQS allows 0-20 s); also the longest a new message waits.
    :param visibility_timeout_s: how long a received message stays invisible: after a triggerer dies holding it,
        how long until it is received again.
    :param retry_offline_s: how long a message whose watcher is not running here stays invisible.
    """

    def __init__(self, *, queue_url: str, pipeline: str, kind: str, watched: list[list[str]],
                 aws_conn_id: str = "aws_default", region_name: str | None = None, wait_time_s: int = 10,
                 visibility_timeout_s: int = 60, retry_offline_s: int = 5) -> None:
        super().__init__()
        self.queue_url = queue_url
        self.pipeline = pipeline
        self.kind = EventKind(kind).value
        self.watched = [list(w) for w in watched]
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.wait_time_s = wait_time_s
        self.visibility_timeout_s = visibility_timeout_s
        self.retry_offline_s = retry_offline_s

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            name: getattr(self, name) for name in ("queue_url", "pipeline", "kind", "watched", "aws_conn_id",
                                                   "region_name", "wait_time_s", "visibility_timeout_s",
                                                   "retry_offline_s")}

    def shared_stream_key(self) -> Hashable:
        """One poll per queue, connection and routing table (every field the producer reads)."""
        return ("cdc-events", self.queue_url, self.aws_conn_id, self.region_name, self.wait_time_s,
                self.visibility_timeout_s, self.retry_offline_s, tuple(tuple(w) for w in self.watched))

    @classmethod
    def create_shared_stream_producer(cls, kwargs: dict[str, Any]) -> SqsEventProducer:
        trigger = cls(**kwargs)
        return SqsEventProducer(trigger.shared_stream_key(), trigger)

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        mine = (self.pipeline, self.kind)
        running = _RUNNING.setdefault(self.shared_stream_key(), Counter())
        running[mine] += 1
        try:
            async for raw in shared_stream:
                if raw["kind"] == self.kind and self.pipeline in raw["pipelines"]:
                    yield TriggerEvent({**raw["event"], "pipeline": self.pipeline})
        finally:
            running[mine] -= 1

    async def run(self) -> AsyncIterator[TriggerEvent]:
        raise NotImplementedError(f"{type(self).__name__} runs only as an AssetWatcher's trigger (a shared stream)")
        yield  # pragma: no cover


class SqsEventProducer(SharedStreamProducer):
    """The queue's one poll (see the module): receive, route, broadcast what is watched here, and delete a
    message once every watcher stored its asset event (hand it back at once when one did not)."""

    def __init__(self, key: Hashable, trigger: CdcEventTrigger) -> None:
        self._key = key
        self._trigger = trigger
        self._watched = [WatchedPipeline(*w) for w in trigger.watched]

    async def open_stream(self) -> AsyncIterator[tuple[Any, Any]]:
        t = self._trigger
        while True:
            messages = await asyncio.to_thread(
                event_queue.receive, t.aws_conn_id, t.queue_url, wait_time_s=t.wait_time_s,
                visibility_timeout_s=t.visibility_timeout_s, region_name=t.region_name)
            drop, later = [], []
            for message in messages:
                raw = self._route(message)
                if raw is None:
                    drop.append(message.receipt_handle)
                elif not self._watched_here(raw):
                    later.append(message.receipt_handle)
                else:
                    yield raw, message.receipt_handle
            await self._call(event_queue.delete, drop)
            await self._call(event_queue.release, later, t.retry_offline_s)

    async def advance(self, batch: Sequence[AdvanceItem]) -> None:
        stored = [item.broker_payload for item in batch if item.outcome.is_clean]
        await self._call(event_queue.delete, stored)
        await self._call(event_queue.release, [item.broker_payload for item in batch if not item.outcome.is_clean], 0)

    def _route(self, message: event_queue.QueueMessage) -> dict | None:
        try:
            event = read_event(message.body)
        except IgnoredEvent as why:
            log.warning("Deleting SQS message %s: %s", message.message_id, why)
            return None
        pipelines = pipelines_concerned(event, self._watched)
        if not pipelines:
            log.warning("Deleting SQS message %s: %s %s of %s concerns no pipeline on this queue", message.message_id,
                        event.code, event.event_id, event.resource)
            return None
        log.info("Event %s (%s %s of %s, received %d times) for %s", event.event_id, event.kind.value, event.code,
                 event.resource, message.receive_count, ", ".join(pipelines))
        return {"event": event.to_payload(), "kind": event.kind.value, "pipelines": pipelines}

    def _watched_here(self, raw: dict) -> bool:
        running = _RUNNING.get(self._key, Counter())
        missing = [p for p in raw["pipelines"] if running[(p, raw["kind"])] <= 0]
        if missing:
            log.info("Event %s: the %s watcher of %s is not running in this triggerer; back to the queue for %d s",
                     raw["event"]["event_id"], raw["kind"], ", ".join(missing), self._trigger.retry_offline_s)
        return not missing

    async def _call(self, call, handles: list[str], *args) -> None:
        if not handles:
            return
        t = self._trigger
        refused = await asyncio.to_thread(call, t.aws_conn_id, t.queue_url, handles, *args,
                                          region_name=t.region_name)
        if refused:
            log.warning("SQS refused %s for %d of %d messages (a receipt expired: the message was received again "
                        "and that copy is handled on its own)", call.__name__, len(refused), len(handles))
