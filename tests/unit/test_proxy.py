"""The endpoint proxy: forwards, retargets (dropping open connections) and blocks."""

from __future__ import annotations

import socket
import socketserver
import threading

import pytest

from rehearsal.net import LOOPBACK
from rehearsal.proxy import EndpointProxy


class _Named(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(1024):
            self.request.sendall(self.server.name + data)


@pytest.fixture
def servers():
    started = []
    for name in (b"a:", b"b:"):
        server = socketserver.ThreadingTCPServer((LOOPBACK, 0), _Named)
        server.daemon_threads = True
        server.name = name
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
    yield [s.server_address[1] for s in started]
    for server in started:
        server.shutdown()
        server.server_close()


def _ask(port: int, sock: socket.socket | None = None) -> bytes:
    sock = sock or socket.create_connection((LOOPBACK, port), timeout=5)
    sock.sendall(b"ping")
    return sock.recv(1024)


def test_forwards_then_retargets_and_drops_open_connections(servers):
    proxy = EndpointProxy("test", servers[0])
    try:
        held = socket.create_connection((LOOPBACK, proxy.port), timeout=5)
        assert _ask(proxy.port, held) == b"a:ping"
        proxy.retarget(servers[1])
        assert held.recv(1024) == b""  # the open connection was dropped
        assert _ask(proxy.port) == b"b:ping"
    finally:
        proxy.close()


def test_blocked_endpoint_refuses_until_unblocked(servers):
    proxy = EndpointProxy("test", servers[0])
    try:
        proxy.block(True)
        assert _ask(proxy.port) == b""
        proxy.block(False)
        assert _ask(proxy.port) == b"a:ping"
    finally:
        proxy.close()
