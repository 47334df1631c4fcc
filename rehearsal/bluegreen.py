"""Blue/green made faithful: a switchover that really moves production, with RDS's events.

moto 5.2.5 completes a switchover instantly, renames only clusters and emits no
events. Installed into moto, this controller makes SwitchoverBlueGreenDeployment
on the estate behave like Aurora's:

1. the deployment reports SWITCHOVER_IN_PROGRESS for ``switchover_s`` seconds (logged
   in the estate's :class:`~rehearsal.operations.AwsOperationLog`),
   writes are fenced on both sides and the endpoints refuse connections;
2. then, by default, green catches up, stops replicating and becomes the
   writer behind the production endpoint; clusters and writer instances swap
   names (blue gets ``-old1``); RDS events are published, among them
   "Binary log coordinates in green environment after switchover: file F and
   position P" from the old green writer, with green's real coordinates;
3. or, when a fault is set, the switchover fails or times out and is rolled
   back (nothing changes), or completes without the best-effort coordinates event.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from moto.rds import models as rds_models
from moto.rds.exceptions import InvalidBlueGreenDeploymentStateFault

from rehearsal.events import EventPublisher, RdsEvent
from rehearsal.operations import AwsOperationLog
from rehearsal.patching import Patches
from rehearsal.source import BlueGreenSource

if TYPE_CHECKING:
    from rehearsal.endpoints import EstateEndpoints

COORDINATES_MESSAGE = "Binary log coordinates in green environment after switchover: file {file} and position {pos}"
OUTCOMES = ("complete", "fail", "timeout")


@dataclass
class BlueGreenFaults:
    outcome: str = "complete"
    publish_coordinates: bool = True
    # Extra coordinates events from the old green writer at completion: (file:position, date offset from now) —
    # a replayed, injected or skewed event.
    extra_coordinates: list[tuple[str, timedelta]] = field(default_factory=list)


class BlueGreenController:
    def __init__(self, source: BlueGreenSource, endpoints: EstateEndpoints, operations: AwsOperationLog,
                 events: EventPublisher | None = None, switchover_s: float = 2.0) -> None:
        self._source = source
        self._events = events
        self._endpoints = endpoints
        self.operations = operations
        self.switchover_s = switchover_s
        self.faults = BlueGreenFaults()
        self.switchover_calls: list[str] = []
        self.coordinates = None
        self._in_flight: dict[str, datetime] = {}  # deployment -> when the switchover is done
        self._lock = threading.RLock()
        self._patches = Patches()

    def install(self) -> None:
        controller = self
        backend_cls = rds_models.RDSBackend
        original_describe = backend_cls.describe_blue_green_deployments

        def switchover_blue_green_deployment(backend, blue_green_deployment_identifier, switchover_timeout=300):
            return controller.switchover(backend, blue_green_deployment_identifier)

        def describe_blue_green_deployments(backend, *args, **kwargs):
            controller.advance(backend)
            return original_describe(backend, *args, **kwargs)

        self._patches.set(backend_cls, "switchover_blue_green_deployment", switchover_blue_green_deployment)
        self._patches.set(backend_cls, "describe_blue_green_deployments", describe_blue_green_deployments)

    def uninstall(self) -> None:
        self._patches.restore()

    # -- the API calls ---------------------------------------------------------------------------
    def switchover(self, backend, identifier: str):
        with self._lock:
            self.switchover_calls.append(identifier)
            deployment = backend.blue_green_deployments.get(identifier)
            if deployment is None or deployment.status != "AVAILABLE":
                raise InvalidBlueGreenDeploymentStateFault(identifier)
            deployment.set_status(deployment.SupportedStates.SWITCHOVER_IN_PROGRESS)
            deployment.status_details = "Switchover in progress"
            self._in_flight[identifier] = self.operations.record("blue/green switchover", datetime.now(UTC),
                                                                 self.switchover_s)
            blue, green = _cluster(backend, deployment.source), _cluster(backend, deployment.target)
            self._publish(backend, deployment, "notification",
                          f"Switchover from {blue.db_cluster_identifier} to {green.db_cluster_identifier} started")
            self._publish_cluster(blue, "RDS-EVENT-0259", f"Switchover from DB cluster {blue.db_cluster_identifier} "
                                                          f"to {green.db_cluster_identifier} started.")
            self._source.fence_writes()
            return deployment

    def advance(self, backend) -> None:
        """One describe poll: finish every in-flight switchover that is due."""
        with self._lock:
            for identifier, done in list(self._in_flight.items()):
                if datetime.now(UTC) < done:
                    continue
                del self._in_flight[identifier]
                deployment = backend.blue_green_deployments[identifier]
                {"complete": self._complete, "fail": self._fail, "timeout": self._time_out}[self.faults.outcome](
                    backend, deployment)

    # -- outcomes --------------------------------------------------------------------------------
    def _complete(self, backend, deployment) -> None:
        blue, green = _cluster(backend, deployment.source), _cluster(backend, deployment.target)
        blue_name, green_name = blue.db_cluster_identifier, green.db_cluster_identifier
        blue_members, green_members = list(blue.members), list(green.members)
        green_writer = next(m for m in green_members if m.is_cluster_writer)
        old_green_writer_name = green_writer.db_instance_identifier
        self.coordinates = self._source.promote_green()
        deployment.switchover()  # moto renames the clusters: blue -> blue-old1, green -> blue
        self._rehome(backend, blue_members, f"{blue_name}-old1", green_members, blue_name)
        self._endpoints.after_switchover(backend, blue_name)
        published = [(f"{self.coordinates.file}:{self.coordinates.position}", timedelta(0))] \
            if self.faults.publish_coordinates else []
        for position, offset in published + self.faults.extra_coordinates:
            file, pos = position.split(":")
            backend.events.append(RdsEvent(old_green_writer_name, "db-instance",
                                           COORDINATES_MESSAGE.format(file=file, pos=pos), ["notification"],
                                           green_writer.db_instance_arn, datetime.now(UTC) + offset))
        backend.events.append(RdsEvent(
            blue_name, "db-cluster",
            f"Switchover from DB cluster completed; renamed {blue_name} to {blue_name}-old1, "
            f"{green_name} to {blue_name}",
            ["notification"], green.db_cluster_arn, datetime.now(UTC)))
        deployment.status_details = "Switchover completed"
        self._publish(backend, deployment, "notification", "Switchover completed on blue/green deployment")
        self._publish_cluster(green, "RDS-EVENT-0260", f"Switchover from DB cluster {blue_name} to {green_name} "
                                                       f"completed. Renamed {blue_name} to {blue_name}-old1 and "
                                                       f"{green_name} to {blue_name}.")

    def _fail(self, backend, deployment) -> None:
        self._source.lift_fence()
        deployment.set_status(deployment.SupportedStates.SWITCHOVER_FAILED)
        deployment.status_details = "Switchover failed: green environment replication is not healthy"
        self._publish(backend, deployment, "failure", "Switchover canceled")
        self._publish_cluster(_cluster(backend, deployment.source), "RDS-EVENT-0261",
                              "Switchover was canceled due to green environment replication not being healthy.")

    def _time_out(self, backend, deployment) -> None:
        self._source.lift_fence()
        deployment.set_status(deployment.SupportedStates.AVAILABLE)
        deployment.status_details = "Switchover timed out; changes were rolled back"
        self._publish(backend, deployment, "failure", "Switchover canceled due to timeout")
        self._publish_cluster(_cluster(backend, deployment.source), "RDS-EVENT-0261",
                              "Switchover was canceled due to timeout.")

    @staticmethod
    def _rehome(backend, blue_members, old_name: str, green_members, production_name: str) -> None:
        """Move instances with their renamed clusters and give green's the blue names (moto does neither)."""
        for member in blue_members:
            member.db_cluster_identifier = old_name
            name = member.db_instance_identifier
            backend.modify_db_instance(db_instance_identifier=name,
                                       db_kwargs={"new_db_instance_identifier": f"{name}-old1"})
        for member, blue_member in zip(green_members, blue_members, strict=True):
            member.db_cluster_identifier = production_name
            backend.modify_db_instance(db_instance_identifier=member.db_instance_identifier,
                                       db_kwargs={"new_db_instance_identifier": blue_member.db_instance_identifier
                                                  .removesuffix("-old1")})

    @staticmethod
    def _publish(backend, deployment, category: str, message: str) -> None:
        identifier = deployment.blue_green_deployment_identifier
        arn = f"arn:aws:rds:{backend.region_name}:{backend.account_id}:deployment:{identifier}"
        backend.events.append(RdsEvent(identifier, "blue-green-deployment", message, [category], arn,
                                       datetime.now(UTC)))


    def _publish_cluster(self, cluster, event_id: str, message: str) -> None:
        """The Aurora cluster-level blue/green event, through EventBridge (DescribeEvents has the deployment's)."""
        if self._events is not None:
            self._events.rds("RDS Blue Green Deployment Event", event_id, cluster.db_cluster_identifier,
                             cluster.db_cluster_arn, message, ["notification"], "CLUSTER")


def _cluster(backend, arn: str):
    return next(c for c in backend.clusters.values() if c.db_cluster_arn == arn)



