"""One Data API statement: parameters, the bounded wait through the statement's lifecycle, paged results."""

from __future__ import annotations

import pytest

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
    with pytest.raises(ValueError, match="2 placeholders, 1 parameters"):
        _named_parameters("%s %s", ("x",))


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
