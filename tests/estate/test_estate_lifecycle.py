"""The estate starts on loopback only and stops leaving no process, port or directory behind."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from rehearsal.estate import Estate
from rehearsal.net import LOOPBACK

pytestmark = pytest.mark.estate


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((LOOPBACK, port)) == 0


def _pids(estate: Estate) -> list[int]:
    pid_files = [estate.source.blue.pid_file, estate.source.green.pid_file,
                 estate.warehouse.dir / "data" / "postmaster.pid"]
    return [int(f.read_text().split()[0]) for f in pid_files]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_estate_stops_cleanly():
    with Estate.running() as estate:
        pids = _pids(estate)
        ports = [estate.source.blue.port, estate.source.green.port, estate.warehouse.port, estate.aws.port,
                 estate.source.prod_endpoint.port, estate.source.standby_endpoint.port]
        directories = [estate.dir, estate.warehouse.dir]
        assert all(_alive(pid) for pid in pids)
        assert all(_listening(port) for port in ports)
        traffic = estate.traffic().start()  # stopping with traffic running must still be clean
    traffic.stop()

    assert not [pid for pid in pids if _alive(pid)]
    assert not [port for port in ports if _listening(port)]
    assert not [d for d in directories if d.exists()]


def test_servers_listen_on_loopback_only(shared_estate):
    blue = shared_estate.source.blue.execute("SELECT @@bind_address")[0][0]
    warehouse = shared_estate.warehouse.query("SHOW listen_addresses")[0][0]
    assert (blue, warehouse) == (LOOPBACK, LOOPBACK)
