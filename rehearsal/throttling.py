"""AWS throttling on the estate: bursts of ThrottlingException on the describe calls the runbooks poll with.

Real AWS throttles a busy account's control-plane calls (HTTP 400, code ``ThrottlingException`` on DMS,
``Throttling`` on RDS); SDK retries are expected to absorb short bursts (botocore retries both codes:
https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html). Installed into moto, this
controller makes the actions in ``faults.actions`` (default: :data:`THROTTLED_ACTIONS`; any of
:data:`THROTTLEABLE_ACTIONS`) answer calls signed with the DAGs' key (the Airflow connection's, never the
estate's own) in a repeating pattern: ``faults.burst`` consecutive calls are throttled, then ``faults.served``
calls are served. Off by default (``burst == 0``).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass

from moto.core.exceptions import ServiceException
from moto.dms.responses import DatabaseMigrationServiceResponse
from moto.rds.responses import RDSResponse
from moto.redshiftdata.responses import RedshiftDataAPIServiceResponse

from rehearsal.aws import DAG_ACCESS_KEY_ID
from rehearsal.patching import Patches

# API action -> (moto response class, its method, the error code the real service returns)
THROTTLED_ACTIONS = {
    "DescribeReplicationTasks": (DatabaseMigrationServiceResponse, "describe_replication_tasks",
                                 "ThrottlingException"),
    "DescribeBlueGreenDeployments": (RDSResponse, "describe_blue_green_deployments", "Throttling"),
    "DescribeDBClusters": (RDSResponse, "describe_db_clusters", "Throttling"),
}
THROTTLEABLE_ACTIONS = {**THROTTLED_ACTIONS,
                        "DescribeExportTasks": (RDSResponse, "describe_export_tasks", "Throttling"),
                        "DescribeStatement": (RedshiftDataAPIServiceResponse, "describe_statement",
                                              "ThrottlingException")}
_SIGNING_KEY = re.compile(r"Credential=([^/,\s]+)/")


class Throttled(ServiceException):
    """What AWS answers a throttled call: HTTP 400 with a throttling error code (moto serialises it in the
    service's protocol, and warns that the code is not one of the service model's error shapes: AWS sends it
    for every service without modelling it)."""

    def __init__(self, code: str) -> None:
        super().__init__(code, "Rate exceeded")


@dataclass
class ThrottlingFaults:
    burst: int = 0  # consecutive throttled calls per action; 0 = off
    served: int = 5  # calls served between bursts
    actions: frozenset[str] = frozenset(THROTTLED_ACTIONS)  # which of THROTTLEABLE_ACTIONS


class ThrottlingController:
    def __init__(self) -> None:
        self.faults = ThrottlingFaults()
        self.throttled: Counter[str] = Counter()  # action -> calls answered with a throttling error
        self._calls: Counter[str] = Counter()  # action -> DAG calls seen while throttling is on
        self._lock = threading.Lock()
        self._patches = Patches()

    def install(self) -> None:
        """Wrap each action's moto response method (whatever is installed now, e.g. the DMS controller's)."""
        for action, (response_cls, method, code) in THROTTLEABLE_ACTIONS.items():
            self._patches.set(response_cls, method, self._throttling(action, code, getattr(response_cls, method)))

    def uninstall(self) -> None:
        self._patches.restore()

    def _throttling(self, action: str, code: str, serve):
        controller = self

        def respond(response):
            if _signed_by_dags(response) and controller._throttles(action):
                raise Throttled(code)
            return serve(response)

        return respond

    def _throttles(self, action: str) -> bool:
        with self._lock:
            burst, served = self.faults.burst, self.faults.served
            if burst <= 0 or action not in self.faults.actions:
                return False
            position = self._calls[action] % (burst + served)
            self._calls[action] += 1
            if position < burst:
                self.throttled[action] += 1
                return True
            return False


def _signed_by_dags(response) -> bool:
    """Whether the call was signed (SigV4) with the DAGs' key (moto's own key parsing wants AKIA-style keys)."""
    signed = _SIGNING_KEY.search(response.headers.get("Authorization", ""))
    return signed is not None and signed.group(1) == DAG_ACCESS_KEY_ID
