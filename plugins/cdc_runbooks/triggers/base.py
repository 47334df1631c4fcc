"""The base of the runbooks' triggers, like the provider's ``AwsBaseWaiterTrigger``, and the wait that runs a
trigger inline or deferred.

Two decisions differ from the provider's triggers:

- **No aiobotocore.** A trigger polls with the same sync hooks the operators use
  (:mod:`cdc_runbooks.aws`), each call in a worker thread (``asyncio.to_thread``);
  every amazon provider trigger needs ``aiobotocore``, which would downgrade the
  pinned boto3.
- **One implementation for both waits.** An operator with ``deferrable=True``
  hands its trigger to the triggerer and frees its worker slot; without it, it
  runs the same trigger in the worker (:func:`run_inline`). :func:`wait_for` does
  either and continues in the same method with the same keyword arguments
  (Airflow passes ``defer(kwargs=...)`` to the resumed method): what the operator
  needs after the wait travels there, never in the trigger's event.

Each trigger fires one event: ``{"status": ..., "message": ...}`` plus what the
wait found (e.g. the deployment's status, green's coordinates).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger


def wait_for(operator, context, trigger: BaseTrigger, method_name: str, kwargs: dict | None = None):
    """Continue the operator in ``method_name(context, event=..., **kwargs)`` once ``trigger`` fires.

    Without ``deferrable`` the trigger runs here to the end. With it, the trigger first runs here for up to the
    operator's ``defer_after_s`` seconds, and only a wait still going on then is handed to the triggerer (this
    raises TaskDeferred): a deferral costs a triggerer -> scheduler -> worker round trip of seconds, which a
    runbook step inside the CDC gap must not pay for a wait that ends in seconds, while a wait of minutes still
    frees its worker slot. The trigger starts again in the triggerer, with all its attempts and time: a deferred
    wait can last up to ``defer_after_s`` longer than the trigger's own bound. A trigger that cannot fire sooner
    than ``shortest_wait_s`` (e.g. a latency that must stay low for a minute) defers at once when that is not
    shorter than ``defer_after_s``."""
    inline_s = getattr(operator, "defer_after_s", 0)
    if getattr(trigger, "shortest_wait_s", 0) >= inline_s:
        inline_s = 0
    event = run_inline(trigger, within_s=inline_s) if operator.deferrable else run_inline(trigger)
    if event is None:
        operator.defer(trigger=trigger, method_name=method_name, kwargs=kwargs)
    return getattr(operator, method_name)(context, event=event, **(kwargs or {}))


def run_inline(trigger: BaseTrigger, within_s: float | None = None) -> dict | None:
    """Run a trigger in this process and return its first event's payload; None if ``within_s`` seconds passed
    first (no limit when None)."""

    async def first() -> dict:
        async for event in trigger.run():
            return event.payload
        raise RuntimeError(f"{type(trigger).__name__} ended without an event")

    async def first_within() -> dict | None:
        if within_s is not None and within_s <= 0:
            return None
        waiting = asyncio.ensure_future(first())
        done, _ = await asyncio.wait({waiting}, timeout=within_s)
        if not done:  # time is up; an error of the trigger's own (even a TimeoutError) is raised below instead
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
            return None
        return waiting.result()

    # Not asyncio.run(): it waits for the thread of a poll still running (a hung API call) before returning, so
    # the inline part would end when that call does, not at within_s. close() leaves that thread to finish alone.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(first_within())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


class AwsPollingTrigger(BaseTrigger):
    """A trigger that polls AWS through an Airflow connection with the sync hooks.

    Subclasses take keyword-only arguments, keep each under an attribute of the same name and pass the rest
    (``**kwargs``) on to this class: :meth:`serialize` then needs no override. Their arguments are JSON values,
    so that the triggerer re-creates the trigger from them.

    :param aws_conn_id: the Airflow connection of the AWS account.
    :param region_name: the Region of what the trigger watches (None: the connection's).
    :param waiter_delay: seconds between polls.
    :param waiter_max_attempts: polls before the wait gives up (None for a wait bounded in time instead; its
        trigger says why).
    """

    def __init__(self, *, aws_conn_id: str, waiter_delay: float, waiter_max_attempts: int | None = None,
                 region_name: str | None = None) -> None:
        super().__init__()
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and every ``__init__`` argument (of this class and the subclasses' own), read from the
        attribute of the same name."""
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {name: getattr(self, name) for name in self._arguments()})

    @classmethod
    def _arguments(cls) -> list[str]:
        names: list[str] = []
        for klass in cls.__mro__:
            if "__init__" not in vars(klass):
                continue
            parameters = list(inspect.signature(vars(klass)["__init__"]).parameters.values())[1:]
            names += [p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
                      and p.name not in names]
            if klass is AwsPollingTrigger or all(p.kind is not p.VAR_KEYWORD for p in parameters):
                return names
        return names

    async def polls(self) -> AsyncIterator[None]:
        """One iteration per poll, ``waiter_max_attempts`` at most, ``waiter_delay`` seconds apart (a trigger that
        fires stops iterating, so it does not wait once more)."""
        for _ in range(self.waiter_max_attempts):
            yield
            await asyncio.sleep(self.waiter_delay)

    def gave_up(self) -> str:
        """How long the wait went on, for its timeout message."""
        return f"after {self.waiter_max_attempts} polls {self.waiter_delay:g} s apart"
