"""Child server processes that the estate starts and must never leave behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path


class MissingServerBinary(RuntimeError):
    """A server program the estate needs is not installed on this machine."""


def require_binary(name: str, candidates: list[str], install_hint: str) -> str:
    """Return the path of the first existing candidate (or PATH lookup), else raise with a fix."""
    for candidate in candidates:
        if os.path.isabs(candidate) and os.access(candidate, os.X_OK):
            return candidate
        found = shutil.which(candidate)
        if found:
            return found
    raise MissingServerBinary(f"{name} is not installed (looked for {', '.join(candidates)}). {install_hint}")


def terminate(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM a child, wait, SIGKILL if it lingers; always reaps it."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def wait_gone(pid_file: Path, timeout: float = 15.0) -> None:
    """Wait until the process named in pid_file has exited (zombies count as gone)."""
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().split()[0])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except (FileNotFoundError, IndexError):
            return
        if state == "Z":
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
