"""AWS hooks are reused per connection content: one client per connection, a fresh one when it changes; they name
their caller in the User-Agent as the provider's do, without inspect.stack()."""

from __future__ import annotations

import json

import pytest
from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.hooks.dms import DmsHook
from airflow.providers.amazon.aws.hooks.rds import RdsHook

from cdc_runbooks.aws.hooks import _fast_caller, aws_client, aws_hook, dms_hook, rds_hook
from cdc_runbooks.lookups import look_up_together


def _connection(monkeypatch, endpoint: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AWS_HOOKS_TEST", json.dumps({
        "conn_type": "aws", "login": "key", "password": "secret",
        "extra": {"region_name": "us-east-1", "endpoint_url": endpoint}}))


def test_the_same_connection_gives_the_same_hook_and_client(monkeypatch):
    _connection(monkeypatch, "http://127.0.0.1:1")
    assert dms_hook("aws_hooks_test") is dms_hook("aws_hooks_test")
    assert dms_hook("aws_hooks_test").conn is dms_hook("aws_hooks_test").conn
    assert aws_client("aws_hooks_test", "cloudwatch") is aws_client("aws_hooks_test", "cloudwatch")


def test_an_edited_connection_gives_a_new_hook_pointing_where_it_now_says(monkeypatch):
    _connection(monkeypatch, "http://127.0.0.1:1")
    before = rds_hook("aws_hooks_test")
    _connection(monkeypatch, "http://127.0.0.1:2")
    after = rds_hook("aws_hooks_test")

    assert after is not before
    assert after.conn.meta.endpoint_url == "http://127.0.0.1:2"


def test_hook_classes_and_client_types_are_kept_apart(monkeypatch):
    _connection(monkeypatch, "http://127.0.0.1:1")
    assert type(dms_hook("aws_hooks_test")).__name__ == "DmsHook" and isinstance(dms_hook("aws_hooks_test"), DmsHook)
    assert type(rds_hook("aws_hooks_test")).__name__ == "RdsHook" and isinstance(rds_hook("aws_hooks_test"), RdsHook)
    assert aws_client("aws_hooks_test", "sns").meta.service_model.service_name == "sns"
    assert aws_client("aws_hooks_test", "cloudwatch").meta.service_model.service_name == "cloudwatch"


def test_an_unknown_connection_fails_with_its_id():
    from airflow.exceptions import AirflowNotFoundException

    with pytest.raises(AirflowNotFoundException, match="no_such_connection"):
        aws_hook(DmsHook, "no_such_connection")


class PauseOperatorLike:
    """Calls a hook method from ``execute``, as an operator does."""

    def execute(self, monkeypatch):
        _connection(monkeypatch, "http://127.0.0.1:1")
        return dms_hook("aws_hooks_test")._get_caller(), rds_hook("aws_hooks_test")._get_caller("nowhere")


class Executorish:
    pass


BaseExecutor = Executorish  # a module with BaseExecutor in its globals: the provider's executor lookup finds it


@pytest.mark.parametrize("hook", [DmsHook, RdsHook, AwsBaseHook])
def test_the_caller_in_the_user_agent_is_the_one_inspect_stack_finds(monkeypatch, hook):
    """Same answers as the provider's lookups: without an operator's execute() on the stack, the last class in the
    globals of the innermost module that holds a BaseExecutor (this module, whose last class is at its end)."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_HOOKS_TEST", "aws://key:secret@")
    fast = aws_hook(hook, "aws_hooks_test")
    provider = hook(aws_conn_id="aws_hooks_test")
    assert fast._get_caller() == provider._get_caller() == "LastClassInThisModule"
    assert fast._get_caller("execute") == provider._get_caller("execute")


def test_an_operator_is_named_as_the_caller(monkeypatch):
    caller, without_target = PauseOperatorLike().execute(monkeypatch)
    assert caller == "PauseOperatorLike"
    assert without_target == AwsBaseHook(aws_conn_id="x")._get_caller("nowhere")


class DrainOperatorLike:
    def execute(self):
        hook = _fast_caller(AwsBaseHook)(aws_conn_id=None, client_type="rds")
        return hook._get_caller(), look_up_together(hook._get_caller)[0]


def test_a_hook_used_in_a_lookup_thread_still_names_the_operator():
    """The drain reads DMS and RDS in threads (cdc_runbooks.lookups): the step is found in the main thread."""
    assert DrainOperatorLike().execute() == ("DrainOperatorLike", "DrainOperatorLike")


class LastClassInThisModule:
    pass
