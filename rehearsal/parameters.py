"""Cluster parameter changes made faithful: members go ``pending-reboot`` until rebooted.

moto 5.2.5 reports every cluster member's DBClusterParameterGroupStatus as
"in-sync" whatever happens to its group. Installed into moto, this controller
makes ModifyDBClusterParameterGroup and RebootDBInstance behave like Aurora's:

* a change with ApplyMethod ``pending-reboot``, or to a static parameter (only a
  reboot applies it), leaves every member of every cluster that uses the group
  ``pending-reboot``;
* RebootDBInstance applies the group to that instance: ``in-sync`` again;
* an ``immediate`` change to a dynamic parameter leaves the members ``in-sync``.

Only clusters attached to the group when it changes are affected, as on AWS, so
the estate's seeding (groups set before any cluster uses them) leaves every
member in-sync. See
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_WorkingWithParamGroups.Modifying.html
"""

from __future__ import annotations

import threading

from moto.rds import models as rds_models

from rehearsal.patching import Patches

IN_SYNC = "in-sync"
PENDING_REBOOT = "pending-reboot"
# Static cluster parameters the runbooks touch: a change applies only at the writer's next reboot
# (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Enhanced.binlog.html).
STATIC_PARAMETERS = frozenset({"aurora_enhanced_binlog"})


class ParameterStatusController:
    def __init__(self) -> None:
        self._pending: set[rds_models.DBInstance] = set()  # moto's instance objects survive renames
        self._lock = threading.Lock()
        self._patches = Patches()

    def install(self) -> None:
        controller = self
        backend_cls = rds_models.RDSBackend
        original_members = rds_models.DBCluster.db_cluster_members.fget
        original_modify = backend_cls.modify_db_cluster_parameter_group
        original_reboot = backend_cls.reboot_db_instance

        def db_cluster_members(cluster):
            return [{**entry, "DBClusterParameterGroupStatus": controller.status(instance)}
                    for entry, instance in zip(original_members(cluster), cluster.members, strict=True)]

        def modify_db_cluster_parameter_group(backend, db_cluster_parameter_group_name,
                                              db_cluster_parameter_group_parameters):
            parameters = list(db_cluster_parameter_group_parameters)
            group = original_modify(backend, db_cluster_parameter_group_name, parameters)
            if any(_needs_reboot(parameter) for parameter in parameters):
                controller.pend(backend, db_cluster_parameter_group_name)
            return group

        def reboot_db_instance(backend, db_instance_identifier):
            instance = original_reboot(backend, db_instance_identifier)
            controller.applied(instance)
            return instance

        self._patches.set(rds_models.DBCluster, "db_cluster_members", property(db_cluster_members))
        self._patches.set(backend_cls, "modify_db_cluster_parameter_group", modify_db_cluster_parameter_group)
        self._patches.set(backend_cls, "reboot_db_instance", reboot_db_instance)

    def uninstall(self) -> None:
        self._patches.restore()

    def status(self, instance) -> str:
        with self._lock:
            return PENDING_REBOOT if instance in self._pending else IN_SYNC

    def pend(self, backend, parameter_group: str) -> None:
        """Every member of every cluster using ``parameter_group`` now waits for a reboot."""
        with self._lock:
            for cluster in backend.clusters.values():
                if cluster.parameter_group == parameter_group:
                    self._pending.update(cluster.members)

    def applied(self, instance) -> None:
        """The instance rebooted: it runs with its cluster's parameter group."""
        with self._lock:
            self._pending.discard(instance)


def _needs_reboot(parameter: dict) -> bool:
    return parameter.get("ApplyMethod") == PENDING_REBOOT or parameter.get("ParameterName") in STATIC_PARAMETERS
