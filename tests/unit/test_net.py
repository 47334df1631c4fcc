"""Loopback ports for the estate: free ones, from this process's slice when parallel workers share the machine."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rehearsal import net
from rehearsal.net import LOOPBACK, PORTS, PORTS_ENV, free_port, port_range

ROOT = Path(__file__).resolve().parents[2]


def test_without_a_slice_the_whole_non_ephemeral_range_is_used(monkeypatch):
    monkeypatch.delenv(PORTS_ENV, raising=False)
    assert port_range() == PORTS and PORTS.stop <= 32768


def test_a_worker_picks_only_from_its_slice_and_never_the_same_port_twice(monkeypatch):
    """Servers started side by side may not have bound their ports yet: a port handed out is not handed out again."""
    monkeypatch.setenv(PORTS_ENV, "26000-26009")
    monkeypatch.setattr(net, "_handed_out", set())
    assert port_range() == range(26000, 26010)
    handed_out = []
    with pytest.raises(RuntimeError, match="no free port"):
        for _ in range(11):  # the slice runs out by the eleventh at the latest
            handed_out.append(free_port())
    assert handed_out and len(set(handed_out)) == len(handed_out) and set(handed_out) <= set(range(26000, 26010))


def test_a_port_in_use_is_never_returned(monkeypatch):
    with socket.socket() as busy:
        busy.bind((LOOPBACK, 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv(PORTS_ENV, f"{port}-{port}")
        with pytest.raises(RuntimeError, match=f"no free port on {LOOPBACK} in {port}-{port}"):
            free_port()


def test_a_port_handed_out_by_another_running_process_is_never_returned(monkeypatch):
    """An estate in a child process and an Airflow cluster beside it pick from the same range at the same time."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(PORTS_ENV, f"{port}-{port}")
    monkeypatch.setattr(net, "_handed_out", set())
    other = subprocess.Popen([sys.executable, "-c", "import sys; from rehearsal.net import free_port; "
                              "print(free_port(), flush=True); sys.stdin.read()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert other.stdout.readline().strip() == str(port)
        with pytest.raises(RuntimeError, match="no free port"):
            free_port()
    finally:
        other.communicate("")
    assert free_port() == port  # released with the process that held it
