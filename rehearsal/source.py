"""The source database: a MariaDB blue/green pair standing in for an Aurora MySQL cluster
with an in-flight blue/green deployment.

Blue is the production writer. Green replicates from blue with its own binlog
(``log_slave_updates``) that started later, so green's binlog files and offsets
really differ from blue's, as on a green cluster cloned by RDS. Each side has an
instance endpoint (the server's own port) and a cluster endpoint (a proxy);
the production cluster endpoint follows the writer across a switchover, and the
standby endpoint names the other side (green before, old blue after).
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

from rehearsal.mariadb import BinlogCoordinates, MariaDBServer
from rehearsal.net import LOOPBACK
from rehearsal.proxy import EndpointProxy
from rehearsal.schema import RDS_PROCEDURES, SOURCE_DATABASE, SOURCE_DDL


@dataclass(frozen=True)
class Login:
    user: str
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12), repr=False)


# A well-run production keeps binlogs for a week; the readiness tests change it per case.
BINLOG_RETENTION_HOURS = 168


class SwitchoverError(RuntimeError):
    """The real switchover on the MariaDB pair could not complete."""


class BlueGreenSource:
    def __init__(self, base_dir: Path) -> None:
        self.blue = MariaDBServer("blue", base_dir, server_id=1)
        self.green = MariaDBServer("green", base_dir, server_id=2, replica=True)
        self.app = Login("app")
        self.dms = Login("dms_user")
        self._repl = Login("repl")
        self.prod_endpoint: EndpointProxy | None = None
        self.standby_endpoint: EndpointProxy | None = None
        self.switched_over = False

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        installs = [(self.blue, self.blue.install()), (self.green, self.green.install())]
        for server, proc in installs:
            if proc.wait(timeout=60) != 0:
                log = (server.dir / "install.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"mariadb-install-db failed for {server.name}:\n{log}")
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda server: server.start(), (self.blue, self.green)))
        self._prepare_blue()
        self._attach_green()
        self.prod_endpoint = EndpointProxy("production", self.blue.port)
        self.standby_endpoint = EndpointProxy("standby", self.green.port)

    def stop(self) -> None:
        for proxy in (self.prod_endpoint, self.standby_endpoint):
            if proxy is not None:
                proxy.close()
        for server in (self.green, self.blue):
            server.stop()

    def _prepare_blue(self) -> None:
        grants = (
            f"CREATE USER '{self._repl.user}'@'{LOOPBACK}' IDENTIFIED BY '{self._repl.password}'",
            f"GRANT REPLICATION SLAVE ON *.* TO '{self._repl.user}'@'{LOOPBACK}'",
            *RDS_PROCEDURES,
            f"CALL mysql.rds_set_configuration('binlog retention hours', {BINLOG_RETENTION_HOURS})",
            *SOURCE_DDL,
            f"CREATE USER '{self.app.user}'@'{LOOPBACK}' IDENTIFIED BY '{self.app.password}'",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON {SOURCE_DATABASE}.* TO '{self.app.user}'@'{LOOPBACK}'",
            f"CREATE USER '{self.dms.user}'@'{LOOPBACK}' IDENTIFIED BY '{self.dms.password}'",
            f"GRANT REPLICATION CLIENT, REPLICATION SLAVE, SELECT ON *.* TO '{self.dms.user}'@'{LOOPBACK}'",
            f"GRANT EXECUTE ON PROCEDURE mysql.rds_show_configuration TO '{self.dms.user}'@'{LOOPBACK}'",
            # MariaDB split SHOW SLAVE STATUS out of REPLICATION CLIENT; on MySQL that grant covers it.
            f"GRANT SLAVE MONITOR ON *.* TO '{self.dms.user}'@'{LOOPBACK}'",
        )
        self.blue.execute(*grants)

    def _attach_green(self) -> None:
        # Green starts its own binlog sequence before it replicates anything, as a clone does.
        self.green.execute(
            "SET GLOBAL read_only = 1",
            "FLUSH BINARY LOGS",
            "FLUSH BINARY LOGS",
            f"CHANGE MASTER TO MASTER_HOST='{LOOPBACK}', MASTER_PORT={self.blue.port}, "
            f"MASTER_USER='{self._repl.user}', MASTER_PASSWORD='{self._repl.password}', "
            "MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
            "START SLAVE",
        )
        self.wait_green_caught_up(timeout=30)

    # -- state -----------------------------------------------------------------------------------
    @property
    def writer(self) -> MariaDBServer:
        return self.green if self.switched_over else self.blue

    def connect_app(self, **kwargs) -> pymysql.Connection:
        """The application's connection: app user through the production cluster endpoint."""
        return pymysql.connect(host=LOOPBACK, port=self.prod_endpoint.port, user=self.app.user,
                               password=self.app.password, database=SOURCE_DATABASE, autocommit=True,
                               connect_timeout=5, read_timeout=10, write_timeout=10, **kwargs)

    def wait_green_caught_up(self, timeout: float) -> None:
        """Wait until green has applied everything blue has binlogged."""
        target = self.blue.master_status().gtid
        with self.green.admin() as conn, conn.cursor() as cur:
            cur.execute("SELECT MASTER_GTID_WAIT(%s, %s)", (target, timeout))
            (result,) = cur.fetchone()
        if result != 0:
            raise SwitchoverError(f"green did not reach blue's GTID {target} within {timeout}s")

    # -- switchover ------------------------------------------------------------------------------
    def fence_writes(self) -> None:
        """RDS step 2-3: stop new writes and drop connections (blue read-only, endpoint blocked)."""
        self.blue.execute("SET GLOBAL read_only = 1")
        self.prod_endpoint.block(True)
        self.standby_endpoint.block(True)

    def lift_fence(self) -> None:
        """Roll back a switchover that did not complete: blue writable again, connections allowed."""
        self.blue.execute("SET GLOBAL read_only = 0")
        self.prod_endpoint.block(False)
        self.standby_endpoint.block(False)

    def promote_green(self, catch_up_timeout: float = 30) -> BinlogCoordinates:
        """RDS steps 4-7 after the fence: green catches up, stops replicating, becomes the writer
        behind the production endpoint. Returns green's binlog coordinates at that moment."""
        self.wait_green_caught_up(catch_up_timeout)
        self._wait_sql_thread_idle()
        self.green.execute("STOP SLAVE")
        coordinates = self.green.master_status()
        self.green.execute("RESET SLAVE ALL", "SET GLOBAL read_only = 0")
        self.switched_over = True
        self.prod_endpoint.retarget(self.green.port)
        self.standby_endpoint.retarget(self.blue.port)
        self.prod_endpoint.block(False)
        self.standby_endpoint.block(False)
        return coordinates

    def _wait_sql_thread_idle(self) -> None:
        """MASTER_GTID_WAIT returns at commit; also wait for the binlog write of that commit."""
        deadline = time.monotonic() + 10
        target = self.blue.master_status().gtid
        while self.green.master_status().gtid != target:
            if time.monotonic() > deadline:
                raise SwitchoverError("green's binlog did not reach blue's last GTID")
            time.sleep(0.01)
