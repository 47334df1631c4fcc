"""Refusals: a runbook step declines to act because of its input or of what it found.

A refusal is final for that run: retrying cannot change a malformed position or
a task in the wrong state, so DAGs fail such a step at once instead of retrying
(see ``dag_params.default_args``). Transient errors (throttling, timeouts) are
not refusals and are retried.
"""

from __future__ import annotations


class Refusal(Exception):
    """Base of every error that means "this step must not run as asked"."""


_QUIET: dict[type, type] = {}


def without_traceback(refusal: Refusal) -> Refusal:
    """The same refusal (same class name, message and attributes) as an instance of a subclass of its class that
    is also a :class:`SystemExit`: Airflow 3.3's task runner logs every failing task's exception with its whole
    traceback ("Task failed with exception"), except a ``SystemExit``, which it logs as one line ("Task exited")
    and fails through the task's retry policy all the same (a refusal: failed, not retried). The caller logs the
    message first. ``except SomeRefusal`` and ``pytest.raises(SomeRefusal)`` still catch it."""
    if isinstance(refusal, SystemExit):
        return refusal
    cls = type(refusal)
    quiet = _QUIET.get(cls)
    if quiet is None:
        quiet = _QUIET.setdefault(cls, type(cls.__name__, (cls, SystemExit), {
            "__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__}))
    copy = quiet.__new__(quiet, *refusal.args)
    copy.__dict__.update(refusal.__dict__)
    copy.code = 1
    return copy
