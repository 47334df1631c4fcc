"""A real Airflow deployment with the CeleryExecutor, on 127.0.0.1 only, started and stopped as one.

``with AirflowCluster.running(env) as cluster:`` starts what docker-compose.yml runs, as local processes
in one temp directory: a PostgreSQL metadata DB, a private redis-server as Celery broker, ``airflow db
migrate``, then the api-server, scheduler, dag-processor, triggerer and Celery workers, all on this
repository's dags/ (``env()`` adds connections, CDC_RUNBOOKS_PIPELINES ...). Nothing listens beyond
127.0.0.1: the log servers that bind every interface are skipped (every component shares one log folder).
Each component runs in its own process group; on exit every group is terminated, then killed.

``cluster.api(method, path, ...)`` calls the REST API as the UI does (a JWT of the simple auth manager's
admin user).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import requests

from rehearsal.net import LOOPBACK, free_port, wait_for_port
from rehearsal.postgres import PostgresServer
from rehearsal.process import require_binary

DAGS = Path(__file__).resolve().parent.parent / "dags"
AIRFLOW = str(Path(sys.executable).parent / "airflow")
ADMIN = "admin"
STARTUP_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 45.0
API_TIMEOUT_S = 90.0  # a loaded 2-core machine (tests running beside) has kept one request waiting > 30 s


def poll(predicate: Callable[[], object], timeout: float, what: str, interval: float = 1.0,
         check: Callable[[], None] | None = None):
    """Return ``predicate()``'s first truthy value; ``check()`` may raise early; TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if check is not None:
            check()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


class AirflowCluster:
    def __init__(self, base_dir: Path, env: Callable[[], dict[str, str]], workers: int = 2,
                 worker_concurrency: int = 2) -> None:
        self.dir = base_dir
        self.home = base_dir / "airflow-home"
        self.metadata = PostgresServer(base_dir, database="airflow")
        self.redis_port = free_port()
        self.api_port = free_port()
        self.password = secrets.token_urlsafe(12)
        self._secrets = {"API__SECRET_KEY": secrets.token_hex(16), "API_AUTH__JWT_SECRET": secrets.token_hex(32)}
        self.workers = workers
        self.worker_concurrency = worker_concurrency
        self._extra_env = env
        self.extra_env: dict[str, str] = {}
        self.processes: dict[str, subprocess.Popen] = {}
        self._crashed: dict[str, list[str]] = {}
        self._token: str | None = None

    @classmethod
    @contextlib.contextmanager
    def running(cls, env: Callable[[], dict[str, str]], **kwargs) -> Iterator[AirflowCluster]:
        """``env()`` (connections, CDC_RUNBOOKS_PIPELINES ...) is called once the metadata DB is migrated, just
        before the components start: what it waits for (e.g. estates) starts meanwhile."""
        directory = Path(tempfile.mkdtemp(prefix="cdc-airflow-cluster-"))
        cluster = cls(directory, env, **kwargs)
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()
            shutil.rmtree(directory, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.api_port}"

    # -- configuration ---------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """The environment of every component: the caller's without any Airflow settings, then ours. Bytecode
        is cached in the cluster's directory: the components import the same modules, each compiles once."""
        inherited = {k: v for k, v in os.environ.items()
                     if not k.startswith(("AIRFLOW", "CDC_RUNBOOKS", "PYTHONDONTWRITEBYTECODE"))}
        database = f"postgresql+psycopg2://postgres@{LOOPBACK}:{self.metadata.port}/airflow"
        settings = {
            "CORE__EXECUTOR": "CeleryExecutor",
            "CORE__DAGS_FOLDER": str(DAGS),
            "CORE__LOAD_EXAMPLES": "False",
            "CORE__PARALLELISM": "8",
            "CORE__DAGBAG_IMPORT_TIMEOUT": "120",  # default 30 s: a loaded 2-core machine has timed a file out
            "DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "180",
            "CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
            "CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "DATABASE__SQL_ALCHEMY_CONN": database,
            "CELERY__BROKER_URL": f"redis://{LOOPBACK}:{self.redis_port}/0",
            "CELERY__RESULT_BACKEND": "db+" + database.replace("+psycopg2", ""),
            "CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
            "CELERY__SYNC_PARALLELISM": "1",
            "CELERY__CELERY_CONFIG_OPTIONS": "cdc_runbooks.celery_config.CELERY_CONFIG",  # workers preload the runbooks
            "WORKERS__EXECUTION_API_TIMEOUT": "30",  # default 5 s: a busy api-server failed task starts
            "CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "3600",
            "API__HOST": LOOPBACK,
            "API__PORT": str(self.api_port),
            "API__BASE_URL": self.url,
            "API__WORKERS": "1",
            **self._secrets,
            "OPERATORS__DEFAULT_DEFERRABLE": "True",
            "SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.1",
            "WORKERS__MIN_HEARTBEAT_INTERVAL": "1",  # a finished task frees its worker slot up to 1 s late, not 5
            "DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
        }
        # record_run sets each run's note through the REST API as this user (cdc_runbooks.run_note).
        api = {"conn_type": "http", "host": self.url, "login": ADMIN, "password": self.password}
        return {**inherited, "AIRFLOW_HOME": str(self.home), "PATH": f"{Path(AIRFLOW).parent}:{os.environ['PATH']}",
                "PYTHONPYCACHEPREFIX": str(self.dir / "pycache"), "AIRFLOW_CONN_AIRFLOW_API": json.dumps(api),
                **{f"AIRFLOW__{key}": value for key, value in settings.items()}, **self.extra_env}

    def components(self) -> dict[str, list[str]]:
        workers = {f"worker{n}": ["celery", "worker", "--celery-hostname", f"worker{n}@{LOOPBACK}",
                                  "--concurrency", str(self.worker_concurrency), "--skip-serve-logs",
                                  "--without-gossip", "--without-mingle"] for n in range(1, self.workers + 1)}
        return {"api-server": ["api-server", "--host", LOOPBACK, "--port", str(self.api_port), "--workers", "1"],
                "scheduler": ["scheduler", "--skip-serve-logs"], "dag-processor": ["dag-processor"],
                "triggerer": ["triggerer", "--skip-serve-logs"], **workers}

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self.home.mkdir(parents=True)
        (self.home / "passwords.json").write_text(json.dumps({ADMIN: self.password}))
        self.metadata.start()
        self._spawn("redis", [require_binary("redis-server", ["/usr/bin/redis-server", "redis-server"],
                                             "Install it: apt-get install -y redis-server"),
                              "--port", str(self.redis_port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no",
                              "--dir", str(self.dir), "--daemonize", "no"])
        wait_for_port(self.redis_port, 15, "redis-server")
        migrate = subprocess.run([AIRFLOW, "db", "migrate"], env=self.env(), capture_output=True, text=True,
                                 timeout=300, check=False)
        if migrate.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{(migrate.stdout + migrate.stderr)[-3000:]}")
        self.extra_env = self._extra_env()
        for name, args in self.components().items():
            self._spawn(name, [AIRFLOW, *args])
        poll(self._healthy, STARTUP_TIMEOUT_S, "Airflow components healthy", check=self.check_alive)

    def _spawn(self, name: str, argv: list[str]) -> None:
        with (self.dir / f"{name}.log").open("a") as log:
            self.processes[name] = subprocess.Popen(argv, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                                    stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.dir)

    def crash(self, name: str) -> None:
        """``kill -9`` a component's process group, as a host failure does (nothing is flushed or handed back)."""
        proc = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        self._crashed[name] = proc.args

    def restart(self, name: str) -> None:
        """Start a crashed component again, as its supervisor (systemd, Kubernetes) would."""
        self._spawn(name, self._crashed.pop(name))

    def check_alive(self) -> None:
        """Raise with its log if a component has exited."""
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.component_log(name)}")

    def _healthy(self) -> bool:
        try:
            health = requests.get(f"{self.url}/api/v2/monitor/health", timeout=5).json()
        except (requests.RequestException, ValueError):
            return False
        return all(health.get(part, {}).get("status") == "healthy"
                   for part in ("metadatabase", "scheduler", "triggerer", "dag_processor"))

    def stop(self) -> None:
        """SIGTERM every component's process group at once, wait, SIGKILL what is left; then redis and the DB."""
        for proc in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        self.metadata.stop()

    def leftover_processes(self) -> list[str]:
        """Live (not zombie) processes in any process group this cluster started: ``pid command``."""
        groups = {proc.pid for proc in self.processes.values()}
        left = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if fields[0] != "Z" and int(fields[2]) in groups:
                    left.append(f"{stat.parent.name} {(stat.parent / 'cmdline').read_bytes()[:200]!r}")
        return left

    # -- REST API and logs -----------------------------------------------------------------------
    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        """Call ``/api/v2{path}`` as the admin user (a JWT from ``POST /auth/token``)."""
        if self._token is None:
            response = requests.post(f"{self.url}/auth/token", json={"username": ADMIN, "password": self.password},
                                     timeout=30)
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return requests.request(method, f"{self.url}/api/v2{path}", timeout=API_TIMEOUT_S,
                                headers={"Authorization": f"Bearer {self._token}"}, **kwargs)

    def component_log(self, name: str, chars: int = 3000) -> str:
        path = self.dir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def task_log(self, dag_id: str, run_id: str, task_id: str, chars: int = 3000) -> str:
        """The latest attempt's log of a task instance, from the shared log folder."""
        logs = sorted((self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}").glob(
            "**/attempt=*.log"))
        return logs[-1].read_text(errors="replace")[-chars:] if logs else "(no log)"
