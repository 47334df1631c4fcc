"""Waiting for exports: complete after polls, failed at once with the cause, timeout says they may still run."""

from __future__ import annotations

import pytest

from cdc_runbooks.lake.export import ExportState
from cdc_runbooks.triggers import export as export_trigger
from cdc_runbooks.triggers.base import run_inline
from cdc_runbooks.triggers.export import ExportTasksTrigger


class Script(dict):
    """{export id: [status per poll]}, and the (connection, export id) of every poll."""

    def __init__(self) -> None:
        super().__init__()
        self.polled: list[tuple[str, str]] = []


@pytest.fixture
def statuses(monkeypatch):
    """{export id: [status per poll]}; the last status repeats."""
    script = Script()

    def fake_state(conn_id: str, export_id: str, region_name: str | None = None) -> ExportState | None:
        script.polled.append((conn_id, export_id))
        seen = script[export_id]
        status = seen.pop(0) if len(seen) > 1 else seen[0]
        return None if status == "gone" else ExportState(export_id, status, failure_cause=(
            "KMS key disabled" if status == "failed" else ""))

    monkeypatch.setattr(export_trigger, "export_state", fake_state)
    return script


def _trigger(conn_ids: dict[str, str] | None = None, **exports) -> ExportTasksTrigger:
    return ExportTasksTrigger(exports=exports, aws_conn_id="aws_default", conn_ids=conn_ids, waiter_delay=0,
                              waiter_max_attempts=5)


def test_fires_success_when_every_export_is_complete(statuses):
    statuses.update(a=["starting", "in_progress", "complete"], b=["complete"])
    event = run_inline(_trigger(shop="a", billing="b"))
    assert event["status"] == "success" and set(event) == {"status", "message"}
    assert "export a complete" in event["message"]


def test_each_export_is_polled_through_its_pipelines_connection(statuses):
    statuses.update(a=["complete"], b=["complete"])
    run_inline(_trigger({"billing": "aws_other_account"}, shop="a", billing="b"))
    assert sorted(statuses.polled) == [("aws_default", "a"), ("aws_other_account", "b")]


@pytest.mark.parametrize(("status", "text"), [("failed", "FailureCause: KMS key disabled"),
                                              ("canceled", "export a canceled"), ("gone", "does not exist")])
def test_fires_failed_as_soon_as_one_breaks(statuses, status, text):
    statuses.update(a=["in_progress", status], b=["in_progress"])
    event = run_inline(_trigger(shop="a", billing="b"))
    assert event["status"] == "failed" and text in event["message"]


def test_starting_is_not_done_and_the_wait_ends_with_an_error(statuses):
    statuses.update(a=["starting"])
    event = run_inline(_trigger(shop="a"))
    assert event["status"] == "error" and "not complete after 5 polls" in event["message"]


def test_serializes_to_its_own_arguments():
    path, kwargs = _trigger(shop="a").serialize()
    assert path == "cdc_runbooks.triggers.export.ExportTasksTrigger"
    assert ExportTasksTrigger(**kwargs).serialize() == (path, kwargs)


def test_a_poll_failing_transiently_is_skipped_and_the_wait_goes_on(monkeypatch):
    from botocore.exceptions import ClientError

    answers = [ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "DescribeExportTasks"),
               ExportState("a", "in_progress"), ExportState("a", "complete")]

    def fake_state(conn_id: str, export_id: str, region_name: str | None = None) -> ExportState:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(export_trigger, "export_state", fake_state)
    event = run_inline(_trigger(shop="a"))
    assert event["status"] == "success" and not answers


def test_any_other_poll_error_ends_the_wait_with_its_message(monkeypatch):
    from botocore.exceptions import ClientError

    def denied(conn_id: str, export_id: str, region_name: str | None = None) -> ExportState:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized to DescribeExportTasks"}},
                          "DescribeExportTasks")

    monkeypatch.setattr(export_trigger, "export_state", denied)
    event = run_inline(_trigger(shop="a"))
    assert event["status"] == "error" and set(event) == {"status", "message"}
    assert "ClientError" in event["message"] and "not authorized to DescribeExportTasks" in event["message"]
