"""The AWS control plane of the estate: a moto server on 127.0.0.1, in this process.

In-process (ThreadedMotoServer) so the estate's controllers can patch moto's
models; DAGs and hooks reach it over HTTP exactly as they would reach AWS,
through an Airflow ``aws`` connection whose ``endpoint_url`` is this server.
"""

from __future__ import annotations

import logging
import secrets

import boto3
import requests
from moto.server import ThreadedMotoServer

from rehearsal.net import LOOPBACK, free_port, wait_for_port

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "estate", "aws_secret_access_key": "estate"}
# The runbooks sign with their own key (the Airflow aws connection), so a test can tell the calls a DAG
# makes from the estate's own seeding, controllers and assertions.
DAG_ACCESS_KEY_ID = "airflow-dags"


class MotoControlPlane:
    def __init__(self) -> None:
        self.port = free_port()
        self._server = ThreadedMotoServer(ip_address=LOOPBACK, port=self.port, verbose=False)
        self.dag_secret_access_key = secrets.token_urlsafe(16)  # random, so a leak of it is unmistakable

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server.start()
        wait_for_port(self.port, 15, "moto server")
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()

    def stop(self) -> None:
        self._server.stop()

    def client(self, service: str):
        return boto3.client(service, region_name=REGION, endpoint_url=self.url, **CREDENTIALS)

    @staticmethod
    def backend(service: str):
        """moto's in-memory backend for a service (the controllers' handle on the fake AWS)."""
        from moto.backends import get_backend

        return get_backend(service)[ACCOUNT_ID][REGION]
