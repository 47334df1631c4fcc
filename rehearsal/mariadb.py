"""A private MariaDB server with a real binlog, standing in for one Aurora MySQL writer."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pymysql

from rehearsal.net import LOOPBACK, free_port, wait_for_port
from rehearsal.process import require_binary, terminate, wait_gone

INSTALL_HINT = "Install it with: apt-get install -y mariadb-server mariadb-client"

# Aurora MySQL names its binlog files mysql-bin-changelog.NNNNNN on every cluster,
# so blue and green use the same base name and a stale position can look valid.
BINLOG_BASENAME = "mysql-bin-changelog"


@dataclass(frozen=True)
class BinlogCoordinates:
    """SHOW MASTER STATUS of one server: meaningful only on that server."""

    file: str
    position: int
    gtid: str

    def __str__(self) -> str:
        return f"{self.file}:{self.position}"


class MariaDBServer:
    """One mariadbd in a temp directory on a free 127.0.0.1 port.

    Started with ROW binlog, FULL row image and FULL row metadata (the CDC
    reader needs column names). ``root`` is reachable only over the socket;
    every other user connects over TCP.
    """

    def __init__(self, name: str, base_dir: Path, server_id: int, replica: bool = False) -> None:
        self.name = name
        self.server_id = server_id
        self.replica = replica
        self.dir = base_dir / name
        self.port = free_port()
        self.socket = self.dir / "mysqld.sock"
        self._proc: subprocess.Popen | None = None

    @property
    def pid_file(self) -> Path:
        return self.dir / "mysqld.pid"

    def install(self) -> subprocess.Popen:
        """Start mariadb-install-db in the background (returns the process to wait on)."""
        tool = require_binary("mariadb-install-db", ["mariadb-install-db", "mysql_install_db"], INSTALL_HINT)
        (self.dir / "data").mkdir(parents=True)
        (self.dir / "tmp").mkdir()
        return subprocess.Popen(
            [tool, "--no-defaults", "--user=root", f"--datadir={self.dir / 'data'}", f"--tmpdir={self.dir / 'tmp'}",
             "--auth-root-authentication-method=socket", "--skip-test-db"],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "install.log", "wb"),
        )

    def start(self) -> None:
        """Start mariadbd (after install) and wait until it accepts connections."""
        daemon = require_binary("mariadbd", ["mariadbd", "/usr/sbin/mariadbd", "mysqld"], INSTALL_HINT)
        args = [
            daemon, "--no-defaults", "--user=root", f"--datadir={self.dir / 'data'}", f"--tmpdir={self.dir / 'tmp'}",
            f"--port={self.port}", f"--socket={self.socket}", f"--bind-address={LOOPBACK}",
            f"--pid-file={self.pid_file}", f"--log-error={self.dir / 'error.log'}",
            f"--log-bin={BINLOG_BASENAME}", "--binlog-format=ROW", "--binlog-row-image=FULL",
            "--binlog-row-metadata=FULL", f"--server-id={self.server_id}", "--skip-name-resolve",
            "--innodb-buffer-pool-size=128M", "--innodb-flush-log-at-trx-commit=2", "--sync-binlog=0",
            "--max-connections=200",
        ]
        if self.replica:
            args += ["--log-slave-updates", f"--relay-log={self.name}-relay"]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(self.port, 30, f"MariaDB {self.name}")
            self._wait_for_socket()
        except TimeoutError:
            self.stop()
            log = (self.dir / "error.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"MariaDB {self.name} did not start; error log tail:\n{log}") from None

    def _wait_for_socket(self) -> None:
        deadline = time.monotonic() + 15
        while True:
            try:
                self.admin().close()
                return
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"MariaDB {self.name} socket not ready") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop mariadbd and wait until it is gone."""
        if self._proc is not None:
            terminate(self._proc)
            self._proc = None
        wait_gone(self.pid_file)

    def kill(self) -> None:
        """``kill -9`` mariadbd, as a host failure does (no shutdown, no flush), and reap it; ``start()`` then runs
        crash recovery on the same data directory."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=15)
            self._proc = None

    def admin(self, **kwargs) -> pymysql.Connection:
        """A root connection over the unix socket (the estate's own control channel)."""
        return pymysql.connect(unix_socket=str(self.socket), user="root", autocommit=True, **kwargs)

    def execute(self, *statements: str, args: tuple | None = None) -> list[tuple]:
        """Run statements as root; return the rows of the last one."""
        with self.admin() as conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement, args)
            return list(cur.fetchall())

    def master_status(self) -> BinlogCoordinates:
        """This server's own binlog end: SHOW MASTER STATUS plus @@gtid_binlog_pos."""
        with self.admin() as conn, conn.cursor() as cur:
            cur.execute("SHOW MASTER STATUS")
            file, position = cur.fetchone()[:2]
            cur.execute("SELECT @@gtid_binlog_pos")
            (gtid,) = cur.fetchone()
        return BinlogCoordinates(file, int(position), gtid)

    def binary_logs(self) -> dict[str, int]:
        """SHOW BINARY LOGS as {file: size}."""
        return {row[0]: int(row[1]) for row in self.execute("SHOW BINARY LOGS")}
