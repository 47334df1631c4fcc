"""AWS hooks reused within a process: one boto3 client per connection, not one per call.

Building a boto3 client costs 0.1-0.5 s (session, credentials, endpoint resolution);
reusing one costs nothing. A wait that polls every few seconds, or a step that makes
ten calls, would otherwise spend most of its time building clients. Hooks are cached
per hook class and per connection *content*, so an edited connection (or another
rehearsal estate behind the same connection id) gets a fresh hook. boto3 clients
are thread-safe; refreshable credentials (assumed roles) refresh inside the client.
"""

from __future__ import annotations

from functools import lru_cache

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.hooks.dms import DmsHook
from airflow.providers.amazon.aws.hooks.rds import RdsHook
from airflow.sdk import BaseHook


def rds_hook(conn_id: str, region_name: str | None = None) -> RdsHook:
    return aws_hook(RdsHook, conn_id, region_name=region_name)


def dms_hook(conn_id: str, region_name: str | None = None) -> DmsHook:
    return aws_hook(DmsHook, conn_id, region_name=region_name)


def aws_client(conn_id: str, client_type: str, region_name: str | None = None):
    """A boto3 client of any service through the connection (e.g. ``cloudwatch``)."""
    return aws_hook(AwsBaseHook, conn_id, client_type=client_type, region_name=region_name).conn


def aws_hook(hook_class: type[AwsBaseHook], conn_id: str, **kwargs) -> AwsBaseHook:
    """The cached hook; a keyword given as None (e.g. ``region_name``: the connection's) is left to the hook."""
    kwargs = {name: value for name, value in kwargs.items() if value is not None}
    connection = BaseHook.get_connection(conn_id)
    return _cached(hook_class, conn_id, connection.get_uri(), tuple(sorted(kwargs.items())))


@lru_cache(maxsize=32)
def _cached(hook_class: type[AwsBaseHook], conn_id: str, _content: str, kwargs: tuple) -> AwsBaseHook:
    return hook_class(aws_conn_id=conn_id, **dict(kwargs))
