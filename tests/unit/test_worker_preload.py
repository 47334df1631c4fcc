"""The Celery workers' preload: the runbooks' modules imported, one botocore loader shared by every session (with
the services' models parsed once), and the Celery configuration that makes workers import it."""

from __future__ import annotations

import boto3
import botocore.session

from cdc_runbooks import worker_preload
from cdc_runbooks.celery_config import CELERY_CONFIG


def _loader(session: boto3.session.Session):
    return session._session.get_component("data_loader")


def test_every_new_session_shares_the_preloaded_loader_and_builds_working_clients():
    shared = worker_preload.share_botocore_loader()
    first, second = (boto3.session.Session(region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")
                     for _ in range(2))
    assert _loader(first) is _loader(second) is shared
    client = first.client("dms")
    assert client.meta.region_name == "eu-west-1" and client.meta.service_model.service_name == "dms"
    assert second.client("rds").meta.service_model.operation_model("SwitchoverBlueGreenDeployment")


def test_sharing_is_idempotent_and_a_custom_data_path_keeps_its_own_loader(tmp_path):
    assert worker_preload.share_botocore_loader() is worker_preload.share_botocore_loader()
    custom = botocore.session.get_session()
    custom.set_config_variable("data_path", str(tmp_path))
    assert custom.get_component("data_loader") is not worker_preload.share_botocore_loader()


def test_workers_import_the_preload_through_celerys_imports():
    assert "cdc_runbooks.worker_preload" in CELERY_CONFIG["imports"]
    assert CELERY_CONFIG["broker_url"]  # Airflow's default configuration, extended


def test_sessions_do_not_grow_the_shared_loaders_search_paths():
    shared = worker_preload.share_botocore_loader()
    boto3.session.Session(region_name="us-east-1")
    before = list(shared.search_paths)
    for _ in range(50):
        boto3.session.Session(region_name="us-east-1")
    assert shared.search_paths == before
