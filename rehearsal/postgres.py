"""A private PostgreSQL server standing in for the Redshift warehouse."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg2

from rehearsal.net import LOOPBACK, free_port
from rehearsal.process import MissingServerBinary

INSTALL_HINT = "Install the PostgreSQL server: apt-get install -y postgresql"


def _pg_bin(tool: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), reverse=True)
    if found:
        return found[0]
    on_path = shutil.which(tool)
    if on_path:
        return on_path
    raise MissingServerBinary(f"PostgreSQL's {tool} is not installed. {INSTALL_HINT}")


class PostgresServer:
    """One postgres in a temp directory on a free 127.0.0.1 port, trust auth, no fsync.

    initdb refuses to run as root, so as root the server runs as the ``postgres``
    OS user (created by the Debian package) in a directory of its own that it
    can reach (a root-only temp directory would hide it).
    """

    def __init__(self, base_dir: Path, database: str = "warehouse") -> None:
        self._own_dir = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="cdc-estate-pg-")) if self._own_dir else base_dir / "postgres"
        self.port = free_port()
        self.database = database
        self._as_user: list[str] = []

    def _run(self, args: list[str]) -> None:
        result = subprocess.run(self._as_user + args, capture_output=True, text=True, check=False, cwd=self.dir)
        if result.returncode != 0:
            log = self.dir / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed: {result.stderr or result.stdout}\n{tail}")

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if self._own_dir:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise MissingServerBinary(f"running as root needs the 'postgres' OS user. {INSTALL_HINT}") from None
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run([_pg_bin("initdb"), "-D", str(self.dir / "data"), "-U", "postgres", "--auth=trust",
                   "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        self.resume()
        conn = self.connect("postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            conn.close()

    def resume(self) -> None:
        """Start the server on its data directory (after :meth:`start` initialised it, or after :meth:`halt`)."""
        options = (f"-p {self.port} -c listen_addresses={LOOPBACK} -c unix_socket_directories={self.dir} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=128MB")
        self._run([_pg_bin("pg_ctl"), "-D", str(self.dir / "data"), "-l", str(self.dir / "server.log"),
                   "-w", "-t", "30", "-o", options, "start"])

    def halt(self) -> None:
        """An outage: stop the server at once, keeping its data; :meth:`resume` brings it back on the same port."""
        if (self.dir / "data" / "postmaster.pid").exists():
            self._run([_pg_bin("pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop"])

    def stop(self) -> None:
        self.halt()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def connect(self, database: str | None = None):
        """A superuser connection over TCP (autocommit off, as psycopg2 defaults)."""
        return psycopg2.connect(host=LOOPBACK, port=self.port, user="postgres", dbname=database or self.database)

    def query(self, sql: str, args: tuple | None = None) -> list[tuple]:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                rows = list(cur.fetchall()) if cur.description else []
            conn.commit()
            return rows
        finally:
            conn.close()
