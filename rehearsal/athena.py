"""Athena made to answer: row counts of Glue tables over Parquet in S3, read for real.

moto 5.2.5 runs no SQL: every query SUCCEEDS with an empty result (or whatever
was queued through its results API), and a workgroup's OutputLocation is not
applied (see shared/reference/moto-probe.md). Installed into moto, this
controller evaluates the one query shape the runbooks emit:

    SELECT COUNT(*) FROM "db"."table" [WHERE "partition_key" = 'value']

It resolves the table in moto's Glue catalog (partition LOCATIONs when the
table is partitioned), lists every object under each LOCATION folder in moto's
S3 (recursively, skipping names that start with ``_`` or ``.``, as Athena does),
reads each file's Parquet footer with pyarrow and returns the sum of the row
counts in GetQueryResults' shape (a header row, then the value). Anything else
- another statement, an unknown table or column, a non-Parquet table or file, a
missing output location - makes the query FAILED with a StateChangeReason: it
never makes an answer up.
"""

from __future__ import annotations

import io
import json
import re
import threading

import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError
from moto.athena import models as athena_models
from moto.athena import responses as athena_responses

from rehearsal.aws import MotoControlPlane
from rehearsal.patching import Patches

SUPPORTED = "SELECT COUNT(*) FROM \"db\".\"table\" [WHERE \"partition_key\" = 'value']"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
_COUNT = re.compile(r'^\s*SELECT\s+COUNT\(\s*\*\s*\)\s+FROM\s+"(?P<db>[^"]+)"\s*\.\s*"(?P<table>[^"]+)"'
                    r'(?:\s+WHERE\s+"(?P<column>[^"]+)"\s*=\s*\'(?P<value>[^\']*)\')?\s*;?\s*$', re.IGNORECASE)


class QueryFailed(Exception):
    """The query cannot be answered; the message is its StateChangeReason."""


class AthenaQueryController:
    """Answers the runbooks' count queries from Glue + S3 while installed into moto."""

    def __init__(self, aws: MotoControlPlane) -> None:
        self._aws = aws
        self._reasons: dict[str, str] = {}
        self._lock = threading.Lock()
        self._patches = Patches()
        self.queries: list[str] = []

    def install(self) -> None:
        controller = self
        original_start = athena_models.AthenaBackend.start_query_execution
        original_describe = athena_responses.AthenaResponse.get_query_execution

        def start_query_execution(backend, query, context, config, workgroup, execution_parameters):
            execution_id = original_start(backend, query, context, config, workgroup, execution_parameters)
            controller.run(backend, backend.executions[execution_id])
            return execution_id

        def get_query_execution(response):
            body = json.loads(original_describe(response))
            reason = controller.reason(body["QueryExecution"]["QueryExecutionId"])
            if reason is not None:
                body["QueryExecution"]["Status"]["StateChangeReason"] = reason
            return json.dumps(body)

        self._patches.set(athena_models.AthenaBackend, "start_query_execution", start_query_execution)
        self._patches.set(athena_responses.AthenaResponse, "get_query_execution", get_query_execution)

    def uninstall(self) -> None:
        self._patches.restore()

    def reason(self, execution_id: str) -> str | None:
        with self._lock:
            return self._reasons.get(execution_id)

    # -- one query -------------------------------------------------------------------------------
    def run(self, backend, execution) -> None:
        """Answer ``execution`` now: store its result (and CSV), or fail it with the reason."""
        self.queries.append(execution.query)
        try:
            self._apply_workgroup_output(execution)
            count = self.count(execution.query)
        except QueryFailed as failure:
            execution.status = "FAILED"
            with self._lock:
                self._reasons[execution.id] = str(failure)
            return
        backend.query_results[execution.id] = athena_models.QueryResults(
            rows=[{"Data": [{"VarCharValue": "_col0"}]}, {"Data": [{"VarCharValue": str(count)}]}],
            column_info=[{"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": "_col0",
                          "Label": "_col0", "Type": "bigint", "Precision": 19, "Scale": 0, "Nullable": "UNKNOWN",
                          "CaseSensitive": False}])
        backend._store_query_result_in_s3(execution.id)  # moto's own CSV writer

    @staticmethod
    def _apply_workgroup_output(execution) -> None:
        """As Athena: the query's OutputLocation, else the workgroup's; neither is an error."""
        if execution.config and execution.config.get("OutputLocation"):
            return
        configured = ((execution.workgroup.configuration if execution.workgroup else {}) or {}).get(
            "ResultConfiguration", {}).get("OutputLocation")
        if not configured:
            raise QueryFailed("No output location provided. An output location is required either through the "
                              "Workgroup result configuration setting or as an API input.")
        execution.config = {**(execution.config or {}),
                            "OutputLocation": f"{configured.rstrip('/')}/{execution.id}.csv"}

    def count(self, query: str) -> int:
        match = _COUNT.match(query)
        if match is None:
            raise QueryFailed(f"NOT_SUPPORTED: the rehearsal estate's Athena answers only {SUPPORTED}; "
                              f"got: {query.strip()[:200]}")
        database, table = match["db"].lower(), match["table"].lower()
        glue = self._aws.client("glue")
        try:
            found = glue.get_table(DatabaseName=database, Name=table)["Table"]
        except ClientError:
            raise QueryFailed(f"TABLE_NOT_FOUND: Table 'awsdatacatalog.{database}.{table}' does not exist") from None
        folders = self._folders(glue, found, match["column"], match["value"])
        return sum(self._rows(folder, found) for folder in folders)

    @staticmethod
    def _folders(glue, table: dict, column: str | None, value: str | None) -> list[str]:
        """The LOCATION folders the query reads: the table's, or those of its matching partitions."""
        keys = [k["Name"].lower() for k in table.get("PartitionKeys", [])]
        columns = [c["Name"].lower() for c in table["StorageDescriptor"].get("Columns", [])]
        if column is not None and column.lower() not in keys:
            if column.lower() in columns:
                raise QueryFailed(f"NOT_SUPPORTED: the rehearsal estate's Athena filters on partition keys only, "
                                  f"not on column '{column}'")
            raise QueryFailed(f"COLUMN_NOT_FOUND: Column '{column}' cannot be resolved")
        if not keys:
            return [table["StorageDescriptor"]["Location"]]
        partitions = glue.get_partitions(DatabaseName=table["DatabaseName"], TableName=table["Name"])["Partitions"]
        if column is not None:
            position = keys.index(column.lower())
            partitions = [p for p in partitions if p["Values"][position] == value]
        return [p["StorageDescriptor"]["Location"] for p in partitions]

    def _rows(self, location: str, table: dict) -> int:
        """Rows of every data file under one LOCATION folder (Parquet footers)."""
        serde = table["StorageDescriptor"].get("SerdeInfo", {}).get("SerializationLibrary")
        if serde != PARQUET_SERDE:
            raise QueryFailed(f"NOT_SUPPORTED: the rehearsal estate's Athena reads Parquet tables only ({serde})")
        match = re.match(r"^s3://([^/]+)/?(.*)$", location or "")
        if match is None:
            raise QueryFailed(f"HIVE_METASTORE_ERROR: LOCATION {location!r} is not an s3:// URI")
        bucket, prefix = match[1], match[2].rstrip("/")
        s3 = self._aws.client("s3")
        rows = 0
        for key in self._data_keys(s3, bucket, f"{prefix}/" if prefix else ""):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            try:
                rows += pq.ParquetFile(io.BytesIO(body)).metadata.num_rows
            except pa.ArrowException as error:  # any unreadable file fails the query, as in Athena
                raise QueryFailed(f"HIVE_BAD_DATA: s3://{bucket}/{key} is not a valid Parquet file: {error}") from None
        return rows

    @staticmethod
    def _data_keys(s3, bucket: str, prefix: str) -> list[str]:
        try:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        except ClientError as error:
            raise QueryFailed(f"HIVE_FILESYSTEM_ERROR: cannot list s3://{bucket}/{prefix}: {error}") from None
        return [k for k in keys if not k.endswith("/")
                and not any(part.startswith(("_", ".")) for part in k[len(prefix):].split("/"))]
