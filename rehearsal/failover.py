"""Aurora failover of the production cluster, on the real MariaDB: FailoverDBCluster and an unplanned crash.

Aurora keeps the binlog on the cluster volume, so a new writer continues the old writer's binlog; the estate's
blue server plays the volume and every instance of the production cluster, so a failover is: RDS-EVENT-0073
("Started cross AZ failover"), the writer killed (``kill -9``, mid-traffic), MariaDB's crash recovery on the same
data directory, the cluster's writer flag moved to another instance (moto's own FailoverDBCluster), and
RDS-EVENT-0071 ("Completed failover to DB instance"), both through EventBridge
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_Events.Messages.html). The call returns at
once, as the API does; ``wait()`` waits for the outcome.

Faults (``FailoverFaults``):

- ``outage_s``: how long the writer stays down. DMS retries a lost source connection for a while (the applier's
  ``recoverable_error_s``) and fails the task after that.
- ``truncated_tail_rows``: storage loses the binlog tail that CDC already read, and with it those rows: the
  estate writes that many marker orders (negative ids, which the traffic never touches) while the application's
  writes are fenced (``read_only``), waits until CDC has applied them, then kills the writer, cuts the binlog
  back to where the markers began and, after crash recovery, removes the markers from the source without
  binlogging it. The warehouse then holds rows the source lost, and the task's checkpoint lies past the end of
  its binlog file.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from moto.rds import models as rds_models

from rehearsal.applier import StartPoint
from rehearsal.events import EventPublisher, RdsEvent
from rehearsal.mariadb import MariaDBServer
from rehearsal.patching import Patches
from rehearsal.schema import SOURCE_DATABASE

CLUSTER_EVENT = "RDS DB Cluster Event"


@dataclass
class FailoverFaults:
    outage_s: float = 0.5
    truncated_tail_rows: int = 0


@dataclass(frozen=True)
class FailoverOutcome:
    cluster: str
    old_writer: str
    new_writer: str
    lost_order_ids: tuple[int, ...] = ()
    truncated_to: StartPoint | None = None


class FailoverController:
    def __init__(self, writer: Callable[[], MariaDBServer], cdc_checkpoint: Callable[[], StartPoint | None],
                 events: EventPublisher) -> None:
        self._writer = writer
        self._cdc_checkpoint = cdc_checkpoint
        self._events = events
        self.faults = FailoverFaults()
        self.outcomes: list[FailoverOutcome] = []
        self._done = threading.Event()
        self._done.set()  # no failover in flight (start clears it): stopping the estate never waits for one
        self._error: BaseException | None = None
        self._patches = Patches()

    def install(self) -> None:
        controller = self
        original = rds_models.RDSBackend.failover_db_cluster

        def failover_db_cluster(backend, db_cluster_identifier, target_db_instance_identifier=None):
            old_writer = backend.clusters[db_cluster_identifier].writer if db_cluster_identifier in \
                backend.clusters else None
            cluster = original(backend, db_cluster_identifier, target_db_instance_identifier)
            controller.start(backend, cluster, old_writer.db_instance_identifier if old_writer else "?")
            return cluster

        self._patches.set(rds_models.RDSBackend, "failover_db_cluster", failover_db_cluster)

    def uninstall(self) -> None:
        self.wait(timeout=60, raise_error=False)
        self._patches.restore()

    def start(self, backend, cluster, old_writer: str) -> None:
        """The failover's work, in the background (the API has already answered)."""
        self._done.clear()
        self._error = None
        cluster.status = "failing-over"
        self._publish(backend, cluster, "RDS-EVENT-0073", f"Started cross AZ failover to DB instance: "
                                                          f"{cluster.writer.db_instance_identifier}")
        threading.Thread(target=self._run, args=(backend, cluster, old_writer), name="failover", daemon=True).start()

    def wait(self, timeout: float = 60, raise_error: bool = True) -> FailoverOutcome | None:
        if not self._done.wait(timeout) and raise_error:
            raise TimeoutError(f"the failover did not finish within {timeout}s")
        if self._error is not None and raise_error:
            raise RuntimeError(f"the estate's failover failed: {self._error}") from self._error
        return self.outcomes[-1] if self.outcomes else None

    def _run(self, backend, cluster, old_writer: str) -> None:
        try:
            server = self._writer()
            lost, truncated_to = self._crash(server)
            cluster.status = "available"
            new_writer = cluster.writer.db_instance_identifier
            self.outcomes.append(FailoverOutcome(cluster.db_cluster_identifier, old_writer, new_writer, lost,
                                                 truncated_to))
            self._publish(backend, cluster, "RDS-EVENT-0071", f"Completed failover to DB instance: {new_writer}")
        except BaseException as error:  # the test that asked for the failover reads it in wait()
            self._error = error
        finally:
            self._done.set()

    def _crash(self, server: MariaDBServer) -> tuple[tuple[int, ...], StartPoint | None]:
        markers: tuple[int, ...] = ()
        cut = None
        if self.faults.truncated_tail_rows:
            markers, cut = self._write_markers_cdc_reads(server, self.faults.truncated_tail_rows)
        server.kill()
        if cut is not None:
            os.truncate(server.dir / "data" / cut.file, cut.position)
        time.sleep(self.faults.outage_s)
        server.start()
        if markers:
            with server.admin() as conn, conn.cursor() as cur:
                cur.execute("SET SESSION sql_log_bin = 0")
                cur.executemany(f"DELETE FROM {SOURCE_DATABASE}.orders WHERE id = %s", markers)  # noqa: S608 - constant
        return markers, cut

    def _write_markers_cdc_reads(self, server: MariaDBServer, count: int) -> tuple[tuple[int, ...], StartPoint]:
        """Fence the application, write ``count`` marker orders, wait until CDC has applied them; where they
        began in the binlog."""
        server.execute("SET GLOBAL read_only = 1")
        begin = server.master_status()
        ids = tuple(-(1000 * len(self.outcomes) + n + 1) for n in range(count))
        with server.admin() as conn, conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {SOURCE_DATABASE}.orders (id, customer_id, amount, status, note) "  # noqa: S608
                            "VALUES (%s, 1, 1.00, 'lost', 'truncated binlog tail')", ids)
        end = server.master_status()
        if end.file != begin.file:
            raise RuntimeError("the binlog rotated while the markers were written; ask for the fault again")
        deadline = time.monotonic() + 30
        while (point := self._cdc_checkpoint()) is None or (point.file, point.position) < (end.file, end.position):
            if time.monotonic() > deadline:
                raise TimeoutError(f"CDC did not apply the markers (checkpoint {point}, markers end {end})")
            time.sleep(0.02)
        return ids, StartPoint(begin.file, begin.position)

    def _publish(self, backend, cluster, event_id: str, message: str) -> None:
        """To EventBridge, and to RDS's event history (DescribeEvents, as RDS keeps it for 14 days)."""
        self._events.rds(CLUSTER_EVENT, event_id, cluster.db_cluster_identifier, cluster.db_cluster_arn, message,
                         ["failover"], "CLUSTER")
        backend.events.append(RdsEvent(cluster.db_cluster_identifier, "db-cluster", message, ["failover"],
                                       cluster.db_cluster_arn, datetime.now(UTC)))
