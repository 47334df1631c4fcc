"""One Data API statement: parameters, the bounded wait through the statement's lifecycle, paged results."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from cdc_runbooks.aws import redshift_data
from cdc_runbooks.aws.redshift_data import StatementFailed, StatementInterrupted, _named_parameters, run_statement
from cdc_runbooks.data_api_target import DataApiTarget

TARGET = DataApiTarget(database="dev", workgroup="analytics")


class FakeDataApi:
    """The four calls over a scripted list of DescribeStatement statuses and pages of records."""

    def __init__(self, statuses, pages=(), error=None):
        self.statuses, self.pages, self.error = list(statuses), list(pages), error
        self.calls = []

    def execute_statement(self, **params):
        self.calls.append(("execute", params))
        return {"Id": "stmt-1"}

    def describe_statement(self, Id):
        self.calls.append(("describe", Id))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"Id": Id, "Status": status, "HasResultSet": bool(self.pages), "Error": self.error}

    def get_statement_result(self, Id, NextToken=None):
        self.calls.append(("result", NextToken))
        index = int(NextToken or 0)
        page = {"Records": self.pages[index]}
        return page | ({"NextToken": str(index + 1)} if index + 1 < len(self.pages) else {})

    def cancel_statement(self, Id):
        self.calls.append(("cancel", Id))
        return {"Status": True}


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.fixture
def data_api(monkeypatch):
    def install(client):
        monkeypatch.setattr(redshift_data, "aws_hook", lambda hook_class, conn_id: type("Hook", (), {"conn": client}))
        return client
    return install


def _run(sql="SELECT 1", parameters=None, timeout_s=10.0):
    clock = Clock()
    return run_statement("aws", TARGET, sql, parameters, poll_s=1, timeout_s=timeout_s, sleep=clock.sleep,
                         clock=clock)


def test_placeholders_become_named_parameters_with_string_values():
    assert _named_parameters("SELECT a FROM t WHERE s = %s AND n = %s", ("shop", 7)) == (
        "SELECT a FROM t WHERE s = :p1 AND n = :p2", [{"name": "p1", "value": "shop"}, {"name": "p2", "value": "7"}])


def test_a_finished_statement_returns_every_page_typed(data_api):
    client = data_api(FakeDataApi(["SUBMITTED", "STARTED", "FINISHED"], pages=[
        [[{"longValue": 1}, {"stringValue": "a"}], [{"isNull": True}, {"booleanValue": True}]],
        [[{"doubleValue": 1.5}, {"blobValue": b"\x00"}]]]))

    rows = _run("SELECT a, b FROM t WHERE s = %s", ["shop"])

    assert rows == [(1, "a"), (None, True), (1.5, b"\x00")]
    assert client.calls[0] == ("execute", {"Database": "dev", "WorkgroupName": "analytics",
                                           "Sql": "SELECT a, b FROM t WHERE s = :p1",
                                           "Parameters": [{"name": "p1", "value": "shop"}]})
    assert [c for c in client.calls if c[0] == "result"] == [("result", None), ("result", "1")]


def test_a_statement_without_a_result_set_returns_nothing(data_api):
    data_api(FakeDataApi(["FINISHED"]))
    assert _run("DELETE FROM t") == []


def test_failed_is_a_refusal_with_the_warehouse_error_and_aborted_is_an_interruption(data_api):
    data_api(FakeDataApi(["STARTED", "FAILED"], error='column "x" does not exist'))
    with pytest.raises(StatementFailed, match='stmt-1 failed: column "x" does not exist'):
        _run()
    data_api(FakeDataApi(["ABORTED"]))
    with pytest.raises(StatementInterrupted, match="stmt-1 was aborted"):
        _run()


def test_a_statement_past_its_bound_is_cancelled(data_api):
    client = data_api(FakeDataApi(["STARTED"]))
    with pytest.raises(StatementInterrupted, match=r"did not finish within 3 s \(STARTED\); it was cancelled"):
        _run(timeout_s=3)
    assert client.calls[-1] == ("cancel", "stmt-1")
    assert sum(call[0] == "describe" for call in client.calls) == 4  # at 0, 1, 2 and 3 s: bounded


def test_percent_signs_read_as_psycopg2_reads_them_and_unbindable_values_are_refused():
    assert _named_parameters("SELECT 7 % 3", None) == ("SELECT 7 % 3", [])
    assert _named_parameters("SELECT 1 WHERE n LIKE 'a%%' AND id = %s", [1]) == (
        "SELECT 1 WHERE n LIKE 'a%' AND id = :p1", [{"name": "p1", "value": "1"}])
    for value in (None, ""):
        with pytest.raises(ValueError, match="cannot bind"):
            _named_parameters("SELECT %s", [value])
    with pytest.raises(ValueError, match="too few parameters"):
        _named_parameters("SELECT %s, %s", ["a"])
    with pytest.raises(ValueError, match="1 placeholders, 2 parameters"):
        _named_parameters("SELECT %s", ["a", "b"])


class EndsWhileCancelled(FakeDataApi):
    """STARTED at the bound; FINISHED by the time CancelStatement arrives, which AWS then refuses."""

    def cancel_statement(self, Id):
        self.statuses = ["FINISHED"]
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "already in FINISHED state"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, "CancelStatement")


def test_a_statement_that_ends_as_it_is_cancelled_counts_as_ended(data_api):
    data_api(EndsWhileCancelled(["STARTED"], pages=[[[{"longValue": 7}]]]))
    assert _run(timeout_s=2) == [(7,)]


def test_an_undocumented_status_and_an_oversized_statement_are_named(data_api):
    data_api(FakeDataApi(["QUEUED_FOREVER"]))
    with pytest.raises(StatementInterrupted, match="'QUEUED_FOREVER', a status the Data API does not document"):
        _run()
    client = data_api(FakeDataApi(["FINISHED"]))
    with pytest.raises(StatementFailed, match="over 100000 bytes; this one has 100009"):
        _run("SELECT 1 " + "x" * 100_000)
    assert client.calls == []  # nothing was sent


@pytest.mark.parametrize(("settings", "message"), [
    ({"workgroup": "ab"}, "redshift_data.workgroup"), ({"workgroup": "Analytics"}, "redshift_data.workgroup"),
    ({"cluster": "Prod"}, "redshift_data.cluster"), ({"cluster": "prod--dw"}, "redshift_data.cluster"),
    ({"workgroup": "analytics", "db_user": "reader"}, "only with a provisioned cluster"),
])
def test_targets_the_data_api_would_refuse_are_refused_at_configuration(settings, message):
    with pytest.raises(ValueError, match=message):
        DataApiTarget(database="dev", **settings)
