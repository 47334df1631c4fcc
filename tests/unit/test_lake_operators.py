"""Operator logic of aurora_snapshot_to_athena against mocked AWS clients: what a failure of AWS means for the step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from unittest import mock

import pytest
from botocore.exceptions import ClientError

from cdc_runbooks.aws import catalog, exports
from cdc_runbooks.lake import export as se
from cdc_runbooks.operators import athena_tables, lake_retention
from cdc_runbooks.operators import snapshot_export as snapshot_ops
from cdc_runbooks.refusal import Refusal

PIPELINE = SimpleNamespace(name="shop", tables=("customers", "Orders"), aws_conn_id="aws_default",
                           glue_database="shop_lake", athena_output="s3://results/x/", athena_workgroup="wg",
                           poll_interval_s=0.5)
STAGED = {"Name": "orders__shop_lake_20260304"}


def _denied(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, operation)


@pytest.mark.parametrize("state", ["FAILED", "CANCELLED", None])
def test_an_athena_query_that_read_no_count_is_retried_not_a_mismatch(state):
    hook = mock.Mock()
    hook.run_query.return_value = "q1"
    hook.poll_query_status.return_value = state
    hook.get_state_change_reason.return_value = "Throttling: rate exceeded"
    step = athena_tables.ValidateCountsOperator(task_id="validate_counts", pipeline_names=["shop"])
    with mock.patch.object(catalog, "aws_hook", return_value=hook), \
            pytest.raises(se.CountNotRead, match=f"no count was read.*q1 {state}.*Throttling") as error:
        step._query_count(PIPELINE, STAGED["Name"])
    assert not isinstance(error.value, Refusal | se.CountMismatch)


def _counting(query) -> tuple[athena_tables.ValidateCountsOperator, mock.Mock]:
    glue = mock.Mock()
    glue.delete_table.side_effect = _denied("DeleteTable")
    step = athena_tables.ValidateCountsOperator(task_id="validate_counts", pipeline_names=["shop"])
    step._query_count = query
    return step, glue


def test_a_failed_drop_of_the_staged_table_hides_neither_the_count_nor_its_error():
    step, glue = _counting(lambda pipeline, table: 42)
    with mock.patch.object(catalog, "aws_hook", return_value=SimpleNamespace(conn=glue)), \
            mock.patch.object(catalog, "_get", return_value=None):
        assert step._count(PIPELINE, STAGED) == 42

        def unread(pipeline, table):
            raise se.CountNotRead("no count was read")
        step._query_count = unread
        with pytest.raises(se.CountNotRead):
            step._count(PIPELINE, STAGED)
    assert glue.delete_table.call_count == 2


def test_retention_drops_staged_tables_it_derives_and_nothing_else():
    names = ["orders", "orders_latest", "orders__shop_lake_20260304", "customers__shop_lake_20260301_a2",
             "customers__shop_eu_lake_20260304", "items__shop_lake_20260304", "orders__shop_lake_2026",
             "orders__notes"]
    glue = mock.Mock()
    glue.get_paginator.return_value.paginate.return_value = [{"TableList": [{"Name": n} for n in names]}]
    with mock.patch.object(catalog, "aws_hook", return_value=SimpleNamespace(conn=glue)):
        staged = lake_retention.ApplyRetentionOperator._staged_tables(PIPELINE)
        assert staged == ["customers__shop_lake_20260301_a2", "orders__shop_lake_20260304"]
        lake_retention.ApplyRetentionOperator._drop_tables(PIPELINE, staged)
    assert [c.kwargs["Name"] for c in glue.delete_table.call_args_list] == staged


def test_counts_are_not_completed_long_after_the_snapshot(monkeypatch):
    rds = mock.Mock()
    rds.list_tags_for_resource.return_value = {"TagList": [{"Key": "cdc-runbooks:rows:customers", "Value": "5.."}]}
    monkeypatch.setattr(exports, "rds_hook", lambda conn: SimpleNamespace(conn=rds))
    monkeypatch.setattr(snapshot_ops, "source_counts", mock.Mock(side_effect=AssertionError("counted")))
    step = snapshot_ops.TakeSnapshotOperator(task_id="take_snapshot", pipeline_names=["shop"],
                                             max_snapshot_lag_hours="26")
    found = {"DBClusterSnapshotArn": "arn", "SnapshotCreateTime": datetime.now(UTC) - timedelta(hours=27)}
    with pytest.raises(se.ExportRefused, match="export_attempt raised by one"):
        step._complete_counts(PIPELINE, found)
    rds.add_tags_to_resource.assert_not_called()
