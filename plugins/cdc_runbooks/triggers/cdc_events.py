"""The watcher of the pipelines' event queue: RDS and DMS events become asset events, one per pipeline and kind,
and a message leaves the queue only once Airflow has stored what it asked for.

Every pipeline of an Airflow environment shares one SQS queue (EventBridge rule -> queue). Each pipeline's Asset
of each kind (``cdc_event.<pipeline>.<kind>``, :mod:`cdc_runbooks.assets`) has an ``AssetWatcher`` whose trigger
is a :class:`CdcEventTrigger`; the triggers of one queue share one poll (Airflow 3.3's shared streams) in **ack
mode**: the triggerer calls :meth:`SqsEventProducer.advance` only after the trigger events made from a message
are persisted as asset events, and only then is the message deleted. So:

- a triggerer that dies (or restarts) between receiving and storing loses nothing: the message becomes visible
  again after ``visibility_timeout_s`` and is received anew; while a message waits to be stored its visibility
  is renewed, so a slow store does not make it fire twice;
- a message is broadcast only to the watchers running in this triggerer. When none of the pipelines it concerns
  has its watcher here (not yet subscribed after a restart, on another triggerer of an HA pair, or a pipeline
  this poll's routing table does not know yet), it goes back to the queue for ``retry_offline_s``; when some
  have, the others get a copy addressed to them (sent before the original is deleted). A shared poll never
  deletes another watcher's message;
- a message that is not an event of ours is deleted and logged; one that cannot be read for a reason that is a
  bug goes back to the queue and, after the queue's ``maxReceiveCount``, to its dead-letter queue;
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
from dataclasses import dataclass
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent
from airflow.triggers.shared_stream import AdvanceItem, SharedStreamProducer

from cdc_runbooks.aws import event_queue
from cdc_runbooks.cdc_event import EventKind, IgnoredEvent, WatchedPipeline, pipelines_concerned, read_event

log = logging.getLogger(__name__)

# (shared stream key) -> how many watchers of each (pipeline, kind) run in this triggerer, and the pipelines they
# know (theirs and its siblings): the producer of that stream routes by these. One triggerer, one event loop.
_RUNNING: dict[Hashable, Counter] = {}
_KNOWN: dict[Hashable, Counter] = {}


class CdcEventTrigger(BaseEventTrigger):
    """Fire once per event of ``kind`` that concerns ``pipeline``, read from the queue ``queue_url``, with the
    event (:class:`cdc_runbooks.cdc_event.CdcEvent` as a dict) and the pipeline as payload. Only as an
    ``AssetWatcher``'s trigger (it runs in a shared stream; :meth:`run` refuses).

    :param queue_url: the environment's event queue.
    :param pipeline: the pipeline whose events fire this trigger.
    :param kind: ``failover``, ``switchover_started`` or ``task_failed``.
    :param siblings: the pipelines on this queue that share ``pipeline``'s cluster or DMS task (itself included),
        as ``[name, source cluster, DMS task ARN]``: the events of this pipeline concern them too, so the poll
        knows whom else to send a copy when their watchers run elsewhere.
    :param aws_conn_id: the AWS connection of the queue's account.
    :param region_name: the queue's Region (None: the connection's).
    :param wait_time_s: ReceiveMessage long poll (SQS allows 0-20 s); also the longest a new message waits.
    :param visibility_timeout_s: how long a received message stays invisible: after a triggerer dies holding it,
        how long until it is received again.
    :param retry_offline_s: how long a message whose watcher is not running here stays invisible.
    """

    def __init__(self, *, queue_url: str, pipeline: str, kind: str, siblings: list[list[str]],
                 aws_conn_id: str = "aws_default", region_name: str | None = None, wait_time_s: int = 10,
                 visibility_timeout_s: int = 60, retry_offline_s: int = 5) -> None:
        super().__init__()
        self.queue_url = queue_url
        self.pipeline = pipeline
        self.kind = EventKind(kind).value
        self.siblings = [list(w) for w in siblings]
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.wait_time_s = wait_time_s
        self.visibility_timeout_s = visibility_timeout_s
        self.retry_offline_s = retry_offline_s

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            name: getattr(self, name) for name in ("queue_url", "pipeline", "kind", "siblings", "aws_conn_id",
                                                   "region_name", "wait_time_s", "visibility_timeout_s",
                                                   "retry_offline_s")}

    def shared_stream_key(self) -> Hashable:
        """One poll per queue and connection (and the settings the producer reads)."""
        return ("cdc-events", self.queue_url, self.aws_conn_id, self.region_name, self.wait_time_s,
                self.visibility_timeout_s, self.retry_offline_s)

    @classmethod
    def create_shared_stream_producer(cls, kwargs: dict[str, Any]) -> SqsEventProducer:
        trigger = cls(**kwargs)
        return SqsEventProducer(trigger.shared_stream_key(), trigger)

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        key, mine = self.shared_stream_key(), (self.pipeline, self.kind)
        known = [WatchedPipeline(*w) for w in self.siblings]
        _RUNNING.setdefault(key, Counter())[mine] += 1
        _KNOWN.setdefault(key, Counter()).update(known)
        try:
            async for raw in shared_stream:
                if raw["kind"] == self.kind and self.pipeline in raw["pipelines"]:
                    yield TriggerEvent({**raw["event"], "pipeline": self.pipeline})
        finally:
            _RUNNING[key][mine] -= 1
            _KNOWN[key].subtract(known)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        raise NotImplementedError(f"{type(self).__name__} runs only as an AssetWatcher's trigger (a shared stream)")
        yield  # pragma: no cover


@dataclass(frozen=True)
class HeldMessage:
    """A message broadcast here and not yet advanced: its receipt, its body, and the pipelines it concerns whose
    watchers run elsewhere (they get a copy once the watchers here stored theirs)."""

    receipt_handle: str
    body: str
    elsewhere: tuple[str, ...]


class SqsEventProducer(SharedStreamProducer):
    """The queue's one poll (see the module): receive, route, broadcast to the watchers running here, keep what is
    held invisible, and delete a message once every watcher here stored its asset event (after sending a copy to
    the pipelines whose watchers run elsewhere); hand it back at once when a watcher here did not."""

    def __init__(self, key: Hashable, trigger: CdcEventTrigger) -> None:
        self._key = key
        self._trigger = trigger
        self._held: dict[str, HeldMessage] = {}
        self._renewal: asyncio.Future | None = None

    async def open_stream(self) -> AsyncIterator[tuple[Any, Any]]:
        t = self._trigger
        self._renewal = asyncio.ensure_future(self._keep_held_invisible())
        while True:
            messages = await asyncio.to_thread(
                event_queue.receive, t.aws_conn_id, t.queue_url, wait_time_s=t.wait_time_s,
                visibility_timeout_s=t.visibility_timeout_s, region_name=t.region_name)
            drop, later = [], []
            for message in messages:
                routed = self._route(message)
                if routed is _DROP:
                    drop.append(message.receipt_handle)
                elif routed is _LATER:
                    later.append(message.receipt_handle)
                else:
                    raw, elsewhere = routed
                    held = self._held[message.receipt_handle] = HeldMessage(message.receipt_handle, message.body,
                                                                            elsewhere)
                    yield raw, held
            await self._call(event_queue.delete, drop)
            await self._call(event_queue.release, later, t.retry_offline_s)

    async def advance(self, batch: Sequence[AdvanceItem]) -> None:
        stored = [item.broker_payload for item in batch if item.outcome.is_clean]
        t = self._trigger
        for held in stored:
            if held.elsewhere:  # before the delete: a failure here leaves the original to be received again
                await asyncio.to_thread(event_queue.send, t.aws_conn_id, t.queue_url, held.body, held.elsewhere,
                                        region_name=t.region_name)
        await self._call(event_queue.delete, [held.receipt_handle for held in stored])
        await self._call(event_queue.release, [item.broker_payload.receipt_handle for item in batch
                                               if not item.outcome.is_clean], 0)
        for item in batch:
            self._held.pop(item.broker_payload.receipt_handle, None)

    async def aclose(self) -> None:
        if self._renewal is not None:
            self._renewal.cancel()

    async def _keep_held_invisible(self) -> None:
        """Renew the visibility of held messages every half timeout: one waiting for its asset event to be stored
        (up to the triggerer's ack timeout) is not received again meanwhile."""
        t = self._trigger
        while True:
            await asyncio.sleep(max(1, t.visibility_timeout_s // 2))
            await self._call(event_queue.release, [held.receipt_handle for held in self._held.values()],
                             t.visibility_timeout_s)

    def _route(self, message: event_queue.QueueMessage):
        """_DROP (not an event of ours), _LATER (no watcher for it here, or unreadable for a reason that is a bug:
        after the queue's maxReceiveCount it moves to the dead-letter queue), or the raw event for the watchers
        running here and the pipelines concerned elsewhere."""
        try:
            event = read_event(message.body)
        except IgnoredEvent as why:
            log.warning("Deleting SQS message %s: %s", message.message_id, why)
            return _DROP
        except Exception:
            log.exception("SQS message %s could not be read; back to the queue", message.message_id)
            return _LATER
        concerned = pipelines_concerned(event, [w for w, count in _KNOWN.get(self._key, Counter()).items()
                                                if count > 0])
        if message.addressed_to:  # a copy for the pipelines whose watchers were elsewhere
            concerned = [p for p in concerned if p in message.addressed_to]
        running = _RUNNING.get(self._key, Counter())
        here = [p for p in concerned if running[(p, event.kind.value)] > 0]
        said = f"{event.kind.value} {event.code} {event.event_id} of {event.resource} (received " \
               f"{message.receive_count} times)"
        if not here:
            log.info("Event %s: %s; back to the queue for %d s", said, "no watcher of " + ", ".join(concerned) +
                     " runs in this triggerer" if concerned else "concerns no pipeline this poll knows (a newer "
                     "pipelines file?)", self._trigger.retry_offline_s)
            return _LATER
        log.info("Event %s for %s", said, ", ".join(here))
        elsewhere = tuple(p for p in concerned if p not in here)
        return {"event": event.to_payload(), "kind": event.kind.value, "pipelines": here}, elsewhere

    async def _call(self, call, handles: list[str], *args) -> None:
        if not handles:
            return
        t = self._trigger
        refused = await asyncio.to_thread(call, t.aws_conn_id, t.queue_url, handles, *args,
                                          region_name=t.region_name)
        if refused:
            log.warning("SQS refused %s for %d of %d messages (a receipt expired: the message was received again "
                        "and that copy is handled on its own)", call.__name__, len(refused), len(handles))


_DROP, _LATER = object(), object()
