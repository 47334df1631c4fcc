"""RDS endpoints that really reach the estate's servers.

moto invents ``*.rds.amazonaws.com`` names that resolve nowhere. Installed, this
makes every cluster and instance endpoint address 127.0.0.1 and gives each a
port that reaches the right MariaDB: a cluster's port is its cluster-endpoint
proxy, an instance's port is its server's own. After a switchover the cluster
that now carries the production name reports the production proxy, as RDS
moves endpoint names with the cluster names.
"""

from __future__ import annotations

from moto.rds import models as rds_models

from rehearsal.net import LOOPBACK
from rehearsal.patching import Patches
from rehearsal.source import BlueGreenSource

_loopback = property(lambda self: LOOPBACK)


class EstateEndpoints:
    def __init__(self, source: BlueGreenSource) -> None:
        self._source = source
        self._patches = Patches()

    def install(self) -> None:
        self._patches.set(rds_models.DBCluster, "endpoint", _loopback)
        self._patches.set(rds_models.DBCluster, "reader_endpoint", _loopback)
        self._patches.set(rds_models.DBInstance, "address", _loopback)

    def uninstall(self) -> None:
        self._patches.restore()

    def bind(self, backend, blue_cluster: str, green_cluster: str) -> None:
        """Point blue's and green's cluster and instance endpoints at the estate's servers."""
        self._bind_cluster(backend, blue_cluster, self._source.prod_endpoint.port, self._source.blue.port)
        self._bind_cluster(backend, green_cluster, self._source.standby_endpoint.port, self._source.green.port)

    def after_switchover(self, backend, production_name: str) -> None:
        backend.clusters[production_name].port = self._source.prod_endpoint.port
        backend.clusters[f"{production_name}-old1"].port = self._source.standby_endpoint.port

    @staticmethod
    def _bind_cluster(backend, name: str, cluster_port: int, server_port: int) -> None:
        cluster = backend.clusters[name]
        cluster.port = cluster_port
        for member in cluster.members:
            member.port = server_port
