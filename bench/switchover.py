"""Switchover benchmark: the flagship runbook on the estate, pre-approved, with write traffic on.

Prints ``BENCH switchover cdc_gap_s=… aws_s=… overhead_s=… drift=…``: the CDC gap is DMS stopped
(the pause) -> running again on the new writer; aws_s is the part of it during which an AWS
operation itself was in progress (DMS stopping/starting, the switchover; the estate gives each a
fixed duration and logs it); overhead_s = cdc_gap_s - aws_s is what our orchestration added.
Target: overhead_s <= 5 with drift 0.
"""

from __future__ import annotations

from datetime import datetime

from rehearsal.estate import Estate
from rehearsal.runbook_demo import prepare_airflow, rehearse_switchover_runbook, summary_of

TARGET_OVERHEAD_S = 5.0


def main() -> int:
    with Estate.running() as estate:
        prepare_airflow(estate)
        product, data, _ = rehearse_switchover_runbook(estate)
        summary = summary_of(data)
        if not summary:
            print(f"BENCH switchover failed: product={product['outcome']} data={data['outcome']}")
            return 1
        stopped, running = (datetime.fromisoformat(summary[k]) for k in ("cdc_stopped_at", "cdc_running_at"))
        aws_s = estate.operations.busy_seconds(stopped, running)
        for op in estate.operations.operations:
            if op.finished > stopped and op.started < running:
                print(f"  {op.name:<22} +{(op.started - stopped).total_seconds():6.2f} s "
                      f"for {(op.finished - op.started).total_seconds():.2f} s")
    gap = summary["cdc_gap_s"]
    overhead = gap - aws_s
    print(f"BENCH switchover cdc_gap_s={gap:.2f} aws_s={aws_s:.2f} overhead_s={overhead:.2f} "
          f"drift={summary['drift']} target_overhead_s={TARGET_OVERHEAD_S:g}")
    return 0 if overhead <= TARGET_OVERHEAD_S and summary["drift"] == 0 else 1
