"""An estate in a child process, for Airflows that run more than one estate (one per pipeline).

moto keeps its fake AWS in module globals, so one Python process holds one estate's AWS: a second
estate in the same process would share (and, at start, reset) the first one's. Each
``EstateProcess`` therefore runs ``Estate.running()`` in a Python child of its own, which writes what
Airflow needs to reach it (connections, deployment id, records bucket, moto URL) as JSON and keeps the
estate up until SIGTERM. Everything the estate starts lives in the child's process group.

``python -m rehearsal.estate_process <info.json> [--traffic]`` is the child. With ``traffic=True`` the child
runs the application's write traffic (``Estate.traffic()``) from start to stop; ``operations()`` asks it (SIGUSR1)
for its AWS operation log, to split a CDC gap into AWS's time and ours (``bench/switchover_live.py``).
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
from datetime import datetime
from pathlib import Path

import boto3

from rehearsal.aws import CREDENTIALS, REGION
from rehearsal.operations import AwsOperationLog
from rehearsal.process import terminate

STARTUP_TIMEOUT_S = 120.0


class EstateProcess:
    """A running estate in a child process; ``info`` is what ``Estate`` tells Airflow about itself."""

    def __init__(self, directory: Path, traffic: bool = False) -> None:
        self.dir = directory
        self.traffic = traffic
        self._info: dict | None = None
        self._proc: subprocess.Popen | None = None

    @classmethod
    @contextlib.contextmanager
    def running_many(cls, count: int, traffic: bool = False) -> Iterator[list[EstateProcess]]:
        """``count`` estates starting side by side (``info`` waits for one to be up); all stopped on exit."""
        estates = [cls(Path(tempfile.mkdtemp(prefix="cdc-estate-proc-")), traffic) for _ in range(count)]
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
        argv = [sys.executable, "-m", "rehearsal.estate_process", str(self.dir / "info.json")]
        self._proc = subprocess.Popen([*argv, "--traffic"] if self.traffic else argv,
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

    def operations(self, timeout: float = 30.0) -> AwsOperationLog:
        """The estate's AWS operation log so far (asked of the child with SIGUSR1)."""
        path = self.dir / "operations.json"
        path.unlink(missing_ok=True)
        self._proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while not path.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"no operation log from the estate:\n{self.log_tail()}")
            time.sleep(0.1)
        log = AwsOperationLog()
        for op in json.loads(path.read_text()):
            started, finished = datetime.fromisoformat(op["started"]), datetime.fromisoformat(op["finished"])
            log.record(op["name"], started, (finished - started).total_seconds())
        return log

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


def _write(path: Path, data) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data))
    partial.rename(path)


def _serve(info_path: Path, traffic: bool) -> int:
    """The child: start an estate, publish its info, keep it up (with write traffic if asked) until SIGTERM;
    on SIGUSR1 write its AWS operation log next to the info."""
    from rehearsal.estate import Estate

    stop, dump = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, lambda *_: dump.set())
    with Estate.running() as estate:
        info = {"deployment_id": estate.deployment_id, "airflow_env": estate.airflow_env(), "aws_url": estate.aws.url,
                "records_bucket": estate.resources.records_bucket}
        generator = estate.traffic().start() if traffic else None
        _write(info_path, info)
        while not stop.wait(0.1):
            if dump.is_set():
                dump.clear()
                _write(info_path.with_name("operations.json"), [
                    {"name": op.name, "started": op.started.isoformat(), "finished": op.finished.isoformat()}
                    for op in estate.operations.operations])
        if generator is not None:
            print(f"traffic: {generator.stop()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_serve(Path(sys.argv[1]), "--traffic" in sys.argv[2:]))
