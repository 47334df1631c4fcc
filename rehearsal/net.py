"""Loopback ports: pick free ones, wait for a listener."""

from __future__ import annotations

import fcntl
import os
import random
import socket
import tempfile
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"


# Below Linux's ephemeral range (32768-60999): the estate opens many short client connections, and a
# server told to listen on a port an outgoing connection happens to use fails to start.
PORTS = range(20000, 32000)
# Processes that start estates side by side (parallel test workers) each get a slice, "FIRST-LAST", so
# that two of them never pick the same free port between checking it and binding it.
PORTS_ENV = "CDC_ESTATE_PORTS"


def port_range() -> range:
    first, _, last = os.environ.get(PORTS_ENV, "").partition("-")
    return range(int(first), int(last) + 1) if first and last else PORTS


# Ports this process has handed out: a server told to use one may not have bound it yet (servers start in
# parallel), so the bind check alone could hand the same port out twice.
_handed_out: set[int] = set()
# Another process of ours (an estate in a child process beside an Airflow cluster) picks from the same range: each
# port handed out is also reserved across processes by an exclusive lock on a file of its own, held open until this
# process exits (the kernel releases it then, however the process ends).
RESERVATIONS = Path(tempfile.gettempdir()) / "cdc-runbooks-ports"
_reservations: dict[int, int] = {}


def _reserve(port: int) -> bool:
    """Lock the port's reservation file for the life of this process; False when another process holds it."""
    RESERVATIONS.mkdir(exist_ok=True)
    fd = os.open(RESERVATIONS / str(port), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    _reservations[port] = fd
    return True


def free_port() -> int:
    """Return a TCP port on 127.0.0.1, outside the ephemeral range, that nothing uses right now and that no process of
    ours has handed out before (this one, or another still running)."""
    ports = port_range()
    for port in random.sample(ports, min(200, len(ports))):
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
        if not _reserve(port):
            continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port on {LOOPBACK} in {ports.start}-{ports.stop - 1}")


def wait_for_port(port: int, timeout: float, what: str) -> None:
    """Block until something accepts connections on 127.0.0.1:port, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not listen on {LOOPBACK}:{port} within {timeout}s") from None
            time.sleep(0.05)
