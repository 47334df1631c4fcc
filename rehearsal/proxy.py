"""A loopback TCP proxy that plays an RDS DNS endpoint.

RDS keeps endpoint names stable and moves them between servers (a switchover
renames green's endpoints to blue's). Clients here connect to the proxy's port;
the estate retargets it, dropping open connections and, while a switchover is
in progress, refusing new ones, as RDS does.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from rehearsal.net import LOOPBACK


class EndpointProxy:
    def __init__(self, name: str, target_port: int) -> None:
        self.name = name
        self._target_port = target_port
        self._blocked = False
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, name=f"proxy-{name}", daemon=True)
        self._thread.start()

    @property
    def target_port(self) -> int:
        return self._target_port

    def retarget(self, port: int) -> None:
        """Point the endpoint at another server and drop every open connection."""
        with self._lock:
            self._target_port = port
        self.drop_connections()

    def block(self, blocked: bool) -> None:
        """Refuse (close at once) new connections while blocked; drop open ones when blocking."""
        self._blocked = blocked
        if blocked:
            self.drop_connections()

    def drop_connections(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            _close(conn)

    def close(self) -> None:
        self._closed = True
        _close(self._listener)
        self.drop_connections()
        self._thread.join(timeout=5)

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._blocked:
                _close(client)
                continue
            try:
                upstream = socket.create_connection((LOOPBACK, self._target_port), timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(src)
                self._conns.discard(dst)
            _close(src)
            _close(dst)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
