"""The Asset that joins the product platform's switchover runbook to the data platform's CDC resume.

The product platform publishes a fact, "production switched over; CDC resumes at these coordinates";
the data platform's DAG is scheduled on it. The data platform depends on the product platform's
fact, not the reverse (the seed talk's point about the direction of dependencies).
"""

from __future__ import annotations

from airflow.sdk import Asset

SWITCHOVER_COMPLETED = Asset(name="aurora_blue_green_switchover_completed", group="cdc-runbooks")

# Keys of the asset event's extra; the data platform's DAG refuses an event without them.
EVENT_KEYS = ("pipeline", "deployment", "checkpoint", "position", "position_source",
              "needs_reconciliation_attention", "paused_at", "product_run_id")
