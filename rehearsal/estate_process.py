"""An estate in a child process, for Airflows that run more than one estate (one per pipeline).

moto keeps its fake AWS in module globals, so one Python process holds one estate's AWS: a second
estate in the same process would share (and, at start, reset) the first one's. Each
``EstateProcess`` therefore runs ``Estate.running()`` in a Python child of its own, which writes what
Airflow needs to reach it (connections, deployment id, records bucket, moto URL) as JSON and keeps the
estate up until SIGTERM. Everything the estate starts lives in the child's process group.

``python -m rehearsal.estate_process <info.json>`` is the child.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3

from rehearsal.aws import CREDENTIALS, REGION
from rehearsal.process import terminate

STARTUP_TIMEOUT_S = 120.0


class EstateProcess:
    """A running estate in a child process; ``info`` is what ``Estate`` tells Airflow about itself."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._info: dict | None = None
        self._proc: subprocess.Popen | None = None

    @classmethod
    @contextlib.contextmanager
    def running_many(cls, count: int) -> Iterator[list[EstateProcess]]:
        """``count`` estates starting side by side (``info`` waits for one to be up); all stopped on exit."""
        estates = [cls(Path(tempfile.mkdtemp(prefix="cdc-estate-proc-"))) for _ in range(count)]
        try:
            for estate in estates:
                estate.spawn()
            yield estates
        finally:
            for estate in estates:  # all stop side by side
                estate.request_stop()
            for estate in estates:
                estate.stop()
                shutil.rmtree(estate.dir, ignore_errors=True)

    def spawn(self) -> None:
        log = (self.dir / "estate.log").open("w")
        self._proc = subprocess.Popen([sys.executable, "-m", "rehearsal.estate_process", str(self.dir / "info.json")],
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                      cwd=Path(__file__).resolve().parent.parent)  # the checkout: not installed
        log.close()

    @property
    def info(self) -> dict:
        """What Airflow needs to reach the estate; waits (bounded) until it is up."""
        if self._info is None:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            path = self.dir / "info.json"
            while not path.exists():
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"estate did not start (rc={self._proc.poll()}):\n{self.log_tail()}")
                time.sleep(0.2)
            self._info = json.loads(path.read_text())
        return self._info

    def log_tail(self, chars: int = 4000) -> str:
        log = self.dir / "estate.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""

    def client(self, service: str):
        """A boto3 client of this estate's AWS (its moto server)."""
        return boto3.client(service, region_name=REGION, endpoint_url=self.info["aws_url"], **CREDENTIALS)

    def request_stop(self) -> None:
        """SIGTERM: the child stops its estate."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the estate (SIGTERM, wait, SIGKILL if it lingers); whatever is left of its process group is then
        killed."""
        if self._proc is None:
            return
        terminate(self._proc, timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)


def _serve(info_path: Path) -> int:
    """The child: start an estate, publish its info, keep it up until SIGTERM."""
    from rehearsal.estate import Estate

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Estate.running() as estate:
        info = {"deployment_id": estate.deployment_id, "airflow_env": estate.airflow_env(), "aws_url": estate.aws.url,
                "records_bucket": estate.resources.records_bucket}
        partial = info_path.with_suffix(".partial")
        partial.write_text(json.dumps(info))
        partial.rename(info_path)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(_serve(Path(sys.argv[1])))
