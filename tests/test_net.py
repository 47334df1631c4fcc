"""Loopback ports for the estate: free ones, from this process's slice when parallel workers share the machine."""

from __future__ import annotations

import socket

import pytest

from rehearsal.net import LOOPBACK, PORTS, PORTS_ENV, free_port, port_range


def test_without_a_slice_the_whole_non_ephemeral_range_is_used(monkeypatch):
    monkeypatch.delenv(PORTS_ENV, raising=False)
    assert port_range() == PORTS and PORTS.stop <= 32768


def test_a_worker_picks_only_from_its_slice(monkeypatch):
    monkeypatch.setenv(PORTS_ENV, "26000-26009")
    assert port_range() == range(26000, 26010)
    assert {free_port() for _ in range(20)} <= set(range(26000, 26010))


def test_a_port_in_use_is_never_returned(monkeypatch):
    with socket.socket() as busy:
        busy.bind((LOOPBACK, 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv(PORTS_ENV, f"{port}-{port}")
        with pytest.raises(RuntimeError, match=f"no free port on {LOOPBACK} in {port}-{port}"):
            free_port()
