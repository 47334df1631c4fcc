"""The lake's Glue Data Catalog and its Athena queries, through the pipeline's AWS connection (sync).

Glue through ``GlueCatalogHook``'s client (:class:`GlueCatalog`: one client for a step's calls on one
database), Athena through ``AthenaHook``. Tables and partitions are written through the Glue API
(https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-catalog-partitions.html), never by
MSCK REPAIR TABLE scans; their definitions are :mod:`cdc_runbooks.lake.glue_schema`'s.
"""

from __future__ import annotations

import contextlib

from airflow.providers.amazon.aws.hooks.athena import AthenaHook
from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

from cdc_runbooks.aws.hooks import aws_client, aws_hook
from cdc_runbooks.lake import glue_schema
from cdc_runbooks.lake.export import CountNotRead
from cdc_runbooks.pipelines import Pipeline


def _get(call, *args, **kwargs) -> dict | None:
    """A Glue Get* result, None when the entity does not exist."""
    try:
        return call(*args, **kwargs)
    except call.__self__.exceptions.EntityNotFoundException:
        return None


class GlueCatalog:
    """One Glue database (``database``) through the connection's Glue client."""

    def __init__(self, conn_id: str, database: str) -> None:
        self.database = database
        self.glue = aws_hook(GlueCatalogHook, conn_id).conn

    @classmethod
    def of(cls, pipeline: Pipeline) -> GlueCatalog:
        """The pipeline's Glue database (``glue_database``)."""
        return cls(pipeline.aws_conn_id, pipeline.glue_database)

    def table(self, name: str) -> dict | None:
        """GetTable; None when there is no such table."""
        return _get(self.glue.get_table, DatabaseName=self.database, Name=name)

    def table_names(self) -> list[str]:
        """Every table of the database (GetTables, every page)."""
        pages = self.glue.get_paginator("get_tables").paginate(DatabaseName=self.database)
        return [t["Name"] for page in pages for t in page["TableList"]]

    def create_table(self, table_input: dict) -> None:
        self.glue.create_table(DatabaseName=self.database, TableInput=table_input)

    def update_table(self, table_input: dict) -> None:
        self.glue.update_table(DatabaseName=self.database, TableInput=table_input)

    def delete_table(self, name: str, *, missing_ok: bool = False) -> None:
        """DeleteTable; with ``missing_ok`` a table that is not there is no error."""
        if not missing_ok:
            self.glue.delete_table(DatabaseName=self.database, Name=name)
            return
        with contextlib.suppress(self.glue.exceptions.EntityNotFoundException):
            self.glue.delete_table(DatabaseName=self.database, Name=name)

    def partition(self, table: str, values: list[str]) -> dict | None:
        """GetPartition; None when the table has no such partition."""
        return _get(self.glue.get_partition, DatabaseName=self.database, TableName=table, PartitionValues=values)

    def partitions(self, table: str) -> list[dict] | None:
        """Every partition of ``table`` (GetPartitions, every page); None when there is no such table."""
        try:
            pages = list(self.glue.get_paginator("get_partitions").paginate(DatabaseName=self.database,
                                                                            TableName=table))
        except self.glue.exceptions.EntityNotFoundException:
            return None
        return [p for page in pages for p in page["Partitions"]]

    def create_partition(self, table: str, partition_input: dict) -> None:
        self.glue.create_partition(DatabaseName=self.database, TableName=table, PartitionInput=partition_input)

    def update_partition(self, table: str, partition_input: dict) -> None:
        """UpdatePartition of the partition ``partition_input`` names (its ``Values``)."""
        self.glue.update_partition(DatabaseName=self.database, TableName=table,
                                   PartitionValueList=partition_input["Values"], PartitionInput=partition_input)

    def delete_partition(self, table: str, values: list[str]) -> None:
        """DeletePartition; a table or partition that is not there is no error."""
        with contextlib.suppress(self.glue.exceptions.EntityNotFoundException):
            self.glue.delete_partition(DatabaseName=self.database, TableName=table, PartitionValues=values)


def describe_database(conn_id: str, database: str) -> dict:
    """GetDatabase (an unknown one raises ``EntityNotFoundException``)."""
    return aws_client(conn_id, "glue").get_database(Name=database)


def describe_workgroup(conn_id: str, workgroup: str) -> dict:
    """Athena GetWorkGroup (an unknown one raises ``InvalidRequestException``)."""
    return aws_client(conn_id, "athena").get_work_group(WorkGroup=workgroup)


def athena_count(pipeline: Pipeline, table: str, waiter_max_attempts: int) -> int:
    """Athena's ``SELECT COUNT(*)`` of a table of the pipeline's Glue database, in its workgroup and output
    location, polled every ``poll_interval_s`` (at least 1 s) at most ``waiter_max_attempts`` times. A query
    that failed, was cancelled or timed out read no count: :class:`~cdc_runbooks.lake.export.CountNotRead` (the
    step is retried)."""
    hook = aws_hook(AthenaHook, pipeline.aws_conn_id)
    query = glue_schema.count_query(pipeline.glue_database, table)
    query_id = hook.run_query(query, query_context={"Database": pipeline.glue_database},
                              result_configuration={"OutputLocation": pipeline.athena_output},
                              workgroup=pipeline.athena_workgroup)
    state = hook.poll_query_status(query_id, max_polling_attempts=waiter_max_attempts,
                                   sleep_time=max(1, int(pipeline.poll_interval_s)))
    if state != "SUCCEEDED":
        raise CountNotRead(f"{table}: no count was read: Athena query {query_id} {state}: "
                           f"{hook.get_state_change_reason(query_id)} ({query}); the step is retried")
    rows = hook.get_query_results(query_id)["ResultSet"]["Rows"]
    return int(rows[1]["Data"][0]["VarCharValue"])
