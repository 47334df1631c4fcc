"""Refusals: a runbook step declines to act because of its input or of what it found.

A refusal is final for that run: retrying cannot change a malformed position or
a task in the wrong state, so DAGs fail such a step at once instead of retrying
(see ``dag_params.default_args``). Transient errors (throttling, timeouts) are
not refusals and are retried.
"""

from __future__ import annotations


class Refusal(Exception):
    """Base of every error that means "this step must not run as asked"."""
