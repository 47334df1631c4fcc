"""AWS hooks reused within a process: one boto3 client per connection, not one per call.

Building a boto3 client costs 0.1-0.5 s (session, credentials, endpoint resolution);
reusing one costs nothing. A wait that polls every few seconds, or a step that makes
ten calls, would otherwise spend most of its time building clients. Hooks are cached
per hook class and per connection *content*, so an edited connection (or another
rehearsal estate behind the same connection id) gets a fresh hook. boto3 clients
are thread-safe; refreshable credentials (assumed roles) refresh inside the client.

Each hook class is used through a subclass that finds its caller for the User-Agent
(``Caller/<operator class>``) by walking the frames: ``AwsBaseHook`` calls
``inspect.stack()``, which reads every frame's source file, 0.3-0.4 s per client built
in a task process — paid by each step between the DMS pause and the CDC restart.
"""

from __future__ import annotations

import inspect
import sys
import threading
from collections.abc import Iterator
from functools import cache, lru_cache
from types import FrameType

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
    return _fast_caller(hook_class)(aws_conn_id=conn_id, **dict(kwargs))


class _FrameWalkingCaller:
    """``AwsBaseHook``'s caller lookups, with the same answers, from ``sys._getframe`` instead of
    ``inspect.stack()``."""

    @staticmethod
    def _find_operator_class_name(target_function_name: str) -> str | None:
        """The class of ``self`` in the innermost frame running a function named ``target_function_name``."""
        for frame in _frames():
            if frame.f_code.co_name == target_function_name:
                return type(frame.f_locals["self"]).__name__
        return None

    @staticmethod
    def _find_executor_class_name() -> str | None:
        """The last class named in the globals of the innermost frame whose module has ``BaseExecutor``."""
        for frame in _frames():
            classes = [name for name, obj in frame.f_globals.items() if inspect.isclass(obj)]
            if "BaseExecutor" in classes:
                return classes[-1]
        return None


def _frames() -> Iterator[FrameType]:
    """This thread's frames, innermost first, then the main thread's: a hook first used in a thread that a step
    started for its lookups (:mod:`cdc_runbooks.lookups`) still names the step running in the main thread."""
    main = threading.main_thread()
    starts = [sys._getframe(2)]
    if threading.current_thread() is not main:
        starts.append(sys._current_frames().get(main.ident))
    for frame in starts:
        while frame is not None:
            yield frame
            frame = frame.f_back


@cache
def _fast_caller(hook_class: type[AwsBaseHook]) -> type[AwsBaseHook]:
    return type(hook_class.__name__, (_FrameWalkingCaller, hook_class), {"__doc__": hook_class.__doc__})
