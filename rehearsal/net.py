"""Loopback ports: pick free ones, wait for a listener."""

from __future__ import annotations

import random
import socket
import time

LOOPBACK = "127.0.0.1"


# Below Linux's ephemeral range (32768-60999): the estate opens many short client connections, and a
# server told to listen on a port an outgoing connection happens to use fails to start.
_PORTS = range(20000, 32000)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1, outside the ephemeral range, that nothing uses right now."""
    for port in random.sample(_PORTS, 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port on {LOOPBACK} in {_PORTS.start}-{_PORTS.stop}")


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
