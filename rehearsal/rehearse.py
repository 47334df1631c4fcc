"""The switchover-under-CDC procedure done by hand on the estate, with plain AWS API calls.

This is the wiki page the runbook DAGs replace, executed step by step so the
estate can prove it: pause DMS, switch over, drain what old blue wrote after
the pause, restart CDC on the new writer from green's published coordinates,
and compare every row: the manual baseline that `make bench` times (``make demo`` runs the DAGs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from cdc_runbooks.binlog_position import BinlogPosition
from rehearsal.estate import Estate


@dataclass
class RehearsalReport:
    blue_checkpoint: str = ""
    old_blue_end: str = ""
    green_coordinates: str = ""
    coordinates_event: str = ""
    cdc_gap_s: float = 0.0
    traffic_committed: int = 0
    traffic_retried: int = 0
    source_counts: dict[str, int] = field(default_factory=dict)
    warehouse_counts: dict[str, int] = field(default_factory=dict)
    rows_equal: dict[str, bool] = field(default_factory=dict)

    @property
    def drift(self) -> int:
        return sum(abs(self.source_counts[t] - self.warehouse_counts[t]) for t in self.source_counts) + sum(
            not equal for equal in self.rows_equal.values())

    def render(self) -> str:
        lines = [
            f"blue checkpoint at pause     {self.blue_checkpoint}",
            f"old blue binlog end          {self.old_blue_end}",
            f"green coordinates (event)    {self.green_coordinates}",
            f"  event message              {self.coordinates_event}",
            f"CDC gap (stopped -> running) {self.cdc_gap_s:.2f} s",
            f"traffic                      {self.traffic_committed} writes committed, "
            f"{self.traffic_retried} retried through the switchover",
            f"{'table':<12} {'source':>8} {'warehouse':>10} {'rows equal':>11}",
            *(f"{t:<12} {self.source_counts[t]:>8} {self.warehouse_counts[t]:>10} {self.rows_equal[t]!s:>11}"
              for t in self.source_counts),
            f"drift = {self.drift}",
        ]
        return "\n".join(lines)


def switchover_under_cdc(estate: Estate, traffic_seconds: float = 2.0) -> RehearsalReport:
    """Run the whole procedure with write traffic on; return what happened."""
    report = RehearsalReport()
    dms, rds = estate.aws.client("dms"), estate.aws.client("rds")
    task_arn = estate.resources.replication_task_arn
    traffic = estate.traffic().start()
    time.sleep(traffic_seconds)

    dms.stop_replication_task(ReplicationTaskArn=task_arn)
    stopped = estate.wait_task_status("stopped")
    report.blue_checkpoint = stopped["RecoveryCheckpoint"]
    paused_at = time.monotonic()

    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=estate.deployment_id, SwitchoverTimeout=300)
    while _deployment(rds, estate.deployment_id)["Status"] == "SWITCHOVER_IN_PROGRESS":
        time.sleep(0.1)
    report.coordinates_event = _coordinates_event(rds)
    report.green_coordinates = _parse_event(report.coordinates_event)

    old_blue = _cluster(rds, f"{estate.resources.cluster}-old1")
    report.old_blue_end = drain_old_blue(estate, dms, old_blue, report.blue_checkpoint)
    estate.start_cdc(report.green_coordinates)
    report.cdc_gap_s = time.monotonic() - paused_at

    time.sleep(traffic_seconds)
    stats = traffic.stop()
    report.traffic_committed, report.traffic_retried = stats.committed, stats.retried
    estate.wait_cdc_idle()
    report.source_counts, report.warehouse_counts = estate.source_counts(), estate.warehouse_counts()
    report.rows_equal = {t: estate.source_rows(t) == estate.warehouse_rows(t) for t in report.source_counts}
    return report


def drain_old_blue(estate: Estate, dms, old_blue: dict, checkpoint: str) -> str:
    """Apply what old blue binlogged after the pause: point the task's source at prod-old1, start CDC from the
    pause's checkpoint (``start-replication`` with CdcStartPosition, as the runbook's drain_old_blue does), run it
    to old blue's (read-only) end, stop, and point the source back."""
    task = estate.task()
    production = _cluster(estate.aws.client("rds"), estate.resources.cluster)
    end = estate.source.blue.master_status()
    dms.modify_endpoint(EndpointArn=task["SourceEndpointArn"], ServerName=old_blue["Endpoint"], Port=old_blue["Port"])
    dms.start_replication_task(ReplicationTaskArn=task["ReplicationTaskArn"],
                               StartReplicationTaskType="start-replication",
                               CdcStartPosition=str(BinlogPosition.parse(checkpoint)))
    estate.wait_task_status("running")
    estate.wait_cdc_idle(writer=estate.source.blue)
    dms.stop_replication_task(ReplicationTaskArn=task["ReplicationTaskArn"])
    estate.wait_task_status("stopped")
    dms.modify_endpoint(EndpointArn=task["SourceEndpointArn"], ServerName=production["Endpoint"],
                        Port=production["Port"])
    return f"{end.file}:{end.position}"


def _deployment(rds, identifier: str) -> dict:
    return rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=identifier)["BlueGreenDeployments"][0]


def _cluster(rds, identifier: str) -> dict:
    return rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]


def _coordinates_event(rds) -> str:
    events = rds.describe_events(SourceType="db-instance")["Events"]
    return next(e["Message"] for e in events if e["Message"].startswith("Binary log coordinates in green"))


def _parse_event(message: str) -> str:
    words = message.rstrip(".").split()
    return f"{words[words.index('file') + 1]}:{words[words.index('position') + 1]}"
